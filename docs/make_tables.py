"""Regenerate the generated tables of docs/ODD.md from the code.

The parameter table comes from ``sim.params.parameter_table_markdown()`` and the output
columns table from ``sim.metrics.describe()``. Each is written between its pair of markers
(``<!-- params:start -->`` / ``<!-- params:end -->`` and ``<!-- columns:start -->`` /
``<!-- columns:end -->``); the prose around them is left alone.

Usage::

    .venv/bin/python docs/make_tables.py           # rewrite docs/ODD.md in place
    .venv/bin/python docs/make_tables.py --check   # exit 1 if docs/ODD.md is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "ODD.md"
COMMAND = ".venv/bin/python docs/make_tables.py"
BLOCKS: tuple[str, ...] = ("params", "columns")

if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, newlines flattened."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def params_table() -> str:
    """Every parameter: dotted key, default, unit, source (from ``sim.params``)."""
    from sim.params import parameter_table_markdown

    return parameter_table_markdown()


def columns_table() -> str:
    """Every output column: name, unit, how a year is formed, definition (``sim.metrics``)."""
    from sim.metrics import describe

    lines = ["| column | unit | kind | definition |", "|---|---|---|---|"]
    for row in describe().itertuples(index=False):
        kind = row.kind or "key"
        lines.append(
            f"| `{row.column}` | {_cell(row.unit)} | {_cell(kind)} | {_cell(row.definition)} |"
        )
    return "\n".join(lines) + "\n"


def tables() -> dict[str, str]:
    """The generated text of each block, keyed by marker name."""
    return {"params": params_table(), "columns": columns_table()}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)",
        flags=re.DOTALL,
    )


def render(text: str, generated: dict[str, str] | None = None) -> str:
    """``text`` with every block replaced by its generated content.

    Raises:
        ValueError: a block's markers are missing, duplicated or out of order.
    """
    generated = tables() if generated is None else generated
    for name, body in generated.items():
        starts = text.count(f"<!-- {name}:start -->")
        ends = text.count(f"<!-- {name}:end -->")
        found = _pattern(name).findall(text)
        if starts != 1 or ends != 1 or len(found) != 1:
            raise ValueError(
                f"docs/ODD.md needs exactly one '<!-- {name}:start -->' followed by one "
                f"'<!-- {name}:end -->' (found {starts} start, {ends} end markers)"
            )
        text = _pattern(name).sub(lambda m, b=body: m.group(1) + b + m.group(3), text)
    return text


def block(text: str, name: str) -> str:
    """The current content between a block's markers."""
    found = _pattern(name).findall(text)
    if len(found) != 1:
        raise ValueError(f"no single '{name}' block in docs/ODD.md")
    return found[0][1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if ODD.md is stale")
    parser.add_argument("--path", type=Path, default=ODD, help="the ODD file (default: ours)")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.path} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{args.path} is up to date")
        return 0
    if new != text:
        args.path.write_text(new, encoding="utf-8")
        print(f"rewrote the generated tables of {args.path}")
    else:
        print(f"{args.path} already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
