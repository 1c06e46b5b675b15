"""The index of the policy analyses: one ``report.md`` over the analyses' own sections.

Each analysis writes its section (``<folder>/report.md``) and ``analysis.json`` (sizes,
runs, wall time, commits). The index lists what ran, at what cost, then the sections in the
order of ``command.ANALYSES``, with figure links rewritten to the analysis' folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sim.analysis.sizes import ANALYSES
from sim.provenance import atomic_write_text

FIGURE = re.compile(r"(!\[[^\]]*\]\()([^)/]+\.png\))")


def _info(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "analysis.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_index(root: Path) -> Path:
    """Write ``root/report.md`` from the analyses found in ``root/<analysis>/``."""
    root = Path(root)
    found = [(n, root / n, _info(root / n)) for n in ANALYSES if (root / n / "report.md").is_file()]
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
        "| analysis | runs | run time, min | scale | period | code commit |",
        "|---|--:|--:|--:|---|---|",
    ]
    for name, _, info in found:
        if info is None:
            lines.append(f"| [{name}](#{name}) | | | | | |")
            continue
        s = info.get("settings", {})
        runs = int(info.get("runs_done", 0)) + int(info.get("runs_skipped", 0))
        period = s.get("period") or ["", ""]
        lines.append(
            f"| {name} | {runs:,} | {float(info.get('run_seconds', 0)) / 60:.1f} | "
            f"{s.get('scale', '')} | {period[0]}-{period[1]} | "
            f"`{str(info.get('code_commit', 'unknown'))[:12]}` |"
        )
    lines += [
        "",
        "Runs count every run the analysis used (stored earlier or run now); run time is the "
        "wall time of the runs made by the last invocation on its executor.",
        "",
    ]
    for name, folder, _ in found:
        text = (folder / "report.md").read_text(encoding="utf-8")
        text = FIGURE.sub(rf"\g<1>{name}/\g<2>", text)
        lines += [f'<a id="{name}"></a>', "", text.rstrip(), ""]
    return atomic_write_text(root / "report.md", "\n".join(lines) + "\n")
