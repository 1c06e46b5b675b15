"""Fit the platform's engineering service to what the published client studies measured.

A point fit in two stages, with a stated distance. The three service parameters
(``platform.success_uplift``, ``platform.industrialisation_success_probability``,
``platform.duration_factor``) have their evidence ranges in ``calibration/priors.yaml``
(section ``evidence``) as priors.

1. **Stage one**: a Latin hypercube over the prior box (and the current defaults), each
   point evaluated by every design with the same few seeds (common random numbers, so points
   differ by their parameters, not their luck). A quadratic emulator of each fitted row on
   the three parameters says how far the rows are identified (its R^2) and proposes an
   optimum.
2. **Stage two** (``race``): the best points of stage one, the emulator's optimum and the
   previous defaults are rerun with more seeds, none of stage one's (so a point lucky on
   those is not favoured twice); the smallest distance wins (``fitted``).
   Single points of stage one are too noisy to rank (a design's estimate moves by tens of
   percent between seeds) and the emulator too rough to trust alone, so the race decides.

Distance: the sum over ``FIT_ROWS`` of the squared distance of each row's estimate (over
seeds, ``Evaluation.table``) to its target, in units of its acceptance band (1 at the band's
edge; ``bands``): a published range's midpoint, or a published point with its factor-two
band. A row without an estimate adds ``MISSING_PENALTY``. Seed noise does not lower the
distance: every point is judged on the same seeds. The rows are the designs whose outcome
the service moves and the model can match (``FIT_ROWS``). The estimates are what the designs
measure, selection included, never the true effects: the fit makes the model's clients
look, through the studies' own lenses, like the clients the studies saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.evaluation import studies
from sim.params import SERVICE_FIT_PARAMETERS
from sim.reporting import CSV_FLOAT_FORMAT, markdown_table

PARAMETERS = SERVICE_FIT_PARAMETERS
#: The rows fitted: the designs whose outcome the service moves and the model can match.
#: Left out: productivity and survival (no channel, ``report.WHY_MISS``), and TO2 and TNO,
#: whose effects come through a channel the model does not have (contract research on
#: current business) or from the Dutch partners' own selection: fitting them would trade
#: misses the parameters cannot close against rows they can.
FIT_ROWS: tuple[tuple[str, str], ...] = (
    ("fraunhofer", "value_added"),
    ("innovate_uk", "employment"),
    ("innovate_uk", "value_added"),
    ("erdf", "counterfactual_to_monitored_jobs"),
)
#: What a row without an estimate adds to the distance (assumption: as bad as ten band
#: half-widths off, so a point cannot win by producing no estimate).
MISSING_PENALTY = 100.0


#: Grid points per parameter on which the emulated distance is minimised (assumption: a
#: 1/24 step of each prior range is finer than the emulator's precision).
GRID_STEPS = 25


def bands(rows: tuple[tuple[str, str], ...] = FIT_ROWS) -> pd.DataFrame:
    """Each row's target and the distances from it to the band's edges: a published range's
    midpoint and half-width each side; a published point itself, with its factor-two band's
    edges (asymmetric: half the point below, the point above)."""
    p = studies.published().set_index(["study", "outcome"]).loc[list(rows)]
    ranged = p["published_low"].notna() & p["published_high"].notna()
    centre = ((p["band_low"] + p["band_high"]) / 2).where(ranged, p["published"])
    return pd.DataFrame(
        {"centre": centre, "below": centre - p["band_low"], "above": p["band_high"] - centre}
    )


def distance(estimate: pd.Series, rows: tuple[tuple[str, str], ...] = FIT_ROWS) -> float:
    """The fit's distance of estimates indexed by study and outcome (module docstring): the
    sum of squared distances to each row's target in units of the band (1 at its edge);
    ``MISSING_PENALTY`` for a row without an estimate."""
    b = bands(rows)
    return float(distances(estimate.reindex(b.index).to_numpy(float), b)[0])


def distances(estimates: np.ndarray, b: pd.DataFrame) -> np.ndarray:
    """:func:`distance` of each row of ``estimates`` (one column per row of the bands
    ``b``), for many points at once."""
    e = np.atleast_2d(estimates)
    off = e - b["centre"].to_numpy()
    z = off / np.where(off < 0, b["below"].to_numpy(), b["above"].to_numpy())
    return np.sum(np.where(np.isfinite(z), z**2, MISSING_PENALTY), axis=1)


def estimates(table: pd.DataFrame, rows: tuple[tuple[str, str], ...] = FIT_ROWS) -> pd.Series:
    """The fitted rows' estimates of an evaluation table (``Evaluation.table``)."""
    return table.set_index(["study", "outcome"])["simulated"].reindex(list(rows))


def features(x: np.ndarray) -> np.ndarray:
    """Quadratic terms of the parameters (constant, linear, squares and products)."""
    x = np.atleast_2d(x)
    cols = [np.ones(len(x))] + [x[:, i] for i in range(x.shape[1])]
    cols += [x[:, i] * x[:, j] for i in range(x.shape[1]) for j in range(i, x.shape[1])]
    return np.column_stack(cols)


def prior_ranges(priors: str | Path | None = None) -> dict[str, tuple[float, float]]:
    """The evidence ranges of ``PARAMETERS`` in ``priors.yaml`` (the fit's priors)."""
    from sim.calibration.config import load_priors
    from sim.calibration.defaults import DEFAULT_PRIORS
    from sim.errors import CalibrationError

    path = Path(priors) if priors is not None else Path(DEFAULT_PRIORS)
    found = {p.key: (p.low, p.high) for p in load_priors(path).evidence}
    missing = [k for k in PARAMETERS if k not in found]
    if missing:
        raise CalibrationError(path, "the service fit needs an evidence range", key=missing[0])
    return {k: found[k] for k in PARAMETERS}


def design_points(ranges: dict[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    """``n`` Latin-hypercube points over ``ranges``."""
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(ranges), seed=seed).random(n)
    lo = np.array([r[0] for r in ranges.values()])
    hi = np.array([r[1] for r in ranges.values()])
    return pd.DataFrame(lo + u * (hi - lo), columns=list(ranges))


@dataclass
class ServiceFit:
    """The points tried, their estimates, the emulator and its optimum."""

    points: pd.DataFrame  # one row per point: parameters, and distance of its own estimates
    estimates: pd.DataFrame  # one row per point: the fitted rows' estimates
    by_seed: pd.DataFrame  # every point's per-seed estimates (column ``point``)
    ranges: dict[str, tuple[float, float]]

    def _unit(self, x: np.ndarray) -> np.ndarray:
        lo = np.array([self.ranges[k][0] for k in PARAMETERS])
        hi = np.array([self.ranges[k][1] for k in PARAMETERS])
        return (x - lo) / (hi - lo)

    def _f(self) -> np.ndarray:
        return features(self._unit(self.points[list(PARAMETERS)].to_numpy(float)))

    def emulator(self) -> dict[tuple[str, str], np.ndarray]:
        """Least-squares quadratic coefficients of each fitted row on the parameters."""
        f = self._f()
        coefs = {}
        for row in FIT_ROWS:
            v = self.estimates[row].to_numpy(float)
            ok = np.isfinite(v)
            coefs[row] = np.linalg.lstsq(f[ok], v[ok], rcond=None)[0]
        return coefs

    def r2_loo(self) -> pd.Series:
        """Leave-one-out R^2 of each row's emulator: how far the three parameters predict the
        row at a point the emulator has not seen (0 or below: not identified)."""
        f = self._f()
        out = {}
        for row in FIT_ROWS:
            v = self.estimates[row].to_numpy(float)
            ok = np.flatnonzero(np.isfinite(v))
            if ok.size <= f.shape[1] + 1:
                out[row] = float("nan")
                continue
            pred = np.empty(ok.size)
            for j, i in enumerate(ok):
                rest = ok[ok != i]
                c = np.linalg.lstsq(f[rest], v[rest], rcond=None)[0]
                pred[j] = f[i] @ c
            resid = v[ok] - pred
            out[row] = float(1 - resid.var() / v[ok].var()) if v[ok].var() > 0 else float("nan")
        return pd.Series(out)

    def emulated(self, x: np.ndarray) -> pd.DataFrame:
        """Emulated estimates of the fitted rows at parameter points ``x``."""
        f = features(self._unit(np.atleast_2d(x)))
        return pd.DataFrame({row: f @ c for row, c in self.emulator().items()})

    @property
    def best(self) -> dict[str, float]:
        """The grid point of the prior box with the smallest emulated distance."""
        axes = [np.linspace(*self.ranges[k], GRID_STEPS) for k in PARAMETERS]
        grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(PARAMETERS), -1).T
        est = self.emulated(grid)[list(FIT_ROWS)].to_numpy(float)
        i = int(np.argmin(distances(est, bands(FIT_ROWS))))
        return {k: float(grid[i, j]) for j, k in enumerate(PARAMETERS)}


def fit(
    policy: Any = "hk_pilot_platform",
    *,
    points: pd.DataFrame | None = None,
    n_points: int = 24,
    seeds: int = 6,
    scale: float = 1.0,
    jobs: int | None = None,
    design_seed: int = 0,
    priors: str | Path | None = None,
    include: dict[str, float] | None = None,
) -> ServiceFit:
    """Evaluate each point (``points``, or ``n_points`` Latin-hypercube points over the
    priors, plus ``include`` if given) with ``seeds`` seeds; the result ranks the points by
    their own distance and carries the emulator (module docstring)."""
    from sim.evaluation.evaluate import evaluate

    ranges = prior_ranges(priors)
    if points is None:
        points = design_points(ranges, n_points, design_seed)
    if include is not None:
        points = pd.concat([points, pd.DataFrame([include])], ignore_index=True)
    frames, dist, est = [], [], []
    for i, row in points.iterrows():
        ev = evaluate(policy, seeds=seeds, scale=scale, jobs=jobs, overrides=row.to_dict())
        e = estimates(ev.table)
        est.append(e.to_numpy(float))
        dist.append(distance(e))
        frames.append(ev.by_seed.assign(point=int(i)))
    out = points.copy()
    out["distance"] = dist
    table = pd.DataFrame(est, index=out.index, columns=pd.MultiIndex.from_tuples(FIT_ROWS))
    return ServiceFit(out, table, pd.concat(frames, ignore_index=True), ranges)


def summary(result: ServiceFit) -> dict[str, Any]:
    own = int(result.points["distance"].idxmin())
    return {
        "emulator": result.best,
        "r2_loo": {f"{s}: {o}": round(float(v), 3) for (s, o), v in result.r2_loo().items()},
        "best_point_tried": {k: float(result.points.loc[own, k]) for k in PARAMETERS},
        "best_point_distance": float(result.points.loc[own, "distance"]),
        "points": len(result.points),
    }


#: Files ``ServiceFit.write`` produces.
FIT_NAMES: tuple[str, ...] = (
    "service_fit.md",
    "service_fit_race.csv",
    "service_fit_points.csv",
    "service_fit_by_seed.csv",
)


def markdown(result: ServiceFit, raced: pd.DataFrame) -> str:
    """The fit's report: priors, stage one, the emulator's R^2, stage two, the fitted point."""
    s = summary(result)
    n1 = int(result.by_seed.groupby("point")["seed"].nunique().max())
    best = fitted(raced)
    lines = [
        "# The platform's engineering service fitted to the published client studies",
        "",
        f"Stage one: {len(result.points)} points (a Latin hypercube over the evidence ranges "
        "of `calibration/priors.yaml`, and the previous defaults), each evaluated by "
        f"`pilotsim evaluate`'s designs with {n1} seeds. Stage two: the best of them, the "
        "emulator's optimum and the previous defaults with more seeds. Method and distance: "
        "`sim.evaluation.fit`.",
        "",
    ]
    lines += markdown_table(
        ["parameter", "prior range", "fitted (stage two)", "emulator's optimum"],
        [
            [
                f"`{k}`",
                f"{result.ranges[k][0]:g} to {result.ranges[k][1]:g}",
                f"{best[k]:.3f}",
                f"{s['emulator'][k]:.3f}",
            ]
            for k in PARAMETERS
        ],
        "lrrr",
    )
    lines += [
        "",
        "How far each fitted row is predicted by the three parameters at a point the emulator "
        "has not seen (leave-one-out R^2 over stage one's points; 0 or below: the parameters "
        "do not identify the row beyond seed noise):",
        "",
    ]
    lines += markdown_table(
        ["study: outcome", "leave-one-out R^2"],
        [[f"{k}", f"{v:.2f}"] for k, v in s["r2_loo"].items()],
        "lr",
    )
    lines += [
        "",
        f"Stage two (seeds from {RACE_FIRST_SEED}, none of stage one's, the same for every "
        "candidate; distance of each candidate's own estimates):",
        "",
    ]
    header = [
        "candidate",
        *(f"`{k.split('.')[1]}`" for k in PARAMETERS),
        "distance",
        "rows within",
        "studies within",
    ]
    rows = [
        [
            f"{r['candidate']}",
            *(f"{r[k]:.3f}" for k in PARAMETERS),
            f"{r['distance']:.1f}",
            f"{r['rows_within']}",
            f"{r['studies_within']}",
        ]
        for _, r in raced.iterrows()
    ]
    lines += markdown_table(header, rows, "l" + "r" * (len(PARAMETERS) + 3))
    lines.append("")
    return "\n".join(lines)


def write(result: ServiceFit, raced: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``FIT_NAMES`` into ``out``, all or nothing."""
    from sim.provenance import write_files

    return write_files(
        out,
        {
            "service_fit.md": lambda p: p.write_text(markdown(result, raced), encoding="utf-8"),
            "service_fit_race.csv": lambda p: raced.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
            "service_fit_points.csv": lambda p: result.points.to_csv(
                p, index_label="point", float_format=CSV_FLOAT_FORMAT
            ),
            "service_fit_by_seed.csv": lambda p: result.by_seed.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
        },
    )


#: Stage two runs seeds from here: none of stage one's, so a point that was lucky on stage
#: one's seeds is not favoured again (assumption: stage one never uses this many seeds).
RACE_FIRST_SEED = 1000
#: Stage two of the fit: the best points of stage one by their own distance, raced with
#: more seeds (assumption: four, with the emulator's optimum, cover the low-distance regions
#: of a noisy, possibly multimodal landscape at a cost of one evaluation each).
RACE_TOP = 4


def race(
    result: ServiceFit,
    policy: Any = "hk_pilot_platform",
    *,
    seeds: int,
    scale: float = 1.0,
    jobs: int | None = None,
    top: int | None = None,
) -> pd.DataFrame:
    """Stage two: rerun the ``top`` points of stage one, the emulator's optimum and the last
    point tried (the previous defaults, when ``include`` gave them) with ``seeds`` fresh seeds
    (``RACE_FIRST_SEED`` on, the same for all); the smallest distance is the fitted service."""
    from sim.evaluation.evaluate import evaluate

    top = RACE_TOP if top is None else top
    pts = result.points.sort_values("distance")
    candidates: dict[str, dict[str, float]] = {}
    for i, row in pts.head(top).iterrows():
        candidates[f"point {i}"] = {k: float(row[k]) for k in PARAMETERS}
    candidates["emulator optimum"] = result.best
    last = result.points.index[-1]
    candidates[f"point {last} (last tried)"] = {
        k: float(result.points.loc[last, k]) for k in PARAMETERS
    }
    rows = []
    for name, point in candidates.items():
        ev = evaluate(
            policy,
            seeds=seeds,
            scale=scale,
            jobs=jobs,
            overrides=point,
            first_seed=RACE_FIRST_SEED,
        )
        within = ev.table["within"]
        rows.append(
            {
                "candidate": name,
                **point,
                "distance": distance(estimates(ev.table)),
                "rows_within": int(within.sum()),
                "studies_within": int(ev.table.loc[within, "study"].nunique()),
            }
        )
    return pd.DataFrame(rows).sort_values("distance", ignore_index=True)


def fitted(raced: pd.DataFrame) -> dict[str, float]:
    """The raced candidate with the smallest distance."""
    best = raced.sort_values("distance").iloc[0]
    return {k: float(best[k]) for k in PARAMETERS}
