"""Scenario discovery: where in the uncertainty space the platform fails (``pilotsim analyse
discover``).

Futures are a Latin hypercube over every uncertainty of ``sim.analysis.space``; in each, the
platform and the baseline run with the same parameters and seeds, and the paired effects
classify the future:

- ``hk_net_benefit_negative``: the NPV of the net benefit to Hong Kong
  (``npv_net_benefit_hkd_m``, the resident frame) falls, i.e. the benefit is below the cost;
- ``retention_falls``: the share of value added kept in Hong Kong falls;
- ``fails``: either. ``succeeds`` is its complement.

PRIM (Friedman and Fisher 1999, as EMA Workbench implements it; Bryant and Lempert 2010 for
its use in scenario discovery) peels the space into boxes where a criterion's futures are
dense. When failure is the rule (its base rate above one half), a box of failure says little
(the whole space is already dense in it), so the complement is searched too: where the
platform pays back. Extra-trees feature scores give a second, box-free view of which
parameters predict each criterion.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sim.analysis.experiment import (
    Settings,
    elapsed,
    finish,
    noise_sd,
    open_lab,
    paired_batch,
    prepare,
)
from sim.analysis.result import AnalysisResult, Folder
from sim.analysis.sizes import DISCOVER_NOISE_SEEDS, DiscoverSize
from sim.analysis.space import MEASURE_BY_NAME, POSTERIOR_KEY, Space, load_space
from sim.errors import BatchError
from sim.reporting import markdown_table

NAME = "discover"
#: Column of ``Space.applied`` that numbers the posterior particle of a future.
PARTICLE = "calibration.particle"
POLICY = "platform"

#: The failure criteria: flag name -> (measure whose paired effect decides, description).
CRITERIA: dict[str, tuple[str, str]] = {
    "hk_net_benefit_negative": (
        "npv_net_benefit_hkd_m",
        "net benefit to HK residents below zero (npv_net_benefit_hkd_m, the resident frame)",
    ),
    "retention_falls": ("local_retention_share", "the local retention share falls"),
}
#: The flags of a future (:func:`classify`), in the order of its table's columns.
FLAGS = (*CRITERIA, "fails", "succeeds")
#: Columns of ``boxes.csv`` (:func:`box_table`) and of a peeling trajectory.
BOX_COLUMNS = [
    "criterion",
    "box",
    "coverage",
    "density",
    "mass",
    "n",
    "k",
    "parameter",
    "low",
    "high",
    "full_low",
    "full_high",
    "qp",
]
TRAJECTORY = ("coverage", "density", "mass", "res_dim")
#: What each PRIM case of interest means in the report's sentences.
VERBS = {
    "fails": "the platform fails",
    "succeeds": "the platform succeeds",
    "hk_net_benefit_negative": "the net benefit to HK is negative",
    "retention_falls": "retention falls",
}
#: PRIM's peeling step (Friedman and Fisher 1999 recommend 0.05-0.10; EMA's default).
PEEL_ALPHA = 0.05
#: At most this many boxes per criterion. assumption: after three boxes the remaining cases
#: of interest are few and scattered in every scenario-discovery study we know of.
MAX_BOXES = 3
#: Fewer cases of interest than this, or a box of fewer futures, says nothing. assumption:
#: with under five cases a box's density has a standard error above 0.2.
MIN_CASES = 5
#: Quasi-p-value below which a restriction is called significant (Bryant and Lempert 2010).
SIGNIFICANT = 0.05
#: Seeds of the seed-noise estimate at the nominal future (set in ``sizes``, which plans the
#: runs without loading this module).
NOISE_SEEDS = DISCOVER_NOISE_SEEDS
#: Trees of the extra-trees feature scores (EMA's default is 100; more steadies the ranks).
N_TREES = 250
#: Stream of this analysis' design under the root seed (the name's CRC, so analyses differ).
STREAM = zlib.crc32(NAME.encode())


def design_seed(root: int) -> int:
    """The Latin hypercube's (and the feature scores') seed, derived from ``root``."""
    from sim.experiments.seeds import DESIGN_SPAWN_KEY

    ss = np.random.SeedSequence(int(root), spawn_key=(DESIGN_SPAWN_KEY, STREAM))
    return int(ss.generate_state(1)[0])


def full_ranges(space: Space) -> dict[str, tuple[float, float]]:
    """The range of every column PRIM sees: the space's ranges, and for the fitted
    parameters (drawn jointly as posterior particles) the range of the particles."""
    out = {u.key: (u.low, u.high) for u in space.uncertainties if u.key != POSTERIOR_KEY}
    if space.posterior is not None:
        v = space.posterior.values
        for j, k in enumerate(space.posterior.keys):
            out[k] = (float(v[:, j].min()), float(v[:, j].max()))
    return out


def prim_inputs(x: pd.DataFrame) -> pd.DataFrame:
    """The futures as PRIM and the feature scores see them: parameter values only (the
    particle number of the posterior factor is a label, not a quantity)."""
    return x.drop(columns=[PARTICLE], errors="ignore")


def applied(space: Space, draws: pd.DataFrame) -> pd.DataFrame:
    """The values each future applies, as floats (a switch is 0/1, a count is rounded):
    the ``x`` of PRIM, in parameter units."""
    return space.applied(draws)


def classify(effects: pd.DataFrame) -> pd.DataFrame:
    """The criteria flags of each future from its paired effects (a non-finite effect, e.g.
    a 0/0 retention share, is not counted as a failure)."""
    out = pd.DataFrame(index=effects.index)
    for flag, (measure, _) in CRITERIA.items():
        v = effects[measure].to_numpy(float)
        out[flag] = np.isfinite(v) & (v < 0)
    out["fails"] = out[list(CRITERIA)].any(axis=1)
    out["succeeds"] = ~out["fails"]
    return out


# ------------------------------------------------------------------------------------ PRIM


@dataclass
class Box:
    """One PRIM box at its chosen point of the peeling trajectory.

    Attributes:
        criterion: the case of interest (a flag of :func:`classify`).
        number: 1 for the first box, 2 for the one found in what the first leaves, ...
        point: index of the reported box on EMA's trajectory (past the peeling points when
            restrictions were dropped).
        coverage: share of all cases of interest inside the box.
        density: share of the box's futures (among those the earlier boxes left) that are
            cases of interest.
        mass: share of all futures inside the box.
        n, k: futures and cases of interest inside the box.
        limits: one row per restricted parameter: parameter, low, high, full_low, full_high,
            qp (the larger quasi-p-value of its restricted sides), restricts (``low``,
            ``high`` or ``both``).
        trajectory: the peeling trajectory (coverage, density, mass, res_dim).
        meets_threshold: the chosen density reaches the threshold.
        dropped: restrictions of the chosen peeling point dropped as not significant
            (see :func:`prune`), in order.
    """

    criterion: str
    number: int
    point: int
    coverage: float
    density: float
    mass: float
    n: int
    k: int
    limits: pd.DataFrame
    trajectory: pd.DataFrame
    meets_threshold: bool
    switches: frozenset[str] = field(default_factory=frozenset)
    dropped: tuple[str, ...] = ()

    def conditions(self) -> list[str]:
        """The restrictions in words, e.g. ``platform.success_uplift > 0.55``."""
        out = []
        for r in self.limits.itertuples(index=False):
            if r.parameter in self.switches:
                out.append(f"{r.parameter} is {'on' if r.low > 0 else 'off'}")
            elif r.restricts == "low":
                out.append(f"{r.parameter} >= {_num(r.low)}")
            elif r.restricts == "high":
                out.append(f"{r.parameter} <= {_num(r.high)}")
            else:
                out.append(f"{_num(r.low)} <= {r.parameter} <= {_num(r.high)}")
        return out

    def describe(self) -> str:
        """The box in one sentence."""
        verb = VERBS.get(self.criterion, self.criterion)
        return (
            f"{verb} in {self.density:.0%} of futures ({self.k} of {self.n}) where "
            f"{' and '.join(self.conditions())}; these hold {self.coverage:.0%} of the "
            f"futures where {verb} and {self.mass:.0%} of all futures"
        )


def _num(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}"


@contextmanager
def _quiet() -> Iterator[None]:
    """EMA Workbench's logging and warnings (import and fitting) kept off the CLI."""
    log = logging.getLogger("EMA")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def choose_point(trajectory: pd.DataFrame, threshold: float) -> int | None:
    """The point of a peeling trajectory to report: among restricted boxes whose density
    reaches ``threshold``, the one with the highest coverage (then fewer restrictions, then
    higher density); the densest restricted box if none reaches it; None if nothing was
    restricted. The highest coverage at the required density is Bryant and Lempert's
    (2010) reading of the trade-off; the tightest box on the trajectory would trade most of
    the coverage for little density."""
    t = trajectory.reset_index(drop=True)
    t = t[t["res_dim"] >= 1]
    if t.empty:
        return None
    ok = t[t["density"] >= threshold]
    if not ok.empty:
        best = ok.sort_values(
            ["coverage", "res_dim", "density"], ascending=[False, True, False], kind="stable"
        )
    else:
        best = t.sort_values(
            ["density", "coverage", "res_dim"], ascending=[False, False, True], kind="stable"
        )
    return int(best.index[0])


def find_boxes(
    x: pd.DataFrame,
    y: np.ndarray,
    criterion: str,
    threshold: float,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    *,
    max_boxes: int = MAX_BOXES,
    min_cases: int = MIN_CASES,
    switches: frozenset[str] = frozenset(),
) -> list[Box]:
    """PRIM boxes of ``y`` (a boolean case of interest) over ``x`` (float columns).

    Boxes are found one after the other, each in the futures the earlier ones leave; the
    search stops after ``max_boxes``, when fewer than ``min_cases`` cases of interest remain,
    or when a box restricts nothing or is no denser than what remains.

    Args:
        x: the futures in parameter units, one float column per parameter.
        y: True where the case of interest happens.
        criterion: the name of the case of interest (recorded in each box).
        threshold: the density a box must reach (see :func:`choose_point`).
        ranges: each parameter's full range (default: its range in ``x``).
        switches: 0/1 parameters (described as on/off).

    Raises:
        BatchError: ``threshold`` outside (0, 1), or ``x`` and ``y`` of different lengths.
    """
    if not 0.0 < threshold < 1.0:
        raise BatchError(f"--threshold must be in (0, 1), got {threshold!r}")
    y = np.asarray(y, dtype=bool)
    if y.ndim != 1 or len(y) != len(x):
        raise BatchError(f"PRIM: {len(y)} outcomes for {len(x)} futures")
    x = x.reset_index(drop=True).astype(float)
    if int(y.sum()) < min_cases:
        return []
    with _quiet():
        from ema_workbench.analysis.prim import Prim

        mass_min = max(0.05, min_cases / len(y))  # EMA's default, at least min_cases futures
        alg = Prim(x, y, peel_alpha=PEEL_ALPHA, mass_min=mass_min)
        boxes: list[Box] = []
        init = alg.box_init
        full = {c: (float(init.loc[0, c]), float(init.loc[1, c])) for c in x.columns}
        full.update({k: (float(lo), float(hi)) for k, (lo, hi) in (ranges or {}).items()})
        taken = np.zeros(len(y), dtype=bool)  # futures inside the boxes found so far
        for number in range(1, max_boxes + 1):
            if int(y[~taken].sum()) < min_cases:
                break
            base_density = float(y[~taken].mean())
            pbox = alg.find_box()
            if pbox is None:
                break
            traj = pbox.peeling_trajectory.reset_index(drop=True)
            i = choose_point(traj, threshold)
            if i is None or float(traj.loc[i, "density"]) <= base_density:
                break
            pbox.select(i)
            peeled = len(traj)
            i, dropped = prune(pbox, i, init, threshold)
            if float(pbox.peeling_trajectory.loc[i, "density"]) <= base_density:
                break
            taken[np.asarray(pbox.yi, dtype=int)] = True  # the next box: in the futures left
            boxes.append(
                _box(pbox, i, criterion, number, threshold, init, full, switches, peeled, dropped)
            )
    return boxes


def _restricted(lims: pd.DataFrame, init: pd.DataFrame) -> list[str]:
    return [
        c
        for c in lims.columns
        if float(lims.loc[0, c]) != float(init.loc[0, c])
        or float(lims.loc[1, c]) != float(init.loc[1, c])
    ]


def _quasi_p(pbox: Any, i: int, c: str) -> float:
    """The larger quasi-p-value of ``c``'s restricted sides in box ``i`` (NaN if none)."""
    qp = [float(q) for q in pbox.p_values[i].get(c, []) if q is not None and float(q) >= 0]
    return max(qp) if qp else float("nan")


def prune(pbox: Any, i: int, init: pd.DataFrame, threshold: float) -> tuple[int, list[str]]:
    """Drop the box's restrictions that are not significant (Bryant and Lempert 2010: a
    restriction whose quasi-p-value exceeds ``SIGNIFICANT`` is likely fitted noise and costs
    interpretability), one at a time, the largest quasi-p-value first, each drop recomputing
    the box and the others' quasi-p-values. A drop is kept only if the box's density stays
    at least ``min(threshold, its density before pruning)``; otherwise the next candidate is
    tried. At least one restriction remains.

    Returns the index of the pruned box on the trajectory (EMA appends each tried box) and
    the parameters dropped, in order; ``pbox`` is left selecting the pruned box.
    """
    traj = pbox.peeling_trajectory
    floor = min(threshold, float(traj.loc[i, "density"]))
    dropped: list[str] = []
    while True:
        dims = _restricted(pbox.box_lims[i], init)
        qps = {c: _quasi_p(pbox, i, c) for c in dims}
        candidates = sorted(
            (c for c in dims if qps[c] > SIGNIFICANT), key=lambda c: qps[c], reverse=True
        )
        for c in candidates if len(dims) > 1 else []:
            pbox.drop_restriction(c, i)
            j = len(pbox.peeling_trajectory) - 1
            if float(pbox.peeling_trajectory.loc[j, "density"]) >= floor:
                i = j
                dropped.append(c)
                break
            pbox.select(i)  # that drop loses density: keep the restriction
        else:
            pbox.select(i)
            return i, dropped


def _box(
    pbox: Any,
    i: int,
    criterion: str,
    number: int,
    threshold: float,
    init: pd.DataFrame,
    full: Mapping[str, tuple[float, float]],
    switches: frozenset[str],
    peeled: int,
    dropped: list[str],
) -> Box:
    lims = pbox.box_lims[i]
    rows = []
    for c in lims.columns:
        lo, hi = float(lims.loc[0, c]), float(lims.loc[1, c])
        lo_cut, hi_cut = lo != float(init.loc[0, c]), hi != float(init.loc[1, c])
        if not (lo_cut or hi_cut):
            continue
        # an unrestricted side is reported at the parameter's full range, not the data's
        lo, hi = (lo if lo_cut else full[c][0]), (hi if hi_cut else full[c][1])
        rows.append(
            {
                "parameter": c,
                "low": lo,
                "high": hi,
                "full_low": full[c][0],
                "full_high": full[c][1],
                "qp": _quasi_p(pbox, i, c),
                "restricts": "both" if lo_cut and hi_cut else ("low" if lo_cut else "high"),
            }
        )
    t = pbox.peeling_trajectory.reset_index(drop=True)
    row = t.loc[i]
    return Box(
        criterion=criterion,
        number=number,
        point=i,
        coverage=float(row["coverage"]),
        density=float(row["density"]),
        mass=float(row["mass"]),
        n=int(row["n"]),
        k=int(row["k"]),
        limits=pd.DataFrame(
            rows, columns=["parameter", "low", "high", "full_low", "full_high", "qp", "restricts"]
        ),
        trajectory=t.iloc[:peeled][list(TRAJECTORY)].astype(float),
        meets_threshold=float(row["density"]) >= threshold,
        switches=switches,
        dropped=tuple(dropped),
    )


def feature_scores(x: pd.DataFrame, targets: Mapping[str, np.ndarray], seed: int) -> pd.DataFrame:
    """Extra-trees feature scores (EMA Workbench, Jaxa-Rozen and Kwakkel 2018) of each target:
    a boolean target is classified, a float one regressed. Targets with fewer than
    ``MIN_CASES`` in either class are left out. One column per target, rows sorted by the
    first column."""
    with _quiet():
        from ema_workbench.analysis.feature_scoring import get_ex_feature_scores
        from ema_workbench.analysis.scenario_discovery_util import RuleInductionType

        cols = {}
        for name, target in targets.items():
            y = np.asarray(target)
            if y.dtype == bool:
                if min(int(y.sum()), int((~y).sum())) < MIN_CASES:
                    continue
                ok = np.ones(len(y), dtype=bool)
                mode, yy = RuleInductionType.CLASSIFICATION, y.astype(int)
            else:
                yy = y.astype(float)
                ok = np.isfinite(yy)
                if ok.sum() < 2 * MIN_CASES or np.std(yy[ok]) == 0:
                    continue
                mode = RuleInductionType.REGRESSION
            scores, _ = get_ex_feature_scores(
                x[ok].reset_index(drop=True),
                yy[ok],
                mode=mode,
                nr_trees=N_TREES,
                random_state=seed,
            )
            cols[name] = scores.iloc[:, 0]
    if not cols:
        return pd.DataFrame(index=pd.Index(list(x.columns), name="parameter"))
    out = pd.DataFrame(cols).reindex(list(x.columns))
    out.index.name = "parameter"
    return out.sort_values(out.columns[0], ascending=False)


# ------------------------------------------------------------------------------------- run


@dataclass(frozen=True, eq=False, kw_only=True)
class DiscoverResult(AnalysisResult):
    """Scenario discovery: the futures and their flags, PRIM's boxes and the feature scores.

    Attributes:
        futures: each future's applied parameters, paired effects and flags (``futures.csv``).
        boxes: PRIM's boxes (:class:`Box`) of each criterion searched, in the order searched
            (``boxes.csv``, ``trajectories.csv`` and ``discover.json``).
        scores: feature scores per parameter and target (``feature_scores.csv``).
        noise: sd over seeds of each measure's paired effect at the nominal future.
        drawn: the uncertainties the futures are drawn over.
        engine: the executor's description.
        size, settings, count, wall_seconds, code_commit: see
            :class:`~sim.analysis.result.AnalysisResult`.
    """

    NAME: ClassVar[str] = NAME
    SIZE: ClassVar[type] = DiscoverSize
    NAMES: ClassVar[tuple[str, ...]] = (
        "futures.csv",
        "feature_scores.csv",
        "boxes.csv",
        "trajectories.csv",
        "discover.json",
        "prim.png",
        "report.md",
    )

    futures: pd.DataFrame
    boxes: dict[str, list[Box]]
    scores: pd.DataFrame
    noise: pd.Series
    drawn: int
    engine: str

    @property
    def flags(self) -> pd.DataFrame:
        """Each future's flags (:func:`classify`)."""
        return self.futures[list(FLAGS)]

    @property
    def effects(self) -> pd.DataFrame:
        """The platform's paired effects per future (``experiment.Lab.effects``)."""
        cols = [c for c in self.futures.columns if c.rpartition(":")[2] in MEASURE_BY_NAME]
        out = self.futures[["future", *cols]].copy()
        out.insert(1, "policy", POLICY)
        return out

    @property
    def rates(self) -> dict[str, float]:
        """Share of futures flagged, per flag."""
        flags = self.flags
        return {c: float(flags[c].mean()) for c in ["fails", *CRITERIA, "succeeds"]}

    @property
    def searched(self) -> list[str]:
        """The criteria PRIM searched."""
        return list(self.boxes)

    @property
    def near(self) -> dict[str, float]:
        """Share of futures within two standard errors of zero, per criterion."""
        return near_zero(self.effects, self.noise, self.size.seeds)

    @property
    def box_limits(self) -> pd.DataFrame:
        """One row per (criterion, box, restricted parameter) (``boxes.csv``)."""
        return box_table(self.boxes)

    @property
    def trajectories(self) -> pd.DataFrame:
        """Each box's peeling trajectory, one row per point (``trajectories.csv``)."""
        parts = [
            b.trajectory.assign(criterion=c, box=b.number)[["criterion", "box", *TRAJECTORY]]
            for c, bs in self.boxes.items()
            for b in bs
        ]
        empty = pd.DataFrame(columns=["criterion", "box", *TRAJECTORY])
        return pd.concat(parts, ignore_index=True) if parts else empty

    @property
    def findings(self) -> dict[str, Any]:
        """Base rates, boxes, near-zero shares and top features."""
        return {
            "futures": len(self.futures),
            "seeds": self.size.seeds,
            "threshold": self.size.threshold,
            "base_rates": {k: round(v, 3) for k, v in self.rates.items()},
            "boxes": {c: [b.describe() for b in bs] for c, bs in self.boxes.items()},
            "near_zero": {k: round(v, 3) for k, v in self.near.items()},
            "top_features": {c: list(self.scores[c].nlargest(3).index) for c in self.scores},
        }

    def details(self) -> dict[str, Any]:
        """What the report needs beyond the tables (``discover.json``): the uncertainties
        drawn over, the seed noise, the switches and each box's peeling point, the sides of
        its restrictions and the restrictions dropped."""
        return {
            "uncertainties": self.drawn,
            "noise_sd": {str(k): float(v) for k, v in self.noise.items()},
            "switches": sorted({s for bs in self.boxes.values() for b in bs for s in b.switches}),
            "boxes": {
                c: [
                    {
                        "box": b.number,
                        "point": b.point,
                        "restricts": b.limits["restricts"].tolist(),
                        "dropped": list(b.dropped),
                    }
                    for b in bs
                ]
                for c, bs in self.boxes.items()
            },
        }

    def figure(self) -> Any:
        """Each box's peeling trajectory and limits (``prim.png``)."""
        return figure(self.boxes)

    def report(self) -> str:
        """The Markdown section (``report.md``)."""
        return report(
            self.size,
            self.settings,
            self.count,
            self.engine,
            self.wall_seconds,
            self.rates,
            self.searched,
            self.boxes,
            self.scores,
            self.noise,
            self.near,
            self.flags,
            self.effects,
            drawn=self.drawn,
        )

    def writers(self) -> dict[str, Callable[[Path], Any]]:
        from sim.reporting import save_figure

        details = json.dumps(self.details(), indent=1) + "\n"
        return {
            "futures.csv": lambda p: self.futures.to_csv(p, index=False),
            "feature_scores.csv": lambda p: self.scores.to_csv(p),
            "boxes.csv": lambda p: self.box_limits.to_csv(p, index=False),
            "trajectories.csv": lambda p: self.trajectories.to_csv(p, index=False),
            "discover.json": lambda p: p.write_text(details, encoding="utf-8"),
            "prim.png": lambda p: save_figure(self.figure(), p),
            "report.md": self.write_report,
        }

    @classmethod
    def fields_from(cls, files: Folder) -> dict[str, Any]:
        details = files.json("discover.json")
        threshold = float(files.get("size")["threshold"])
        limits = files.table("boxes.csv", BOX_COLUMNS)
        paths = files.table("trajectories.csv", ["criterion", "box", *TRAJECTORY])
        switches = frozenset(details["switches"])
        boxes = {
            str(c): [read_box(c, b, limits, paths, threshold, switches) for b in bs]
            for c, bs in details["boxes"].items()
        }
        return {
            "futures": files.table("futures.csv", ["future", *MEASURE_BY_NAME, *FLAGS]),
            "boxes": boxes,
            "scores": files.table("feature_scores.csv", index="parameter"),
            "noise": pd.Series({str(k): float(v) for k, v in details["noise_sd"].items()}),
            "drawn": int(details["uncertainties"]),
            "engine": str(files.get("engine")),
        }


def read_box(
    criterion: str,
    spec: Mapping[str, Any],
    limits: pd.DataFrame,
    paths: pd.DataFrame,
    threshold: float,
    switches: frozenset[str],
) -> Box:
    """A box of ``criterion`` as written: its rows of ``boxes.csv`` (``limits``) and
    ``trajectories.csv`` (``paths``) and its entry of ``discover.json`` (``spec``).

    Raises:
        ValueError: ``boxes.csv`` does not hold the restrictions ``discover.json`` records.
    """
    number = int(spec["box"])
    rows = limits[(limits["criterion"] == criterion) & (limits["box"] == number)]
    path = paths[(paths["criterion"] == criterion) & (paths["box"] == number)]
    if rows.empty or len(rows) != len(spec["restricts"]):
        raise ValueError(
            f"boxes.csv: {criterion} box {number} does not hold the restrictions that "
            "discover.json records"
        )
    first = rows.iloc[0]
    return Box(
        criterion=criterion,
        number=number,
        point=int(spec["point"]),
        coverage=float(first["coverage"]),
        density=float(first["density"]),
        mass=float(first["mass"]),
        n=int(first["n"]),
        k=int(first["k"]),
        limits=rows[["parameter", "low", "high", "full_low", "full_high", "qp"]]
        .assign(restricts=list(spec["restricts"]))
        .reset_index(drop=True),
        trajectory=path[list(TRAJECTORY)].astype(float).reset_index(drop=True),
        meets_threshold=float(first["density"]) >= threshold,
        switches=switches,
        dropped=tuple(spec["dropped"]),
    )


def run(out: Path, size: Any, settings: Settings, options: Any) -> DiscoverResult:
    """Scenario discovery over ``size.futures`` Latin hypercube futures (see the module
    docstring), in the store in ``out``; the result is written there
    (:meth:`DiscoverResult.write`) and returned."""
    from sim.scenario import load_scenario

    if not 0.0 < float(size.threshold) < 1.0:
        raise BatchError(f"--threshold must be in (0, 1), got {size.threshold!r}")
    t0 = time.perf_counter()
    out = Path(out)
    base = prepare(load_scenario("baseline"), settings)
    policy = prepare(load_scenario("hk_pilot_platform"), settings)
    space = load_space(base)
    seed = design_seed(settings.root_seed)
    draws = space.latin_hypercube(size.futures, seed)
    x = applied(space, draws)
    futures = [space.overrides(row) for row in draws.to_dict(orient="records")]
    seeds = settings.seeds(size.seeds)
    with open_lab(out, [NAME], settings, **options.lab()) as lab:
        batch = paired_batch(base, {POLICY: policy}, futures, seeds)
        lab.run(batch)
        eff = lab.effects(batch, size.seeds)
        eff = eff[eff["policy"] == POLICY].sort_values("future").reset_index(drop=True)
        noise = noise_sd(lab, base, policy, NOISE_SEEDS)
        flags = classify(eff)
        table = pd.concat(
            [
                pd.Series(range(len(x)), name="future"),
                x.reset_index(drop=True),
                eff.drop(columns=["policy", "future"]),
                flags,
            ],
            axis=1,
        )
        switches = frozenset(u.key for u in space.uncertainties if u.switch)
        ranges = full_ranges(space)
        x = prim_inputs(x)
        rates = {c: float(flags[c].mean()) for c in ["fails", *CRITERIA, "succeeds"]}
        searched = ["fails"]
        if rates["fails"] > 0.5:
            searched.append("succeeds")
        if not flags["retention_falls"].equals(flags["fails"]):
            searched.append("retention_falls")
        boxes: dict[str, list[Box]] = {}
        for c in searched:
            boxes[c] = find_boxes(
                x, flags[c].to_numpy(), c, size.threshold, ranges, switches=switches
            )
        targets: dict[str, np.ndarray] = {c: flags[c].to_numpy() for c in ["fails", *CRITERIA]}
        targets["npv_net_benefit_hkd_m"] = eff["npv_net_benefit_hkd_m"].to_numpy(float)
        result = DiscoverResult(
            futures=table,
            boxes=boxes,
            scores=feature_scores(x, targets, seed),
            noise=noise,
            drawn=len(space.uncertainties),
            engine=lab.engine.description,
            size=size,
            settings=settings,
            count=lab.count(),
            wall_seconds=elapsed(t0),
            code_commit=lab.provenance.get("code_commit"),
        )
        result.write(out)
        finish(out, lab, NAME, result.record())
    return result


def box_table(boxes: Mapping[str, list[Box]]) -> pd.DataFrame:
    """One row per (criterion, box, restricted parameter)."""
    rows = []
    for c, bs in boxes.items():
        for b in bs:
            for r in b.limits.itertuples(index=False):
                rows.append(
                    {
                        "criterion": c,
                        "box": b.number,
                        "coverage": b.coverage,
                        "density": b.density,
                        "mass": b.mass,
                        "n": b.n,
                        "k": b.k,
                        "parameter": r.parameter,
                        "low": r.low,
                        "high": r.high,
                        "full_low": r.full_low,
                        "full_high": r.full_high,
                        "qp": r.qp,
                    }
                )
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def near_zero(effects: pd.DataFrame, noise: pd.Series, n_seeds: int) -> dict[str, float]:
    """Share of futures whose deciding effect is within two seed-noise standard errors of
    zero (its flag could flip with other seeds), per criterion."""
    out = {}
    for flag, (measure, _) in CRITERIA.items():
        se = float(noise[measure]) / math.sqrt(n_seeds)
        v = effects[measure].to_numpy(float)
        out[flag] = float(np.mean(np.abs(v[np.isfinite(v)]) < 2 * se)) if se > 0 else 0.0
    return out


def figure(boxes: Mapping[str, list[Box]]) -> Any:
    """For each box: its peeling trajectory (coverage against density, the chosen point
    circled) and its limits as bars over each restricted parameter's full range."""
    from sim.reporting import pyplot

    plt = pyplot()  # the house style, whichever analysis drew before in this process
    from matplotlib.ticker import MaxNLocator

    found = [b for bs in boxes.values() for b in bs]
    if not found:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "PRIM found no box (see report.md)", ha="center", va="center")
        return fig
    # a box's row grows with its restrictions, so that their two-line labels do not overlap
    heights = [max(3.2, 0.45 * len(b.limits) + 1.0) for b in found]
    fig, axes = plt.subplots(
        len(found),
        2,
        figsize=(11, sum(heights)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 1.4], "height_ratios": heights},
    )
    for (left, right), b in zip(axes, found, strict=True):
        t = b.trajectory
        sc = left.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=14)
        left.plot(t["coverage"], t["density"], color="0.7", lw=0.6, zorder=0)
        left.scatter([b.coverage], [b.density], s=90, facecolors="none", edgecolors="red", lw=1.5)
        left.set_xlabel("coverage")
        left.set_ylabel("density")
        left.set_xlim(0, 1.02)
        left.set_ylim(0, 1.02)
        left.set_title(f"{b.criterion}, box {b.number}: trajectory", fontsize=9)
        bar = fig.colorbar(sc, ax=left, label="restricted dimensions")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
        lim = b.limits
        ypos = np.arange(len(lim))
        span = (lim["full_high"] - lim["full_low"]).replace(0, 1)
        lo = ((lim["low"] - lim["full_low"]) / span).clip(0, 1)
        hi = ((lim["high"] - lim["full_low"]) / span).clip(0, 1)
        right.barh(ypos, [1] * len(lim), height=0.6, color="0.9", edgecolor="0.6")
        right.barh(ypos, hi - lo, left=lo, height=0.6, color="tab:blue", alpha=0.8)
        right.set_yticks(
            ypos,
            [
                f"{p}\n[{_num(a)}, {_num(z)}]"
                for p, a, z in zip(lim["parameter"], lim["full_low"], lim["full_high"], strict=True)
            ],
            fontsize=7,
        )
        right.set_xlim(0, 1)
        right.set_xlabel("share of the parameter's full range")
        right.set_title(
            f"coverage {b.coverage:.2f}, density {b.density:.2f}, mass {b.mass:.2f}",
            fontsize=9,
        )
        right.invert_yaxis()
    fig.tight_layout()
    return fig


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n > 0 else float("nan")


def _pm(p: float, n: int, fmt: str = ".2f") -> str:
    """``p`` with its binomial standard error; at 0 or 1 (where that error is 0) the 95%
    bound of the rule of three (Hanley and Lippman-Hand 1983) instead."""
    if n > 0 and p >= 1.0:
        return f"{p:{fmt}} (95% bound >= {max(0.0, 1 - 3 / n):{fmt}}, rule of three)"
    if n > 0 and p <= 0.0:
        return f"{p:{fmt}} (95% bound <= {min(1.0, 3 / n):{fmt}}, rule of three)"
    return f"{p:{fmt}} ± {_se(p, n):{fmt}}"


def report(
    size: Any,
    settings: Settings,
    lab: Any,
    engine: str,
    wall: float,
    rates: Mapping[str, float],
    searched: list[str],
    boxes: Mapping[str, list[Box]],
    scores: pd.DataFrame,
    noise: pd.Series,
    near: Mapping[str, float],
    flags: pd.DataFrame,
    effects: pd.DataFrame,
    *,
    drawn: int,
) -> str:
    """The report.md section (``lab``: the runs' :class:`~sim.analysis.experiment.RunCount`;
    ``engine``: the executor; ``drawn``: the uncertainties the futures are drawn over)."""
    n = len(flags)
    sd_nb = _num(float(noise["npv_net_benefit_hkd_m"]))
    sd_ret = _num(float(noise["local_retention_share"]))
    lines = [
        "## Scenario discovery: where the platform fails",
        "",
        f"**Method.** {n} futures drawn by Latin hypercube over the {drawn} uncertainties "
        "of `sim.analysis.space` (the calibrated world as one factor: a posterior particle, "
        "drawn by weight, sets the fitted parameters jointly; evidence and structural "
        f"ranges); PRIM and the feature scores see the {len(scores.index)} parameter values "
        "each future applies (the fitted ones one by one). In each future the platform and "
        "the baseline run "
        f"with the same parameters and {size.seeds} common seed(s), at scale {settings.scale}, "
        f"to {settings.until}; effects over {settings.period[0]}-{settings.period[1]}. "
        "PRIM (EMA Workbench, peeling step "
        f"{PEEL_ALPHA}, boxes of at least {MIN_CASES} futures, up to {MAX_BOXES} boxes per "
        "case, each in the futures the earlier boxes leave) finds boxes of the space dense in "
        "a case of interest. Each box is reported at the point of its peeling trajectory with "
        f"the highest coverage whose density reaches {size.threshold} (the densest point if "
        "none does); then its restrictions whose quasi-p-value exceeds "
        f"{SIGNIFICANT} are dropped one at a time, the largest first, while more than one "
        "remains and the box's density stays at least the threshold (or its own, if lower) "
        "(Bryant and Lempert 2010: they are likely fitted noise), and the box is "
        "reported as pruned. Coverage: share of all cases of interest inside the box; "
        "density: share of the box's futures that are cases; mass: share of all futures in "
        "the box.",
        "",
        "**Criteria and base rates** (share of futures, ± binomial standard error "
        f"sqrt(p(1-p)/{n})):",
        "",
    ]
    meaning = {
        **{k: v[1] for k, v in CRITERIA.items()},
        "fails": "either of the above",
        "succeeds": "neither: net benefit >= 0 and retention does not fall",
    }
    lines += markdown_table(
        ["criterion", "meaning", "futures", "share"],
        [
            [f"`{c}`", meaning[c], str(int(flags[c].sum())), _pm(rates[c], n, ".0%")]
            for c in ["hk_net_benefit_negative", "retention_falls", "fails", "succeeds"]
        ],
    )
    bad = {m: int((~np.isfinite(effects[m].to_numpy(float))).sum()) for m, _ in CRITERIA.values()}
    if any(bad.values()):
        lines += [
            "",
            "Non-finite effects (counted as not failing): "
            + ", ".join(f"{m}: {k}" for m, k in bad.items() if k),
        ]
    lines += [""]
    if rates["fails"] > 0.5:
        lines += [
            f"The platform fails in most futures ({rates['fails']:.0%}), so a box of failure "
            "says little (the whole space is already dense in it); PRIM is also run on the "
            "complement, `succeeds`: where the platform pays back.",
            "",
        ]
    for c in searched:
        k = int(flags[c].sum())
        lines.append(f"### PRIM on `{c}` ({k} of {n} futures, {rates[c]:.0%})")
        lines.append("")
        bs = boxes.get(c, [])
        if k < MIN_CASES:
            lines += [f"Fewer than {MIN_CASES} cases of interest: no box fitted.", ""]
            continue
        if rates[c] >= size.threshold:
            lines += [
                f"The base rate already reaches the density threshold ({size.threshold}): "
                "any box only sharpens what holds nearly everywhere.",
                "",
            ]
        if not bs:
            lines += [
                "PRIM found no box that restricts a parameter and is denser than the whole space.",
                "",
            ]
            continue
        for b in bs:
            flag = "" if b.meets_threshold else " (below the density threshold)"
            if not (b.limits["qp"] <= SIGNIFICANT).any():
                flag += f" (no restriction has a quasi-p-value below {SIGNIFICANT}: likely noise)"
            if b.dropped:
                flag += f" ({len(b.dropped)} restriction(s) dropped as not significant)"
            lines += [
                f"**Box {b.number}**{flag}: {b.describe()}. Precision: density "
                f"{_pm(b.density, b.n)} (n = {b.n}), coverage "
                f"{_pm(b.coverage, k)} (n = {k}).",
                "",
            ]
            lines += markdown_table(
                ["parameter", "box low", "box high", "full range", "quasi-p"],
                [
                    [
                        f"`{r.parameter}`",
                        _num(r.low),
                        _num(r.high),
                        f"{_num(r.full_low)} - {_num(r.full_high)}",
                        "" if not np.isfinite(r.qp) else f"{r.qp:.2g}",
                    ]
                    for r in b.limits.itertuples(index=False)
                ],
            )
            lines.append("")
    lines += ["![PRIM boxes](prim.png)", ""]
    if len(scores.columns):
        top = scores.head(8)
        lines += [
            "**Feature scores** (extra trees, seeded; share of the trees' impurity decrease; "
            "classification of each flag, regression of the net benefit effect), the "
            "parameters that best predict each, top 8 by the first column "
            "(all in feature_scores.csv):",
            "",
        ]
        lines += markdown_table(
            ["parameter", *(f"`{c}`" for c in top.columns)],
            [[f"`{p}`", *(f"{v:.3f}" for v in row)] for p, row in top.iterrows()],
        )
        lines.append("")
    else:
        lines += [
            f"No feature scores: every criterion has fewer than {MIN_CASES} futures in "
            "one of its classes.",
            "",
        ]
    lines += [
        "**Precision.** With "
        f"{n} futures a share p has a binomial standard error sqrt(p(1-p)/{n}) (at most "
        f"{_se(0.5, n):.2f}); a box's density and coverage have the same with n the futures in "
        "the box and the cases of interest (stated with each box; at 0 or 1, where that error "
        "vanishes, the rule of three's 95% bound). These errors are optimistic: PRIM chose "
        "each box on the same futures, so a box's density on new futures is likely lower "
        "(a fresh sample, `--root-seed`, tests it). Quasi-p-values (Bryant and "
        "Lempert 2010) test each restriction against dropping it (one-sided binomial); a "
        f"restriction with quasi-p above {SIGNIFICANT} may be noise. Each future's effect is "
        f"the mean of {size.seeds} seed(s): at the nominal future the seed noise sd of a "
        f"paired effect ({NOISE_SEEDS} seeds) is {sd_nb} HKD m on "
        f"the net benefit and {sd_ret} on retention; "
        f"{near['hk_net_benefit_negative']:.0%} and {near['retention_falls']:.0%} of futures "
        "lie within two standard errors of zero on these, so their flags could flip with "
        "other seeds.",
        "",
        f"**Runs.** {lab.done} runs done, {lab.skipped} reused from the store, "
        f"{lab.failed} failed; {lab.seconds:.0f} s of runs, {wall:.0f} s wall time "
        f"({engine}). Sizes: futures {size.futures}, seeds {size.seeds}, "
        f"threshold {size.threshold}; root seed {settings.root_seed}. Tables: futures.csv "
        "(futures in parameter units, effects, flags), boxes.csv, feature_scores.csv.",
        "",
    ]
    return "\n".join(lines)
