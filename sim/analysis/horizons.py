"""Horizons: the platform's effect at 2030, 2035 and 2050, and how long it lasts once closed.

Three scenarios run with the same seeds to ``until`` (2050): the baseline, the platform kept
open (``hk_pilot_platform``) and the same platform closed after ``sunset``
(``platform.end_year``, ``hk_pilot_platform_sunset``). For each, the paired effect on HK
value added, HK jobs and public spend year by year with 90% t-intervals over seeds, the
cumulative effect from the platform's first year to each horizon, and the NPV of net benefit
to Hong Kong to each horizon. After the sunset, the effect lasts while projects the platform
piloted are still producing; the report gives the first year after closing in which the
yearly effect on HK value added is no longer distinguishable from zero and the year it falls
below half its level in the platform's last five years.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from sim.analysis.experiment import Settings, elapsed, finish, open_lab, paired_batch, prepare
from sim.analysis.result import AnalysisResult, Folder
from sim.analysis.sizes import HorizonsSize
from sim.errors import BatchError
from sim.reporting import CSV_FLOAT_FORMAT, as_written, markdown_table

NAME = "horizons"
#: Horizons of the table: the issue's 2030, 2035 and 2050 (those within the run).
HORIZONS = (2030, 2035, 2050)
#: Yearly columns whose paired effect is reported.
YEARLY = ("hk_value_added_hkd_m", "hk_jobs", "public_spend_hkd_m")
#: "Falls below half": the half-life convention of a decaying effect.
HALF = 0.5
#: Years before the sunset whose mean effect is the level the decay is measured from.
LEVEL_YEARS = 5


def _scenarios(settings: Settings, sunset: int) -> dict[str, Any]:
    from sim.scenario import load_scenario, with_overrides

    base = prepare(load_scenario("baseline"), settings)
    kept = prepare(load_scenario("hk_pilot_platform"), settings)
    shut = with_overrides(kept, {"platform.end_year": sunset})
    return {"base": base, "kept": kept, "sunset": shut}


def yearly_effects(panel: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per policy, year and column: mean paired effect with its 90% t-interval over seeds."""
    from sim.experiments.compare import t_interval

    rows = []
    base = panel[panel["label"] == "baseline"].set_index(["replicate", "year"])
    for lab in labels:
        pol = panel[panel["label"] == lab].set_index(["replicate", "year"])
        for col in YEARLY:
            d = (pol[col] - base.loc[pol.index, col]).unstack("year")
            for year in d.columns:
                m, lo, hi = t_interval(d[year].to_numpy())
                rows.append(
                    {
                        "policy": lab,
                        "measure": col,
                        "year": int(year),
                        "mean": m,
                        "low": lo,
                        "high": hi,
                    }
                )
    return pd.DataFrame(rows)


def horizon_table(
    panel: pd.DataFrame, labels: list[str], start: int, until: int, rate: float
) -> pd.DataFrame:
    """Cumulative effects from ``start`` to each horizon, and the NPV of net benefit to HK
    discounted to ``start``, by the one definition of ``npv_net_benefit_hkd_m`` in
    ``sim.metrics`` (its terms, the resident frame)."""
    from sim.experiments.compare import discount_factors, t_interval
    from sim.metrics import OUTPUT_BY_NAME

    terms = OUTPUT_BY_NAME["npv_net_benefit_hkd_m"].terms
    columns = list(dict.fromkeys([*YEARLY, *(c for c, _ in terms)]))
    rows = []
    base = panel[panel["label"] == "baseline"].set_index(["replicate", "year"])
    for lab in labels:
        pol = panel[panel["label"] == lab].set_index(["replicate", "year"])
        d = pol[columns] - base.loc[pol.index, columns]
        d = d.reset_index()
        for h in [y for y in HORIZONS if start <= y <= until]:
            sub = d[(d["year"] >= start) & (d["year"] <= h)]
            g = sub.groupby("replicate")
            disc = discount_factors(sub["year"], start, rate)
            net = sum(coef * sub[c] for c, coef in terms) * disc
            values = {
                "hk_value_added_hkd_m": g["hk_value_added_hkd_m"].sum(),
                "public_spend_hkd_m": g["public_spend_hkd_m"].sum(),
                "hk_jobs_in_year": sub[sub["year"] == h].set_index("replicate")["hk_jobs"],
                "npv_net_benefit_hkd_m": net.groupby(sub["replicate"]).sum(),
            }
            for name, x in values.items():
                m, lo, hi = t_interval(x.to_numpy())
                rows.append(
                    {"policy": lab, "horizon": h, "measure": name, "mean": m, "low": lo, "high": hi}
                )
    return pd.DataFrame(rows)


def persistence(yearly: pd.DataFrame, sunset: int) -> dict[str, Any]:
    """How long the sunset platform's effect on HK value added lasts after it closes."""
    sub = yearly[(yearly["policy"] == "sunset") & (yearly["measure"] == "hk_value_added_hkd_m")]
    sub = sub.set_index("year").sort_index()
    level = float(sub.loc[sunset - LEVEL_YEARS + 1 : sunset, "mean"].mean())
    after = sub.loc[sunset + 1 :]
    zero = after[(after["low"] <= 0) & (after["high"] >= 0)]
    half = after[after["mean"] < HALF * level]
    return {
        "level_before_closing": level,
        "first_year_not_above_zero": int(zero.index[0]) if len(zero) else None,
        "first_year_below_half": int(half.index[0]) if len(half) else None,
        "last_year": int(sub.index.max()),
    }


def figure(yearly: pd.DataFrame, sunset: int, start: int) -> Any:
    """The yearly paired effects of the platform kept and closed, with their intervals."""
    from sim.reporting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"kept": "#1f6fb4", "sunset": "#d1495b"}
    names = {"kept": "platform kept", "sunset": f"closed after {sunset}"}
    for ax, col, title in (
        (axes[0], "hk_value_added_hkd_m", "Extra HK value added, HKD m a year"),
        (axes[1], "public_spend_hkd_m", "Extra public spend, HKD m a year"),
    ):
        for lab in ("kept", "sunset"):
            s = yearly[(yearly["policy"] == lab) & (yearly["measure"] == col)].sort_values("year")
            ax.plot(s["year"], s["mean"], color=colours[lab], label=names[lab])
            ax.fill_between(s["year"], s["low"], s["high"], color=colours[lab], alpha=0.2, lw=0)
        ax.axhline(0, color="#555555", lw=0.8)
        ax.axvline(start, color="#888888", lw=1, ls=":")
        ax.axvline(sunset + 0.5, color="#d1495b", lw=1, ls=":")
        ax.set_title(title)
        ax.set_xlabel("year")
    axes[0].legend(loc="upper left")
    fig.suptitle("Paired effects with 90% intervals over seeds", fontsize=11)
    return fig


def _fmt(m: float, lo: float, hi: float) -> str:
    return f"{m:+,.0f} [{lo:+,.0f}, {hi:+,.0f}]"


@dataclass(frozen=True, eq=False, kw_only=True)
class HorizonsResult(AnalysisResult):
    """The horizons analysis: its tables, findings and the runs behind them.

    Attributes:
        yearly: per policy (``kept``, ``sunset``), measure and year, the mean paired effect
            and its 90% interval (``yearly_effects.csv``).
        table: per policy, horizon and measure, the cumulative effect or NPV with its
            interval (``horizons.csv``). Both at the precision written (:func:`as_written`).

    The other fields are those of :class:`~sim.analysis.result.AnalysisResult`; the period of
    ``settings`` runs from the platform's first year to ``size.until``.
    """

    NAME: ClassVar[str] = NAME
    SIZE: ClassVar[type] = HorizonsSize
    NAMES: ClassVar[tuple[str, ...]] = (
        "yearly_effects.csv",
        "horizons.csv",
        "horizons.png",
        "report.md",
    )

    yearly: pd.DataFrame
    table: pd.DataFrame

    @property
    def persistence(self) -> dict[str, Any]:
        """How long the effect lasts after the sunset (:func:`persistence`)."""
        return persistence(self.yearly, self.size.sunset)

    @property
    def findings(self) -> dict[str, Any]:
        """The persistence after the sunset and the effect on HK value added per horizon."""
        t = self.table
        return {
            "persistence": self.persistence,
            "hk_value_added": {
                f"{r.policy}@{r.horizon}": round(r.mean)
                for r in t[t["measure"] == "hk_value_added_hkd_m"].itertuples()
            },
        }

    def figure(self) -> Any:
        """Yearly effects of the platform kept and closed (``horizons.png``)."""
        return figure(self.yearly, self.size.sunset, self.settings.period[0])

    def report(self) -> str:
        """The Markdown section (``report.md``)."""
        return _report(self)

    def writers(self) -> dict[str, Callable[[Path], Any]]:
        from sim.reporting import save_figure

        return {
            "yearly_effects.csv": lambda p: self.yearly.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
            "horizons.csv": lambda p: self.table.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
            "horizons.png": lambda p: save_figure(self.figure(), p),
            "report.md": self.write_report,
        }

    @classmethod
    def fields_from(cls, files: Folder) -> dict[str, Any]:
        cols = ["policy", "measure", "mean", "low", "high"]
        return {
            "yearly": files.table("yearly_effects.csv", [*cols, "year"]),
            "table": files.table("horizons.csv", [*cols, "horizon"]),
        }


def run(out: Path, size: Any, settings: Settings, options: Any) -> HorizonsResult:
    """Run the three scenarios to ``size.until`` in the store in ``out`` and write the
    horizons report there (:meth:`HorizonsResult.write`); return the result."""
    from sim.experiments.compare import panel_from_frames
    from sim.experiments.workflows import discount_rate_of

    t0 = time.perf_counter()
    settings = Settings(
        size.scale, size.until, (settings.period[0], size.until), settings.root_seed
    )
    start = settings.period[0]
    if not start <= size.sunset < size.until:
        raise BatchError(
            f"--sunset {size.sunset}: must be from the platform's first year {start} to before "
            f"the last simulated year {size.until}"
        )
    specs = _scenarios(settings, size.sunset)
    seeds = settings.seeds(size.seeds)
    out = Path(out)
    with open_lab(out, [NAME], settings, **options.lab()) as lab:
        batch = paired_batch(
            specs["base"],
            {"kept": specs["kept"], "sunset": specs["sunset"]},
            [{}],
            seeds,
            kind=NAME,
        )
        lab.run(batch)
        runs = batch.runs()
        panel = panel_from_frames(lab.store.load({r["key"] for r in runs}), runs)
        labels = ["kept", "sunset"]
        rate = discount_rate_of(specs["base"])
        result = HorizonsResult(
            yearly=as_written(yearly_effects(panel, labels)),
            table=as_written(horizon_table(panel, labels, start, size.until, rate)),
            size=size,
            settings=settings,
            count=lab.count(),
            wall_seconds=elapsed(t0),
            code_commit=lab.provenance.get("code_commit"),
        )
        result.write(out)
        finish(out, lab, NAME, result.record())
    return result


def _report(r: HorizonsResult) -> str:
    table, last, size, settings = r.table, r.persistence, r.size, r.settings

    def cell(lab: str, h: int, measure: str) -> str:
        row = table[
            (table["policy"] == lab) & (table["horizon"] == h) & (table["measure"] == measure)
        ]
        return _fmt(*row[["mean", "low", "high"]].iloc[0]) if len(row) else "n/a"

    start = settings.period[0]
    hs = sorted(table["horizon"].unique())
    lines = [
        "## Horizons: how long the platform's effect lasts",
        "",
        f"The baseline, the platform kept open and the platform closed after {size.sunset} "
        f"(`platform.end_year`), {size.seeds} paired seeds each, scale {size.scale:g}, to "
        f"{size.until}: {r.count.used} runs ({r.count.done} run now), {r.wall_seconds / 60:.1f} "
        "min. Effects are paired "
        f"differences (policy minus baseline, same seeds) summed from {start} to each horizon, "
        "with 90% t-intervals over seeds; the NPV of net benefit to HK (`npv_net_benefit_hkd_m`, "
        f"the resident frame) is discounted to {start} at the social rate.",
        "",
    ]
    header = [
        "horizon",
        "scenario",
        "HK value added, HKD m",
        "public spend, HKD m",
        "HK jobs in that year",
        "NPV net benefit to HK, HKD m",
    ]
    measures = [
        "hk_value_added_hkd_m",
        "public_spend_hkd_m",
        "hk_jobs_in_year",
        "npv_net_benefit_hkd_m",
    ]
    rows = [
        [str(h), name, *(cell(lab, h, m) for m in measures)]
        for h in hs
        for lab, name in (("kept", "kept open"), ("sunset", f"closed after {size.sunset}"))
    ]
    lines += markdown_table(header, rows, "llrrrr")
    z, half = last["first_year_not_above_zero"], last["first_year_below_half"]
    lines += [
        "",
        f"**After closing.** In its last {LEVEL_YEARS} years the platform added "
        f"{last['level_before_closing']:,.0f} HKD m of HK value a year. Once closed, the yearly "
        "effect "
        + (
            f"falls below half that level in {half}"
            if half
            else f"stays above half that level to {last['last_year']}"
        )
        + " and "
        + (
            f"is no longer distinguishable from zero (90% interval) from {z}."
            if z
            else f"is still distinguishable from zero in {last['last_year']}."
        ),
        "",
        "![Yearly effects](horizons.png)",
        "",
        f"Precision: the intervals are over {size.seeds} seeds at the nominal parameters; they "
        "carry seed noise, not parameter uncertainty (see the sensitivity and discovery "
        "sections for that).",
        "",
    ]
    return "\n".join(lines)
