"""The result store of a batch: one Parquet part file per run plus ``manifest.json``.

Layout of a store folder ``OUT``::

    OUT/manifest.json          what was asked and the status of every run
    OUT/runs/<hash>-s<seed>.parquet   one run: its quarterly frame (zstd)

A part file is named by the run's scenario hash and seed, so it is a pure function of its
name and the model code. It is written under a temporary name and moved into place with
``os.replace``, and the manifest is rewritten the same way after every run: killing a batch
at any moment leaves only whole files, and no finished run is lost. A part file whose
manifest entry was lost (kill between the two writes) is recognised from the identity kept
in its Parquet metadata. Each run also records the fingerprint of the model code that made
it; stored runs made by other code are rerun instead of being mixed with new ones.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
RUNS_DIR = "runs"
FORMAT = "pilotsim-batch/1"
META_KEY = b"pilotsim"
COMPRESSION = "zstd"

#: Files of the ``sim`` package that do not change what a run computes.
_NOT_MODEL_CODE = ("experiments", "calibration", "viz", "cli.py", "dashboard", "__main__.py")


class StoreError(ValueError):
    """A store folder that cannot be used; the message names the file."""


def run_key(scenario_hash: str, seed: int) -> str:
    """The name of a run in the store: ``<scenario hash>-s<seed>``."""
    return f"{scenario_hash}-s{int(seed)}"


def code_fingerprint() -> str:
    """A short hash of the model's source (``sim/`` without experiments, calibration, viz, CLI).

    Taken once, when this module is imported (just after the model's modules), so it
    describes the code this process runs even if the files change later. Two processes
    with the same fingerprint compute the same run for the same scenario and seed; a batch
    resumed after the model changed reruns its stored runs, and a worker with other code
    is refused.
    """
    return _CODE_FINGERPRINT


def _fingerprint() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in _NOT_MODEL_CODE or "__pycache__" in rel.parts:
            continue
        h.update(rel.as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


_CODE_FINGERPRINT = _fingerprint()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class Store:
    """A batch's folder of part files and its manifest.

    Args:
        root: the output folder (created on first write).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / RUNS_DIR
        self.manifest_path = self.root / MANIFEST
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: exists and is not a directory")
        self.manifest: dict[str, Any] = self._read_manifest()

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
        return data

    def begin(self, batch: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
        """Record the batch being run (settings, scenarios, seeds) and who runs it.

        Earlier runs stay in the manifest: the store is keyed by content, so a later batch
        in the same folder reuses every run it shares with an earlier one.
        """
        self.manifest.update(provenance)
        self.manifest["format"] = FORMAT
        self.manifest["batch"] = dict(batch)
        self.manifest["updated"] = _now()
        self.save()

    def save(self) -> None:
        """Rewrite ``manifest.json`` atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest["updated"] = _now()
        _write_json_atomically(self.manifest_path, self.manifest)

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return self.manifest["runs"]

    # ---------------------------------------------------------------- part files
    def part_path(self, key: str) -> Path:
        return self.runs_dir / f"{key}.parquet"

    def is_done(self, key: str, code: str | None = None) -> bool:
        """Whether run ``key`` is stored whole, by the model code ``code`` (default: ours).

        A part file without a manifest entry (the batch was killed between writing the
        two) is adopted when its Parquet metadata names the same run and code.
        """
        code = code or code_fingerprint()
        path = self.part_path(key)
        if not path.is_file():
            return False
        entry = self.runs.get(key)
        if entry is not None and entry.get("status") == "done":
            return entry.get("code") == code
        meta = self.read_meta(path)
        if meta is None or meta.get("key") != key or meta.get("code") != code:
            return False
        self.runs[key] = {
            **{k: meta.get(k) for k in ("scenario_hash", "seed", "code", "seconds")},
            "status": "done",
            "file": f"{RUNS_DIR}/{path.name}",
            "bytes": path.stat().st_size,
            "finished": meta.get("finished"),
            "note": "adopted from its part file (manifest entry was missing)",
        }
        return True

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
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pq.write_table(table, tmp, compression=COMPRESSION)
        os.replace(tmp, path)
        entry = {
            **dict(info),
            "status": "done",
            "file": f"{RUNS_DIR}/{path.name}",
            "bytes": path.stat().st_size,
            "finished": finished,
        }
        self.runs[key] = entry
        self.save()
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
        self.save()
        return entry

    def load(self, keys: Iterable[str]) -> dict[str, pd.DataFrame]:
        """The stored quarterly frames of ``keys`` (only those stored whole)."""
        out: dict[str, pd.DataFrame] = {}
        for key in keys:
            entry = self.runs.get(key)
            path = self.part_path(key)
            if entry is None or entry.get("status") != "done" or not path.is_file():
                continue
            out[key] = pq.read_table(path).to_pandas()
        return out

    def bytes_per_run(self, keys: Iterable[str]) -> float:
        """Mean size of the stored part files of ``keys`` (bytes)."""
        sizes = [self.part_path(k).stat().st_size for k in keys if self.part_path(k).is_file()]
        return sum(sizes) / len(sizes) if sizes else float("nan")
