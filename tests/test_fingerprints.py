"""Outputs are unchanged unless a change means to change them: the quarterly frame of every
scenario file hashes to its committed fingerprint (``sim/experiments/fingerprints.py``)."""

from __future__ import annotations

import json

import pytest

from sim.experiments.fingerprints import COMMITTED, SCENARIOS, fingerprint

EXPECTED: dict[str, str] = json.loads(COMMITTED.read_text())


def test_every_scenario_file_has_a_fingerprint() -> None:
    assert sorted(EXPECTED) == sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_outputs_match_the_committed_fingerprint(name: str) -> None:
    assert fingerprint(name) == EXPECTED[name], (
        f"{name}: outputs changed. If the change is meant to alter behaviour, run "
        "`python -m sim.experiments.fingerprints --write` and say why in the commit."
    )


def test_fingerprint_sees_a_change_of_behaviour(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiments.fingerprints as fp

    monkeypatch.setattr(fp, "SEED", fp.SEED + 1)  # another seed: other luck, other outputs
    assert fp.fingerprint("baseline") != EXPECTED["baseline"]
