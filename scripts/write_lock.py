"""Write requirements/lock.txt: the exact versions installed in this environment of everything
pilotsim and all its extras need, and nothing else.

Run with the Python of a virtual environment in which the package is installed with all its
extras and the tests passed (``scripts/upgrade_lock.sh`` makes one): the lock is the set that
was tested. Only distributions reached from pilotsim's requirements are written (walked
through the installed metadata, with the markers evaluated here), so tools or local wheels
installed by hand in the same environment stay out, and pilotsim itself is left out. A
package needed here only under a platform condition (``pexpect`` off Windows, say) keeps
that condition as its marker, so the lock installs elsewhere too.

    .venv/bin/python scripts/write_lock.py            # writes requirements/lock.txt
    .venv/bin/python scripts/write_lock.py --check    # exit 1 if the lock differs
"""

from __future__ import annotations

import argparse
import platform
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
#: Marker variables that depend on the platform or interpreter, not on the extras asked for.
PLATFORM_VARS = ("sys_platform", "platform_", "os_name", "implementation_name")


def closure() -> dict[str, str | None]:
    """``{canonical name: platform marker or None}`` of every installed distribution that
    pilotsim with all its extras requires, directly or not (pilotsim itself excluded)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = sorted(pyproject.get("optional-dependencies", {}))
    dists: dict[str, metadata.Distribution] = {
        canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()
    }
    # conditions[name]: None once reached unconditionally, else the markers of its paths
    conditions: dict[str, set[str] | None] = {}
    queue: list[tuple[str, tuple[str, ...], str | None]] = [
        (canonicalize_name(pyproject["name"]), tuple(extras), None)
    ]
    done: set[tuple[str, tuple[str, ...], str | None]] = set()
    while queue:
        item = queue.pop()
        if item in done:
            continue
        done.add(item)
        name, wanted, cond = item
        if name not in dists:
            sys.exit(f"error: {name} is required but not installed in {sys.prefix}")
        for text in dists[name].requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
                continue
            child = canonicalize_name(req.name)
            edge = _platform_part(req.marker)
            path = f"({cond}) and ({edge})" if cond and edge else cond or edge
            if path is None:
                conditions[child] = None
            else:
                seen = conditions.setdefault(child, set())
                if seen is not None:
                    seen.add(path)
            queue.append((child, tuple(sorted(req.extras)), path))
    return {
        n: None if c is None else " or ".join(f"({m})" if len(c) > 1 else m for m in sorted(c))
        for n, c in conditions.items()
        if n != canonicalize_name(pyproject["name"])
    }


def _platform_part(marker: Marker | None) -> str | None:
    """The marker when it is purely about the platform; None (always needed) otherwise:
    a marker that names an extra was already evaluated against the extras asked for."""
    if marker is None:
        return None
    text = str(marker)
    if "extra" in text or not any(v in text for v in PLATFORM_VARS):
        return None
    return text


def lock_text() -> str:
    lines = []
    for name, cond in sorted(closure().items()):
        dist = metadata.distribution(name)
        version = dist.version
        if "+" in version:  # a local build (e.g. torch 2.x+cpu) cannot be fetched by name
            sys.exit(f"error: {name}=={version} is a local build; install it from the index")
        pin = f"{dist.metadata['Name']}=={version}"
        lines.append(f"{pin} ; {cond}" if cond else pin)
    head = [
        "# The tested versions of pilotsim's dependencies and all its extras; scripts/dev.sh",
        "# installs exactly these. Written by scripts/write_lock.py (see scripts/upgrade_lock.sh",
        "# and the README's 'Dependency versions'); do not edit by hand.",
        f"# Tested on CPython {platform.python_version()}, {sys.platform} {platform.machine()}.",
    ]
    return "\n".join(head + lines) + "\n"


def _pins(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the lock differs")
    args = ap.parse_args()
    text = lock_text()
    if args.check:
        same = LOCK.exists() and _pins(LOCK.read_text()) == _pins(text)
        print(f"{LOCK.relative_to(ROOT)} {'matches' if same else 'differs from'} {sys.prefix}")
        return 0 if same else 1
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(text)
    print(f"wrote {LOCK.relative_to(ROOT)} ({len(_pins(text))} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
