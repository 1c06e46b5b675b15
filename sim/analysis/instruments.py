"""Equal-cost instruments: the platform against the other levers at the same public cost.

A policy maker with the platform's money could spend it otherwise: a Re-industrialisation-
Funding-Scheme-style matching grant (``rfs``), more research funding (``rd_funding``),
InnoHK-style research centres (``innohk``), or re-weight the ITF's existing money
(``itf_rebalance``, budget-neutral). To compare them like for like, each spending
instrument's knob is first set so that its present-value public cost at the nominal future
equals the platform's (:class:`BudgetSearch`, a bracketed search on the knob). Every
instrument then runs over a Latin hypercube of futures (``sim.analysis.space``), paired with
the baseline in each. Per future the best option is the one of highest net benefit to Hong
Kong (NPV), "do nothing" (net benefit 0) included, and each option's regret is the best's
net benefit minus its own (Savage's minimax-regret criterion, as in robust decision making:
Lempert, Popper and Bankes 2003, RAND MR-1626). The table is also given without "do nothing",
for a decision maker who has to spend the money.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sim.analysis.result import AnalysisResult, Folder
from sim.analysis.sizes import InstrumentsSize
from sim.errors import BatchError
from sim.reporting import markdown_frame

NAME = "instruments"

COST = "pv_public_spend_hkd_m"
NET = "npv_net_benefit_hkd_m"
VALUE = "hk_value_added_hkd_m"
DO_NOTHING = "do_nothing"
CHOICES = ("with do nothing", "instruments only")


@dataclass(frozen=True)
class Instrument:
    """A policy lever compared with the platform.

    Attributes:
        name: its label in the tables.
        scenario: the scenario file (``scenarios/<scenario>.yaml``) it starts from.
        knob: the dotted key that sets its public cost; None for a budget-neutral lever.
        zero: the knob value at which it spends nothing (the search's anchor).
        label: a longer label for figures and the report.
    """

    name: str
    scenario: str
    knob: str | None
    zero: float
    label: str


#: The options compared. The zero points: a budget of 0 spends nothing; a research budget
#: multiplier of 1 is the baseline's budget (sim/params.py RDFundingSpec).
INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(
        "platform", "hk_pilot_platform", "platform.public_budget_hkd_m", 0.0, "pilot platform"
    ),
    Instrument("rfs", "rfs_matching_grant", "rfs.annual_budget_hkd_m", 0.0, "RFS-style grant"),
    Instrument("rd_funding", "more_rd_funding", "rd_funding.budget_multiplier", 1.0, "more R&D"),
    Instrument("innohk", "innohk_centres", "innohk.budget_hkd_m_per_year", 0.0, "InnoHK centres"),
    Instrument("itf_rebalance", "itf_rebalance", None, 0.0, "ITF rebalance"),
)
INSTRUMENT_BY_NAME = {i.name: i for i in INSTRUMENTS}

#: Top of a knob's search range: zero + SEARCH_TOP x (the scenario's knob - zero).
#: assumption: each scenario is sized to the platform's undiscounted 2025-2035 spend (see its
#: comments); four times that covers a target moved by the period, discounting and take-up,
#: and beyond it the lever would be a different policy (the platform's own design range also
#: stops at four times its scenario's budget, space.PLATFORM_LEVERS).
SEARCH_TOP = 4.0
#: A knob reaches the target when its mean PV cost is within this share of it.
#: assumption: 2% of the cost moves net benefit by 2% of the cost, well under the seed noise
#: of a paired net benefit at the default sizes (the report states the noise).
COST_TOLERANCE = 0.02
#: Regula falsi steps stay this share of the bracket inside its ends, so that a value is
#: never evaluated twice. assumption: small enough not to move an interpolation on the
#: nearly linear costs of budgets booked in full (InnoHK, research).
BRACKET_GUARD = 0.01
#: Net benefits are compared at this resolution (HKD m): smaller differences are the
#: rounding of sums over runs, not effects (a lever that changes nothing can show 1e-13).
#: assumption: one Hong Kong dollar.
RESOLUTION_DECIMALS = 6


# ------------------------------------------------------------------------- budget search


@dataclass(frozen=True)
class SearchResult:
    """Where a budget search ended.

    Attributes:
        value: the chosen knob value.
        cost: its mean cost.
        target: the cost sought.
        reached: the cost is within the tolerance of the target.
        status: ``reached``, ``unreachable`` (the top of the range costs less than the
            target: its value is used) or ``not converged`` (out of evaluations: the
            evaluated value closest to the target is used).
        evaluations: how many knob values were evaluated.
    """

    value: float
    cost: float
    target: float
    reached: bool
    status: str
    evaluations: int

    @property
    def ratio(self) -> float:
        return self.cost / self.target


@dataclass
class BudgetSearch:
    """Find the knob value whose cost equals ``target``, the cost increasing in the knob.

    The cost at ``zero`` is 0 (the lever spends nothing) and serves as the lower end of the
    bracket without an evaluation. The first value tried is ``start`` (the scenario's own).
    While no value costs more than the target, the next is the secant through the two
    highest values below it (or the top of the range if the cost does not grow there: a
    budget ceiling that does not bind); once bracketed, regula falsi kept inside the
    bracket. The search stops when a cost is within ``tol`` of the target, when the top of
    the range costs less than the target (unreachable), or after ``max_evals`` evaluations.
    Use :meth:`propose` and :meth:`tell` (several searches can then share one batch of
    runs), or :func:`search_knob` with a cost function.
    """

    target: float
    start: float
    zero: float
    top: float
    max_evals: int
    tol: float = COST_TOLERANCE
    points: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not math.isfinite(self.target) or self.target <= 0:
            raise BatchError(f"budget search: the target cost must be > 0, got {self.target}")
        if self.max_evals < 1:
            raise BatchError(f"--cost-iterations must be >= 1, got {self.max_evals}")
        if not self.zero < self.start <= self.top:
            raise BatchError(
                f"budget search: need zero < start <= top, got {self.zero}, {self.start}, "
                f"{self.top}"
            )

    def _hit(self, cost: float) -> bool:
        return abs(cost - self.target) <= self.tol * self.target

    def _unreachable(self) -> bool:
        top = [c for x, c in self.points if x >= self.top - 1e-12 * abs(self.top)]
        return bool(top) and max(top) < self.target and not self._hit(max(top))

    def done(self) -> bool:
        return (
            len(self.points) >= self.max_evals
            or any(self._hit(c) for _, c in self.points)
            or self._unreachable()
        )

    def tell(self, value: float, cost: float) -> None:
        if not math.isfinite(cost):
            raise BatchError(f"budget search: the cost at {value} is not a number ({cost})")
        self.points.append((float(value), float(cost)))

    def propose(self) -> float:
        """The next knob value to evaluate."""
        if not self.points:
            return self.start
        pts = [(self.zero, 0.0), *self.points]
        above = [p for p in pts if p[1] > self.target]
        if above:
            hi = min(above)
            below = [p for p in pts if p[1] <= self.target and p[0] < hi[0]]
            lo = max(below)
            w = hi[0] - lo[0]
            x = lo[0] + (self.target - lo[1]) * w / (hi[1] - lo[1])
            return min(max(x, lo[0] + BRACKET_GUARD * w), hi[0] - BRACKET_GUARD * w)
        below = sorted(pts)
        (x2, c2), (x1, c1) = below[-2], below[-1]
        slope = (c1 - c2) / (x1 - x2) if x1 > x2 else 0.0
        if slope <= 0:
            return self.top
        return min(self.top, x1 + (self.target - c1) / slope)

    def result(self) -> SearchResult:
        if not self.points:
            raise BatchError("budget search: nothing evaluated yet")
        n = len(self.points)
        best = min(self.points, key=lambda p: abs(p[1] - self.target))
        if self._hit(best[1]):
            return SearchResult(best[0], best[1], self.target, True, "reached", n)
        if self._unreachable():
            x, c = max(self.points)
            return SearchResult(x, c, self.target, False, "unreachable", n)
        return SearchResult(best[0], best[1], self.target, False, "not converged", n)


def search_knob(
    cost: Callable[[float], float],
    target: float,
    start: float,
    zero: float,
    top: float,
    max_evals: int,
    tol: float = COST_TOLERANCE,
) -> SearchResult:
    """Run a :class:`BudgetSearch` on a cost function (one evaluation at a time)."""
    s = BudgetSearch(target, start, zero, top, max_evals, tol)
    while not s.done():
        x = s.propose()
        s.tell(x, cost(x))
    return s.result()


# ---------------------------------------------------------------------------- regret


def regret_by_future(effects: pd.DataFrame, do_nothing: bool = True) -> pd.DataFrame:
    """Per future and option: net benefit, whether it is best, and its regret.

    Args:
        effects: one row per (policy, future) with ``policy``, ``future`` and the net
            benefit (``npv_net_benefit_hkd_m``); every policy must have every future.
        do_nothing: add the option of doing nothing (net benefit 0 in every future).

    Returns:
        Rows ``future``, ``option``, ``net_benefit`` (rounded to ``RESOLUTION_DECIMALS``),
        ``best`` (the best net benefit of the
        future), ``regret`` (best minus own, >= 0, exactly 0 for the best), ``best_share``
        (1 for the best option, 1/k for each of k tied best, else 0).
    """
    nb = effects.pivot(index="future", columns="policy", values=NET)
    nb = nb[list(dict.fromkeys(effects["policy"]))]
    if nb.isna().any().any():
        bad = nb.stack(future_stack=True)
        first = bad[bad.isna()].index[0]
        raise BatchError(
            f"net benefit missing or not a number for {first[1]!r} in future {first[0]}"
        )
    nb = nb.round(RESOLUTION_DECIMALS)
    if do_nothing:
        nb[DO_NOTHING] = 0.0
    best = nb.max(axis=1)
    is_best = nb.eq(best, axis=0)
    share = is_best.div(is_best.sum(axis=1), axis=0)
    regret = nb.rsub(best, axis=0)
    out = pd.DataFrame(
        {
            "net_benefit": nb.stack(),
            "best": pd.DataFrame({c: best for c in nb.columns}).stack(),
            "regret": regret.stack(),
            "best_share": share.stack(),
        }
    )
    out.index.names = ["future", "option"]
    return out.reset_index()


def regret_table(effects: pd.DataFrame, do_nothing: bool = True) -> pd.DataFrame:
    """One row per option: the distribution of its net benefit over futures, how often it
    is best (with the binomial standard error) and its regret (mean and maximum).

    ``effects`` as in :func:`regret_by_future`; the mean HK value added and public cost
    effects are added when ``effects`` has them (0 for doing nothing).
    """
    long = regret_by_future(effects, do_nothing)
    n = long["future"].nunique()
    rows = []
    for option, g in long.groupby("option", sort=False):
        x = g["net_benefit"].to_numpy(float)
        p = float(g["best_share"].sum() / n)
        sub = effects[effects["policy"] == option]
        row = {
            "option": option,
            "futures": n,
            "mean_net_benefit": float(x.mean()),
            "se_mean_net_benefit": float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
            "p05_net_benefit": float(np.quantile(x, 0.05)),
            "p50_net_benefit": float(np.quantile(x, 0.50)),
            "p95_net_benefit": float(np.quantile(x, 0.95)),
            "p_positive": float((x > 0).mean()),
            "share_best": p,
            "se_share_best": math.sqrt(p * (1 - p) / n),
            "mean_regret": float(g["regret"].mean()),
            "max_regret": float(g["regret"].max()),
        }
        for col, name in ((VALUE, "mean_hk_value_added"), (COST, "mean_pv_public_cost")):
            if col in effects.columns:
                row[name] = 0.0 if option == DO_NOTHING else float(sub[col].mean())
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- run


def _scenarios(settings: Any) -> tuple[Any, dict[str, Any]]:
    from sim.analysis.experiment import prepare
    from sim.scenario import load_scenario

    base = prepare(load_scenario("baseline"), settings)
    return base, {i.name: prepare(load_scenario(i.scenario), settings) for i in INSTRUMENTS}


def _knob_value(spec: Any, key: str) -> float:
    group, _, name = key.partition(".")
    return float(getattr(getattr(spec, group), name))


def equal_cost(
    lab: Any, base: Any, specs: Mapping[str, Any], size: Any
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Set every spending instrument's knob to the platform's PV cost at the nominal future.

    Returns the scenarios at their equal-cost knobs (the platform and the budget-neutral
    ITF rebalance as they are), the ``equal_cost`` table and every evaluation of the search.
    """
    from sim.analysis.experiment import paired_batch
    from sim.scenario import with_overrides

    seeds = lab.settings.seeds(size.cost_seeds)

    def evaluate(policies: Mapping[str, Any]) -> pd.DataFrame:
        b = paired_batch(base, policies, [{}], seeds, kind="instruments-cost")
        lab.run(b)
        return lab.effects(b, size.cost_seeds).set_index("policy")

    first = evaluate(specs)
    target = float(first.loc["platform", COST])
    if not target > 0:
        raise BatchError(
            f"the platform's PV public cost at the nominal future is {target}: nothing to "
            "match; check the period (--period) covers the platform's years"
        )
    searches: dict[str, BudgetSearch] = {}
    log: list[dict[str, Any]] = []

    def record(name: str, value: float, row: pd.Series) -> None:
        log.append(
            {
                "instrument": name,
                "evaluation": len([r for r in log if r["instrument"] == name]) + 1,
                "knob": INSTRUMENT_BY_NAME[name].knob,
                "value": value,
                "pv_cost": float(row[COST]),
                "ratio": float(row[COST]) / target,
                "net_benefit": float(row[NET]),
                "sd_net_benefit": float(row.get(f"sd:{NET}", math.nan)),
            }
        )

    for inst in INSTRUMENTS:
        start = _knob_value(specs[inst.name], inst.knob) if inst.knob else math.nan
        record(inst.name, start, first.loc[inst.name])
        if inst.name == "platform" or inst.knob is None:
            continue
        s = BudgetSearch(
            target,
            start,
            inst.zero,
            inst.zero + SEARCH_TOP * (start - inst.zero),
            size.cost_iterations,
        )
        s.tell(start, float(first.loc[inst.name, COST]))
        searches[inst.name] = s
    while True:
        active = {n: s for n, s in searches.items() if not s.done()}
        if not active:
            break
        tried = {n: s.propose() for n, s in active.items()}
        knob = {n: str(INSTRUMENT_BY_NAME[n].knob) for n in tried}
        labels = {f"{n}={x:.6g}": n for n, x in tried.items()}
        e = evaluate(
            {lab_: with_overrides(specs[n], {knob[n]: tried[n]}) for lab_, n in labels.items()}
        )
        for lab_, n in labels.items():
            active[n].tell(tried[n], float(e.loc[lab_, COST]))
            record(n, tried[n], e.loc[lab_])
    chosen: dict[str, Any] = {}
    rows = []
    for inst in INSTRUMENTS:
        spec = specs[inst.name]
        if inst.name in searches:
            r = searches[inst.name].result()
            assert inst.knob is not None
            chosen[inst.name] = with_overrides(spec, {inst.knob: r.value})
            row = {**asdict(r), "ratio": r.ratio, "budget_neutral": False}
        else:
            chosen[inst.name] = spec
            cost = float(first.loc[inst.name, COST])
            neutral = inst.knob is None
            row = {
                "value": _knob_value(spec, inst.knob) if inst.knob else math.nan,
                "cost": cost,
                "target": target,
                "reached": not neutral,
                "status": "budget neutral" if neutral else "target",
                "evaluations": 1,
                "ratio": cost / target,
                "budget_neutral": neutral,
            }
        rows.append(
            {
                "instrument": inst.name,
                "knob": inst.knob or "(none: re-weights existing ITF money)",
                "value": row["value"],
                "pv_cost": row["cost"],
                "target": target,
                "ratio": row["ratio"],
                "reached": row["reached"],
                "status": row["status"],
                "budget_neutral": row["budget_neutral"],
                "evaluations": row["evaluations"],
            }
        )
    return chosen, pd.DataFrame(rows), pd.DataFrame(log)


@dataclass(frozen=True, eq=False, kw_only=True)
class InstrumentsResult(AnalysisResult):
    """The equal-cost instruments analysis: its tables, findings and the runs behind them.

    Attributes:
        cost_table: each instrument's equal-cost knob value and cost (``equal_cost.csv``).
        search_log: every evaluation of the budget search (``equal_cost_search.csv``).
        futures: each future's uncertainty values, indexed by ``future`` (``futures.csv``).
        effects: paired effects per instrument and future (``effects.csv``).
        discount_rate: the baseline's social discount rate; uncertainties: their number.
        runs_cost_search: runs of the budget search; runs_futures: runs over the futures.
        size, settings, count, wall_seconds, code_commit: see
            :class:`~sim.analysis.result.AnalysisResult`.
    """

    NAME: ClassVar[str] = NAME
    SIZE: ClassVar[type] = InstrumentsSize
    NAMES: ClassVar[tuple[str, ...]] = (
        "equal_cost.csv",
        "equal_cost_search.csv",
        "futures.csv",
        "effects.csv",
        "regret.csv",
        "regret_by_future.csv",
        "instruments.png",
        "regret.png",
        "report.md",
    )

    cost_table: pd.DataFrame
    search_log: pd.DataFrame
    futures: pd.DataFrame
    effects: pd.DataFrame
    discount_rate: float
    uncertainties: int
    runs_cost_search: int
    runs_futures: int

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The regret table (:func:`regret_table`) of each choice in ``CHOICES``."""
        return {c: regret_table(self.effects, do_nothing=c == CHOICES[0]) for c in CHOICES}

    @cached_property
    def by_future(self) -> dict[str, pd.DataFrame]:
        """The regret by future (:func:`regret_by_future`) of each choice."""
        return {c: regret_by_future(self.effects, do_nothing=c == CHOICES[0]) for c in CHOICES}

    @property
    def regret(self) -> pd.DataFrame:
        """The regret tables of both choices, one below the other (``regret.csv``)."""
        return _by_choice(self.tables)

    @property
    def regret_by_choice_and_future(self) -> pd.DataFrame:
        """The regret by future of both choices (``regret_by_future.csv``)."""
        return _by_choice(self.by_future)

    @property
    def findings(self) -> dict[str, Any]:
        """The target cost, the equal-cost knobs and each choice's best options."""
        return _summary(self.cost_table, self.tables)

    def facts(self) -> dict[str, Any]:
        return {
            "runs_cost_search": self.runs_cost_search,
            "runs_futures": self.runs_futures,
            "discount_rate": self.discount_rate,
            "uncertainties": self.uncertainties,
        }

    def figure(self) -> Any:
        """Net benefit of each instrument over the futures (``instruments.png``)."""
        return _net_benefit_figure(self.effects)

    def regret_figure(self) -> Any:
        """Share of futures where best and maximum regret per option (``regret.png``)."""
        return _regret_figure(self.tables)

    def report(self) -> str:
        """The Markdown section (``report.md``)."""
        return _report(self)

    def writers(self) -> dict[str, Callable[[Path], Any]]:
        from sim.reporting import save_figure

        def csv(frame: pd.DataFrame, index: bool = False) -> Callable[[Path], None]:
            return lambda p: frame.to_csv(p, index=index)

        return {
            "equal_cost.csv": csv(self.cost_table),
            "equal_cost_search.csv": csv(self.search_log),
            "futures.csv": csv(self.futures, index=True),
            "effects.csv": csv(self.effects),
            "regret.csv": csv(self.regret),
            "regret_by_future.csv": csv(self.regret_by_choice_and_future),
            "instruments.png": lambda p: save_figure(self.figure(), p),
            "regret.png": lambda p: save_figure(self.regret_figure(), p),
            "report.md": self.write_report,
        }

    @classmethod
    def fields_from(cls, files: Folder) -> dict[str, Any]:
        return {
            "cost_table": files.table(
                "equal_cost.csv", ["instrument", "knob", "value", "pv_cost", "target", "ratio"]
            ),
            "search_log": files.table("equal_cost_search.csv", ["instrument", "sd_net_benefit"]),
            "futures": files.table("futures.csv", index="future"),
            "effects": files.table("effects.csv", ["future", "policy", NET]),
            "discount_rate": float(files.get("discount_rate")),
            "uncertainties": int(files.get("uncertainties")),
            "runs_cost_search": int(files.get("runs_cost_search")),
            "runs_futures": int(files.get("runs_futures")),
        }


def _by_choice(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    both = pd.concat([t.assign(choice=c) for c, t in tables.items()], ignore_index=True)
    return both[["choice", *[c for c in both.columns if c != "choice"]]]


def run(out: Path, size: Any, settings: Any, options: Any) -> InstrumentsResult:
    """Equal-cost instruments over sampled futures (see the module docstring), in the store
    in ``out``; the result is written there (:meth:`InstrumentsResult.write`) and returned."""
    from sim.analysis import experiment
    from sim.analysis.space import load_space
    from sim.experiments.workflows import discount_rate_of

    t0 = time.perf_counter()
    out = Path(out)
    base, specs = _scenarios(settings)
    with experiment.open_lab(out, [NAME], settings, **options.lab()) as lab:
        chosen, cost_table, search_log = equal_cost(lab, base, specs, size)
        cost_runs = lab.runs_done + lab.runs_skipped
        space = load_space(base)
        points = space.latin_hypercube(size.futures, settings.root_seed)
        futures = [space.overrides(p) for p in points.to_dict("records")]
        batch = experiment.paired_batch(
            base, chosen, futures, settings.seeds(size.seeds), kind="instruments"
        )
        lab.run(batch)
        result = InstrumentsResult(
            cost_table=cost_table,
            search_log=search_log,
            futures=points.rename_axis("future"),
            effects=lab.effects(batch, size.seeds),
            size=size,
            settings=settings,
            discount_rate=discount_rate_of(base),
            uncertainties=len(space.keys),
            runs_cost_search=cost_runs,
            runs_futures=len(batch.runs()),
            count=lab.count(),
            wall_seconds=experiment.elapsed(t0),
            code_commit=lab.provenance.get("code_commit"),
        )
        result.write(out)
        experiment.finish(out, lab, NAME, result.record())
    return result


def _summary(cost_table: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "target_pv_cost_hkd_m": round(float(cost_table["target"].iloc[0]), 1),
        "equal_cost": {
            r.instrument: {
                "value": None if math.isnan(r.value) else round(float(r.value), 6),
                "cost_ratio": round(float(r.ratio), 3),
                "status": r.status,
            }
            for r in cost_table.itertuples()
        },
    }

    def top(t: pd.DataFrame, col: str, sign: float) -> list[str]:
        v = (sign * t[col]).round(RESOLUTION_DECIMALS)
        return [str(o) for o in t.loc[v == v.max(), "option"]]

    for choice, t in tables.items():
        out[choice.replace(" ", "_")] = {
            "best_mean_net_benefit": top(t, "mean_net_benefit", 1.0),
            "most_often_best": top(t, "share_best", 1.0),
            "minimax_regret": top(t, "max_regret", -1.0),
        }
    return out


# ------------------------------------------------------------------------ figures, report


def _label(option: str | list[str]) -> str:
    """An option's label (or tied options')."""
    if isinstance(option, list):
        return ", ".join(_label(o) for o in option) + (" (tied)" if len(option) > 1 else "")
    return "do nothing" if option == DO_NOTHING else INSTRUMENT_BY_NAME[option].label


#: Seed of the figure's horizontal jitter (a fixed seed: the same figure for the same results).
JITTER_SEED = 0


def _net_benefit_figure(effects: pd.DataFrame) -> Any:
    from sim.reporting import pyplot

    plt = pyplot()  # the house style, whichever analysis drew before in this process
    names = list(dict.fromkeys(effects["policy"]))
    data = [effects.loc[effects["policy"] == n, NET].to_numpy(float) for n in names]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.boxplot(data, whis=(5, 95), showfliers=False)
    rng = np.random.default_rng(JITTER_SEED)  # jitter of the points only (no effect on results)
    for i, d in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=10, alpha=0.5, color="C0")
    ax.axhline(0.0, color="black", lw=0.8, ls="--", label="do nothing")
    ax.set_xticks(range(1, len(names) + 1), [_label(n) for n in names])
    ax.set_ylabel("net benefit to HK, NPV (HKD m)")
    ax.set_xlabel("box: quartiles and median over futures; whiskers: 5% and 95%; dots: futures")
    ax.set_title(f"Net benefit at equal public cost over {effects['future'].nunique()} futures")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _regret_figure(tables: Mapping[str, pd.DataFrame]) -> Any:
    from sim.reporting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    options = list(tables[CHOICES[0]]["option"])
    width = 0.38
    for k, (choice, t) in enumerate(tables.items()):
        t = t.set_index("option").reindex(options)
        xs = np.arange(len(options)) + (k - 0.5) * width
        axes[0].bar(xs, t["share_best"], width, yerr=t["se_share_best"], capsize=3, label=choice)
        axes[1].bar(xs, t["max_regret"], width, label=choice)
    for ax, title in zip(
        axes, ("share of futures where best (+/- se)", "maximum regret"), strict=True
    ):
        ax.set_xticks(
            np.arange(len(options)), [_label(o) for o in options], rotation=30, ha="right"
        )
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[1].set_ylabel("HKD m, NPV")
    fig.tight_layout()
    return fig


def _cell(v: Any) -> str:
    """A value of a Markdown table: yes/no, ``-`` for NaN, 3 decimals below 10."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if math.isnan(x):
            return "-"
        return f"{x:,.3f}" if abs(x) < 10 else f"{x:,.0f}"
    return str(v)


def _report(r: InstrumentsResult) -> str:
    size, settings, lab = r.size, r.settings, r.count
    cost_table, search_log, tables, findings = r.cost_table, r.search_log, r.tables, r.findings
    target = float(cost_table["target"].iloc[0])
    lo, hi = settings.period
    ct = cost_table.assign(ratio=cost_table["ratio"].map(lambda r: f"{r:.3f}"))
    ct = ct[["instrument", "knob", "value", "pv_cost", "ratio", "status", "evaluations"]]
    shown = {
        "option": "option",
        "mean_net_benefit": "mean NB",
        "se_mean_net_benefit": "se NB",
        "p05_net_benefit": "NB 5%",
        "p50_net_benefit": "NB 50%",
        "p95_net_benefit": "NB 95%",
        "p_positive": "P(NB>0)",
        "share_best": "share best",
        "se_share_best": "se share",
        "mean_regret": "mean regret",
        "max_regret": "max regret",
        "mean_hk_value_added": "HK VA",
        "mean_pv_public_cost": "PV cost",
    }
    noise = search_log.groupby("instrument", sort=False)["sd_net_benefit"].first()
    lines = [
        "## Equal-cost instruments",
        "",
        "The pilot platform against the other levers at the same discounted public cost, over "
        "sampled futures. Effects are paired (policy minus baseline, same future and seeds), "
        f"over {lo}-{hi}, present values discounted at {r.discount_rate:.1%} "
        f"(the baseline's social discount rate) to {lo}; money in HKD m (full economy).",
        "",
        "**Method.** (1) Target: the platform's mean PV public cost effect "
        f"(`{COST}`) at the nominal future, mean over {size.cost_seeds} seed(s). (2) For each "
        "spending instrument, a bracketed search on its knob (secant, then regula falsi; "
        f"cost 0 at the knob's zero point; range up to {SEARCH_TOP:g} x the scenario's "
        f"setting above that point; at most {size.cost_iterations} evaluations of "
        f"{size.cost_seeds} paired seed(s) each) sets its mean PV cost at the nominal future "
        f"within {COST_TOLERANCE:.0%} of the target. An instrument whose top of the range costs "
        "less (a budget ceiling that does not bind) runs at that top and is flagged "
        "`unreachable`; the ITF rebalance re-weights existing money and is `budget neutral`. "
        f"(3) {size.futures} futures (Latin hypercube over the {r.uncertainties} "
        f"uncertainties of `sim.analysis.space`, seed {settings.root_seed}; the platform's own "
        f"parameters change only the platform) x {size.seeds} seed(s), every option in every "
        "future. (4) Per future, the best option has the highest net benefit to HK "
        f"(`{NET}`); an option's regret is the best's net benefit minus its own. "
        '"Do nothing" has net benefit 0; the second table leaves it out (the money has to be '
        "spent).",
        "",
        f"### Equal cost (target: PV public cost {target:,.0f} HKD m)",
        "",
        *markdown_frame(ct, _cell),
        "",
        "ratio: the instrument's PV cost over the target at the nominal future. Every "
        "evaluation of the search is in `equal_cost_search.csv`. In other futures costs "
        "differ (take-up differs): see the PV cost column below.",
        "",
    ]
    for choice, t in tables.items():
        view = t[[c for c in shown if c in t.columns]].rename(columns=shown)
        view = view.assign(option=view["option"].map(_label))
        for col in ("P(NB>0)", "share best", "se share"):
            view[col] = view[col].map(lambda v: f"{v:.2f}")
        pick = findings[choice.replace(" ", "_")]
        lines += [
            f"### Regret, {choice}",
            "",
            *markdown_frame(view, _cell),
            "",
            f"Best mean net benefit: {_label(pick['best_mean_net_benefit'])}; most often "
            f"best: {_label(pick['most_often_best'])}; minimax regret: "
            f"{_label(pick['minimax_regret'])}.",
            "",
        ]
    noise_txt = (
        ", ".join(f"{_label(n)} {v:,.0f}" for n, v in noise.items() if math.isfinite(v))
        if size.cost_seeds > 1
        else ""
    )
    lines += [
        "NB: net benefit to HK (NPV, HKD m); 5%/50%/95%: quantiles over futures; share best: "
        "share of futures where the option is best (ties shared); HK VA: mean HK value added "
        "effect (undiscounted sum over the period); PV cost: mean PV public cost effect.",
        "",
        "![net benefit per instrument](instruments.png)",
        "",
        "![share best and maximum regret](regret.png)",
        "",
        "**Precision.** `se` of the mean net benefit: its standard deviation over futures / "
        f"sqrt({size.futures}); `se` of the share best: binomial, sqrt(p(1-p)/{size.futures}). "
        + (
            f"Seed noise (sd over {size.cost_seeds} seeds of one run's paired net benefit at "
            f"the nominal future, scenario settings): {noise_txt}. "
            if noise_txt
            else "Seed noise was not estimated (one seed in the cost search). "
        )
        + f"With {size.seeds} seed(s) per future each future's net benefit carries that noise, "
        "so close shares best and regrets are within noise.",
        "",
        f"**Sizes.** futures {size.futures}, seeds {size.seeds}, cost seeds {size.cost_seeds}, "
        f"cost iterations {size.cost_iterations}; scale {settings.scale}, until "
        f"{settings.until}, root seed {settings.root_seed}.",
        "",
        f"**Runs.** {r.runs_cost_search} in the budget search, {r.runs_futures} "
        f"over the futures ({lab.done} run now, {lab.skipped} reused from the store, "
        f"{lab.failed} failed); wall time {r.wall_seconds:.0f} s "
        f"({lab.seconds:.0f} s in runs).",
        "",
        "Files: `equal_cost.csv`, `equal_cost_search.csv`, `futures.csv` (each future's "
        "parameters), `effects.csv` (paired effects per instrument and future), `regret.csv`, "
        "`regret_by_future.csv`.",
        "",
    ]
    return "\n".join(lines)
