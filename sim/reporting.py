"""The house style of every report: figures, number formats and tables.

- Figures: :func:`pyplot` (matplotlib with the Agg backend and the house rcParams),
  :func:`tick_formatter` (tick labels with thousands separators and just enough decimals),
  :func:`save_figure` (a PNG at :data:`DPI`, written atomically, the figure closed).
- Numbers: :func:`fmt_value` (a value in its unit's precision, optionally signed) and
  :func:`fmt_interval` (``[low, high]`` signed).
- Tables: :func:`markdown_table` and :func:`markdown_frame` (Markdown, for ``report.md``),
  :func:`text_table` (aligned plain text, for the terminal).

Nothing heavy is imported at module level: matplotlib is imported inside the figure
functions, so a command that draws nothing never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# ------------------------------------------------------------------ figures
#: Resolution of every PNG (dots per inch), on screen and saved.
DPI = 150
#: The house rcParams: type sizes in points, no top/right spines, a light grid.
STYLE: dict[str, Any] = {
    "font.size": 10.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "legend.fontsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": DPI,
}
#: Most decimals a tick label gets (when no fewer show every tick exactly).
MAX_TICK_DECIMALS = 3
#: Tick values closer to zero than this are shown as 0 (no ``-0``, no ``+0``).
TICK_ZERO = 1e-12


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend and the house style (:data:`STYLE`)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rc: Any = plt.rcParams  # typed with literal keys only; STYLE's are checked at run time
    rc.update(STYLE)
    return plt


@cache
def _tick_formatter_class() -> type:
    """The formatter class, built on first use so that matplotlib loads only when drawing."""
    import numpy as np
    from matplotlib.ticker import Formatter

    class Ticks(Formatter):
        """Tick labels with thousands separators and just enough decimals for the step."""

        def __init__(self, factor: float = 1.0, suffix: str = "", signed: bool = False):
            self.factor, self.suffix, self.signed = factor, suffix, signed
            self.decimals = 0

        def set_locs(self, locs: list[float]) -> None:
            super().set_locs(locs)
            vals = np.asarray(locs, float) * self.factor
            self.decimals = next(
                (
                    d
                    for d in range(MAX_TICK_DECIMALS + 1)
                    if np.allclose(vals * 10**d, np.round(vals * 10**d))
                ),
                MAX_TICK_DECIMALS,
            )

        def __call__(self, x: float, pos: int | None = None) -> str:
            v = x * self.factor
            if abs(v) < TICK_ZERO:
                v = 0.0
            sign = "+" if self.signed and v > 0 else ""
            return f"{sign}{v:,.{self.decimals}f}{self.suffix}"

    return Ticks


def tick_formatter(factor: float = 1.0, suffix: str = "", signed: bool = False) -> Any:
    """A matplotlib tick formatter: thousands separators, just enough decimals for the step.

    Args:
        factor: multiplies each value before it is shown (``100.0`` for a share in %).
        suffix: appended to each label (``"%"``).
        signed: prefix positive values with ``+`` (differences).
    """
    return _tick_formatter_class()(factor, suffix, signed)


def save_figure(fig: Any, path: Path) -> None:
    """Save a PNG at :data:`DPI` under a temporary name, then move it into place; close the
    figure whatever happens."""
    import matplotlib.pyplot as plt

    from sim.provenance import atomic_write

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
    finally:
        plt.close(fig)


# ------------------------------------------------------------------ numbers
#: Decimals of a share (unit ``share...``).
SHARE_DECIMALS = 3
#: Decimals of a ratio (unit ``HKD per HKD``), of values below 1 in size (so -0.03 is not
#: shown as -0) and of other values below :data:`WHOLE_FROM`.
SMALL_DECIMALS = 2
#: Values at least this large in size are shown without decimals.
WHOLE_FROM = 100
#: Units (prefixes) shown without decimals at any size from 1 up.
WHOLE_UNITS = ("count", "persons", "projects", "HKD m")


def fmt_value(value: float, unit: str, signed: bool = False) -> str:
    """A value in the precision of its unit, with thousands separators when whole.

    ``n/a`` for a missing value; an exact zero (e.g. identical paired runs) has no sign and
    no decimals (``0.000`` for a share).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    sign = "+" if signed else ""
    if value == 0:
        return f"{0:.{SHARE_DECIMALS}f}" if unit.startswith("share") else "0"
    if unit.startswith("share"):
        text = f"{value:{sign}.{SHARE_DECIMALS}f}"
    elif unit.startswith("HKD per HKD") or abs(value) < 1:
        text = f"{value:{sign}.{SMALL_DECIMALS}f}"
    elif abs(value) >= WHOLE_FROM or unit.startswith(WHOLE_UNITS):
        text = f"{value:{sign},.0f}"
    else:
        text = f"{value:{sign}.{SMALL_DECIMALS}f}"
    return text


def fmt_interval(low: float, high: float, unit: str, missing: str = "") -> str:
    """``[low, high]``, both signed in :func:`fmt_value`'s precision, or ``missing`` when
    either end is undefined (not finite)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return missing
    return f"[{fmt_value(low, unit, True)}, {fmt_value(high, unit, True)}]"


# ------------------------------------------------------------------ tables
#: Floats in the CSV tables of every report: six significant digits, far finer than the
#: seed noise of any figure reported (assumption: house format).
CSV_FLOAT_FORMAT = "%.6g"


def as_written(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its floats at the precision of its CSV (:data:`CSV_FLOAT_FORMAT`): a
    result that holds its tables so reports the same whether computed or read back."""
    out = frame.copy()
    for c in out.select_dtypes("float").columns:
        out[c] = [float(CSV_FLOAT_FORMAT % v) for v in out[c]]
    return out


#: Markdown separator cell of a left-aligned, a right-aligned and a centred column.
MD_LEFT, MD_RIGHT, MD_CENTER = "---", "--:", ":-:"
#: The separator cell of each letter of ``markdown_table``'s ``align``.
MD_ALIGN = {"l": MD_LEFT, "r": MD_RIGHT, "c": MD_CENTER}
#: Space between the columns of a plain-text table.
COLUMN_GAP = "  "


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None
) -> list[str]:
    """A Markdown table as lines: header, separator, one line per row.

    Args:
        header: column headings.
        rows: cells, already formatted.
        align: ``l`` (left), ``r`` (right) or ``c`` (centred) per column; every column
            left when ``None``.
    """
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - set(MD_ALIGN):
        raise ValueError(f"align {align!r}: one of l, r, c for each of {len(header)} columns")
    seps = [MD_ALIGN[a] for a in align]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "".join(f"{s}|" for s in seps),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def markdown_frame(df: pd.DataFrame, cell: Callable[[Any], str] = str) -> list[str]:
    """A data frame as a left-aligned Markdown table (:func:`markdown_table`): its column
    names as the header, each value shown by ``cell``."""
    return markdown_table(
        [str(c) for c in df.columns],
        [[cell(v) for v in row] for row in df.itertuples(index=False)],
    )


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]) -> str:
    """Columns aligned as plain text under a dashed rule; columns ``right`` right-aligned.

    A row of one cell is a heading spanning the line (it does not set column widths).
    """
    full = [r for r in [head, *rows] if len(r) == len(head)]
    widths = [max(len(str(x[i])) for x in full) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        if len(cells) == 1:
            return cells[0]
        out = []
        for i, c in enumerate(cells):
            out.append(f"{c:>{widths[i]}}" if i in right else f"{c:<{widths[i]}}")
        return COLUMN_GAP.join(out).rstrip()

    sep = COLUMN_GAP.join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(r) for r in rows)])
