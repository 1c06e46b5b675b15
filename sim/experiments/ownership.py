"""Which entries of an output folder pilotsim wrote: the only ones it may ever remove.

An output folder (of ``run``, ``compare``, ``sweep``, ``analyse``) carries a hidden record,
``OUT/.pilotsim-owned.json``, that lists the top-level names pilotsim created there. The
record is the only licence to delete: ``--force`` and the removal of stale figures touch
nothing else, and a folder holding anything the record does not list (hidden files aside)
is refused, naming what is foreign. A name's suffix (``.csv``, ``.md``, ``.png``) proves
nothing: a user's ``thesis.md`` looks like a report.

How names get in. A job holds the folder's lock (:func:`sim.experiments.batch.claim_out_dir`)
and, before it writes anything, records the names present (``open``); when it ends it lists
as owned every name that appeared meanwhile. A job killed before it ends (kill -9, power
cut) leaves ``open`` in the record; the next job to take the lock (so the killed one is
gone) adopts the names that appeared since ``open.before``. A file a user adds *while* a
pilotsim job holds the folder is therefore counted as pilotsim's: the one case in which
the rule can err, documented in the README.

A folder pilotsim created (``runs/``) is owned whole. Temporary files
(:func:`sim.provenance._temp_path`'s pattern, the only way pilotsim stages a file) are
pilotsim's by name: they are never listed and are removed when the folder is cleared.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sim.provenance import atomic_write_text, remove_temporaries, temporary_of

#: The record, hidden and committed with each committed output folder.
RECORD = ".pilotsim-owned.json"
#: Format version of the record.
VERSION = 1


def is_temp(name: str) -> bool:
    """Whether ``name`` is one of pilotsim's temporary file names."""
    return temporary_of(name) is not None


def _entries(out: Path) -> set[str]:
    """Top-level names in ``out`` that can be owned: not hidden (pilotsim writes no hidden
    file but its lock, record and temporary files, none of which is ever listed)."""
    return {p.name for p in out.iterdir() if not p.name.startswith(".")}


def read(out: Path) -> dict[str, Any]:
    """The folder's record (an empty one if there is none or it is unreadable)."""
    try:
        data = json.loads((out / RECORD).read_text(encoding="utf-8"))
        names = [str(n) for n in data["owned"]]
        opened = data.get("open")
        before = None if opened is None else {"before": [str(n) for n in opened["before"]]}
    except (OSError, ValueError, KeyError, TypeError):
        # none, or damaged: a record that cannot be read grants nothing (all is kept)
        return {"version": VERSION, "owned": [], "open": None}
    return {"version": VERSION, "owned": names, "open": before}


def _write(out: Path, owned: Iterable[str], before: Iterable[str] | None) -> None:
    data = {
        "version": VERSION,
        "owned": sorted(set(owned)),
        "open": None if before is None else {"before": sorted(set(before))},
    }
    atomic_write_text(out / RECORD, json.dumps(data, indent=1) + "\n")


def owned(out: Path) -> set[str]:
    """Names pilotsim may remove from ``out``: those its record lists, plus those a job
    that was killed before it ended created (adopted here; call with the lock held)."""
    if not out.is_dir():
        return set()
    rec = read(out)
    names = set(rec["owned"])
    if rec["open"] is not None:  # a job that never ended: what appeared since is its output
        names |= _entries(out) - set(rec["open"]["before"])
    return names & _entries(out)


def foreign(out: Path) -> list[str]:
    """Names in ``out`` pilotsim did not write: not hidden, not listed, not temporary."""
    if not out.is_dir():
        return []
    mine = owned(out)
    return sorted(_entries(out) - mine)


def begin(out: Path) -> None:
    """Open a job on ``out`` (lock held): record what is there before it writes. A copy of
    the record a killed job was writing is removed (no live writer can hold it)."""
    remove_temporaries(out, only=lambda name: name == RECORD)
    mine = owned(out)
    _write(out, mine, _entries(out))


def end(out: Path) -> None:
    """Close a job on ``out`` (lock held): every name that appeared during it is owned."""
    if not out.is_dir():
        return
    _write(out, owned(out), None)
    if not _entries(out):  # nothing left to own: leave no record behind in an empty folder
        (out / RECORD).unlink(missing_ok=True)


def unowned(out: Path, names: Iterable[str]) -> list[str]:
    """Of ``names``, those present in ``out`` that pilotsim's record does not list: a job
    that writes ``names`` into a shared folder (``calibrate`` into ``calibration/``) must
    not overwrite them."""
    mine = owned(out)
    return sorted(n for n in names if (out / n).exists() and n not in mine)


def remove(out: Path, names: Iterable[str]) -> None:
    """Remove ``names`` from ``out``, each only if pilotsim owns it."""
    mine = owned(out)
    for name in names:
        if name in mine:
            _delete(out / name)


def clear(out: Path) -> None:
    """Remove everything pilotsim owns in ``out``, and its temporary files; keep the rest."""
    mine = owned(out)
    for p in list(out.iterdir()):
        if p.name in mine:
            _delete(p)
    remove_temporaries(out)
    if (out / RECORD).exists():
        _write(out, (), None)


def _delete(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def adopt(out: Path, names: Iterable[str]) -> None:
    """Record ``names`` in ``out`` as pilotsim's (for folders written before records
    existed, by ``python -m sim.experiments.ownership adopt``); names must exist."""
    missing = [n for n in names if not (out / n).exists()]
    if missing:
        raise FileNotFoundError(f"{out}: no {', '.join(missing)}")
    _write(out, owned(out) | set(names), None)


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.experiments.ownership adopt FOLDER``: record a folder that pilotsim
    wrote before it kept records (every non-hidden entry in it becomes pilotsim's)."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("action", choices=["adopt", "show"])
    ap.add_argument("folders", nargs="+", type=Path)
    args = ap.parse_args(argv)
    for out in args.folders:
        if args.action == "adopt":
            adopt(out, _entries(out))
        print(f"{out}: owned {sorted(owned(out))}; foreign {foreign(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "RECORD",
    "begin",
    "clear",
    "end",
    "foreign",
    "is_temp",
    "owned",
    "read",
    "remove",
    "unowned",
]
