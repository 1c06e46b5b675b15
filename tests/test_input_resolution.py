"""Input resolution (issue 25, points 10, 12 and 14 in part).

- 10: ``extends:`` resolves only inside the scenario folder tree and never quotes a foreign
  file; errors name the file (or the ``--set``/option) that holds the key; the dashboard
  accepts only listed scenarios.
- 12: the Python API honours ``None`` overrides, refuses booleans as numbers and says what
  ``scenario`` may be.
- 14: a long plain list is not an alias bomb; ``--set extends=`` and the allowed keys agree;
  YAML 1.2 scalars (no sexagesimal numbers, ``yes``/``no`` are text).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.run import ArgumentTypeError, resolve
from sim.scenario import ScenarioError, load_scenario, with_overrides
from sim.yamlio import YamlInputError, loads

from .conftest import SCENARIOS

SECRET = "SECRETHASHxyz"
#: Lines of a password file: read as YAML they are mapping keys, which errors used to quote.
SHADOW = f"root:$6$abcdefgh${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``pilotsim ARGS`` in an empty working folder: (exit code, stderr)."""

    def go(*argv: str) -> tuple[int, str]:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        monkeypatch.chdir(work)
        rc = main(list(argv))
        return rc, capsys.readouterr().err

    return go


# --- 10. extends: stays inside the scenario folder tree ------------------------------------------
@pytest.mark.parametrize("name", ["shadow", "shadow.yaml"])
def test_extends_outside_the_tree_is_refused_unread(tmp_path: Path, cli, name: str) -> None:
    foreign = write(tmp_path / "etc", name, SHADOW)
    for target in (str(foreign), f"../etc/{name}"):
        child = write(tmp_path / "mine", "child.yaml", f"extends: {target}\n")
        with pytest.raises(ScenarioError) as e:
            load_scenario(child)
        msg = str(e.value)
        assert SECRET not in msg and "root:" not in msg and e.value.key == "extends"
        assert "child.yaml" in msg
        assert ("not a scenario file" in msg) if name == "shadow" else ("outside" in msg)
        rc, err = cli("validate", str(child))
        assert rc == 2 and SECRET not in err


def test_extends_through_a_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    foreign = write(tmp_path / "etc", "creds.yaml", "platform:\n  enabled: true\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "link.yaml").symlink_to(foreign)
    child = write(mine, "child.yaml", "extends: link.yaml\n")
    with pytest.raises(ScenarioError, match=r"child.yaml: key 'extends': 'link.yaml' is outside"):
        load_scenario(child)


def test_extends_inside_the_tree_still_works(tmp_path: Path) -> None:
    write(tmp_path, "sub/parent.yaml", f"extends: {SCENARIOS / 'baseline.yaml'}\n")
    child = write(tmp_path, "child.yaml", "extends: sub/parent.yaml\nplatform:\n  enabled: true\n")
    assert load_scenario(child).platform.enabled
    assert load_scenario("baseline") == load_scenario(SCENARIOS / "baseline.yaml")


def test_a_foreign_file_given_directly_is_not_quoted(tmp_path: Path, cli) -> None:
    plain = write(tmp_path, "shadow", SHADOW)
    with pytest.raises(ScenarioError, match="not a scenario file.*not read") as e:
        load_scenario(plain)
    assert SECRET not in str(e.value)
    named = write(tmp_path, "shadow.yaml", SHADOW)
    with pytest.raises(ScenarioError, match="not a valid scenario.*not shown") as e:
        load_scenario(named)
    assert SECRET not in str(e.value) and "root:" not in str(e.value)
    twice = write(tmp_path, "twice.yaml", SHADOW + SHADOW)  # duplicate keys are not quoted
    with pytest.raises(ScenarioError, match=r"duplicate key \(not shown\) at line 3") as e:
        load_scenario(twice)
    assert SECRET not in str(e.value)
    for p in (plain, named, twice, Path("/etc/passwd")):
        rc, err = cli("validate", str(p))
        assert rc == 2 and SECRET not in err and "root:" not in err


def test_error_in_a_parent_names_the_parent(tmp_path: Path, cli) -> None:
    base = f"extends: {SCENARIOS / 'baseline.yaml'}\n"
    write(tmp_path, "parent.yaml", base + "platform:\n  cost_recovery_share: 1.5\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nplatform:\n  enabled: true\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    assert e.value.file.endswith("parent.yaml") and e.value.key == "platform.cost_recovery_share"
    # a cross-field rule: the file that set the keys it names
    write(tmp_path, "p2.yaml", base + "research:\n  high_end_share: 0.95\n")
    c2 = write(
        tmp_path, "c2.yaml", "extends: p2.yaml\nresearch:\n  budget_growth_after_2022: 0.1\n"
    )
    with pytest.raises(ScenarioError, match=r"p2.yaml: key 'research': high_end_share"):
        load_scenario(c2)
    rc, err = cli("validate", str(c2))
    assert rc == 2 and "p2.yaml" in err and "c2.yaml" not in err
    # the child changes the parent's key: the child is named
    c3 = write(tmp_path, "c3.yaml", "extends: p2.yaml\nresearch:\n  high_end_share: 0.99\n")
    with pytest.raises(ScenarioError, match=r"c3.yaml: key 'research'"):
        load_scenario(c3)


def test_cross_field_errors_from_set_and_options_name_them(cli) -> None:
    rc, err = cli("validate", "baseline", "--set", "research.high_end_share=0.95")
    assert rc == 2
    assert "--set research.high_end_share=0.95 (on " in err and "key 'research'" in err
    rc, err = cli("run", "hk_pilot_platform", "--until", "2020", "--scale", "0.05")
    assert rc == 2 and "--until 2020 (on " in err and "start_year 2025" in err
    with pytest.raises(ScenarioError, match=r"override research.high_end_share=0.95 \(on "):
        load_scenario("baseline", {"research.high_end_share": 0.95})


def test_dashboard_accepts_only_listed_scenarios(tmp_path: Path) -> None:
    pytest.importorskip("mesa")
    from sim.viz.model import build_scenario, scenario_names

    secret = write(tmp_path, "mine.yaml", f"extends: {SCENARIOS / 'baseline.yaml'}\n")
    for name in (str(secret), "../scenarios/baseline", str(SCENARIOS / "baseline.yaml"), "/etc"):
        with pytest.raises(ScenarioError, match="is not a listed scenario; allowed: baseline"):
            build_scenario(name)
    assert build_scenario(scenario_names()[0]).run.scale == 0.1


# --- 12. the Python API -------------------------------------------------------------------------
def test_none_override_is_honoured_or_refused() -> None:
    sunset = load_scenario("hk_pilot_platform_sunset")
    assert sunset.platform.end_year == 2035
    assert resolve(sunset, **{"platform.end_year": None}).platform.end_year is None
    with pytest.raises(ScenarioError, match=r"key 'run.end_year'.*valid integer.*None"):
        resolve("baseline", **{"run.end_year": None})
    result = sim.run(sunset, scale=0.05, until=2025, **{"platform.end_year": None})
    assert result.scenario.platform.end_year is None


@pytest.mark.parametrize(
    "kwargs", [{"scale": True}, {"until": True}, {"seed": False}, {"until": 2030.5}]
)
def test_booleans_are_not_numbers(kwargs: dict) -> None:
    with pytest.raises(ArgumentTypeError, match=f"{next(iter(kwargs))} must be a"):
        sim.run("baseline", **kwargs)
    with pytest.raises(ScenarioError, match=r"key 'run.scale': must be a number, got the boolean"):
        with_overrides(load_scenario("baseline"), {"run.scale": True})


@pytest.mark.parametrize("scenario", [{"platform.enabled": True}, 5, 2.5, b"baseline"])
def test_scenario_of_the_wrong_type_says_what_is_accepted(scenario: object) -> None:
    with pytest.raises(TypeError, match=r"scenario name .* a path to a .yaml file or a sim.Scen"):
        sim.run(scenario)  # type: ignore[arg-type]
    assert isinstance(os.fspath(SCENARIOS / "baseline.yaml"), str)  # paths are fine
    assert resolve(SCENARIOS / "baseline.yaml") == load_scenario("baseline")


# --- 14. the YAML reader ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_long_plain_list_is_not_an_alias_bomb(tmp_path: Path) -> None:
    assert len(loads("[" + ", ".join(["1"] * 150_000) + "]")) == 150_000
    assert len(loads("- &a [x, y]\n" + "- *a\n" * 10 + "".join(["- 1\n"] * 150_000))) == 150_011
    with pytest.raises(YamlInputError, match="alias bomb"):
        loads("a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 200) + "]")
    p = write(tmp_path, "long.yaml", "research:\n  government_rd_hkd_m: [" + "1, " * 150_000 + "1]")
    with pytest.raises(ScenarioError, match=r"key 'research.government_rd_hkd_m': .*at most 8"):
        load_scenario(p)


def test_set_extends_and_the_allowed_keys_agree(cli) -> None:
    rc, err = cli("validate", "baseline", "--set", "extends=hk_pilot_platform.yaml")
    assert rc == 2 and "--set extends=hk_pilot_platform.yaml" in err
    assert "cannot be overridden" in err and "top level: name, description" in err
    rc, err = cli("validate", "baseline", "--set", "platfrom.enabled=true")
    assert rc == 2 and "key 'platfrom': unknown key" in err and "extends" not in err
    with pytest.raises(ScenarioError, match="cannot be overridden"):
        with_overrides(load_scenario("baseline"), {"extends": "x.yaml"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12:30:00", "12:30:00"),
        ("1:2", "1:2"),
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("off", "off"),
        ("true", True),
        ("False", False),
        ("010", 10),
        ("0o17", 15),
        ("0x1f", 31),
        ("10_000", 10000),
        ("1e6", 1e6),
        ("-2.5", -2.5),
        ("0b11", "0b11"),
    ],
)
def test_yaml_scalars_follow_the_core_schema(text: str, value: object) -> None:
    got = loads(f"k: {text}")["k"]
    assert got == value and type(got) is type(value)


def test_sexagesimal_and_yes_no_in_a_scenario(tmp_path: Path, cli) -> None:
    base = f"extends: {SCENARIOS / 'baseline.yaml'}\n"
    p = write(tmp_path, "t.yaml", base + "platform:\n  public_budget_hkd_m: 12:30:00\n")
    with pytest.raises(ScenarioError, match=r"public_budget_hkd_m': .*valid number.*'12:30:00'"):
        load_scenario(p)
    p = write(tmp_path, "d.yaml", base + "description: 12:30:00\n")
    assert load_scenario(p).description == "12:30:00"
    p = write(tmp_path, "y.yaml", base + "platform:\n  enabled: yes\n")
    with pytest.raises(ScenarioError, match=r"platform.enabled': must be a boolean, true or false"):
        load_scenario(p)
    rc, err = cli("validate", "baseline", "--set", "platform.matching=off")
    assert rc == 2 and "--set platform.matching=off" in err and "true or false" in err
    rc, err = cli("validate", "baseline", "--set", "run.end_year=12:30:00")
    assert rc == 2 and "'12:30:00'" in err
