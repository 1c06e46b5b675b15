"""Property-based fuzz of the declared parameter space (issue 25, "What must hold" 3).

Each example overrides a few parameters of the baseline, each drawn over its whole declared
range (the bounds of ``sim/params.py``: ``ge``/``gt``/``le``/``lt``; without an upper bound,
``sim.params.MAX_MAGNITUDE``), plus levers switched on at a drawn start year, and runs it at
a tiny scale (0.02-0.05) and a short horizon (to 2028, at most 15 burn-in years; the run
group is the one part of the space held small, so that examples are cheap). Validation may
refuse a scenario (``ScenarioError``); a scenario it accepts must run, and every run must
hold:

- no exception; no NaN or inf outside ``sim.metrics.MAY_BE_NAN`` (and the retention share
  of a year without any value added);
- no negative stock or flow (every extensive column >= 0), public and private spend >= 0;
- ``platform_utilisation`` in [0, 1];
- value parts by place and Hong Kong's functions sum to their totals;
- the same scenario with its levers off (same seed) is identical before the first lever
  starts.

Profiles: ``ci`` (default; about a minute on one core, derandomized, no example database,
so every run of the suite draws the same examples) and ``nightly`` (many more examples)::

    HYPOTHESIS_PROFILE=nightly python -m pytest -n 0 tests/test_fuzz.py

A failure prints the overrides of the smallest failing example; re-run it with
``sim.run("baseline", seed=..., scale=..., until=..., **overrides)``.
"""

from __future__ import annotations

import os
from typing import Any

import annotated_types
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.accounting import FUNCTIONS
from sim.errors import ScenarioError
from sim.metrics import MAY_BE_NAN, METRICS
from sim.params import FIRST_YEAR, LEVER_GROUPS, MAX_MAGNITUDE, SECTORS, Scenario, Spec

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "nightly",
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The horizon and burn-in of fuzzed runs: short, so that an example is cheap.
LAST_YEAR, MAX_WARM_START = 2028, 15
MIN_SCALE, MAX_SCALE = 0.02, 0.05
#: Parameters overridden per example (besides levers switched on).
MAX_KEYS = 6
#: Absolute tolerance of the sums (HKD m).
ATOL = 1e-6


def _bounds(field: Any) -> tuple[float, float, bool, bool]:
    """(low, high, low open, high open) of a field; MAX_MAGNITUDE where none is declared."""
    lo, hi, lo_open, hi_open = -MAX_MAGNITUDE, MAX_MAGNITUDE, False, False
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            lo = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Gt):
            lo, lo_open = float(m.gt), True  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Le):
            hi = float(m.le)  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Lt):
            hi, hi_open = float(m.lt), True  # type: ignore[arg-type]
    return lo, hi, lo_open, hi_open


def _value(group: str, name: str, field: Any, default: Any) -> st.SearchStrategy[Any]:
    """A strategy over a field's whole declared range."""
    lo, hi, lo_open, hi_open = _bounds(field)
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int) and field.annotation is int:
        return st.integers(int(np.ceil(lo)), int(np.floor(hi)))
    if name == "end_year" and group == "platform":
        return st.one_of(st.none(), st.integers(FIRST_YEAR, int(hi)))
    if isinstance(default, float):
        return st.floats(lo, hi, exclude_min=lo_open, exclude_max=hi_open, allow_nan=False)
    if isinstance(default, dict):
        return st.lists(st.floats(0.0, 1.0), min_size=len(default), max_size=len(default)).map(
            lambda w: _shares(list(default), w)
        )
    if isinstance(default, tuple) and name == "sectors":
        return st.lists(st.sampled_from(SECTORS), max_size=len(SECTORS), unique=True).map(tuple)
    if isinstance(default, tuple):
        item = st.floats(-MAX_MAGNITUDE, MAX_MAGNITUDE, allow_nan=False)
        return st.lists(item, min_size=len(default), max_size=len(default))
    raise AssertionError(f"no strategy for {group}.{name} ({field.annotation})")


def _shares(keys: list[str], weights: list[float]) -> dict[str, float]:
    total = sum(weights)
    if total <= 0:
        return {k: 1.0 / len(keys) for k in keys}
    return {k: w / total for k, w in zip(keys, weights, strict=True)}


def _parameters() -> dict[str, st.SearchStrategy[Any]]:
    """Every parameter of every group except ``run`` (drawn apart) as a dotted key."""
    out: dict[str, st.SearchStrategy[Any]] = {}
    for group, gfield in Scenario.model_fields.items():
        cls = gfield.annotation
        if group == "run" or not (isinstance(cls, type) and issubclass(cls, Spec)):
            continue
        for name, field in cls.model_fields.items():
            out[f"{group}.{name}"] = _value(group, name, field, field.default)
    return out


PARAMETERS = _parameters()


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], int, float, int]:
    """(overrides, seed, scale, last year) of one example."""
    until = draw(st.integers(FIRST_YEAR, LAST_YEAR))
    keys = draw(st.lists(st.sampled_from(sorted(PARAMETERS)), max_size=MAX_KEYS, unique=True))
    overrides = {k: draw(PARAMETERS[k]) for k in keys}
    for lever in draw(st.lists(st.sampled_from(LEVER_GROUPS), max_size=2, unique=True)):
        overrides[f"{lever}.enabled"] = True
        overrides[f"{lever}.start_year"] = draw(st.integers(FIRST_YEAR, until))
    overrides["run.warm_start_years"] = draw(st.integers(0, MAX_WARM_START))
    scale = draw(st.floats(MIN_SCALE, MAX_SCALE))
    seed = draw(st.integers(0, 2**16))
    return overrides, seed, scale, until


def _check_frame(df: pd.DataFrame) -> None:
    no_value = df["total_value_added_hkd_m"] == 0
    numbers = df.drop(columns=list(MAY_BE_NAN))
    finite = np.isfinite(numbers.to_numpy(dtype=float))
    finite[:, numbers.columns.get_loc("local_retention_share")] |= no_value.to_numpy()
    assert finite.all(), f"NaN or inf in {list(numbers.columns[~finite.all(axis=0)])}"
    extensive = [m.name for m in METRICS if m.extensive and m.name in df.columns]
    negative = [c for c in extensive if (df[c] < -ATOL).any()]
    assert not negative, f"negative stock or flow: {negative}"
    for c in ("public_spend_hkd_m", "private_spend_hkd_m", "hk_private_spend_hkd_m"):
        assert (df[c] >= 0).all(), c
    assert df["platform_utilisation"].between(0.0, 1.0).all()
    places = df[["hk_value_added_hkd_m", "prd_value_added_hkd_m", "elsewhere_value_added_hkd_m"]]
    total = df["total_value_added_hkd_m"]
    np.testing.assert_allclose(places.sum(axis=1), total, rtol=1e-9, atol=ATOL)
    functions = df[[f"hk_{f}_hkd_m" for f in FUNCTIONS]].sum(axis=1)
    np.testing.assert_allclose(functions, df["hk_value_added_hkd_m"], rtol=1e-9, atol=ATOL)


@given(scenarios())
def test_every_validated_scenario_runs_and_holds_the_invariants(
    example: tuple[dict[str, Any], int, float, int],
) -> None:
    overrides, seed, scale, until = example
    try:
        spec = sim.load_scenario(
            "baseline", {**overrides, "run.scale": scale, "run.end_year": until}
        )
    except ScenarioError:
        return  # validation refused it, with a message naming the key
    result = sim.run(spec, seed=seed)
    for df in (result.quarterly, result.annual):
        _check_frame(df)
    levers = [g for g in LEVER_GROUPS if getattr(spec, g).enabled]
    if not levers:
        return
    off = sim.run(spec, seed=seed, **{f"{g}.enabled": False for g in levers})
    first = min(getattr(spec, g).start_year for g in levers)
    before = result.quarterly["year"] < first
    pd.testing.assert_frame_equal(
        result.quarterly[before], off.quarterly[off.quarterly["year"] < first]
    )
