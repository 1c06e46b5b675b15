"""A batch: named scenarios x paired replicates, run into a store.

Shared by ``pilotsim compare`` (a baseline and policies) and ``pilotsim sweep`` (a
baseline and the points of a design). The first scenario of a batch is the baseline every
other scenario is paired with. Replicate ``i`` of every scenario runs with seed ``i``
and, when the batch carries parameter draws (``--posterior``), with draw ``i`` applied on
top of the scenario: the pairs then share parameters as well as random numbers.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # POSIX; elsewhere output folders are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from sim.errors import BatchError
from sim.experiments import ownership
from sim.experiments.defaults import MAX_RUNS_WITHOUT_YES
from sim.experiments.executors import open_executor
from sim.experiments.runner import BatchReport, Task, run_batch
from sim.experiments.seeds import replicate_seeds
from sim.experiments.store import Store, StoreError, code_fingerprint, run_key
from sim.params import FIRST_YEAR, LEVER_GROUPS, Scenario
from sim.scenario import scenario_hash, with_overrides

#: What ``pilotsim run`` writes into its folder.
RUN_FILES = ("annual.parquet", "annual.csv", "quarterly.parquet", "scenario.yaml", "metadata.json")
#: Held (``flock``) by the process writing into an output folder; removed when it is done.
LOCK_FILE = ".lock"
#: How an attribution variant's source names its policy's: ``"<policy source> with k=v"``.
VARIANT_SOURCE = " with "
#: Seconds of one core per run, 2015-2035: about 0.4 s at scale 0.1 and 1.3 s at full
#: scale (docs/performance.md: model run and batch benchmarks), so about 0.3 + 1.0 * scale.
SECONDS_PER_RUN_FIXED = 0.3
SECONDS_PER_RUN_PER_SCALE = 1.0


class OutDirError(BatchError):
    """An output folder that cannot be used: unwritable, locked, or holding another job."""


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
            replicate ``i`` of every scenario runs with ``draws[i]`` applied (except the
            parameters of a lever the scenario switches off, e.g. ``platform.*`` in the
            baseline: they cannot change its run).
        replicate_seed_list: optional seed of each replicate, when replicates share seeds
            (a policy analysis crosses futures with the same seeds: replicate
            ``f * n + s`` is future ``f`` with seed ``s``); default: ``n_seeds`` distinct
            seeds from ``root_seed``.

    This is the one experiment model (EMA Workbench's XLRM) behind ``compare``, ``sweep``,
    ``--posterior`` and ``pilotsim analyse``: uncertainties are the replicates' ``draws``,
    levers are the scenarios, and every scenario runs every replicate with the same seed,
    so each policy is paired with the baseline on common random numbers.
    """

    kind: str
    scenarios: dict[str, Scenario]
    sources: dict[str, str]
    root_seed: int
    n_seeds: int
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    draws: list[dict[str, Any]] | None = None
    replicate_seed_list: list[int] | None = None

    def __post_init__(self) -> None:
        if self.replicate_seed_list is not None:
            if len(self.replicate_seed_list) != self.n_seeds:
                raise BatchError(
                    f"{len(self.replicate_seed_list)} replicate seeds for {self.n_seeds} "
                    "replicates: give one seed per replicate"
                )
            self.seeds = [int(s) for s in self.replicate_seed_list]
        else:
            self.seeds = replicate_seeds(self.root_seed, self.n_seeds)
        self.hashes = {lab: scenario_hash(s) for lab, s in self.scenarios.items()}
        if self.draws is not None and len(self.draws) != self.n_seeds:
            raise BatchError(
                f"{len(self.draws)} parameter draws for {self.n_seeds} replicates: "
                "give one draw per replicate"
            )
        #: The scenario each (label, replicate) runs: the label's own, or with its draw.
        #: (Replicates that share a draw share the scenario object: futures x seeds.)
        self.replicate_specs: dict[str, list[Scenario]] = {}
        #: Scenario hash of each (label, replicate): the run's store key with its seed.
        self.replicate_hashes: dict[str, list[str]] = {}
        for lab, spec in self.scenarios.items():
            if not self.draws:
                self.replicate_specs[lab] = [spec] * self.n_seeds
                self.replicate_hashes[lab] = [self.hashes[lab]] * self.n_seeds
                continue
            made: dict[str, tuple[Scenario, str]] = {}
            off = tuple(f"{g}." for g in LEVER_GROUPS if not getattr(spec, g).enabled)
            for draw in self.draws:
                # a lever's parameters cannot change a run that has the lever off: not
                # applied, so the runs of futures that differ only there are shared
                d = {
                    key: v
                    for key, v in draw.items()
                    if not key.startswith(off) or f"{key.partition('.')[0]}.enabled" in draw
                }
                k = json.dumps(d, sort_keys=True, default=str)
                if k not in made:
                    s = with_overrides(spec, d)
                    made[k] = (s, scenario_hash(s))
                self.replicate_specs.setdefault(lab, []).append(made[k][0])
                self.replicate_hashes.setdefault(lab, []).append(made[k][1])

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

    @property
    def origins(self) -> dict[str, str]:
        """The scenario file behind each label (a variant's is its policy's file)."""
        return {
            lab: source_origin(self.sources[lab].split(VARIANT_SOURCE)[0]) for lab in self.scenarios
        }

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
                    "origin": self.origins[lab],
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


def check_out_dir(out: Path, what: str = "a batch") -> None:
    """Refuse a folder that holds anything pilotsim did not write (its record,
    :mod:`sim.experiments.ownership`, lists what it did); ``what`` names the job. Call it
    with the folder's lock held: a job killed there earlier is adopted first."""
    if out.exists() and not out.is_dir():
        raise OutDirError(f"--out {out}: exists and is not a directory")
    try:
        alien = ownership.foreign(out)
    except OSError as e:
        raise OutDirError(f"--out {out}: cannot read the folder ({e.strerror or e})") from None
    if alien:
        shown = ", ".join(alien[:5]) + (f" and {len(alien) - 5} more" if len(alien) > 5 else "")
        raise OutDirError(
            f"--out {out}: holds files pilotsim did not write ({shown}); pilotsim writes "
            f"{what} only into a new folder or one of its own, and never deletes such "
            "files, even with --force: choose another --out"
        )


def source_origin(source: str | Path) -> str:
    """Where a scenario came from, as recorded with its outputs: the absolute path of its
    file (a bare name resolved in ``scenarios/``), or the source text when it is no file
    (a ``sim.Scenario`` object)."""
    from sim.scenario import resolve_path

    text = str(source)
    if text.startswith("<"):
        return text
    try:
        return str(resolve_path(text).resolve())
    except (OSError, ValueError):
        return text


def folder_origins(out: Path) -> dict[str, str]:
    """The scenario file behind each label of the job ``out`` holds (empty if unrecorded:
    committed folders and folders written before origins were recorded)."""
    try:
        if (out / "manifest.json").is_file():
            batch = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["batch"]
            return {lab: str(s["origin"]) for lab, s in batch["scenarios"].items() if "origin" in s}
        if (out / "metadata.json").is_file():
            meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
            if "scenario_origin" in meta:
                return {str(meta["scenario"]): str(meta["scenario_origin"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return {}


def describe_job(job: Sequence[str]) -> str:
    """``("compare", "baseline", "hk_pilot_platform")`` -> ``the comparison baseline vs ...``."""
    kind, *names = job
    if kind == "compare":
        return f"the comparison {names[0]} vs {', '.join(names[1:])}"
    if kind == "sweep":
        return f"a sweep of {names[1]} ({', '.join(names[2:])}) against {names[0]}"
    if kind == "run":
        return f"a run of {names[0]}"
    if kind == "analyse":
        return f"the {names[0]} analysis"
    return "the output of another pilotsim job"


def folder_job(out: Path) -> tuple[str, ...] | None:
    """What an output folder holds: ``("compare", base, *policies)``, ``("sweep", base,
    policy, *parameters)``, ``("run", scenario)``, ``("unknown",)`` for pilotsim files of
    unknown origin, or None for a folder without any (missing, empty, hidden files only)."""
    if not out.is_dir():
        return None
    names = [p.name for p in out.iterdir() if not p.name.startswith(".")]
    if not names:
        return None
    try:
        if "analysis.json" in names:  # a policy analysis (sim.analysis), stored or committed
            meta = json.loads((out / "analysis.json").read_text(encoding="utf-8"))
            return ("analyse", meta["analysis"])
        if "manifest.json" in names:
            batch = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["batch"]
            if batch["kind"] == "compare":
                return ("compare", batch["baseline"], *batch["policies"])
            if batch["kind"] == "sweep":
                return ("sweep", batch["baseline"], batch["policy"], *batch["parameters"])
        if "metadata.json" in names:
            meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
            return ("run", meta["scenario"])
        if "summary.csv" in names:  # a committed comparison: manifest.json is not committed
            with (out / "summary.csv").open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            policies = list(dict.fromkeys(r["policy"] for r in rows))
            bases = {r["baseline"] for r in rows}
            if len(bases) == 1 and policies:
                return ("compare", bases.pop(), *policies)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    return ("unknown",)


def clear_out_dir(out: Path) -> None:
    """Remove what pilotsim wrote into ``out`` (what its record lists, and its temporary
    files); anything else stays."""
    ownership.clear(out)


#: Report files of a comparison or sweep that a new report replaces or removes.
REPORT_FILES = ("summary.csv", "attribution.csv", "draws.csv", "sweep.csv", "report.md")


def remove_stale_outputs(out: Path, keep: Sequence[str]) -> None:
    """Remove the report files and figures of an earlier job in ``out`` that this one does
    not write (``keep``): no stale figure or table is left beside a new report. Only what
    pilotsim's record of the folder lists is ever removed."""
    if not out.is_dir():
        return
    kept = set(keep)
    stale = [
        n
        for n in ownership.owned(out)
        if n not in kept and (Path(n).suffix == ".png" or n in REPORT_FILES) and (out / n).is_file()
    ]
    ownership.remove(out, stale)


def _make_dirs(out: Path) -> list[Path]:
    """Create ``out`` and its missing parents; return the folders created, deepest first."""
    missing = []
    p = out
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_if_empty(missing)
        raise OutDirError(
            f"--out {out}: cannot create the folder ({e.strerror or e}); choose a writable folder"
        ) from None
    return missing


def _remove_if_empty(dirs: Sequence[Path]) -> None:
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            return


def _lock(out: Path) -> int:
    """Take ``out/.lock`` (``flock``, without waiting); this also proves ``out`` writable."""
    path = out / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutDirError(
                f"--out {out}: cannot write into the folder ({e.strerror or e}); "
                "choose a writable folder"
            ) from None
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise OutDirError(
                f"--out {out}: another pilotsim process{f' (pid {holder})' if holder else ''} "
                "is writing into this folder; wait for it to finish or choose another --out"
            ) from None
        try:  # the previous holder may have removed the file between our open and flock
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as e:
            os.close(fd)
            raise OutDirError(
                f"--out {out}: cannot write into the folder ({e.strerror or e}); "
                "choose a writable folder"
            ) from None
        return fd


def _unlock(out: Path, fd: int) -> None:
    try:
        (out / LOCK_FILE).unlink(missing_ok=True)  # while still held: see _lock
    except OSError:
        pass
    os.close(fd)


@contextmanager
def locked_dir(out: Path) -> Iterator[Path]:
    """Hold ``out``'s lock (``OUT/.lock``, ``flock``), creating the folder if needed; the
    folders created here are removed again if the job leaves them empty.

    Raises:
        OutDirError: ``out`` cannot be created or written into, or another pilotsim process
            holds it (the message names the folder and that process' pid).
    """
    if out.exists() and not out.is_dir():
        raise OutDirError(f"--out {out}: exists and is not a directory")
    created = _make_dirs(out)
    try:
        fd = _lock(out)
    except BaseException:
        _remove_if_empty(created)
        raise
    try:
        yield out
    finally:
        _unlock(out, fd)
        _remove_if_empty(created)


@contextmanager
def claim_out_dir(
    out: Path,
    job: Sequence[str],
    *,
    force: bool = False,
    origins: Mapping[str, str] | None = None,
) -> Iterator[Path]:
    """Hold output folder ``out`` for one job (a comparison, a sweep, a run, an analysis).

    Checked before any simulation: ``out`` is a folder (or can be created) that pilotsim
    can write into, that no other pilotsim process holds (``out/.lock``, ``flock``) and that
    holds nothing but what pilotsim's record says it wrote (:mod:`.ownership`). A folder
    that holds another job (another pair, sweep, scenario or analysis, or the same names
    from other scenario files) is refused unless ``force``, which first removes what
    pilotsim wrote there and nothing else. Every name the job creates is recorded as
    pilotsim's when it ends, or by the next job if it is killed. Folders created here are
    removed again if the job leaves them empty.

    Args:
        out: the output folder.
        job: what the folder will hold (see :func:`folder_job`).
        force: clear pilotsim's files from the folder instead of refusing another job's.
        origins: the scenario file behind each label (:func:`source_origin`); a folder
            whose recorded origins differ for a shared label holds another job.

    Raises:
        OutDirError: the message names the folder and what to do.
    """
    job = tuple(job)
    with locked_dir(out):
        check_out_dir(out, "a run" if job[0] == "run" else "a batch")
        held = folder_job(out)
        other = _other_origins(out, origins or {})
        if held is not None and (held != job or other) and not force:
            what = describe_job(held)
            if held == job:
                what += f" of other scenario files ({other})"
            raise OutDirError(
                f"--out {out}: holds {what}, not {describe_job(job)}; choose another "
                "--out, or pass --force to remove pilotsim's files from the folder first"
            )
        if held is not None and force:
            clear_out_dir(out)
        ownership.begin(out)
        try:
            yield out
        finally:
            ownership.end(out)


def _other_origins(out: Path, origins: Mapping[str, str]) -> str:
    """Labels whose scenario file differs from the one ``out`` recorded ("" if none)."""
    held = folder_origins(out)
    diff = [f"{lab}: {held[lab]}" for lab in origins if lab in held and held[lab] != origins[lab]]
    return "; ".join(diff)


def seconds_per_run(scale: float, until: int = 2035) -> float:
    """Rough seconds of one core per run (see ``SECONDS_PER_RUN_*``)."""
    years = max(1, until - FIRST_YEAR + 1) / (2035 - FIRST_YEAR + 1)
    return (SECONDS_PER_RUN_FIXED + SECONDS_PER_RUN_PER_SCALE * scale) * years


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def check_batch_size(
    n_runs: int,
    what: str,
    *,
    scale: float,
    until: int,
    jobs: int | None = None,
    yes: bool = False,
) -> None:
    """Refuse a batch of more than ``MAX_RUNS_WITHOUT_YES`` runs unless ``yes``.

    Called before the batch's scenarios are built, so a mistyped ``--param`` or ``--seeds``
    is refused at once.

    Args:
        n_runs: runs the batch plans (before any is found in the store).
        what: how the runs arise, e.g. ``"100,001 points and the baseline x 2 seeds"``.
        scale, until: of the runs (for the time estimate).
        jobs: parallel runs (default: the available cores).
        yes: run it anyway.

    Raises:
        BatchError: naming the number of runs and their estimated time.
    """
    if yes or n_runs <= MAX_RUNS_WITHOUT_YES:
        return
    from sim.experiments.executors import available_cores

    workers = jobs or available_cores()
    per_run = seconds_per_run(scale, until)
    raise BatchError(
        f"{n_runs:,} runs ({what}) at scale {scale:g} to {until}: about "
        f"{_duration(n_runs * per_run / workers)} on {workers} "
        f"core{'s' if workers != 1 else ''} (about {per_run:.2f} s of a core per run) and "
        f"about {n_runs * 46 / 1024**2:,.1f} GB of results; a batch of more than "
        f"{MAX_RUNS_WITHOUT_YES:,} runs needs --yes (or use fewer points or seeds)"
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
