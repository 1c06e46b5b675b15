"""Research-software conventions (issue 26, point 6): a licence, citation metadata in step with
pyproject.toml, a lock of the tested dependency versions that covers what pyproject.toml asks
for, and a changelog whose newest headline is the committed one."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCK = ROOT / "requirements" / "lock.txt"
SUMMARY = ROOT / "results" / "baseline_vs_hk_pilot_platform" / "summary.csv"
CHANGELOG = ROOT / "CHANGELOG.md"


def test_licence_is_the_one_pyproject_declares() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert PYPROJECT["license"] == "MIT"
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the pilotsim authors" in text


def test_citation_file_is_valid_cff_and_in_step_with_pyproject() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    # required by CFF 1.2.0: cff-version, message, title, authors
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"] and cff["title"]
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    assert cff["type"] == "software"
    assert str(cff["version"]) == PYPROJECT["version"]
    assert cff["license"] == PYPROJECT["license"]
    assert cff["abstract"].startswith("An agent-based economic simulation")
    assert cff["keywords"] and all(isinstance(k, str) for k in cff["keywords"])


def _lock() -> dict[str, tuple[str, str]]:
    """``{canonical name: (version, marker)}`` of requirements/lock.txt."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one specifier per line: ==VERSION
        assert spec.operator == "==", line
        pins[canonicalize_name(req.name)] = (spec.version, str(req.marker or ""))
    return pins


def _declared() -> list[Requirement]:
    groups = [PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"].values()]
    return [Requirement(r) for group in groups for r in group]


def test_lock_pins_every_declared_requirement_within_its_range() -> None:
    pins = _lock()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is required by pyproject.toml but not in {LOCK.name}"
        assert req.specifier.contains(pins[name][0], prereleases=True), (
            f"{req.name}=={pins[name][0]} in {LOCK.name} is outside pyproject.toml's {req}: "
            "run bash scripts/upgrade_lock.sh"
        )


def test_lock_holds_only_fetchable_releases_and_not_pilotsim() -> None:
    pins = _lock()
    assert canonicalize_name(PYPROJECT["name"]) not in pins
    local = [f"{n}=={v}" for n, (v, _) in pins.items() if "+" in v]
    assert not local, f"local builds cannot be installed by name: {local}"
    assert "@" not in LOCK.read_text()  # no direct URL or file references


def test_dev_script_installs_the_lock_then_the_package_without_deps() -> None:
    extras = set(PYPROJECT["optional-dependencies"])
    dev = (ROOT / "scripts" / "dev.sh").read_text()
    assert "lock=requirements/lock.txt" in dev and '-r "$lock"' in dev
    assert '[ "$lock" -nt "$stamp" ]' in dev  # a changed lock reinstalls
    installed = re.search(r'--no-deps -e "\.\[([\w,-]+)\]"', dev)
    assert installed and set(installed[1].split(",")) == extras  # every extra's entry points
    upgrade = (ROOT / "scripts" / "upgrade_lock.sh").read_text()
    unpinned = re.search(r'pip install --quiet -e "\.\[([\w,-]+)\]"', upgrade)
    assert unpinned and set(unpinned[1].split(",")) == extras
    assert "scripts/write_lock.py" in upgrade


# The changelog's machine-read line, one per version section ("## [...]"):
#   headline_npv_net_benefit_hkd_m: MEAN [LOW, HIGH]
# MEAN, LOW and HIGH are plain numbers (no thousands separators), the paired difference and
# its 90% interval of summary.csv's row npv_net_benefit_hkd_m, period 2025-2035
# (diff_mean, diff_low, diff_high), rounded to whole HKD m. Any other text after the colon
# ("not recorded", "to be filled ...") marks a section without a number.
HEADLINE = re.compile(r"^- headline_npv_net_benefit_hkd_m:\s*(.*)$", re.MULTILINE)
NUMBERS = re.compile(r"^(-?\d+(?:\.\d+)?) \[(-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)\]$")


def changelog_headlines(text: str) -> list[tuple[str, tuple[float, float, float] | None]]:
    """``[(section title, (mean, low, high) or None)]`` in file order, newest first."""
    out = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title = section.splitlines()[0].strip()
        line = HEADLINE.search(section)
        assert line, f"CHANGELOG section {title!r} has no headline_npv_net_benefit_hkd_m line"
        m = NUMBERS.match(line.group(1).strip())
        out.append((title, (float(m[1]), float(m[2]), float(m[3])) if m else None))
    return out


def committed_headline() -> tuple[float, float, float]:
    with SUMMARY.open() as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["outcome"] == "npv_net_benefit_hkd_m" and r["period"] == "2025-2035"
        ]
    assert len(rows) == 1, f"{SUMMARY}: expected one npv_net_benefit_hkd_m 2025-2035 row"
    r = rows[0]
    return float(r["diff_mean"]), float(r["diff_low"]), float(r["diff_high"])


def test_changelog_starts_with_unreleased() -> None:
    headlines = changelog_headlines(CHANGELOG.read_text(encoding="utf-8"))
    assert headlines[0][0] == "[Unreleased]"
    assert any(numbers is not None for _, numbers in headlines[1:]), "no released headline"


def test_changelog_newest_headline_is_the_committed_one() -> None:
    """The newest section with a number (Unreleased once it is filled in, otherwise the
    latest release) must state the committed summary.csv's headline."""
    title, numbers = next(
        (t, n) for t, n in changelog_headlines(CHANGELOG.read_text(encoding="utf-8")) if n
    )
    committed = committed_headline()
    assert numbers == pytest.approx(committed, abs=0.5), (
        f"CHANGELOG {title}: headline_npv_net_benefit_hkd_m {numbers} but {SUMMARY.name} "
        f"holds {tuple(round(x) for x in committed)} (mean [low, high]): after regenerating "
        "the results, record the new headline under [Unreleased]"
    )


def test_changelog_parser_reads_numbers_and_placeholders() -> None:
    text = (
        "# Changelog\n\n## [Unreleased]\n\n- headline_npv_net_benefit_hkd_m: to be filled\n\n"
        "## [model 2] - 2026-01-02\n\n- headline_npv_net_benefit_hkd_m: -12.5 [-20, -5]\n"
    )
    assert changelog_headlines(text) == [
        ("[Unreleased]", None),
        ("[model 2] - 2026-01-02", (-12.5, -20.0, -5.0)),
    ]
