"""Rerun the published client studies on the model: run pairs, apply designs, summarise.

For each seed, the baseline and the platform scenario run to ``studies.last_year`` with a
firm panel (``sim.evaluation.panel``); every design of ``sim.evaluation.studies`` is applied
to the platform run as its evaluator would, and the true effect on the same clients comes
from the baseline run with the same seed. Estimates are summarised over seeds (mean and 90%
t-interval), beside the published figure and its acceptance band.

An :class:`Evaluation` holds the per-seed frames at the precision of their CSVs
(``sim.reporting.CSV_FLOAT_FORMAT``) and draws its table, report and figure from them, so that
:meth:`Evaluation.read` rebuilds the same object from the folder :meth:`Evaluation.write`
wrote (e.g. the committed ``results/evaluation``), with no run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.evaluation import studies
from sim.params import Scenario
from sim.reporting import CSV_FLOAT_FORMAT, as_written

#: Files ``Evaluation.write`` produces (the command refuses to overwrite anything else).
NAMES: tuple[str, ...] = (
    "report.md",
    "evaluations.csv",
    "estimates_by_seed.csv",
    "additionality.csv",
    "additionality_by_seed.csv",
    "evaluation.json",
    "evaluations.png",
)
#: Of ``NAMES``, what ``Evaluation.read`` reads (the report, the summary of additionality
#: and the figure are drawn from them; ``evaluations.csv`` is checked against them).
READ_NAMES: tuple[str, ...] = (
    "evaluation.json",
    "estimates_by_seed.csv",
    "additionality_by_seed.csv",
    "evaluations.csv",
)
#: How far ``evaluations.csv`` may lie from the summary of the per-seed estimates read with
#: it, relative to the larger of 1 and the value: rounding only (assumption: a folder written
#: before the estimates were held rounded differs in the sixth digit, 6e-6 at most in the
#: committed one of model 7; another evaluation's files differ far more).
SUMMARY_TOLERANCE = 1e-4
#: Columns every per-seed estimate has (a ratio row also has ``numerator``,
#: ``true_numerator`` and ``denominator``).
BY_SEED_COLUMNS = ("study", "outcome", "simulated", "true_effect", "seed")
#: Text columns of the per-seed estimates; ``seed`` is an integer, the others are floats.
KEYS = ("study", "outcome")
COLUMNS = (
    "study",
    "outcome",
    "published",
    "published_low",
    "published_high",
    "simulated",
    "simulated_low",
    "simulated_high",
    "true_effect",
)


def horizon_specs(base: Scenario, policy: Scenario, scale: float) -> tuple[Scenario, Scenario]:
    """The two scenarios run to the evaluation's last year at ``scale``."""
    from sim.scenario import with_overrides

    until = studies.last_year(policy.platform.start_year)
    over = {"run.end_year": until, "run.scale": scale}
    return with_overrides(base, over), with_overrides(policy, over)


def panel_run(spec: Scenario, seed: int, first_year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sim.evaluation.panel import FirmPanel, project_outcomes
    from sim.model import PilotModel
    from sim.run import paused_gc

    with paused_gc():
        model = PilotModel(spec, seed=seed)
        model.firm_panel = FirmPanel(model, first_year)
        model.run()
        return model.firm_panel.frame(), project_outcomes(model)


def evaluate_seed(base: Scenario, policy: Scenario, seed: int) -> dict[str, Any]:
    """One seed's pair of runs and every design's estimate and true effect on it."""
    start = policy.platform.start_year
    first = start - studies.PANEL_LEAD_YEARS
    base_panel, base_projects = panel_run(base, seed, first)
    pol_panel, pol_projects = panel_run(policy, seed, first)
    pair = studies.make_pair(
        pol_panel, base_panel, pol_projects, base_projects, studies.cohorts(start)
    )
    rows = studies.evaluate_pair(pair)
    for r in rows:
        r["seed"] = seed
    return {"rows": rows, "additionality": {**studies.additionality(pair), "seed": seed}}


def _interval(x: np.ndarray) -> tuple[float, float, float]:
    from sim.experiments.compare import t_interval

    x = x[np.isfinite(x)]
    return t_interval(x) if x.size else (math.nan, math.nan, math.nan)


@dataclass
class Evaluation:
    """The virtual evaluations of one platform scenario: per-seed estimates and the summary.

    ``by_seed`` has one row per seed, study and outcome (``BY_SEED_COLUMNS``, and the sums
    of a ratio row); ``additionality`` one row per seed. Both are held at the precision of
    their CSVs (:func:`as_written`), so that an evaluation read back from its folder
    (:meth:`read`) is the one written: the same table, report and files. ``table`` has one
    row per study and outcome (``COLUMNS`` plus the acceptance band, ``within``, the bias
    ``simulated - true_effect`` and the study's design and source).
    """

    by_seed: pd.DataFrame
    additionality: pd.DataFrame
    seeds: int
    scale: float
    scenario: str

    def __post_init__(self) -> None:
        self.by_seed = as_written(self.by_seed)
        self.additionality = as_written(self.additionality)

    @property
    def table(self) -> pd.DataFrame:
        from sim.experiments.compare import ratio_interval

        pub = studies.published()
        rows = []
        for (study, outcome), g in self.by_seed.groupby(["study", "outcome"], sort=False):
            if "denominator" in g and g["denominator"].notna().any():
                # a ratio: of sums over seeds, with a delta-method interval
                m, lo, hi = ratio_interval(g["numerator"], g["denominator"])
                t, _, _ = ratio_interval(g["true_numerator"], g["denominator"])
            else:
                m, lo, hi = _interval(g["simulated"].to_numpy(float))
                t, _, _ = _interval(g["true_effect"].to_numpy(float))
            rows.append(
                {
                    "study": study,
                    "outcome": outcome,
                    "simulated": m,
                    "simulated_low": lo,
                    "simulated_high": hi,
                    "true_effect": t,
                }
            )
        sim = pd.DataFrame(rows)
        t = pub.merge(sim, on=["study", "outcome"], how="left")
        t["within"] = (t["simulated"] >= t["band_low"]) & (t["simulated"] <= t["band_high"])
        t["bias"] = t["simulated"] - t["true_effect"]
        return t[[*COLUMNS, "band_low", "band_high", "within", "bias", "unit", "design", "source"]]

    def published_text(self) -> dict[tuple[str, str], str]:
        """The published figure of each row as the report prints it (unit included)."""
        from sim.evaluation.report import published_cell

        return {(r["study"], r["outcome"]): published_cell(r) for _, r in self.table.iterrows()}

    def additionality_summary(self) -> pd.DataFrame:
        a = self.additionality.drop(columns="seed")
        rows = []
        for col in a.columns:
            m, lo, hi = _interval(a[col].to_numpy(float))
            rows.append({"measure": col, "mean": m, "low": lo, "high": hi})
        return pd.DataFrame(rows)

    def figure(self) -> Any:
        """Simulated (with interval) against published (band) and true effects per row."""
        from sim.reporting import pyplot

        plt = pyplot()
        t = self.table
        t = t[t["unit"] != "ratio"].reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(t) + 1.5))
        y = np.arange(len(t))[::-1]
        for i, r in t.iterrows():
            hi = r["band_high"] if np.isfinite(r["band_high"]) else r["band_low"] + 5
            ax.plot([r["band_low"], hi], [y[i], y[i]], color="#9bc59d", lw=8, alpha=0.7)
        ax.errorbar(
            t["simulated"],
            y,
            xerr=[t["simulated"] - t["simulated_low"], t["simulated_high"] - t["simulated"]],
            fmt="o",
            color="#1f6fb4",
            label="design rerun on the model (90% over seeds)",
        )
        ax.plot(t["true_effect"], y, "x", color="#d1495b", label="true effect (baseline twins)")
        ax.plot([], [], color="#9bc59d", lw=8, alpha=0.7, label="published range")
        ax.axvline(0, color="#555555", lw=0.8)
        ax.set_yticks(y, [f"{r.study}: {r.outcome}" for r in t.itertuples()])
        ax.set_xlabel("effect on clients, percent (survival, MEP: points)")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        return fig

    def facts(self) -> dict[str, Any]:
        """What :meth:`read` needs beyond the tables (``evaluation.json``)."""
        return {"scenario": self.scenario, "seeds": self.seeds, "scale": self.scale}

    def write(self, out: str | Path) -> list[Path]:
        """Write ``NAMES`` into ``out``, all or nothing."""
        from sim.evaluation.report import markdown
        from sim.provenance import write_files
        from sim.reporting import save_figure

        table = self.table
        facts = json.dumps(self.facts(), indent=1) + "\n"
        return write_files(
            out,
            {
                "report.md": lambda p: p.write_text(markdown(self), encoding="utf-8"),
                "evaluations.csv": lambda p: table[list(COLUMNS)].to_csv(
                    p, index=False, float_format=CSV_FLOAT_FORMAT
                ),
                "estimates_by_seed.csv": lambda p: self.by_seed.to_csv(
                    p, index=False, float_format=CSV_FLOAT_FORMAT
                ),
                "additionality.csv": lambda p: self.additionality_summary().to_csv(
                    p, index=False, float_format=CSV_FLOAT_FORMAT
                ),
                "additionality_by_seed.csv": lambda p: self.additionality.to_csv(
                    p, index=False, float_format=CSV_FLOAT_FORMAT
                ),
                "evaluation.json": lambda p: p.write_text(facts, encoding="utf-8"),
                "evaluations.png": lambda p: save_figure(self.figure(), p),
            },
        )

    @classmethod
    def read(cls, folder: str | Path) -> Evaluation:
        """The evaluation :meth:`write` wrote to ``folder`` (``READ_NAMES``), with no run;
        e.g. ``Evaluation.read("results/evaluation").table``.

        Raises:
            BatchError: ``folder`` or one of ``READ_NAMES`` is missing, or a file is
                malformed or does not belong with the others (``evaluations.csv`` disagrees
                with the per-seed estimates or with the published studies of this version);
                the message names the folder and the file.
        """
        from sim.analysis.result import Files
        from sim.errors import BatchError

        files = Files(folder, READ_NAMES, "virtual evaluation", "pilotsim evaluate")
        name = "evaluation.json"
        try:
            facts = files.json(name)
            scenario, seeds, scale = facts["scenario"], facts["seeds"], facts["scale"]
            if not (
                isinstance(scenario, str)
                and isinstance(seeds, int)
                and not isinstance(seeds, bool)
                and seeds >= 1
                and isinstance(scale, int | float)
                and not isinstance(scale, bool)
                and scale > 0
            ):
                raise ValueError(f"scenario {scenario!r}, seeds {seeds!r}, scale {scale!r}")
            name = "estimates_by_seed.csv"
            by_seed = _numeric(files.table(name, BY_SEED_COLUMNS), KEYS)
            if by_seed["seed"].nunique() != seeds:
                raise ValueError(f"{by_seed['seed'].nunique()} seeds, {seeds} in evaluation.json")
            name = "additionality_by_seed.csv"
            additionality = _numeric(files.table(name, ("seed",)), ())
            if set(additionality["seed"]) != set(by_seed["seed"]):
                raise ValueError("not the seeds of estimates_by_seed.csv")
            ev = cls(
                by_seed=by_seed,
                additionality=additionality,
                seeds=seeds,
                scale=float(scale),
                scenario=scenario,
            )
            name = "evaluations.csv"
            _check_summary(ev.table, files.table(name, COLUMNS))
        except BatchError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise BatchError(
                f"{files.path / name}: not a virtual evaluation this version reads "
                f"({type(e).__name__}: {e}); rerun `pilotsim evaluate`"
            ) from None
        return ev


def _numeric(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """A per-seed frame read from its CSV with the types it was written with: ``keys`` text,
    ``seed`` integer, the rest floats (a column of whole numbers reads as integers)."""
    out = frame.copy()
    for c in out.columns:
        if c == "seed":
            out[c] = out[c].astype("int64")
        elif c not in keys:
            out[c] = pd.to_numeric(out[c]).astype(float)
    return out


def _check_summary(table: pd.DataFrame, written: pd.DataFrame) -> None:
    """That ``evaluations.csv`` (``written``) is the summary of the per-seed estimates read
    with it and of this version's published studies: the same rows, the same published
    figures, the same estimates (within the rounding of an older writer, which summarised
    the estimates before they were rounded)."""
    keys = list(KEYS)
    if written[keys].astype(str).values.tolist() != table[keys].astype(str).values.tolist():
        raise ValueError("its rows are not the rows of this version's published studies")
    for c in COLUMNS[2:]:
        a, b = written[c].to_numpy(float), table[c].to_numpy(float)
        with np.errstate(invalid="ignore"):
            near = np.abs(a - b) <= SUMMARY_TOLERANCE * np.maximum(1.0, np.abs(b))
        if not np.all((a == b) | (np.isnan(a) & np.isnan(b)) | near):
            raise ValueError(f"column {c} disagrees with the per-seed estimates and studies")


def evaluate(
    policy: Scenario | str = "hk_pilot_platform",
    base: Scenario | str = "baseline",
    *,
    seeds: int = 16,
    scale: float = 1.0,
    jobs: int | None = None,
    overrides: dict[str, Any] | None = None,
    first_seed: int = 0,
) -> Evaluation:
    """Run ``seeds`` pairs (seeds ``first_seed`` onward) and apply every design (module
    docstring).

    ``overrides`` apply to the policy scenario only (the platform's parameters).
    """
    from sim.experiments.executors import open_executor
    from sim.run import resolve

    b = resolve(base)
    p = resolve(policy, **(overrides or {}))
    b, p = horizon_specs(b, p, scale)
    with open_executor(jobs) as engine:
        futures = [
            engine.executor.submit(evaluate_seed, b, p, s)
            for s in range(first_seed, first_seed + seeds)
        ]
        results = [f.result() for f in futures]
    return Evaluation(
        by_seed=pd.DataFrame([r for res in results for r in res["rows"]]),
        additionality=pd.DataFrame([res["additionality"] for res in results]),
        seeds=seeds,
        scale=scale,
        scenario=p.name,
    )
