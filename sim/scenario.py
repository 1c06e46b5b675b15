"""Scenario files: YAML -> a validated, frozen ``Scenario``.

A scenario file holds parameter groups (``platform:``, ``research:`` ...) with only the keys
it changes; ``extends: other.yaml`` (relative to the file) inherits another file first.
Unknown keys, wrong types, out-of-range, infinite or absurd values, missing, malformed,
oversized, non-UTF-8 or empty files, duplicate keys, unsafe names and levers that start
after the run ends all raise ``ScenarioError`` naming the file that holds the key (a parent
file for an inherited key; the ``--set`` or other override that set it), the key and what is
allowed. Files are read by ``sim.yamlio``; messages quote at most a short excerpt of a value.

Which files are read: a scenario file ends in ``.yaml`` or ``.yml``; the file given (by
name in ``scenarios/`` or by path) may be anywhere, but ``extends:`` resolves only to files
inside the scenario folder tree: the scenario folders (``SCENARIO_DIRS``), the calibration
folders (``baseline.yaml`` extends ``../calibration/calibrated.yaml``) and the folder of the
file given, with their subfolders (symbolic links are followed first). Anything else is
refused before it is opened, so an error never quotes a foreign file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from sim import yamlio
from sim.errors import ScenarioError
from sim.params import NAME_PATTERN, Scenario, Spec

_REPO = Path(__file__).resolve().parent.parent
#: Where named scenarios ("baseline") are looked up: ./scenarios, then the repository's.
SCENARIO_DIRS: tuple[Path, ...] = (Path("scenarios"), _REPO / "scenarios")
#: Folders (with subfolders) whose scenario files any scenario may extend, besides the folder
#: of the file given: the scenario folders and the calibration folders, which hold the
#: committed calibration that ``scenarios/baseline.yaml`` extends.
EXTENDS_DIRS: tuple[Path, ...] = (*SCENARIO_DIRS, Path("calibration"), _REPO / "calibration")
#: The endings of a scenario file's name.
SCENARIO_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
#: A key an error message may quote: an identifier-like word (a foreign file's line is not).
_KEY_LIKE = yamlio.KEY_LIKE
#: Override keys that may not be set: they are not parameters.
_FILE_ONLY_KEYS = ("extends",)


def allowed_keys(path: tuple[str, ...] = (), in_file: bool = True) -> list[str]:
    """Keys allowed at a dotted location (``()`` for the top level).

    ``extends`` is allowed at the top level of a file, not as an override (``in_file``).
    """
    cls: type[BaseModel] = Scenario
    for part in path:
        field = cls.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, Spec)
        ):
            return []
        cls = field.annotation
    keys = list(cls.model_fields)
    return ["extends", *keys] if not path and in_file else keys


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
    if not all(_KEY_LIKE.fullmatch(part) for key in _flatten(data) for part in key):
        raise ScenarioError(  # e.g. a line of a file that is not a scenario: not quoted
            path,
            "not a valid scenario: it holds a key that is not a parameter name (not shown); "
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


#: Where each key of a merged scenario came from: dotted key (as a tuple) -> file.
Sources = dict[tuple[str, ...], Path]


def _inside(path: Path, dirs: Iterable[Path]) -> bool:
    """Whether ``path`` (resolved) is in one of ``dirs`` (resolved) or their subfolders."""
    return any(path.is_relative_to(d.resolve()) for d in dirs)


def _flatten(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The dotted keys (as tuples) of the values in a nested mapping."""
    keys: list[tuple[str, ...]] = []
    for k, v in data.items():
        key = (*prefix, str(k))
        keys.extend(_flatten(v, key) if isinstance(v, Mapping) and v else [key])
    return keys


def _load_tree(
    path: Path, roots: tuple[Path, ...], chain: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], Sources]:
    """The merged data of a file and its ``extends:`` chain, and which file set each key.

    ``extends:`` may name only a ``.yaml``/``.yml`` file inside ``roots`` (module docstring).
    """
    path = path.resolve() if path.exists() else path
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[-1], f"extends cycle: {cycle}", key="extends")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    own = _flatten(data)
    if parent is None:
        return data, dict.fromkeys(own, path)
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(path, "must be a file name (string)", key="extends")
    shown = yamlio.clip(parent, 120)
    parent_path = path.parent / parent
    if parent_path.suffix not in SCENARIO_SUFFIXES:
        raise ScenarioError(
            path,
            f"'{shown}' is not a scenario file: a scenario extends a YAML scenario file "
            f"whose name ends in {' or '.join(SCENARIO_SUFFIXES)}",
            key="extends",
        )
    if not _inside(parent_path.resolve(), roots):
        where = ", ".join(dict.fromkeys(str(d.resolve()) for d in roots if d.is_dir()))
        raise ScenarioError(
            path,
            f"'{shown}' is outside the scenario folders, so it is not read: a scenario may "
            f"extend only files in {where} (or their subfolders); copy the file there",
            key="extends",
        )
    if not parent_path.is_file():
        raise ScenarioError(path, f"file '{shown}' not found next to it", key="extends")
    base, sources = _load_tree(parent_path, roots, (*chain, path))
    for key in own:  # a key set here replaces what the parent set at or inside it
        for k in [k for k in sources if k[: len(key)] == key]:
            del sources[k]
        sources[key] = path
    return _merge(base, data), sources


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


def _field_kind(annotation: Any) -> str | None:
    """``"bool"`` or ``"number"`` for a parameter's type, also inside ``X | None``, tuples and
    dicts of numbers; ``None`` for anything else."""
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    args = [a for a in get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if get_origin(annotation) is dict:
        args = args[1:]
    kinds = {_field_kind(a) for a in args}
    return kinds.pop() if len(kinds) == 1 else None


def _type_problem(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first value of the wrong kind that pydantic's lax mode would accept silently.

    A boolean parameter given text (``yes``, ``on`` are text in YAML 1.2, and pydantic
    would read them as true) and a number parameter given a boolean (``true`` would be 1).
    """
    for group, values in data.items():
        field = Scenario.model_fields.get(str(group))
        cls = field.annotation if field is not None else None
        if not (isinstance(cls, type) and issubclass(cls, Spec) and isinstance(values, Mapping)):
            continue
        for name, value in values.items():
            f = cls.model_fields.get(str(name))
            kind = _field_kind(f.annotation) if f is not None else None
            items = value.values() if isinstance(value, Mapping) else value
            for v in items if isinstance(value, (Mapping, list, tuple)) else (value,):
                if kind == "bool" and isinstance(v, str):
                    return f"{group}.{name}", (
                        f"must be a boolean, true or false (got {yamlio.excerpt(v, 40)}); "
                        "yes, no, on and off are text, not booleans, in pilotsim's input "
                        "files (YAML 1.2)"
                    )
                if kind == "number" and isinstance(v, bool):
                    return f"{group}.{name}", (
                        f"must be a number, got the boolean {str(v).lower()} (read as "
                        f"{int(v)} it would change the result silently)"
                    )
    return None


class _Invalid(Exception):
    """A failed validation: the dotted key, the message, and the check's own message (the
    text of a cross-field rule, which may name the other keys involved; else empty)."""

    def __init__(self, key: str | None, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.key, self.message, self.rule = key, message, rule


def _explain(e: ValidationError) -> _Invalid:
    """The dotted key and a bounded message for the first error of a validation."""
    err = e.errors(include_url=False)[0]
    loc = tuple(yamlio.clip(str(p), 60) for p in err["loc"])
    rule = ""
    if err["type"] == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        group = f"'{'.'.join(loc[:-1])}'" if loc[:-1] else "the top level"
        msg = f"unknown key; allowed keys in {group}: {', '.join(allowed)}"
        if not all(_KEY_LIKE.fullmatch(p) for p in loc):  # e.g. a line of a foreign file
            loc = tuple(p for p in loc[:-1] if _KEY_LIKE.fullmatch(p))
            msg = (
                "not a valid scenario: it holds a key that is not a parameter name (not "
                f"shown); allowed keys in {group}: {', '.join(allowed)}"
            )
    else:
        msg = yamlio.clip(err["msg"], 600)
        if err["type"] == "value_error":  # the check's own message names its values
            rule = msg.removeprefix("Value error, ")
            loc = _refine_key(loc, rule)
            msg = rule
        else:
            msg += f" (got {yamlio.excerpt(err.get('input'))})"
        if err["type"] == "model_type" and len(loc) == 1:
            msg += f"; allowed keys in '{loc[0]}': {', '.join(allowed_keys(loc))}"
    more = f" (and {e.error_count() - 1} more errors)" if e.error_count() > 1 else ""
    return _Invalid(".".join(loc) or None, msg + more, rule)


def _model(data: Mapping[str, Any]) -> Scenario:
    """``Scenario.model_validate`` with the strict checks of ``_type_problem``.

    Raises:
        _Invalid: the key and message of the first problem.
    """
    found = _type_problem(data)
    if found is not None:
        raise _Invalid(*found)
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise _explain(e) from None


def validate(data: Mapping[str, Any], file: str | Path | None = None) -> Scenario:
    """Validate a nested mapping into a ``Scenario`` or raise ``ScenarioError``."""
    try:
        return _model(data)
    except _Invalid as e:
        raise ScenarioError(file, e.message, key=e.key) from None


def _involved(e: _Invalid) -> tuple[tuple[str, ...], set[tuple[str, ...]]]:
    """The failing key as a tuple, and the keys the rule's message names (``group.key``, or a
    bare key of the failing group)."""
    loc = tuple(e.key.split(".")) if e.key else ()
    named = {tuple(k.split(".")) for k in re.findall(r"\b[a-z_]+\.[a-z_0-9]+\b", e.rule)}
    field = Scenario.model_fields.get(loc[0]) if loc else None
    cls = field.annotation if field is not None else None
    if e.rule and isinstance(cls, type) and issubclass(cls, Spec):
        bare = (k for k in cls.model_fields if re.search(rf"(?<![\w.]){k}\b", e.rule))
        named |= {(loc[0], k) for k in bare}
    return loc, named


def _blame(
    file: str | Path,
    e: _Invalid,
    sources: Sources,
    overrides: Mapping[str, Any],
    origins: Mapping[str, str] | None = None,
) -> str:
    """Who set the failing key: the overrides that set it or a key its rule names (how the
    user wrote them, from ``origins``: ``--set k=v``, ``--scale 0.1``), else the files that
    hold it (a parent file for an inherited key), else ``file``."""
    loc, named = _involved(e)

    def overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        return a[: len(b)] == b or b[: len(a)] == a

    def related(keys: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
        if named:  # a rule that names its keys: those, wherever the failure is reported
            return [k for k in keys if any(overlap(k, n) for n in named)]
        return [k for k in keys if loc and overlap(k, loc)]

    dotted = {tuple(str(k).replace("__", ".").split(".")): k for k in overrides}
    hit = related(dotted)
    if hit:
        shown = []
        for k in hit:
            raw = dotted[k]
            value = yamlio.excerpt(overrides[raw], 40)
            default = f"override {yamlio.clip('.'.join(k), 80)}={value}"
            shown.append((origins or {}).get(str(raw), default))
        return f"{', '.join(dict.fromkeys(shown))} (on {file})"
    files = dict.fromkeys(str(sources[k]) for k in related(sources))
    return " and ".join(files) if files else str(file)


def load_scenario(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    origins: Mapping[str, str] | None = None,
    **kw_overrides: Any,
) -> Scenario:
    """Load, merge ``extends:`` chains, apply overrides, validate.

    Args:
        path: a YAML file (``.yaml``/``.yml``), or a scenario name found in ``scenarios/``.
        overrides: dotted keys, e.g. ``{"platform.enabled": True}``.
        origins: how the user wrote each override, by its key (e.g. ``"--set k=v"``), for
            messages; default ``override k=v``.
        **kw_overrides: the same as keywords: ``platform__enabled=True`` or
            ``platform={"enabled": True}``.
    """
    file = resolve_path(path)
    for p in {file, file.resolve()}:
        if p.suffix not in SCENARIO_SUFFIXES:
            raise ScenarioError(
                file,
                "not a scenario file: scenario files are YAML files whose names end in "
                f"{' or '.join(SCENARIO_SUFFIXES)}; the file is not read",
            )
    roots = (*EXTENDS_DIRS, file.resolve().parent)
    data, sources = _load_tree(file, roots)
    if "name" not in data:
        data["name"] = safe_name(file.stem)
    extra = {**(overrides or {}), **kw_overrides}
    if extra:
        data = _merge(data, _overrides_nested(extra, file, origins))
    try:
        return _model(data)
    except _Invalid as e:
        raise ScenarioError(_blame(file, e, sources, extra, origins), e.message, e.key) from None


def _overrides_nested(
    overrides: Mapping[str, Any], file: str | Path, origins: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``_dotted_to_nested`` of overrides; an unknown group, or ``extends`` (which only a file
    may hold), is refused here, naming the override and listing the keys it may set."""
    nested = _dotted_to_nested(overrides)
    allowed = allowed_keys(in_file=False)
    for key in nested:
        if key in allowed:
            continue
        raw = next(k for k in overrides if str(k).replace("__", ".").split(".")[0] == key)
        value = yamlio.excerpt(overrides[raw], 40)
        who = (origins or {}).get(str(raw), f"override {yamlio.clip(str(raw), 80)}={value}")
        why = (
            "is not a parameter and cannot be overridden: it names the file a scenario "
            "inherits, so it is written in a scenario file (a small file with "
            "`extends: <file>` and the keys it changes)"
            if key in _FILE_ONLY_KEYS
            else "unknown key"
        )
        raise ScenarioError(
            f"{who} (on {file})",
            f"{why}; allowed keys in the top level: {', '.join(allowed)}",
            key=yamlio.clip(key, 60),
        )
    return nested


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
    overrides = overrides or {}
    on = f"scenario '{spec.name}'"
    data = _merge(spec.model_dump(), _overrides_nested(overrides, on))
    try:
        return _model(data)
    except _Invalid as e:
        raise ScenarioError(_blame(on, e, {}, overrides), e.message, e.key) from None


def scenario_hash(spec: Scenario) -> str:
    """A short stable hash of every parameter value (name and description excluded)."""
    d = spec.model_dump(mode="json", exclude={"name", "description"})
    blob = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def to_yaml(spec: Scenario) -> str:
    """The fully resolved scenario as YAML (every parameter, inherited ones included)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
