"""Scenario files: YAML -> a validated, frozen ``Scenario``.

A scenario file holds parameter groups (``platform:``, ``research:`` ...) with only the keys
it changes; ``extends: other.yaml`` (relative to the file) inherits another file first.
Unknown keys, wrong types, out-of-range, infinite or absurd values, missing, malformed,
oversized, non-UTF-8 or empty files, duplicate keys, unsafe names and levers that start
after the run ends all raise ``ScenarioError`` naming the file, the key and what is allowed.
Files are read by ``sim.yamlio``; messages quote at most a short excerpt of a value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim import yamlio
from sim.errors import ScenarioError
from sim.params import NAME_PATTERN, Scenario, Spec

#: Where named scenarios ("baseline") are looked up: ./scenarios, then the repository's.
SCENARIO_DIRS: tuple[Path, ...] = (
    Path("scenarios"),
    Path(__file__).resolve().parent.parent / "scenarios",
)


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
        data = yamlio.load_file(path)
    except yamlio.YamlInputError as e:
        raise ScenarioError(path, e.problem) from None
    if data is None or data == {}:
        raise ScenarioError(
            path,
            "the file is empty: an empty scenario would be the uncalibrated defaults, not "
            "the baseline; write `extends: baseline.yaml` and the keys it changes",
        )
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
        parts = str(key).replace("__", ".").split(".")
        d = nested
        for i, p in enumerate(parts[:-1]):
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                where = ".".join(parts[: i + 1])
                raise ScenarioError(
                    None, f"is given a value and also keys inside it ({key})", key=where
                )
        if isinstance(value, Mapping) and isinstance(d.get(parts[-1], {}), Mapping):
            d[parts[-1]] = _merge(dict(d.get(parts[-1], {})), value)
        else:
            d[parts[-1]] = value
    return nested


def _refine_key(loc: tuple[str, ...], message: str) -> tuple[str, ...]:
    """A group-level error that names one of the group's keys is reported at that key."""
    if len(loc) != 1:
        return loc
    field = Scenario.model_fields.get(loc[0])
    cls = field.annotation if field is not None else None
    if not (isinstance(cls, type) and issubclass(cls, Spec)):
        return loc
    named = [k for k in cls.model_fields if re.search(rf"(?<![\w.]){re.escape(k)}\b", message)]
    return (*loc, named[0]) if len(named) == 1 else loc


def safe_name(text: str, fallback: str = "scenario") -> str:
    """``text`` made into an allowed scenario name (``sim.params.NAME_RULE``)."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text)
    name = re.sub(r"\.\.+", ".", name).strip("_.-")[:64]
    return name if NAME_PATTERN.fullmatch(name) else fallback


def _explain(e: ValidationError) -> tuple[str | None, str]:
    """The dotted key and a bounded message for the first error of a validation."""
    err = e.errors(include_url=False)[0]
    loc = tuple(yamlio.clip(str(p), 60) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        group = f"'{'.'.join(loc[:-1])}'" if loc[:-1] else "the top level"
        msg = f"unknown key; allowed keys in {group}: {', '.join(allowed)}"
    else:
        msg = yamlio.clip(err["msg"], 600)
        if err["type"] == "value_error":  # the check's own message names its values
            loc = _refine_key(loc, msg.removeprefix("Value error, "))
            msg = msg.removeprefix("Value error, ")
        else:
            msg += f" (got {yamlio.excerpt(err.get('input'))})"
        if err["type"] == "model_type" and len(loc) == 1:
            msg += f"; allowed keys in '{loc[0]}': {', '.join(allowed_keys(loc))}"
    more = f" (and {e.error_count() - 1} more errors)" if e.error_count() > 1 else ""
    return ".".join(loc) or None, msg + more


def validate(data: Mapping[str, Any], file: str | Path | None = None) -> Scenario:
    """Validate a nested mapping into a ``Scenario`` or raise ``ScenarioError``."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        key, msg = _explain(e)
        raise ScenarioError(file, msg, key=key) from None


def _blame(file: Path, key: str | None, overrides: Mapping[str, Any]) -> str:
    """The file, or the override that set ``key`` (``--set``, ``--scale``) and the file."""
    for k, v in overrides.items():
        dotted = str(k).replace("__", ".")
        if key is not None and (key == dotted or key.startswith(dotted + ".")):
            return f"override {yamlio.clip(dotted, 80)}={yamlio.excerpt(v, 40)} (on {file})"
    return str(file)


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
        data["name"] = safe_name(file.stem)
    extra = {**(overrides or {}), **kw_overrides}
    if extra:
        data = _merge(data, _dotted_to_nested(extra))
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        key, msg = _explain(e)
        raise ScenarioError(_blame(file, key, extra), msg, key=key) from None


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
    """A new validated scenario with dotted-key overrides applied.

    Validated even without overrides, so that a ``Scenario`` changed without validation
    (``model_copy(update=...)``) cannot carry an unsafe name or value into a run.
    """
    data = _merge(spec.model_dump(), _dotted_to_nested(overrides or {}))
    return validate(data, None)


def scenario_hash(spec: Scenario) -> str:
    """A short stable hash of every parameter value (name and description excluded)."""
    d = spec.model_dump(mode="json", exclude={"name", "description"})
    blob = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def to_yaml(spec: Scenario) -> str:
    """The fully resolved scenario as YAML (every parameter, inherited ones included)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
