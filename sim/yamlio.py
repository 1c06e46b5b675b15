"""The one YAML reader for input files: scenarios, calibration targets and priors, sweeps.

Plain ``yaml.safe_load`` accepts much that an input file should not hold. This reader
refuses, with a :class:`YamlInputError` naming the source and (where it has one) the line:

- files over ``MAX_BYTES`` (input files are a few KB) and files that are not UTF-8 text;
- duplicate keys in a mapping (``safe_load`` silently keeps the last);
- tags such as ``!!python/object`` (only plain YAML: ``safe_load`` refuses them too);
- aliases that would add more than ``MAX_NODES`` values once followed (an "alias bomb" of
  nested ``*anchor`` references), recursive aliases, and nesting deeper than ``MAX_DEPTH``:
  the check runs on the parsed node graph, before anything is built, so it takes time in
  proportion to the file, not to the expanded structure. A long plain list is not a bomb:
  only the values that aliases add count (the file size limit bounds the rest);
- malformed YAML, with its line and column, as before.

Plain scalars are resolved as in YAML 1.2's core schema, not YAML 1.1's: only ``true`` and
``false`` (also ``True``, ``TRUE`` ...) are booleans, so ``yes``, ``no``, ``on``, ``off``,
``y`` and ``n`` stay text (a scenario's boolean parameters refuse them and ask for true or
false); integers are decimal (``010`` is 10), ``0o17`` or ``0x1f``, and floats need a digit
and a dot or an exponent (``1e6`` is a float). Sexagesimal numbers are gone: ``12:30:00``
is the text "12:30:00", never 45000. As a convenience ``_`` may group digits (``10_000``).
Dates (``2020-01-31``) are still read as dates.

Callers turn the error into their own (``ScenarioError``, ``CalibrationError``,
``BatchError``) with ``e.problem``, the message without the source.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from sim.errors import PilotsimError

#: Largest input file read, in bytes (the largest committed input file is under 5 KB).
MAX_BYTES = 1_000_000
#: Most values (scalars, lists, mappings) that following aliases (``*name``) may add.
MAX_NODES = 100_000
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 50
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: A key a message may quote: a word, not a line of some other file.
KEY_LIKE = re.compile(r"[A-Za-z0-9_\-]{1,60}")
_BOOL_TAG, _INT_TAG, _FLOAT_TAG = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float"))
_DIGITS = r"[0-9]+(?:_[0-9]+)*"
#: YAML 1.2 core schema resolvers (with ``_`` digit groups), replacing YAML 1.1's.
_CORE_RESOLVERS: tuple[tuple[str, str, str], ...] = (
    (_BOOL_TAG, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        _INT_TAG,
        rf"^(?:[-+]?{_DIGITS}|0o[0-7]+(?:_[0-7]+)*|0x[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)$",
        "-+0123456789",
    ),
    (
        _FLOAT_TAG,
        rf"^(?:[-+]?(?:\.{_DIGITS}|{_DIGITS}\.(?:{_DIGITS})?|{_DIGITS})(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
)


class YamlInputError(PilotsimError, ValueError):
    """An input file or text that is not acceptable YAML; ``problem`` is the message alone."""

    def __init__(self, source: str | Path, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys, stops composing past ``MAX_DEPTH`` and
    resolves booleans and numbers by YAML 1.2's core schema (module docstring)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # unhashable: the base class reports it
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                shown = excerpt(key) if KEY_LIKE.fullmatch(str(key)) else "(not shown)"
                raise _DuplicateKey(  # a key that is no parameter name may be a foreign line
                    problem=f"duplicate key {shown} at line {line} (first at line "
                    f"{first}); each key may appear once in a mapping",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: Node) -> int:
    """An integer of the core schema: decimal (leading zeros allowed), ``0o`` or ``0x``."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in _CORE_RESOLVERS:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Loader.add_constructor(_INT_TAG, _construct_int)


def excerpt(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, without building the whole repr.

    For error messages: a value echoed back is never longer than this, however large it is.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 2, 4, 6, 6, 6
    r.maxstring, r.maxother, r.maxlong = limit, limit, 40
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to at most ``limit`` characters (for messages that quote input)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_graph(root: Node) -> None:
    """Refuse recursive aliases, deep nesting and aliases adding more than ``MAX_NODES`` values.

    Each distinct node is sized once (memoised), so this takes time in proportion to the
    file; the expanded size less the number of distinct nodes is what the aliases add.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ValueError(
                f"recursive alias at line {node.start_mark.line + 1}: an anchor is used "
                "inside itself"
            )
        if depth > MAX_DEPTH:
            raise ValueError(
                f"nested more than {MAX_DEPTH} levels deep at line {node.start_mark.line + 1}"
            )
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        open_nodes.add(key)
        total = 1
        for child in children:
            total += size(child, depth + 1)
        open_nodes.discard(key)
        sizes[key] = total
        return total

    if size(root, 0) - len(sizes) > MAX_NODES:
        raise ValueError(
            f"aliases (*name) add more than {MAX_NODES:,} values once followed; input files "
            "are small, so this looks like an alias bomb"
        )


def _problem(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(e, "problem", None) or str(e)
    if isinstance(e, _DuplicateKey):
        return problem
    if problem.startswith("nested more than"):
        return f"{problem}{at}"
    if problem.startswith("could not determine a constructor for the tag"):
        tag = problem.rsplit(" ", 1)[-1]
        return (
            f"tag {clip(tag, 120)}{at} is not allowed: input files are "
            "plain YAML (no !!python or other tags)"
        )
    return f"malformed YAML{at}: {clip(problem, 300)}"


def loads(text: str, source: str | Path = "<text>") -> Any:
    """Parse YAML text with the checks above; ``None`` for an empty document."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            _check_graph(node)
        except ValueError as e:
            raise YamlInputError(source, str(e)) from None
        try:
            return loader.construct_document(node)
        except (ValueError, TypeError, OverflowError) as e:  # e.g. a date 2020-02-30
            raise YamlInputError(source, f"cannot read a value: {clip(str(e))}") from None
    except yaml.YAMLError as e:
        raise YamlInputError(source, _problem(e)) from None
    except RecursionError:
        raise YamlInputError(source, f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_file(path: str | Path, max_bytes: int = MAX_BYTES) -> Any:
    """Read and parse a UTF-8 YAML file of at most ``max_bytes``; ``None`` if empty.

    The caller checks that the file exists (its message can list alternatives).
    """
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise YamlInputError(p, f"cannot read the file ({e.strerror or e})") from None
    if len(raw) > max_bytes:
        raise YamlInputError(
            p, f"file is over {max_bytes:,} bytes, the limit for an input file (they are a few KB)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise YamlInputError(
            p,
            f"not UTF-8 text: byte 0x{raw[e.start]:02x} at line {line} (byte {e.start}); "
            "save the file as UTF-8",
        ) from None
    return loads(text, p)
