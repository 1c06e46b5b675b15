"""Scenario files: inheritance, overrides, and every error path with its message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import sim
from sim.params import Scenario
from sim.scenario import ScenarioError, load_scenario, scenario_hash, to_yaml, with_overrides

from .conftest import SCENARIOS

REQUIRED = (
    "baseline",
    "hk_pilot_platform",
    "mother_factory",
    "traditional_upgrade",
    "itf_rebalance",
    "prd_upgrade",
    "more_rd_funding",
    "innohk_centres",
    "rfs_matching_grant",
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("name", REQUIRED)
def test_required_scenarios_load(name: str) -> None:
    spec = load_scenario(SCENARIOS / f"{name}.yaml")
    assert spec.name == name and spec.description


def test_baseline_is_defaults_plus_calibration() -> None:
    spec = load_scenario(SCENARIOS / "baseline.yaml")
    cal = yaml.safe_load((SCENARIOS.parent / "calibration" / "calibrated.yaml").read_text())
    flat = {f"{g}.{k}": v for g, d in cal.items() if isinstance(d, dict) for k, v in d.items()}
    assert flat
    assert scenario_hash(spec) == scenario_hash(with_overrides(Scenario(), flat))


def test_extends_inherits_and_overrides(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "platform:\n  enabled: true\n  start_year: 2026\n")
    child = write(
        tmp_path, "child.yaml", "extends: base.yaml\nplatform:\n  public_budget_hkd_m: 900\n"
    )
    spec = load_scenario(child)
    assert spec.platform.enabled and spec.platform.start_year == 2026
    assert spec.platform.public_budget_hkd_m == 900 and spec.name == "child"
    antenna = load_scenario(SCENARIOS / "mother_factory.yaml")
    assert antenna.platform.enabled and antenna.mother_factory.enabled


def test_overrides_dotted_and_keyword() -> None:
    a = load_scenario("baseline", {"platform.enabled": True, "platform.start_year": 2030})
    b = load_scenario("baseline", platform__enabled=True, platform={"start_year": 2030})
    assert a.platform.enabled and a.platform.start_year == 2030
    assert scenario_hash(a) == scenario_hash(b)
    c = with_overrides(a, {"run.scale": 0.5})
    assert c.run.scale == 0.5 and a.run.scale == 1.0


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    spec = load_scenario(SCENARIOS / "itf_rebalance.yaml")
    again = load_scenario(write(tmp_path, "resolved.yaml", to_yaml(spec)))
    assert scenario_hash(again) == scenario_hash(spec)


def test_specs_are_frozen() -> None:
    spec = load_scenario("baseline")
    with pytest.raises(Exception, match="frozen"):
        spec.platform.enabled = True  # type: ignore[misc]


# --- error paths ---------------------------------------------------------------------------------
def test_unknown_nested_key_names_file_key_and_allowed(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "platform:\n  budget: 5\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "bad.yaml" in msg and "'platform.budget'" in msg and "unknown key" in msg
    assert "public_budget_hkd_m" in msg and "start_year" in msg
    assert e.value.key == "platform.budget"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "platfrom:\n  enabled: true\n")
    with pytest.raises(
        ScenarioError,
        match=r"bad.yaml: key 'platfrom': unknown key; "
        r"allowed keys in the top level: extends, name",
    ):
        load_scenario(p)


def test_wrong_type(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "platform:\n  enabled: maybe\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: key 'platform.enabled': .*bool.*'maybe'"):
        load_scenario(p)


def test_group_not_a_mapping(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "platform: on\n")
    with pytest.raises(ScenarioError, match=r"key 'platform'.*allowed keys in 'platform': enabled"):
        load_scenario(p)


def test_out_of_range_value(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "platform:\n  cost_recovery_share: 1.5\n")
    with pytest.raises(
        ScenarioError,
        match=r"key 'platform.cost_recovery_share': .*less than 1 "
        r"\(got 1.5\)",
    ):
        load_scenario(p)


def test_cross_field_rule(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "value:\n  share_ip_rnd: 0.5\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: key 'value': .*must sum to 1"):
        load_scenario(p)
    p = write(tmp_path, "bad2.yaml", "platform:\n  sectors: [robots]\n")
    with pytest.raises(ScenarioError, match=r"unknown sectors \['robots'\]; allowed: .*food"):
        load_scenario(p)


def test_missing_file_lists_known_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope.yaml: file not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match=r"file not found; scenarios in .*baseline.yaml"):
        load_scenario("no_such_scenario")


def test_malformed_yaml_gives_position(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "platform:\n  enabled: [true\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: malformed YAML at line \d+, column \d+"):
        load_scenario(p)


def test_not_a_mapping(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "- platform\n- research\n")
    with pytest.raises(ScenarioError, match=r"expected a mapping .* got list; allowed top-level"):
        load_scenario(p)


def test_extends_missing_and_cycle(tmp_path: Path) -> None:
    p = write(tmp_path, "child.yaml", "extends: ghost.yaml\n")
    with pytest.raises(ScenarioError, match=r"child.yaml: key 'extends': file 'ghost.yaml' not"):
        load_scenario(p)
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match=r"extends cycle: a.yaml -> b.yaml -> a.yaml"):
        load_scenario(tmp_path / "a.yaml")


def test_bad_override_names_key() -> None:
    with pytest.raises(ScenarioError, match=r"key 'platform.start_year': .*greater than or equal"):
        load_scenario("hk_pilot_platform", {"platform.start_year": 1990})
    with pytest.raises(ScenarioError, match=r"key 'run.scale'"):
        sim.run("baseline", scale=-1.0)


def test_bad_seed() -> None:
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        sim.run("baseline", seed=-3, scale=0.05, until=2015)
