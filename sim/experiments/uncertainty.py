"""Parameter uncertainty in batches: replicate ``i`` of every scenario runs with draw ``i``.

``pilotsim compare --posterior`` (and ``sweep --posterior``) draws one parameter set per
replicate from the calibration posterior (``calibration/posterior.csv``: weighted ABC-SMC
particles) and applies it on top of every scenario. Replicate ``i`` of the baseline and of
each policy share the seed *and* the parameters, so paired differences stay paired while
varying over the posterior: their spread carries parameter uncertainty as well as seed noise.

A draw replaces the scenarios' values of the calibrated parameters. A policy scenario that
sets one of them itself would have its setting silently lost, so that is refused.

Beside the fitted posterior, each replicate also draws the *evidence-ranged* parameters (the
``evidence`` section of the ``priors.yaml`` next to the posterior file: the platform's own
parameters, scarcity, saturation, Shenzhen's capacity), uniformly over their ranges, the same
draw for every scenario of the replicate. They have no data to fit, so their ranges come from
evaluations of comparable platforms and the literature. An evidence parameter that a
scenario (baseline included) or a sweep sets on purpose keeps that value and is listed as
held, not drawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.experiments.batch import BatchError
from sim.params import SERVICE_FIT_PARAMETERS, Scenario
from sim.reporting import markdown_table


def _display(path: Path) -> str:
    """``path`` relative to the working directory when inside it (portable reports)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def value_of(spec: Scenario, key: str) -> Any:
    """The value of dotted parameter ``key`` (``group.name``) in ``spec``."""
    group, _, name = key.partition(".")
    return getattr(getattr(spec, group), name)


@dataclass(frozen=True)
class PosteriorDraws:
    """Posterior draws for a batch, one per replicate, and where they came from.

    Attributes:
        path: the posterior samples file.
        sha256: its content hash (recorded, so a refit is never mistaken for this one).
        particles: rows of the file.
        draws: one ``{dotted key: value}`` per replicate.
        summary: per parameter, the baseline scenario's own value and the weighted
            posterior median, 5% and 95% quantiles (the unit is the parameter's own).
    """

    path: Path
    sha256: str
    particles: int
    draws: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return list(self.draws[0]) if self.draws else []

    @property
    def fitted_keys(self) -> list[str]:
        return list(self.summary)

    @property
    def distinct(self) -> int:
        """Distinct posterior particles among the draws (drawn with replacement)."""
        keys = self.fitted_keys
        return len({tuple(d[k] for k in keys) for d in self.draws})

    def describe(self) -> dict[str, Any]:
        """As recorded in ``manifest.json`` (the draws themselves are in the batch)."""
        return {
            "path": _display(self.path),
            "sha256": self.sha256,
            "particles": self.particles,
            "distinct_draws": self.distinct,
            "parameters": self.summary,
            "evidence": self.evidence,
            "held": self.held,
        }


def draw_posterior(
    path: str | Path,
    n: int,
    seed: int,
    scenarios: Mapping[str, Scenario],
    fixed: Sequence[str] = (),
) -> PosteriorDraws:
    """``n`` weighted posterior draws for the scenarios of a batch (baseline first).

    Args:
        path: posterior samples with weights (``calibration/posterior.csv`` format).
        n: replicates.
        seed: seed of the draw (the batch's root seed: same command, same draws).
        scenarios: the batch's scenarios by label, baseline first.
        fixed: parameters the batch sets on purpose (a sweep's swept keys).

    Raises:
        CalibrationError: missing or malformed posterior file (names file and column).
        BatchError: a policy scenario, or a swept parameter, sets a drawn parameter.
    """
    from sim.calibration.posterior import (
        draw_overrides,
        load_posterior,
        parameter_columns,
        weighted_quantile,
    )

    path = Path(path)
    df = load_posterior(path)
    keys = parameter_columns(df)
    clash = sorted(set(fixed) & set(keys))
    if clash:
        raise BatchError(
            f"--posterior: {', '.join(clash)} is swept and also drawn from {path}; "
            "sweep other parameters or run without --posterior"
        )
    labels = list(scenarios)
    base = scenarios[labels[0]]
    for lab in labels[1:]:
        differs = [k for k in keys if value_of(scenarios[lab], k) != value_of(base, k)]
        if differs:
            k = differs[0]
            raise BatchError(
                f"--posterior: scenario '{lab}' sets {k} = {value_of(scenarios[lab], k)!r} "
                f"(baseline '{labels[0]}': {value_of(base, k)!r}), a parameter drawn from "
                f"{path} for every scenario, so its setting would be lost; drawn parameters: "
                f"{', '.join(keys)}. Remove it from the scenario or run without --posterior"
            )
    w = df["weight"].to_numpy(float)
    summary = {}
    for k in keys:
        q05, q50, q95 = weighted_quantile(df[k].to_numpy(float), w, (0.05, 0.5, 0.95))
        summary[k] = {
            "scenario": float(value_of(base, k)),
            "median": float(q50),
            "q05": float(q05),
            "q95": float(q95),
        }
    draws = draw_overrides(df, n, seed)
    evidence, held = _evidence(path.parent / "priors.yaml", scenarios, fixed, set(keys))
    if evidence:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), EVIDENCE_STREAM]))
        for d in draws:
            for k, e in evidence.items():
                x = float(rng.uniform(e["low"], e["high"]))
                d[k] = int(round(x)) if e["integer"] else x
    return PosteriorDraws(
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        particles=len(df),
        draws=draws,
        summary=summary,
        evidence=evidence,
        held=held,
    )


#: Stream key of the evidence draws (separate from the posterior's particle draws).
EVIDENCE_STREAM = 0xE71DE


def _evidence(
    priors_path: Path,
    scenarios: Mapping[str, Scenario],
    fixed: Sequence[str],
    fitted: set[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Evidence ranges to draw, and the evidence parameters held at a scenario's value."""
    if not priors_path.is_file():
        return {}, {}
    from sim.calibration.config import load_priors

    drawn: dict[str, dict[str, Any]] = {}
    held: dict[str, Any] = {}
    for p in load_priors(priors_path).evidence:
        if p.key in fitted:
            continue
        if p.key in SERVICE_FIT_PARAMETERS:
            # The second step of the calibration fitted these to the client studies: they
            # stay at the fitted values, consistent with the economy's posterior.
            held[p.key] = "fitted to the client studies (sim.evaluation.fit)"
            continue
        values = {value_of(spec, p.key) for spec in scenarios.values()}
        if p.key in fixed or values != {p.default if not p.integer else int(p.default)}:
            held[p.key] = "swept" if p.key in fixed else sorted(values)
            continue
        drawn[p.key] = {
            "low": p.low,
            "high": p.high,
            "default": p.default,
            "integer": p.integer,
            "source": p.source,
        }
    return drawn, held


def markdown_section(info: Mapping[str, Any], n_seeds: int) -> list[str]:
    """The report's "Parameter uncertainty" section from ``PosteriorDraws.describe()``."""
    lines = [
        "## Parameter uncertainty",
        "",
        f"Every replicate draws its parameters from the calibration posterior `{info['path']}` "
        f"(sha256 `{info['sha256'][:16]}`, {info['particles']} weighted particles): replicate "
        f"*i* of every scenario uses draw *i* with seed *i*, so pairs share parameters and "
        f"random numbers. {n_seeds} draws with replacement gave {info['distinct_draws']} "
        "distinct posterior particles. The drawn values replace the scenarios' own.",
        "",
        "**Fitted** (calibration posterior):",
        "",
    ]
    lines += markdown_table(
        ["parameter", "scenario value", "posterior median", "5%", "95%"],
        [
            [f"`{k}`", *(f"{s[c]:.4g}" for c in ("scenario", "median", "q05", "q95"))]
            for k, s in info["parameters"].items()
        ],
        "lrrrr",
    )
    evidence = info.get("evidence") or {}
    held = info.get("held") or {}
    if evidence:
        lines += [
            "",
            "**Evidence-ranged** (not fitted: no 2015-2019 data observes them; drawn "
            "uniformly over the range from `calibration/priors.yaml`'s `evidence` section, "
            "the same draw for every scenario of a replicate):",
            "",
        ]
        lines += markdown_table(
            ["parameter", "default", "range", "source"],
            [
                [
                    f"`{k}`",
                    f"{e['default']:.4g}",
                    f"{e['low']:.4g} - {e['high']:.4g}",
                    f"{e['source']}",
                ]
                for k, e in evidence.items()
            ],
            "lrrl",
        )
    if held:
        lines += [
            "",
            "Held at the scenarios' own values, not drawn (set on purpose by a scenario or "
            "sweep): " + ", ".join(f"`{k}` ({v})" for k, v in held.items()) + ".",
        ]
    if not evidence:
        lines += [
            "",
            "Only these calibrated parameters are uncertain here: no evidence ranges were "
            "found beside the posterior file, so the policy's own parameters keep their "
            "values (explore them with `pilotsim sweep`).",
        ]
    return [*lines, ""]
