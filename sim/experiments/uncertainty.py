"""Parameter uncertainty in batches: replicate ``i`` of every scenario runs with draw ``i``.

``pilotsim compare --posterior`` (and ``sweep --posterior``) draws one parameter set per
replicate from the calibration posterior (``calibration/posterior.csv``: weighted ABC-SMC
particles) and applies it on top of every scenario. Replicate ``i`` of the baseline and of
each policy share the seed *and* the parameters, so paired differences stay paired while
varying over the posterior: their spread carries parameter uncertainty as well as seed noise.

A draw replaces the scenarios' values of the calibrated parameters. A policy scenario that
sets one of them itself would have its setting silently lost, so that is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.experiments.batch import BatchError
from sim.params import Scenario


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

    @property
    def keys(self) -> list[str]:
        return list(self.draws[0]) if self.draws else []

    @property
    def distinct(self) -> int:
        """Distinct parameter sets among the draws (draws are with replacement)."""
        return len({tuple(sorted(d.items())) for d in self.draws})

    def describe(self) -> dict[str, Any]:
        """As recorded in ``manifest.json`` (the draws themselves are in the batch)."""
        return {
            "path": _display(self.path),
            "sha256": self.sha256,
            "particles": self.particles,
            "distinct_draws": self.distinct,
            "parameters": self.summary,
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
    return PosteriorDraws(
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        particles=len(df),
        draws=draw_overrides(df, n, seed),
        summary=summary,
    )


def markdown_section(info: Mapping[str, Any], n_seeds: int) -> list[str]:
    """The report's "Parameter uncertainty" section from ``PosteriorDraws.describe()``."""
    lines = [
        "## Parameter uncertainty",
        "",
        f"Every replicate draws its parameters from the calibration posterior `{info['path']}` "
        f"(sha256 `{info['sha256'][:16]}`, {info['particles']} weighted particles): replicate "
        f"*i* of every scenario uses draw *i* with seed *i*, so pairs share parameters and "
        f"random numbers. {n_seeds} draws with replacement gave {info['distinct_draws']} "
        "distinct parameter sets. The drawn values replace the scenarios' own:",
        "",
        "| parameter | scenario value | posterior median | 5% | 95% |",
        "|---|--:|--:|--:|--:|",
    ]
    for k, s in info["parameters"].items():
        cells = [f"{s[c]:.4g}" for c in ("scenario", "median", "q05", "q95")]
        lines.append(f"| `{k}` | " + " | ".join(cells) + " |")
    return [
        *lines,
        "",
        "Only these calibrated parameters are uncertain here. The policy's own parameters "
        "(the platform's success uplift, cost per pilot, take-up ...) are not observed in "
        "2015-2019, when no such platform existed, so no posterior exists for them: their "
        "uncertainty is explored with `pilotsim sweep` (see `sweeps/`), not drawn.",
        "",
    ]
