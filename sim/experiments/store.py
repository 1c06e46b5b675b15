"""The result store of a batch: one Parquet part file per run, ``manifest.json`` and a journal.

Layout of a store folder ``OUT``::

    OUT/manifest.json                 what was asked and the status of every run
    OUT/runs/<hash>-s<seed>.parquet   one run: its quarterly frame (zstd)
    OUT/runs/journal.jsonl            runs finished since manifest.json was last written
    OUT/runs/quarantine/              unreadable part files set aside, each with a note

A part file is named by the run's scenario hash and seed, so it is a pure function of its
name and the model code. It is written under a temporary name and moved into place with
``os.replace``; then one JSON line for the run is appended to the journal. Reading the store
folds the journal into the manifest, and the manifest is rewritten (atomically) only when
the journal has grown as long as the manifest and at the end of a batch, so a batch of
``n`` runs costs time linear in ``n``. Killing a batch at any moment leaves only whole
part files and at most one torn journal line (ignored), and no finished run is lost: a
part file whose journal line was lost is recognised from the identity kept in its Parquet
metadata. Each run also records the fingerprint of the model code that made it; stored
runs made by other code are rerun instead of being mixed with new ones.

The manifest is not trusted blindly: a part file that is missing, empty, unreadable (no
Parquet footer) or whose bytes no longer match the SHA-256 recorded in its manifest entry
when it was written (silent corruption: a flipped bit in a data page can decode to a wrong
number without any error) is moved to ``runs/quarantine/`` with a note, a message says so
on stderr, and the run is done again. Temporary files of writes killed part-way are
removed when a batch begins (:meth:`Store.begin`, under the folder's lock).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import StoreError
from sim.provenance import atomic_write, atomic_write_text, code_hash, remove_temporaries

MANIFEST = "manifest.json"
RUNS_DIR = "runs"
JOURNAL = "journal.jsonl"
QUARANTINE_DIR = "quarantine"
FORMAT = "pilotsim-batch/1"
META_KEY = b"pilotsim"
COMPRESSION = "zstd"
#: Manifest key of a part file's SHA-256 (hex digest of its bytes), recorded when it is
#: written and checked when it is read: a readable footer does not prove the data is intact.
CHECKSUM = "sha256"

#: Files of the ``sim`` package that do not change what a run computes.
_NOT_MODEL_CODE = (
    "experiments",
    "calibration",
    "analysis",
    "viz",
    "cli.py",
    "dashboard",
    "__main__.py",
)


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a write in progress (or killed) of ``provenance.atomic_write``:
    a hidden ``.NAME.tmp-...`` file that keeps the destination's suffix, so that a glob
    such as ``*.parquet`` finds it too."""
    return path.name.startswith(".") and ".tmp-" in path.name


def run_key(scenario_hash: str, seed: int) -> str:
    """The name of a run in the store: ``<scenario hash>-s<seed>``."""
    return f"{scenario_hash}-s{int(seed)}"


def code_fingerprint() -> str:
    """A short hash of the model's source (``sim/`` without experiments, calibration, analysis,
    viz, the CLI).

    Taken once, when this module is imported (just after the model's modules), so it
    describes the code this process runs even if the files change later. Two processes
    with the same fingerprint compute the same run for the same scenario and seed; a batch
    resumed after the model changed reruns its stored runs, and a worker with other code
    is refused.
    """
    return _CODE_FINGERPRINT


def _fingerprint() -> str:
    return code_hash(Path(__file__).resolve().parent.parent, exclude=_NOT_MODEL_CODE)


_CODE_FINGERPRINT = _fingerprint()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in chunks: memory stays small)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, CHECKSUM).hexdigest()


def _checksum_problem(actual: str, recorded: str) -> str:
    return (
        f"its part file does not match the checksum recorded when it was written "
        f"({CHECKSUM} {actual[:12]}... vs {recorded[:12]}...: corrupted on disk)"
    )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, default=str) + "\n")


class Store:
    """A batch's folder of part files and its manifest.

    Args:
        root: the output folder (created on first write).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / RUNS_DIR
        self.manifest_path = self.root / MANIFEST
        self.journal_path = self.runs_dir / JOURNAL
        self.quarantine_dir = self.runs_dir / QUARANTINE_DIR
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: exists and is not a directory")
        #: Runs listed in manifest.json when it was last written / lines in the journal.
        self._manifest_runs = 0
        self._journal_lines = 0
        #: What was repaired: one message per part file set aside (also printed).
        self.repairs: list[str] = []
        self.manifest: dict[str, Any] = self._read_manifest()
        self._fold_journal()
        self._adopt_orphans()

    # ----------------------------------------------------------------- manifest
    def _read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {"format": FORMAT, "runs": {}}
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(
                f"{self.manifest_path}: not a readable manifest ({e}); "
                "remove the folder or choose another --out"
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise StoreError(
                f"{self.manifest_path}: format {got!r} is not {FORMAT!r}; "
                "this folder was not written by pilotsim compare/sweep (choose another --out)"
            )
        if not isinstance(data.get("runs"), dict):
            raise StoreError(f"{self.manifest_path}: key 'runs' must be a mapping")
        self._manifest_runs = len(data["runs"])
        return data

    def _fold_journal(self) -> None:
        """Apply the journal's lines, in order, to the runs read from manifest.json.

        A line that is not whole JSON (a kill while it was written) is skipped: its part
        file, if any, is adopted from its metadata by :meth:`is_done`.
        """
        try:
            with self.journal_path.open("rb") as f:
                for line in f:
                    self._journal_lines += 1
                    try:
                        event = json.loads(line)
                        key, entry = event["key"], event["entry"]
                    except (ValueError, KeyError, TypeError):
                        continue
                    if isinstance(key, str) and isinstance(entry, dict):
                        self.runs[key] = entry
        except FileNotFoundError:
            return
        except OSError as e:
            raise StoreError(
                f"{self.journal_path}: not readable ({e}); remove it to rebuild the "
                "manifest from the part files"
            ) from None

    def _adopt_orphans(self) -> None:
        """Count part files whose manifest and journal lines were lost (a kill between
        writing the part and its line) from the identity in their Parquet metadata."""
        if not self.runs_dir.is_dir():
            return
        for path in self.runs_dir.glob("*.parquet"):
            if is_temporary(path):  # a write in progress (or killed): not a run
                continue
            key = path.stem
            entry = self.runs.get(key)
            if entry is not None and entry.get("status") == "done":
                continue
            self._adopt(key, path)

    def _adopt(self, key: str, path: Path) -> bool:
        meta = self.read_meta(path)
        if meta is None or meta.get("key") != key:
            return False
        self.runs[key] = {
            **{k: meta.get(k) for k in ("scenario_hash", "seed", "code", "seconds")},
            "status": "done",
            "file": f"{RUNS_DIR}/{path.name}",
            "bytes": path.stat().st_size,
            # its line (with the checksum taken at writing) was lost: checksummed from now on
            CHECKSUM: file_sha256(path),
            "finished": meta.get("finished"),
            "note": "adopted from its part file (manifest entry was missing)",
        }
        return True

    def _journal(self, key: str, entry: Mapping[str, Any]) -> None:
        """Append one run's entry to the journal; rewrite the manifest when the journal
        has grown as long as it (so the total cost stays linear in the number of runs)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"key": key, "entry": entry}, default=str) + "\n"
        with self.journal_path.open("a", encoding="utf-8") as f:
            f.write(line)
        self._journal_lines += 1
        if self._journal_lines >= max(1, self._manifest_runs):
            self.save()

    def begin(self, batch: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
        """Record the batch being run (settings, scenarios, seeds) and who runs it.

        Earlier runs stay in the manifest: the store is keyed by content, so a later batch
        in the same folder reuses every run it shares with an earlier one. Temporary files
        that a killed batch left (part files and the manifest being written) are removed:
        the caller holds the folder's lock, so no live writer owns them.
        """
        remove_temporaries(self.runs_dir, only=lambda name: name.endswith(".parquet"))
        remove_temporaries(self.root, only=lambda name: name == MANIFEST)
        self.manifest.update(provenance)
        self.manifest["format"] = FORMAT
        self.manifest["batch"] = dict(batch)
        self.manifest["updated"] = _now()
        self.save()

    def save(self) -> None:
        """Rewrite ``manifest.json`` atomically with every run, then empty the journal.

        A kill between the two leaves a journal whose lines the manifest already holds;
        folding them again changes nothing.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest["updated"] = _now()
        _write_json_atomically(self.manifest_path, self.manifest)
        self._manifest_runs = len(self.runs)
        if self._journal_lines or self.journal_path.exists():
            self.journal_path.unlink(missing_ok=True)
        self._journal_lines = 0

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return self.manifest["runs"]

    # ---------------------------------------------------------------- part files
    def part_path(self, key: str) -> Path:
        return self.runs_dir / f"{key}.parquet"

    def is_done(self, key: str, code: str | None = None) -> bool:
        """Whether run ``key`` is stored whole, by the model code ``code`` (default: ours).

        The part file is checked, not only the manifest: a missing, empty or unreadable
        one (no Parquet footer), or one whose bytes do not match the recorded checksum, is
        set aside (see :meth:`quarantine`) and the run counts as not done. A part file
        without a manifest entry (the batch was killed between writing the two) is adopted
        when its Parquet metadata names the same run and code.
        """
        code = code or code_fingerprint()
        path = self.part_path(key)
        entry = self.runs.get(key)
        recorded = entry is not None and entry.get("status") == "done"
        if not path.is_file():
            if recorded:
                self.quarantine(key, "its part file is missing")
            return False
        problem = self.check_part(path, entry.get(CHECKSUM) if recorded and entry else None)
        if problem is not None:
            self.quarantine(key, problem)
            return False
        if recorded:
            assert entry is not None
            return entry.get("code") == code
        return self._adopt(key, path) and self.runs[key].get("code") == code

    @staticmethod
    def check_part(path: Path, sha256: str | None = None) -> str | None:
        """What is wrong with a part file (empty, no Parquet footer, no rows, bytes that do
        not match ``sha256`` when given), or None."""
        try:
            size = path.stat().st_size
            if size == 0:
                return "its part file is empty (0 bytes)"
            meta = pq.read_metadata(path)
            actual = file_sha256(path) if sha256 else ""
        except (OSError, ValueError, pa.ArrowException) as e:
            return f"its part file is unreadable ({type(e).__name__}: {e})"
        if meta.num_rows == 0:
            return "its part file holds no rows"
        if sha256 and actual != sha256:
            return _checksum_problem(actual, sha256)
        return None

    def quarantine(self, key: str, problem: str) -> str:
        """Set a bad run aside: move its part file (if any) to ``runs/quarantine/`` with a
        note, mark the run as to be redone, say so on stderr. Returns the message."""
        path = self.part_path(key)
        where = ""
        if path.exists():
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%f")
            dest = self.quarantine_dir / f"{path.stem}.{stamp}.parquet"
            os.replace(path, dest)
            dest.with_suffix(".txt").write_text(
                f"{_now()} {RUNS_DIR}/{path.name}: {problem}; moved here, the run is redone\n",
                encoding="utf-8",
            )
            where = f"; moved to {dest.relative_to(self.root).as_posix()}"
        message = f"store {self.root}: run {key}: {problem}{where}; the run will be done again"
        self.repairs.append(message)
        print(f"warning: {message}", file=sys.stderr)
        previous = self.runs.get(key, {})
        entry: dict[str, Any] = {
            **{k: previous.get(k) for k in ("scenario_hash", "seed") if k in previous},
            "status": "quarantined",
            "error": problem,
            "finished": _now(),
        }
        self.runs[key] = entry
        self._journal(key, entry)
        return message

    @staticmethod
    def read_meta(path: Path) -> dict[str, Any] | None:
        """The identity a part file carries in its Parquet metadata, or None if unreadable."""
        try:
            raw = pq.read_schema(path).metadata or {}
            return json.loads(raw[META_KEY])
        except (OSError, KeyError, ValueError, pa.ArrowException):
            return None

    def write_run(self, key: str, frame: pd.DataFrame, info: Mapping[str, Any]) -> dict[str, Any]:
        """Store a finished run: part file first (atomic), then its manifest entry.

        Args:
            key: the run key (``run_key(hash, seed)``).
            frame: the run's quarterly frame (money HKD m, full-economy units).
            info: ``scenario_hash``, ``seed``, ``code``, ``seconds`` of the run.

        Returns:
            The manifest entry written.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        finished = _now()
        meta = {"key": key, **dict(info), "finished": finished}
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()}
        )
        path = self.part_path(key)
        digest: list[str] = []

        def write(tmp: Path) -> None:
            pq.write_table(table, tmp, compression=COMPRESSION)
            # hashed as staged, before it is moved into place: the bytes we meant to store
            digest.append(file_sha256(tmp))

        atomic_write(path, write)
        entry = {
            **dict(info),
            "status": "done",
            "file": f"{RUNS_DIR}/{path.name}",
            "bytes": path.stat().st_size,
            CHECKSUM: digest[0],
            "finished": finished,
        }
        self.runs[key] = entry
        self._journal(key, entry)
        return entry

    def record_failure(
        self, key: str, info: Mapping[str, Any], error: str, traceback: str
    ) -> dict[str, Any]:
        """Record a run that raised; the batch goes on. A later resume retries it."""
        previous = self.runs.get(key, {})
        entry = {
            **dict(info),
            "status": "failed",
            "error": error,
            "traceback": traceback,
            "attempts": int(previous.get("attempts", 0)) + 1,
            "finished": _now(),
        }
        self.runs[key] = entry
        self._journal(key, entry)
        return entry

    def load(self, keys: Iterable[str]) -> dict[str, pd.DataFrame]:
        """The stored quarterly frames of ``keys`` (only those stored whole).

        A part file the manifest lists as done but that is missing, unreadable or does not
        match its recorded checksum is set aside (:meth:`quarantine`) and left out; the next
        batch in this folder reruns it. Each file is read once: the bytes checksummed are
        the bytes decoded.
        """
        out: dict[str, pd.DataFrame] = {}
        repaired = False
        for key in keys:
            entry = self.runs.get(key)
            if entry is None or entry.get("status") != "done":
                continue
            frame, problem = self._read_part(key, entry.get(CHECKSUM))
            if problem is not None:
                self.quarantine(key, problem)
                repaired = True
            elif frame is not None:
                out[key] = frame
        if repaired:
            self.save()
        return out

    def _read_part(self, key: str, sha256: str | None) -> tuple[pd.DataFrame | None, str | None]:
        """A stored run's frame, or what is wrong with its part file (see :meth:`load`)."""
        path = self.part_path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None, "its part file is missing"
        except OSError as e:
            return None, f"its part file is unreadable ({type(e).__name__}: {e})"
        if not data:
            return None, "its part file is empty (0 bytes)"
        try:
            # the footer first: a torn file is named as such, not as a checksum mismatch
            if pq.read_metadata(pa.BufferReader(data)).num_rows == 0:
                return None, "its part file holds no rows"
            # the checksum before decoding: corrupt pages are never decoded
            actual = hashlib.new(CHECKSUM, data).hexdigest() if sha256 else ""
            if sha256 and actual != sha256:
                return None, _checksum_problem(actual, sha256)
            return pq.read_table(pa.BufferReader(data)).to_pandas(), None
        except (OSError, ValueError, pa.ArrowException) as e:
            return None, f"its part file is unreadable ({type(e).__name__}: {e})"

    def bytes_per_run(self, keys: Iterable[str]) -> float:
        """Mean size of the stored part files of ``keys`` (bytes)."""
        sizes = [self.part_path(k).stat().st_size for k in keys if self.part_path(k).is_file()]
        return sum(sizes) / len(sizes) if sizes else float("nan")
