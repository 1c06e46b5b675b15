"""The run bank of an ABC-SMC calibration (sim/calibration/bank.py): recording every run
leaves the posterior as it is, its refitted proposal densities are pyabc's, a resumed run
appends to it, and importance sampling over it recovers a posterior that re-weighting the
accepted particles alone truncates.

Real runs use three parameters (a population of 12 fits a non-singular covariance), a
2-year warm start and scale 0.05: they test the machinery, not the fit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.bank import (
    bank_path,
    fit_kernel,
    mixture_weights,
    prior_box,
    prior_pdf,
    proposal_densities,
    read_bank,
)
from sim.calibration.config import Prior, Priors, load_priors, load_targets
from sim.calibration.retune import reweight, reweight_runs
from sim.calibration.smc import SMCResult, SMCSettings, run_smc
from sim.experiments.executors import SequentialExecutor
from sim.params import Scenario
from sim.run import resolve

from .gaussian_abc import PRIOR, abc_posterior_moments, weighted_moments

SHORT = resolve(Scenario(), **{"run.warm_start_years": 2})
PRIORS = dataclasses.replace(load_priors(), priors=load_priors().priors[:3])
TARGETS = load_targets()
SETTINGS = SMCSettings(population=12, generations=3, scale=0.05, seed=11, quantile=0.3)


def _run(db: Path, bank: bool, generations: int = 3, resume: bool = False) -> SMCResult:
    s = dataclasses.replace(SETTINGS, bank=bank, generations=generations)
    return run_smc(TARGETS, PRIORS, SHORT, s, db, SequentialExecutor(), quiet=True, resume=resume)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SMCResult]:
    """The same tiny calibration with early rejection and with the run bank."""
    tmp = tmp_path_factory.mktemp("bank")
    return {"early": _run(tmp / "early.db", False), "bank": _run(tmp / "bank.db", True)}


@pytest.mark.slow
def test_recording_every_run_keeps_the_posterior(runs: dict[str, SMCResult]) -> None:
    early, banked = runs["early"], runs["bank"]
    pd.testing.assert_frame_equal(banked.posterior, early.posterior, check_exact=True)
    pd.testing.assert_frame_equal(banked.generations, early.generations, check_exact=True)
    for t, frame in early.populations.items():
        pd.testing.assert_frame_equal(banked.populations[t], frame, check_exact=True)
    assert not bank_path(early.db).exists()
    bank, meta = read_bank(bank_path(banked.db))
    assert len(bank) == banked.simulations  # every run, the prior calibration sample too
    assert meta["labels"] == TARGETS.labels
    assert sorted(bank["t"].unique()) == [-1, 0, 1, 2]
    rejected = bank[~bank["accepted"]]
    assert len(rejected) > 0 and np.isfinite(rejected.filter(like="x_").to_numpy()).all()
    # the accepted runs are pyabc's particles, in slot order
    for t, frame in banked.populations.items():
        acc = bank[(bank["t"] == t) & bank["accepted"]]
        np.testing.assert_array_equal(acc[PRIORS.keys].to_numpy(), frame[PRIORS.keys].to_numpy())
        np.testing.assert_array_equal(acc["distance"].to_numpy(), frame["distance"].to_numpy())
        assert (
            rejected.loc[rejected["t"] == t, "distance"] > banked.generations["epsilon"][t]
        ).all()


@pytest.mark.slow
def test_refitted_proposals_reproduce_pyabcs_importance_weights(
    runs: dict[str, SMCResult],
) -> None:
    """prior / q_t of generation t's accepted runs, normalised, are the weights pyabc stored:
    the transition refitted to the banked generation t-1 is the one pyabc sampled from."""
    banked = runs["bank"]
    bank, _ = read_bank(bank_path(banked.db))
    q = proposal_densities(bank, PRIORS, truncate=False)
    low, high = prior_box(PRIORS)
    for t, frame in banked.populations.items():
        sel = ((bank["t"] == t) & bank["accepted"]).to_numpy()
        w = prior_pdf(bank.loc[sel, PRIORS.keys].to_numpy(), low, high) / q[t][sel]
        np.testing.assert_allclose(w / w.sum(), frame["weight"], rtol=1e-9)
    # the truncated proposal is a density on the prior's box: its mean of 1 / prior over
    # prior draws is its mass there (generation 2's kernel, 20,000 uniform draws)
    rng = np.random.default_rng(0)
    theta = rng.uniform(low, high, size=(20_000, len(low)))
    parent = bank[(bank["t"] == 1) & bank["accepted"]]
    kernel = fit_kernel(parent[PRIORS.keys].to_numpy(), parent["weight"].to_numpy())
    mass = float(np.mean(kernel.pdf(theta)) * np.prod(high - low))
    assert mass == pytest.approx(kernel.share_inside(low, high, seed=1), abs=0.03)


@pytest.mark.slow
def test_resume_appends_the_new_generations(runs: dict[str, SMCResult], tmp_path: Path) -> None:
    db = tmp_path / "abc.db"
    _run(db, True, generations=2)
    assert sorted(read_bank(bank_path(db))[0]["t"].unique()) == [-1, 0, 1]
    _run(db, True, generations=3, resume=True)
    pd.testing.assert_frame_equal(
        read_bank(bank_path(db))[0], read_bank(bank_path(runs["bank"].db))[0], check_exact=True
    )


# --------------------------------------------------------------- a bank with a known answer

#: The synthetic model: theta ~ U(PRIOR), x = theta + N(0, 1), observed 0 for the bank.
#: Tolerances of the synthetic ABC-SMC's generations.
EPS = (3.0, 1.5, 0.8, 0.4)
N_ACCEPTED = 1000
SYNTH = Priors(Path("synthetic.yaml"), (Prior("a.theta", *PRIOR, False, "test", "", 0.0),))


def _synthetic_run_bank(seed: int = 3) -> pd.DataFrame:
    """Every run of an ABC-SMC of the model, as the sampler banks them: generation 0 from
    the prior, generation t from pyabc's transition fitted to t - 1 (truncated to the
    prior), each until N_ACCEPTED runs have |x| <= EPS[t]; weights prior / transition."""
    rng = np.random.default_rng(seed)
    frames = []
    low, high = np.array([PRIOR[0]]), np.array([PRIOR[1]])
    kernel = None
    for g, eps in enumerate(EPS):
        th_all: list[np.ndarray] = []
        while sum(np.count_nonzero(np.abs(a[:, 1]) <= eps) for a in th_all) < N_ACCEPTED:
            if kernel is None:
                th = rng.uniform(*PRIOR, size=5000)
            else:
                idx = rng.choice(len(kernel.weights), size=20_000, p=kernel.weights)
                th = kernel.centres[idx, 0] + rng.normal(0, np.sqrt(kernel.cov[0, 0]), 20_000)
                th = th[(th >= PRIOR[0]) & (th <= PRIOR[1])]
            th_all.append(np.column_stack([th, th + rng.normal(size=th.size)]))
        runs = np.vstack(th_all)
        ok = np.abs(runs[:, 1]) <= eps
        runs = runs[: np.flatnonzero(ok)[N_ACCEPTED - 1] + 1]  # stop at the last acceptance
        ok = np.abs(runs[:, 1]) <= eps
        theta = runs[:, :1]
        q = np.ones(len(runs)) if kernel is None else kernel.pdf(theta)
        w = np.where(ok, prior_pdf(theta, low, high) / q, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "t": g,
                    "a.theta": theta[:, 0],
                    "x_0": runs[:, 1],
                    "distance": np.abs(runs[:, 1]),
                    "accepted": ok,
                    "weight": w,
                }
            )
        )
        kernel = fit_kernel(theta[ok], w[ok])
    return pd.concat(frames, ignore_index=True)


def test_the_run_bank_recovers_a_posterior_the_accepted_particles_truncate() -> None:
    """The new observation 2.5 lies where the tighter generations rejected every run
    (|x| > EPS[t]): importance sampling over all runs still finds the exact ABC posterior
    at its eps'; the accepted particles alone cover it only through generation 0, so their
    posterior is truncated or much looser."""
    bank = _synthetic_run_bank()
    theta = bank["a.theta"].to_numpy()
    x = bank["x_0"].to_numpy()
    t = bank["t"].to_numpy()
    d_new = np.abs(x - 2.5)
    rw = reweight_runs(t, mixture_weights(bank, SYNTH), np.array(EPS), d_new, ess_floor=400)
    assert rw.floor_reached
    mean, sd = abc_posterior_moments(2.5, rw.epsilon)
    got = weighted_moments(theta, rw.weights)
    # standard error of a mean with ESS 400 and sd ~0.6: 0.03; 0.08 is about 3 of them
    assert abs(got[0] - mean) < 0.08 and abs(got[1] - sd) < 0.08, (got, mean, sd)
    assert rw.epsilon < EPS[1]  # tighter than the second generation's old region
    acc = bank["accepted"].to_numpy()
    assert rw.weights[~acc].sum() > 0.5  # mostly runs the old ABC rejected
    # the accepted-only method on the same runs: truncated, or far looser
    w_acc = bank["weight"].to_numpy()[acc]
    for g in np.unique(t):
        w_acc[t[acc] == g] /= w_acc[t[acc] == g].sum()
    old = reweight(t[acc], w_acc, np.array(EPS), np.abs(x[acc]), d_new[acc], ess_floor=400)
    m_old, _ = abc_posterior_moments(2.5, old.epsilon)
    got_old = weighted_moments(theta[acc], old.weights)
    # (seed 3: eps' 1.94 against 0.38, mean 1.69 against the exact 2.35)
    assert old.epsilon > 2 * rw.epsilon and abs(got_old[0] - m_old) > 0.3
