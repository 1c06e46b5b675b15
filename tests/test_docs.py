"""docs/ODD.md stays in step with the code: generated tables, sources, units, step order."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import sim.params as params
from sim.metrics import METRICS, describe
from sim.model import PilotModel

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "ODD.md"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_tables", ROOT / "docs" / "make_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()
TEXT = ODD.read_text(encoding="utf-8")

# A source cites data or literature if it names one of these, or gives a year.
CITATION = re.compile(
    r"\.csv|\brows?\b|ODD\.md|\bpaper\b|\bderived\b|\bsurvey\b|\bpriors\b|\b(19|20)\d\d\b",
    re.IGNORECASE,
)
# Parameters whose source is the bare word "assumption", without saying why.
# Known gaps (reported for sim/params.py); a new parameter must not join them.
BARE_ASSUMPTION_KNOWN = frozenset(
    {
        "platform.patience_quarters",
        "mother_factory.start_year",
        "mother_factory.demand_test_quarters",
        "traditional_upgrade.start_year",
        "traditional_upgrade.grant_per_adoption_hkd_m",
        "prd_upgrade.start_year",
        "prd_upgrade.hq_return_rate",
        "prd_upgrade.grant_per_adoption_hkd_m",
        "itf_rebalance.start_year",
    }
)


def _source_ok(source: str) -> bool:
    s = source.strip()
    return bool(s) and ("assumption" in s.lower() or CITATION.search(s) is not None)


def _groups() -> dict[type, str]:
    """Each parameter group class -> its key in a scenario."""
    out: dict[type, str] = {}
    for name, field in params.Scenario.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, params.Spec):
            out[field.annotation] = name
    return out


# --- (a) generated tables are current ---------------------------------------------------------
@pytest.mark.parametrize("name", GEN.BLOCKS)
def test_generated_table_is_current(name: str) -> None:
    expected = GEN.tables()[name]
    assert GEN.block(TEXT, name) == expected, (
        f"docs/ODD.md: the '{name}' table is out of date with the code; "
        f"run `{GEN.COMMAND}` and commit docs/ODD.md"
    )


def test_render_leaves_the_doc_unchanged() -> None:
    assert GEN.render(TEXT) == TEXT, f"docs/ODD.md is stale; run `{GEN.COMMAND}`"


def test_render_detects_a_stale_table_and_bad_markers() -> None:
    stale = TEXT.replace("| `run.end_year` |", "| `run.end_year_old` |", 1)
    assert stale != TEXT
    assert GEN.render(stale) == TEXT
    with pytest.raises(ValueError, match="params:start"):
        GEN.render(TEXT.replace("<!-- params:end -->", "", 1))
    with pytest.raises(ValueError, match="columns:start"):
        GEN.render(TEXT + "\n<!-- columns:start -->\n<!-- columns:end -->\n")


# --- (b) every parameter has a unit and a source ----------------------------------------------
def test_every_parameter_has_unit_and_source() -> None:
    bad = [
        (r["key"], r["unit"], r["source"])
        for r in params.parameter_table()
        if not str(r["unit"]).strip() or not _source_ok(str(r["source"]))
    ]
    assert not bad, f"parameters without a unit or a source/assumption: {bad}"


@pytest.mark.parametrize(
    ("source", "ok"),
    [
        ("", False),
        ("tbd", False),
        ("TODO", False),
        ("a guess", False),
        ("assumption: why", True),
        ("hk_targets_2015_2019.csv row startups 2015", True),
        ("CMA paper", True),
        ("Comin et al. (2019)", True),
    ],
)
def test_source_rule(source: str, ok: bool) -> None:
    assert _source_ok(source) is ok


def test_no_new_bare_assumptions() -> None:
    bare = {r["key"] for r in params.parameter_table() if r["source"].strip() == "assumption"}
    new = sorted(bare - BARE_ASSUMPTION_KNOWN)
    assert not new, f"give these sources as 'assumption: <why>' in sim/params.py: {new}"


# --- (c) every Spec field is in the table -----------------------------------------------------
def test_every_spec_field_is_in_the_odd_table() -> None:
    groups = _groups()
    table = GEN.block(TEXT, "params")
    specs = [
        obj
        for obj in vars(params).values()
        if isinstance(obj, type)
        and issubclass(obj, params.Spec)
        and obj not in (params.Spec, params.LeverSpec, params.Scenario)  # bases
    ]
    unreachable = [cls.__name__ for cls in specs if cls not in groups]
    assert not unreachable, f"parameter groups no scenario can set: {unreachable}"
    missing = [
        f"{groups[cls]}.{field}"
        for cls in specs
        for field in cls.model_fields
        if f"| `{groups[cls]}.{field}` |" not in table
    ]
    assert not missing, f"missing from docs/ODD.md: {missing}; run `{GEN.COMMAND}`"
    # The scenario's own scalar fields are text, documented in prose, not parameters.
    scalars = {n for n in params.Scenario.model_fields if n not in groups.values()}
    assert scalars == {"name", "description"}, f"new top-level scenario fields: {scalars}"


# --- (d) every output column has a unit and a description -------------------------------------
def test_every_metric_has_unit_kind_and_description() -> None:
    bad = [
        m.name
        for m in METRICS
        if not m.unit.strip()
        or len(m.description.strip()) < 8
        or m.kind not in ("flow", "stock", "mean", "ratio")
        or (m.kind == "ratio") != (m.ratio_of is not None)
    ]
    assert not bad, f"metrics without unit, description or a valid kind: {bad}"
    table = GEN.block(TEXT, "columns")
    missing = [c for c in describe()["column"] if f"| `{c}` |" not in table]
    assert not missing, f"output columns missing from docs/ODD.md: {missing}"


# --- the ODD structure and the step order -----------------------------------------------------
ODD_SECTIONS = (
    "Purpose and patterns",
    "Entities, state variables and scales",
    "Process overview and scheduling",
    "Design concepts",
    "Initialization",
    "Input data",
    "Submodels",
)
DESIGN_CONCEPTS = (
    "Basic principles",
    "Emergence",
    "Adaptation",
    "Objectives",
    "Learning",
    "Prediction",
    "Sensing",
    "Interaction",
    "Stochasticity",
    "Collectives",
    "Observation",
)


def test_odd_has_every_section_in_order() -> None:
    headings = re.findall(r"^#{2,3} (?:[\d.]+ )?(.+)$", TEXT, flags=re.MULTILINE)
    positions = [headings.index(h) if h in headings else -1 for h in ODD_SECTIONS]
    assert -1 not in positions, f"missing ODD sections: {ODD_SECTIONS}, found {headings}"
    assert positions == sorted(positions)
    concepts = [headings.index(h) if h in headings else -1 for h in DESIGN_CONCEPTS]
    assert -1 not in concepts, f"missing design concepts, found {headings}"
    assert concepts == sorted(concepts)


def _step_calls() -> list[str]:
    """Names called in PilotModel.step, in source order, without ``self.``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(PilotModel.step)))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    return [ast.unparse(n.func).removeprefix("self.") for n in calls]


def test_scheduling_section_lists_the_calls_of_a_quarter_in_order() -> None:
    section = TEXT.split("## 3. Process overview and scheduling", 1)[1].split("## 4.", 1)[0]
    calls = _step_calls()
    assert "pipeline.step" in calls and "recorder.record" in calls
    at = 0
    for name in calls:
        found = section.find(f"{name}(", at)
        assert found >= 0, (
            f"docs/ODD.md section 3 does not list `{name}(...)` after the calls before it; "
            f"PilotModel.step calls, in order: {calls}"
        )
        at = found + 1
