"""The virtual-evaluation report: one table per study, the figure, additionality, misses."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from sim.reporting import markdown_table

if TYPE_CHECKING:
    from sim.evaluation.evaluate import Evaluation

#: Why a design can miss on this model, by (study, outcome): read from the model's
#: mechanisms, so the report can say why any miss happens (issue 23, point 4).
WHY_MISS: dict[tuple[str, str], str] = {
    ("fraunhofer", "productivity"): (
        "the platform acts on products (launches), not on a client's process: a new product "
        "is made at manufacturing value added per worker, so value added per worker hardly "
        "moves; the model's only productivity channel is adoption of Hong Kong technology"
    ),
    ("mep", "productivity_small_minus_large"): (
        "same reason as Fraunhofer productivity: the model has no process-productivity "
        "service, so a size gradient in productivity is noise"
    ),
    ("to2", "value_added_during"): (
        "a client gains value added only when a product piloted on the platform reaches the "
        "market, after the pilot (four to six quarters), industrialisation and ramp-up; "
        "TO2's partners gain during the collaboration, from contract research on their "
        "current business, a channel the model does not have"
    ),
    ("to2", "value_added_year_after"): (
        "as during the collaboration: the year after a client's first platform pilot, its "
        "product has rarely reached the market yet"
    ),
    ("tno", "value_added"): (
        "in the model, platform clients and firms doing R&D alone are incumbent plants of "
        "similar size (both have a project at the pilot stage), so a plain comparison of "
        "their value added shows little premium; TNO's 14-17% carries the Dutch partners' "
        "own selection (the study has no counterfactual), which the model's clients do not "
        "share"
    ),
    ("innovate_uk", "survival"): (
        "the evaluated clients are established local plants, whose exit hazard the platform "
        "touches only through adoption; Innovate UK's grantees are young firms. The model's "
        "startup clients are born with their project, so no panel with a pre-treatment year "
        "(what the design needs) contains them"
    ),
}


def _num(x: float, unit: str) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f}" if unit == "ratio" else f"{x:+.1f}"


def published_cell(r: pd.Series) -> str:
    """The published figure: its range, or its point with the band it is met within."""
    lo, hi, p = r["published_low"], r["published_high"], r["published"]
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{lo:g} to {hi:g}"
    if math.isfinite(p):
        return f"{p:g} (band {r['band_low']:g} to {r['band_high']:g})"
    return f"above {lo:g}" if math.isfinite(lo) else "n/a"


def markdown(ev: Evaluation) -> str:
    t = ev.table
    lines = [
        "# Virtual evaluations: the published client studies rerun on the model",
        "",
        f"Scenario `{ev.scenario}` against the baseline, {ev.seeds} seeds, scale "
        f"{ev.scale:g}. Each design sees only the platform run's firm panel, as its evaluator "
        "saw its firms; the **true effect** is the same clients' outcome against their twins in "
        "the baseline run with the same seed, which no real evaluation can observe. "
        "**Bias** is design minus truth: what selection into the platform (and the design's "
        "way of handling it) does to the estimate. Intervals: 90% t over seeds. A published "
        "point without a range is met within a factor of two.",
        "",
    ]
    for study, g in t.groupby("study", sort=False):
        first = g.iloc[0]
        lines += [
            f"## {study}",
            "",
            f"{first['design']}. Source: {first['source']}.",
            "",
        ]
        rows = [
            [
                f"{r['outcome']}",
                f"{r['unit']}",
                published_cell(r),
                f"{_num(r['simulated'], r['unit'])} [{_num(r['simulated_low'], r['unit'])}, "
                f"{_num(r['simulated_high'], r['unit'])}]",
                _num(r["true_effect"], r["unit"]),
                _num(r["bias"], r["unit"]),
                "yes" if r["within"] else "no",
            ]
            for _, r in g.iterrows()
        ]
        header = [
            "outcome",
            "unit",
            "published",
            "simulated [90%]",
            "true effect",
            "bias",
            "within",
        ]
        lines += markdown_table(header, rows, "llrrrrc")
        lines.append("")
    n_in = int(t["within"].sum())
    studies_in = sorted(set(t.loc[t["within"], "study"]))
    lines += [
        "## Summary",
        "",
        f"{n_in} of {len(t)} published figures are met, in {len(studies_in)} of "
        f"{t['study'].nunique()} studies ({', '.join(studies_in) or 'none'}).",
        "",
        "![Simulated against published](evaluations.png)",
        "",
    ]
    misses = t[~t["within"]]
    if len(misses):
        lines += ["**Why the others miss.**", ""]
        for _, r in misses.iterrows():
            why = WHY_MISS.get((r["study"], r["outcome"]))
            if why is None:
                side = "above" if r["simulated"] > r["band_high"] else "below"
                why = (
                    f"the design's estimate lies {side} the published band at the fitted "
                    "service parameters; the fit weighs every study (sim.evaluation.fit)"
                )
            lines.append(f"- {r['study']} {r['outcome']}: {why}.")
        lines.append("")
    a = ev.additionality_summary().set_index("measure")
    erdf = t[t["study"] == "erdf"].iloc[0]
    lines += [
        "## Additionality and deadweight",
        "",
        "| measure | model [90%] | evidence |",
        "|---|--:|---|",
        f"| deadweight: share of the platform's client projects that piloted in the baseline "
        f"too | {_ad(a, 'deadweight_share')} | Dimos and Pugh (2016): no crowding out, no "
        "substantial additionality |",
        f"| launch rate of client projects | {_ad(a, 'launch_rate_clients')} | |",
        f"| launch rate of the same projects in the baseline | {_ad(a, 'launch_rate_twins')} | |",
        f"| counterfactual over monitored jobs (matched design) | "
        f"{_num(erdf['simulated'], 'ratio')} | DG REGIO: about 0.25 (27,000 of 107,000) |",
        f"| counterfactual over monitored jobs (true, twins) | "
        f"{_num(erdf['true_effect'], 'ratio')} | |",
        f"| evaluated client firms per seed | {_ad(a, 'firms_evaluated', 0)} | |",
        "",
        "Monitored jobs are the surviving clients' staff change from the year before their "
        "first platform pilot to three years on, as a monitoring system records them.",
        "",
    ]
    return "\n".join(lines)


def _ad(a: pd.DataFrame, name: str, digits: int = 3) -> str:
    if name not in a.index:
        return "n/a"
    r = a.loc[name]
    return f"{r['mean']:.{digits}f} [{r['low']:.{digits}f}, {r['high']:.{digits}f}]"
