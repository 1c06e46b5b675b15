"""Hostile and broken input (issue 12): every case is refused with a clear, bounded message
naming the file and key, the command exits 2, and nothing is written.

Covers scenario names that would escape ``results/``, infinite, NaN and absurd numbers,
alias bombs and unbounded messages, the one YAML reader (duplicate keys, size, UTF-8, tags),
empty scenario files, levers starting after the run ends, and a fuzz test of the loader.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import sim
from sim.cli import main
from sim.errors import BatchError, CalibrationError, UsageError
from sim.params import LEVER_GROUPS, MAX_MAGNITUDE, Scenario, parameter_table
from sim.scenario import ScenarioError, load_scenario, validate, with_overrides
from sim.yamlio import MAX_BYTES, YamlInputError, load_file, loads

from .conftest import SCENARIOS

BASELINE = SCENARIOS / "baseline.yaml"
PLATFORM = SCENARIOS / "hk_pilot_platform.yaml"
LEVERS = LEVER_GROUPS
#: Nine levels of nine aliases: 9**9 (387 million) strings once expanded.
ALIAS_BOMB = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def go(*argv: str) -> tuple[int, str]:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        monkeypatch.chdir(work)
        before = tree(tmp_path)
        rc = main(list(argv))
        err = capsys.readouterr().err
        assert tree(tmp_path) == before, "a refused command wrote files"
        return rc, err

    return go


# --- 1. scenario names --------------------------------------------------------------------------
ESCAPE = f'extends: {BASELINE}\nname: "../../../outside/escaped"\n'


@pytest.mark.parametrize(
    "name", ["../../../outside/escaped", "a/b", "..", "a..b", ".hidden", "", "x" * 101, "a b"]
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    p = write(tmp_path, "esc.yaml", f"extends: {BASELINE}\nname: {name!r}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert e.value.key == "name" and "esc.yaml" in msg and "key 'name'" in msg
    assert "letters A-Z a-z, digits, '_', '.', '-'" in msg and len(msg) < 400


def test_escaping_name_run_and_compare_exit_2_and_write_nothing(tmp_path: Path, run_cli) -> None:
    p = write(tmp_path, "esc.yaml", ESCAPE)
    rc, err = run_cli("run", str(p), "--scale", "0.05", "--until", "2016")
    assert rc == 2 and "esc.yaml: key 'name'" in err
    rc, err = run_cli("compare", str(BASELINE), str(p), "--scale", "0.05", "--until", "2026")
    assert rc == 2 and "esc.yaml: key 'name'" in err
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "characters" in err
    assert not (tmp_path.parent / "outside").exists()


def test_names_are_checked_for_scenarios_built_in_python() -> None:
    with pytest.raises(ValidationError, match="is also a folder name"):
        Scenario(name="../escaped")
    sneaky = Scenario().model_copy(update={"name": "../../escaped"})  # skips validation
    with pytest.raises(ScenarioError, match="key 'name'"):
        with_overrides(sneaky, {})
    with pytest.raises(ScenarioError, match="key 'name'"):
        sim.run(sneaky, seed=0, scale=0.05, until=2015)
    ok = Scenario(name="my-policy_2.0")
    assert ok.name == "my-policy_2.0"


def test_a_file_name_that_is_not_a_safe_name_gives_a_safe_name(tmp_path: Path) -> None:
    p = write(tmp_path, "my policy (v2).yaml", f"extends: {BASELINE}\n")
    assert load_scenario(p).name == "my_policy_v2"


# --- 2. infinite, NaN and absurd numbers ---------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("platform:\n  public_budget_hkd_m: 1.0e+308\n", "platform.public_budget_hkd_m", "HKD m"),
        ("platform:\n  public_budget_hkd_m: .inf\n", "platform.public_budget_hkd_m", "finite"),
        ("platform:\n  slot_cost_hkd_m: .inf\n", "platform.slot_cost_hkd_m", "finite"),
        ("pipeline:\n  asc_prd: .nan\n", "pipeline.asc_prd", "finite"),
        ("pipeline:\n  asc_prd: -.inf\n", "pipeline.asc_prd", "finite"),
        ("pipeline:\n  asc_prd: -1.0e+7\n", "pipeline.asc_prd", "at least -1,000,000"),
        ("prd:\n  count: 1000000000\n", "prd.count", "at most 1,000,000"),
        (
            "research:\n  higher_education_rd_hkd_m: [1, 2, 3, 4, .inf]\n",
            "research.higher_education_rd_hkd_m.4",
            "finite",
        ),
        ("innohk:\n  sector_shares: {it: .nan}\n", "innohk.sector_shares.it", "finite"),
    ],
)
def test_infinite_nan_and_absurd_numbers_are_refused(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    p = write(tmp_path, "bad.yaml", f"extends: {PLATFORM}\n{text}")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert e.value.key == key and words in str(e.value) and "bad.yaml" in str(e.value)


def test_every_number_parameter_must_be_finite_and_sane() -> None:
    """The check is on the ``Spec`` base: every group and every number parameter has it."""
    base = Scenario()
    numeric = 0
    for row in parameter_table():
        default = row["default"]
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        numeric += 1
        for bad in (math.inf, -math.inf, math.nan, 1e300, -1e300):
            with pytest.raises(ScenarioError) as e:
                with_overrides(base, {row["key"]: bad})
            assert e.value.key == row["key"], (row["key"], bad, str(e.value))
    assert numeric > 100


def test_money_bound_says_why() -> None:
    with pytest.raises(ScenarioError, match=r"at most 1,000,000 HKD m \(HKD 1 trillion") as e:
        with_overrides(Scenario(), {"platform.public_budget_hkd_m": 2e6})
    assert "no plausible scenario" in str(e.value)
    spec = with_overrides(Scenario(), {"platform.public_budget_hkd_m": MAX_MAGNITUDE})
    assert spec.platform.public_budget_hkd_m == MAX_MAGNITUDE


@pytest.mark.parametrize("value", ["inf", ".inf", "-.inf", "nan", ".nan", "1e308"])
def test_set_inf_exits_2_in_validate_and_run(run_cli, value: str) -> None:
    for cmd in ("validate", "run"):
        extra = ["--scale", "0.05", "--until", "2016"] if cmd == "run" else []
        rc, err = run_cli(
            cmd, str(PLATFORM), "--set", f"platform.public_budget_hkd_m={value}", *extra
        )
        assert rc == 2, err
        assert f"--set platform.public_budget_hkd_m={value}" in err
        assert "key 'platform.public_budget_hkd_m'" in err and len(err) < 600


def test_validate_inf_file_exits_2(tmp_path: Path, run_cli) -> None:
    p = write(
        tmp_path, "inf.yaml", f"extends: {PLATFORM}\nplatform:\n  public_budget_hkd_m: .inf\n"
    )
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "inf.yaml: key 'platform.public_budget_hkd_m': " in err


def test_sweep_values_must_be_finite(tmp_path: Path, run_cli) -> None:
    p = write(
        tmp_path,
        "sweep.yaml",
        "scenario: hk_pilot_platform\nbaseline: baseline\nparameters:\n"
        "  platform.public_budget_hkd_m: [100, .inf]\n",
    )
    rc, err = run_cli("sweep", str(p), "--seeds", "1", "--scale", "0.05", "--until", "2026")
    assert rc == 2 and "platform.public_budget_hkd_m" in err and "finite" in err
    rc, err = run_cli(
        "sweep",
        "--param",
        "platform.public_budget_hkd_m=100,inf",
        "--seeds",
        "1",
        "--scale",
        "0.05",
    )
    assert rc == 2 and "finite" in err


# --- 3. bounded time, memory and messages --------------------------------------------------------
def test_alias_bomb_under_description_fails_fast(tmp_path: Path, run_cli) -> None:
    text = f"extends: {BASELINE}\n{ALIAS_BOMB}".replace("i: &i", "description: &i")
    p = write(tmp_path, "bomb.yaml", text)
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match="alias bomb") as e:
        load_scenario(p)
    assert time.perf_counter() - t0 < 2.0 and len(str(e.value)) < 300
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "bomb.yaml" in err and "alias" in err


def test_alias_bomb_in_set_value_and_sweep_and_calibration(tmp_path: Path, run_cli) -> None:
    flow = "[" + ", ".join(["&a [x, x, x, x, x, x, x, x, x, x]"] + ["*a"] * 20) + "]"
    assert loads(flow) is not None  # small: 210 values
    bomb = write(tmp_path, "bomb.yaml", ALIAS_BOMB)
    with pytest.raises(BatchError, match="alias bomb"):
        sim.experiments.sweep.read_sweep_file(bomb)
    from sim.calibration.config import load_priors, load_targets

    with pytest.raises(CalibrationError, match="alias bomb"):
        load_targets(bomb)
    with pytest.raises(CalibrationError, match="alias bomb"):
        load_priors(bomb)


def test_messages_quote_a_bounded_excerpt(tmp_path: Path) -> None:
    budget = "public_budget_hkd_m: 123456.0\n  " + "".join(
        f"{k}: 0.5\n  " for k in ("fee_subsidy_share", "success_uplift")
    )
    p = write(tmp_path, "s.yaml", f"platform:\n  {budget}sectors: [robots]\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert e.value.key == "platform.sectors" and "unknown sectors ['robots']" in msg
    assert "123456" not in msg and "public_budget_hkd_m" not in msg
    big = write(tmp_path, "big.yaml", "description: [" + ", ".join(["12345"] * 20000) + "]\n")
    with pytest.raises(ScenarioError, match="key 'description'") as e:
        load_scenario(big)
    assert len(str(e.value)) < 300
    long_name = write(tmp_path, "n.yaml", f"extends: {BASELINE}\nname: '{'/' * 50000}'\n")
    with pytest.raises(ScenarioError, match="key 'name'") as e:
        load_scenario(long_name)
    assert len(str(e.value)) < 500


# --- 4. one YAML reader --------------------------------------------------------------------------
def test_duplicate_keys_name_the_key_and_line(tmp_path: Path, run_cli) -> None:
    p = write(tmp_path, "dup.yaml", "platform:\n  enabled: true\n  enabled: false\n")
    with pytest.raises(ScenarioError, match=r"dup.yaml: duplicate key 'enabled' at line 3"):
        load_scenario(p)
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "duplicate key 'enabled' at line 3 (first at line 2)" in err
    top = write(tmp_path, "top.yaml", f"extends: {BASELINE}\nplatform: {{}}\nplatform: {{}}\n")
    with pytest.raises(ScenarioError, match=r"duplicate key 'platform' at line 3"):
        load_scenario(top)
    sweep = write(tmp_path, "sw.yaml", "seeds: 2\nseeds: 3\n")
    with pytest.raises(BatchError, match=r"sw.yaml: duplicate key 'seeds' at line 2"):
        sim.experiments.sweep.read_sweep_file(sweep)
    from sim.calibration.config import load_priors

    with pytest.raises(CalibrationError, match=r"duplicate key 'parameters' at line 2"):
        load_priors(write(tmp_path, "priors.yaml", "parameters: {}\nparameters: {}\n"))
    with pytest.raises(UsageError, match="duplicate key 'a'"):
        from sim.cli import _parse_set

        _parse_set(["platform={a: 1, a: 2}"])


def test_merge_keys_still_work(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "m.yaml",
        f"extends: {BASELINE}\nplatform:\n  <<: {{enabled: true}}\n  start_year: 2026\n",
    )
    spec = load_scenario(p)
    assert spec.platform.enabled and spec.platform.start_year == 2026


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "huge.yaml", "description: '" + "x" * MAX_BYTES + "'\n")
    with pytest.raises(ScenarioError, match=r"huge.yaml: file is over 1,000,000 bytes"):
        load_scenario(p)


@pytest.mark.parametrize("command", ["validate", "sweep", "run", "compare"])
def test_non_utf8_file_exits_2(tmp_path: Path, run_cli, command: str) -> None:
    p = write(tmp_path, "latin1.yaml", "description: caf\xe9\n".encode("latin-1"))
    argv = {
        "validate": ["validate", str(p)],
        "sweep": ["sweep", str(p)],
        "run": ["run", str(p), "--scale", "0.05"],
        "compare": ["compare", str(BASELINE), str(p), "--scale", "0.05"],
    }[command]
    rc, err = run_cli(*argv)
    assert rc == 2 and "latin1.yaml: not UTF-8 text: byte 0xe9 at line 1" in err
    assert len(err.strip().splitlines()) == 1


def test_non_utf8_calibration_file(tmp_path: Path) -> None:
    from sim.calibration.config import load_targets

    p = write(tmp_path, "targets.yaml", b"series: \xff\n")
    with pytest.raises(CalibrationError, match="targets.yaml: not UTF-8 text"):
        load_targets(p)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: !!python/object/apply:os.system ['echo hi']\n", "is not allowed"),
        ("a: !!python/name:os.system\n", "is not allowed"),
        ("a: [1\n", "malformed YAML at line 2, column 1"),
        ("a: &x [1, *x]\n", "recursive alias"),
        ("a: " + "[" * 60 + "]" * 60 + "\n", "nested more than"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
        ("a: 2020-02-30\n", "cannot read a value"),
        ("a: 1\n---\nb: 2\n", "malformed YAML"),
        ("a: \x00\n", "malformed YAML"),
        ("? [1, 2]\n: 3\n", "unhashable"),
    ],
)
def test_yaml_reader_refuses(tmp_path: Path, text: str, words: str) -> None:
    p = write(tmp_path, "x.yaml", text)
    with pytest.raises(YamlInputError, match="x.yaml: ") as e:
        load_file(p)
    assert words in e.value.problem
    with pytest.raises(ScenarioError, match=words.replace("[", r"\[")):
        load_scenario(p)


def test_python_tag_exit_2(tmp_path: Path, run_cli) -> None:
    p = write(
        tmp_path, "tag.yaml", "description: !!python/object/apply:os.system ['touch pwned']\n"
    )
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "no !!python or other tags" in err


# --- 5. edge cases -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "{}\n"])
def test_empty_scenario_file_is_refused(tmp_path: Path, run_cli, text: str) -> None:
    p = write(tmp_path, "empty.yaml", text)
    with pytest.raises(ScenarioError, match=r"empty.yaml: the file is empty.*extends: baseline"):
        load_scenario(p)
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "write `extends: baseline.yaml`" in err


@pytest.mark.parametrize("group", LEVERS)
def test_lever_starting_after_the_end_is_refused(group: str) -> None:
    over = {f"{group}.enabled": True, f"{group}.start_year": 2036}
    with pytest.raises(ScenarioError) as e:
        load_scenario(BASELINE, over)
    assert e.value.key == f"{group}.start_year"
    assert "after run.end_year 2035" in str(e.value) and "equal the baseline" in str(e.value)
    # switched off, its start year does not matter; at the last year it is allowed
    assert not getattr(load_scenario(BASELINE, {**over, f"{group}.enabled": False}), group).enabled
    load_scenario(BASELINE, {**over, "run.end_year": 2036})


def test_start_year_after_until_exits_2(tmp_path: Path, run_cli) -> None:
    p = write(tmp_path, "late.yaml", f"extends: {PLATFORM}\nplatform:\n  start_year: 2040\n")
    rc, err = run_cli("validate", str(p))
    assert rc == 2 and "late.yaml: key 'platform.start_year': start_year 2040" in err
    rc, err = run_cli("run", str(PLATFORM), "--until", "2020", "--scale", "0.05")
    assert rc == 2 and "key 'platform.start_year'" in err


# --- 6. fuzz: any mapping loads or raises ScenarioError ------------------------------------------
KNOWN_KEYS = sorted(
    {"extends", "name", "description"}
    | {r["key"].split(".")[0] for r in parameter_table()}
    | {r["key"].split(".")[1] for r in parameter_table()}
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["food", "it", "biotech", "robots", "baseline.yaml", "../x", "inf"]),
)
leaves = st.one_of(
    scalars, st.lists(scalars, max_size=5), st.dictionaries(keys, scalars, max_size=4)
)
# a scenario: groups (known or not) holding known or unknown keys, or anything else
scenarios = st.dictionaries(
    keys,
    st.one_of(scalars, st.lists(leaves, max_size=3), st.dictionaries(keys, leaves, max_size=8)),
    max_size=6,
)


def _loads_or_scenario_error(data: dict[Any, Any]) -> None:
    try:
        spec = validate(data, "fuzz.yaml")
    except ScenarioError as e:
        assert len(str(e)) < 2000
        return
    assert isinstance(spec, Scenario)
    for row in parameter_table():
        group, key = row["key"].split(".")
        v = getattr(getattr(spec, group), key)
        for x in v.values() if isinstance(v, dict) else v if isinstance(v, tuple) else [v]:
            if isinstance(x, float):
                assert math.isfinite(x), row["key"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_fuzz_validate(data: dict[Any, Any]) -> None:
    _loads_or_scenario_error(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenarios,
    st.dictionaries(
        st.one_of(st.sampled_from([r["key"] for r in parameter_table()]), st.text(max_size=30)),
        leaves,
        max_size=4,
    ),
)
def test_fuzz_files_and_overrides(data: dict[Any, Any], overrides: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "fuzz.yaml"
        p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            spec = load_scenario(p, overrides)
        except ScenarioError:
            return
        assert isinstance(spec, Scenario)
