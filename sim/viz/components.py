"""Solara components of the dashboard: live charts and a status panel.

Each chart is a matplotlib figure redrawn after every step (Mesa's ``update_counter``).
Solid lines are the run with the chosen levers; dashed grey lines are the baseline run
with the same seed (common random numbers), when the run differs from the baseline.
Every chart sits in a container with a CSS class ``pilotsim-<name>`` (the browser test
finds them by it).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import pandas as pd
import solara
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mesa.visualization.utils import force_update, update_counter

from sim.viz.model import DashboardModel

FIGSIZE = (5.6, 3.7)  # inches: fills one cell of SolaraViz's default grid
DPI = 80
PLACE_COLUMNS = {
    "hk_value_added_hkd_m": ("Hong Kong", "tab:red"),
    "prd_value_added_hkd_m": ("PRD", "tab:blue"),
    "elsewhere_value_added_hkd_m": ("elsewhere", "tab:gray"),
}
STAGE_COLUMNS = {
    "projects_in_research": ("0-1 research", "#9ecae1"),
    "projects_in_pilot": ("1-10 pilot", "#3182bd"),
    "projects_queued": ("queued for platform", "#fd8d3c"),
    "projects_in_industrialisation": ("10-100 industrialisation", "#31a354"),
    "projects_in_production": ("in market", "#756bb1"),
}
ROUTE_COLUMNS = {
    "projects_north": ("pilot moved north", "tab:blue"),
    "projects_piloted_hk": ("piloted in HK", "tab:red"),
    "projects_licensed": ("licensed", "tab:olive"),
    "projects_spun_off": ("spun off", "tab:purple"),
    "projects_partnered": ("partnered locally", "tab:brown"),
    "projects_shelved": ("shelved", "tab:gray"),
}
ANNUAL = 4  # quarters per year: quarterly flows x 4 = annual rate


def _figure(title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax: Axes = fig.subplots()
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    ax.set_xlim(2015, 2036)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    return fig, ax


def _platform_marker(ax: Axes, model: DashboardModel) -> None:
    p = model.spec.platform
    if p.enabled:
        ax.axvline(p.start_year, color="k", ls=":", lw=1)


def _show(model: DashboardModel, draw: Callable[[DashboardModel], Figure], name: str) -> None:
    """Draw a chart once per model state (not on every re-render of the page)."""
    deps = [id(model), model.t, model.seed, *model.levers.values()]
    fig = solara.use_memo(lambda: draw(model), deps)
    with solara.Column(classes=[f"pilotsim-{name}"], style={"width": "100%"}):
        solara.FigureMatplotlib(fig, dependencies=deps, format="png")


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "press Step or ▶", ha="center", va="center", transform=ax.transAxes)


def value_by_place_figure(model: DashboardModel) -> Figure:
    """Value added from HK research by place, HKD bn a year (quarterly rate)."""
    fig, ax = _figure("value added from HK research by place (HKD bn a year)")
    df = model.frame()
    if df.empty:
        _empty(ax)
        return fig
    ys = [df[c] * ANNUAL / 1000 for c in PLACE_COLUMNS]
    labels = [v[0] for v in PLACE_COLUMNS.values()]
    colors = [v[1] for v in PLACE_COLUMNS.values()]
    ax.stackplot(df["time"], *ys, labels=labels, colors=colors, alpha=0.75)
    ref = model.frame("reference")
    if not ref.empty:
        ax.plot(
            ref["time"],
            ref["hk_value_added_hkd_m"] * ANNUAL / 1000,
            "k--",
            lw=1.2,
            label="Hong Kong, baseline",
        )
    _platform_marker(ax, model)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=7)
    return fig


def _rolling_share(df: pd.DataFrame) -> pd.Series:
    hk = df["hk_value_added_hkd_m"].rolling(ANNUAL, min_periods=1).sum()
    total = df["total_value_added_hkd_m"].rolling(ANNUAL, min_periods=1).sum()
    return (hk / total.where(total > 0)).fillna(0.0)


def retention_figure(model: DashboardModel) -> Figure:
    """Local retention share over the last four quarters."""
    fig, ax = _figure("local retention share (HK / all, last 4 quarters)")
    df = model.frame()
    ax.set_ylim(0, 1)
    if df.empty:
        _empty(ax)
        return fig
    ax.plot(df["time"], _rolling_share(df), color="tab:red", lw=2, label="this run")
    ref = model.frame("reference")
    if not ref.empty:
        ax.plot(ref["time"], _rolling_share(ref), "k--", lw=1.2, label="baseline")
    _platform_marker(ax, model)
    ax.legend(loc="upper right", fontsize=7)
    return fig


def stage_figure(model: DashboardModel) -> Figure:
    """Projects by stage (stocks at each quarter's end)."""
    fig, ax = _figure("projects by stage")
    df = model.frame()
    if df.empty:
        _empty(ax)
        return fig
    # projects_in_pilot counts active pilots only; queued ones are stacked separately
    ax.stackplot(
        df["time"],
        *(df[c] for c in STAGE_COLUMNS),
        labels=[v[0] for v in STAGE_COLUMNS.values()],
        colors=[v[1] for v in STAGE_COLUMNS.values()],
        alpha=0.85,
    )
    _platform_marker(ax, model)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=7)
    return fig


def route_figure(model: DashboardModel) -> Figure:
    """Projects by route, cumulative since 2015."""
    fig, ax = _figure("projects by route (cumulative since 2015)")
    df = model.frame()
    if df.empty:
        _empty(ax)
        return fig
    ref = model.frame("reference")
    for col, (label, color) in ROUTE_COLUMNS.items():
        ax.plot(df["time"], np.cumsum(df[col]), color=color, lw=1.8, label=label)
        if not ref.empty and col in ("projects_north", "projects_piloted_hk"):
            ax.plot(ref["time"], np.cumsum(ref[col]), color=color, ls="--", lw=1)
    _platform_marker(ax, model)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    return fig


def firms_figure(model: DashboardModel) -> Figure:
    """Startups alive and local manufacturing establishments."""
    fig, ax = _figure("startups and local manufacturers")
    df = model.frame()
    if df.empty:
        _empty(ax)
        return fig
    ax.plot(df["time"], df["startups"], color="tab:purple", lw=2, label="startups")
    ax.plot(
        df["time"],
        df["manufacturing_establishments"],
        color="tab:brown",
        lw=2,
        label="manufacturing establishments",
    )
    ref = model.frame("reference")
    if not ref.empty:
        ax.plot(ref["time"], ref["startups"], color="tab:purple", ls="--", lw=1)
        ax.plot(ref["time"], ref["manufacturing_establishments"], color="tab:brown", ls="--", lw=1)
    _platform_marker(ax, model)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", fontsize=7)
    return fig


@solara.component
def ValueByPlace(model: DashboardModel):
    update_counter.get()
    _show(model, value_by_place_figure, "value-by-place")


@solara.component
def RetentionShare(model: DashboardModel):
    update_counter.get()
    _show(model, retention_figure, "retention-share")


@solara.component
def ProjectsByStage(model: DashboardModel):
    update_counter.get()
    _show(model, stage_figure, "projects-by-stage")


@solara.component
def ProjectsByRoute(model: DashboardModel):
    update_counter.get()
    _show(model, route_figure, "projects-by-route")


@solara.component
def Firms(model: DashboardModel):
    update_counter.get()
    _show(model, firms_figure, "firms")


def status_lines(model: DashboardModel) -> list[tuple[str, str]]:
    """What the status panel says, as (heading, text): levers, time, totals so far."""
    lv = model.levers
    p = model.spec.platform
    when = model.label if model.running else f"end of {model.spec.run.end_year}"
    platform = (
        f"on from {p.start_year}: HKD {p.public_budget_hkd_m:,.0f} m a year, "
        f"fee subsidy {p.fee_subsidy_share:.0%}, matching {'on' if p.matching else 'off'}"
        if p.enabled
        else "off"
    )
    lines = [
        ("Scenario", f"{lv['scenario_name']} at scale {lv['scale']:g}, seed {model.seed}"),
        ("Platform", platform),
        ("Now", f"{when} ({model.t} quarters simulated)"),
    ]
    df = model.frame()
    if not df.empty:
        ref = model.frame("reference")
        for col, label in (
            ("hk_value_added_hkd_m", "HK value added so far (HKD m)"),
            ("projects_north", "Projects moved north so far"),
            ("projects_piloted_hk", "Pilots in Hong Kong so far"),
        ):
            text = f"{df[col].sum():,.0f}"
            if not ref.empty:
                text += f" (baseline {ref[col].sum():,.0f})"
            lines.append((label, text))
        if model.platform.is_open:
            lines.append(
                (
                    "Platform now",
                    f"{model.platform.capacity} slots at this scale, utilisation "
                    f"{df['platform_utilisation'].iloc[-1]:.0%}, "
                    f"queue {model.platform.queue_length()}",
                )
            )
    return lines


@solara.component
def StatusPanel(model: DashboardModel):
    """The run's levers and totals, and a button that runs to the end of the horizon."""
    update_counter.get()

    def run_to_end() -> None:
        model.run_to_end()
        force_update()

    rows = "".join(
        f"<div><b>{html.escape(k)}</b>: {html.escape(v)}</div>" for k, v in status_lines(model)
    )
    with solara.Column(classes=["pilotsim-status"], style={"padding": "8px"}):
        solara.HTML(tag="div", unsafe_innerHTML=rows, classes=["pilotsim-status-text"])
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                "<i>Set the levers in the sidebar, then press <b>Reset</b> to rebuild the "
                "model with them. Dashed lines: the baseline with the same seed.</i>"
            ),
        )
        solara.Button(
            f"Run to {model.spec.run.end_year}",
            color="primary",
            on_click=run_to_end,
            disabled=not model.running,
            classes=["pilotsim-run-to-end"],
        )


COMPONENTS = [StatusPanel, ValueByPlace, RetentionShare, ProjectsByRoute, ProjectsByStage, Firms]
