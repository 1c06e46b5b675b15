"""Outputs are unchanged unless a change means to change them: every column of every scenario
file's quarterly frame hashes to its committed fingerprint (``sim/experiments/fingerprints.py``,
one hash per column, so a new column leaves the others' fingerprints intact)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.experiments.fingerprints import (
    COMMITTED,
    DIGITS,
    SCENARIOS,
    compare,
    fingerprint,
    frame_fingerprint,
)

EXPECTED: dict[str, dict[str, str]] = json.loads(COMMITTED.read_text())
REWRITE = (
    "If the change is meant to alter behaviour or add an output, run "
    "`python -m sim.experiments.fingerprints --write` and say why in the commit."
)


def test_every_scenario_file_has_a_fingerprint() -> None:
    assert sorted(EXPECTED) == sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_outputs_match_the_committed_fingerprint(name: str) -> None:
    problems = compare(name, fingerprint(name), EXPECTED[name])
    assert not problems, "\n".join([*problems, REWRITE])


def test_fingerprint_sees_a_change_of_behaviour(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiments.fingerprints as fp

    monkeypatch.setattr(fp, "SEED", fp.SEED + 1)  # another seed: other luck, other outputs
    assert fp.fingerprint("baseline") != EXPECTED["baseline"]


def test_a_new_column_leaves_the_others_fingerprints_intact() -> None:
    q = pd.DataFrame({"year": [2025.0, 2025.25], "hk_jobs": [1.0, 2.5]})
    before = frame_fingerprint(q)
    after = frame_fingerprint(q.assign(new_output=[3.0, 4.0]))
    assert {c: after[c] for c in before} == before
    assert all(len(h) == DIGITS for h in after.values())
    assert compare("toy", after, before) == ["toy.new_output: new column, not in " + COMMITTED.name]


def test_compare_names_a_changed_and_a_missing_column() -> None:
    q = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    committed = frame_fingerprint(q)
    got = frame_fingerprint(q.assign(a=[1.0, 2.5]).drop(columns="b"))
    problems = compare("toy", got, committed)
    assert len(problems) == 2
    assert problems[0].startswith("toy.a: outputs changed")
    assert problems[1] == "toy.b: committed but no longer output"


def test_float32_cast_ignores_the_last_bits_of_float64() -> None:
    q = pd.DataFrame({"a": [1.0, 2.0]})
    assert frame_fingerprint(q) == frame_fingerprint(q.assign(a=[1.0 + 1e-12, 2.0]))
