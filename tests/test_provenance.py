"""``sim.provenance``: the one atomic writer leaves no partial file, versions and commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import provenance
from sim.provenance import atomic_write, atomic_write_text, write_files


class Boom(RuntimeError):
    pass


def _half_then_fail(p: Path) -> None:
    p.write_text("half a fi")
    raise Boom("disk full")


def test_atomic_write_leaves_nothing_when_the_callback_raises(tmp_path: Path) -> None:
    target = tmp_path / "out" / "data.json"
    with pytest.raises(Boom):
        atomic_write(target, _half_then_fail)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary file left behind


def test_atomic_write_keeps_the_old_content_when_the_callback_raises(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_text('{"old": 1}\n')
    with pytest.raises(Boom):
        atomic_write(target, _half_then_fail)
    assert json.loads(target.read_text()) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


def test_atomic_write_replaces_and_keeps_the_suffix_for_writers(tmp_path: Path) -> None:
    target = tmp_path / "figure.png"
    seen: list[str] = []

    def write(p: Path) -> None:
        seen.append(p.suffix)
        assert p.parent == tmp_path and p != target and p.name.startswith(".")
        p.write_bytes(b"png")

    atomic_write(target, write)
    assert target.read_bytes() == b"png" and seen == [".png"]
    atomic_write_text(target, "again")
    assert target.read_text() == "again"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_write_files_is_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "a.csv").write_text("old a")
    with pytest.raises(Boom):
        write_files(
            out,
            {
                "a.csv": lambda p: p.write_text("new a"),
                "sub/b.csv": lambda p: p.write_text("new b"),
                "c.csv": _half_then_fail,
            },
        )
    assert (out / "a.csv").read_text() == "old a"  # nothing replaced
    assert not (out / "c.csv").exists()
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["a.csv"]


def test_write_files_removes_a_folder_it_made_when_a_writer_raises(tmp_path: Path) -> None:
    out = tmp_path / "new"
    with pytest.raises(Boom):
        write_files(out, {"x.txt": _half_then_fail})
    assert not out.exists()
    write_files(out, {"x.txt": lambda p: p.write_text("x"), "d/y.txt": lambda p: p.write_text("y")})
    assert (out / "x.txt").read_text() == "x" and (out / "d" / "y.txt").read_text() == "y"


def test_versions_commit_and_code_hash(tmp_path: Path) -> None:
    v = provenance.package_versions(["surely-not-a-package-xyz"])
    assert v["python"] and v["numpy"] != provenance.NOT_INSTALLED
    assert v["surely-not-a-package-xyz"] == provenance.NOT_INSTALLED
    assert "surely-not-a-package-xyz" not in provenance.package_versions(
        ["surely-not-a-package-xyz"], skip_missing_extra=True
    )
    assert provenance.git_commit(tmp_path) == "unknown"  # not a git checkout
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "skip").mkdir()
    (tmp_path / "skip" / "b.py").write_text("y = 2\n")
    h = provenance.code_hash(tmp_path, exclude=["skip"])
    (tmp_path / "skip" / "b.py").write_text("y = 3\n")
    assert provenance.code_hash(tmp_path, exclude=["skip"]) == h
    (tmp_path / "a.py").write_text("x = 2\n")
    assert provenance.code_hash(tmp_path, exclude=["skip"]) != h
