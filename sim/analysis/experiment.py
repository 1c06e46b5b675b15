"""Paired experiments over futures: the runs every analysis is made of.

An analysis is a specification of :class:`~sim.experiments.batch.Batch`, the one experiment
model of ``compare``, ``sweep`` and ``--posterior``: futures (points of the uncertainty space,
``sim.analysis.space``) crossed with seeds are the replicates, policy designs are the
scenarios, and each policy runs every (future, seed) the baseline runs. The paired effect of
a policy in a future is the mean over seeds of policy minus baseline: the same parameters and
the same random numbers, so what differs is the policy alone.

:class:`Lab` holds one executor and one resumable store for a whole analysis, so iterative
designs (an optimiser's generations) and later stages (Sobol after Morris) share the runs
they have in common, and a killed analysis resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.space import MEASURES
from sim.errors import BatchError
from sim.experiments.batch import Batch, check_same_run_settings
from sim.experiments.compare import DEFAULT_PERIOD, panel_from_frames, period_values
from sim.experiments.seeds import replicate_seeds
from sim.params import Scenario
from sim.provenance import atomic_write_text


@dataclass(frozen=True)
class Settings:
    """How the runs of an analysis are made (shared by every stage of it).

    Attributes:
        scale: population scale of every run.
        until: last simulated year.
        period: years over which effects are summed or discounted (inclusive).
        root_seed: root of the seeds (``SeedSequence(root).spawn``) and of the designs.
    """

    scale: float = 0.25
    until: int = 2035
    period: tuple[int, int] = DEFAULT_PERIOD
    root_seed: int = 0

    def seeds(self, n: int) -> list[int]:
        return replicate_seeds(self.root_seed, n)


def prepare(spec: Scenario, settings: Settings) -> Scenario:
    """``spec`` at the analysis' scale and horizon."""
    from sim.scenario import with_overrides

    return with_overrides(spec, {"run.scale": settings.scale, "run.end_year": settings.until})


def paired_batch(
    base: Scenario,
    policies: Mapping[str, Scenario],
    futures: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    *,
    kind: str = "analysis",
    zipped: bool = False,
    root_seed: int | None = None,
) -> Batch:
    """The batch of a paired experiment.

    Args:
        base: the baseline scenario.
        policies: policy scenarios by label.
        futures: overrides of each future (``{}`` is the nominal future).
        seeds: crossed with every future (common random numbers across futures), or, with
            ``zipped``, one seed per future.
        kind: recorded in the manifest.
        root_seed: the root the seeds came from (recorded in the manifest).

    Replicate ``r`` is future ``r // len(seeds)`` with seed ``r % len(seeds)`` (crossed) or
    future ``r`` with seed ``r`` (zipped).
    """
    if not futures:
        raise BatchError("an experiment needs at least one future")
    if zipped and len(seeds) != len(futures):
        raise BatchError(f"zipped experiment: {len(seeds)} seeds for {len(futures)} futures")
    if "baseline" in policies:
        raise BatchError("a policy may not be labelled 'baseline' (the label of the baseline)")
    scenarios = {"baseline": base, **policies}
    check_same_run_settings(scenarios)
    if zipped:
        draws = [dict(f) for f in futures]
        rep_seeds = [int(s) for s in seeds]
    else:
        draws = [dict(f) for f in futures for _ in seeds]
        rep_seeds = [int(s) for _ in futures for s in seeds]
    sources = {lab: f"<{kind}: {lab}>" for lab in scenarios}
    return Batch(
        kind,
        scenarios,
        sources,
        int(root_seed) if root_seed is not None else 0,  # recorded only: the seeds are given
        len(rep_seeds),
        draws=draws if any(draws) else None,
        replicate_seed_list=rep_seeds,
    )


#: Decimals of the times ``analysis.json`` records. Results hold their times at this precision
#: too, so that a result read back from its folder reports what it reported when computed.
SECONDS_DECIMALS = 1


def elapsed(t0: float) -> float:
    """Seconds since ``t0`` (``time.perf_counter()``), at the precision recorded."""
    return round(time.perf_counter() - t0, SECONDS_DECIMALS)


@dataclass(frozen=True)
class RunCount:
    """What a lab had run when an analysis' result was computed (:meth:`Lab.count`).

    Attributes:
        done: runs made now; skipped: runs reused from the store; failed: runs that failed;
        seconds: wall time of the runs made now, on the executor.
    """

    done: int
    skipped: int
    failed: int
    seconds: float

    @property
    def used(self) -> int:
        """Runs the analysis used (made now or stored earlier)."""
        return self.done + self.skipped


class Lab:
    """One executor and one store for the whole of an analysis (see the module docstring).

    Use :func:`open_lab`. ``run(batch)`` runs what is not stored yet; ``effects(batch)``
    reads the paired effects of every future.
    """

    def __init__(
        self,
        store: Any,
        engine: Any,
        settings: Settings,
        progress: bool,
        provenance: Mapping[str, Any],
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.progress = progress
        self.provenance = dict(provenance)
        self.runs_done = 0
        self.runs_failed = 0
        self.runs_skipped = 0
        self.seconds = 0.0
        self.started = time.perf_counter()
        self._seen: set[str] = set()
        self._values: dict[str, dict[str, float]] = {}

    def run(self, batch: Batch) -> None:
        """Run the batch's runs not yet stored (resume); raise if any failed."""
        from sim.experiments.runner import run_batch
        from sim.experiments.store import code_fingerprint

        self.store.begin(
            batch.describe(),
            {**self.provenance, "engine": self.engine.description, "code": code_fingerprint()},
        )
        tasks = batch.tasks()
        fresh = {t.key for t in tasks} - self._seen  # not used earlier in this analysis
        self._seen |= fresh
        rep = run_batch(tasks, self.engine.executor, self.store, progress=self.progress)
        self.runs_done += rep.done
        self.runs_failed += rep.failed
        self.runs_skipped += len(fresh) - rep.done - rep.failed  # stored before it began
        self.seconds += rep.seconds
        if rep.failed:
            key, err = next(iter(rep.failures.items()))
            raise BatchError(
                f"{rep.failed} of {rep.total} runs failed (first: {key}: {err}); see "
                f"{self.store.manifest_path} for tracebacks; rerun to retry them"
            )

    def count(self) -> RunCount:
        """The runs made, reused and failed so far (seconds at the precision recorded)."""
        return RunCount(
            self.runs_done,
            self.runs_skipped,
            self.runs_failed,
            round(self.seconds, SECONDS_DECIMALS),
        )

    def values(self, batch: Batch) -> pd.DataFrame:
        """Each (label, replicate)'s outcome values over the period (cached per run)."""
        runs = batch.runs()
        need = sorted({r["key"] for r in runs} - set(self._values))
        s = self.settings
        chunk = 400  # assumption: a few hundred quarterly frames in memory at a time
        for i in range(0, len(need), chunk):
            keys = need[i : i + chunk]
            frames = self.store.load(keys)
            missing = sorted(set(keys) - set(frames))
            if missing:
                raise BatchError(
                    f"{len(missing)} runs missing from {self.store.root} (first {missing[0]})"
                )
            one = [{"label": k, "replicate": 0, "seed": 0, "key": k} for k in keys]
            pv = period_values(panel_from_frames(frames, one), s.period, _rate(batch))
            if len(pv) != len(keys):
                raise BatchError(
                    f"period {s.period[0]}-{s.period[1]} has no year in runs to {s.until}"
                )
            cols = [m.name for m in MEASURES]
            for row in pv[["label", *cols]].itertuples(index=False):
                self._values[row[0]] = dict(zip(cols, (float(v) for v in row[1:]), strict=True))
        rows = [
            {"label": r["label"], "replicate": r["replicate"], **self._values[r["key"]]}
            for r in runs
        ]
        return pd.DataFrame(rows)

    def effects(self, batch: Batch, n_seeds: int, zipped: bool = False) -> pd.DataFrame:
        """Paired effects per (policy, future): mean over the future's seeds of policy
        minus baseline, for every measure; also ``base:<m>`` (the baseline's level) and
        ``sd:<m>`` (the standard deviation over seeds of the paired difference)."""
        v = self.values(batch)
        per = 1 if zipped else n_seeds
        v["future"] = v["replicate"] // per
        base = v[v["label"] == "baseline"].set_index("replicate")
        cols = [m.name for m in MEASURES]
        out = []
        for lab in [x for x in batch.labels if x != "baseline"]:
            pol = v[v["label"] == lab].set_index("replicate")
            diff = pol[cols] - base.loc[pol.index, cols]
            diff["future"] = pol["future"]
            g = diff.groupby("future")
            mean = g[cols].mean()
            sd = g[cols].std(ddof=1).add_prefix("sd:") if per > 1 else None
            lvl = (
                base.assign(future=base["future"])
                .groupby("future")[cols]
                .mean()
                .add_prefix("base:")
            )
            part = pd.concat([mean, lvl, *([sd] if sd is not None else [])], axis=1)
            part.insert(0, "policy", lab)
            out.append(part.reset_index())
        return pd.concat(out, ignore_index=True)


def _rate(batch: Batch) -> float:
    from sim.experiments.workflows import discount_rate_of

    return discount_rate_of(batch.scenarios[batch.base])


@contextmanager
def open_lab(
    out: Path,
    job: Sequence[str],
    settings: Settings,
    *,
    jobs: int | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    progress: bool = True,
    force: bool = False,
    command: str | None = None,
) -> Iterator[Lab]:
    """Claim ``out/runs`` for an analysis and open its executor.

    The store lives in ``out`` (``manifest.json``, ``runs/``); a rerun of the same analysis
    reuses every stored run. ``job`` names the analysis (a folder holding another job is
    refused unless ``force``).
    """
    from sim.experiments import ownership
    from sim.experiments.batch import claim_out_dir
    from sim.experiments.executors import open_executor
    from sim.experiments.store import Store
    from sim.experiments.workflows import provenance

    out = Path(out)
    with ExitStack() as stack:
        stack.enter_context(claim_out_dir(out, ("analyse", *job), force=force))
        ownership.remove(out, ["report.md"])  # never left beside newer tables
        mark = {"analysis": job[0], "settings": asdict(settings)}
        atomic_write_text(out / "analysis.json", json.dumps(mark, indent=1) + "\n")
        engine = stack.enter_context(open_executor(jobs, dask=dask, scheduler=scheduler))
        store = Store(out)
        yield Lab(store, engine, settings, progress, provenance(command))


def finish(out: Path, lab: Lab, name: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Record what an analysis ran in ``out/analysis.json`` (committed with its report)."""
    info = {
        "analysis": name,
        "settings": asdict(lab.settings),
        "runs_done": lab.runs_done,
        "runs_skipped": lab.runs_skipped,
        "runs_failed": lab.runs_failed,
        "run_seconds": lab.count().seconds,
        "wall_seconds": elapsed(lab.started),
        "engine": lab.engine.description,
        "git_commit": lab.provenance.get("git_commit"),
        "code_commit": lab.provenance.get("code_commit"),
        "command": lab.provenance.get("command"),
        **extra,
    }
    atomic_write_text(out / "analysis.json", json.dumps(info, indent=1, default=str) + "\n")
    return info


def mean_effects(effects: pd.DataFrame, policy: str) -> pd.Series:
    """Mean over futures of one policy's effects."""
    sub = effects[effects["policy"] == policy]
    return sub[[m.name for m in MEASURES]].mean()


def noise_sd(lab: Lab, base: Scenario, policy: Scenario, n_seeds: int) -> pd.Series:
    """Standard deviation over seeds of the paired effect at the nominal future: the seed
    noise an analysis' effects carry (per future, before averaging over its seeds)."""
    b = paired_batch(base, {"policy": policy}, [{}], lab.settings.seeds(n_seeds), kind="noise")
    lab.run(b)
    v = lab.values(b)
    cols = [m.name for m in MEASURES]
    pol = v[v["label"] == "policy"].set_index("replicate")[cols]
    bas = v[v["label"] == "baseline"].set_index("replicate")[cols]
    return (pol - bas).std(ddof=1)


def finite(x: np.ndarray) -> np.ndarray:
    """``x`` with non-finite values replaced by the mean of the finite ones (SALib needs
    every output; a 0/0 retention share is rare and said so in the reports)."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if ok.all():
        return x
    return np.where(ok, x, float(np.mean(x[ok])) if ok.any() else 0.0)
