"""``pilotsim calibrate --retune TARGETS.yaml``: a new posterior from the banked ABC runs.

A targets file that changes observed values, ``level_sd``/``growth_sd``, weights, or drops
series or years only changes the distance d'(x); the runs are the same. So the new ABC
posterior is estimated by **importance sampling** over stored runs, with no new run. Two
methods, by what is stored beside the ABC-SMC database:

**Every run (the run bank, ``bank.py``; calibrations with ``--bank-runs``, the default).**
Run i of generation t (accepted or not, with its complete statistics x_i) is a draw from
that generation's proposal q_t: the prior for t <= 0 (t = -1 is pyabc's calibration
sample), pyabc's transition refitted to generation t-1's weighted particles for t >= 1,
truncated to the prior's box. Pooling all runs as one deterministic mixture (the balance
heuristic), q_mix = sum_t n_t q_t / sum_t n_t with n_t the runs of generation t, the
weights w_i = prior(theta_i) / q_mix(theta_i) * 1[d'(x_i) <= eps'] sample the new ABC
posterior at eps' exactly: no assumption on the old acceptance regions, only that q_mix
covers the new posterior (generation 0 is the prior, so it does; where only its runs
reach, the ESS is small and says so). eps' is the smallest tolerance at which the ESS
reaches ``ess_floor``; if none does, the tolerance of the largest ESS, flagged.

**Accepted particles only (the fallback, for databases without a run bank).** pyabc's
database holds every generation's accepted particles: theta_i, the statistics x_i of the
run that accepted them, pyabc's importance weights w_i and each generation's tolerance
eps_t:

- Generation t's weighted particles are an importance sample of the joint ABC target
  p(theta) p(x | theta) 1[d(x) <= eps_t] (proposal q_t, weight prior / q_t; pyabc's).
  Multiplying by 1[d'(x) <= eps'] gives p(theta) p(x | theta) 1[d <= eps_t] 1[d' <= eps'],
  which is the new ABC posterior at tolerance eps' **if the new acceptance region lies
  inside the old one**, {d' <= eps'} within {d <= eps_t}, for the mass that matters
  (the assumption of the method).
- That assumption is checked per generation. Going from the loosest generation (t = 0,
  whose region is assumed to hold all the mass that matters: it is the prior sample at the
  widest tolerance) to tighter ones, the retained particles of the generations already
  used estimate the share of the new posterior whose *old* distance exceeds eps_t (the
  mass generation t cannot have sampled). Generation t is used only while that share is
  at most ``max_outside``; the first one above it and all tighter ones are left out.
- The used generations' retained samples, each normalised, are pooled with weights
  proportional to their effective sample sizes (ESS; inverse-variance pooling of unbiased
  estimates of the same posterior).
- eps' is the smallest tolerance at which the pooled ESS reaches ``ess_floor``; if none
  does, the tolerance of the largest pooled ESS, flagged in the report.

With targets identical to the bank's, d' = d and the used generations are those with
eps_t >= eps': the result is the ABC posterior at eps' (the report compares it with the
bank's generation of nearest tolerance). It cannot be tighter than the bank's last
generation, and a target that moves the posterior outside the banked cloud gets a loose
eps' or a small ESS (both reported): then a full refit is needed. The check is
conservative when the looser generations hold few runs near the new targets (it judges by
their ``JUDGE_N`` nearest runs, which may lie far out): on the committed bank, dropping a
series and lowering a weight kept only generations 0-1 (eps' about 4), while the bank's own
targets kept generations 3-11 (eps' 1.63). The re-weighting is
deterministic (no random draw; the run bank's truncation constants use a seeded draw);
the baseline set runs fixed seeds (``select.SEEDS``). The report and ``retune.json`` name
the method used, and why the run bank was not (``Bank.note``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.config import (
    Priors,
    Series,
    Targets,
    load_priors,
    load_targets,
    relative_error,
)
from sim.calibration.defaults import (
    CALIBRATION_DIR,
    DB_NAME,
    DEFAULT_PRIORS,
    DEFAULT_TARGETS,
    FULL,
    QUICK,
    QUICK_CANDIDATES,
)
from sim.calibration.defaults import (
    RETUNE_ESS_FLOOR as ESS_FLOOR,
)
from sim.calibration.defaults import (
    RETUNE_OUT as DEFAULT_OUT,
)
from sim.calibration.posterior import weighted_quantile
from sim.errors import CalibrationError, ExecutorError, UsageError
from sim.params import Scenario
from sim.reporting import CSV_FLOAT_FORMAT

#: Largest share of the new posterior a generation may miss (mass outside its old
#: acceptance region) and still be used: beyond 5% its sample is visibly truncated.
MAX_OUTSIDE = 0.05
#: Runs that judge whether a generation holds the new posterior: the used looser
#: generations' runs inside eps', or at least this many nearest the new targets (a share of
#: 5% needs about 20 runs to be told from 0).
JUDGE_N = 20
#: Most candidate tolerances tried for eps' (quantiles of the new distances): a finer grid
#: changes eps' by less than the spacing of the particles' distances.
EPS_GRID = 400
#: Posterior-predictive band of the report (as the calibration report's).
BAND = (0.05, 0.95)
#: The two methods: over every banked run (exact), over the accepted particles (fallback).
METHOD_RUNS = "importance sampling over every banked run (deterministic mixture)"
METHOD_ACCEPTED = "re-weighting of the accepted particles (no run bank)"
#: What a retune writes into its ``--out``.
RETUNE_NAMES: tuple[str, ...] = (
    "posterior.csv",
    "calibrated.yaml",
    "report.md",
    "retune.json",
    "fit.csv",
    "baseline_selection.csv",
)

Log = Callable[[str], Any]

# --------------------------------------------------------------------------- the bank


@dataclass(frozen=True)
class Bank:
    """All generations' accepted particles of an ABC run.

    Attributes:
        targets: the targets the bank was fitted to (``x``'s columns are its points).
        params: one row per particle, the parameters by dotted key.
        t: generation of each particle.
        epsilon: tolerance of each generation, indexed by ``t``.
        weight: pyabc importance weight, normalised within each generation.
        x: the stored summary statistics, one row per particle.
        distance: each particle's distance under ``targets``.
        path: the database (None for a synthetic bank).
        fingerprint: hash of the database file (empty for a synthetic bank).
        mixture: for a run bank (every run, ``bank.py``), each run's importance weight
            prior / q_mix; None for the accepted particles only.
        note: why the run bank was not used (empty if it was, or if there is none).
    """

    targets: Targets
    params: pd.DataFrame
    t: np.ndarray
    epsilon: np.ndarray
    weight: np.ndarray
    x: np.ndarray
    distance: np.ndarray
    path: Path | None = None
    fingerprint: str = ""
    mixture: np.ndarray | None = None
    note: str = ""

    @property
    def method(self) -> str:
        """Which method re-weights this bank."""
        return METHOD_RUNS if self.mixture is not None else METHOD_ACCEPTED


def file_fingerprint(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def load_bank(db: Path, targets: Targets, priors: Priors) -> Bank:
    """Every generation's particles of the pyabc database ``db``, checked against the
    targets it was fitted to.

    Raises:
        CalibrationError: no database, its parameters are not the priors', or its observed
            statistics or distances are not those of ``targets`` (the bank was fitted to
            other targets).
    """
    import pyabc

    from sim.calibration.smc import load_history

    result = load_history(db, priors)  # checks the file and the parameters
    history = pyabc.History(f"sqlite:///{db.resolve()}", create=False)
    observed = np.asarray(history.observed_sum_stat().get("x", []), dtype=float)
    if observed.shape != targets.observed.shape or not np.allclose(
        observed, targets.observed, rtol=1e-9, atol=0.0
    ):
        raise CalibrationError(
            db,
            f"the bank was fitted to other targets than {targets.path}: its observed "
            f"statistics ({observed.size} points) are not those targets' "
            f"({targets.observed.size} points); give the targets file of the bank's run "
            "with --targets",
        )
    frames, xs, ts = [], [], []
    for t, frame in sorted(result.populations.items()):
        w, stats = history.get_weighted_sum_stats(t)
        if not np.allclose(np.asarray(w, float), frame["weight"].to_numpy(float)):
            raise CalibrationError(
                db, f"generation {t}: weights of statistics and particles differ"
            )
        xs.append(np.vstack([np.asarray(s["x"], dtype=float) for s in stats]))
        frames.append(frame)
        ts.append(np.full(len(frame), t))
    pops = pd.concat(frames, ignore_index=True)
    x = np.vstack(xs)
    distance = np.array([targets.distance(row) for row in x])
    stored = pops["distance"].to_numpy(float)
    if not np.allclose(distance, stored, rtol=1e-7, atol=1e-9):
        raise CalibrationError(
            db,
            f"the stored distances are not those of {targets.path} (largest difference "
            f"{np.max(np.abs(distance - stored)):.3g}): the bank was fitted with other "
            "level_sd, growth_sd or weights; give its targets file with --targets",
        )
    t_all = np.concatenate(ts).astype(int)
    weight = pops["weight"].to_numpy(float).copy()
    for t in np.unique(t_all):
        weight[t_all == t] /= weight[t_all == t].sum()
    gens = result.generations.sort_values("t")
    return Bank(
        targets=targets,
        params=pops[priors.keys].reset_index(drop=True),
        t=t_all,
        epsilon=gens["epsilon"].to_numpy(float),
        weight=weight,
        x=x,
        distance=distance,
        path=db,
        fingerprint=file_fingerprint(db),
    )


def load_run_bank(accepted: Bank, priors: Priors) -> Bank:
    """The run bank beside ``accepted``'s database (``bank.py``) as a :class:`Bank` of every
    run with its mixture weight; ``accepted`` itself, with a ``note``, when there is no run
    bank or it does not cover the database's generations.

    Raises:
        CalibrationError: the run bank's statistics or distances are not those of the
            database's targets.
    """
    from sim.calibration.bank import bank_path, mixture_weights, read_bank, x_columns

    assert accepted.path is not None
    where = bank_path(accepted.path)
    if not where.is_file():
        return dataclasses.replace(accepted, note=f"no run bank {where.name} beside the database")
    runs, meta = read_bank(where)
    log = accepted.path.with_suffix(".json")
    fp = json.loads(log.read_text()).get("fingerprint") if log.is_file() else None
    if fp is not None and meta.get("fingerprint") != fp:
        return dataclasses.replace(
            accepted, note=f"the run bank {where.name} belongs to another run than the database"
        )
    n_gen = len(accepted.epsilon)
    runs = runs[runs["t"] < n_gen].reset_index(drop=True)  # a generation pyabc did not store
    counts = runs[runs["accepted"] & (runs["t"] >= 0)].groupby("t").size()
    want = pd.Series(np.bincount(accepted.t, minlength=n_gen), index=range(n_gen))
    if meta.get("labels") != accepted.targets.labels or not counts.reindex(
        want.index, fill_value=0
    ).equals(want):
        return dataclasses.replace(
            accepted,
            note=f"the run bank {where.name} does not cover the database's generations "
            "(a run resumed with other bank settings)",
        )
    x = runs[x_columns(len(accepted.targets.labels))].to_numpy(dtype=float)
    stored = runs["distance"].to_numpy(float)
    distance = np.array([accepted.targets.distance(row) for row in x])
    same = np.isclose(distance, stored, rtol=1e-7, atol=1e-9) | ~np.isfinite(stored)
    if not same.all():
        raise CalibrationError(
            where,
            f"the banked distances are not those of {accepted.targets.path}: give the "
            "targets file of the bank's run with --targets",
        )
    t = runs["t"].to_numpy(dtype=int)
    weight = np.where(runs["accepted"], runs["weight"].fillna(0.0), 0.0)
    for g in np.unique(t):
        if weight[t == g].sum() > 0:
            weight[t == g] /= weight[t == g].sum()
    return dataclasses.replace(
        accepted,
        params=runs[priors.keys].reset_index(drop=True),
        t=t,
        weight=weight,
        x=x,
        distance=np.where(np.isfinite(stored), distance, np.inf),
        mixture=mixture_weights(runs, priors),
        note="",
    )


def reweight_runs(
    t: np.ndarray,
    mixture: np.ndarray,
    epsilon: np.ndarray,
    d_new: np.ndarray,
    *,
    ess_floor: float = ESS_FLOOR,
) -> Reweighting:
    """The new posterior over every banked run (module docstring): weights
    ``mixture * 1[d_new <= eps']``, eps' the smallest tolerance reaching ``ess_floor``.

    Args:
        t: generation of each run (-1: pyabc's calibration sample from the prior).
        mixture: prior / q_mix of each run (``bank.mixture_weights``).
        epsilon: tolerance of generations 0, 1, ... (for the per-generation record).
        d_new: each run's distance under the new targets.
        ess_floor: the ESS the new tolerance must reach.
    """
    t = np.asarray(t, dtype=int)
    d_new = np.asarray(d_new, dtype=float)
    finite = np.sort(d_new[np.isfinite(d_new) & (mixture > 0)])
    if finite.size == 0:
        raise ValueError("no run has a finite new distance")
    grid = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, min(EPS_GRID, finite.size))))
    best: tuple[float, float, np.ndarray] | None = None
    chosen = None
    for eps in grid:
        w = np.where(d_new <= eps, mixture, 0.0)
        ess = _ess(w)
        if best is None or ess > best[1]:
            best = (float(eps), ess, w)
        if ess >= ess_floor:
            chosen = (float(eps), ess, w)
            break
    assert best is not None
    eps, ess, w = chosen if chosen is not None else best
    w = w / w.sum()
    rows = []
    for g in np.unique(t):
        in_g = t == g
        wg = np.where(in_g, w, 0.0)
        rows.append(
            {
                "t": int(g),
                "epsilon": float(epsilon[g]) if g >= 0 else float("inf"),
                "runs": int(np.count_nonzero(in_g)),
                "retained": int(np.count_nonzero(in_g & (w > 0))),
                "ess": _ess(wg),
                "outside": float("nan"),
                "used": bool(wg.sum() > 0),
                "share": float(wg.sum()),
            }
        )
    return Reweighting(w, eps, ess, chosen is not None, pd.DataFrame(rows))


# --------------------------------------------------------------------------- new targets


def _point_key(s: Series, year: int) -> tuple[str, tuple[int, int] | None, int]:
    return (s.model_column, s.mean_over, int(year))


def map_targets(bank_targets: Targets, new: Targets) -> np.ndarray:
    """Column of the bank's statistics for every point of ``new`` (in ``new.labels`` order).

    A point is the same when its model column, moment window (``mean_over``) and year are;
    its series' name, data file, observed value, scales and weight may differ.

    Raises:
        CalibrationError: a point of ``new`` is not a point of the bank (names the file and
            the key): the bank holds no statistic for it, so a full refit is needed.
    """
    where = {}
    i = 0
    for s in bank_targets.series:
        for y in s.years:
            where[_point_key(s, y)] = i
            i += 1
    cols = []
    for s in new.series:
        same_col = [b for b in bank_targets.series if b.model_column == s.model_column]
        for y in s.years:
            k = _point_key(s, y)
            if k in where:
                cols.append(where[k])
                continue
            if not same_col:
                key, why = "model_column", f"no series of the bank fits {s.model_column!r}"
            elif all(b.mean_over != s.mean_over for b in same_col):
                key = "mean_over"
                why = f"the bank fits {s.model_column!r} over " + ", ".join(
                    str(list(b.mean_over)) if b.mean_over else "single years" for b in same_col
                )
            else:
                key = "years"
                years = sorted({yy for b in same_col for yy in b.years})
                why = f"year {y} is not fitted in the bank (its years: {years})"
            raise CalibrationError(
                new.path,
                f"{why}; a retune re-weights the bank's stored runs ({bank_targets.path}) and "
                "cannot add a target point: a full refit is needed (pilotsim calibrate "
                "--targets ...)",
                key=f"series.{s.name}.{key}",
            )
    return np.array(cols, dtype=int)


def new_distances(bank: Bank, new: Targets) -> np.ndarray:
    """Every bank particle's distance under ``new`` (from its stored statistics)."""
    cols = map_targets(bank.targets, new)
    return np.array([new.distance(row) for row in bank.x[:, cols]])


def target_changes(bank_targets: Targets, new: Targets) -> list[str]:
    """What ``new`` changes against the bank's targets, one line per change."""
    out: list[str] = []
    old = {s.name: s for s in bank_targets.series}
    new_by = {s.name: s for s in new.series}
    for name in old:
        if name not in new_by:
            out.append(f"{name}: dropped")
    for s in new.series:
        b = old.get(s.name)
        if b is None:
            out.append(f"{s.name}: a series of the bank's points under a new name")
            continue
        if s.years != b.years:
            gone = [y for y in b.years if y not in s.years]
            out.append(f"{s.name}: years {gone} dropped")
        for attr in ("level_sd", "growth_sd", "weight"):
            if getattr(s, attr) != getattr(b, attr):
                out.append(f"{s.name}: {attr} {getattr(b, attr):g} -> {getattr(s, attr):g}")
        bo = dict(zip(b.years, b.observed, strict=True))
        for y, o in zip(s.years, s.observed, strict=True):
            if y in bo and not np.isclose(o, bo[y], rtol=1e-12):
                out.append(f"{s.name} {y}: observed {bo[y]:,.6g} -> {o:,.6g}")
    for attr in ("level_weight", "growth_weight"):
        if getattr(new, attr) != getattr(bank_targets, attr):
            out.append(f"{attr} {getattr(bank_targets, attr):g} -> {getattr(new, attr):g}")
    return out


# --------------------------------------------------------------------------- re-weighting


@dataclass(frozen=True)
class Reweighting:
    """The re-weighted bank.

    Attributes:
        weights: new weight of every bank particle (sum 1; 0 outside the posterior).
        epsilon: the new tolerance eps'.
        ess: pooled effective sample size.
        floor_reached: whether ``ess`` reached the floor.
        generations: per generation ``t``, ``epsilon``, ``retained`` (particles with
            d' <= eps'), ``ess`` (of its retained weights), ``outside`` (estimated share of
            the new posterior beyond its old tolerance; NaN for t = 0 or when not judged),
            ``used``, ``share`` (its weight in the pool).
    """

    weights: np.ndarray
    epsilon: float
    ess: float
    floor_reached: bool
    generations: pd.DataFrame


def _ess(w: np.ndarray) -> float:
    s = float(w.sum())
    return s * s / float(np.sum(w * w)) if s > 0 else 0.0


def _pool(
    t: np.ndarray,
    weight: np.ndarray,
    epsilon: np.ndarray,
    d_old: np.ndarray,
    d_new: np.ndarray,
    eps: float,
    max_outside: float,
    order: np.ndarray,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Pooled weights at tolerance ``eps`` and the per-generation record (module docstring;
    ``order`` sorts the particles by ``d_new``)."""
    keep = d_new <= eps
    pooled = np.zeros_like(weight)
    used_mask = np.zeros(len(t), dtype=bool)  # runs of the generations that hold the mass
    lam_sum = 0.0
    rows: list[dict[str, Any]] = []
    stopped = False
    for g, eps_g in enumerate(epsilon):
        in_g = t == g
        wg = np.where(in_g & keep, weight, 0.0)
        ess_g = _ess(wg)
        outside = float("nan")
        if g > 0 and not stopped:
            near = order[used_mask[order]]  # the looser generations' runs, nearest first
            n = max(JUDGE_N, int(np.count_nonzero(keep[near])))
            outside = float(np.mean(d_old[near[:n]] > eps_g))
            stopped = outside > max_outside  # tighter generations miss at least as much
        # generation 0 is assumed to hold the mass that matters; a generation that holds it
        # judges the tighter ones whether or not it retains a particle itself
        if not stopped:
            used_mask |= in_g
        ok = ess_g > 0 and not stopped
        if ok:
            pooled += ess_g * wg / wg.sum()
            lam_sum += ess_g
        rows.append(
            {
                "t": g,
                "epsilon": float(eps_g),
                "retained": int(np.count_nonzero(in_g & keep)),
                "ess": ess_g,
                "outside": outside,
                "used": bool(ok),
                "share": ess_g if ok else 0.0,
            }
        )
    if lam_sum > 0:
        pooled /= lam_sum
        for r in rows:
            r["share"] /= lam_sum
    return pooled, rows


def reweight(
    t: np.ndarray,
    weight: np.ndarray,
    epsilon: np.ndarray,
    d_old: np.ndarray,
    d_new: np.ndarray,
    *,
    ess_floor: float = ESS_FLOOR,
    max_outside: float = MAX_OUTSIDE,
) -> Reweighting:
    """The new posterior's weights over the bank's particles (module docstring).

    Args:
        t: generation of each particle (0 = loosest tolerance).
        weight: importance weights, normalised within each generation.
        epsilon: tolerance of each generation, indexed by ``t``, decreasing.
        d_old: each particle's distance under the bank's targets (<= its eps_t).
        d_new: its distance under the new targets.
        ess_floor: the pooled ESS the new tolerance must reach.
        max_outside: the largest share of the new posterior a used generation may miss.
    """
    t = np.asarray(t, dtype=int)
    weight = np.asarray(weight, dtype=float)
    d_new = np.asarray(d_new, dtype=float)
    finite = np.sort(d_new[np.isfinite(d_new)])
    if finite.size == 0:
        raise ValueError("no particle has a finite new distance")
    order = np.argsort(d_new, kind="stable")
    grid = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, min(EPS_GRID, finite.size))))
    best: tuple[float, float, np.ndarray, list[dict[str, Any]]] | None = None
    chosen = None
    for eps in grid:
        w, rows = _pool(
            t, weight, np.asarray(epsilon, float), d_old, d_new, float(eps), max_outside, order
        )
        ess = _ess(w)
        if best is None or ess > best[1]:
            best = (float(eps), ess, w, rows)
        if ess >= ess_floor:
            chosen = (float(eps), ess, w, rows)
            break
    reached = chosen is not None
    assert best is not None
    eps, ess, w, rows = chosen if chosen is not None else best
    return Reweighting(w, eps, ess, reached, pd.DataFrame(rows))


# --------------------------------------------------------------------------- outputs


def posterior_frame(bank: Bank, rw: Reweighting, d_new: np.ndarray) -> pd.DataFrame:
    """``posterior.csv``'s frame (``particle`` = row of the bank, ``weight``, parameters,
    new ``distance``): the particles of positive new weight."""
    out = bank.params.copy()
    out.insert(0, "weight", rw.weights)
    out.insert(0, "particle", np.arange(len(out)))
    out["distance"] = d_new
    return out[out["weight"] > 0].reset_index(drop=True)


def compare_posteriors(a: pd.DataFrame, b: pd.DataFrame, priors: Priors) -> pd.DataFrame:
    """Two weighted posteriors side by side, per fitted parameter both hold.

    Returns:
        Columns ``parameter``, ``a_median``, ``a_low``, ``a_high``, ``b_median``, ``b_low``,
        ``b_high`` (weighted median and 90% interval), ``shift`` (a's median minus b's in
        units of the prior range) and ``overlap`` (length of the intervals' intersection
        over that of their union: 1 for the same interval, 0 for disjoint ones).
    """
    wa, wb = a["weight"].to_numpy(float), b["weight"].to_numpy(float)
    rows = []
    for p in priors.priors:
        if p.key not in a.columns or p.key not in b.columns:
            continue
        qa = weighted_quantile(a[p.key].to_numpy(float), wa, [BAND[0], 0.5, BAND[1]])
        qb = weighted_quantile(b[p.key].to_numpy(float), wb, [BAND[0], 0.5, BAND[1]])
        inter = max(0.0, min(qa[2], qb[2]) - max(qa[0], qb[0]))
        union = max(qa[2], qb[2]) - min(qa[0], qb[0])
        rows.append(
            {
                "parameter": p.key,
                "a_median": qa[1],
                "a_low": qa[0],
                "a_high": qa[2],
                "b_median": qb[1],
                "b_low": qb[0],
                "b_high": qb[2],
                "shift": (qa[1] - qb[1]) / (p.high - p.low),
                "overlap": inter / union if union > 0 else 1.0,
            }
        )
    return pd.DataFrame(rows)


def predictive_table(
    bank: Bank, new: Targets, rw: Reweighting, baseline: np.ndarray | None
) -> pd.DataFrame:
    """Per point of ``new``: observed, the weighted median and 90% band of the bank's
    statistics under the new weights (the accepted runs, one seed each at the bank's scale),
    and the baseline set's seed mean with its relative error."""
    cols = map_targets(bank.targets, new)
    on = rw.weights > 0
    rows = []
    labels = new.labels
    bounds = [s.bound for s in new.series for _ in s.years]
    for j, (label, c) in enumerate(zip(labels, cols, strict=True)):
        v, w = bank.x[on, c], rw.weights[on]
        ok = np.isfinite(v)
        lo, med, hi = (
            weighted_quantile(v[ok], w[ok], [BAND[0], 0.5, BAND[1]]) if ok.any() else [np.nan] * 3
        )
        series, _, year = label.rpartition(":")
        obs = float(new.observed[j])
        base = float(baseline[j]) if baseline is not None else np.nan
        rows.append(
            {
                "series": series,
                "year": int(year),
                "observed": obs,
                "median": med,
                "low": lo,
                "high": hi,
                "covered": bool(lo <= obs <= hi)
                if (b := bounds[j]) is None
                else bool(hi >= b[0] and lo <= b[1]),
                "baseline": base,
                "baseline_rel_error": relative_error(base, obs, bounds[j]),
            }
        )
    return pd.DataFrame(rows)


def _num(v: float) -> str:
    if not np.isfinite(v):
        return ""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def render_report(
    *,
    new: Targets,
    bank: Bank,
    rw: Reweighting,
    fit: pd.DataFrame,
    changes: list[str],
    selection: Any,
    refit: pd.DataFrame | None,
    refit_path: str | None,
    self_check: pd.DataFrame | None,
    self_check_t: int | None,
    seconds: dict[str, float],
    command: str,
    ess_floor: float,
    max_outside: float,
) -> str:
    """``report.md`` of a retune."""
    from sim.reporting import markdown_table

    used = rw.generations[rw.generations["used"]]
    runs = bank.mixture is not None
    what = "runs (accepted and rejected)" if runs else "accepted particles"
    lines = [
        "# Retuned calibration",
        "",
        f"Targets `{shown(new.path)}` re-weighting the ABC bank "
        f"`{shown(bank.path or '')}` (fitted to "
        f"`{shown(bank.targets.path)}`; fingerprint {bank.fingerprint or 'synthetic'}): "
        f"{len(bank.t):,} {what} of {len(bank.epsilon)} generations, no new ABC run.",
        "",
        f"Command: `{command}`",
        "",
        "## What changed against the bank's targets",
        "",
        *([f"- {c}" for c in changes] or ["- nothing: the bank's own targets (a self-check)"]),
        "",
        "## Method and assumptions",
        "",
        f"Method: **{bank.method}** (sim/calibration/retune.py).",
        "",
        *(_runs_method(ess_floor) if runs else _accepted_method(ess_floor, max_outside)),
        *([f"The run bank was not used: {bank.note}.", ""] if bank.note else []),
        "## Re-weighting",
        "",
        f"- new tolerance eps' = {rw.epsilon:.4g} (the bank's last generation: "
        f"{bank.epsilon[-1]:.4g})",
        f"- {'' if runs else 'pooled '}ESS {rw.ess:.1f} of "
        f"{int(np.count_nonzero(rw.weights > 0))} {'runs' if runs else 'particles'}"
        + (
            ""
            if rw.floor_reached
            else f" -- **below the floor of {ess_floor:g}**: the bank "
            "holds too few runs near the new targets; a full refit is advised"
        ),
        f"- generations used: {', '.join(str(int(t)) for t in used['t'])}",
        f"- wall time: {seconds.get('reweight', 0.0):.1f} s for the bank and re-weighting, "
        f"{seconds.get('baseline', 0.0):.0f} s for the baseline set, "
        f"{seconds.get('total', 0.0):.0f} s in all",
        "",
        *(
            markdown_table(
                ["t", "epsilon", "runs", "retained", "ESS", "share"],
                [
                    [
                        str(int(r.t)),
                        f"{r.epsilon:.4g}" if np.isfinite(r.epsilon) else "prior sample",
                        str(int(r.runs)),
                        str(int(r.retained)),
                        f"{r.ess:.1f}",
                        f"{r.share:.1%}",
                    ]
                    for r in rw.generations.itertuples()
                ],
                "rrrrrr",
            )
            if runs
            else markdown_table(
                ["t", "epsilon", "retained", "ESS", "outside", "used", "share"],
                [
                    [
                        str(int(r.t)),
                        f"{r.epsilon:.4g}",
                        str(int(r.retained)),
                        f"{r.ess:.1f}",
                        "" if not np.isfinite(r.outside) else f"{r.outside:.1%}",
                        "yes" if r.used else "no",
                        f"{r.share:.1%}",
                    ]
                    for r in rw.generations.itertuples()
                ],
                "rrrrrlr",
            )
        ),
        "",
        "## Fit",
        "",
        "Observed; posterior-predictive median and 90% band (the bank's statistics under the "
        "new weights); the baseline set's mean over its seeds at its scale.",
        "",
        *markdown_table(
            ["series", "year", "observed", "median", "90% band", "baseline", "error"],
            [
                [
                    r.series,
                    str(r.year),
                    _num(r.observed),
                    _num(r.median),
                    f"{_num(r.low)} - {_num(r.high)}",
                    _num(r.baseline),
                    "" if not np.isfinite(r.baseline_rel_error) else f"{r.baseline_rel_error:+.1%}",
                ]
                for r in fit.itertuples()
            ],
            "lrrrrrr",
        ),
        "",
    ]
    if selection is not None:
        best = selection.candidates.iloc[0]
        lines += [
            "## Baseline set",
            "",
            f"{selection.label} (particle = row of the bank): of the weighted median set and "
            f"the {len(selection.candidates) - 1} bank particles of lowest new distance, the "
            f"one whose mean over seeds {list(selection.seeds)} at scale {selection.scale:g} "
            f"misses its worst point least: {best['max_abs_error']:.1%} at "
            f"{best['worst_point']} (`baseline_selection.csv`).",
            "",
        ]
    lines += ["## Against a full refit", ""]
    if refit is not None:
        lines += [
            f"Retuned posterior (a) against the full refit `{refit_path}` (b): weighted "
            "medians and 90% intervals; shift = difference of medians in units of the prior "
            "range; overlap = intersection over union of the intervals. Largest |shift| "
            f"{refit['shift'].abs().max():.3f}, smallest overlap {refit['overlap'].min():.2f}.",
            "",
            *_compare_lines(refit),
        ]
    else:
        lines += [
            "No full refit given (`--refit-posterior PATH`: the posterior.csv of a full ABC run "
            "on these targets) to compare with.",
        ]
    if self_check is not None:
        lines += [
            "",
            f"Self-check: these are the bank's own targets, so the retune should match the "
            f"bank's generation {self_check_t} (tolerance "
            f"{bank.epsilon[int(self_check_t or 0)]:.4g}, nearest to eps'): largest |shift| "
            f"{self_check['shift'].abs().max():.3f}, smallest overlap "
            f"{self_check['overlap'].min():.2f}.",
            "",
            *_compare_lines(self_check),
        ]
    return "\n".join(lines) + "\n"


def _runs_method(ess_floor: float) -> list[str]:
    return [
        "Exact importance sampling over every run of the ABC (the run bank, "
        "sim/calibration/bank.py): run i of generation t is a draw from that generation's "
        "proposal q_t (the prior for t <= 0; pyabc's multivariate normal transition refitted "
        "to generation t-1's weighted particles, truncated to the prior's box), with its "
        "complete statistics whether it was accepted or not. Pooled as a deterministic "
        "mixture, q_mix = sum_t n_t q_t / sum_t n_t, each run weighs prior / q_mix times "
        "1[new distance <= eps']: a sample of the new ABC posterior at eps' with no "
        "assumption on the old acceptance regions, only that q_mix covers the new posterior "
        "(generation 0 is the prior, so it does, but runs far from the old targets are few "
        f"and weigh much: a small ESS says so). eps' is the smallest tolerance whose ESS "
        f"reaches {ess_floor:g}. The predictive band below is that of the retained runs' own "
        "statistics (one seed each, at the bank's scale), not of new runs.",
        "",
    ]


def _accepted_method(ess_floor: float, max_outside: float) -> list[str]:
    return [
        "Importance re-weighting of every banked generation's accepted particles. "
        "Generation t's weighted particles sample the ABC posterior at its tolerance eps_t; "
        "keeping those whose new distance is at most eps' samples the new ABC posterior at "
        "eps' **provided the new acceptance region lies inside generation t's old one** for "
        "the mass that matters. Generation 0 (the widest tolerance) is assumed to hold it; "
        "each tighter generation is used only while the generations already used put at "
        f"most {max_outside:.0%} of the new posterior beyond its old tolerance (column "
        "`outside`). Used generations are pooled in proportion to their effective sample "
        f"size (ESS); eps' is the smallest tolerance whose pooled ESS reaches {ess_floor:g}. "
        "The predictive band below is that of the retained runs' own statistics (one seed "
        "each, at the bank's scale), not of new runs.",
        "",
    ]


def _compare_lines(table: pd.DataFrame) -> list[str]:
    from sim.reporting import markdown_table

    return markdown_table(
        ["parameter", "a: median [90%]", "b: median [90%]", "shift", "overlap"],
        [
            [
                r.parameter,
                f"{r.a_median:.4g} [{r.a_low:.4g}, {r.a_high:.4g}]",
                f"{r.b_median:.4g} [{r.b_low:.4g}, {r.b_high:.4g}]",
                f"{r.shift:+.3f}",
                f"{r.overlap:.2f}",
            ]
            for r in table.itertuples()
        ],
        "lllrr",
    )


# --------------------------------------------------------------------------- the command


@dataclass
class RetuneSettings:
    """The options of ``pilotsim calibrate --retune``.

    Attributes:
        retune: the new targets file.
        bank: the ABC database to re-weight.
        targets: the targets the bank was fitted to.
        priors: its priors.
        scenario: base scenario of the bank's runs and of the baseline set (None: defaults).
        out: output folder (not the bank's).
        jobs: parallel baseline-set runs.
        ess_floor, max_outside: of :func:`reweight`.
        candidates: bank particles of lowest new distance tried for the baseline set.
        scale: population scale of the baseline-set runs.
        refit_posterior: a full refit's posterior.csv to compare with.
    """

    retune: str | Path
    bank: str | Path = CALIBRATION_DIR / DB_NAME
    targets: str | Path = DEFAULT_TARGETS
    priors: str | Path = DEFAULT_PRIORS
    scenario: str | Path | None = None
    out: str | Path = DEFAULT_OUT
    jobs: int | None = None
    ess_floor: float = ESS_FLOOR
    max_outside: float = MAX_OUTSIDE
    candidates: int | None = None
    scale: float | None = None
    refit_posterior: str | Path | None = None
    quick: bool = False

    def command(self) -> str:
        parts = [
            "pilotsim",
            "calibrate",
            "--retune",
            shown(self.retune),
            "--bank",
            shown(self.bank),
        ]
        parts += ["--targets", shown(self.targets), "--priors", shown(self.priors)]
        if self.scenario:
            parts += ["--scenario", str(self.scenario)]
        parts += ["--out", str(self.out), "--ess-floor", f"{self.ess_floor:g}"]
        if self.quick:
            parts.append("--quick")
        if self.scale is not None:
            parts += ["--predictive-scale", f"{self.scale:g}"]
        if self.refit_posterior:
            parts += ["--refit-posterior", str(self.refit_posterior)]
        if self.jobs is not None:
            parts += ["--jobs", str(self.jobs)]
        return shlex.join(parts)


#: Settings that are paths (shown relative to the repository in ``retune.json``).
PATH_SETTINGS = frozenset(
    {"retune", "bank", "targets", "priors", "scenario", "out", "refit_posterior"}
)


def shown(p: str | Path) -> str:
    """A path as reports show it: relative to the repository when inside it."""
    path = Path(str(p)).resolve()
    try:
        return str(path.relative_to(CALIBRATION_DIR.parent))
    except ValueError:
        return str(p)


def retune(settings: RetuneSettings, log: Log | None = print) -> dict[str, Any]:
    """Re-weight the bank to new targets, pick a baseline set and write the outputs.

    Everything is checked (targets, bank, priors, the folder) before anything runs or is
    written; the outputs are written all or nothing. Returns ``retune.json``'s content.

    Raises:
        CalibrationError: a bad file (named with its key), a target point the bank lacks,
            a bank fitted to other targets. UsageError: bad settings or ``out`` being the
            bank's folder.
    """
    from sim.calibration.posterior import calibrated_yaml, header_lines, load_posterior
    from sim.calibration.select import SEEDS, SELECT_CANDIDATES, select_baseline
    from sim.experiments.executors import open_executor
    from sim.experiments.folder_lock import hold_out_dir
    from sim.provenance import git_commit, package_versions, write_files
    from sim.scenario import load_scenario

    say: Log = log or (lambda _: None)
    t_start = time.perf_counter()
    s = settings
    if not s.ess_floor >= 1:
        raise UsageError(f"--ess-floor must be >= 1, got {s.ess_floor}")
    if not 0 <= s.max_outside < 1:
        raise UsageError(f"max_outside must be in [0, 1), got {s.max_outside}")
    candidates = s.candidates or (QUICK_CANDIDATES if s.quick else SELECT_CANDIDATES)
    default_scale = (QUICK if s.quick else FULL)["predictive_scale"]
    scale = s.scale or (float(default_scale) if default_scale is not None else 1.0)
    if not 0 < scale <= 5:
        raise UsageError(f"--predictive-scale must be in (0, 5], got {scale}")
    new_path, bank_path, out = Path(s.retune), Path(s.bank), Path(s.out)
    if out.resolve() == bank_path.resolve().parent:
        raise UsageError(
            f"--out {out}: is the folder of the bank {bank_path}; a retune never writes beside "
            "the calibration it re-weights (choose another --out, e.g. results/calibration-retune)"
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    new = load_targets(new_path)
    bank_targets = load_targets(s.targets)
    priors = load_priors(s.priors)
    base = load_scenario(s.scenario) if s.scenario else Scenario()
    bank = load_run_bank(load_bank(bank_path, bank_targets, priors), priors)
    refit = load_posterior(s.refit_posterior) if s.refit_posterior else None
    d_new = new_distances(bank, new)  # raises on a point the bank lacks
    if bank.mixture is not None:
        rw = reweight_runs(bank.t, bank.mixture, bank.epsilon, d_new, ess_floor=s.ess_floor)
    else:
        rw = reweight(
            bank.t,
            bank.weight,
            bank.epsilon,
            bank.distance,
            d_new,
            ess_floor=s.ess_floor,
            max_outside=s.max_outside,
        )
    post = posterior_frame(bank, rw, d_new)
    changes = target_changes(bank_targets, new)
    self_check = self_t = None
    if not changes:
        self_t = int(np.argmin(np.abs(bank.epsilon - rw.epsilon)))
        in_t = (bank.t == self_t) & (bank.weight > 0)  # its accepted particles
        gen = bank.params[in_t].assign(weight=bank.weight[in_t])
        self_check = compare_posteriors(post, gen, priors)
    refit_table = compare_posteriors(post, refit, priors) if refit is not None else None
    seconds = {"reweight": time.perf_counter() - t_start}
    say(
        f"retune ({bank.method}): eps' {rw.epsilon:.4g}, ESS {rw.ess:.1f}, generations "
        f"{', '.join(str(int(t)) for t in rw.generations.loc[rw.generations['used'], 't'])} "
        f"({seconds['reweight']:.1f} s)"
    )
    # the bank's particles with their new weights (0 outside the posterior): the median set
    # is the posterior's, the candidates are the bank's runs of lowest new distance
    pool = bank.params.copy()
    pool.insert(0, "weight", rw.weights)
    pool.insert(0, "particle", np.arange(len(pool)))
    pool["distance"] = d_new
    with hold_out_dir(out, RETUNE_NAMES):
        t0 = time.perf_counter()
        try:
            with open_executor(s.jobs) as engine:
                selection = select_baseline(
                    new,
                    priors,
                    base,
                    pool,
                    executor=engine.executor,
                    scale=scale,
                    candidates=candidates,
                    seeds=SEEDS,
                )
        except ExecutorError as e:
            raise UsageError(str(e)) from None
        seconds["baseline"] = time.perf_counter() - t0
        from sim.calibration.select import seed_mean_points

        fit = predictive_table(bank, new, rw, seed_mean_points(new, selection.runs))
        seconds["total"] = time.perf_counter() - t_start
        command = s.command()
        best = selection.candidates.iloc[0]
        summary = {
            "method": f"retune: {bank.method}",
            "epsilon": round(rw.epsilon, 4),
            "ess": round(rw.ess, 1),
            "wall_seconds": round(seconds["total"], 1),
        }
        how = (
            f"{selection.label} (row of the bank {bank_path}): of the re-weighted posterior's "
            f"median set and the {candidates} bank particles of lowest distance to {new_path}, "
            f"the set whose mean over seeds {list(selection.seeds)} at scale "
            f"{selection.scale:g} has the smallest worst relative error (worst: "
            f"{best['max_abs_error']:.1%}, at {best['worst_point']})"
        )
        header = header_lines([command], summary, how)
        header[1:4] = [  # header_lines' three lines on where the set comes from
            f"From a retune (re-weighting of the ABC bank {shown(bank_path)}) against "
            f"{shown(new_path)}",
            "(priors in calibration/priors.yaml; samples with weights in posterior.csv beside",
            "this file; fit in report.md there). The set is",
        ]
        meta = {
            **summary,
            "command": command,
            "settings": {
                k: (shown(v) if v and k in PATH_SETTINGS else v)
                for k, v in dataclasses.asdict(s).items()
            }
            | {"candidates": candidates, "scale": scale},
            "bank": {
                "path": shown(bank_path),
                "fingerprint": bank.fingerprint,
                "targets": shown(bank_targets.path),
                "particles" if bank.mixture is None else "runs": int(len(bank.t)),
                "method": bank.method,
                "note": bank.note,
                "generations": int(len(bank.epsilon)),
            },
            "targets": shown(new.path),
            "changes": changes,
            "generations": rw.generations.to_dict(orient="records"),
            "floor_reached": rw.floor_reached,
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "calibrated": selection.values,
            "calibrated_set": how,
            "versions": package_versions(("pyabc",)),
            "git_commit": git_commit(),
        }
        report = render_report(
            new=new,
            bank=bank,
            rw=rw,
            fit=fit,
            changes=changes,
            selection=selection,
            refit=refit_table,
            refit_path=str(s.refit_posterior) if s.refit_posterior else None,
            self_check=self_check,
            self_check_t=self_t,
            seconds=seconds,
            command=command,
            ess_floor=s.ess_floor,
            max_outside=s.max_outside,
        )
        files = {
            "posterior.csv": lambda p: post.to_csv(p, index=False, float_format="%.8g"),
            "calibrated.yaml": lambda p: p.write_text(
                calibrated_yaml(selection.values, header), encoding="utf-8"
            ),
            "report.md": lambda p: p.write_text(report, encoding="utf-8"),
            "retune.json": lambda p: p.write_text(json.dumps(meta, indent=2, default=float) + "\n"),
            "fit.csv": lambda p: fit.to_csv(p, index=False, float_format="%.8g"),
            "baseline_selection.csv": lambda p: selection.candidates.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
        }
        write_files(out, files)
    say(
        f"baseline set: {selection.label}, worst {best['worst_point']} "
        f"{best['max_abs_error']:.1%} ({seconds['baseline']:.0f} s); {seconds['total']:.0f} s "
        f"in all; wrote {out}/: " + " ".join(sorted(files))
    )
    return meta


def cmd_retune(args: argparse.Namespace) -> int:
    """``pilotsim calibrate --retune``; 0 on success."""
    for flag, bad in (
        ("--method de", args.method != "abc"),
        ("--resume", args.resume),
        ("--fresh", args.fresh),
        ("--report-only", args.report_only),
    ):
        if bad:
            raise UsageError(f"--retune re-weights a stored ABC run: not with {flag}")
    retune(
        RetuneSettings(
            retune=args.retune,
            bank=args.bank,
            targets=args.targets,
            priors=args.priors,
            scenario=args.scenario,
            out=args.out or DEFAULT_OUT,
            jobs=args.jobs,
            ess_floor=args.ess_floor,
            scale=args.predictive_scale,
            refit_posterior=args.refit_posterior,
            quick=args.quick,
        ),
        log=None if args.quiet else print,
    )
    return 0
