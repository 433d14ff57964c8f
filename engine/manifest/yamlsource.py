"""YAML stage: parse rendered text into plain data plus the position of every node.

Why: pydantic and the provider models want plain ``dict``/``list``/scalars, but
every error must point at a line and column. ruamel.yaml's round-trip loader
records where each key and item stands; this module copies those positions into
a ``path -> position`` index so any field path (``devices[3].settings.pools[1]``)
can be located, falling back to the nearest existing parent node.
"""

from __future__ import annotations

import contextlib
import gc
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, CommentedSet, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from fleetform.errors import ManifestError, ManifestProblem, SourceLocation

Path = tuple[str | int, ...]
"""A field path: mapping keys (always ``str``) and sequence indexes (``int``)."""

_MAX_NODES = 1_000_000  # stops "billion laughs" alias expansion
_MAX_DEPTH = 200
_INDEXED_DEPTH = 3
_STANDARD_TAG = "tag:yaml.org,2002:"


def format_path(path: Path) -> str:
    """Render a path the way users write it: ``devices[3].settings.pools[1].url``.

    Why: one spelling in every message, in ``DeviceSpec.locations`` and in tests.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class SourceMap:
    """Turns a (line, column) of parsed text into a :class:`SourceLocation`.

    Why: the YAML parser sees rendered text; users edit the template. The map
    carries the file name as the user gave it, the rendered-to-template line
    map from the Jinja stage and an offset for snippets (the variables block).
    """

    file: str
    line_map: Sequence[int] | None = None
    line_offset: int = 0

    def at(self, line: int, column: int) -> SourceLocation:
        """Location of 1-based ``line``/``column`` of the parsed text."""
        real = line + self.line_offset
        template_line = real
        if self.line_map:
            index = min(max(real - 1, 0), len(self.line_map) - 1)
            template_line = self.line_map[index]
        return SourceLocation(self.file, real, column, template_line)

    def problem(self, line: int, column: int, message: str) -> ManifestError:
        """A one-problem :class:`ManifestError` at ``line``/``column``."""
        return ManifestError([ManifestProblem(self.at(line, column), message)])


@dataclass(frozen=True)
class NodePosition:
    """Where one node stands (1-based); ``key_*`` is set for mapping values.

    Why: "unknown key" errors point at the key, value errors at the value.
    """

    line: int
    column: int
    key_line: int | None = None
    key_column: int | None = None


@dataclass(frozen=True)
class YamlDocument:
    """Plain data of a YAML document and the position index of its nodes.

    Why: the loader validates ``data`` and asks ``locate`` for every problem.
    """

    data: Any
    positions: dict[Path, NodePosition]
    source: SourceMap

    def locate(self, path: Path, *, key: bool = False) -> SourceLocation:
        """Location of ``path`` or, if it does not exist, of its nearest parent.

        Why: a missing field has no node; the mapping that lacks it is the
        closest thing the user can look at. ``key=True`` prefers the key of a
        mapping entry (for unknown keys and missing fields).
        """
        exact = path in self.positions
        for size in range(len(path), -1, -1):
            pos = self.positions.get(path[:size])
            if pos is None:
                continue
            prefer_key = key or not exact
            if prefer_key and pos.key_line is not None and pos.key_column is not None:
                return self.source.at(pos.key_line, pos.key_column)
            return self.source.at(pos.line, pos.column)
        return self.source.at(1, 1)

    def exists(self, path: Path) -> bool:
        """True if a node stands at ``path``."""
        return path in self.positions

    @cached_property
    def _groups(self) -> dict[Path, list[Path]]:
        groups: dict[Path, list[Path]] = {}
        for path in self.positions:
            for size in range(1, min(len(path) - 1, _INDEXED_DEPTH) + 1):
                groups.setdefault(path[:size], []).append(path)
        return groups

    def positions_under(self, base: Path) -> list[Path]:
        """Every node path strictly below ``base``, in document order.

        Why: ``DeviceSpec.locations`` needs each device's settings nodes; an
        index by short prefixes keeps that linear for farms of thousands.
        """
        if 0 < len(base) <= _INDEXED_DEPTH:
            return list(self._groups.get(base, []))
        size = len(base)
        return [p for p in self.positions if len(p) > size and p[:size] == base]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, then restore it as it was.

    Why: building a 10,000-device document allocates millions of acyclic
    objects, and each allocation burst triggers a full collection that walks
    them all again: measured, that doubled parse and validation time. Nothing
    built here forms cycles, so reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _tag_of(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    return value if isinstance(value, str) else None


class _Converter:
    """Copies ruamel's round-trip tree into plain data, recording positions."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.positions: dict[Path, NodePosition] = {}
        self.nodes = 0
        self.active: set[int] = set()

    def fail(self, pos: NodePosition, message: str) -> ManifestError:
        return self.source.problem(pos.line, pos.column, message)

    def convert(self, node: Any, path: Path, pos: NodePosition) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES or len(path) > _MAX_DEPTH:
            raise self.fail(pos, "document is too large or too deeply nested (alias expansion?)")
        self.positions[path] = pos
        if isinstance(node, TaggedScalar):
            raise self.fail(pos, f"unsupported YAML tag {_tag_of(node) or '?'}; "
                                 "only standard YAML types are allowed")
        if isinstance(node, CommentedSet):
            raise self.fail(pos, "YAML sets (!!set) are not supported; use a list")
        if isinstance(node, (CommentedMap, CommentedSeq)):
            tag = _tag_of(node)
            if tag is not None and not tag.startswith(_STANDARD_TAG):
                raise self.fail(pos, f"unsupported YAML tag {tag}; "
                                     "only standard YAML types are allowed")
            if id(node) in self.active:
                raise self.fail(pos, "recursive YAML alias: a node contains itself")
            self.active.add(id(node))
            try:
                if isinstance(node, CommentedMap):
                    return self._mapping(node, path, pos)
                return self._sequence(node, path, pos)
            finally:
                self.active.discard(id(node))
        return _scalar(node)

    def _mapping(self, node: CommentedMap, path: Path, pos: NodePosition) -> dict[str, Any]:
        result: dict[str, Any] = {}
        data = node.lc.data if node.lc.data is not None else {}
        for key, value in node.items():
            name = key if isinstance(key, str) else str(_scalar(key))
            spot = data.get(key)
            child = pos if spot is None else NodePosition(
                spot[2] + 1, spot[3] + 1, spot[0] + 1, spot[1] + 1
            )
            result[name] = self.convert(value, (*path, name), child)
        return result

    def _sequence(self, node: CommentedSeq, path: Path, pos: NodePosition) -> list[Any]:
        result: list[Any] = []
        data = node.lc.data if node.lc.data is not None else {}
        for index, value in enumerate(node):
            spot = data.get(index)
            child = pos if spot is None else NodePosition(spot[0] + 1, spot[1] + 1)
            result.append(self.convert(value, (*path, index), child))
        return result


def _scalar(node: Any) -> Any:
    """Strip ruamel's scalar subclasses (ScalarFloat, HexInt, quoted strings)."""
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (list, tuple)):
        return [_scalar(item) for item in node]
    return node


def _yaml_error(exc: YAMLError, text: str, source: SourceMap) -> ManifestError:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = str(exc.problem or "invalid YAML")
        if "duplicate key" in problem:
            key = problem.split('"')[1] if problem.count('"') >= 2 else "?"
            message = f"duplicate key '{key}'"
            if exc.context_mark is not None:
                message += f" in the mapping that starts at line {exc.context_mark.line + 1}"
        elif "'\\t'" in problem:
            message = "tab character in indentation; YAML indents with spaces only"
        elif "quoted scalar" in str(exc.context or "") and exc.context_mark is not None:
            start = exc.context_mark
            return source.problem(start.line + 1, start.column + 1,
                                  "unclosed quote: this quoted string never ends")
        elif "mapping values are not allowed" in problem:
            message = (f"{problem}: check the indentation of this line, or quote a value "
                       "that contains ': '")
        else:
            message = problem
            if exc.context:
                message = f"{exc.context}: {problem}"
                if exc.context_mark is not None and exc.context_mark.line != mark.line:
                    message += f" (started at line {exc.context_mark.line + 1})"
        return source.problem(mark.line + 1, mark.column + 1, message)
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
        return source.problem(line, column, "invalid character: YAML does not allow "
                                             "control characters in a document")
    return source.problem(1, 1, "invalid YAML")


def parse_yaml(text: str, source: SourceMap) -> YamlDocument:
    """Parse ``text`` (one YAML document) into plain data with node positions.

    Why: the single place where ruamel.yaml is called, so every one of its
    failure modes (syntax errors, duplicate keys, odd tags, recursive aliases)
    becomes a located :class:`ManifestError` and nothing else escapes. Ordinary
    documents take libyaml's fast path first (:mod:`.yamlfast`), which gives the
    same data and positions ~20x faster and hands anything unusual back here.
    """
    from fleetform.manifest.yamlfast import fast_parse  # imports this module

    fast = fast_parse(text)
    if fast is not None:
        return _only_text(YamlDocument(fast[0], fast[1], source))
    yaml = YAML(typ="rt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = yaml.load(text)
    except YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    except Exception as exc:  # ruamel is not total on arbitrary input
        raise source.problem(1, 1, f"cannot parse YAML ({type(exc).__name__})") from None
    line = getattr(getattr(tree, "lc", None), "line", None)
    column = getattr(getattr(tree, "lc", None), "col", None)
    root = NodePosition((line or 0) + 1, (column or 0) + 1)
    converter = _Converter(source)
    try:
        data = converter.convert(tree, (), root)
    except RecursionError:
        raise source.problem(1, 1, "document is too deeply nested") from None
    return _only_text(YamlDocument(data, converter.positions, source))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _only_text(document: YamlDocument) -> YamlDocument:
    """Refuse strings holding lone surrogates, located.

    Why: a YAML escape such as ``"\\ud800"`` yields half of a UTF-16 pair,
    which is not text: pydantic, the state file and the terminal all fail
    on it later, far from the manifest line that caused it.
    """
    stack: list[tuple[Path, Any]] = [((), document.data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            raise _surrogate_problem(document, path, key=False)
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _LONE_SURROGATE.search(key):
                    raise _surrogate_problem(document, (*path, key), key=True)
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return document


def _surrogate_problem(document: YamlDocument, path: Path, *, key: bool) -> ManifestError:
    where = format_path(path) or "<document>"
    return ManifestError([ManifestProblem(
        document.locate(path, key=key),
        "contains a lone surrogate (an escape such as \\ud800 that is only half of a "
        "UTF-16 pair): write the character itself, or use \\U0001F600-style escapes",
        field=where,
    )])
