"""Stylised facts: does the calibrated model reproduce what the literature and Hong Kong's
evidence say about the research pipeline, beyond the points it was fitted to?

Each fact names its observed figure and source, a statistic computed from the model's own
runs of a scenario (the baseline by default), and the range within which it counts as a
pass. The ranges are stated with the fact: most figures are from other countries (AUTM, US
BLS, Stevens and Burley) or are orders of magnitude, so a pass means "of the right order",
not a fit. Facts that are also calibration targets are marked: for them the check shows how
well the fit held, the others are out-of-sample.

``pilotsim validate-model`` runs it and writes ``calibration/stylised_facts.md`` and ``.csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.params import DATA_YEARS, FIRST_YEAR
from sim.projects import Stage, Status
from sim.reporting import CSV_FLOAT_FORMAT

#: Projects started in these years are followed to their launch (or not) for the funnel.
FUNNEL_COHORT = (FIRST_YEAR, DATA_YEARS[-1])
#: Years after the cohort's last start the funnel waits for launches: 2 years of research,
#: 1.5 of pilot, 1.5 of industrialisation at the means, plus queues and delays.
FUNNEL_FOLLOW_YEARS = 7
#: The run needs to reach the end of the funnel's follow-up.
FACTS_UNTIL = FUNNEL_COHORT[1] + FUNNEL_FOLLOW_YEARS


@dataclass(frozen=True)
class RunStats:
    """What the facts need from one run: its annual frame and per-project funnel counts."""

    annual: pd.DataFrame
    lab_projects: int
    lab_projects_launched: int


@dataclass(frozen=True)
class Fact:
    name: str
    observed: str
    source: str
    low: float
    high: float
    statistic: Callable[[RunStats], float]
    unit: str
    fitted: bool = False


def _mean(column: str, first: int, last: int) -> Callable[[RunStats], float]:
    def f(r: RunStats) -> float:
        a = r.annual
        v = a.loc[(a["year"] >= first) & (a["year"] <= last), column].to_numpy(float)
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    return f


def _ratio(num: str, den: str, first: int, last: int) -> Callable[[RunStats], float]:
    def f(r: RunStats) -> float:
        a = r.annual[(r.annual["year"] >= first) & (r.annual["year"] <= last)]
        d = float(a[den].sum())
        return float(a[num].sum()) / d if d > 0 else float("nan")

    return f


def _growth(column: str, first: int, last: int) -> Callable[[RunStats], float]:
    def f(r: RunStats) -> float:
        a = r.annual.set_index("year")[column]
        return float((a.at[last] / a.at[first]) ** (1 / (last - first)) - 1)

    return f


def _north_share(r: RunStats) -> float:
    a = r.annual[(r.annual["year"] >= FIRST_YEAR) & (r.annual["year"] <= DATA_YEARS[-1])]
    north, hk = float(a["projects_north"].sum()), float(a["projects_piloted_hk"].sum())
    return north / (north + hk) if north + hk > 0 else float("nan")


def _funnel(r: RunStats) -> float:
    return r.lab_projects_launched / r.lab_projects if r.lab_projects else float("nan")


FIRST, LAST = FIRST_YEAR, DATA_YEARS[-1]

FACTS: tuple[Fact, ...] = (
    Fact(
        "startup survival, 2 years",
        "0.66 (US firms); 0.71-0.83 at 18 months for Cyberport's incubated firms",
        "priors_literature startup_survival_2y; hk_pipeline_evidence "
        "cyberport_incubation_survival_18m, cyberport_ccmf_survival_18m",
        0.55,
        0.85,
        _mean("startup_survival_2y", FIRST + 2, LAST),
        "share (2015-2017 entry cohorts)",
        fitted=True,
    ),
    Fact(
        "startup survival, 4 years",
        "0.44 (US firms)",
        "priors_literature startup_survival_4y (US BLS, Knaup 2005)",
        0.33,
        0.55,
        _mean("startup_survival_4y", LAST, LAST),
        "share (2015 entry cohort)",
        fitted=True,
    ),
    Fact(
        "licences per invention disclosure",
        "0.3 (AUTM, US universities)",
        "priors_literature university_licences_per_disclosure",
        0.2,
        0.4,
        _ratio("projects_licensed", "invention_disclosures", FIRST, LAST),
        "ratio, 2015-2019",
    ),
    Fact(
        "spin-offs per invention disclosure",
        "0.04 (AUTM, US universities)",
        "priors_literature university_startups_per_disclosure",
        0.02,
        0.08,
        _ratio("projects_spun_off", "invention_disclosures", FIRST, LAST),
        "ratio, 2015-2019",
    ),
    Fact(
        "university spin-offs a year",
        "about 25 from university results (330 TSSSU start-ups by 2022, 60% on own technology)",
        "hk_pipeline_evidence tsssu_startups_cumulative, hkust_tsssu_startups_cumulative",
        15.0,
        40.0,
        _mean("university_spinoffs", FIRST, LAST),
        "startups a year, 2015-2019",
        fitted=True,
    ),
    Fact(
        "university IP income",
        "about 100 HKD m in 2019",
        "hk_pipeline_evidence hk_university_ip_income",
        50.0,
        200.0,
        _mean("university_ip_income_hkd_m", LAST, LAST),
        "HKD m, 2019",
        fitted=True,
    ),
    Fact(
        "share of pilots done north",
        "most Hong Kong research is used in the north (source paper; HKU survey of 363 PRD "
        "firms: they use Hong Kong technology, in low proportion)",
        "hk_context_facts prd_survey_firms; MISSION.md",
        0.5,
        1.0,
        _north_share,
        "share of pilots started, 2015-2019",
    ),
    Fact(
        "launches per research project (funnel)",
        "1.7 launches per 125 small projects (1.4%); per 300 submitted ideas 0.6%",
        "priors_literature idea_funnel; platform_evaluations Stevens and Burley (1997)",
        0.005,
        0.04,
        _funnel,
        f"share of lab projects started {FUNNEL_COHORT[0]}-{FUNNEL_COHORT[1]} that launch",
    ),
    Fact(
        "manufacturing establishments, yearly change",
        "-3.7% a year (8,444 to 7,251, 2015-2019)",
        "hk_targets manufacturing_establishments (C&SD)",
        -0.047,
        -0.027,
        _growth("manufacturing_establishments", FIRST, LAST),
        "per year, 2015-2019",
        fitted=True,
    ),
    Fact(
        "employment in Hong Kong-owned PRD factories",
        "millions, close to Hong Kong's employment of 3.7-3.9 million (2021); over 5 million "
        "(2002, lower bound, before the decline)",
        "hk_pipeline_evidence hk_owned_prd_employment_2021, hk_firms_prd_employment",
        2.0e6,
        6.0e6,
        _mean("prd_hk_owned_employment", LAST, LAST),
        "persons, 2019",
        fitted=True,
    ),
)


def run_stats(scenario: Any, seed: int, scale: float) -> RunStats:
    """One run of ``scenario`` to :data:`FACTS_UNTIL` and its funnel counts."""
    import sim

    res = sim.run(scenario, seed=seed, scale=scale, until=FACTS_UNTIL, keep_model=True)
    m = res.model
    assert m is not None
    b = m.projects
    q0 = (FUNNEL_COHORT[0] - FIRST_YEAR) * 4
    q1 = (FUNNEL_COHORT[1] + 1 - FIRST_YEAR) * 4
    lab = (b["origin_lab"] >= 0) & (b["started_q"] >= q0) & (b["started_q"] < q1)
    launched = lab & (
        (b["stage"] == Stage.MARKET) | ((b["stage"] == Stage.DONE) & (b["status"] == Status.ENDED))
    )
    return RunStats(res.annual, int(lab.sum()), int(launched.sum()))


def evaluate(stats: Sequence[RunStats]) -> pd.DataFrame:
    """The facts table: observed, model mean and range over runs, pass range, verdict."""
    rows = []
    for f in FACTS:
        v = np.array([f.statistic(s) for s in stats], dtype=float)
        mean = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        rows.append(
            {
                "fact": f.name,
                "observed": f.observed,
                "model": mean,
                "model_low": float(np.nanmin(v)) if np.isfinite(v).any() else float("nan"),
                "model_high": float(np.nanmax(v)) if np.isfinite(v).any() else float("nan"),
                "pass_low": f.low,
                "pass_high": f.high,
                "unit": f.unit,
                "fitted": f.fitted,
                "verdict": "pass" if f.low <= mean <= f.high else "miss",
                "source": f.source,
            }
        )
    return pd.DataFrame(rows)


def client_study_rows(ev: Any) -> pd.DataFrame:
    """The published client studies as facts (``sim.evaluation``): each design rerun on the
    platform scenario's firms against its published band; *fitted* marks the rows the
    platform's service parameters were fitted to (``sim.evaluation.fit.FIT_ROWS``)."""
    from sim.evaluation.fit import FIT_ROWS

    t = ev.table
    seeds = ev.by_seed.groupby(["study", "outcome"])["simulated"]
    lo, hi = seeds.min(), seeds.max()
    pub = ev.published_text()
    rows = []
    for r in t.itertuples():
        key = (r.study, r.outcome)
        mean = float(r.simulated)
        rows.append(
            {
                "fact": f"client study {r.study}: {r.outcome}",
                "observed": pub[key],
                "model": mean,
                "model_low": float(lo.get(key, np.nan)),
                "model_high": float(hi.get(key, np.nan)),
                "pass_low": float(r.band_low),
                "pass_high": float(r.band_high),
                "unit": str(r.unit),
                "fitted": key in FIT_ROWS,
                "verdict": "pass" if r.band_low <= mean <= r.band_high else "miss",
                "source": str(r.source),
            }
        )
    return pd.DataFrame(rows)


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "n/a" if np.isnan(x) else ("no limit" if x > 0 else "-inf")
    a = abs(x)
    if a >= 1e5:
        return f"{x / 1e6:.2f} m"
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:.1f}"
    return f"{x:.3f}"


def markdown(
    table: pd.DataFrame,
    *,
    scenario: str,
    seeds: int,
    scale: float,
    client_size: tuple[int, float] | None = None,
) -> str:
    n_pass = int((table["verdict"] == "pass").sum())
    clients = (
        f" The *client study* rows rerun the published evaluations of technology centres' "
        f"clients on `hk_pilot_platform` (`pilotsim evaluate`, {client_size[0]} pairs of runs "
        f"at scale {client_size[1]:g}; *fitted* there: the platform's service was fitted to "
        "them, `results/evaluation/service_fit.md`)."
        if client_size
        else ""
    )
    lines = [
        "# Stylised facts",
        "",
        f"Scenario `{scenario}`, {seeds} seeds at scale {scale}, run to {FACTS_UNTIL} "
        f"(`pilotsim validate-model`). Model: mean over seeds, with the lowest and highest "
        f"seed. **{n_pass} of {len(table)} facts pass.** Facts marked *fitted* are also "
        "calibration targets (the check shows the fit held); the others are out-of-sample."
        + clients,
        "",
        "| fact | observed | model (seed range) | pass range | unit | | source |",
        "|---|---|--:|--:|---|---|---|",
    ]
    for r in table.itertuples():
        verdict = f"**{r.verdict}**" + (" (fitted)" if r.fitted else "")
        lines.append(
            f"| {r.fact} | {r.observed} | {_fmt(r.model)} ({_fmt(r.model_low)} to "
            f"{_fmt(r.model_high)}) | {_fmt(r.pass_low)} to {_fmt(r.pass_high)} | {r.unit} | "
            f"{verdict} | {r.source} |"
        )
    misses = table[table["verdict"] == "miss"]
    if len(misses):
        lines += ["", "Misses: " + "; ".join(misses["fact"]) + "."]
    return "\n".join(lines) + "\n"


def write(table: pd.DataFrame, out: Path, text: str) -> list[Path]:
    from sim.provenance import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    md, csv = out / "stylised_facts.md", out / "stylised_facts.csv"
    atomic_write_text(csv, table.to_csv(index=False, float_format=CSV_FLOAT_FORMAT))
    atomic_write_text(md, text)
    return [md, csv]
