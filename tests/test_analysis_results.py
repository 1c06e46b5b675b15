"""Analysis results read back from their folders (``sim.analysis.load``, ``Result.read``).

The committed analyses in ``results/policy_analysis`` are read back without a run: each
result's ``report()`` is its committed ``report.md`` byte for byte, its derived tables are
the committed CSVs, its findings those ``analysis.json`` recorded, its figures draw, and the
index written from the results read is the committed index, all byte for byte. A folder
that is missing, incomplete or another analysis' is refused with a ``BatchError`` that names
the folder and the file.

:func:`assert_reads_back` is the round trip of a fresh quick run, used by each analysis'
own test module on its quick run.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.analysis import load
from sim.analysis.report import write_index
from sim.analysis.result import AnalysisResult
from sim.analysis.sizes import ANALYSES
from sim.errors import BatchError

from .conftest import ROOT

COMMITTED = ROOT / "results" / "policy_analysis"


def test_every_analysis_has_a_result_class_that_reads_it() -> None:
    import importlib

    from sim.analysis.result import RESULT_CLASSES

    assert list(RESULT_CLASSES) == list(ANALYSES)
    for name, cls_name in RESULT_CLASSES.items():
        cls = getattr(importlib.import_module(f"sim.analysis.{name}"), cls_name)
        assert issubclass(cls, AnalysisResult) and cls.NAME == name
        assert "report.md" in cls.NAMES and cls.SIZE.__module__ == "sim.analysis.sizes"


@pytest.mark.parametrize("name", ANALYSES)
def test_committed_analysis_reads_back_to_its_report(name: str) -> None:
    from sim.reporting import pyplot

    result = load(name, COMMITTED / name)
    assert isinstance(result, AnalysisResult) and result.NAME == name
    expected = (COMMITTED / name / "report.md").read_text(encoding="utf-8")
    assert result.report() == expected
    info = json.loads((COMMITTED / name / "analysis.json").read_text(encoding="utf-8"))
    assert result.count.used == info["runs_done"] + info["runs_skipped"]
    assert result.settings.period == tuple(info["settings"]["period"])
    figures = [result.figure()]  # drawn from the tables read
    if name == "sensitivity":
        figures += [result.sobol_figure(), result.convergence_figure()]  # type: ignore[attr-defined]
    if name == "instruments":
        figures.append(result.regret_figure())  # type: ignore[attr-defined]
    for fig in figures:
        assert fig.axes
        pyplot().close(fig)


def _findings(r: Any) -> dict[str, Any]:
    return json.loads(json.dumps(r.findings, default=str))


def test_committed_tables_and_findings_are_those_written() -> None:
    """What a read result derives from its tables is what the run wrote and recorded."""
    info = {n: json.loads((COMMITTED / n / "analysis.json").read_text()) for n in ANALYSES}
    ins = load("instruments", COMMITTED / "instruments")
    for name, frame in (
        ("regret.csv", ins.regret),
        ("regret_by_future.csv", ins.regret_by_choice_and_future),
    ):
        pd.testing.assert_frame_equal(frame, pd.read_csv(COMMITTED / "instruments" / name))
    des = load("design", COMMITTED / "design")
    pd.testing.assert_frame_equal(des.pareto, pd.read_csv(COMMITTED / "design" / "pareto.csv"))
    disc = load("discover", COMMITTED / "discover")
    boxes = pd.read_csv(COMMITTED / "discover" / "boxes.csv")
    pd.testing.assert_frame_equal(disc.box_limits, boxes)
    for name, r in (("instruments", ins), ("design", des), ("discover", disc)):
        found = _findings(r)
        assert found == {k: info[name][k] for k in found}, name
    sens = load("sensitivity", COMMITTED / "sensitivity")
    assert sens.findings == {k: info["sensitivity"][k] for k in ("top_by_ST", "selected")}
    assert sens.noise_floor == pytest.approx(info["sensitivity"]["noise_floor"], rel=1e-12)
    hz = load("horizons", COMMITTED / "horizons")
    assert _findings(hz) == {k: info["horizons"][k] for k in _findings(hz)}


def test_index_from_the_results_read_is_the_committed_index(tmp_path: Path) -> None:
    root = tmp_path / "policy_analysis"
    shutil.copytree(COMMITTED, root)
    written = write_index(root).read_text(encoding="utf-8")
    assert written == (COMMITTED / "report.md").read_text(encoding="utf-8")


def _copy(name: str, tmp_path: Path) -> Path:
    out = tmp_path / name
    shutil.copytree(COMMITTED / name, out)
    return out


def test_load_refuses_unknown_missing_and_incomplete_folders(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="unknown analysis 'nope'"):
        load("nope", tmp_path)
    with pytest.raises(BatchError, match="no such folder"):
        load("horizons", tmp_path / "absent")
    out = _copy("horizons", tmp_path)
    (out / "horizons.csv").unlink()
    with pytest.raises(BatchError, match=r"horizons: horizons\.csv missing") as e:
        load("horizons", out)
    assert str(out) in str(e.value)
    with pytest.raises(BatchError, match=r"analysis\.json, designs\.csv.* missing"):
        load("design", tmp_path)  # a folder of no analysis


def test_load_refuses_another_analysis_and_malformed_files(tmp_path: Path) -> None:
    out = _copy("horizons", tmp_path)
    info_path = out / "analysis.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "analysis": "design"}))
    with pytest.raises(BatchError, match="records analysis 'design', not 'horizons'"):
        load("horizons", out)
    # an analysis killed after open_lab: its mark only, no counts
    info_path.write_text(json.dumps({"analysis": "horizons", "settings": info["settings"]}))
    with pytest.raises(BatchError, match=r"analysis\.json: no 'size'"):
        load("horizons", out)
    info_path.write_text("{not json")
    with pytest.raises(BatchError, match="cannot read JSON"):
        load("horizons", out)
    info_path.write_text(json.dumps(info))
    (out / "horizons.csv").write_text("policy,horizon\nkept,2030\n")
    with pytest.raises(BatchError, match=r"horizons\.csv: columns .*'mean'.* missing"):
        load("horizons", out)
    disc = _copy("discover", tmp_path)
    boxes = pd.read_csv(disc / "boxes.csv")
    boxes.iloc[1:].to_csv(disc / "boxes.csv", index=False)  # a restriction lost
    with pytest.raises(BatchError, match="discover.json records") as e:
        load("discover", disc)
    assert str(disc) in str(e.value)
    with pytest.raises(BatchError, match="discover"):
        write_index(tmp_path)  # the index names the folder it cannot read


def assert_reads_back(result: AnalysisResult, out: Path, tmp: Path) -> AnalysisResult:
    """``result``'s class reads back ``out``, where ``result``'s run wrote it (or a rerun
    of the same size, whose tables are the same): the report written, the same tables and
    findings, a figure, and it writes every file of ``NAMES`` byte for byte again."""
    from sim.reporting import pyplot

    cls = type(result)
    back = cls.read(out)
    assert isinstance(back, cls)
    assert back.report() == (out / "report.md").read_text(encoding="utf-8")
    assert (back.size, back.settings, back.code_commit) == (
        result.size,
        result.settings,
        result.code_commit,
    )
    assert _findings(back) == _findings(result)
    for f in dataclasses.fields(cls):
        mine, theirs = getattr(back, f.name), getattr(result, f.name)
        if isinstance(mine, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs, obj=f.name)
        elif isinstance(mine, pd.Series):
            pd.testing.assert_series_equal(mine, theirs, obj=f.name)
    fig = back.figure()
    assert fig.axes
    pyplot().close(fig)
    back.write(tmp)
    for name in cls.NAMES:
        assert (tmp / name).read_bytes() == (out / name).read_bytes(), name
    return back
