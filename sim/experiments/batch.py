"""A batch: named scenarios x paired replicates, run into a store.

Shared by ``pilotsim compare`` (a baseline and policies) and ``pilotsim sweep`` (a
baseline and the points of a design). The first scenario of a batch is the baseline every
other scenario is paired with. Replicate ``i`` of every scenario runs with seed ``i``
and, when the batch carries parameter draws (``--posterior``), with draw ``i`` applied on
top of the scenario: the pairs then share parameters as well as random numbers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.experiments.executors import open_executor
from sim.experiments.runner import BatchReport, Task, run_batch
from sim.experiments.seeds import replicate_seeds
from sim.experiments.store import Store, StoreError, code_fingerprint, run_key
from sim.params import FIRST_YEAR, Scenario
from sim.scenario import scenario_hash, with_overrides

#: Names a batch folder may hold besides its store: the outputs of compare and sweep.
OUTPUT_SUFFIXES = (".png", ".csv", ".md")
OUTPUT_NAMES = ("manifest.json", "runs", ".gitignore")


class BatchError(ValueError):
    """Bad batch settings; the message names the option and what is allowed."""


@dataclass
class Batch:
    """Scenarios by label (the first is the baseline) run with the same replicate seeds.

    Attributes:
        kind: ``compare`` or ``sweep``.
        scenarios: validated scenarios by label, baseline first.
        sources: where each scenario came from (file or name), by label.
        root_seed: root of ``SeedSequence(root).spawn(n_seeds)``.
        n_seeds: replicates per scenario.
        points: for sweeps, the swept parameter values of each label.
        settings: anything else worth recording (design, period ...).
        draws: optional parameter overrides by replicate (dotted keys), one per seed:
            replicate ``i`` of every scenario runs with ``draws[i]`` applied.
    """

    kind: str
    scenarios: dict[str, Scenario]
    sources: dict[str, str]
    root_seed: int
    n_seeds: int
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    draws: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.seeds = replicate_seeds(self.root_seed, self.n_seeds)
        self.hashes = {lab: scenario_hash(s) for lab, s in self.scenarios.items()}
        if self.draws is not None and len(self.draws) != self.n_seeds:
            raise BatchError(
                f"{len(self.draws)} parameter draws for {self.n_seeds} replicates: "
                "give one draw per replicate"
            )
        #: The scenario each (label, replicate) runs: the label's own, or with its draw.
        self.replicate_specs: dict[str, list[Scenario]] = {
            lab: [
                with_overrides(spec, self.draws[i]) if self.draws else spec
                for i in range(self.n_seeds)
            ]
            for lab, spec in self.scenarios.items()
        }
        #: Scenario hash of each (label, replicate): the run's store key with its seed.
        self.replicate_hashes: dict[str, list[str]] = {
            lab: [scenario_hash(s) for s in specs]
            if self.draws
            else [self.hashes[lab]] * len(specs)
            for lab, specs in self.replicate_specs.items()
        }

    @property
    def labels(self) -> list[str]:
        return list(self.scenarios)

    @property
    def base(self) -> str:
        return self.labels[0]

    @property
    def scale(self) -> float:
        return self.scenarios[self.base].run.scale

    @property
    def until(self) -> int:
        return self.scenarios[self.base].run.end_year

    def runs(self) -> list[dict[str, Any]]:
        """One row per (label, replicate): ``label``, ``replicate``, ``seed``, ``key``."""
        return [
            {
                "label": lab,
                "replicate": i,
                "seed": seed,
                "key": run_key(self.replicate_hashes[lab][i], seed),
            }
            for lab in self.labels
            for i, seed in enumerate(self.seeds)
        ]

    def tasks(self) -> list[Task]:
        """Every (label, replicate) run once (identical runs are stored once)."""
        tasks = (
            Task.of(spec, seed)
            for specs in self.replicate_specs.values()
            for spec, seed in zip(specs, self.seeds, strict=True)
        )
        return list({t.key: t for t in tasks}.values())

    def describe(self) -> dict[str, Any]:
        """The batch as recorded in ``manifest.json``."""
        return {
            "kind": self.kind,
            "baseline": self.base,
            "root_seed": self.root_seed,
            "n_seeds": self.n_seeds,
            "seeds": self.seeds,
            "scale": self.scale,
            "until": self.until,
            "scenarios": {
                lab: {
                    "name": spec.name,
                    "source": self.sources[lab],
                    "hash": self.hashes[lab],
                    **({"point": self.points[lab]} if lab in self.points else {}),
                }
                for lab, spec in self.scenarios.items()
            },
            "runs": {f"{r['label']}/{r['replicate']}": r["key"] for r in self.runs()},
            **({"draws": self.draws} if self.draws else {}),
            **self.settings,
        }


def check_same_run_settings(scenarios: Mapping[str, Scenario]) -> None:
    """Paired runs need the same scale and horizon; say which scenario differs."""
    labels = list(scenarios)
    first = scenarios[labels[0]].run
    for lab in labels[1:]:
        r = scenarios[lab].run
        for key, a, b in (
            ("run.scale", first.scale, r.scale),
            ("run.end_year", first.end_year, r.end_year),
        ):
            if a != b:
                opt = "--scale" if key == "run.scale" else "--until"
                raise BatchError(
                    f"scenarios '{labels[0]}' and '{lab}' differ in {key} ({a} vs {b}); "
                    f"paired runs need the same value: pass {opt}"
                )


def check_out_dir(out: Path) -> None:
    """Refuse a folder that holds files other than a batch's own (nothing is overwritten)."""
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out}: exists and is not a directory")
    if not out.is_dir():
        return
    foreign = sorted(
        p.name
        for p in out.iterdir()
        if p.name not in OUTPUT_NAMES
        and p.suffix not in OUTPUT_SUFFIXES
        and not p.name.startswith(".")
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise BatchError(
            f"--out {out}: holds files a batch does not write ({shown}); choose another folder"
        )


def check_years(
    years: Sequence[int] | None, period: tuple[int, int] | None, until: int
) -> tuple[tuple[int, ...], tuple[int, int]]:
    """Years of the table and the summed period, within ``FIRST_YEAR .. until``.

    Defaults (``None``): the years 2025, 2030, 2035 and the period 2025-2035, clipped to
    the horizon, whose last year is always shown.
    """
    from sim.experiments.compare import DEFAULT_PERIOD, DEFAULT_YEARS

    if years is None:
        years = tuple(y for y in DEFAULT_YEARS if FIRST_YEAR <= y < until) + (until,)
    else:
        bad = [y for y in years if not FIRST_YEAR <= y <= until]
        if bad:
            raise BatchError(
                f"--years {','.join(map(str, bad))}: outside the simulated years "
                f"{FIRST_YEAR}-{until}"
            )
    if period is None:
        period = (min(DEFAULT_PERIOD[0], until), min(DEFAULT_PERIOD[1], until))
    else:
        lo, hi = period
        if not FIRST_YEAR <= lo <= hi <= until:
            raise BatchError(
                f"--period {lo}-{hi}: must be START-END with {FIRST_YEAR} <= START <= END "
                f"<= {until} (the last simulated year)"
            )
    return tuple(years), tuple(period)  # type: ignore[return-value]


def policy_start(specs: Sequence[Scenario]) -> int | None:
    """The first year any lever of ``specs`` is switched on (None if no lever is)."""
    years = []
    for spec in specs:
        for name in type(spec).model_fields:
            group = getattr(spec, name)
            if getattr(group, "enabled", False) and isinstance(
                getattr(group, "start_year", None), int
            ):
                years.append(group.start_year)
    return min(years) if years else None


@dataclass
class Execution:
    """What running a batch did."""

    store: Store
    report: BatchReport
    engine: str
    seconds: float


def execute(
    batch: Batch,
    out: Path,
    *,
    jobs: int | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    progress: bool = True,
    provenance: Mapping[str, Any] | None = None,
) -> Execution:
    """Run a batch into ``out`` (resuming: runs already stored are skipped)."""
    t0 = time.perf_counter()
    try:
        store = Store(out)
    except StoreError as e:
        raise BatchError(str(e)) from None
    with open_executor(jobs, dask=dask, scheduler=scheduler) as engine:
        store.begin(
            batch.describe(),
            {**(provenance or {}), "engine": engine.description, "code": code_fingerprint()},
        )
        report = run_batch(batch.tasks(), engine.executor, store, progress=progress)
    return Execution(store, report, engine.description, time.perf_counter() - t0)
