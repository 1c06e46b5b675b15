"""Sample sizes of the policy analyses: the default (measured to finish within 60 minutes on
2 cores, see ``benchmarks/bench_analysis.py`` and ``docs/performance.md``) and the quick size
of tests and notebooks. Kept apart from the analyses so that ``pilotsim analyse --help``
loads none of their libraries.

Run counts below are for the default settings (scale 0.25, 2015-2035); a run costs about
1 s of one core there (``benchmarks/bench_analysis.py`` measures runs per minute).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _pos(name: str) -> Any:
    from sim.experiments.command import positive_int

    return positive_int(name)


def _unit(text: str) -> float:
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return v


#: The analyses (modules of ``sim.analysis``), in the order ``pilotsim analyse all`` runs them.
ANALYSES = ("sensitivity", "discover", "instruments", "design", "horizons")


@dataclass(frozen=True)
class SensitivitySize:
    """Morris screening over every uncertainty, then Sobol on those that matter.

    Runs: Morris ``trajectories * (k + 1)`` futures x ``morris_seeds`` x 2 scenarios (k = 21
    uncertainties; baseline runs are shared when only a platform parameter moves); Sobol
    ``sobol_n * (sobol_params + 2)`` futures x ``sobol_seeds`` x 2; the noise estimate
    ``noise_seeds`` x 2.
    """

    trajectories: int = 12
    morris_seeds: int = 2
    sobol_params: int = 8
    sobol_n: int = 64
    sobol_seeds: int = 1
    noise_seeds: int = 12


#: Seeds of scenario discovery's seed-noise estimate at the nominal future (two runs each).
#: assumption: four pairs give a rough sd (its own relative error ~40%), enough to say which
#: futures sit near zero.
DISCOVER_NOISE_SEEDS = 4


@dataclass(frozen=True)
class DiscoverSize:
    """PRIM over a Latin hypercube of futures: ``futures`` x ``seeds`` x 2 runs, and 8 for
    the seed noise at the nominal future."""

    futures: int = 300
    seeds: int = 1
    threshold: float = 0.8


@dataclass(frozen=True)
class InstrumentsSize:
    """Equal-cost instruments over a sample of futures.

    Runs: ``futures`` x ``seeds`` x 6 scenarios (baseline, 5 instruments), plus the budget
    search at the nominal future: its first step runs the 6 scenarios with ``cost_seeds``
    seeds, each later step the 3 instruments with a budget (baseline shared).
    """

    futures: int = 60
    seeds: int = 1
    cost_seeds: int = 4
    cost_iterations: int = 6


@dataclass(frozen=True)
class DesignSize:
    """NSGA-II over the platform's design levers.

    Runs: nominal search ``population * generations`` designs x ``seeds``; robust search
    ``robust_population * robust_generations`` designs x ``robust_futures`` (one seed
    each); plus the baselines they share.
    """

    population: int = 16
    generations: int = 8
    seeds: int = 3
    robust_population: int = 12
    robust_generations: int = 6
    robust_futures: int = 6


@dataclass(frozen=True)
class HorizonsSize:
    """Effects to 2050, with the platform kept and closed in ``sunset``: ``seeds`` x 3
    scenarios at ``scale``."""

    seeds: int = 16
    scale: float = 0.5
    until: int = 2050
    sunset: int = 2035


DEFAULTS: dict[str, Any] = {
    "sensitivity": SensitivitySize(),
    "discover": DiscoverSize(),
    "instruments": InstrumentsSize(),
    "design": DesignSize(),
    "horizons": HorizonsSize(),
}
QUICKS: dict[str, Any] = {
    "sensitivity": SensitivitySize(2, 1, 2, 4, 1, 2),
    "discover": DiscoverSize(16, 1, 0.8),
    "instruments": InstrumentsSize(4, 1, 1, 2),
    "design": DesignSize(4, 2, 1, 4, 1, 2),
    "horizons": HorizonsSize(2, 0.05, 2040, 2030),
}


def _specs() -> dict[str, dict[str, Any]]:
    def pos(name: str) -> Any:
        return lambda text: _pos("--" + name.replace("_", "-"))(text)

    return {
        "sensitivity": {
            "help": "Morris screening of every uncertainty, then Sobol indices (first and "
            "total order) of the paired effects on HK value added, retention and net benefit",
            "options": {
                "trajectories": (pos("trajectories"), "Morris trajectories (default 12)"),
                "morris_seeds": (pos("morris_seeds"), "seeds per Morris future (default 2)"),
                "sobol_params": (pos("sobol_params"), "most parameters kept for Sobol (8)"),
                "sobol_n": (pos("sobol_n"), "Sobol base samples, a power of 2 (default 64)"),
                "sobol_seeds": (pos("sobol_seeds"), "seeds per Sobol future (default 1)"),
                "noise_seeds": (pos("noise_seeds"), "seeds of the noise estimate (12)"),
            },
        },
        "discover": {
            "help": "scenario discovery (PRIM): where in the uncertainty space the platform "
            "fails (net benefit to HK below zero, or retention falls)",
            "options": {
                "futures": (pos("futures"), "Latin hypercube futures (default 300)"),
                "seeds": (pos("seeds"), "seeds per future (default 1)"),
                "threshold": (_unit, "PRIM density threshold of a box (default 0.8)"),
            },
        },
        "instruments": {
            "help": "the platform against other levers at the same discounted public cost, "
            "over sampled futures: net benefit and regret",
            "options": {
                "futures": (pos("futures"), "Latin hypercube futures (default 60)"),
                "seeds": (pos("seeds"), "seeds per future (default 1)"),
                "cost_seeds": (pos("cost_seeds"), "seeds of the budget search (default 4)"),
                "cost_iterations": (pos("cost_iterations"), "budget search steps (default 6)"),
            },
        },
        "design": {
            "help": "NSGA-II over the platform's design (budget, slot cost, fee subsidy, "
            "services, sectors): the Pareto set of net benefit, public cost and retention",
            "options": {
                "population": (pos("population"), "designs per generation (default 16)"),
                "generations": (pos("generations"), "generations (default 8)"),
                "seeds": (pos("seeds"), "seeds per design (default 3)"),
                "robust_population": (pos("robust_population"), "robust search (12)"),
                "robust_generations": (pos("robust_generations"), "robust search (6)"),
                "robust_futures": (pos("robust_futures"), "futures per robust design (6)"),
            },
        },
        "horizons": {
            "help": "effects at 2030, 2035 and 2050, and with the platform closed in 2035",
            "options": {
                "seeds": (pos("seeds"), "paired seeds (default 16)"),
                "sunset": (int, "last year of the sunset platform (default 2035)"),
            },
        },
    }


SPECS: dict[str, dict[str, Any]] = _specs()


#: Uncertainties in the default space (``space.load_space``: the calibrated world as one
#: factor, 14 evidence-ranged, 10 structural); counted here so that planning reads no file.
N_UNCERTAINTIES = 25


def planned_runs(name: str, size: Any, k: int = N_UNCERTAINTIES) -> int:
    """Most runs an analysis of ``size`` makes (fewer when runs are shared: baselines of
    futures that differ only in the platform's parameters, designs met twice)."""
    if name == "sensitivity":
        morris = size.trajectories * (k + 1) * size.morris_seeds * 2
        sobol = size.sobol_n * (size.sobol_params + 2) * size.sobol_seeds * 2
        return morris + sobol + size.noise_seeds * 2
    if name == "discover":
        return size.futures * size.seeds * 2 + DISCOVER_NOISE_SEEDS * 2
    if name == "instruments":
        search = size.cost_seeds * (6 + (size.cost_iterations - 1) * 3)
        return size.futures * size.seeds * 6 + search
    if name == "design":
        # with one seed, the noise is measured on the default design with 3 (2 x 2 runs more)
        nominal = (size.population * size.generations + 1) * size.seeds + size.seeds
        nominal += 4 if size.seeds == 1 else 0
        robust = (size.robust_population * size.robust_generations + 1) * size.robust_futures
        return nominal + robust + size.robust_futures
    if name == "horizons":
        return size.seeds * 3
    raise ValueError(f"unknown analysis {name!r}")
