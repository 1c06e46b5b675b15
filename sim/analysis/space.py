"""What the policy analyses vary: uncertainties (X), the platform's design levers (L), outcomes (M).

Uncertainties come from three files, each range with its source:

- ``calibration/posterior.csv``: the calibrated world as **one** factor,
  ``calibration.posterior``: a draw ``u`` in [0, 1] picks a posterior particle by the
  weighted CDF of the particles and sets all fitted parameters to that particle's values.
  The fitted parameters are strongly correlated in the posterior (e.g. -0.9 between the
  startups' entry rate and its funding elasticity), so drawing each over its own range
  would explore combinations the calibration rejected; drawn jointly, only worlds that
  reproduce 2015-2019 are explored. Without the posterior file each fitted parameter is
  drawn over its prior range instead (and said so);
- ``calibration/priors.yaml`` ``evidence``: the platform's own parameters, scarcity,
  saturation, Shenzhen's capacity; explored over their evidence range;
- ``calibration/analysis_ranges.yaml``: structural assumptions with neither data nor
  evaluations (value shares, Guangdong's response).

The nominal point is the baseline scenario's own value of each (the calibrated set, the
evidence defaults). A future is one point of this space, as dotted-key overrides applied to
every scenario of a pair, so the policy and its baseline always share the future.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.defaults import DEFAULT_POSTERIOR, DEFAULT_PRIORS
from sim.errors import BatchError
from sim.params import SECTORS, Scenario

DEFAULT_RANGES = DEFAULT_PRIORS.parent / "analysis_ranges.yaml"

#: A switch is on when its uniform draw is at least this (an even chance over the range).
SWITCH_ON = 0.5

KINDS = ("fitted", "evidence", "structural")


@dataclass(frozen=True)
class Uncertainty:
    """One uncertain parameter: its range in its own unit and where the range comes from.

    Attributes:
        key: dotted parameter key of ``sim/params.py``.
        low, high: the range explored.
        nominal: the baseline scenario's value (the centre of one-at-a-time views).
        kind: ``fitted`` (posterior range), ``evidence`` or ``structural``.
        source: where the range comes from.
        integer: a count (rounded when applied).
        switch: an on/off parameter (on when the draw is at least ``SWITCH_ON`` of the range).
        balanced: a share that gives up what this one gains (value shares sum to one).
    """

    key: str
    low: float
    high: float
    nominal: float
    kind: str
    source: str
    integer: bool = False
    switch: bool = False
    balanced: str | None = None

    def value(self, x: float) -> Any:
        """The parameter value applied for a draw ``x`` in ``[low, high]``."""
        if self.switch:
            return bool(x >= self.low + SWITCH_ON * (self.high - self.low))
        if self.integer:
            return int(round(float(x)))
        return float(x)


#: The joint factor of the fitted parameters (not a parameter of ``sim/params.py``).
POSTERIOR_KEY = "calibration.posterior"


@dataclass(frozen=True)
class Posterior:
    """The calibration's weighted particles: what ``calibration.posterior`` draws from.

    Attributes:
        keys: the fitted parameters (dotted keys).
        integer: whether each is a count (rounded when applied).
        values: one row per particle, one column per key.
        cdf: cumulative normalised weights, one per particle (file order).
    """

    keys: tuple[str, ...]
    integer: tuple[bool, ...]
    values: np.ndarray
    cdf: np.ndarray

    def index(self, u: float) -> int:
        """The particle a draw ``u`` in [0, 1] picks (weighted inverse CDF)."""
        i = int(np.searchsorted(self.cdf, float(u), side="left"))
        return min(max(i, 0), len(self.cdf) - 1)

    def overrides(self, u: float) -> dict[str, Any]:
        row = self.values[self.index(u)]
        return {
            k: int(round(float(v))) if integer else float(v)
            for k, v, integer in zip(self.keys, row, self.integer, strict=True)
        }


@dataclass(frozen=True)
class Space:
    """The uncertainty space of the analyses (see the module docstring)."""

    uncertainties: tuple[Uncertainty, ...]
    base: Scenario
    posterior: Posterior | None = None

    @property
    def keys(self) -> list[str]:
        return [u.key for u in self.uncertainties]

    def __getitem__(self, key: str) -> Uncertainty:
        for u in self.uncertainties:
            if u.key == key:
                return u
        raise KeyError(f"{key!r} is not an uncertainty; allowed: {', '.join(self.keys)}")

    def subset(self, keys: Sequence[str]) -> Space:
        """The space of ``keys`` only (the others stay at their nominal values)."""
        return Space(tuple(self[k] for k in keys), self.base, self.posterior)

    def nominal(self) -> dict[str, float]:
        return {u.key: u.nominal for u in self.uncertainties}

    def overrides(self, point: Mapping[str, float]) -> dict[str, Any]:
        """Dotted-key overrides of a future from values in parameter units.

        Keys of the space missing from ``point`` stay at the scenario's value (no override).
        A balanced share moves its partner by the opposite amount.
        """
        out: dict[str, Any] = {}
        shift: dict[str, float] = {}
        for u in self.uncertainties:
            if u.key not in point:
                continue
            if u.key == POSTERIOR_KEY and self.posterior is not None:
                out.update(self.posterior.overrides(float(point[u.key])))
                continue
            v = u.value(float(point[u.key]))
            out[u.key] = v
            if u.balanced:
                shift[u.balanced] = shift.get(u.balanced, 0.0) + (u.nominal - float(v))
        for key, d in shift.items():
            group, _, name = key.partition(".")
            out[key] = float(getattr(getattr(self.base, group), name)) + d
        return out

    def applied(self, draws: pd.DataFrame) -> pd.DataFrame:
        """The parameter values futures apply (a switch as 0/1, a count rounded, the
        posterior factor as its particle's fitted values and ``calibration.particle``),
        as floats: what a reader (and PRIM) should see of a future."""
        cols: dict[str, list[float]] = {}
        for u in self.uncertainties:
            if u.key == POSTERIOR_KEY and self.posterior is not None:
                post = self.posterior
                idx = [post.index(x) for x in draws[u.key]]
                cols["calibration.particle"] = [float(i) for i in idx]
                for j, k in enumerate(post.keys):
                    cols[k] = [float(post.values[i, j]) for i in idx]
                continue
            cols[u.key] = [float(u.value(float(x))) for x in draws[u.key]]
        return pd.DataFrame(cols, index=draws.index)

    def problem(self) -> dict[str, Any]:
        """The SALib problem of this space (parameter units)."""
        return {
            "num_vars": len(self.uncertainties),
            "names": self.keys,
            "bounds": [[u.low, u.high] for u in self.uncertainties],
        }

    def scale(self, unit: np.ndarray) -> pd.DataFrame:
        """Points of the unit cube (one row per future) in parameter units."""
        unit = np.atleast_2d(np.asarray(unit, dtype=float))
        lo = np.array([u.low for u in self.uncertainties])
        hi = np.array([u.high for u in self.uncertainties])
        return pd.DataFrame(lo + unit * (hi - lo), columns=self.keys)

    def latin_hypercube(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` futures by Latin hypercube sampling (scipy, seeded)."""
        from scipy.stats import qmc

        sampler = qmc.LatinHypercube(d=len(self.uncertainties), rng=np.random.default_rng(seed))
        return self.scale(sampler.random(n))

    def table(self) -> pd.DataFrame:
        """One row per uncertainty: key, kind, nominal, range, source."""
        return pd.DataFrame(
            [
                {
                    "parameter": u.key,
                    "kind": u.kind,
                    "nominal": u.nominal,
                    "low": u.low,
                    "high": u.high,
                    "source": u.source,
                }
                for u in self.uncertainties
            ]
        )


def _value_of(spec: Scenario, key: str) -> Any:
    group, _, name = key.partition(".")
    return getattr(getattr(spec, group), name)


def _read_ranges(path: Path) -> list[Uncertainty]:
    """The structural uncertainties of ``analysis_ranges.yaml`` (nominal filled later)."""
    from sim.calibration.config import param_bounds, param_field, read_yaml
    from sim.errors import CalibrationError

    data = read_yaml(path, "analysis ranges")
    out = []
    allowed = {"range", "source", "balanced", "switch"}
    for key, spec in data.items():
        found = param_field(str(key))
        if found is None:
            raise CalibrationError(path, "not a parameter of sim/params.py", key=str(key))
        if not isinstance(spec, dict) or "range" not in spec or "source" not in spec:
            raise CalibrationError(
                path, "expected a mapping with `range: [low, high]` and `source`", key=str(key)
            )
        extra = sorted(set(spec) - allowed)
        if extra:
            raise CalibrationError(
                path,
                f"unknown key {extra[0]!r}; allowed: {sorted(allowed)}",
                key=f"{key}.{extra[0]}",
            )
        r = spec["range"]
        ok = (
            isinstance(r, list)
            and len(r) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
            and r[0] < r[1]
        )
        if not ok:
            raise CalibrationError(
                path, f"range must be [low, high] with low < high, got {r!r}", key=f"{key}.range"
            )
        field, _ = found
        switch = bool(spec.get("switch", False))
        if switch != (field.annotation is bool):
            raise CalibrationError(
                path,
                "`switch: true` goes with an on/off parameter, and only with one",
                key=str(key),
            )
        if not switch:
            lo, hi, _, _ = param_bounds(field)
            if r[0] < lo or r[1] > hi:
                raise CalibrationError(
                    path,
                    f"range {r} leaves the parameter's bounds [{lo}, {hi}]",
                    key=f"{key}.range",
                )
        balanced = spec.get("balanced")
        if balanced is not None and param_field(str(balanced)) is None:
            raise CalibrationError(path, f"{balanced!r} is not a parameter", key=f"{key}.balanced")
        out.append(
            Uncertainty(
                key=str(key),
                low=float(r[0]),
                high=float(r[1]),
                nominal=float("nan"),
                kind="structural",
                source=str(spec["source"]).strip(),
                integer=field.annotation is int,
                switch=switch,
                balanced=str(balanced) if balanced else None,
            )
        )
    return out


def load_space(
    base: Scenario | None = None,
    *,
    priors: str | Path = DEFAULT_PRIORS,
    posterior: str | Path | None = DEFAULT_POSTERIOR,
    ranges: str | Path | None = DEFAULT_RANGES,
    kinds: Sequence[str] = KINDS,
) -> Space:
    """The uncertainty space around ``base`` (default: the ``baseline`` scenario).

    Args:
        base: the baseline scenario (its values are the nominal point).
        priors: ``priors.yaml`` (fitted and evidence-ranged parameters).
        posterior: the calibration's weighted particles: the fitted parameters are one
            factor, drawn jointly (without the file: each over its prior range).
        ranges: ``analysis_ranges.yaml`` (structural assumptions); None leaves them out.
        kinds: which kinds to include.

    Raises:
        CalibrationError: a missing or malformed file (names the file and key).
        BatchError: an unknown kind.
    """
    from sim.calibration.config import load_priors
    from sim.scenario import load_scenario

    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise BatchError(f"unknown uncertainty kind {bad[0]!r}; allowed: {', '.join(KINDS)}")
    base = base if base is not None else load_scenario("baseline")
    pr = load_priors(priors)
    post: Posterior | None = None
    if posterior is not None and Path(posterior).is_file():
        from sim.calibration.posterior import load_posterior

        df = load_posterior(posterior)
        keys = [p.key for p in pr.priors]
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise BatchError(
                f"{posterior}: no column {missing[0]!r} of the fitted parameters of {priors}; "
                "the posterior and priors.yaml come from different calibrations"
            )
        w = df["weight"].to_numpy(float)
        post = Posterior(
            tuple(keys),
            tuple(p.integer for p in pr.priors),
            df[keys].to_numpy(float),
            np.cumsum(w / w.sum()),
        )
    out: list[Uncertainty] = []

    def nominal(key: str) -> float:
        return float(_value_of(base, key))

    if "fitted" in kinds and post is not None:
        out.append(
            Uncertainty(
                POSTERIOR_KEY,
                0.0,
                1.0,
                float("nan"),
                "fitted",
                f"calibration posterior ({Path(str(posterior)).name}, {len(post.cdf)} weighted "
                f"particles): a draw picks one particle by its weight and sets the "
                f"{len(post.keys)} fitted parameters jointly ({', '.join(post.keys)}); nominal: "
                "the baseline's calibrated set",
            )
        )
    elif "fitted" in kinds:
        for p in pr.priors:
            out.append(
                Uncertainty(
                    p.key, p.low, p.high, nominal(p.key), "fitted", f"prior: {p.source}", p.integer
                )
            )
    if "evidence" in kinds:
        for p in pr.evidence:
            out.append(
                Uncertainty(p.key, p.low, p.high, nominal(p.key), "evidence", p.source, p.integer)
            )
    if "structural" in kinds and ranges is not None:
        for u in _read_ranges(Path(ranges)):
            out.append(
                Uncertainty(
                    u.key,
                    u.low,
                    u.high,
                    nominal(u.key),
                    u.kind,
                    u.source,
                    u.integer,
                    u.switch,
                    u.balanced,
                )
            )
    return Space(tuple(out), base, post)


# ----------------------------------------------------------------------------- levers


#: Sector groups a platform may serve (``platform.sectors``): the CMA paper's contrast.
SECTOR_GROUPS: dict[str, tuple[str, ...]] = {
    "all": SECTORS,
    "high_end": ("electronics", "it", "biotech"),
    "traditional": ("food", "metal_machinery", "chemicals", "paper_printing", "textiles_clothing"),
}


@dataclass(frozen=True)
class Lever:
    """A design choice of the platform: a range, a switch or a choice among options.

    Attributes:
        key: dotted parameter key (``platform.<name>``).
        low, high: range of a real lever (ignored for switches and choices).
        kind: ``real``, ``switch`` or ``choice``.
        options: the options of a choice (``SECTOR_GROUPS`` names for the sectors).
        source: why this range.
    """

    key: str
    kind: str
    source: str
    low: float = 0.0
    high: float = 1.0
    options: tuple[str, ...] = ()

    def value(self, x: float) -> Any:
        """The lever's setting for a decision variable ``x`` in ``[0, 1]``."""
        x = min(max(float(x), 0.0), 1.0)
        if self.kind == "switch":
            return bool(x >= SWITCH_ON)
        if self.kind == "choice":
            option = self.options[min(int(x * len(self.options)), len(self.options) - 1)]
            return list(SECTOR_GROUPS[option]) if self.key == "platform.sectors" else option
        return self.low + x * (self.high - self.low)


#: The platform's design levers searched by ``pilotsim analyse design``.
PLATFORM_LEVERS: tuple[Lever, ...] = (
    Lever(
        "platform.public_budget_hkd_m",
        "real",
        "assumption: from a sixth to four times the 300 of scenarios/hk_pilot_platform.yaml; "
        "the top is under a third of the HKD 4 bn re-industrialisation funding "
        "(hk_context_facts row reindustrialisation_funding)",
        50.0,
        1200.0,
    ),
    Lever(
        "platform.slot_cost_hkd_m",
        "real",
        "priors.yaml evidence range of the slot cost (4-16 HKD m a year): here a design "
        "choice of how lean a line is run (the model has no quality cost of a cheaper line)",
        4.0,
        16.0,
    ),
    Lever(
        "platform.fee_subsidy_share",
        "real",
        "params.py bounds: from clients paying the full fee to the government paying it",
        0.0,
        1.0,
    ),
    Lever("platform.engineering", "switch", "docs/ODD.md 7.7: the engineering service on or off"),
    Lever("platform.matching", "switch", "docs/ODD.md 7.7: the matching service on or off"),
    Lever("platform.follow_up_support", "switch", "CMA paper: follow-up support on or off"),
    Lever(
        "platform.sectors",
        "choice",
        "CMA paper: all sectors, the ITF's high-end sectors, or the traditional ones",
        options=tuple(SECTOR_GROUPS),
    ),
)


def design_overrides(
    x: Sequence[float], levers: Sequence[Lever] = PLATFORM_LEVERS
) -> dict[str, Any]:
    """Dotted-key overrides of a platform design from decision variables in ``[0, 1]``."""
    if len(x) != len(levers):
        raise ValueError(f"{len(x)} decision variables for {len(levers)} levers")
    return {lv.key: lv.value(v) for lv, v in zip(levers, x, strict=True)}


# ---------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Measure:
    """An outcome of the analyses: the paired effect (policy minus baseline, same future and
    seeds) of a comparison outcome over the period.

    Attributes:
        name: an output of ``sim.metrics`` in its ``analysis`` view.
        label: short label for tables and figures.
        unit: unit of the effect.
        sense: +1 when more is better for Hong Kong, -1 when less is.
    """

    name: str
    label: str
    unit: str
    sense: int


#: Outcomes of which less is better for Hong Kong (the rest: more is better).
LESS_IS_BETTER = ("pv_public_spend_hkd_m",)


def _measures() -> tuple[Measure, ...]:
    from sim.metrics import view

    return tuple(
        Measure(m.name, m.caption("analysis"), m.period_unit, -1 if m.name in LESS_IS_BETTER else 1)
        for m in view("analysis")
    )


#: The outcomes every analysis reports, as paired effects over the period: the ``analysis``
#: view of the outputs declared in ``sim.metrics``.
MEASURES: tuple[Measure, ...] = _measures()
MEASURE_BY_NAME = {m.name: m for m in MEASURES}
