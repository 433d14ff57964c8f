"""Fast path of the YAML stage: libyaml composes, fleetform converts, ruamel judges.

Why: ruamel.yaml's round-trip loader is pure Python and costs ~2-3 ms per
device, so a 10,000-miner manifest spent most of its load time in the parser.
PyYAML's C parser (libyaml) composes the same document into nodes that keep
each node's start line and column, which is all :class:`YamlDocument` needs.

The fast path is deliberately narrow, so its result is always exactly what the
ruamel path would give: plain scalars are resolved with YAML 1.2 core rules
(not PyYAML's 1.1 ones, where ``on`` is a boolean), and anything that is not
ordinary — an explicit tag, an alias, a merge key, a duplicate key, a
timestamp, an unusual number, a ``%YAML`` directive, a syntax error — returns
``None`` and the caller parses the text again with ruamel, which produces the
value or the located error message the tests pin down.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from fleetform.manifest.yamlsource import NodePosition, Path

_PLAIN = "fleetform:plain"
_QUOTED = "fleetform:quoted"
_MAP = "fleetform:map"
_SEQ = "fleetform:seq"

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True,
          "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
# Everything else YAML 1.2 (ruamel's resolver) would turn into a non-string:
# other number spellings, .inf/.nan, timestamps, the merge key and '='.
_SPECIAL = re.compile(r"""
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)
    |[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?.*
    |<<|=
""", re.X)
_SPECIAL_START = frozenset("-+0123456789.<=")
_MAX_NODES = 1_000_000
_MAX_DEPTH = 200


class _Unusual(Exception):
    """The document leaves the fast path's subset; parse it with ruamel instead."""


def _load_parser() -> Any:
    """PyYAML's libyaml-backed parser class, or None without a C build of PyYAML."""
    try:
        module = importlib.import_module("yaml")
    except ImportError:
        return None
    if not getattr(module, "__with_libyaml__", False):
        return None
    nodes = importlib.import_module("yaml.nodes")
    base = importlib.import_module("yaml._yaml").CParser

    class MarkedComposer(base):  # type: ignore[misc, valid-type]
        """libyaml composer whose resolver only says how a node was written.

        Why: PyYAML's own resolver applies YAML 1.1 (``on`` → true, ``0777``
        octal); marking plain and quoted scalars lets :func:`_plain` apply
        YAML 1.2 exactly as ruamel does. Explicit tags keep their own tag.
        """

        def descend_resolver(self, parent: Any, index: Any) -> None:
            """Path-based resolvers are not used."""

        def ascend_resolver(self) -> None:
            """Path-based resolvers are not used."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            """The marker tag saying how an untagged node was written."""
            if kind is nodes.ScalarNode:
                return _PLAIN if implicit[0] else _QUOTED
            return _MAP if kind is nodes.MappingNode else _SEQ

    return MarkedComposer


_COMPOSER = _load_parser()


def available() -> bool:
    """True when a C-accelerated PyYAML is installed (else ruamel does everything)."""
    return _COMPOSER is not None


def _plain(value: str) -> Any:
    """YAML 1.2 core value of a plain scalar, or :class:`_Unusual` for rare spellings."""
    if value in _NULLS:
        return None
    flag = _BOOLS.get(value)
    if flag is not None:
        return flag
    if value[0] in _SPECIAL_START:
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            return float(value)
        if _SPECIAL.fullmatch(value):
            raise _Unusual
    return value


class _Converter:
    """Copies a libyaml node tree into plain data, recording every node's position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.positions: dict[Path, NodePosition] = {}
        self.seen: set[int] = set()

    def convert(self, node: Any, path: Path, pos: NodePosition) -> Any:
        if len(self.positions) >= _MAX_NODES or len(path) > _MAX_DEPTH:
            raise _Unusual  # ruamel reports it, located
        if id(node) in self.seen:
            raise _Unusual  # an alias: ruamel's positions for it differ in detail
        self.seen.add(id(node))
        self.positions[path] = pos
        tag = node.tag
        if tag == _PLAIN:
            return _plain(node.value)
        if tag == _QUOTED:
            if node.style not in ("'", '"'):
                raise _Unusual  # a block scalar: ruamel is stricter about its header
            return node.value
        if tag == _MAP:
            return self._mapping(node, path)
        if tag == _SEQ:
            return self._sequence(node, path)
        raise _Unusual  # an explicit tag

    def _mapping(self, node: Any, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        keys: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _PLAIN and key_node.value:
                key = _plain(key_node.value)
            elif key_node.tag == _QUOTED:
                key = key_node.value
            else:
                raise _Unusual  # complex or tagged key
            name = key if isinstance(key, str) else str(key)
            if name in result or key in keys:
                raise _Unusual  # ruamel reports the duplicate key (1 and true are equal)
            keys.add(key)
            key_mark, value_mark = key_node.start_mark, value_node.start_mark
            line, column = value_mark.line, value_mark.column
            if value_node.tag == _PLAIN and value_node.value == "":
                if self.text[value_mark.index - 1:value_mark.index] != ":":
                    raise _Unusual  # e.g. an explicit '? key' without a value
                line, column = _next_token(self.text, value_mark.index, line, column,
                                           key_mark.column)
            child = NodePosition(line + 1, column + 1, key_mark.line + 1, key_mark.column + 1)
            result[name] = self.convert(value_node, (*path, name), child)
        return result

    def _sequence(self, node: Any, path: Path) -> list[Any]:
        result: list[Any] = []
        for index, item in enumerate(node.value):
            mark = item.start_mark
            child = NodePosition(mark.line + 1, mark.column + 1)
            result.append(self.convert(item, (*path, index), child))
        return result


def _next_token(text: str, index: int, line: int, column: int,
                key_column: int) -> tuple[int, int]:
    """(line, column), 0-based, where ruamel places an empty value found at ``index``.

    Why: for an empty value (``key:`` then a newline) libyaml marks the spot
    after the colon, ruamel the next token — except when a comment follows on
    the key's line and the next token is a sibling key, where it stays after
    the colon as libyaml does. Errors must point where they always did.
    """
    start, size = (line, column), len(text)
    ahead = index
    while ahead < size and text[ahead] == " ":
        ahead += 1
    commented = text[ahead:ahead + 1] == "#"
    while index < size:
        char = text[index]
        if char == "#":
            end = text.find("\n", index)
            end = size if end < 0 else end
            column += end - index
            index = end
            continue
        if char == "\n":
            line, column = line + 1, 0
        elif char != " ":
            break
        else:
            column += 1
        index += 1
    sibling = index < size and column == key_column
    return start if commented and sibling else (line, column)


def fast_parse(text: str) -> tuple[Any, dict[Path, NodePosition]] | None:
    """Plain data and node positions of ``text``, or None to use the ruamel path.

    Why None rather than an error: every problem (syntax, duplicates, odd
    tags) is reported by the ruamel path, so its messages stay the only ones.
    """
    if _COMPOSER is None or "%" in text[:1] or "\n%" in text or "\t" in text or "\r" in text:
        # no libyaml, a directive (%YAML 1.1 changes the rules), or a tab or CR,
        # which ruamel treats differently from libyaml in places
        return None
    try:
        parser = _COMPOSER(text)
        try:
            root = parser.get_single_node()
        finally:
            parser.dispose()
        if root is None or root.tag not in (_MAP, _SEQ):
            return None
        converter = _Converter(text)
        mark = root.start_mark
        data = converter.convert(root, (), NodePosition(mark.line + 1, mark.column + 1))
    except (_Unusual, RecursionError):
        return None
    except Exception:  # libyaml's errors (and anything odd): ruamel explains them
        return None
    return data, converter.positions
