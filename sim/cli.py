"""The ``pilotsim`` command.

Bad input (unknown scenario key, value out of range, missing or malformed file, bad
argument) prints one clear message to stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sim import yamlio
from sim.errors import PilotsimError, UsageError
from sim.provenance import git_commit, package_versions, remove_temporaries
from sim.provenance import write_files as _write_atomically
from sim.scenario import load_scenario, scenario_hash, to_yaml
from sim.yamlio import clip

if TYPE_CHECKING:
    from sim.metrics import Metric

EXIT_USAGE = 2
SUMMARY_YEARS = (2019, 2025, 2030, 2035)


#: Exit code by error type (the first entry the error is an instance of wins); the one place
#: where the library's errors (``sim.errors``) become exit codes.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = ((PilotsimError, EXIT_USAGE),)


def exit_code(error: BaseException) -> int:
    """The ``pilotsim`` exit code of a library error (2 for bad input)."""
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    raise error


_MARKUP = (
    (re.compile(r"``(.+?)``"), r"\1"),  # reST literal
    (re.compile(r"`([^`]+)`"), r"\1"),  # Markdown code, reST role
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # emphasis
)


def plain_text(text: str) -> str:
    """``text`` without reST/Markdown markup (````x````, ```x```, ``**x**``, ``*x*``)."""
    for pattern, repl in _MARKUP:
        text = pattern.sub(repl, text)
    return text


class PlainHelpFormatter(argparse.HelpFormatter):
    """Help text as plain text: descriptions and option help come from docstrings and
    may carry markup, which a terminal would show raw."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain_text(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain_text(super()._expand_help(action))


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", PlainHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; one message style
        raise UsageError(f"{self.prog}: {message}")


def _parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``--set platform.enabled=true`` -> {"platform.enabled": True} (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"--set expects KEY=VALUE (e.g. platform.enabled=true), got {item!r}")
        key, value = item.split("=", 1)
        if not key.strip():
            raise UsageError(f"--set expects KEY=VALUE with a parameter key, got {clip(item)!r}")
        try:
            out[key.strip()] = yamlio.loads(value, f"--set {clip(key.strip(), 80)}")
        except yamlio.YamlInputError as e:
            raise UsageError(
                f"{e.source}: cannot parse value {clip(value)!r}: {e.problem}"
            ) from None
    return out


def _set_origins(items: Sequence[str] | None) -> dict[str, str]:
    """How each ``--set`` override was written, by its key, for messages that blame it."""
    return {i.split("=", 1)[0].strip(): f"--set {clip(i, 120)}" for i in items or () if "=" in i}


def summary_table(annual: Any, years: Sequence[int] = SUMMARY_YEARS) -> str:
    """The outputs of the ``summary`` view (``sim.metrics``) in ``years``: shares to three
    decimals, the rest whole; a ratio with nothing in its denominator is n/a."""
    from sim.metrics import view  # not at import: `pilotsim --help` loads no numpy

    a = annual.set_index("year")
    years = [y for y in years if y in a.index]
    rows = [(m, m.caption("summary")) for m in view("summary")]
    width = max(len(label) for _, label in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{y:>10}" for y in years)]

    def cell(y: int, m: Metric) -> str:
        if m.ratio_of and not a.loc[y, m.ratio_of[1]] > 0:
            return "n/a"  # 0/0 is not a share of 0
        return ("{:.3f}" if m.unit == "share" else "{:,.0f}").format(a.loc[y, m.name])

    for m, label in rows:
        cells = "  ".join(f"{cell(y, m):>10}" for y in years)
        lines.append(f"{label:{width}}  {cells}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    import sim

    overrides = _parse_set(args.set)
    from sim.experiments.workflows import check_run_option  # errors name the option

    origins = _set_origins(args.set)
    if args.scale is not None:
        overrides["run.scale"] = check_run_option("--scale", "scale", args.scale)
        origins["run.scale"] = f"--scale {args.scale:g}"
    if args.until is not None:
        overrides["run.end_year"] = check_run_option("--until", "end_year", args.until)
        origins["run.end_year"] = f"--until {args.until}"
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    spec = load_scenario(args.scenario, overrides, origins=origins)
    out = Path(args.out) if args.out else Path("results") / "runs" / f"{spec.name}-seed{args.seed}"
    from sim.experiments.batch import RUN_FILES, claim_out_dir, source_origin

    # checked before the run: a writable folder, not locked, holding no other scenario
    origin = source_origin(args.scenario)
    with claim_out_dir(out, ("run", spec.name), force=args.force, origins={spec.name: origin}):
        # the lock is ours: temporary files there are a killed run's (kill -9 mid-write)
        remove_temporaries(out, only=lambda name: name in RUN_FILES)
        result = sim.run(spec, seed=args.seed)
        meta = {
            "scenario": spec.name,
            "scenario_file": str(args.scenario),
            "scenario_origin": origin,
            "scenario_hash": scenario_hash(spec),
            "seed": args.seed,
            "scale": spec.run.scale,
            "end_year": spec.run.end_year,
            "seconds": round(result.seconds, 3),
            "versions": package_versions(),
            "git_commit": git_commit(),
        }
        _write_atomically(
            out,
            {
                "annual.parquet": lambda p: result.annual.to_parquet(p, index=False),
                "annual.csv": lambda p: result.annual.to_csv(p, index=False),
                "quarterly.parquet": lambda p: result.quarterly.to_parquet(p, index=False),
                "scenario.yaml": lambda p: p.write_text(to_yaml(spec), encoding="utf-8"),
                "metadata.json": lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"),
            },
        )
    print(f"{spec.name} (seed {args.seed}, scale {spec.run.scale:g}): {result.seconds:.2f} s")
    print(summary_table(result.annual))
    print(f"wrote {out}/: annual.parquet annual.csv quarterly.parquet scenario.yaml metadata.json")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    spec = load_scenario(args.scenario, _parse_set(args.set), origins=_set_origins(args.set))
    print(f"{args.scenario}: valid scenario '{spec.name}' (hash {scenario_hash(spec)})")
    if args.show:
        print(to_yaml(spec), end="")
    return 0


def cmd_columns(args: argparse.Namespace) -> int:
    from sim.metrics import describe_rows

    rows = [("column", "unit", "kind", "definition"), *describe_rows()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pilotsim", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run one scenario with one seed")
    r.add_argument("scenario", help="scenario YAML file or name in scenarios/")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--scale", type=float, help="population scale (default from scenario: 1)")
    r.add_argument("--until", type=int, help="last simulated year (default 2035)")
    r.add_argument("--out", help="output folder (default results/runs/<scenario>-seed<N>)")
    r.add_argument(
        "--force",
        action="store_true",
        help="--out holds another scenario's run or a comparison: clear it first",
    )
    r.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a parameter, e.g. --set platform.public_budget_hkd_m=500",
    )
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="check a scenario file and print its hash")
    v.add_argument("scenario")
    v.add_argument("--set", action="append", metavar="KEY=VALUE")
    v.add_argument("--show", action="store_true", help="print the fully resolved scenario")
    v.set_defaults(func=cmd_validate)

    c = sub.add_parser("columns", help="list output columns with units")
    c.set_defaults(func=cmd_columns)

    from sim.experiments.command import add_commands  # compare, sweep

    add_commands(sub)

    from sim.viz.command import add_dashboard_command  # dashboard (serves with the viz extra)

    add_dashboard_command(sub)

    from sim.calibration.command import (  # calibrate, validate-model
        add_calibrate_command,
        add_validate_model_command,
    )

    add_calibrate_command(sub)
    add_validate_model_command(sub)

    from sim.analysis.command import add_analyse_command  # analyse

    add_analyse_command(sub)

    from sim.evaluation.command import add_evaluate_command  # evaluate

    add_evaluate_command(sub)
    return p


#: What to do when the file system refuses a write, by ``errno``: the disk or the quota is
#: full, or the folder is read-only or not ours. Any other OSError is a bug: a traceback.
_STORAGE_ADVICE = {
    errno.ENOSPC: "free some space or choose another --out",
    errno.EDQUOT: "free some space or choose another --out",
    errno.EFBIG: "choose another --out on a file system that takes larger files",
    errno.EROFS: "choose a writable folder (--out)",
    errno.EACCES: "choose a folder you may write into (--out), or change its permissions",
    errno.EPERM: "choose a folder you may write into (--out), or change its permissions",
}


def storage_error(error: OSError, out: str | Path | None = None) -> str | None:
    """One line for a write the file system refused (full disk, read-only folder, missing
    permission), naming the file (else ``out``, the command's output folder); None for any
    other ``OSError``. Atomic writes leave nothing half-written (``sim.provenance``)."""
    if error.errno not in _STORAGE_ADVICE:
        return None
    path = error.filename if error.filename is not None else out
    where = f"{os.fsdecode(path)}: " if path is not None else ""
    return f"error: {where}{os.strerror(error.errno)}; {_STORAGE_ADVICE[error.errno]}"


#: SQLite's words for the same refusals (pyabc's database, ``calibrate``): the errno each
#: stands for.
_SQLITE_STORAGE = {
    "database or disk is full": errno.ENOSPC,
    "attempt to write a readonly database": errno.EROFS,
    "unable to open database file": errno.EACCES,
}


def sqlite_storage_error(error: BaseException, out: str | Path | None = None) -> str | None:
    """One line for SQLite refusing a write (as ``storage_error``), found in ``error`` or
    the errors it wraps (SQLAlchemy's ``.orig``, ``__cause__``, ``__context__``); None if
    there is none."""
    import sqlite3

    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sqlite3.OperationalError):
            for words, code in _SQLITE_STORAGE.items():
                if words in str(e).lower():
                    db = os.path.join(os.fsdecode(out), "abc.db") if out is not None else None
                    return storage_error(OSError(code, os.strerror(code), db), out)
        stack += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except PilotsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return exit_code(e)
    except OSError as e:  # every sub-command's writes end here: one line, not a traceback
        message = storage_error(e, getattr(args, "out", None))
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # SQLite (pyabc's database) says the same in its own words
        message = sqlite_storage_error(e, getattr(args, "out", None))
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
