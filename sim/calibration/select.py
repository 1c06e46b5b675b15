"""Which parameter set the baseline runs: the posterior particle that fits best at the
scale scenarios run at.

An ABC posterior is a cloud; every user runs one point of it (``calibrated.yaml``, which
``scenarios/baseline.yaml`` extends). The weighted marginal medians are not a particle and
need not fit (medians of correlated parameters can land off the ridge the data define), so
the point is chosen, not assumed: the candidates are the weighted median set and the
particles of lowest ABC distance; each runs with the same seeds at the scale scenarios use
(full scale by default), and the set whose *seed-means* (seeds 0-3 and seeds 4-7, each
group on its own) are closest to the data at their worst fitted point wins (ties: lower RMS
standardised distance). The report shows the candidates'
scores, so the choice can be checked.

If even the best candidate misses a point by more than the tolerance, :func:`refine` polishes
it: Nelder-Mead within the prior box on the same seeds and scale, minimising the seed-mean's
standardised distance plus a penalty on every point beyond the tolerance. The refined set is
kept only if its worst point improves; the report then names it "refined" and gives the
distance it moved from its particle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.config import Priors, Targets
from sim.calibration.posterior import point_estimate
from sim.params import Scenario

#: Seeds whose mean must fit (the issue's criterion: the mean of 4 seeds).
SELECT_SEEDS = 4
#: Particles of lowest distance tried beside the weighted median set.
SELECT_CANDIDATES = 24
#: The groups of seeds whose means must each fit (issue 24: seeds 0-3 *and* seeds 4-7, so
#: that the fit is not an accident of four seeds).
SEED_GROUPS: tuple[tuple[int, ...], ...] = (
    tuple(range(SELECT_SEEDS)),
    tuple(range(SELECT_SEEDS, 2 * SELECT_SEEDS)),
)
#: Seeds of the selection runs (fixed: the same for every candidate, common random numbers).
SEEDS = tuple(s for group in SEED_GROUPS for s in group)
#: The tolerance a baseline set must meet at every fitted point (issue: within 10%).
TOLERANCE = 0.10
#: Refinement aims a little inside the tolerance, so seed noise does not push points out.
REFINE_AIM = 0.08
#: Weight of the penalty on points beyond REFINE_AIM (relative error squared).
REFINE_PENALTY = 2000.0
#: Objective evaluations of the refinement (each is one run per seed of SEEDS); 250 at 4
#: seeds took 446 s of the report's 524 (calibration.json of model 5), so 160 at 8 seeds
#: keeps the full refit within issue 24's 45 minutes.
REFINE_EVALS = 160
#: Nelder-Mead's first simplex: this share of each prior range around the start.
REFINE_STEP = 0.05


@dataclass(frozen=True)
class Selection:
    """The chosen set, how every candidate scored, and the chosen set's runs.

    Attributes:
        values: the chosen parameter set (dotted keys; counts rounded).
        label: ``median`` or ``particle <n>``.
        candidates: one row per candidate: ``label``, ``abc_distance``, ``max_abs_error``
            (worst relative error of the seed-mean over fitted points), ``worst_point``,
            ``distance`` (standardised distance of the seed-mean), ``chosen``.
        runs: annual frames of the chosen set (columns ``seed``, ``year``, targets' columns).
        seeds, scale: of the selection runs.
    """

    values: dict[str, float | int]
    label: str
    candidates: pd.DataFrame
    runs: pd.DataFrame
    seeds: tuple[int, ...]
    scale: float


def annual_targets(
    base: Scenario,
    values: Mapping[str, Any],
    seed: int,
    scale: float,
    until: int,
    cols: Sequence[str],
) -> pd.DataFrame:
    """One run's annual frame, year and the given target columns (full-economy units)."""
    import sim

    res = sim.run(base, seed=seed, scale=scale, until=until, **dict(values))
    return res.annual[["year", *cols]]


def seed_mean_points(targets: Targets, runs: pd.DataFrame) -> np.ndarray:
    """The targets' point values of each run (moments per run), averaged over runs."""
    per_run = [targets.simulated(df) for _, df in runs.groupby("seed", sort=True)]
    return np.nanmean(np.vstack(per_run), axis=0)


def group_errors(targets: Targets, runs: pd.DataFrame) -> list[np.ndarray]:
    """Per group of :data:`SEED_GROUPS` present in ``runs``, the relative errors of its
    seed-mean (all runs as one group if their seeds are not those groups)."""
    groups = seed_groups(sorted(runs["seed"].unique().tolist()))
    return [
        targets.relative_errors(seed_mean_points(targets, runs[runs["seed"].isin(g)]))
        for g in groups
    ]


def group_score(targets: Targets, runs: pd.DataFrame) -> tuple[float, str, float]:
    """:func:`score` over seed groups: the worst relative error of any group's seed-mean,
    its point, and the standardised distance of the mean over all seeds."""
    worst, where = -1.0, ""
    have = sorted(runs["seed"].unique().tolist())
    for g, rel in zip(seed_groups(have), group_errors(targets, runs), strict=True):
        rel = np.where(np.isfinite(rel), np.abs(rel), np.inf)
        i = int(np.argmax(rel))
        if rel[i] > worst:
            worst, where = float(rel[i]), f"{targets.labels[i]} (seeds {g[0]}-{g[-1]})"
    return worst, where, targets.distance(seed_mean_points(targets, runs))


def seed_groups(have: Sequence[int]) -> list[tuple[int, ...]]:
    """The :data:`SEED_GROUPS` that make up ``have``, or ``have`` as one group."""
    groups = [g for g in SEED_GROUPS if set(g) <= set(have)]
    return groups if sum(len(g) for g in groups) == len(have) else [tuple(have)]


def score(targets: Targets, x: np.ndarray) -> tuple[float, str, float]:
    """Worst absolute relative error over fitted points, its label, and the distance."""
    rel = np.abs(targets.relative_errors(x))
    rel = np.where(np.isfinite(rel), rel, np.inf)
    i = int(np.argmax(rel))
    return float(rel[i]), targets.labels[i], targets.distance(x)


def select_baseline(
    targets: Targets,
    priors: Priors,
    base: Scenario,
    posterior: pd.DataFrame,
    *,
    executor: Executor,
    scale: float = 1.0,
    candidates: int = SELECT_CANDIDATES,
    seeds: tuple[int, ...] = SEEDS,
) -> Selection:
    """Run the candidates with ``seeds`` at ``scale`` and pick the best (module docstring)."""
    cols = list(dict.fromkeys(s.model_column for s in targets.series))
    until = targets.last_year
    sets: list[tuple[str, float, dict[str, float | int]]] = [
        ("median", float("nan"), point_estimate(posterior, priors))
    ]
    best = posterior.sort_values("distance", kind="stable").head(candidates)
    for _, row in best.iterrows():
        values = priors.overrides({p.key: row[p.key] for p in priors.priors})
        sets.append((f"particle {int(row['particle'])}", float(row["distance"]), values))
    futures = [
        [executor.submit(annual_targets, base, values, s, scale, until, cols) for s in seeds]
        for _, _, values in sets
    ]
    rows, frames = [], []
    for (label, abc_d, _), futs in zip(sets, futures, strict=True):
        runs = pd.concat(
            [f.result().assign(seed=s) for s, f in zip(seeds, futs, strict=True)],
            ignore_index=True,
        )
        worst, where, dist = group_score(targets, runs)
        rows.append(
            {
                "label": label,
                "abc_distance": abc_d,
                "max_abs_error": worst,
                "worst_point": where,
                "distance": dist,
            }
        )
        frames.append(runs)
    table = pd.DataFrame(rows)
    order = table.sort_values(["max_abs_error", "distance"], kind="stable").index
    pick = int(order[0])
    table["chosen"] = False
    table.loc[pick, "chosen"] = True
    runs = frames[pick][["seed", "year", *cols]]
    return Selection(
        values=sets[pick][2],
        label=sets[pick][0],
        candidates=table.loc[order].reset_index(drop=True),
        runs=runs,
        seeds=tuple(seeds),
        scale=scale,
    )


def refine(
    selection: Selection,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    *,
    executor: Executor,
    max_evals: int = REFINE_EVALS,
) -> Selection:
    """Polish the chosen set when a point misses the tolerance (module docstring)."""
    from scipy.optimize import minimize

    best = selection.candidates.iloc[0]
    if best["max_abs_error"] <= TOLERANCE or max_evals <= 0:
        return selection
    cols = list(dict.fromkeys(s.model_column for s in targets.series))
    lows = np.array([p.low for p in priors.priors])
    spans = np.array([p.high - p.low for p in priors.priors])
    start = np.array([float(selection.values[p.key]) for p in priors.priors])
    cache: dict[bytes, tuple[float, pd.DataFrame, dict[str, float | int]]] = {}

    def evaluate(u: np.ndarray) -> float:
        u = np.clip(u, 0.0, 1.0)
        key = u.tobytes()
        if key not in cache:
            raw = {p.key: float(v) for p, v in zip(priors.priors, lows + u * spans, strict=True)}
            values = priors.overrides(raw)
            futs = [
                executor.submit(
                    annual_targets, base, values, s, selection.scale, targets.last_year, cols
                )
                for s in selection.seeds
            ]
            runs = pd.concat(
                [f.result().assign(seed=s) for s, f in zip(selection.seeds, futs, strict=True)],
                ignore_index=True,
            )
            x = seed_mean_points(targets, runs)
            f = targets.distance(x) + REFINE_PENALTY * sum(
                float(np.sum(np.maximum(np.abs(np.nan_to_num(rel, nan=1.0)) - REFINE_AIM, 0) ** 2))
                for rel in group_errors(targets, runs)
            )
            cache[key] = (f, runs, values)
        return cache[key][0]

    u0 = (start - lows) / spans
    simplex = np.vstack([u0] + [u0 + REFINE_STEP * np.eye(len(u0))[i] for i in range(len(u0))])
    res = minimize(
        evaluate,
        u0,
        method="Nelder-Mead",
        options={"maxfev": max_evals, "initial_simplex": np.clip(simplex, 0, 1), "xatol": 1e-3},
    )
    evaluate(res.x)
    _, runs, values = cache[np.clip(res.x, 0.0, 1.0).tobytes()]
    worst, where, dist = group_score(targets, runs)
    if worst >= best["max_abs_error"]:
        return selection
    moved = float(np.sqrt(np.mean((np.clip(res.x, 0, 1) - u0) ** 2)))
    label = f"{selection.label}, refined"
    row = {
        "label": label,
        "abc_distance": float("nan"),
        "max_abs_error": worst,
        "worst_point": where,
        "distance": dist,
        "chosen": True,
        "evaluations": len(cache),
        "moved_rms_share_of_prior_range": moved,
    }
    table = selection.candidates.assign(chosen=False)
    table = pd.concat([pd.DataFrame([row]), table], ignore_index=True)
    return Selection(
        values=values,
        label=label,
        candidates=table,
        runs=runs[["seed", "year", *cols]],
        seeds=selection.seeds,
        scale=selection.scale,
    )
