"""``pilotsim compare`` and ``pilotsim sweep``: argument parsing and printing.

Bad input raises ``sim.errors.UsageError`` or ``ScenarioError`` before anything is written
(exit code 2). Runs that fail are recorded and reported: the command then exits with 1.
An interrupted batch exits with 130; rerunning the same command resumes it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.errors import BatchError, ExecutorError, UsageError
from sim.experiments.defaults import (
    DEFAULT_BASE,
    DEFAULT_POLICY,
    DEFAULT_SEEDS,
    DEFAULT_SWEEP_SEEDS,
    MAX_RUNS_WITHOUT_YES,
)

EXIT_RUNS_FAILED = 1
EXIT_INTERRUPTED = 130
#: ``--posterior`` without a file: the committed posterior (relative to the repository).
DEFAULT_POSTERIOR_TEXT = "calibration/posterior.csv"


def positive_int(name: str) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers >= 1; ``name`` (the option) is in its errors."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} expects a positive integer, got {text!r}"
            ) from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"{name} expects a positive integer, got {v}")
        return v

    return parse


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expects a non-negative integer, got {v}")
    return v


def scale_arg(text: str) -> float:
    """An argparse ``type``: a population scale, a number in (0, 5]."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number in (0, 5], got {text!r}") from None
    if not 0 < v <= 5:
        raise argparse.ArgumentTypeError(f"expects a number in (0, 5], got {v:g}")
    return v


def _year_list(text: str) -> list[int]:
    try:
        years = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expects years separated by commas (e.g. 2025,2030,2035), got {text!r}"
        ) from None
    if not years:
        raise argparse.ArgumentTypeError("expects at least one year")
    return years


def period_arg(text: str) -> tuple[int, int]:
    """An argparse ``type``: ``START-END`` years as ``(start, end)``."""
    parts = text.split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None or hi is None:
        raise argparse.ArgumentTypeError(f"expects START-END years (e.g. 2025-2035), got {text!r}")
    return lo, hi


def add_out_options(p: argparse.ArgumentParser) -> None:
    """``--force`` and ``--yes``: clear an output folder of another job; run a huge batch."""
    p.add_argument(
        "--force",
        action="store_true",
        help="--out holds another comparison, sweep or run: clear it first (only files "
        "pilotsim writes) instead of refusing",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help=f"run a batch of more than {MAX_RUNS_WITHOUT_YES:,} runs (refused otherwise, "
        "with its estimated time)",
    )


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """``--jobs``, ``--dask``, ``--scheduler``, ``--no-progress``."""
    p.add_argument(
        "--jobs",
        type=positive_int("--jobs"),
        help="parallel runs: a local process pool (default: all cores; 1 = in this "
        "process); with --dask the number of local Dask workers",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dask", action="store_true", help="run on a Dask LocalCluster")
    g.add_argument(
        "--scheduler", metavar="ADDR", help="join a running Dask cluster, e.g. tcp://HOST:8786"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_batch_options(p: argparse.ArgumentParser, seeds_default: int) -> None:
    p.add_argument(
        "--seeds",
        type=positive_int("--seeds"),
        default=None,
        help=f"replicate seeds per scenario (default {seeds_default})",
    )
    p.add_argument(
        "--root-seed",
        type=non_negative_int,
        default=None,
        help="root of SeedSequence(root).spawn(seeds) (default 0)",
    )
    p.add_argument(
        "--scale", type=scale_arg, help="population scale of every run (default: scenario's, 1)"
    )
    p.add_argument(
        "--until",
        type=int,
        help="last simulated year (default: scenario's, 2035); beyond 2035 the default "
        "period runs to it and the table shows every fifth year",
    )
    p.add_argument(
        "--period",
        type=period_arg,
        help="years summed (and discounted to START for net present values) in the table, "
        "START-END (default 2025-2035, or 2025-UNTIL when --until is later)",
    )
    p.add_argument(
        "--posterior",
        nargs="?",
        const=DEFAULT_POSTERIOR_TEXT,
        metavar="CSV",
        help="draw each replicate's calibrated parameters from the posterior (weighted "
        f"samples; default file {DEFAULT_POSTERIOR_TEXT}), the same draw for every scenario, "
        "so differences carry parameter uncertainty as well as seed noise",
    )


def add_commands(sub: Any) -> None:
    """Add ``compare`` and ``sweep`` to the ``pilotsim`` subparsers."""

    c = sub.add_parser(
        "compare",
        help="baseline vs policies over paired seeds: table, report and figures",
        description="Run BASE and each POLICY with the same replicate seeds and report the "
        "paired differences with 90% intervals. With no scenario: "
        f"{DEFAULT_BASE} vs {DEFAULT_POLICY}. Rerunning the same command resumes.",
    )
    c.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"BASE then POLICY ... (files or names in scenarios/; default {DEFAULT_BASE} "
        f"{DEFAULT_POLICY})",
    )
    add_batch_options(c, DEFAULT_SEEDS)
    c.add_argument("--years", type=_year_list, help="years of the table (default 2025,2030,2035)")
    c.add_argument("--out", help="output folder (default results/<base>_vs_<policy>)")
    c.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    c.add_argument(
        "--no-attribution",
        action="store_true",
        help="skip the attribution table: by default a POLICY with the platform on also "
        "runs, with the same seeds, with each platform service (engineering, matching, "
        "follow_up_support) switched off and with slots only (attribution.csv)",
    )
    add_out_options(c)
    add_executor_options(c)
    c.set_defaults(func=cmd_compare)

    w = sub.add_parser(
        "sweep",
        help="vary scenario parameters over a grid or Latin hypercube, paired with a baseline",
        description="Run every point of a design (policy scenario with swept parameters) "
        "and the baseline with the same replicate seeds; write sweep.csv, sweep.png and "
        "report.md. Options given here override those of SWEEP_FILE.",
    )
    w.add_argument("sweep_file", nargs="?", metavar="SWEEP_FILE", help="YAML sweep file")
    w.add_argument(
        "--scenario", help=f"policy scenario whose parameters vary (default {DEFAULT_POLICY})"
    )
    w.add_argument("--baseline", help=f"scenario compared with (default {DEFAULT_BASE})")
    w.add_argument(
        "--param",
        action="append",
        metavar="KEY=SPEC",
        help="swept parameter: KEY=LOW:HIGH (lhs), KEY=LOW:HIGH:NUM or KEY=V1,V2,... (grid); "
        "repeat for several; replaces the file's parameters",
    )
    w.add_argument("--design", choices=("grid", "lhs"), help="design (default grid)")
    w.add_argument("--samples", type=positive_int("--samples"), help="points of an lhs design")
    add_batch_options(w, DEFAULT_SWEEP_SEEDS)
    w.add_argument("--out", help="output folder (default results/sweep-<file or scenario>)")
    w.add_argument("--no-figures", action="store_true", help="skip the PNG figure")
    add_out_options(w)
    add_executor_options(w)
    w.set_defaults(func=cmd_sweep)


def _posterior_path(text: str | None) -> Path | None:
    """``--posterior`` as a path; the default file is found from any working directory."""
    if text is None:
        return None
    if text == DEFAULT_POSTERIOR_TEXT and not Path(text).is_file():
        from sim.calibration.posterior import DEFAULT_POSTERIOR

        return DEFAULT_POSTERIOR
    return Path(text)


def _file_posterior(f: dict[str, Any], where: str) -> Path | None:
    """A sweep file's ``posterior:`` (``true`` for the committed posterior, or a CSV path
    relative to the sweep file)."""
    v = f.get("posterior")
    if v is None or v is False:
        return None
    if v is True:
        return _posterior_path(DEFAULT_POSTERIOR_TEXT)
    if not isinstance(v, str):
        raise UsageError(f"{where}: key 'posterior': expected true, false or a CSV path, got {v!r}")
    path = Path(v)
    return path if path.is_absolute() else Path(where).parent / path


def run_guarded(fn: Callable[[], int]) -> int:
    """Run a command's body: batch and executor errors become usage errors (exit 2), an
    interrupt exits with :data:`EXIT_INTERRUPTED` (the finished runs stay stored)."""
    try:
        return fn()
    except (BatchError, ExecutorError) as e:
        raise UsageError(str(e)) from None
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished runs are stored; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.experiments.workflows import (
        DEFAULT_BASE,
        DEFAULT_POLICY,
        DEFAULT_SEEDS,
        run_comparison,
    )

    names = list(args.scenarios) or [DEFAULT_BASE, DEFAULT_POLICY]
    if len(names) == 1:
        raise UsageError(
            f"compare: got only BASE ({names[0]}); give BASE and at least one POLICY, "
            f"or nothing for {DEFAULT_BASE} vs {DEFAULT_POLICY}"
        )

    def go() -> int:
        res = run_comparison(
            names[0],
            names[1:],
            n_seeds=args.seeds or DEFAULT_SEEDS,
            root_seed=args.root_seed if args.root_seed is not None else 0,
            scale=args.scale,
            until=args.until,
            out=args.out,
            jobs=args.jobs,
            dask=args.dask,
            scheduler=args.scheduler,
            years=args.years,
            period=args.period,
            progress=not args.no_progress,
            figures=not args.no_figures,
            posterior=_posterior_path(args.posterior),
            attribution=not args.no_attribution,
            force=args.force,
            yes=args.yes,
        )
        return _print_result(res, posterior=args.posterior is not None)

    return run_guarded(go)


def table_heading(policy: str, base: str, n_pairs: int, posterior: bool = False) -> str:
    """The line above a printed comparison table."""
    what = (
        f"{n_pairs} paired replicates with posterior parameter draws"
        if posterior
        else f"{n_pairs} paired seeds"
    )
    return f"{policy} vs {base}: mean of {what}, difference with 90% t-interval"


def _print_result(res: Any, posterior: bool = False) -> int:
    rep = res.execution.report
    print(
        f"{rep.total} runs: {rep.done} run now, {rep.skipped} already stored, "
        f"{rep.failed} failed; {res.execution.seconds:.0f} s on {res.execution.engine}"
    )
    for policy, table in res.tables.items():
        base = res.summary["baseline"].iloc[0]
        # pairs of runs: an outcome undefined in some runs (a 0/0 share) has fewer rows
        n = int(res.summary[res.summary["policy"] == policy]["n_pairs"].max())
        print("\n" + table_heading(policy, base, n, posterior))
        print(table)
        attribution = getattr(res, "attribution", {}).get(policy)
        if attribution is not None:
            from sim.experiments.compare import format_attribution

            print(f"\nattribution of {policy}'s effect (services switched off, same seeds):")
            print(format_attribution(attribution))
    if res.files:
        print(f"\nwrote {res.out}/: {' '.join(res.files)}")
    if rep.failed:
        print(
            f"error: {rep.failed} runs failed (errors in {res.out}/manifest.json); "
            "run the same command again to retry them",
            file=sys.stderr,
        )
        return EXIT_RUNS_FAILED
    if res.summary is None:
        print("error: no complete pair of runs to compare", file=sys.stderr)
        return EXIT_RUNS_FAILED
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.experiments import sweep as sw
    from sim.experiments.workflows import (
        DEFAULT_BASE,
        DEFAULT_POLICY,
        DEFAULT_SWEEP_SEEDS,
        run_sweep,
    )

    def go() -> int:
        f: dict[str, Any] = sw.read_sweep_file(args.sweep_file) if args.sweep_file else {}
        where = args.sweep_file or "sweep"
        if args.param:
            params = [sw.parse_param(t) for t in args.param]
        elif "parameters" in f:
            params = sw.params_from_mapping(f["parameters"], str(where))
        else:
            raise UsageError(
                "sweep: no parameters; give --param KEY=LOW:HIGH[:NUM] or a SWEEP_FILE "
                "with 'parameters:'"
            )

        def pick(name: str, value: Any, default: Any, kind: type | tuple[type, ...]) -> Any:
            if value is not None:
                return value
            if name not in f:
                return default
            v = f[name]
            if isinstance(v, bool) or not isinstance(v, kind):
                raise UsageError(f"{where}: key '{name}': expected {kind}, got {v!r}")
            return v

        period = args.period
        if period is None and "period" in f:
            period = period_arg(str(f["period"])) if isinstance(f["period"], str) else None
            if period is None:
                raise UsageError(
                    f"{where}: key 'period': expected 'START-END', got {f['period']!r}"
                )
        res = run_sweep(
            params,
            scenario=pick("scenario", args.scenario, DEFAULT_POLICY, str),
            baseline=pick("baseline", args.baseline, DEFAULT_BASE, str),
            design=pick("design", args.design, "grid", str),
            samples=pick("samples", args.samples, None, int),
            n_seeds=pick("seeds", args.seeds, DEFAULT_SWEEP_SEEDS, int),
            root_seed=pick("root_seed", args.root_seed, 0, int),
            scale=pick("scale", args.scale, None, (int, float)),
            until=pick("until", args.until, None, int),
            period=period,
            out=args.out,
            jobs=args.jobs,
            dask=args.dask,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            figures=not args.no_figures,
            source=args.sweep_file,
            posterior=_posterior_path(args.posterior)
            if args.posterior is not None
            else _file_posterior(f, where),
            force=args.force,
            yes=args.yes,
        )
        rep = res.execution.report
        print(
            f"{rep.total} runs: {rep.done} run now, {rep.skipped} already stored, "
            f"{rep.failed} failed; {res.execution.seconds:.0f} s on {res.execution.engine}"
        )
        if res.table is not None:
            print(_sweep_text(res.table, res.keys))
            print(f"\nwrote {res.out}/: {' '.join(res.files)}")
        if rep.failed:
            print(
                f"error: {rep.failed} runs failed (errors in {res.out}/manifest.json); "
                "run the same command again to retry them",
                file=sys.stderr,
            )
            return EXIT_RUNS_FAILED
        return 0

    return run_guarded(go)


def _sweep_text(table: Any, keys: list[str]) -> str:
    from sim.experiments.compare import fmt_diff
    from sim.reporting import text_table

    t = table[table["outcome"].isin(["hk_value_added_hkd_m", "value_per_public_dollar"])]
    head = ("point", *keys, "extra HK value added, HKD m", "per public dollar")
    rows = []
    for point, g in t.groupby("point", sort=True):
        r = g.set_index("outcome")
        cells = []
        for o in ("hk_value_added_hkd_m", "value_per_public_dollar"):
            x = r.loc[o]
            cells.append(fmt_diff(x))
        vals = [
            f"{g.iloc[0][k]:.4g}" if isinstance(g.iloc[0][k], float) else str(g.iloc[0][k])
            for k in keys
        ]
        rows.append((str(point), *vals, *cells))
    return "\n" + text_table(head, rows, right=tuple(range(1, len(head))))
