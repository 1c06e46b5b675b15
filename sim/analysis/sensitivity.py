"""Global sensitivity of the platform's paired effect (``pilotsim analyse sensitivity``).

Which uncertainties decide how much the platform does for Hong Kong? The output is the paired
effect (policy minus baseline, same future and seeds) on HK value added, the local retention
share and the net benefit to Hong Kong, and the inputs are all the uncertainties of
``sim.analysis.space`` (platform, pipeline, value shares, scarcity, Guangdong's response).

Two stages share one resumable store (``experiment.open_lab``):

1. Morris screening (elementary effects on a 4-level grid, Campolongo et al. 2007's mu*)
   over every uncertainty, compared with the noise floor that seed noise alone gives mu*;
2. Sobol indices (first and total order, Saltelli et al. 2010's estimators in SALib) of the
   parameters Morris found to matter, the others held at their nominal values, with 90%
   bootstrap intervals, and their convergence over nested sub-samples.

Seed noise is part of every run: the paired effect of one future varies with the seed. The
report states how large it is against the Morris effects (the noise floor) and against the
variance Sobol decomposes (the noise share, which every total index includes).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sim.analysis.experiment import Settings
from sim.analysis.result import AnalysisResult, Folder
from sim.analysis.sizes import SensitivitySize
from sim.reporting import markdown_table

NAME = "sensitivity"

#: The paired effects analysed (names of ``sim.analysis.space.MEASURES``).
SENSITIVITY_MEASURES: tuple[str, ...] = (
    "hk_value_added_hkd_m",
    "local_retention_share",
    "npv_net_benefit_hkd_m",
)
#: Levels of the Morris grid. Source: Campolongo, Cariboni & Saltelli (2007), Environ. Model.
#: Softw. 22(10), recommend p = 4 with the jump p / (2 (p - 1)) (also SALib's default).
NUM_LEVELS = 4
#: Coverage of the bootstrap intervals. assumption: 90%, the coverage of the comparison's
#: intervals (``sim.experiments.compare.LEVEL``) and of the posterior ranges explored.
CONF_LEVEL = 0.9
#: Bootstrap resamples of mu* and the Sobol indices. assumption: 1000 puts the Monte Carlo
#: error of a 90% half-width at a few percent of it, at negligible cost (no model runs).
RESAMPLES = 1000
#: A parameter goes on to Sobol when its mu* is at least this share of the largest mu* of a
#: measure (and above the noise floor). assumption: a tenth, the usual screening cut-off of
#: "unimportant" factors relative to the most important one (Saltelli et al. 2008, Global
#: Sensitivity Analysis: The Primer, ch. 3, screens on the ranking of mu*).
SCREEN_SHARE = 0.1
#: Parameters kept for Sobol when none passes the screen. assumption: two, the fewest that
#: still compare parameters (the report says the screen found nothing above noise).
FALLBACK_PARAMS = 2
#: Sub-samples of the convergence check: the full Sobol size divided by these.
CONVERGENCE_DIVISORS = (8, 4, 2, 1)
#: Parameters labelled in the Morris figure and rows of the report's ranking table.
LABEL_TOP = 5
RANK_TOP = 10

#: Streams of the designs and bootstraps (``SeedSequence(root, spawn_key=(KEY, stage))``),
#: far from the replicate seeds' children (keys 0 .. n - 1).
_SEED_KEY = 2**32 - 3
_STAGES = {"morris_sample": 1, "morris_analyze": 2, "sobol_sample": 3, "sobol_analyze": 4}


def stage_seed(root: int, stage: str) -> int:
    """A positive integer seed of one stage (SALib treats seed 0 as "unseeded")."""
    ss = np.random.SeedSequence(int(root), spawn_key=(_SEED_KEY, _STAGES[stage]))
    return int(ss.generate_state(1)[0]) % (2**31 - 2) + 1


# ------------------------------------------------------------------ noise and screening


def morris_delta(num_levels: int = NUM_LEVELS) -> float:
    """The Morris jump in unit-cube terms: ``p / (2 (p - 1))`` (2/3 for 4 levels)."""
    return num_levels / (2.0 * (num_levels - 1))


def noise_floor(sd: float, seeds: int, num_levels: int = NUM_LEVELS) -> float:
    """The mu* that seed noise alone would give (an upper bound).

    An elementary effect is ``(y(x + delta) - y(x)) / delta`` with each ``y`` the mean of
    ``seeds`` paired effects of seed sd ``sd``; with independent noise its sd is
    ``sqrt(2) sd / sqrt(seeds) / delta`` and the mean of its absolute value is that times
    ``sqrt(2 / pi)`` (E|N(0, s)| = s sqrt(2 / pi)). Both points share their seeds (common
    random numbers), so the true floor is lower.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    ee_sd = math.sqrt(2.0) * float(sd) / math.sqrt(seeds) / morris_delta(num_levels)
    return ee_sd * math.sqrt(2.0 / math.pi)


def floor_sd(floor: float, seeds: int, num_levels: int = NUM_LEVELS) -> float:
    """The seed sd whose :func:`noise_floor` is ``floor`` (its inverse)."""
    return (
        float(floor)
        / math.sqrt(2.0 / math.pi)
        * morris_delta(num_levels)
        * math.sqrt(seeds)
        / math.sqrt(2.0)
    )


def screen(morris: pd.DataFrame, floors: Mapping[str, float]) -> pd.DataFrame:
    """Add ``normalised`` (mu* over the largest mu* of the measure) and ``above_noise``
    (mu* above the measure's noise floor) to a table of ``parameter, measure, mu_star``."""
    out = morris.copy()
    top = out.groupby("measure")["mu_star"].transform("max")
    out["normalised"] = np.where(top > 0, out["mu_star"] / top.where(top > 0, 1.0), 0.0)
    out["above_noise"] = out["mu_star"] > out["measure"].map(dict(floors)).astype(float)
    return out


def select(table: pd.DataFrame, most: int) -> tuple[list[str], bool, pd.DataFrame]:
    """The parameters Sobol analyses, from a :func:`screen`-ed Morris table.

    Rule: rank parameters by their largest normalised mu* over the measures; keep those whose
    normalised mu* is at least ``SCREEN_SHARE`` and above the noise floor for at least one
    measure, at most ``most`` of them. When none passes, keep the ``FALLBACK_PARAMS`` top
    ranked (at most ``most``) and say so (second value True).

    Returns:
        the selected parameters (ranked), whether the fallback was used, and the ranking
        (one row per parameter: ``parameter``, ``score``, ``passes``), best first.
    """
    if most < 1:
        raise ValueError(f"at least one parameter must be kept, got {most}")
    t = table.assign(passes=(table["normalised"] >= SCREEN_SHARE) & table["above_noise"])
    g = t.groupby("parameter", sort=False)
    rank = pd.DataFrame({"score": g["normalised"].max(), "passes": g["passes"].any()})
    order = list(dict.fromkeys(table["parameter"]))  # ties keep the space's order
    rank = rank.reindex(order).reset_index(names="parameter")
    rank = rank.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    chosen = rank.loc[rank["passes"], "parameter"].tolist()[:most]
    if chosen:
        return chosen, False, rank
    return rank["parameter"].tolist()[: min(FALLBACK_PARAMS, most)], True, rank


# ------------------------------------------------------------------------------- Sobol


def sobol_indices(problem: Mapping[str, Any], y: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """First and total Sobol indices (90% bootstrap half-widths) from the first ``n`` base
    samples of a SALib ``sobol.sample(..., calc_second_order=False)`` output ``y``.

    SALib lays the sample out in blocks of ``D + 2`` rows per base sample (A, the D
    cross-samples AB_j, B; ``SALib/sample/sobol.py``), so the first ``n (D + 2)`` rows are
    the sample of size ``n`` drawn from the first ``n`` Sobol points. An output without
    variance has no indices (NaN).
    """
    from SALib.analyze import sobol as sobol_analyze

    d = int(problem["num_vars"])
    yn = np.asarray(y, dtype=float)[: n * (d + 2)]
    names = list(problem["names"])
    if yn.size != n * (d + 2):
        raise ValueError(f"{yn.size} outputs for {n} base samples of {d} parameters")
    if not np.std(yn) > 0:
        nan = [float("nan")] * d
        return pd.DataFrame(
            {"parameter": names, "S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan, "n": n}
        )
    si = sobol_analyze.analyze(
        dict(problem),
        yn,
        calc_second_order=False,
        num_resamples=RESAMPLES,
        conf_level=CONF_LEVEL,
        seed=seed,
    )
    return pd.DataFrame(
        {
            "parameter": names,
            "S1": np.asarray(si["S1"], float),
            "S1_conf": np.asarray(si["S1_conf"], float),
            "ST": np.asarray(si["ST"], float),
            "ST_conf": np.asarray(si["ST_conf"], float),
            "n": n,
        }
    )


def convergence_sizes(n: int) -> list[int]:
    """Nested sub-sample sizes of the convergence check (``n / 8 .. n``, at least 2)."""
    return sorted({n // k for k in CONVERGENCE_DIVISORS if n // k >= 2 and n % k == 0})


def _check_size(size: Any) -> None:
    from sim.errors import BatchError

    for field in ("trajectories", "noise_seeds"):
        if int(getattr(size, field)) < 2:
            raise BatchError(
                f"--{field.replace('_', '-')} must be at least 2 (a standard deviation "
                f"needs two values), got {getattr(size, field)}"
            )
    for field in ("morris_seeds", "sobol_params", "sobol_seeds"):
        if int(getattr(size, field)) < 1:
            raise BatchError(f"--{field.replace('_', '-')} must be at least 1")
    n = int(size.sobol_n)
    if n < 2 or n & (n - 1):
        raise BatchError(
            f"--sobol-n must be a power of 2 of at least 2 (2, 4, 8, 16 ...), got {n}: "
            "Sobol' points keep their balance only in powers of 2"
        )


# --------------------------------------------------------------------------------- run


def _paired_sample(
    lab: Any, space: Any, x: np.ndarray, base: Any, policy: Any, seeds: Any, stage: str
) -> tuple[Any, pd.DataFrame]:
    """Run the platform and the baseline in every future of the sample ``x`` (rows in
    ``space.keys`` order) on ``seeds``; return the batch and the paired effects by future."""
    from sim.analysis.experiment import paired_batch

    futures = [space.overrides(dict(zip(space.keys, row, strict=True))) for row in x]
    batch = paired_batch(base, {"platform": policy}, futures, seeds, kind=f"sensitivity: {stage}")
    lab.run(batch)
    return batch, lab.effects(batch, len(seeds)).sort_values("future")


def run(out: Path, size: Any, settings: Settings, options: Any) -> SensitivityResult:
    """Morris screening, then Sobol indices of the paired effects; see the module docstring.

    The runs are stored in ``out``; the result is written there
    (:meth:`SensitivityResult.write`: ``morris.csv``, ``sobol.csv``, ``convergence.csv``,
    their figures and ``report.md``) and returned.
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    from sim.analysis.experiment import elapsed, finish, finite, noise_sd, open_lab, prepare
    from sim.analysis.space import POSTERIOR_KEY, load_space
    from sim.scenario import load_scenario

    _check_size(size)
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = prepare(load_scenario("baseline"), settings)
    policy = prepare(load_scenario("hk_pilot_platform"), settings)
    space = load_space(base)
    kinds = {u.key: u.kind for u in space.uncertainties}
    per_change = {u.key for u in space.uncertainties if u.switch or u.key == POSTERIOR_KEY}
    root = settings.root_seed
    measures = SENSITIVITY_MEASURES

    with open_lab(out, [NAME], settings, **options.lab()) as lab:
        # Seed noise of the paired effect at the nominal future.
        sd = noise_sd(lab, base, policy, size.noise_seeds)
        floors = {m: noise_floor(float(sd[m]), size.morris_seeds) for m in measures}

        # Morris over every uncertainty.
        problem = space.problem()
        x_m = morris_sample.sample(
            problem,
            size.trajectories,
            num_levels=NUM_LEVELS,
            seed=stage_seed(root, "morris_sample"),
        )
        b_m, eff_m = _paired_sample(
            lab, space, x_m, base, policy, settings.seeds(size.morris_seeds), "morris"
        )
        nonfinite: dict[str, int] = {}
        rows = []
        for m in measures:
            raw = eff_m[m].to_numpy(float)
            nonfinite[f"morris:{m}"] = int((~np.isfinite(raw)).sum())
            si = morris_analyze.analyze(
                problem,
                x_m,
                finite(raw),
                num_resamples=RESAMPLES,
                conf_level=CONF_LEVEL,
                num_levels=NUM_LEVELS,
                seed=stage_seed(root, "morris_analyze"),
            )
            for i, key in enumerate(space.keys):
                # a switch or the calibrated world changes by one step (off to on, one
                # particle for another), not per its range: undo SALib's division by the jump
                c = morris_delta() if key in per_change else 1.0
                rows.append(
                    {
                        "parameter": key,
                        "kind": kinds[key],
                        "measure": m,
                        "mu_star": c * float(si["mu_star"][i]),
                        "mu_star_conf": c * float(si["mu_star_conf"][i]),
                        "sigma": c * float(si["sigma"][i]),
                    }
                )
        morris = screen(pd.DataFrame(rows), floors)
        selected, _, _ = select(morris, size.sobol_params)

        # Sobol on the selected parameters (the others at their nominal values).
        sub = space.subset(selected)
        sp = sub.problem()
        x_s = sobol_sample.sample(
            sp,
            size.sobol_n,
            calc_second_order=False,
            scramble=True,
            seed=stage_seed(root, "sobol_sample"),
        )
        b_s, eff_s = _paired_sample(
            lab, sub, x_s, base, policy, settings.seeds(size.sobol_seeds), "sobol"
        )
        sizes_n = convergence_sizes(size.sobol_n)
        conv_parts = []
        noise_share: dict[str, float] = {}
        for m in measures:
            raw = eff_s[m].to_numpy(float)
            nonfinite[f"sobol:{m}"] = int((~np.isfinite(raw)).sum())
            y = finite(raw)
            var_y = float(np.var(y))
            var_noise = float(sd[m]) ** 2 / size.sobol_seeds
            noise_share[m] = var_noise / var_y if var_y > 0 else float("nan")
            for n in sizes_n:
                part = sobol_indices(sp, y, n, stage_seed(root, "sobol_analyze"))
                part.insert(1, "measure", m)
                conv_parts.append(part)
        convergence = pd.concat(conv_parts, ignore_index=True)
        sobol = convergence[convergence["n"] == size.sobol_n].reset_index(drop=True)

        result = SensitivityResult(
            morris=morris,
            sobol=sobol,
            convergence=convergence,
            noise_sd={m: float(sd[m]) for m in measures},
            noise_share=noise_share,
            nonfinite=nonfinite,
            runs={
                "noise": 2 * size.noise_seeds,
                "morris": len(b_m.tasks()),
                "sobol": len(b_s.tasks()),
            },
            size=size,
            settings=settings,
            count=lab.count(),
            wall_seconds=elapsed(started),
            code_commit=lab.provenance.get("code_commit"),
        )
        result.write(out)
        finish(out, lab, NAME, result.record())
    return result


@dataclass(frozen=True, eq=False, kw_only=True)
class SensitivityResult(AnalysisResult):
    """Morris screening and Sobol indices of the platform's paired effect.

    Attributes:
        morris: mu*, sigma and the noise screen per parameter and measure (``morris.csv``).
        sobol: S1 and ST with their intervals at the full sample (``sobol.csv``).
        convergence: the same at every size of :func:`convergence_sizes`
            (``convergence.csv``).
        noise_sd, noise_share: per measure, the seed noise of the paired effect and the share
            of the Sobol variance it explains.
        nonfinite: non-finite effects per stage and measure (replaced, see ``finite``).
        runs: runs per stage.
        size, settings, count, wall_seconds, code_commit: see
            :class:`~sim.analysis.result.AnalysisResult`.
    """

    NAME: ClassVar[str] = NAME
    SIZE: ClassVar[type] = SensitivitySize
    NAMES: ClassVar[tuple[str, ...]] = (
        "morris.csv",
        "sobol.csv",
        "convergence.csv",
        "morris.png",
        "sobol.png",
        "convergence.png",
        "report.md",
    )

    morris: pd.DataFrame
    sobol: pd.DataFrame
    convergence: pd.DataFrame
    noise_sd: dict[str, float]
    noise_share: dict[str, float]
    nonfinite: dict[str, int]
    runs: dict[str, int]

    @property
    def noise_floor(self) -> dict[str, float]:
        """The Morris noise floor of each measure (:func:`noise_floor`)."""
        return {m: noise_floor(sd, self.size.morris_seeds) for m, sd in self.noise_sd.items()}

    @property
    def ranking(self) -> pd.DataFrame:
        """The parameters ranked for selection (:func:`select`)."""
        return select(self.morris, self.size.sobol_params)[2]

    @property
    def selected(self) -> list[str]:
        """The parameters Sobol varied (:func:`select`)."""
        return select(self.morris, self.size.sobol_params)[0]

    @property
    def fallback(self) -> bool:
        """Whether they were selected by score alone (none passed the screen)."""
        return select(self.morris, self.size.sobol_params)[1]

    @property
    def sizes_n(self) -> list[int]:
        """The sizes of the convergence check (:func:`convergence_sizes`)."""
        return convergence_sizes(self.size.sobol_n)

    @property
    def futures(self) -> dict[str, int]:
        """Futures per stage: Morris ``trajectories x (k + 1)`` over the k uncertainties,
        Sobol ``n x (D + 2)`` over the D selected ones (SALib's designs)."""
        k = self.morris["parameter"].nunique()
        return {
            "morris": self.size.trajectories * (k + 1),
            "sobol": self.size.sobol_n * (len(self.selected) + 2),
        }

    @property
    def top_by_st(self) -> dict[str, list[str]]:
        """The three parameters of largest ST, per measure."""
        s = self.sobol
        return {
            m: s[s["measure"] == m].sort_values("ST", ascending=False)["parameter"].head(3).tolist()
            for m in SENSITIVITY_MEASURES
        }

    @property
    def findings(self) -> dict[str, Any]:
        """The top parameters by ST and the selection."""
        return {"top_by_ST": self.top_by_st, "selected": self.selected}

    def facts(self) -> dict[str, Any]:
        return {
            "runs_by_stage": self.runs,
            "fallback": self.fallback,
            "noise_sd": self.noise_sd,
            "noise_floor": self.noise_floor,
            "noise_share": self.noise_share,
            "nonfinite": self.nonfinite,
        }

    def info(self) -> dict[str, Any]:
        """Sizes, runs and the noise and selection findings, as :func:`report` reads them."""
        m = self.morris
        return {
            "size": dataclasses.asdict(self.size),
            "futures": self.futures,
            "runs": self.runs,
            "runs_done": self.count.done,
            "runs_skipped": self.count.skipped,
            "run_seconds": self.count.seconds,
            "seconds": self.wall_seconds,
            "noise_sd": self.noise_sd,
            "noise_floor": self.noise_floor,
            "noise_share": self.noise_share,
            "nonfinite": self.nonfinite,
            "selected": self.selected,
            "fallback": self.fallback,
            "above_noise": {
                k: m.loc[(m["measure"] == k) & m["above_noise"], "parameter"].tolist()
                for k in SENSITIVITY_MEASURES
            },
            "sizes_n": self.sizes_n,
        }

    def figure(self) -> Any:
        """mu* against sigma per measure (``morris.png``)."""
        return morris_figure(self.morris, self.noise_floor)

    def morris_figure(self) -> Any:
        """mu* against sigma per measure (``morris.png``)."""
        return self.figure()

    def sobol_figure(self) -> Any:
        """S1 and ST with their intervals per measure (``sobol.png``)."""
        return sobol_figure(self.sobol)

    def convergence_figure(self) -> Any:
        """ST and S1 against the number of base samples (``convergence.png``)."""
        return convergence_figure(self.convergence)

    def report(self) -> str:
        """The Markdown section (``report.md``)."""
        return report(self.morris, self.ranking, self.sobol, self.info(), self.settings)

    def writers(self) -> dict[str, Callable[[Path], Any]]:
        from sim.reporting import save_figure

        return {
            "morris.csv": lambda p: self.morris.to_csv(p, index=False),
            "sobol.csv": lambda p: self.sobol.to_csv(p, index=False),
            "convergence.csv": lambda p: self.convergence.to_csv(p, index=False),
            "morris.png": lambda p: save_figure(self.figure(), p),
            "sobol.png": lambda p: save_figure(self.sobol_figure(), p),
            "convergence.png": lambda p: save_figure(self.convergence_figure(), p),
            "report.md": self.write_report,
        }

    @classmethod
    def fields_from(cls, files: Folder) -> dict[str, Any]:
        # noise_sd and nonfinite are recorded since results are read back; a folder written
        # before records the floor (whose inverse is the sd) and no non-finite counts (none)
        seeds = int(files.get("size")["morris_seeds"])
        if "noise_sd" in files.info:
            sd = files.get("noise_sd")
        else:
            sd = {m: floor_sd(f, seeds) for m, f in files.get("noise_floor").items()}
        indices = ["parameter", "measure", "S1", "S1_conf", "ST", "ST_conf", "n"]
        screened = ["mu_star", "mu_star_conf", "sigma", "normalised", "above_noise"]
        return {
            "morris": files.table("morris.csv", ["parameter", "kind", "measure", *screened]),
            "sobol": files.table("sobol.csv", indices),
            "convergence": files.table("convergence.csv", indices),
            "noise_sd": {m: float(v) for m, v in sd.items()},
            "noise_share": {m: float(v) for m, v in files.get("noise_share").items()},
            "nonfinite": {k: int(v) for k, v in files.info.get("nonfinite", {}).items()},
            "runs": {k: int(v) for k, v in files.get("runs_by_stage").items()},
        }


# ------------------------------------------------------------------------------ report


def _label(measure: str) -> str:
    from sim.analysis.space import MEASURE_BY_NAME

    return MEASURE_BY_NAME[measure].label


def _units() -> str:
    from sim.analysis.space import MEASURE_BY_NAME

    return "; ".join(
        f"{MEASURE_BY_NAME[m].label}: {MEASURE_BY_NAME[m].unit}" for m in SENSITIVITY_MEASURES
    )


def _g(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3g}"


def report(
    morris: pd.DataFrame,
    ranking: pd.DataFrame,
    sobol: pd.DataFrame,
    info: Mapping[str, Any],
    settings: Settings,
) -> str:
    """The ``report.md`` section of the analysis."""
    measures = SENSITIVITY_MEASURES
    size = info["size"]
    runs = info["runs"]
    delta = morris_delta()
    lines = [
        "## Global sensitivity of the paired effect",
        "",
        "Which uncertainties decide what the HK pilot-scale platform does for Hong Kong? The "
        "output is the platform's **paired effect** (policy minus baseline, same future and "
        "same seeds) on HK value added, the local retention share and the net benefit to "
        f"Hong Kong over {settings.period[0]}-{settings.period[1]}, at scale "
        f"{settings.scale} to {settings.until} (root seed {settings.root_seed}). The inputs "
        f"are all {morris['parameter'].nunique()} uncertainties of `sim/analysis/space.py` "
        "(the calibrated world as one factor: a posterior particle drawn by its weight sets "
        "every fitted parameter jointly; evidence ranges; structural ranges).",
        "",
        "### Method and sizes",
        "",
        f"1. **Morris screening** (SALib 1.6): {size['trajectories']} trajectories on a "
        f"{NUM_LEVELS}-level grid (jump {delta:.3g} of each range), "
        f"{info['futures']['morris']} futures x {size['morris_seeds']} seed(s) x 2 scenarios. "
        "mu* is the mean absolute elementary effect (output change per full range of the "
        "parameter; for a switch and for `calibration.posterior`, per change: off to on, one "
        f"calibrated world for another); its {CONF_LEVEL:.0%} bootstrap half-width "
        f"({RESAMPLES} resamples) is "
        "`mu_star_conf`; sigma (spread of the elementary effects) signals interactions or "
        "non-linearity.",
        f"2. **Selection**: parameters ranked by their largest normalised mu* (mu* over the "
        f"largest mu* of the measure) across the three measures; kept for Sobol when, for at "
        f"least one measure, the normalised mu* is at least {SCREEN_SHARE:g} **and** mu* is "
        f"above the noise floor; at most {size['sobol_params']} kept.",
        f"3. **Sobol indices** (Saltelli et al. 2010 estimators, SALib): the selected "
        f"parameters varied, the others at their nominal values; {size['sobol_n']} base "
        f"samples (scrambled Sobol' sequence) x (D + 2) = {info['futures']['sobol']} futures "
        f"x {size['sobol_seeds']} seed(s) x 2 scenarios; {CONF_LEVEL:.0%} bootstrap "
        f"half-widths ({RESAMPLES} resamples). S1: share of the effect's variance due to the "
        "parameter alone; ST: including its interactions.",
        f"4. **Noise**: the seed sd of the paired effect at the nominal future, from "
        f"{size['noise_seeds']} paired seeds.",
        "",
        f"Runs: {runs['noise']} (noise) + {runs['morris']} (Morris) + {runs['sobol']} (Sobol) "
        f"= {sum(runs.values())} distinct runs; {info['runs_done']} run now, "
        f"{info['runs_skipped']} reused from the store. Wall time {info['seconds']:.0f} s "
        f"({info['run_seconds']:.0f} s of runs).",
        "",
    ]
    bad = {k: v for k, v in info["nonfinite"].items() if v}
    if bad:
        lines += [
            "Non-finite effects (a 0/0 retention share) replaced by the mean of the others: "
            + ", ".join(f"{k}: {v}" for k, v in bad.items())
            + ".",
            "",
        ]
    lines += [
        "### Noise floor",
        "",
        "Seed noise alone gives elementary effects of sd sqrt(2) s / sqrt(seeds) / jump, so a "
        "mu* of sqrt(2/pi) times that (the mean of |N(0, sd)|). The two points of an "
        "elementary effect share their seeds (common random numbers), so this is an "
        "**upper bound** of the noise floor.",
        "",
    ]
    rows = []
    for m in measures:
        n_above = len(info["above_noise"][m])
        rows.append(
            [
                _label(m),
                _g(info["noise_sd"][m]),
                _g(info["noise_floor"][m]),
                f"{n_above} of {morris['parameter'].nunique()}",
            ]
        )
    lines += markdown_table(
        ["measure", "seed sd of the effect", "noise floor of mu*", "parameters above"],
        rows,
        "lrrr",
    )
    lines += [
        "",
        f"### Morris ranking (top {RANK_TOP})",
        "",
        "mu* +- its 90% bootstrap half-width per measure, in the measure's unit per full "
        f"range of the parameter ({_units()}); **bold**: above the noise floor. Score: the "
        "largest normalised mu* over the measures.",
        "",
    ]
    rows = []
    for r in ranking.head(RANK_TOP).itertuples(index=False):
        p = str(r.parameter)
        cells = [f"`{p}`", str(morris.loc[morris["parameter"] == p, "kind"].iloc[0])]
        for m in measures:
            row = morris[(morris["parameter"] == p) & (morris["measure"] == m)].iloc[0]
            txt = f"{_g(row['mu_star'])} +- {_g(row['mu_star_conf'])}"
            cells.append(f"**{txt}**" if row["above_noise"] else txt)
        cells += [f"{float(r.score):.2f}", "yes" if p in info["selected"] else "no"]
        rows.append(cells)
    lines += markdown_table(
        ["parameter", "kind", *(_label(m) for m in measures), "score", "to Sobol"],
        rows,
        "llrrrrl",
    )
    lines += ["", "![Morris mu* and sigma](morris.png)", ""]
    if info["fallback"]:
        lines += [
            f"**No parameter passed the screen** (normalised mu* >= {SCREEN_SHARE:g} and above "
            f"the noise floor): the top {len(info['selected'])} by score went on to Sobol "
            "anyway; their indices may be mostly noise.",
            "",
        ]
    lines += [
        "### Sobol indices",
        "",
        f"Selected: {', '.join(f'`{p}`' for p in info['selected'])}. "
        f"S1 and ST +- 90% bootstrap half-widths at n = {size['sobol_n']}.",
        "",
    ]
    rows = []
    for p in info["selected"]:
        cells = [f"`{p}`"]
        for m in measures:
            row = sobol[(sobol["parameter"] == p) & (sobol["measure"] == m)].iloc[0]
            cells.append(
                f"{_g(row['S1'])} +- {_g(row['S1_conf'])} / {_g(row['ST'])} +- {_g(row['ST_conf'])}"
            )
        rows.append(cells)
    lines += markdown_table(
        ["parameter", *(f"{_label(m)}: S1 / ST" for m in measures)], rows, "lrrr"
    )
    lines += [
        "",
        "![Sobol indices](sobol.png)",
        "",
        f"Convergence: the indices recomputed on the nested sub-samples n = "
        f"{', '.join(str(n) for n in info['sizes_n'])} (the first n base samples of the same "
        "sequence); lines that still move at the full n are not converged.",
        "",
        "![Convergence of the Sobol indices](convergence.png)",
        "",
        "### Noise share",
        "",
        "Var_noise / Var(Y): the seed-noise variance of a Sobol future's effect "
        "(s^2 / seeds per future) over the effect's variance across the Sobol sample. No "
        "parameter explains this part: it inflates **every** ST by up to this share and "
        "blurs S1. Futures share their seeds (common random numbers), so it is an upper "
        "bound; s is measured at the nominal future only.",
        "",
    ]
    lines += markdown_table(
        ["measure", "noise share"],
        [[_label(m), _g(info["noise_share"][m])] for m in measures],
        "lr",
    )
    over = [_label(m) for m in measures if info["noise_share"][m] >= 1]
    if over:
        lines += [
            "",
            f"A share of 1 or more ({', '.join(over)}): seed noise (as estimated from "
            f"{size['noise_seeds']} seeds) is as large as the whole variance of the sample, so "
            "the Sobol indices of that measure are mostly noise at this size.",
        ]
    lines += [
        "",
        "### How to read",
        "",
        "- Morris (morris.png): far right = the effect moves a lot over the parameter's range; "
        "high = the parameter acts through interactions or non-linearly; left of the dashed "
        "line (noise floor) = indistinguishable from seed noise at this size.",
        "- Sobol (sobol.png): ST is the share of the effect's variance (over the selected "
        "parameters' ranges, the others fixed) that would vanish if the parameter were known; "
        "ST - S1 is its share through interactions. Sum of S1 well below 1 means "
        "interactions or noise. Indices whose interval includes 0, or below the noise "
        "share, are not distinguishable from nothing at this size.",
        "- Precision: every index carries a 90% bootstrap half-width; intervals wider than "
        "the index itself mean more base samples (`--sobol-n`) or seeds are needed.",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures


_KIND_COLOURS = {"fitted": "#1f6fb4", "evidence": "#d1495b", "structural": "#2a9d5c"}


def _short(key: str) -> str:
    return key.split(".", 1)[-1]


def morris_figure(morris: pd.DataFrame, floors: Mapping[str, float]) -> Any:
    """mu* against sigma per measure, coloured by kind, the top parameters labelled and the
    noise floor dashed."""
    from sim.reporting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5), layout="constrained")
    for ax, m in zip(axes, SENSITIVITY_MEASURES, strict=True):
        t = morris[morris["measure"] == m]
        for kind, colour in _KIND_COLOURS.items():
            k = t[t["kind"] == kind]
            ax.scatter(k["mu_star"], k["sigma"], s=22, color=colour, label=kind, alpha=0.85)
        ax.axvline(floors[m], color="#777777", ls="--", lw=1, label="noise floor (upper)")
        for r in t.nlargest(LABEL_TOP, "mu_star").itertuples(index=False):
            ax.annotate(
                _short(str(r.parameter)),
                (float(r.mu_star), float(r.sigma)),
                fontsize=7.5,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_title(_label(m))
        ax.set_xlabel("mu* (effect per full range)")
        ax.set_ylabel("sigma")
    axes[0].legend(loc="upper left")
    fig.suptitle("Morris screening of the platform's paired effect")
    return fig


def sobol_figure(sobol: pd.DataFrame) -> Any:
    """S1 and ST bars with 90% bootstrap intervals, per measure."""
    from sim.reporting import pyplot

    plt = pyplot()
    params = list(dict.fromkeys(sobol["parameter"]))
    h = max(3.5, 0.45 * len(params) + 1.5)
    fig, axes = plt.subplots(1, 3, figsize=(15, h), layout="constrained", sharey=True)
    ypos = np.arange(len(params))
    for ax, m in zip(axes, SENSITIVITY_MEASURES, strict=True):
        t = sobol[sobol["measure"] == m].set_index("parameter").reindex(params)
        ax.barh(ypos - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], color="#8fb8de", label="S1")
        ax.barh(ypos + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], color="#1f6fb4", label="ST")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(_label(m))
        ax.set_xlabel("Sobol index (90% bootstrap interval)")
    axes[0].set_yticks(ypos, [_short(p) for p in params])
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right")
    fig.suptitle("Sobol indices of the platform's paired effect")
    return fig


def convergence_figure(convergence: pd.DataFrame) -> Any:
    """ST (solid) and S1 (dashed) against the number of base samples, per parameter."""
    from sim.reporting import pyplot

    plt = pyplot()
    params = list(dict.fromkeys(convergence["parameter"]))
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained", sharex=True)
    for ax, m in zip(axes, SENSITIVITY_MEASURES, strict=True):
        t = convergence[convergence["measure"] == m]
        for i, p in enumerate(params):
            q = t[t["parameter"] == p].sort_values("n")
            c = cmap(i % 10)
            ax.plot(q["n"], q["ST"], "-o", color=c, ms=3, label=_short(p))
            ax.plot(q["n"], q["S1"], "--", color=c, lw=1)
        ax.set_xscale("log", base=2)
        ns = sorted(set(t["n"]))
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_title(_label(m))
        ax.set_xlabel("base samples n")
        ax.set_ylabel("ST (solid), S1 (dashed)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.suptitle("Convergence of the Sobol indices")
    return fig
