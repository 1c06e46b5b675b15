"""Rerun the published client studies on the model: run pairs, apply designs, summarise.

For each seed, the baseline and the platform scenario run to ``studies.last_year`` with a
firm panel (``sim.evaluation.panel``); every design of ``sim.evaluation.studies`` is applied
to the platform run as its evaluator would, and the true effect on the same clients comes
from the baseline run with the same seed. Estimates are summarised over seeds (mean and 90%
t-interval), beside the published figure and its acceptance band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.evaluation import studies
from sim.params import Scenario

#: Files ``Evaluation.write`` produces (the command refuses to overwrite anything else).
NAMES: tuple[str, ...] = (
    "report.md",
    "evaluations.csv",
    "estimates_by_seed.csv",
    "additionality.csv",
    "evaluations.png",
)
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

    ``table`` has one row per study and outcome (``COLUMNS`` plus the acceptance band,
    ``within``, the bias ``simulated - true_effect`` and the study's design and source).
    """

    by_seed: pd.DataFrame
    additionality: pd.DataFrame
    seeds: int
    scale: float
    scenario: str

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

    def write(self, out: str | Path) -> list[Path]:
        """Write ``NAMES`` into ``out``, all or nothing."""
        from sim.evaluation.report import markdown
        from sim.provenance import write_files
        from sim.reporting import save_figure

        table = self.table
        return write_files(
            out,
            {
                "report.md": lambda p: p.write_text(markdown(self), encoding="utf-8"),
                "evaluations.csv": lambda p: table[list(COLUMNS)].to_csv(
                    p, index=False, float_format="%.6g"
                ),
                "estimates_by_seed.csv": lambda p: self.by_seed.to_csv(
                    p, index=False, float_format="%.6g"
                ),
                "additionality.csv": lambda p: self.additionality_summary().to_csv(
                    p, index=False, float_format="%.6g"
                ),
                "evaluations.png": lambda p: save_figure(self.figure(), p),
            },
        )


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
