"""A design frontier: the platform's design levers searched for HK net benefit, public cost
and retention.

The levers (``space.PLATFORM_LEVERS``: the public budget, the slot cost, the fee subsidy, the
engineering, matching and follow-up services, the sectors served) are decision variables in
``[0, 1]^7``; a design is the platform scenario with their overrides. NSGA-II (Deb, Pratap,
Agarwal and Meyarivan 2002, IEEE TEC 6(2); pymoo 0.6) minimises three objectives of the
design's paired effects (design minus baseline, same future and seeds): minus the net benefit
to Hong Kong (NPV), the public cost (PV), and minus the local retention share.

Two searches run: *nominal*, each design at the nominal future over the same seeds as the
baseline (common random numbers); *robust*, each design over a Latin hypercube of futures
(one seed per future, the same futures for every design), its objectives the means over
futures and its 10th percentile of net benefit recorded. The robust futures leave the
levers alone: the slot cost, an uncertainty elsewhere, is a design choice here.

Each generation is one paired batch through the lab (identical designs run once), and the
optimiser is seeded from the root seed, so a rerun replays every generation from the stored
runs. The default ``hk_pilot_platform`` design is evaluated in both searches as a reference.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sim.analysis.result import AnalysisResult, Folder
from sim.analysis.sizes import DesignSize
from sim.analysis.space import PLATFORM_LEVERS, SECTOR_GROUPS, Lever, design_overrides
from sim.errors import BatchError
from sim.reporting import markdown_frame

NAME = "design"

NET = "npv_net_benefit_hkd_m"
COST = "pv_public_spend_hkd_m"
RETENTION = "local_retention_share"
VALUE = "hk_value_added_hkd_m"

#: The objectives as (measure, column in the tables, sign): pymoo minimises sign x mean effect.
OBJECTIVES: tuple[tuple[str, str, float], ...] = (
    (NET, "net_benefit", -1.0),
    (COST, "public_cost", 1.0),
    (RETENTION, "retention", -1.0),
)
SEARCHES = ("nominal", "robust")

#: Decision variable of a switch that is on / off: the centre of its half of [0, 1]
#: (``space.SWITCH_ON`` = 0.5 splits it).
SWITCH_X = {True: 0.75, False: 0.25}
#: Quantile of net benefit over futures reported for each robust design (its bad futures).
#: assumption: the 10th percentile, a downside that a handful of futures can estimate.
ROBUST_QUANTILE = 0.10
#: Seeds of the seed-noise estimate when the nominal search runs one seed per design.
#: assumption: three seeds give a rough sd (two degrees of freedom) for four extra runs.
NOISE_SEEDS = 3
#: Column of each lever in the tables: its parameter name.
LEVER_COLUMNS = {lv.key: lv.key.partition(".")[2] for lv in PLATFORM_LEVERS}


# ----------------------------------------------------------------------------- designs


def sector_group(sectors: Sequence[str]) -> str:
    """The ``SECTOR_GROUPS`` name of a list of sectors."""
    for name, group in SECTOR_GROUPS.items():
        if tuple(sectors) == tuple(group):
            return name
    raise BatchError(
        f"sectors {list(sectors)} are none of the design groups; allowed: "
        f"{', '.join(SECTOR_GROUPS)}"
    )


def decode(x: Sequence[float], levers: Sequence[Lever] = PLATFORM_LEVERS) -> dict[str, Any]:
    """A design's lever values by table column (the sectors as their group's name)."""
    out = {}
    for key, v in design_overrides(x, levers).items():
        out[LEVER_COLUMNS.get(key, key)] = sector_group(v) if key == "platform.sectors" else v
    return out


def default_x(spec: Any, levers: Sequence[Lever] = PLATFORM_LEVERS) -> np.ndarray:
    """The decision variables of a platform scenario's own design.

    Raises:
        BatchError: a lever's value lies outside its range or is none of its options.
    """
    xs = []
    for lv in levers:
        group, _, name = lv.key.partition(".")
        v = getattr(getattr(spec, group), name)
        if lv.kind == "switch":
            xs.append(SWITCH_X[bool(v)])
        elif lv.kind == "choice":
            option = sector_group(v) if lv.key == "platform.sectors" else str(v)
            if option not in lv.options:
                raise BatchError(f"{lv.key}={v!r}; allowed: {', '.join(lv.options)}")
            xs.append((lv.options.index(option) + 0.5) / len(lv.options))
        else:
            x = (float(v) - lv.low) / (lv.high - lv.low)
            if not 0.0 <= x <= 1.0:
                raise BatchError(
                    f"the scenario's {lv.key}={v} is outside the design range "
                    f"[{lv.low:g}, {lv.high:g}]"
                )
            xs.append(x)
    return np.array(xs, dtype=float)


def pareto_mask(f: np.ndarray) -> np.ndarray:
    """Rows of ``f`` (objectives to minimise) that no other row dominates (no worse in every
    objective, better in one). Equal rows do not dominate each other."""
    f = np.atleast_2d(np.asarray(f, dtype=float))
    le = (f[:, None, :] <= f[None, :, :]).all(axis=2)
    lt = (f[:, None, :] < f[None, :, :]).any(axis=2)
    dominated = (le & lt).any(axis=0)
    return np.asarray(~dominated)


def design_label(spec: Any) -> str:
    """A design's label: its scenario hash (identical designs share it, and run once)."""
    from sim.scenario import scenario_hash

    return "d" + scenario_hash(spec)[:12]


def _seed(root: int, stream: int) -> int:
    """The optimiser's seed of a search, derived from the root seed."""
    return int(np.random.SeedSequence([root, stream]).generate_state(1)[0])


# ------------------------------------------------------------------------------ search


@dataclass
class Search:
    """One NSGA-II search: how its designs are scored and what it evaluated.

    Attributes:
        name: ``nominal`` or ``robust``.
        futures: overrides of each future (``[{}]``: the nominal one).
        seeds: seeds crossed with the futures, or one per future with ``zipped``.
        population, generations: NSGA-II's sizes.
        rows: one row per evaluated design and generation (``designs.csv``).
        keys: the store keys of every run the search used.
        replaced: objective values that were not numbers, set to the generation's mean.
    """

    name: str
    futures: list[dict[str, Any]]
    seeds: list[int]
    zipped: bool
    population: int
    generations: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    replaced: int = 0

    @property
    def n_seeds(self) -> int:
        return 1 if self.zipped else len(self.seeds)

    def evaluate(
        self, lab: Any, base: Any, platform: Any, xs: np.ndarray, generations: Sequence[int]
    ) -> np.ndarray:
        """Score designs ``xs`` as one paired batch; return their objectives (minimised)."""
        from sim.analysis.experiment import finite, paired_batch
        from sim.scenario import with_overrides

        specs = [with_overrides(platform, design_overrides(x)) for x in xs]
        labels = [design_label(s) for s in specs]
        policies = dict(zip(labels, specs, strict=True))
        batch = paired_batch(
            base, policies, self.futures, self.seeds, kind=f"design-{self.name}", zipped=self.zipped
        )
        lab.run(batch)
        self.keys.update(r["key"] for r in batch.runs())
        eff = lab.effects(batch, self.n_seeds, zipped=self.zipped)
        by = eff.groupby("policy")
        mean = by[[NET, COST, RETENTION, VALUE]].mean()
        p10 = by[NET].quantile(ROBUST_QUANTILE)
        sd_cols = [f"sd:{m}" for m, _, _ in OBJECTIVES if f"sd:{m}" in eff.columns]
        sd = by[sd_cols].mean() if sd_cols else None
        f = np.column_stack(
            [sign * mean.loc[labels, m].to_numpy(float) for m, _, sign in OBJECTIVES]
        )
        self.replaced += int((~np.isfinite(f)).sum())
        f = np.column_stack([finite(f[:, j]) for j in range(f.shape[1])])
        for x, lab_, gen in zip(xs, labels, generations, strict=True):
            row: dict[str, Any] = {
                "search": self.name,
                "generation": int(gen),
                "design": lab_,
                "default": gen == 0,
                **decode(x),
                **{col: float(mean.loc[lab_, m]) for m, col, _ in OBJECTIVES},
                "hk_value_added": float(mean.loc[lab_, VALUE]),
                "p10_net_benefit": float(p10.loc[lab_]) if self.name == "robust" else math.nan,
            }
            for m, col, _ in OBJECTIVES:
                key = f"sd:{m}"
                row[f"sd_{col}"] = (
                    float(sd.loc[lab_, key]) if sd is not None and key in sd else math.nan
                )
            self.rows.append(row)
        return f

    def optimise(self, lab: Any, base: Any, platform: Any, x0: np.ndarray, seed: int) -> None:
        """Run NSGA-II by ask and tell, one batch per generation; the default design ``x0``
        is scored with the first generation (generation 0, not part of the population)."""
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem
        from pymoo.problems.static import StaticProblem

        n = len(PLATFORM_LEVERS)
        problem = Problem(n_var=n, n_obj=len(OBJECTIVES), xl=np.zeros(n), xu=np.ones(n))
        algorithm = NSGA2(pop_size=self.population)
        algorithm.setup(problem, termination=("n_gen", self.generations), seed=seed)
        gen = 0
        while algorithm.has_next():
            pop = algorithm.ask()
            if pop is None or len(pop) == 0:
                break
            gen += 1
            xs = np.asarray(pop.get("X"), dtype=float)
            if gen == 1:
                f = self.evaluate(lab, base, platform, np.vstack([x0, xs]), [0] + [1] * len(xs))
                f = f[1:]
            else:
                f = self.evaluate(lab, base, platform, xs, [gen] * len(xs))
            Evaluator().eval(StaticProblem(problem, F=f), pop)
            algorithm.tell(infills=pop)

    def table(self) -> pd.DataFrame:
        """Every evaluation, with ``pareto``: the design is in the non-dominated set of all
        designs this search evaluated (the default design included)."""
        df = pd.DataFrame(self.rows)
        first = df.drop_duplicates("design")
        f = np.column_stack([sign * first[col].to_numpy(float) for _, col, sign in OBJECTIVES])
        f = np.column_stack([_finite(f[:, j]) for j in range(f.shape[1])])
        front = set(first.loc[pareto_mask(f), "design"])
        df["pareto"] = df["design"].isin(front)
        return df


def _finite(x: np.ndarray) -> np.ndarray:
    from sim.analysis.experiment import finite

    return finite(x)


def _check(size: Any) -> None:
    for name in ("population", "robust_population"):
        if int(getattr(size, name)) < 2:
            raise BatchError(
                f"--{name.replace('_', '-')} must be >= 2 (a generation of NSGA-II needs two "
                f"designs), got {getattr(size, name)}"
            )
    for name in ("generations", "seeds", "robust_generations", "robust_futures"):
        if int(getattr(size, name)) < 1:
            raise BatchError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(size, name)}")


# ------------------------------------------------------------------------------- run


@dataclass(frozen=True, eq=False, kw_only=True)
class DesignResult(AnalysisResult):
    """The design frontier: every design evaluated, the Pareto sets and the runs behind them.

    Attributes:
        designs: every evaluation of both searches (``designs.csv``).
        futures: the robust search's futures, indexed by ``future`` (``futures.csv``).
        noise: the seed noise of the objectives (method, sd and standard errors).
        runs: runs used per search; objectives_replaced: non-finite objectives replaced per
            search.
        uncertainties_robust: uncertainties varied by the robust futures.
        discount_rate: the baseline's social discount rate.
        size, settings, count, wall_seconds, code_commit: see
            :class:`~sim.analysis.result.AnalysisResult`.
    """

    NAME: ClassVar[str] = NAME
    SIZE: ClassVar[type] = DesignSize
    NAMES: ClassVar[tuple[str, ...]] = (
        "designs.csv",
        "pareto.csv",
        "futures.csv",
        "frontier.png",
        "report.md",
    )

    designs: pd.DataFrame
    futures: pd.DataFrame
    noise: dict[str, Any]
    runs: dict[str, int]
    objectives_replaced: dict[str, int]
    uncertainties_robust: int
    discount_rate: float

    @cached_property
    def pareto(self) -> pd.DataFrame:
        """Each search's non-dominated designs by public cost (``pareto.csv``)."""
        return _pareto(self.designs)

    @property
    def designs_evaluated(self) -> dict[str, int]:
        """Designs evaluated per search."""
        d = self.designs
        return {s: int(d.loc[d["search"] == s, "design"].nunique()) for s in SEARCHES}

    @property
    def idle(self) -> dict[str, int]:
        """Designs whose platform never opened, per search."""
        return {s: _idle(self.designs, s) for s in SEARCHES}

    @property
    def findings(self) -> dict[str, Any]:
        """Per search: designs, Pareto set size, the best design and the default's place."""
        return _summary(self.designs, self.pareto)

    def facts(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "designs_evaluated": self.designs_evaluated,
            "objectives_replaced": self.objectives_replaced,
            "idle": self.idle,
            "uncertainties_robust": self.uncertainties_robust,
            "discount_rate": self.discount_rate,
            "noise": self.noise,
        }

    def figure(self) -> Any:
        """Net benefit against public cost of every design, per search (``frontier.png``)."""
        return _figure(self.designs)

    def report(self) -> str:
        """The Markdown section (``report.md``)."""
        return _report(self)

    def writers(self) -> dict[str, Callable[[Path], Any]]:
        return {
            "designs.csv": lambda p: self.designs.to_csv(p, index=False),
            "pareto.csv": lambda p: self.pareto.to_csv(p, index=False),
            "futures.csv": lambda p: self.futures.to_csv(p),
            "frontier.png": lambda p: _save_tight(self.figure(), p),
            "report.md": self.write_report,
        }

    @classmethod
    def fields_from(cls, files: Folder) -> dict[str, Any]:
        objectives = [col for _, col, _ in OBJECTIVES]
        return {
            "designs": files.table(
                "designs.csv", ["search", "design", "default", "pareto", *objectives]
            ),
            "futures": files.table("futures.csv", index="future"),
            "noise": dict(files.get("noise")),
            "runs": {s: int(files.get("runs")[s]) for s in SEARCHES},
            "objectives_replaced": {s: int(files.get("objectives_replaced")[s]) for s in SEARCHES},
            "uncertainties_robust": int(files.get("uncertainties_robust")),
            "discount_rate": float(files.get("discount_rate")),
        }


def _save_tight(fig: Any, path: Path) -> None:
    """Save a PNG cropped to the drawn area (the colour bar's label); close the figure."""
    from sim.reporting import DPI, pyplot

    try:
        fig.savefig(path, dpi=DPI, format="png", bbox_inches="tight")
    finally:
        pyplot().close(fig)


def run(out: Path, size: Any, settings: Any, options: Any) -> DesignResult:
    """The nominal and robust design frontiers (see the module docstring), in the store in
    ``out``; the result is written there (:meth:`DesignResult.write`) and returned."""
    from sim.analysis import experiment
    from sim.analysis.space import load_space
    from sim.experiments.workflows import discount_rate_of
    from sim.scenario import load_scenario, with_overrides

    _check(size)
    t0 = time.perf_counter()
    out = Path(out)
    base = experiment.prepare(load_scenario("baseline"), settings)
    platform = experiment.prepare(load_scenario("hk_pilot_platform"), settings)
    x0 = default_x(platform)
    with experiment.open_lab(out, [NAME], settings, **options.lab()) as lab:
        space = load_space(base)
        held = [k for k in space.keys if k not in LEVER_COLUMNS]
        robust_space = space.subset(held)
        points = robust_space.latin_hypercube(size.robust_futures, settings.root_seed)
        futures = [robust_space.overrides(p) for p in points.to_dict("records")]
        searches = [
            Search(
                "nominal",
                [{}],
                settings.seeds(size.seeds),
                False,
                size.population,
                size.generations,
            ),
            Search(
                "robust",
                futures,
                settings.seeds(size.robust_futures),
                True,
                size.robust_population,
                size.robust_generations,
            ),
        ]
        for i, s in enumerate(searches):
            s.optimise(lab, base, platform, x0, _seed(settings.root_seed, i))
        designs = pd.concat([s.table() for s in searches], ignore_index=True)
        noise = _noise(
            lab, base, with_overrides(platform, design_overrides(x0.tolist())), designs, size
        )
        result = DesignResult(
            designs=designs,
            futures=points.rename_axis("future"),
            noise=noise,
            runs={s.name: len(s.keys) for s in searches},
            objectives_replaced={s.name: s.replaced for s in searches},
            uncertainties_robust=len(held),
            discount_rate=discount_rate_of(base),
            size=size,
            settings=settings,
            count=lab.count(),
            wall_seconds=experiment.elapsed(t0),
            code_commit=lab.provenance.get("code_commit"),
        )
        result.write(out)
        experiment.finish(out, lab, NAME, result.record())
    return result


def _noise(lab: Any, base: Any, default: Any, designs: pd.DataFrame, size: Any) -> dict[str, Any]:
    """Seed noise of one design's objectives: sd over seeds of a paired effect (median over
    the nominal designs with more than one seed; else at the default design over
    ``NOISE_SEEDS`` seeds), and the standard error it gives each search's objectives."""
    from sim.analysis.experiment import noise_sd

    cols = [col for _, col, _ in OBJECTIVES]
    if size.seeds > 1:
        nom = designs[designs["search"] == "nominal"].drop_duplicates("design")
        sd = {c: float(nom[f"sd_{c}"].median()) for c in cols}
        how = f"median over the nominal designs of the sd over their {size.seeds} seeds"
    else:
        s = noise_sd(lab, base, default, NOISE_SEEDS)
        sd = {col: float(s[m]) for m, col, _ in OBJECTIVES}
        how = f"sd over {NOISE_SEEDS} seeds of the default design at the nominal future"
    return {
        "method": how,
        "sd": sd,
        "se_nominal": {c: v / math.sqrt(size.seeds) for c, v in sd.items()},
        "se_robust": {c: v / math.sqrt(size.robust_futures) for c, v in sd.items()},
    }


def _idle(designs: pd.DataFrame, search: str) -> int:
    """Designs of a search whose platform never opened (every effect exactly 0)."""
    d = designs[designs["search"] == search].drop_duplicates("design")
    cols = ["net_benefit", "public_cost", "hk_value_added"]
    return int((d[cols] == 0.0).all(axis=1).sum())


def _pareto(designs: pd.DataFrame) -> pd.DataFrame:
    """Each search's non-dominated designs (once each), by public cost."""
    front = designs[designs["pareto"]].drop_duplicates(["search", "design"])
    order = {s: i for i, s in enumerate(SEARCHES)}
    front = front.assign(_o=front["search"].map(order)).sort_values(["_o", "public_cost"])
    return front.drop(columns=["_o", "pareto"]).reset_index(drop=True)


def _summary(designs: pd.DataFrame, pareto: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in SEARCHES:
        d = designs[designs["search"] == s].drop_duplicates("design")
        p = pareto[pareto["search"] == s]
        best = d.loc[d["net_benefit"].idxmax()]
        dflt = d[d["default"]].iloc[0]

        def brief(r: pd.Series) -> dict[str, Any]:
            return {
                "design": r["design"],
                **{c: _plain(r[c]) for c in LEVER_COLUMNS.values()},
                **{c: round(float(r[c]), 6) for _, c, _ in OBJECTIVES},
            }

        out[s] = {
            "designs": int(len(d)),
            "pareto_size": int(len(p)),
            "best_net_benefit": brief(best),
            "default": {**brief(dflt), "on_frontier": bool(dflt["pareto"])},
        }
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), 4)
    return v


# ------------------------------------------------------------------------ figure, report


def _figure(designs: pd.DataFrame) -> Any:
    from sim.reporting import pyplot

    plt = pyplot()  # the house style, whichever analysis drew before in this process

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    ret = designs["retention"].to_numpy(float) * 100
    ok = ret[np.isfinite(ret)]
    vmin, vmax = (float(ok.min()), float(ok.max())) if ok.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    sc = None
    for ax, s in zip(axes, SEARCHES, strict=True):
        d = designs[designs["search"] == s].drop_duplicates("design")
        rest, front, dflt = d[~d["pareto"]], d[d["pareto"]], d[d["default"]]
        kw = {"cmap": "viridis", "vmin": vmin, "vmax": vmax}
        ax.scatter(
            rest["public_cost"],
            rest["net_benefit"],
            c=rest["retention"] * 100,
            s=18,
            alpha=0.55,
            label="other designs",
            **kw,
        )
        sc = ax.scatter(
            front["public_cost"],
            front["net_benefit"],
            c=front["retention"] * 100,
            s=60,
            edgecolors="black",
            linewidths=1.2,
            label="Pareto set",
            **kw,
        )
        ax.scatter(
            dflt["public_cost"],
            dflt["net_benefit"],
            marker="*",
            s=260,
            c="red",
            edgecolors="black",
            linewidths=0.8,
            label="default hk_pilot_platform",
            zorder=5,
        )
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("public cost, PV (HKD m)")
        ax.set_ylabel("net benefit to HK, NPV (HKD m)")
        what = "nominal future" if s == "nominal" else "mean over futures"
        ax.set_title(f"{s} search ({what})\n{len(d)} designs, {len(front)} on the frontier")
        ax.legend(loc="best", fontsize=8)
    if sc is not None:
        fig.colorbar(sc, ax=axes, label="retention share effect (pp)")
    return fig


def _cell(v: Any) -> str:
    """A value of a Markdown table: on/off, ``-`` for NaN, 2 decimals below 10."""
    if isinstance(v, (bool, np.bool_)):
        return "on" if v else "off"
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if math.isnan(x):
            return "-"
        return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.0f}"
    return str(v)


def _front_view(p: pd.DataFrame, robust: bool) -> pd.DataFrame:
    view = pd.DataFrame(
        {
            "design": p["design"] + np.where(p["default"], " (default)", ""),
            "budget": p["public_budget_hkd_m"],
            "slot cost": p["slot_cost_hkd_m"],
            "fee subsidy": p["fee_subsidy_share"],
            "engineering": p["engineering"],
            "matching": p["matching"],
            "follow-up": p["follow_up_support"],
            "sectors": p["sectors"],
            "NB": p["net_benefit"],
            "PV cost": p["public_cost"],
            "retention (pp)": (p["retention"] * 100).map(lambda v: f"{v:.3f}"),
        }
    )
    if robust:
        view["NB p10"] = p["p10_net_benefit"]
    return view


def _common(p: pd.DataFrame) -> str:
    """What the designs of a frontier share, in words."""
    n = len(p)
    parts = []
    for col, label in (
        ("engineering", "engineering"),
        ("matching", "matching"),
        ("follow_up_support", "follow-up support"),
    ):
        k = int(p[col].astype(bool).sum())
        parts.append(f"{label} on in {k} of {n}")
    groups = p["sectors"].value_counts()
    parts.append("sectors: " + ", ".join(f"{g} {c}" for g, c in groups.items()))
    for col, label, fmt in (
        ("public_budget_hkd_m", "budget", "{:,.0f}"),
        ("slot_cost_hkd_m", "slot cost", "{:.1f}"),
        ("fee_subsidy_share", "fee subsidy", "{:.2f}"),
    ):
        lo, med, hi = p[col].min(), p[col].median(), p[col].max()
        parts.append(f"{label} {fmt.format(lo)}-{fmt.format(hi)} (median {fmt.format(med)})")
    return "; ".join(parts) + "."


def _report(r: DesignResult) -> str:
    size, settings, lab, pareto = r.size, r.settings, r.count, r.pareto
    extra = r.record()
    lo, hi = settings.period
    lever_rows = []
    for lv in PLATFORM_LEVERS:
        rng = (
            f"{lv.low:g}-{lv.high:g}"
            if lv.kind == "real"
            else ("off / on" if lv.kind == "switch" else " / ".join(lv.options))
        )
        lever_rows.append(
            {"lever": f"`{lv.key}`", "kind": lv.kind, "range": rng, "source": lv.source}
        )
    noise = extra["noise"]
    lines = [
        "## A design frontier for the platform",
        "",
        "Which platform designs give Hong Kong the most net benefit for the public money, and "
        "what retention do they buy? NSGA-II (Deb et al. 2002; pymoo) searches the platform's "
        "design levers for three objectives, each a paired effect (design minus baseline, same "
        f"future and seeds) over {lo}-{hi}: the net benefit to HK (`{NET}`, NPV, maximised), "
        f"the public cost (`{COST}`, PV, minimised) and the local retention share "
        f"(`{RETENTION}`, maximised). Present values are discounted at "
        f"{extra['discount_rate']:.1%} to {lo}; money in HKD m (full economy).",
        "",
        "**Method.** Each lever is a decision variable in [0, 1] (a switch is on from 0.5; the "
        "sectors take the third of [0, 1] their group is listed in); a design is "
        "`hk_pilot_platform` with the levers' values. Each generation of designs is one paired "
        "batch (identical designs run once). *Nominal search*: each design at the nominal "
        f"future over {size.seeds} seed(s), the baseline's seeds (common random numbers). "
        f"*Robust search*: each design over the same {size.robust_futures} futures (Latin "
        f"hypercube, seed {settings.root_seed}, of the {extra['uncertainties_robust']} "
        "uncertainties of `sim.analysis.space` other than the levers: the slot cost is a design "
        "choice here), one seed per future; its objectives are the means over futures, and its "
        f"{ROBUST_QUANTILE:.0%} quantile of net benefit over futures is reported (NB p10). The "
        "default `hk_pilot_platform` design is evaluated in both searches as a reference. The "
        "Pareto set of a search is the non-dominated set of every design it evaluated (all "
        "generations and the default design).",
        "",
        "### Levers",
        "",
        *markdown_frame(pd.DataFrame(lever_rows), _cell),
        "",
    ]
    for s in SEARCHES:
        p = pareto[pareto["search"] == s]
        info = extra[s]
        dflt = info["default"]
        lines += [
            f"### Pareto set, {s} search ({len(p)} of {info['designs']} designs)",
            "",
            *markdown_frame(_front_view(p, s == "robust"), _cell),
            "",
            f"**In common.** {_common(p)}",
            "",
            f"Default design: net benefit {dflt['net_benefit']:,.0f}, public cost "
            f"{dflt['public_cost']:,.0f}, retention {dflt['retention'] * 100:.3f} pp; "
            f"{'on' if dflt['on_frontier'] else 'not on'} the frontier. Best net benefit: "
            f"{info['best_net_benefit']['design']} "
            f"({info['best_net_benefit']['net_benefit']:,.0f} at public cost "
            f"{info['best_net_benefit']['public_cost']:,.0f}).",
            "",
        ]
    lines += [
        "NB: net benefit to HK (NPV); PV cost: public cost (PV); retention: effect on the local "
        "retention share in percentage points; budget and slot cost in HKD m a year; fee "
        "subsidy: share of the client fee paid by government.",
        "",
        "![design frontier](frontier.png)",
        "",
        "**Caveat.** The slot cost has no quality cost in the model: a cheaper line buys more "
        "slots at the same success, so the optimiser favours lean lines (low slot cost). A "
        "design at the bottom of the slot-cost range is a bound of what the model can say, "
        "not a recommendation. The same holds for any lever whose downside the model lacks.",
        "",
        *(
            [
                f"**Idle designs.** {extra['idle']['nominal']} nominal and "
                f"{extra['idle']['robust']} robust designs have every effect exactly 0 (no "
                "public cost, no benefit): the platform never opened, most likely because "
                "the budget buys less than one slot at this scale (budget x scale < slot "
                "cost x HK engineering cost factor x (1 - cost recovery)). They anchor the "
                "frontier's zero-cost end.",
                "",
            ]
            if extra["idle"]["nominal"] or extra["idle"]["robust"]
            else []
        ),
        "**Precision.** Seed noise (sd of one design's paired effect over seeds, "
        f"{noise['method']}): net benefit {noise['sd']['net_benefit']:,.0f}, public cost "
        f"{noise['sd']['public_cost']:,.1f}, retention {noise['sd']['retention'] * 100:.3f} pp. "
        f"Standard error of an objective: nominal search sd/sqrt({size.seeds}) = "
        f"{noise['se_nominal']['net_benefit']:,.0f} (net benefit); robust search "
        f"sd/sqrt({size.robust_futures}) = {noise['se_robust']['net_benefit']:,.0f} "
        "(designs share futures, so their differences carry less of the futures' spread). "
        "Designs closer than this are not distinguished, and the frontier's membership near "
        "its edges is within noise. Objective values that were not numbers (a 0/0 retention "
        f"share): {extra['objectives_replaced']['nominal']} nominal, "
        f"{extra['objectives_replaced']['robust']} robust (set to their generation's mean).",
        "",
        f"**Sizes.** nominal: population {size.population}, generations {size.generations}, "
        f"seeds {size.seeds}; robust: population {size.robust_population}, generations "
        f"{size.robust_generations}, futures {size.robust_futures}; scale {settings.scale}, "
        f"until {settings.until}, root seed {settings.root_seed}.",
        "",
        f"**Runs.** designs evaluated: {extra['designs_evaluated']['nominal']} nominal, "
        f"{extra['designs_evaluated']['robust']} robust; runs used: {extra['runs']['nominal']} "
        f"nominal, {extra['runs']['robust']} robust (baselines included; {lab.done} run "
        f"now, {lab.skipped} reused from the store, {lab.failed} failed); wall time "
        f"{extra['wall_seconds']:.0f} s ({lab.seconds:.0f} s in runs).",
        "",
        "Files: `designs.csv` (every evaluated design per search and generation, the default "
        "as generation 0), `pareto.csv` (each search's Pareto set by public cost), "
        "`futures.csv` (the robust futures' parameters).",
        "",
    ]
    return "\n".join(lines)
