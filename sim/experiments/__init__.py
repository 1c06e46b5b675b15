"""Scenario batches for policy modellers: paired seeds, any executor, a resumable store.

- ``seeds``: replicate seeds from ``SeedSequence(root).spawn(n)``, shared by all scenarios;
- ``runner``: a run as a pure function (``run_one``) and ``run_batch`` on any
  ``concurrent.futures.Executor``;
- ``executors``: sequential, process pool, Dask ``LocalCluster`` or an existing cluster;
- ``store``: Parquet part files (zstd) and ``manifest.json``, written atomically;
- ``compare``: paired differences with 90% t-intervals; ``report``: figures and Markdown;
- ``sweep``: grid and Latin hypercube designs; ``workflows``: ``run_comparison`` and
  ``run_sweep`` (what ``pilotsim compare`` and ``pilotsim sweep`` do); a comparison's
  results are a ``Comparison`` (``res.comparison``: tables, ``figure(name)``, ``report()``,
  ``write(folder)``).

Example::

    from sim.experiments import run_comparison
    res = run_comparison("baseline", ["hk_pilot_platform"], n_seeds=10, scale=0.25)
    print(res.tables["hk_pilot_platform"])
"""

from typing import Any

__all__ = ["run_comparison", "run_sweep"]


def __getattr__(name: str) -> Any:
    """``run_comparison`` and ``run_sweep`` load the batch machinery on first use, so the
    CLI's ``--help`` can import this package without it."""
    if name in __all__:
        from sim.experiments import workflows

        return getattr(workflows, name)
    raise AttributeError(f"module 'sim.experiments' has no attribute {name!r}")
