"""Where a result came from, and how files are written (a leaf module: nothing from ``sim``).

- :func:`package_versions`, :func:`package_version`: installed versions of the packages a
  result depends on.
- :func:`git_commit`: the commit of the code (``-dirty`` when tracked files are modified).
- :func:`code_hash`: a hash of a package's Python files (the model-code fingerprint).
- :func:`atomic_write`, :func:`atomic_write_text`, :func:`write_files`: the one atomic
  writer. A file is written under a temporary name in its destination folder, flushed to
  disk (fsync) and moved into place with ``os.replace``; if writing fails the temporary file
  is removed, the destination is untouched and the ``OSError`` names the destination.
- :func:`remove_temporaries`: the temporary files a killed writer left behind.
"""

from __future__ import annotations

import hashlib
import os
import platform as _platform
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

#: Packages recorded with every result.
PACKAGES = ("pilotsim", "mesa", "numpy", "pandas", "scipy", "pydantic", "pyarrow")
NOT_INSTALLED = "not installed"


# --------------------------------------------------------------------------- versions


def package_version(name: str) -> str:
    """Installed version of ``name``, or ``"not installed"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def package_versions(
    extra: Iterable[str] = (), *, skip_missing_extra: bool = False
) -> dict[str, str]:
    """Python's version and those of :data:`PACKAGES` and ``extra``.

    Args:
        extra: more packages to record (``pyabc``, ``distributed`` ...).
        skip_missing_extra: leave out ``extra`` packages that are not installed.
    """
    out = {"python": _platform.python_version()}
    for name in PACKAGES:
        out[name] = package_version(name)
    for name in extra:
        v = package_version(name)
        if v != NOT_INSTALLED or not skip_missing_extra:
            out[name] = v
    return out


# --------------------------------------------------------------------------- code


def git_commit(where: str | Path | None = None) -> str:
    """The commit checked out at ``where`` (default: this package's folder), ``unknown``
    outside a git checkout; ``-dirty`` is appended when tracked files are modified."""
    here = str(Path(where) if where is not None else Path(__file__).resolve().parent)
    try:
        r = subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        commit = r.stdout.strip() if r.returncode == 0 else "unknown"
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        return commit + ("-dirty" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_commit(where: str | Path | None = None) -> str:
    """The last commit that changed the package (``where``, default this package's folder):
    unlike ``git_commit`` it does not move when only results or docs are committed, so a
    committed report that names it stays true. ``unknown`` outside a git checkout."""
    here = Path(where) if where is not None else Path(__file__).resolve().parent
    try:
        r = subprocess.run(
            ["git", "-C", str(here), "log", "-1", "--format=%H", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "unknown"


def code_hash(root: str | Path, exclude: Iterable[str] = (), length: int = 16) -> str:
    """SHA-256 (first ``length`` hex digits) of the ``*.py`` files under ``root``.

    Paths and contents both count; a file or folder whose first path part (relative to
    ``root``) is in ``exclude`` is skipped, and so is ``__pycache__``.
    """
    root = Path(root)
    skip = set(exclude)
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or "__pycache__" in rel.parts:
            continue
        h.update(rel.as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:length]


# --------------------------------------------------------------------------- atomic writes


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


#: Random bytes in a temporary name (8 hex digits): with the pid, unique among live writers.
TEMP_TOKEN_BYTES = 4
#: The names :func:`_temp_path` makes: ``.NAME.tmp-PID-HEX`` followed by NAME's suffix.
_TEMP_NAME = re.compile(
    rf"^\.(?P<name>.+)\.tmp-\d+-[0-9a-f]{{{2 * TEMP_TOKEN_BYTES}}}(?P<suffix>\.[^.]*)?$"
)


def _temp_path(path: Path) -> Path:
    """A fresh hidden name beside ``path`` that keeps its suffix (writers infer formats)."""
    token = secrets.token_hex(TEMP_TOKEN_BYTES)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{token}{path.suffix}")


def temporary_of(name: str) -> str | None:
    """The file name a temporary file of :func:`atomic_write` was to become, or None when
    ``name`` is not one (only names of exactly :func:`_temp_path`'s pattern count)."""
    m = _TEMP_NAME.match(name)
    if m is None or (m["suffix"] or "") != Path(m["name"]).suffix:
        return None
    return m["name"]


def remove_temporaries(folder: str | Path, only: Callable[[str], bool] | None = None) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (not its sub-folders).

    Only files named by :func:`_temp_path`'s pattern are touched, and of those only the ones
    whose destination name passes ``only`` (default: all). Call it only while holding the
    folder's lock: a live writer's temporary file looks the same.

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except FileNotFoundError:
        return removed
    for path in entries:
        dest = temporary_of(path.name)
        if dest is None or (only is not None and not only(dest)):
            continue
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _stage(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write ``path``'s content to a fsynced temporary file beside it; return that file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        write(tmp)
        _fsync_file(tmp)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.filename is None and e.errno is not None:
            # a failed write (full disk ...) names no file: name the one being written
            raise OSError(e.errno, os.strerror(e.errno), str(path)) from e
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write one file atomically: ``write(tmp)`` fills a temporary file, which replaces ``path``.

    ``write`` receives the temporary path (in ``path``'s folder, which is created) and must
    write the whole file there. If it raises, the temporary file is removed, ``path`` keeps
    its previous content (or stays absent) and the exception propagates.
    """
    path = Path(path)
    tmp = _stage(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """:func:`atomic_write` of a text file."""
    return atomic_write(path, lambda p: p.write_text(text, encoding=encoding))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """:func:`atomic_write` of a binary file."""
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_files(out: str | Path, writers: Mapping[str, Callable[[Path], Any]]) -> list[Path]:
    """Write several files into ``out``, all or nothing.

    Every file (names may contain ``/``) is first written to a temporary file beside its
    destination and fsynced; only when all are written are they moved into place. If any
    writer raises, every temporary file is removed (and ``out`` too if this call made it)
    and no destination is touched. A
    destination that is a folder is replaced by the file.
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, write in writers.items():
            dest = out / name
            staged.append((_stage(dest, write), dest))
        for tmp, dest in staged:
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    for folder in {dest.parent for _, dest in staged}:
        _fsync_dir(folder)
    return [dest for _, dest in staged]
