"""``pilotsim calibrate --retune``: importance re-weighting of a banked ABC run against a
known posterior, the effect of dropping and re-weighting a target, and the command on a
tiny real bank (outputs, and bad input refused with exit 2 and nothing written)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm

from sim.calibration.config import Series, Targets, load_targets
from sim.calibration.posterior import load_posterior
from sim.calibration.retune import (
    METHOD_ACCEPTED,
    METHOD_RUNS,
    Bank,
    compare_posteriors,
    new_distances,
    reweight,
)
from sim.cli import main
from sim.scenario import load_scenario

from .gaussian_abc import PRIOR, abc_posterior_moments, weighted_moments

# --------------------------------------------------------------- a bank with a known answer

#: Tolerances of the synthetic bank's generations (narrowing, as an ABC-SMC run's).
EPS = (4.0, 2.5, 1.8, 1.0)
#: Proposals of generations 1-3: normal (mean, sd), narrowing around the old observation 0
#: and off-centre, so ignoring the importance weights biases the answer.
PROPOSALS = ((-0.5, 2.0), (-0.5, 1.4), (-0.5, 1.0))
N_PER_GEN = 4000


def _synthetic_bank(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """theta ~ U(-5, 5), x = theta + N(0, 1), observed 0; generation t keeps N_PER_GEN
    proposals with |x| <= EPS[t], weighted prior / proposal (normalised). Returns
    ``theta, x, t, weight``."""
    rng = np.random.default_rng(seed)
    thetas, xs, ts, ws = [], [], [], []
    for g, eps in enumerate(EPS):
        got_t: list[np.ndarray] = []
        got_x: list[np.ndarray] = []
        while sum(len(a) for a in got_t) < N_PER_GEN:
            if g == 0:
                th = rng.uniform(*PRIOR, size=50_000)
            else:
                m, s = PROPOSALS[g - 1]
                th = rng.normal(m, s, size=50_000)
                th = th[(th >= PRIOR[0]) & (th <= PRIOR[1])]
            x = th + rng.normal(size=th.size)
            ok = np.abs(x) <= eps
            got_t.append(th[ok])
            got_x.append(x[ok])
        th = np.concatenate(got_t)[:N_PER_GEN]
        x = np.concatenate(got_x)[:N_PER_GEN]
        w = np.ones_like(th) if g == 0 else 1.0 / norm.pdf(th, *PROPOSALS[g - 1])
        thetas.append(th)
        xs.append(x)
        ts.append(np.full(th.size, g))
        ws.append(w / w.sum())
    return np.concatenate(thetas), np.concatenate(xs), np.concatenate(ts), np.concatenate(ws)


def test_reweighting_matches_the_known_posterior() -> None:
    theta, x, t, w = _synthetic_bank()
    eps = np.array(EPS)
    d_old = np.abs(x)
    d_new = np.abs(x - 1.0)  # the new observation: 1 instead of 0
    rw = reweight(t, w, eps, d_old, d_new, ess_floor=800)
    assert rw.floor_reached and rw.ess >= 800
    mean, sd = abc_posterior_moments(1.0, rw.epsilon)
    got = weighted_moments(theta, rw.weights)
    # standard error of a mean with ESS 800 and sd ~1: 0.035; 0.1 is about 3 of them
    tol = 0.1
    assert abs(got[0] - mean) < tol and abs(got[1] - sd) < tol, (got, mean, sd)
    # the tightest generation (|x| <= 1) misses about half the new posterior (x in (1, 1.x])
    gens = rw.generations.set_index("t")
    assert not gens.loc[3, "used"] and gens.loc[3, "outside"] > 0.3
    assert gens.loc[0, "used"]
    # wrong weights would fail the same check: ignoring the importance weights or the new
    # observation (ignoring the truncation costs at most eps'/2 here: the 2-D test checks it)
    flat = np.ones_like(w)
    for g in np.unique(t):
        flat[t == g] /= np.count_nonzero(t == g)
    wrong = {
        "no importance weights": reweight(t, flat, eps, d_old, d_new, ess_floor=800),
        "old observation": reweight(t, w, eps, d_old, d_old, ess_floor=800),
    }
    for name, bad in wrong.items():
        m, s = abc_posterior_moments(1.0, bad.epsilon)
        got = weighted_moments(theta, bad.weights)
        assert abs(got[0] - m) > tol or abs(got[1] - s) > tol, name


def test_identical_targets_reproduce_the_generation_at_the_same_tolerance() -> None:
    theta, x, t, w = _synthetic_bank()
    eps = np.array(EPS)
    d = np.abs(x)
    rw = reweight(t, w, eps, d, d, ess_floor=800)
    # every generation whose tolerance is at least eps' holds the whole new region
    used = rw.generations.set_index("t")["used"]
    assert all(used[g] == (EPS[g] >= rw.epsilon) for g in range(len(EPS)))
    mean, sd = abc_posterior_moments(0.0, rw.epsilon)
    got = weighted_moments(theta, rw.weights)
    assert abs(got[0] - mean) < 0.1 and abs(got[1] - sd) < 0.1


# --------------------------------------------------------------- dropping and weighting


def _two_series_targets(weight_a: float = 1.0) -> Targets:
    base = load_targets()
    proto = base.series[0]

    def one(name: str, col: str, weight: float) -> Series:
        return replace(
            proto,
            name=name,
            model_column=col,
            years=(2019,),
            observed=(1.0,),
            level_sd=0.1,
            weight=weight,
            mean_over=None,
        )

    series = (one("a", "startups", weight_a), one("b", "it_employment", 1.0))
    return Targets(Path("two.yaml"), base.data_path, series, 1.0, 1.0)


def _two_parameter_bank() -> Bank:
    """(a, b) ~ U(-1, 1)^2, statistics exp(a + e), exp(b + e') with e ~ N(0, 0.01); four
    generations of narrowing tolerance drawn from the prior and weighted 1 (rejection ABC
    per generation: the proposals are the prior)."""
    targets = _two_series_targets()
    rng = np.random.default_rng(3)
    eps = np.array([8.0, 3.0, 1.5, 1.0])  # generation 0: the whole prior box
    rows, xs, ts = [], [], []
    for g, e in enumerate(eps):
        n = 0
        while n < 2000:
            ab = rng.uniform(-1, 1, size=(20_000, 2))
            x = np.exp(ab + rng.normal(0, 0.01, size=ab.shape))
            d = np.sqrt(np.mean((np.log(x) / 0.1) ** 2, axis=1))
            ok = d <= e
            rows.append(ab[ok])
            xs.append(x[ok])
            ts.append(np.full(int(ok.sum()), g))
            n += int(ok.sum())
    ab, x, t = np.vstack(rows), np.vstack(xs), np.concatenate(ts)
    w = np.zeros(len(t))
    for g in range(len(eps)):
        w[t == g] = 1.0 / np.count_nonzero(t == g)
    distance = np.array([targets.distance(r) for r in x])
    assert np.all(distance <= eps[t] + 1e-9)
    params = pd.DataFrame(
        {"startups.exit_hazard": ab[:, 0], "startups.entry_per_year_2015": ab[:, 1]}
    )
    return Bank(targets, params, t, eps, w, x, distance)


def _sd(bank: Bank, rw_w: np.ndarray, col: str) -> float:
    return weighted_moments(bank.params[col].to_numpy(), rw_w)[1]


def test_dropping_a_target_frees_its_parameter_and_weight_tightens() -> None:
    bank = _two_parameter_bank()
    a, b = "startups.exit_hazard", "startups.entry_per_year_2015"

    def run(new: Targets, max_outside: float = 0.05) -> np.ndarray:
        d = new_distances(bank, new)
        return reweight(
            bank.t,
            bank.weight,
            bank.epsilon,
            bank.distance,
            d,
            ess_floor=400,
            max_outside=max_outside,
        ).weights

    same = run(bank.targets)
    dropped = run(replace(bank.targets, series=bank.targets.series[:1]))
    heavier = run(_two_series_targets(weight_a=4.0))
    # without series b, parameter b is no longer fitted: its posterior is (nearly) the
    # prior's, U(-1, 1) with sd 0.577, while a stays fitted
    assert _sd(bank, dropped, b) > 0.5 > 3 * _sd(bank, same, b)
    assert _sd(bank, dropped, a) < 0.2
    # the tighter generations hold b near 0 only: used anyway, they would keep it fitted
    truncated = run(replace(bank.targets, series=bank.targets.series[:1]), max_outside=1.0)
    assert _sd(bank, truncated, b) < 0.4
    # weighting series a up narrows a against b
    ratio_same = _sd(bank, same, a) / _sd(bank, same, b)
    ratio_heavy = _sd(bank, heavier, a) / _sd(bank, heavier, b)
    assert ratio_heavy < 0.8 * ratio_same


def test_compare_posteriors_shift_and_overlap() -> None:
    from sim.calibration.config import load_priors

    priors = load_priors()
    key = priors.priors[0]
    span = key.high - key.low
    rng = np.random.default_rng(0)
    v = key.low + span * rng.uniform(0.4, 0.6, 2000)
    a = pd.DataFrame({"weight": 1.0, key.key: v})
    b = pd.DataFrame({"weight": 1.0, key.key: v + 0.1 * span})
    same = compare_posteriors(a, a, priors)
    moved = compare_posteriors(a, b, priors)
    assert list(same["parameter"]) == [key.key]
    assert same["shift"].iloc[0] == 0 and same["overlap"].iloc[0] == 1
    assert moved["shift"].iloc[0] == pytest.approx(-0.1, abs=1e-9)
    # 90% intervals 0.18 of the range wide, moved by 0.1: overlap 0.08 / 0.28
    assert moved["overlap"].iloc[0] == pytest.approx(0.08 / 0.28, abs=0.02)


# --------------------------------------------------------------- the command, tiny real bank


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def _targets_copy(tmp: Path, name: str, edit) -> Path:
    """The committed targets with absolute data paths, edited by ``edit(dict)``."""
    src = load_targets().path
    data = yaml.safe_load(src.read_text())
    data["data"] = str((src.parent / data["data"]).resolve())
    for spec in data["series"].values():
        if "data" in spec:
            spec["data"] = str((src.parent / spec["data"]).resolve())
    edit(data)
    return _write(tmp, name, yaml.safe_dump(data, sort_keys=False))


@pytest.mark.slow
def test_cli_retune_tiny_bank(tmp_path: Path, capsys) -> None:
    priors = _write(
        tmp_path,
        "priors.yaml",
        yaml.safe_dump(
            {
                "parameters": {
                    "manufacturing.exit_hazard": {"range": [0.01, 0.1], "source": "test"},
                    "it_sector.other_value_added_growth": {"range": [0.0, 0.15], "source": "test"},
                }
            }
        ),
    )
    burn = _write(tmp_path, "short.yaml", "run:\n  warm_start_years: 2\n")
    cal = tmp_path / "cal"
    small = ["--priors", str(priors), "--scenario", str(burn), "--quiet", "--jobs", "1"]
    assert (
        main(
            ["calibrate", "--quick", "--population", "10", "--scale", "0.05", "--no-report"]
            + ["--predictive-draws", "4", "--predictive-scale", "0.05", *small, "--out", str(cal)]
        )
        == 0
    )
    bank = cal / "abc.db"
    before = sorted(p.name for p in cal.iterdir())

    def drop_and_weigh(d: dict) -> None:
        del d["series"]["startup_employees"]
        d["series"]["it_employment"]["weight"] = 3.0
        d["series"]["it_employment"]["years"] = [2015, 2017, 2019]

    new = _targets_copy(tmp_path, "new.yaml", drop_and_weigh)
    out = tmp_path / "rt"
    retune = ["calibrate", "--retune", str(new), "--bank", str(bank), "--quick", *small]
    retune += ["--predictive-scale", "0.05", "--ess-floor", "5"]
    assert main([*retune, "--out", str(out)]) == 0
    for f in ("posterior.csv", "calibrated.yaml", "report.md", "retune.json", "fit.csv"):
        assert (out / f).is_file(), f
    post = load_posterior(out / "posterior.csv")
    assert post["weight"].sum() == pytest.approx(1.0) and (post["weight"] > 0).all()
    spec = load_scenario(out / "calibrated.yaml")
    assert 0.01 <= spec.manufacturing.exit_hazard <= 0.1
    report = (out / "report.md").read_text()
    assert "startup_employees: dropped" in report and "it_employment: weight 1 -> 3" in report
    # the calibration banked every run (the default): the retune samples over all of them
    assert (cal / "abc.bank.parquet").is_file()
    assert f"Method: **{METHOD_RUNS}**" in report
    meta = json.loads((out / "retune.json").read_text())
    assert meta["method"] == f"retune: {METHOD_RUNS}" and meta["bank"]["runs"] > len(post)
    assert "## Against a full refit" in report
    fit = pd.read_csv(out / "fit.csv")
    assert len(fit) == len(load_targets(new).labels)
    # a full refit to compare with: here the bank's own posterior
    out2 = tmp_path / "rt2"
    refit = ["--refit-posterior", str(cal / "posterior.csv")]
    assert main([*retune, *refit, "--out", str(out2)]) == 0
    assert "Largest |shift|" in (out2 / "report.md").read_text()
    # without the run bank (an old database): the accepted particles, and the report says so
    (cal / "abc.bank.parquet").rename(tmp_path / "kept.parquet")
    out3 = tmp_path / "rt3"
    assert main([*retune, "--out", str(out3)]) == 0
    report3 = (out3 / "report.md").read_text()
    assert f"Method: **{METHOD_ACCEPTED}**" in report3 and "no run bank" in report3
    (tmp_path / "kept.parquet").rename(cal / "abc.bank.parquet")
    capsys.readouterr()

    # bad input: exit 2, the file and key named, nothing written
    def refused(args: list[str], *words: str) -> None:
        bad_out = tmp_path / "bad"
        assert main(["calibrate", *args, "--out", str(bad_out)]) == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words), err
        assert not bad_out.exists()

    base = ["--bank", str(bank), "--quick", *small]
    refused(["--retune", str(tmp_path / "missing.yaml"), *base], "missing.yaml", "not found")
    malformed = _write(tmp_path, "malformed.yaml", "series: [a\n")
    refused(["--retune", str(malformed), *base], "malformed.yaml")
    window = _targets_copy(
        tmp_path,
        "window.yaml",
        lambda d: d["series"]["university_spinoffs"].update(mean_over=[2016, 2019]),
    )
    key = "series.university_spinoffs.mean_over"
    refused(["--retune", str(window), *base], "window.yaml", key, "full refit")
    # the bank's own folder is never written into
    assert main(["calibrate", "--retune", str(new), *base, "--out", str(cal)]) == 2
    assert "folder of the bank" in capsys.readouterr().err
    assert sorted(p.name for p in cal.iterdir()) == before
