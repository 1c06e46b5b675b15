"""The policy analyses' model as an EMA Workbench model (``ema_workbench`` 3).

``model()`` gives an ``ema_workbench.Model`` over the same space as ``pilotsim analyse``:
the uncertainties of ``load_space`` (X), the platform's design levers ``PLATFORM_LEVERS``
(L) and the outcomes ``MEASURES`` (M), each the *paired effect* over the period of the
policy minus its baseline run in the same future with the same seeds. A user can then apply
EMA's own toolbox (samplers, evaluators, PRIM, CART, feature scoring, MORDM) to it.

Names: EMA 3 wants parameter names that are Python identifiers, and the model's keys are
dotted (``platform.success_uplift``). A key's EMA name replaces the dot by a double
underscore (``platform__success_uplift``); ``KEY_OF[name]`` gives the dotted key back and
``NAME_OF[key]`` the EMA name. Outcome names are the ``MEASURES`` names unchanged.

What each parameter is in EMA:

- a real uncertainty is a ``RealParameter`` over the space's range; a count an
  ``IntegerParameter`` over the whole numbers inside it; the switch ``gba.responds`` a
  ``BooleanParameter`` (on or off with even chances, as in the space);
- a real lever is a ``RealParameter`` over its range, a switch a ``BooleanParameter``, the
  sectors a ``CategoricalParameter`` of ``SECTOR_GROUPS`` names;
- a design lever is not also an uncertainty (``platform.slot_cost_hkd_m`` is both in the
  space; here it is a lever only: EMA's policies set it, its scenarios leave it alone);
- the calibrated world is one ``RealParameter`` ``calibration__posterior`` in [0, 1] that
  picks a posterior particle and so sets every fitted parameter jointly.

One experiment (``evaluate``) applies the future to both scenarios through
``Space.overrides`` (so a value share's partner gives up what it gains), the levers to the
policy only, runs both with the same seeds (``replicate_seeds(root_seed, seeds)``: common
random numbers, so the difference is the policy's), and returns the mean paired effect over
the seeds. EMA samples the futures and designs; our seeds only pair the runs. The function
is a ``functools.partial`` of a module-level function, so ``MultiprocessingEvaluator``
can send it to its workers (guard the script with ``if __name__ == "__main__":``).

Example (a run at scale 0.25 to 2035 costs about a second per scenario and seed)::

    from ema_workbench import SequentialEvaluator, perform_experiments
    from ema_workbench.analysis import feature_scoring, prim

    from sim.analysis.ema import KEY_OF, model

    m = model(scale=0.05, until=2030, period=(2025, 2030))
    experiments, outcomes = perform_experiments(
        m, scenarios=100, policies=1, evaluator=SequentialEvaluator(m),
        uncertainty_sampling_kwargs={"rng": 42},
    )
    x = experiments[[u.name for u in m.uncertainties]]
    # scenario discovery: the futures where the platform costs Hong Kong more than it gains
    box = prim.Prim(x, outcomes["npv_net_benefit_hkd_m"] < 0).find_box()
    box.inspect()
    # which uncertainties drive each outcome (extra-trees feature scores)
    scores = feature_scoring.get_feature_scores_all(x, outcomes)
    scores.rename(index=KEY_OF)  # dotted keys again
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

with warnings.catch_warnings():
    # EMA warns on import that its optional ipyparallel evaluator is unavailable; the
    # sequential and multiprocessing evaluators used here do not need it.
    warnings.filterwarnings("ignore", message="ipyparallel not installed")
    from ema_workbench import (
        BooleanParameter,
        CategoricalParameter,
        IntegerParameter,
        Model,
        RealParameter,
        ScalarOutcome,
    )

from sim.analysis.space import (
    MEASURES,
    PLATFORM_LEVERS,
    POSTERIOR_KEY,
    SECTOR_GROUPS,
    Lever,
    Space,
    Uncertainty,
    load_space,
)
from sim.errors import BatchError
from sim.experiments.compare import DEFAULT_PERIOD
from sim.params import Scenario, Spec

#: Separator of group and name in EMA names (a dot is not allowed in an identifier).
SEP = "__"
#: Label of the policy run in the frames of one experiment.
POLICY = "policy"
BASELINE = "baseline"
#: Kinds of design lever (``sim.analysis.space.Lever``).
LEVER_KINDS = ("real", "switch", "choice")


def _all_keys() -> list[str]:
    """Every dotted parameter key of ``sim/params.py`` (``group.name``)."""
    keys: list[str] = []
    for group, gf in Scenario.model_fields.items():
        ann = gf.annotation
        if isinstance(ann, type) and issubclass(ann, Spec):
            keys.extend(f"{group}.{name}" for name in ann.model_fields)
    return keys


#: EMA name of every dotted parameter key (``platform.success_uplift`` ->
#: ``platform__success_uplift``).
NAME_OF: dict[str, str] = {k: k.replace(".", SEP) for k in [*_all_keys(), POSTERIOR_KEY]}
#: Dotted key of every EMA parameter name (the inverse of ``NAME_OF``).
KEY_OF: dict[str, str] = {v: k for k, v in NAME_OF.items()}
if len(KEY_OF) != len(NAME_OF):  # a "__" inside a parameter name would make names ambiguous
    raise RuntimeError("two parameter keys share an EMA name; change sim.analysis.ema.SEP")


@dataclass(frozen=True)
class Pair:
    """What one EMA experiment runs: a baseline and a policy in a future, over seeds.

    Attributes:
        base, policy: the two scenarios at the experiment's scale and horizon.
        space: the uncertainties EMA varies (the design levers left out).
        levers: the design levers EMA sets on the policy.
        period: years of the effects (inclusive).
        seeds: run seeds shared by both scenarios (common random numbers).
        rate: social discount rate of the present values (the baseline's).
    """

    base: Scenario
    policy: Scenario
    space: Space
    levers: tuple[Lever, ...]
    period: tuple[int, int]
    seeds: tuple[int, ...]
    rate: float


def _uncertainty(u: Uncertainty) -> Any:
    name = NAME_OF[u.key]
    if u.switch:
        return BooleanParameter(name)
    if u.integer:
        lo, hi = math.ceil(u.low), math.floor(u.high)
        if lo < hi:
            return IntegerParameter(name, lo, hi)
    return RealParameter(name, u.low, u.high)


def _lever(lv: Lever) -> Any:
    name = NAME_OF[lv.key]
    if lv.kind == "switch":
        return BooleanParameter(name)
    if lv.kind == "choice":
        return CategoricalParameter(name, list(lv.options))
    return RealParameter(name, lv.low, lv.high)


def _check_lever(lv: Lever) -> None:
    if lv.key not in NAME_OF:
        raise BatchError(f"lever {lv.key!r} is not a parameter key of sim/params.py")
    if lv.kind not in LEVER_KINDS:
        raise BatchError(f"lever {lv.key!r}: kind {lv.kind!r}; allowed: {', '.join(LEVER_KINDS)}")
    if lv.kind == "choice" and lv.key == "platform.sectors":
        extra = sorted(set(lv.options) - set(SECTOR_GROUPS))
        if extra:
            raise BatchError(
                f"lever platform.sectors: option {extra[0]!r}; allowed: {', '.join(SECTOR_GROUPS)}"
            )


def _future(space: Space, values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted-key overrides of the future given by EMA values (missing: the scenario's)."""
    point: dict[str, float] = {}
    for u in space.uncertainties:
        name = NAME_OF[u.key]
        if name not in values:
            continue
        v = values[name]
        if u.switch and isinstance(v, (bool, np.bool_)):
            point[u.key] = u.high if v else u.low  # on / off, read back by Uncertainty.value
        else:
            point[u.key] = float(v)
    return space.overrides(point)


def _design(levers: Sequence[Lever], values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted-key overrides of the platform design given by EMA values (missing: the
    policy's own setting)."""
    out: dict[str, Any] = {}
    for lv in levers:
        name = NAME_OF[lv.key]
        if name not in values:
            continue
        v = values[name]
        if lv.kind == "switch":
            out[lv.key] = bool(v)
        elif lv.kind == "choice":
            if v not in lv.options:
                raise BatchError(
                    f"lever {name} = {v!r} is not an option; allowed: {', '.join(lv.options)}"
                )
            out[lv.key] = list(SECTOR_GROUPS[v]) if lv.key == "platform.sectors" else v
        else:
            out[lv.key] = float(v)
    return out


def evaluate(pair: Pair, **values: Any) -> dict[str, float]:
    """The paired effects of one EMA experiment (``model().function`` binds ``pair``).

    Args:
        pair: the scenarios, space, levers, period and seeds (see ``Pair``).
        **values: EMA names of uncertainties and levers with their values; one left out
            stays at the scenario's value.

    Returns:
        ``MEASURES`` name -> mean over the seeds of policy minus baseline over the period.

    Raises:
        BatchError: a name that is neither an uncertainty nor a lever of the model.
    """
    import pandas as pd

    from sim.experiments.compare import panel_from_frames, period_values
    from sim.run import run
    from sim.scenario import with_overrides

    known = {NAME_OF[u.key] for u in pair.space.uncertainties}
    known |= {NAME_OF[lv.key] for lv in pair.levers}
    unknown = sorted(set(values) - known)
    if unknown:
        raise BatchError(
            f"{unknown[0]!r} is not an uncertainty or lever of this model; "
            f"allowed: {', '.join(sorted(known))}"
        )
    future = _future(pair.space, values)
    base = with_overrides(pair.base, future)
    policy = with_overrides(pair.policy, {**future, **_design(pair.levers, values)})
    frames: dict[str, pd.DataFrame] = {}
    runs: list[dict[str, Any]] = []
    for i, seed in enumerate(pair.seeds):
        for label, spec in ((BASELINE, base), (POLICY, policy)):
            key = f"{label}/{i}"
            frames[key] = run(spec, seed=seed).quarterly
            runs.append({"label": label, "replicate": i, "seed": seed, "key": key})
    pv = period_values(panel_from_frames(frames, runs), pair.period, pair.rate)
    cols = [m.name for m in MEASURES]
    b = pv[pv["label"] == BASELINE].set_index("replicate")[cols]
    p = pv[pv["label"] == POLICY].set_index("replicate")[cols]
    effect = (p - b.loc[p.index]).mean()
    return {c: float(effect[c]) for c in cols}


def model(
    base: Scenario | str = "baseline",
    policy: Scenario | str = "hk_pilot_platform",
    *,
    scale: float = 0.25,
    until: int = 2035,
    period: tuple[int, int] = DEFAULT_PERIOD,
    seeds: int = 1,
    root_seed: int = 0,
    space: Space | None = None,
    levers: Sequence[Lever] = PLATFORM_LEVERS,
    name: str = "pilotsim",
) -> Any:
    """An ``ema_workbench.Model`` of the policy's paired effects (module docstring).

    Args:
        base, policy: the baseline and the policy (scenario objects or names).
        scale, until: population scale and last simulated year of every run (the defaults
            of ``pilotsim analyse``, ``sim.analysis.experiment.Settings``).
        period: years over which the effects are summed or discounted (inclusive).
        seeds: seeds per experiment; each outcome is the mean paired effect over them
            (assumption: one, as a zipped design of the analyses, since EMA's futures
            already vary; more average out the seed noise of each experiment).
        root_seed: root of the seeds (``replicate_seeds``; 0 as ``Settings``).
        space: the uncertainties (default ``load_space(base)``); lever keys are left out.
        levers: the design levers (default ``PLATFORM_LEVERS``).
        name: the EMA model's name (a Python identifier).

    Raises:
        BatchError: a bad option (names it and what is allowed).
        ScenarioError: an unknown scenario or an invalid scale or horizon.
    """
    from sim.analysis.experiment import Settings, prepare
    from sim.experiments.workflows import discount_rate_of
    from sim.scenario import load_scenario

    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise BatchError(f"seeds must be a positive integer, got {seeds!r}")
    if isinstance(root_seed, bool) or not isinstance(root_seed, (int, np.integer)) or root_seed < 0:
        raise BatchError(f"root_seed must be a non-negative integer, got {root_seed!r}")
    lo, hi = (int(y) for y in period)
    if lo > hi or hi > until:
        raise BatchError(f"period {lo}-{hi} must be START-END with START <= END <= until ({until})")
    if not name.isidentifier():
        raise BatchError(f"model name {name!r} must be a Python identifier (EMA 3)")
    for lv in levers:
        _check_lever(lv)
    settings = Settings(scale=scale, until=until, period=(lo, hi), root_seed=root_seed)
    b = load_scenario(base) if isinstance(base, str) else base
    p = load_scenario(policy) if isinstance(policy, str) else policy
    b, p = prepare(b, settings), prepare(p, settings)
    full = space if space is not None else load_space(b)
    unknown = [k for k in full.keys if k not in NAME_OF]
    if unknown:
        raise BatchError(f"uncertainty {unknown[0]!r} is not a parameter key of sim/params.py")
    lever_keys = {lv.key for lv in levers}
    explored = full.subset([k for k in full.keys if k not in lever_keys])
    pair = Pair(
        base=b,
        policy=p,
        space=explored,
        levers=tuple(levers),
        period=(lo, hi),
        seeds=tuple(settings.seeds(int(seeds))),
        rate=discount_rate_of(b),
    )
    m = Model(name, function=functools.partial(evaluate, pair))
    m.uncertainties = [_uncertainty(u) for u in explored.uncertainties]
    m.levers = [_lever(lv) for lv in levers]
    m.outcomes = [
        ScalarOutcome(
            mm.name, kind=ScalarOutcome.MAXIMIZE if mm.sense > 0 else ScalarOutcome.MINIMIZE
        )
        for mm in MEASURES
    ]
    return m
