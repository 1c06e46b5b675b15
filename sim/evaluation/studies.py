"""The published client studies and how each is rerun on one seed's pair of runs.

The published figures are rows of ``calibration/data/client_studies.csv`` (each with its
source and the ``market_failure_evidence`` row it comes from); ``ESTIMATORS`` says which
design of ``sim.evaluation.designs`` reproduces each row and which true effect it is set
against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import designs as d

STUDIES_CSV = Path(__file__).resolve().parents[2] / "calibration" / "data" / "client_studies.csv"
#: Clients' first years evaluated: the platform's first five years (assumption: the cohorts
#: the issue's measurement used; a 15-year follow-up of the last one needs a run to 2044).
COHORT_YEARS = 5
#: Last year simulated for an evaluation: the last cohort plus the Fraunhofer horizon.
FOLLOW_UP_YEARS = 15
#: A published point without a range is matched within this factor (the issue's rule).
POINT_FACTOR = 2.0
#: How many years before the platform the panel starts (pre-treatment history).
PANEL_LEAD_YEARS = 5


def cohorts(start_year: int) -> tuple[int, int]:
    """First and last cohort evaluated, for a platform opening in ``start_year``."""
    return start_year, start_year + COHORT_YEARS - 1


def last_year(start_year: int) -> int:
    """The last year an evaluation simulates."""
    return cohorts(start_year)[1] + FOLLOW_UP_YEARS


def published() -> pd.DataFrame:
    """The published figures, one row per study and outcome, with their acceptance band."""
    if not STUDIES_CSV.is_file():
        raise FileNotFoundError(f"{STUDIES_CSV}: the published client studies are missing")
    t = pd.read_csv(STUDIES_CSV)
    low, high, point = t["published_low"], t["published_high"], t["published"]
    t["band_low"] = low.where(low.notna(), point / POINT_FACTOR)
    t["band_high"] = high.where(high.notna() | low.notna(), point * POINT_FACTOR)
    t["band_high"] = t["band_high"].fillna(math.inf)
    return t


@dataclass(frozen=True)
class Pair:
    """One seed's evaluation data: the policy run's panel and projects, and the baseline's."""

    policy: d.Wide
    twin: d.Wide
    t0: pd.Series
    projects: pd.DataFrame
    twin_projects: pd.DataFrame


Estimator = Callable[[Pair], tuple[float, float]]


def _design(fn: Callable[..., float], outcome: str | None, e: int) -> Estimator:
    def run(p: Pair) -> tuple[float, float]:
        args = (outcome, e) if outcome else (e,)
        sim = fn(p.policy, p.t0, *args)
        truth = d.true_effect(p.policy, p.twin, p.t0, outcome or "va", e)
        return sim, truth

    return run


def _mep(p: Pair) -> tuple[float, float]:
    e = 3
    return d.mep_small_minus_large(p.policy, p.t0, e), d.true_small_minus_large(
        p.policy, p.twin, p.t0, e
    )


#: Years after first use at which DG REGIO's jobs are compared (assumption: the 2-4 years
#: of the Innovate UK evaluation's employment figures, read at 3).
ERDF_YEARS = 3


def erdf_parts(p: Pair) -> dict[str, float]:
    """DG REGIO's ratio in parts: the matched design's counterfactual jobs, the true jobs
    from the twins, and the monitored (gross) jobs. Over seeds the ratio is one of sums
    (``Evaluation.table``), so a seed with few monitored jobs does not dominate."""
    e = ERDF_YEARS
    return {
        "numerator": d.matched_jobs(p.policy, p.t0, e),
        "true_numerator": d.true_jobs(p.policy, p.twin, p.t0, e),
        "denominator": d.monitored_jobs(p.policy, p.t0, e),
    }


def _erdf(p: Pair) -> tuple[float, float]:
    parts = erdf_parts(p)
    den = parts["denominator"]
    if den == 0:
        return math.nan, math.nan
    return parts["numerator"] / den, parts["true_numerator"] / den


#: (study, outcome) -> the design's estimate and the true effect on the same clients.
ESTIMATORS: dict[tuple[str, str], Estimator] = {
    ("fraunhofer", "value_added"): _design(d.matched_did, "va", 15),
    ("fraunhofer", "productivity"): _design(d.matched_did, "prod", 15),
    ("to2", "value_added_during"): _design(lambda w, t0, e: d.to2_panel(w, t0, e), None, 0),
    ("to2", "value_added_year_after"): _design(lambda w, t0, e: d.to2_panel(w, t0, e), None, 1),
    ("tno", "value_added"): _design(lambda w, t0, e: d.tno_naive(w, t0, e), None, 1),
    ("innovate_uk", "survival"): _design(d.matched_did, "alive", 3),
    ("innovate_uk", "employment"): _design(d.matched_did, "emp", 3),
    ("innovate_uk", "value_added"): _design(d.matched_did, "va", 3),
    ("mep", "productivity_small_minus_large"): _mep,
    ("erdf", "counterfactual_to_monitored_jobs"): _erdf,
}


def additionality(p: Pair) -> dict[str, float]:
    """Project-level facts of every platform client project of the run (all owners, every
    year the platform is open, not only the evaluated firms), from the twin projects: the
    share that the baseline run also piloted (deadweight), and the launch rates with and
    without the platform."""
    q, b = p.projects, p.twin_projects
    rows = np.flatnonzero(q["platform_piloted"].to_numpy())
    rows = rows[rows < len(b)]
    if rows.size == 0:
        return {"clients": 0.0, "deadweight_share": math.nan}
    return {
        "clients": float(rows.size),
        "deadweight_share": float(b["piloted"].to_numpy()[rows].mean()),
        "launch_rate_clients": float(q["launched"].to_numpy()[rows].mean()),
        "launch_rate_twins": float(b["launched"].to_numpy()[rows].mean()),
        "firms_evaluated": float(len(p.t0)),
    }


def evaluate_pair(pair: Pair) -> list[dict[str, float | str]]:
    """Every design's estimate and true effect on one seed's pair."""
    rows: list[dict[str, float | str]] = []
    for (study, outcome), est in ESTIMATORS.items():
        sim, truth = est(pair)
        row: dict[str, float | str] = {
            "study": study,
            "outcome": outcome,
            "simulated": sim,
            "true_effect": truth,
        }
        if study == "erdf":
            row.update(erdf_parts(pair))
        rows.append(row)
    return rows


def make_pair(
    policy_panel: pd.DataFrame,
    base_panel: pd.DataFrame,
    policy_projects: pd.DataFrame,
    base_projects: pd.DataFrame,
    cohort_years: tuple[int, int],
) -> Pair:
    """One seed's pair, the designs' view restricted to the firms in the panel the year
    before the first cohort (``designs.incumbents``: the firms a baseline run shares row for
    row, so each client has its twin, and the register every comparison group comes from)."""
    policy = d.incumbents(d.wide(policy_panel), cohort_years[0] - 1)
    return Pair(
        policy=policy,
        twin=d.wide(base_panel),
        t0=d.treated(policy, cohort_years),
        projects=policy_projects,
        twin_projects=base_projects,
    )
