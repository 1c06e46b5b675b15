"""Defaults and limits of batches, in a module that imports nothing heavy: ``pilotsim
--help`` shows them without loading the model, pandas or the store."""

from __future__ import annotations

#: ``pilotsim compare`` with no scenario: the question the project answers.
DEFAULT_BASE = "baseline"
DEFAULT_POLICY = "hk_pilot_platform"
#: Default replicates of ``pilotsim compare``, run at the scenarios' own full scale: the
#: 90% interval of the 2025-2035 gain in HK value added is then about +/-9% of the gain
#: (results/baseline_vs_hk_pilot_platform/report.md), in about a minute of 2 free cores.
#: Full scale is also the cheapest precision: at scale 0.5 the paired differences are
#: about twice as noisy (4x the seeds for the same interval) for 0.6x the time per run.
DEFAULT_SEEDS = 30
#: Replicates per sweep point (a sweep has many points).
DEFAULT_SWEEP_SEEDS = 8
#: A batch of more runs than this is refused without ``--yes`` (it prints size and time).
MAX_RUNS_WITHOUT_YES = 5000
