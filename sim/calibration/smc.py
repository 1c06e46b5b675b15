"""ABC-SMC with pyabc, parallel through the batch executors, deterministic given its seed.

pyabc's own parallel samplers draw particles in whatever order workers finish, so two runs
with one seed differ. :class:`SeededSampler` uses static scheduling instead: to fill a
population of ``n`` it hands out particle slots ``0..n-1``; slot ``i`` of generation ``t``
seeds numpy with ``(seed, t, i)`` and simulates until it gets one accepted particle (the
rejection loop of ABC-SMC for one particle). The accepted population is therefore the same
whichever executor (sequential, process pool, Dask) ran it and in whatever order, and the
importance weights are pyabc's (prior / transition mixture). A run stores every generation
in a pyabc SQLite database and can be continued from it (``resume``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.bank import (
    TRANSITION,
    Record,
    bank_meta,
    bank_path,
    records_frame,
    write_generation,
)
from sim.calibration.config import CalibrationError, Priors, Targets
from sim.calibration.simulator import Simulator, TargetDistance, abc_name


def _slot_seed(seed: int, t: int, i: int) -> int:
    """The numpy seed of particle slot ``i`` of generation ``t``.

    ``t = -1`` is pyabc's calibration sample from the prior, ``t = -2`` the set-up.
    """
    return int(np.random.SeedSequence([int(seed), t + 2, i]).generate_state(1)[0])


#: The generation's sampling functions last unpickled in this worker: (digest, functions).
_LOADED: tuple[bytes, Any] | None = None


def _load(blob: bytes) -> Any:
    """``cloudpickle.loads(blob)``, once per generation and worker (tasks are single slots)."""
    import cloudpickle

    global _LOADED
    digest = hashlib.sha1(blob).digest()
    if _LOADED is None or _LOADED[0] != digest:
        _LOADED = (digest, cloudpickle.loads(blob))
    return _LOADED[1]


def _fill_slots(
    blob: bytes, seed: int, t: int, slots: list[int], record: bool = False
) -> list[tuple[Any, int, list[Record]]]:
    """Worker task: for each slot, simulate until one particle is accepted.

    With ``record``, every run of the slot is also returned (``bank.Record``), rejected
    ones included (pyabc's sample keeps only the accepted).
    """
    simulate_one, sample_factory = _load(blob)
    out = []
    for i in slots:
        s = _slot_seed(seed, t, i)
        np.random.seed(s)  # noqa: NPY002 - pyabc draws from numpy's global generator
        random.seed(s)
        sample = sample_factory()
        runs: list[Record] = []
        n = 0
        while True:
            particle = simulate_one()
            if record:
                x = (particle.sum_stat or {}).get("x")
                accepted, weight = bool(particle.accepted), float(particle.weight)
                runs.append((i, n, dict(particle.parameter), x, accepted, weight))
            n += 1
            sample.append(particle)
            if particle.accepted:
                break
        out.append((sample, n, runs))
    return out


class OutOfTime(Exception):
    """``--max-minutes`` ran out inside a generation (pyabc checks it only between them)."""


def _make_sampler_class() -> type:
    from pyabc.sampler import Sampler

    class SeededSampler(Sampler):
        """pyabc sampler with static, seeded particle slots on any ``Executor``."""

        def __init__(
            self, executor: Executor, seed: int, recorder: Callable[[int, list], Any] | None = None
        ) -> None:
            super().__init__()
            self.executor = executor
            self.seed = int(seed)
            #: Called with each finished generation's runs (None: runs are not recorded).
            self.recorder = recorder
            #: ``time.monotonic()`` past which a generation is abandoned (None: no limit).
            self.deadline: float | None = None

        def sample_until_n_accepted(  # noqa: D401 - pyabc's interface
            self,
            n: int,
            simulate_one: Any,
            t: int,
            *,
            max_eval: float = np.inf,  # noqa: ARG002
            all_accepted: bool = False,  # noqa: ARG002
            ana_vars: Any = None,  # noqa: ARG002
        ) -> Any:
            import cloudpickle

            blob = cloudpickle.dumps((simulate_one, self.sample_factory))
            # One slot per task: a slot runs until it accepts, so slots differ in length
            # (geometric in the acceptance rate), and bigger tasks left a worker idle at the
            # end of each generation. Workers unpickle a generation's functions once (_load).
            futures: list[Any] = []
            record = self.recorder is not None

            def out_of_time() -> OutOfTime:
                for g in futures:
                    g.cancel()
                return OutOfTime(t)

            for i in range(n):  # an inline executor works here: the limit is checked too
                if self.deadline is not None and time.monotonic() > self.deadline:
                    raise out_of_time()
                futures.append(self.executor.submit(_fill_slots, blob, self.seed, t, [i], record))
            sample = self._create_empty_sample()
            total = 0
            runs: list[Record] = []
            for f in futures:  # in slot order: the result does not depend on timing
                left = None if self.deadline is None else self.deadline - time.monotonic()
                try:
                    parts = f.result(timeout=None if left is None else max(left, 0.0))
                except FutureTimeout:
                    raise out_of_time() from None
                for part, k, recorded in parts:
                    sample += part
                    total += k
                    runs += recorded
            self.nr_evaluations_ = total
            if self.recorder is not None:
                self.recorder(t, runs)
            return sample

    return SeededSampler


def _make_model_class() -> type:
    from pyabc.model import FunctionModel, ModelResult

    class EarlyRejection(FunctionModel):
        """pyabc's model for the ``Simulator``, stopping runs that are surely rejected.

        pyabc evaluates a proposal with ``Model.accept``: simulate, then let the acceptor
        compare the distance with this generation's epsilon. Here the simulator first stops
        a run as soon as the target years it has completed put it above epsilon
        (``Simulator.simulate_below``); such a particle is rejected, as it would have been
        after the full run by pyabc's default acceptor (distance at most epsilon). Any
        other run is completed and judged exactly as ``Model.accept`` does, and the seed is
        drawn the same way, so the posterior is the same bit for bit
        (tests/test_early_rejection.py); only rejected runs get cheaper. Rejected particles
        are not recorded by pyabc (no component asks it to), and a calibration that banks
        its runs (``SMCSettings.bank``) uses the plain model, so their empty results
        (distance ``inf``) are never read.
        """

        def accept(  # noqa: PLR0913 - pyabc's interface
            self,
            t: int,
            pars: Any,
            sum_stat_calculator: Any,
            distance_calculator: Any,
            eps_calculator: Any,
            acceptor: Any,
            x_0: dict,
        ) -> Any:
            x = self.sample_function.sample_below(pars, eps_calculator(t))
            if x is None:
                return ModelResult(sum_stat={}, distance=np.inf, accepted=False)
            # What Model.accept does after sampling.
            result = ModelResult(sum_stat=sum_stat_calculator(x))
            judged = acceptor(
                distance_function=distance_calculator,
                eps=eps_calculator,
                x=result.sum_stat,
                x_0=x_0,
                t=t,
                par=pars,
            )
            result.distance = judged.distance
            result.accepted = judged.accept
            result.weight = judged.weight
            return result

    return EarlyRejection


@dataclass
class SMCSettings:
    """Settings of one ABC-SMC calibration.

    Attributes:
        population: accepted particles per generation.
        generations: most generations of the whole run. A resumed run continues up to
            this many (not this many more), so a run killed part-way and resumed with the
            same settings ends with the posterior of an uninterrupted run; give a larger
            number to add generations to a finished run.
        scale: population scale of the model runs.
        seed: root seed (particle slots and model seeds derive from it).
        min_epsilon: stop once the threshold is below this distance.
        min_acceptance: stop once a generation's acceptance rate is below this.
        max_simulations: stop once this many model runs were done in total.
        max_minutes: stop after this wall time (minutes): between generations (pyabc),
            and inside one, whose particles are then discarded (pyabc stores only whole
            generations; ``--resume`` redoes it).
        quantile: epsilon of generation t+1 is this weighted quantile of generation t's
            distances.
        bank: record every run with its statistics in the run bank beside the database
            (``sim/calibration/bank.py``; for ``--retune``); early rejection is then off,
            the posterior is the same.
    """

    population: int = 400
    generations: int = 12
    scale: float = 0.25
    seed: int = 0
    min_epsilon: float = 0.0
    min_acceptance: float = 0.0
    max_simulations: int | None = None
    max_minutes: float | None = None
    quantile: float = 0.5
    bank: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def fingerprint(targets: Targets, priors: Priors, base_hash: str, s: SMCSettings) -> str:
    """Hash of everything a resumed run must share with the stored one."""
    blob = json.dumps(
        {
            "targets": [
                (
                    x.name,
                    x.model_column,
                    x.years,
                    x.observed,
                    x.level_sd,
                    x.growth_sd,
                    x.weight,
                    x.mean_over,
                )
                for x in targets.series
            ],
            "weights": (targets.level_weight, targets.growth_weight),
            "priors": [(p.key, p.low, p.high) for p in priors.priors],
            "base": base_hash,
            "population": s.population,
            "scale": s.scale,
            "seed": s.seed,
            "quantile": s.quantile,
        },
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class SMCResult:
    """Outcome of an ABC-SMC calibration.

    Attributes:
        posterior: last generation: one row per particle with ``weight``, the parameters
            (dotted keys, their units) and ``distance``.
        generations: per generation ``t``, ``epsilon``, ``simulations``, ``accepted``,
            ``acceptance_rate``, ``ess`` (effective sample size of the weights).
        simulations: model runs in the whole database (all calls, calibration sample
            included).
        seconds: wall time of this call.
        db: the pyabc database path.
    """

    posterior: pd.DataFrame
    generations: pd.DataFrame
    populations: dict[int, pd.DataFrame]
    simulations: int
    seconds: float
    db: Path


def _history_frames(
    history: Any, priors: Priors
) -> tuple[pd.DataFrame, dict[int, pd.DataFrame], pd.DataFrame]:
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    gens = pd.DataFrame(
        {
            "t": pops["t"].astype(int),
            "epsilon": pops["epsilon"].astype(float),
            "simulations": pops["samples"].astype(int),
            "accepted": pops["particles"].astype(int),
        }
    )
    gens["acceptance_rate"] = gens["accepted"] / gens["simulations"]
    frames: dict[int, pd.DataFrame] = {}
    for t in gens["t"]:
        df, w = history.get_distribution(m=0, t=int(t))
        d = history.get_weighted_distances(t=int(t))
        out = pd.DataFrame({"weight": np.asarray(w, dtype=float)})
        for p in priors.priors:
            out[p.key] = df[abc_name(p.key)].to_numpy(dtype=float)
        out["distance"] = d["distance"].to_numpy(dtype=float)
        frames[int(t)] = out
    gens["ess"] = [
        1.0 / float(np.sum((f["weight"] / f["weight"].sum()) ** 2)) for f in frames.values()
    ]
    last = frames[int(gens["t"].iloc[-1])].copy()
    last.insert(0, "particle", np.arange(len(last)))
    return gens, frames, last


def _check_transition(transitions: list[Any]) -> None:
    """The bank's proposal densities assume pyabc's default transition (``bank.TRANSITION``)."""
    from pyabc.transition import MultivariateNormalTransition
    from pyabc.transition.multivariatenormal import silverman_rule_of_thumb

    (tr,) = transitions
    if not (
        type(tr) is MultivariateNormalTransition
        and tr.scaling == TRANSITION["scaling"]
        and tr.bandwidth_selector is silverman_rule_of_thumb
    ):
        raise CalibrationError(None, f"the run bank assumes {TRANSITION}, pyabc uses {tr!r}")


def run_smc(
    targets: Targets,
    priors: Priors,
    base: Any,
    settings: SMCSettings,
    db: Path,
    executor: Executor,
    *,
    resume: bool = False,
    quiet: bool = False,
    early_rejection: bool = True,
) -> SMCResult:
    """Run (or continue) ABC-SMC and return the posterior and its traces.

    Args:
        targets: fitted series.
        priors: free parameters (uniform priors).
        base: ``Scenario`` the free parameters are set in.
        settings: population, generations, scale, seed and stopping rules.
        db: pyabc SQLite file. A new run refuses an existing file unless ``resume``.
        executor: where particles are simulated (``sim.experiments.executors``).
        resume: continue the run stored in ``db`` (same targets, priors and settings) up
            to ``settings.generations`` generations in all.
        quiet: silence pyabc's per-generation log.
        early_rejection: stop runs that are surely rejected (``_make_model_class``); the
            result is the same either way, only the time differs. Ignored (off) with
            ``settings.bank``: a stopped run has no statistics to bank.

    Raises:
        CalibrationError: ``db`` exists without ``resume``, or belongs to another setup.
    """
    import pyabc

    from sim.scenario import scenario_hash

    logging.getLogger("ABC").setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("pyabc").setLevel(logging.WARNING if quiet else logging.INFO)
    fp = fingerprint(targets, priors, scenario_hash(base), settings)
    meta = db.with_suffix(".json")
    if resume:
        if not db.is_file():
            raise CalibrationError(db, "no database to resume from (run without --resume)")
        stored = json.loads(meta.read_text()) if meta.is_file() else {}
        if stored.get("fingerprint") != fp:
            raise CalibrationError(
                db,
                "the stored run has other targets, priors, base scenario or settings "
                f"(fingerprint {stored.get('fingerprint')} vs {fp}); resume with the same "
                "ones, or start a new database",
            )
    elif db.exists():
        raise CalibrationError(
            db, "database exists; pass --resume to continue it or --fresh to replace it"
        )
    prior = pyabc.Distribution(
        **{abc_name(p.key): pyabc.RV("uniform", p.low, p.high - p.low) for p in priors.priors}
    )
    simulator = Simulator(base, priors, targets, settings.scale)
    recorder = None
    if not resume:
        bank_path(db).unlink(missing_ok=True)  # a new run's bank starts empty (or none)
    if settings.bank:
        where, meta_ = bank_path(db), bank_meta(priors, targets, fp)

        def recorder(t: int, runs: list[Record]) -> None:
            write_generation(where, records_frame(t, runs, priors, targets), meta_)

    sampler = _make_sampler_class()(executor, settings.seed, recorder)
    sampler.show_progress = False
    # The model's name in pyabc's database stays the one pyabc gives the plain function.
    early = early_rejection and not settings.bank
    model = _make_model_class()(simulator, name="Simulator") if early else simulator
    abc = pyabc.ABCSMC(
        model,
        prior,
        TargetDistance(targets),
        population_size=settings.population,
        eps=pyabc.QuantileEpsilon(alpha=settings.quantile),
        sampler=sampler,
    )
    if settings.bank:
        _check_transition(abc.transitions)
    url = f"sqlite:///{db.resolve()}"
    done = 0  # generations already stored whole (pyabc stores a generation when it ends)
    if resume:
        abc.load(url, 1)
        done = abc.history.max_t + 1
    else:
        db.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"fingerprint": fp}, indent=2) + "\n")
        np.random.seed(_slot_seed(settings.seed, -2, 0))  # noqa: NPY002 - as above
        abc.new(url, {"x": targets.observed})
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {
        "minimum_epsilon": settings.min_epsilon,
        # pyabc counts from the stored generations: ask only for the missing ones
        "max_nr_populations": settings.generations - done,
        "min_acceptance_rate": settings.min_acceptance,
    }
    if settings.max_simulations is not None:
        kwargs["max_total_nr_simulations"] = settings.max_simulations
    if settings.max_minutes is not None:
        kwargs["max_walltime"] = timedelta(minutes=settings.max_minutes)
    if settings.max_minutes is not None:
        sampler.deadline = time.monotonic() + settings.max_minutes * 60
    # pyabc runs at least one generation per call: a finished run is only read
    try:
        history = abc.run(**kwargs) if settings.generations > done else abc.history
    except OutOfTime as stop:
        history = abc.history
        if history.max_t < 0:
            raise CalibrationError(
                db,
                f"--max-minutes {settings.max_minutes:g} ran out in "
                + (
                    f"generation {stop.args[0]}"
                    if stop.args[0] >= 0
                    else "the prior sample that sets the first threshold"
                )
                + ", before any generation finished: nothing is stored; allow more minutes",
            ) from None
    seconds = time.perf_counter() - t0
    gens, frames, post = _history_frames(history, priors)
    return SMCResult(post, gens, frames, int(history.total_nr_simulations), seconds, db)


def stored_calls(db: Path) -> list[dict[str, Any]]:
    """The calls recorded beside ``db`` (its ``.json``: command, seconds, simulations)."""
    log_path = db.with_suffix(".json")
    return json.loads(log_path.read_text()).get("calls", []) if log_path.is_file() else []


def log_call(db: Path, command: str, result: SMCResult, executor: str) -> list[dict[str, Any]]:
    """Append this call of ``run_smc`` to the record beside ``db``; returns every call."""
    log_path = db.with_suffix(".json")
    log = json.loads(log_path.read_text()) if log_path.is_file() else {}
    log["calls"] = [
        *log.get("calls", []),
        {
            "command": command,
            "seconds": round(result.seconds, 1),
            "simulations_total_after": result.simulations,
            "executor": executor,
        },
    ]
    log_path.write_text(json.dumps(log, indent=2) + "\n")
    return list(log["calls"])


def fit_or_load(
    db: Path,
    priors: Priors,
    run: Callable[[], SMCResult],
    *,
    report_only: bool,
    fresh: bool,
    command: str,
    executor: str,
) -> tuple[SMCResult, list[dict[str, Any]]]:
    """The run in ``db`` and its calls: read as stored (``report_only``), or made by ``run``
    (after deleting ``db`` and its record when ``fresh``) and logged (:func:`log_call`)."""
    if report_only:
        return load_history(db, priors), stored_calls(db)
    if fresh:
        for p in (db, db.with_suffix(".json")):
            p.unlink(missing_ok=True)
    result = run()
    return result, log_call(db, command, result, executor)


def iter_weighted(posterior: pd.DataFrame, n: int, seed: int) -> Iterator[int]:
    """Row positions of ``n`` weighted draws with replacement from a posterior frame."""
    w = posterior["weight"].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    yield from rng.choice(len(w), size=n, replace=True, p=w / w.sum())


def load_history(db: Path, priors: Priors) -> SMCResult:
    """The stored run in ``db`` as an :class:`SMCResult` (no simulation).

    Raises:
        CalibrationError: no database, or its parameters are not the priors'.
    """
    import pyabc

    if not db.is_file():
        raise CalibrationError(db, "no database to read (run `pilotsim calibrate` first)")
    history = pyabc.History(f"sqlite:///{db.resolve()}", create=False)
    if history.max_t < 0:
        raise CalibrationError(db, "the database holds no finished generation")
    df, _ = history.get_distribution(m=0, t=history.max_t)
    names = {abc_name(p.key) for p in priors.priors}
    if set(df.columns) != names:
        raise CalibrationError(
            db, f"stored parameters {sorted(df.columns)} are not those of {priors.path}"
        )
    gens, frames, post = _history_frames(history, priors)
    return SMCResult(post, gens, frames, int(history.total_nr_simulations), 0.0, db)
