"""The ``pilotsim`` command.

Bad input (unknown scenario key, value out of range, missing or malformed file, bad
argument) prints one clear message to stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as _platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from sim.scenario import ScenarioError, load_scenario, scenario_hash, to_yaml

EXIT_USAGE = 2
SUMMARY_YEARS = (2019, 2025, 2030, 2035)
SUMMARY_COLUMNS = (
    ("hk_value_added_hkd_m", "HK value added from HK research (HKD m)", "{:,.0f}"),
    ("local_retention_share", "local retention share", "{:.3f}"),
    ("hk_jobs", "HK jobs from HK research", "{:,.0f}"),
    ("startups", "startups", "{:,.0f}"),
    ("manufacturing_establishments", "manufacturing establishments", "{:,.0f}"),
    ("projects_north", "projects moved north (year)", "{:,.0f}"),
    ("projects_piloted_hk", "pilots started in HK (year)", "{:,.0f}"),
    ("public_spend_hkd_m", "public spend (HKD m)", "{:,.0f}"),
)


class UsageError(Exception):
    """Bad command-line input: reported on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep one message style
        raise UsageError(f"{self.prog}: {message}")


def _parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``--set platform.enabled=true`` -> {"platform.enabled": True} (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"--set expects KEY=VALUE (e.g. platform.enabled=true), got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise UsageError(f"--set {key}: cannot parse value {value!r}: {e}") from None
    return out


def package_versions() -> dict[str, str]:
    names = ("pilotsim", "mesa", "numpy", "pandas", "scipy", "pydantic", "pyarrow")
    out = {"python": _platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        r = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        commit = r.stdout.strip() if r.returncode == 0 else "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        return commit + ("-dirty" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")


def _write_atomically(out: Path, files: dict[str, Any]) -> None:
    """Write every file into a temporary folder, then move them in: all or nothing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.tmp") as tmp:
        t = Path(tmp)
        for name, writer in files.items():
            writer(t / name)
        out.mkdir(exist_ok=True)
        for name in files:
            os.replace(t / name, out / name)


def summary_table(annual: Any, years: Sequence[int] = SUMMARY_YEARS) -> str:
    a = annual.set_index("year")
    years = [y for y in years if y in a.index]
    width = max(len(label) for _, label, _ in SUMMARY_COLUMNS)
    lines = [f"{'':{width}}  " + "  ".join(f"{y:>10}" for y in years)]
    for col, label, fmt in SUMMARY_COLUMNS:
        cells = "  ".join(f"{fmt.format(a.loc[y, col]):>10}" for y in years)
        lines.append(f"{label:{width}}  {cells}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    import sim

    overrides = _parse_set(args.set)
    if args.scale is not None:
        overrides["run.scale"] = args.scale
    if args.until is not None:
        overrides["run.end_year"] = args.until
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    spec = load_scenario(args.scenario, overrides)
    out = Path(args.out) if args.out else Path("results") / "runs" / f"{spec.name}-seed{args.seed}"
    _check_out_dir(out)
    result = sim.run(spec, seed=args.seed)
    meta = {
        "scenario": spec.name,
        "scenario_file": str(args.scenario),
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
    spec = load_scenario(args.scenario, _parse_set(args.set))
    print(f"{args.scenario}: valid scenario '{spec.name}' (hash {scenario_hash(spec)})")
    if args.show:
        print(to_yaml(spec), end="")
    return 0


def cmd_columns(args: argparse.Namespace) -> int:
    from sim.metrics import describe

    print(describe().to_string(index=False))
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

    from sim.experiments.commands import add_commands  # compare, sweep

    add_commands(sub)

    from sim.viz.cli import add_dashboard_command  # dashboard (serves with the viz extra)

    add_dashboard_command(sub)

    from sim.calibration.command import add_calibrate_command  # calibrate

    add_calibrate_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except (UsageError, ScenarioError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
