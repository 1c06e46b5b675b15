"""The run bank of an ABC-SMC calibration: every model run, accepted or rejected.

pyabc's database keeps only each generation's accepted particles. With ``SMCSettings.bank``
the sampler also records every run (``smc._fill_slots``) with its complete summary
statistics, so a later change of targets can re-weight *all* runs by importance sampling
(``retune.py``) instead of the accepted ones only. Early rejection is off for such a run
(a stopped run has no statistics); the accepted population is the same bit for bit.

The bank is a Parquet file beside the database (``abc.db`` -> ``abc.bank.parquet``), one
row per run: ``t`` (generation; -1 is pyabc's calibration sample from the prior), ``slot``
and ``run`` (the particle slot and the run's place in it), every parameter by dotted key,
``x_0 .. x_{n-1}`` (the target points, in the order of ``targets.labels``, recorded in the
file's metadata), ``distance`` (under the run's targets), ``accepted`` and ``weight``
(pyabc's unnormalised importance weight prior / proposal of an accepted run, else NaN).
It is rewritten atomically after every generation, replacing that generation's rows (a
generation redone by ``--resume`` has the same seeds, hence the same rows).

Generation t's proposal density q_t is rebuilt from the bank (:func:`proposal_densities`):
the prior for t <= 0; for t >= 1 pyabc's default ``MultivariateNormalTransition`` (scaling
1, Silverman's bandwidth) refitted to the accepted runs of t - 1 with their normalised
weights, truncated to the prior's box (pyabc redraws proposals of zero prior density
before simulating). tests/test_run_bank.py checks that prior / q_t reproduces the weights
pyabc stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.config import CalibrationError, Priors, Targets

#: Suffix replacing the database's ``.db``.
BANK_SUFFIX = ".bank.parquet"
#: Key of the bank's metadata in the Parquet schema.
META_KEY = b"pilotsim.bank"
#: The proposal kernel the bank's densities assume: pyabc's default transition of
#: ``ABCSMC`` (``smc.run_smc`` checks that it is the one used).
TRANSITION = {
    "class": "MultivariateNormalTransition",
    "scaling": 1.0,
    "bandwidth": "silverman_rule_of_thumb",
}
#: Draws that estimate the share of a fitted transition inside the prior's box (the
#: truncation constant): its standard error is at most 0.5 / sqrt(n) = 0.0011.
SUPPORT_DRAWS = 200_000
#: Runs whose kernel densities are evaluated at once (bounds memory to about
#: chunk x population x parameters doubles).
CHUNK = 256

#: One recorded run as the sampler returns it: slot, run in the slot, pyabc's parameter
#: (by pyabc name), target points (None if none), accepted, importance weight.
Record = tuple[int, int, dict[str, float], Any, bool, float]


def bank_path(db: Path) -> Path:
    """The bank file beside the database ``db``."""
    return db.with_suffix(BANK_SUFFIX)


def x_columns(n: int) -> list[str]:
    """Names of the target-point columns."""
    return [f"x_{j}" for j in range(n)]


def records_frame(
    t: int, records: Sequence[Record], priors: Priors, targets: Targets
) -> pd.DataFrame:
    """One generation's recorded runs as bank rows."""
    from sim.calibration.simulator import abc_name

    n = len(targets.labels)
    x = np.full((len(records), n), np.nan)
    for r, rec in enumerate(records):
        if rec[3] is not None:
            x[r] = np.asarray(rec[3], dtype=float)
    out = pd.DataFrame(
        {
            "t": np.full(len(records), t, dtype=int),
            "slot": np.array([rec[0] for rec in records], dtype=int),
            "run": np.array([rec[1] for rec in records], dtype=int),
        }
    )
    for p in priors.priors:
        out[p.key] = np.array([float(rec[2][abc_name(p.key)]) for rec in records])
    out = pd.concat([out, pd.DataFrame(x, columns=x_columns(n))], axis=1)
    out["distance"] = [targets.distance(row) if np.all(np.isfinite(row)) else np.inf for row in x]
    out["accepted"] = np.array([rec[4] for rec in records], dtype=bool)
    out["weight"] = np.array([rec[5] if rec[4] else np.nan for rec in records], dtype=float)
    return out


def bank_meta(priors: Priors, targets: Targets, fingerprint: str) -> dict[str, Any]:
    """What a bank must record besides its rows: the target labels, the prior box, the
    transition and the calibration's fingerprint."""
    return {
        "labels": targets.labels,
        "priors": {p.key: [p.low, p.high] for p in priors.priors},
        "transition": TRANSITION,
        "fingerprint": fingerprint,
    }


def write_generation(path: Path, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Replace generation ``frame``'s rows of the bank at ``path`` (atomically); a bank of
    another calibration (other fingerprint) is refused."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.provenance import atomic_write

    t = int(frame["t"].iloc[0])
    if path.is_file():
        old, old_meta = read_bank(path)
        if old_meta.get("fingerprint") != meta["fingerprint"]:
            raise CalibrationError(path, "the bank belongs to another calibration")
        frame = pd.concat([old[old["t"] != t], frame], ignore_index=True)
    frame = frame.sort_values(["t", "slot", "run"], kind="stable").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()}
    )
    atomic_write(path, lambda p: pq.write_table(table, p))


def read_bank(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The bank's rows and metadata."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    return table.to_pandas(), meta


# --------------------------------------------------------------------------- densities


@dataclass(frozen=True)
class Kernel:
    """A fitted transition: a mixture of normals N(centre_j, cov) with weights w_j."""

    centres: np.ndarray
    weights: np.ndarray
    cov: np.ndarray

    def pdf(self, theta: np.ndarray) -> np.ndarray:
        """The (untruncated) density at each row of ``theta``, as pyabc's ``pdf``."""
        from scipy.stats import multivariate_normal

        normal = multivariate_normal(cov=self.cov, allow_singular=True)
        out = np.empty(len(theta))
        for a in range(0, len(theta), CHUNK):
            diff = theta[a : a + CHUNK, None, :] - self.centres[None, :, :]
            dens = np.atleast_2d(normal.pdf(diff.reshape(-1, diff.shape[-1])))
            out[a : a + CHUNK] = dens.reshape(diff.shape[:2]) @ self.weights
        return out

    def share_inside(self, low: np.ndarray, high: np.ndarray, seed: int) -> float:
        """Monte Carlo share of the kernel's mass inside the box [low, high]."""
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(self.weights), size=SUPPORT_DRAWS, p=self.weights)
        draws = self.centres[idx] + rng.multivariate_normal(
            np.zeros(len(low)), self.cov, size=SUPPORT_DRAWS, method="eigh"
        )
        return float(np.mean(np.all((draws >= low) & (draws <= high), axis=1)))


def fit_kernel(theta: np.ndarray, weight: np.ndarray) -> Kernel:
    """pyabc's default ``MultivariateNormalTransition`` fitted to a weighted population."""
    from pyabc.transition import MultivariateNormalTransition

    w = np.asarray(weight, dtype=float)
    w = w / w.sum()
    tr = MultivariateNormalTransition()
    cols = [f"p{j}" for j in range(theta.shape[1])]
    tr.fit(pd.DataFrame(theta, columns=cols), w)
    return Kernel(np.asarray(theta, dtype=float), w, np.asarray(tr.cov, dtype=float))


def prior_box(priors: Priors, keys: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the uniform priors, in ``keys`` order (default
    ``priors.keys``)."""
    by_key = {p.key: p for p in priors.priors}
    ks = priors.keys if keys is None else keys
    return (
        np.array([by_key[k].low for k in ks], dtype=float),
        np.array([by_key[k].high for k in ks], dtype=float),
    )


def prior_pdf(theta: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The uniform prior's density at each row of ``theta``."""
    inside = np.all((theta >= low) & (theta <= high), axis=1)
    return np.where(inside, 1.0 / float(np.prod(high - low)), 0.0)


def proposal_densities(
    runs: pd.DataFrame, priors: Priors, *, truncate: bool = True
) -> dict[int, np.ndarray]:
    """q_t at every run of the bank, for every generation t in it (module docstring).

    Args:
        runs: bank rows (``t``, the parameters, ``accepted``, ``weight``).
        priors: the bank's priors.
        truncate: divide the transitions by their mass in the prior's box (the proposal
            pyabc samples); without it, pyabc's weight denominator.
    """
    from sim.calibration.simulator import abc_name

    keys = sorted(priors.keys, key=abc_name)  # pyabc's column order: the same rounding
    low, high = prior_box(priors, keys)
    theta = runs[keys].to_numpy(dtype=float)
    prior = prior_pdf(theta, low, high)
    out: dict[int, np.ndarray] = {}
    for t in sorted(int(g) for g in runs["t"].unique()):
        if t <= 0:
            out[t] = prior
            continue
        parent = runs[(runs["t"] == t - 1) & runs["accepted"]]
        if parent.empty:
            raise CalibrationError("run bank", f"it lacks the accepted runs of generation {t - 1}")
        kernel = fit_kernel(parent[keys].to_numpy(dtype=float), parent["weight"].to_numpy(float))
        q = kernel.pdf(theta)
        if truncate:
            q = np.where(prior > 0, q / kernel.share_inside(low, high, seed=t), 0.0)
        out[t] = q
    return out


def mixture_weights(runs: pd.DataFrame, priors: Priors) -> np.ndarray:
    """prior / q_mix at every run: the deterministic-mixture (balance heuristic) importance
    weight, q_mix = sum_t n_t q_t / sum_t n_t over the bank's generations."""
    q = proposal_densities(runs, priors)
    t = runs["t"].to_numpy(dtype=int)
    n = {g: int(np.count_nonzero(t == g)) for g in q}
    mix = sum(n[g] * q[g] for g in q) / sum(n.values())
    low, high = prior_box(priors)
    prior = prior_pdf(runs[priors.keys].to_numpy(dtype=float), low, high)
    return np.where(mix > 0, prior / np.where(mix > 0, mix, 1.0), 0.0)
