"""Scenario files: YAML -> a validated, frozen ``Scenario``.

A scenario file holds parameter groups (``platform:``, ``research:`` ...) with only the keys
it changes; ``extends: other.yaml`` (relative to the file) inherits another file first.
Unknown keys, wrong types, out-of-range values, missing or malformed files all raise
``ScenarioError`` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.params import Scenario, Spec

#: Where named scenarios ("baseline") are looked up: ./scenarios, then the repository's.
SCENARIO_DIRS: tuple[Path, ...] = (
    Path("scenarios"),
    Path(__file__).resolve().parent.parent / "scenarios",
)


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names file, key and what is allowed."""

    def __init__(self, file: str | Path | None, message: str, key: str | None = None) -> None:
        self.file = str(file) if file is not None else "<overrides>"
        self.key = key
        where = f"{self.file}: " + (f"key '{key}': " if key else "")
        super().__init__(where + message)


def allowed_keys(path: tuple[str, ...] = ()) -> list[str]:
    """Keys allowed at a dotted location (``()`` for the top level)."""
    cls: type[BaseModel] = Scenario
    for part in path:
        field = cls.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, Spec)
        ):
            return []
        cls = field.annotation
    keys = list(cls.model_fields)
    return ["extends", *keys] if not path else keys


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        known = sorted(p.name for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        hint = f"; scenarios in {path.parent}: {', '.join(known)}" if known else ""
        raise ScenarioError(path, f"file not found{hint}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ScenarioError(path, f"malformed YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(
            path,
            f"expected a mapping of parameter groups, got {type(data).__name__}; "
            f"allowed top-level keys: {', '.join(allowed_keys())}",
        )
    return data


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _load_tree(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve() if path.exists() else path
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[-1], f"extends cycle: {cycle}", key="extends")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "must be a file name (string)", key="extends")
    parent_path = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    if not parent_path.is_file():
        raise ScenarioError(path, f"file '{parent}' not found next to it", key="extends")
    return _merge(_load_tree(parent_path, (*chain, path)), data)


def _dotted_to_nested(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"platform.enabled": True}`` or ``platform__enabled=True`` -> nested dicts."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = key.replace("__", ".").split(".")
        d = nested
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        if isinstance(value, Mapping):
            d[parts[-1]] = _merge(d.get(parts[-1], {}), value)
        else:
            d[parts[-1]] = value
    return nested


def validate(data: Mapping[str, Any], file: str | Path | None = None) -> Scenario:
    """Validate a nested mapping into a ``Scenario`` or raise ``ScenarioError``."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            allowed = allowed_keys(loc[:-1])
            group = f"'{'.'.join(loc[:-1])}'" if loc[:-1] else "the top level"
            msg = f"unknown key; allowed keys in {group}: {', '.join(allowed)}"
        else:
            got = err.get("input")
            msg = f"{err['msg']} (got {got!r})"
            if err["type"] == "model_type" and len(loc) == 1:
                msg += f"; allowed keys in '{loc[0]}': {', '.join(allowed_keys(loc))}"
        more = f" (and {e.error_count() - 1} more errors)" if e.error_count() > 1 else ""
        raise ScenarioError(file, msg + more, key=key or None) from None


def load_scenario(
    path: str | Path, overrides: Mapping[str, Any] | None = None, **kw_overrides: Any
) -> Scenario:
    """Load, merge ``extends:`` chains, apply overrides, validate.

    Args:
        path: a YAML file, or a scenario name found in ``scenarios/``.
        overrides: dotted keys, e.g. ``{"platform.enabled": True}``.
        **kw_overrides: the same as keywords: ``platform__enabled=True`` or
            ``platform={"enabled": True}``.
    """
    file = resolve_path(path)
    data = _load_tree(file)
    if "name" not in data:
        data["name"] = file.stem
    extra = {**(overrides or {}), **kw_overrides}
    if extra:
        data = _merge(data, _dotted_to_nested(extra))
    return validate(data, file)


def resolve_path(path: str | Path) -> Path:
    """A path as given, or ``scenarios/<name>.yaml`` for a bare name."""
    p = Path(path)
    if p.suffix in (".yaml", ".yml") or p.parent != Path("."):
        return p
    for d in SCENARIO_DIRS:
        candidate = d / f"{p.name}.yaml"
        if candidate.is_file():
            return candidate
    return SCENARIO_DIRS[0] / f"{p.name}.yaml"


def with_overrides(spec: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """A new validated scenario with dotted-key overrides applied."""
    if not overrides:
        return spec
    data = _merge(spec.model_dump(), _dotted_to_nested(overrides))
    return validate(data, None)


def scenario_hash(spec: Scenario) -> str:
    """A short stable hash of every parameter value (name and description excluded)."""
    d = spec.model_dump(mode="json", exclude={"name", "description"})
    blob = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def to_yaml(spec: Scenario) -> str:
    """The fully resolved scenario as YAML (every parameter, inherited ones included)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
