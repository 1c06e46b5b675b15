"""The index of the policy analyses: one ``report.md`` over the analyses' own sections.

Each analysis writes its section (``<folder>/report.md``), its tables and ``analysis.json``
(sizes, runs, wall time, commits). The index reads every analysis found back as its result
object (``result.load``), lists what ran, at what cost, then the sections (each result's
``report()``) in the order of ``sizes.ANALYSES``, with figure links rewritten to the
analysis' folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from sim.analysis.result import load
from sim.analysis.sizes import ANALYSES
from sim.provenance import atomic_write_text
from sim.reporting import markdown_table

FIGURE = re.compile(r"(!\[[^\]]*\]\()([^)/]+\.png\))")
#: Characters of the code commit shown.
COMMIT_CHARS = 12


def write_index(root: Path) -> Path:
    """Write ``root/report.md`` from the analyses found in ``root/<analysis>/`` (a folder
    holding ``report.md``).

    Raises:
        BatchError: an analysis' folder cannot be read back (the message names the file).
    """
    root = Path(root)
    found = [(n, load(n, root / n)) for n in ANALYSES if (root / n / "report.md").is_file()]
    lines = [
        "# Policy analysis of the Hong Kong pilot-scale platform",
        "",
        "Every figure here is a **paired effect**: the platform (or another policy) minus the "
        "baseline in the same future (the same parameter values) with the same seeds, so that "
        "what differs is the policy alone. Futures are drawn from the uncertainty space of "
        "`sim/analysis/space.py`: the calibrated world as one factor (a posterior particle, drawn "
        "by weight, sets every fitted parameter jointly, keeping their correlations), "
        "evidence-ranged parameters over their range (`calibration/priors.yaml`) and structural "
        "assumptions (`calibration/analysis_ranges.yaml`).",
        "",
        "Regenerate with `pilotsim analyse all` (each analysis alone: `pilotsim analyse NAME`; "
        "`--quick` for a small run). Reruns resume from the stored runs.",
        "",
    ]
    header = ["analysis", "runs", "run time, min", "scale", "period", "code commit"]
    rows = [
        [
            name,
            f"{r.count.used:,}",
            f"{r.count.seconds / 60:.1f}",
            f"{r.settings.scale}",
            f"{r.settings.period[0]}-{r.settings.period[1]}",
            f"`{(r.code_commit or 'unknown')[:COMMIT_CHARS]}`",
        ]
        for name, r in found
    ]
    lines += markdown_table(header, rows, "lrrrll")
    lines += [
        "",
        "Runs count every run the analysis used (stored earlier or run now); run time is the "
        "wall time of the runs made by the last invocation on its executor.",
        "",
    ]
    for name, r in found:
        text = FIGURE.sub(rf"\g<1>{name}/\g<2>", r.report())
        lines += [f'<a id="{name}"></a>', "", text.rstrip(), ""]
    return atomic_write_text(root / "report.md", "\n".join(lines) + "\n")
