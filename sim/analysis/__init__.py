"""Policy analyses on paired effects (``pilotsim analyse``).

- ``space``: what varies: uncertainties (posterior, evidence and structural ranges), the
  platform's design levers, the outcomes (measures);
- ``experiment``: paired experiments over futures on the one ``Batch`` model, in one
  resumable store per analysis (``open_lab``);
- ``sensitivity`` (Morris, Sobol), ``discover`` (PRIM), ``instruments`` (equal cost,
  regret), ``design`` (NSGA-II frontier), ``horizons`` (2030/2035/2050, sunset);
- each analysis' ``run`` returns its result object (``SensitivityResult``,
  ``DiscoverResult``, ``InstrumentsResult``, ``DesignResult``, ``HorizonsResult``): tables
  as DataFrames, figures on demand, ``report()``, ``summary`` and ``write(folder)`` (its
  ``NAMES``); ``result``: what they share, and ``read(folder)``, their way back;
- :func:`load` (``load("sensitivity", "results/policy_analysis/sensitivity")``): the result
  of an analysis, by name, read back from the folder it was written to, e.g. a committed
  one, with no run;
- ``sizes``: default and quick sample sizes; ``command``: the CLI; ``report``: the index;
- ``ema``: the same space as an EMA Workbench model (``model()``).
"""

from sim.analysis.result import load

__all__ = ["load"]
