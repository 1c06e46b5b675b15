"""Where the committed calibration lives and the settings of a full and a quick run, in a
module that imports nothing heavy: ``pilotsim --help`` shows them without loading pandas or
the model."""

from __future__ import annotations

from pathlib import Path

#: Repository folder with the committed calibration (targets, priors, posterior, report).
CALIBRATION_DIR = Path(__file__).resolve().parent.parent.parent / "calibration"
DEFAULT_TARGETS = CALIBRATION_DIR / "targets.yaml"
DEFAULT_PRIORS = CALIBRATION_DIR / "priors.yaml"
DEFAULT_POSTERIOR = CALIBRATION_DIR / "posterior.csv"
DEFAULT_CALIBRATED = CALIBRATION_DIR / "calibrated.yaml"

#: Settings of a full run and of ``quick`` (settings given explicitly win).
FULL = {
    "population": 150,
    # 15 generations: the committed calibration, which a default run reproduces exactly
    # (the sampler is seeded per particle slot; on another CPU the last bits of the floats
    # may differ). It took 13.0 minutes on 2 cores on 2026-12-04, 24.5 on an older, slower
    # VM (docs/performance.md). The time limit only guards a much slower machine: a run it
    # stops has fewer generations than the committed one (its summary line gives the count).
    "generations": 15,
    "max_minutes": 45.0,
    "scale": 0.25,
    "predictive_draws": 100,
    "predictive_scale": 1.0,
}
QUICK = {
    "max_minutes": None,
    "population": 24,
    "generations": 2,
    "scale": 0.1,
    "predictive_draws": 8,
    "predictive_scale": 0.1,
}
#: Settings of ``--rolling-origin`` (the 2015-2017 fit and its 2018-2019 forecast;
#: sim.calibration.rolling). Population 100 and up to 8 generations: the cut targets have
#: 13 points instead of 29 and each run stops at 2017, so a smaller run reaches a usable
#: posterior; the 12-minute guard keeps the whole check within the issue's budget on 2
#: cores (a run it stops keeps its finished generations). Scale 0.25: the full fit's.
#: ``predictive_scale`` None: the forecast runs at the fit's scale (the posterior is
#: conditioned on runs at that scale). 40 draws: enough for a 5-95% band of a median.
ROLLING = {
    "population": 100,
    "generations": 8,
    "max_minutes": 12.0,
    "scale": 0.25,
    "predictive_draws": 40,
    "predictive_scale": None,
}
#: Folder of the rolling-origin check inside ``--out``, and what it writes there.
ROLLING_DIR = "rolling_origin"
#: Candidate particles tried for the baseline set with ``quick``, and refinement evaluations.
QUICK_CANDIDATES = 3
QUICK_REFINE_EVALS = 6
DB_NAME = "abc.db"
#: Everything ``pilotsim calibrate`` writes (or replaces) in its ``--out``.
OUTPUT_NAMES: tuple[str, ...] = (
    DB_NAME,
    "abc.json",
    "abc.bank.parquet",
    "posterior.csv",
    "generations.csv",
    "calibrated.yaml",
    "calibration.json",
    "report.md",
    "fit.csv",
    "predictive.csv",
    "baseline_selection.csv",
    "figures",
)
#: What ``pilotsim validate-model`` writes in its ``--out``.
FACTS_NAMES: tuple[str, ...] = ("stylised_facts.md", "stylised_facts.csv")

#: ``--retune``: the pooled effective sample size the new posterior must reach (the
#: issue's suggestion: 100 particles keep a 90% interval's ends to a few percent of its
#: width).
RETUNE_ESS_FLOOR = 100.0
#: ``--retune``: the default output folder.
RETUNE_OUT = Path("results/calibration-retune")
