"""Hypothesis strategies for manifest fuzzing, built from the real schema and examples.

Why from the schema: random text mostly dies in the YAML parser; structures
generated from ``schemas/manifest.schema.json`` (the schema the loader's own
pydantic models produce) reach the validators of all three providers — the
cross-field checks (camera model capabilities, stream options, pool field
characters) — with values that are right, nearly right and wrong. Mutations
of the shipped examples and random Jinja reach the template stage, random
bytes the decoding stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
EXAMPLES: dict[str, str] = {p.name: p.read_text(encoding="utf-8")
                            for p in sorted((REPO / "examples").glob("*.yaml"))}
FUZZ_SECRET = "Fuzz-Secret-Value-8364"
ENV = {"FUZZ_SECRET": FUZZ_SECRET, "MINER_ADMIN_PASSWORD": FUZZ_SECRET,
       "SHOP_ONVIF_PASSWORD": FUZZ_SECRET}
"""The environment loads run with: every secret the examples reference is the fuzz secret."""

_JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["${env:FUZZ_SECRET}", "${env:NOT_SET}", "${env:", "{{ x }}", "",
                     "0x10", "1e400", "~", "yes", "on", "-1", "999999999999999999999"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.none(),
                                                         max_size=2),
)


def _ref(name: str) -> dict[str, Any]:
    return dict(SCHEMA["$defs"][name.rsplit("/", 1)[-1]])


def _string(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    low, high = node.get("minLength", 0), node.get("maxLength", 24)
    if "pattern" in node:
        pattern = re.compile(node["pattern"])
        return st.from_regex(pattern, fullmatch=True).filter(lambda s: low <= len(s) <= high)
    options: list[st.SearchStrategy[Any]] = [st.text(min_size=low, max_size=min(high, 24))]
    if node.get("format") == "ipv4":
        options.append(st.ip_addresses(v=4).map(str))
    if node.get("format") == "password" or node.get("writeOnly"):
        options.append(st.just("${env:FUZZ_SECRET}"))
    if "examples" in node:
        options.append(st.sampled_from([e for e in node["examples"] if isinstance(e, str)] or
                                       [""]))
    return st.one_of(options)


def _number(node: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if integer:
        inside = st.integers(min_value=None if low is None else int(low),
                             max_value=None if high is None else int(high))
        edges = [v + d for v in (low, high) if v is not None for d in (-1, 0, 1)]
        return st.one_of(inside, st.sampled_from([int(v) for v in edges] or [0]))
    return st.floats(min_value=low, max_value=high, allow_nan=False)


def _object(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    properties: dict[str, Any] = node.get("properties", {})
    required = set(node.get("required", ()))
    base = st.fixed_dictionaries(
        {k: from_schema(v, depth + 1) for k, v in properties.items() if k in required},
        optional={k: from_schema(v, depth + 1) for k, v in properties.items()
                  if k not in required},
    )
    extra = node.get("additionalProperties", True)
    if isinstance(extra, dict):
        keys = st.one_of(st.integers(-2, 200).map(str), st.text(max_size=6))
        more = st.dictionaries(keys, from_schema(extra, depth + 1), max_size=3)
        return st.tuples(base, more).map(lambda pair: {**pair[1], **pair[0]})
    if not properties:
        return st.dictionaries(st.text(max_size=6), _JUNK, max_size=3)
    # Now and then an unknown key, which the models forbid.
    return st.tuples(base, st.sampled_from([{}, {}, {}, {"unexpected": 1}])).map(
        lambda pair: {**pair[0], **pair[1]})


def _typed(node: dict[str, Any], kind: str, depth: int) -> st.SearchStrategy[Any]:
    if kind == "object":
        return _object(node, depth)
    if kind == "array":
        items = node.get("items", {})
        return st.lists(from_schema(items, depth + 1), min_size=node.get("minItems", 0),
                        max_size=min(node.get("maxItems", 4) + 1, 5))
    if kind == "string":
        return _string(node)
    if kind in ("integer", "number"):
        return _number(node, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    return st.none()


def _exact(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    """Values that follow ``node`` (before any junk is mixed in)."""
    if "$ref" in node:
        return st.deferred(lambda: from_schema(_ref(node["$ref"]), depth))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("oneOf", "anyOf"):
        if key in node:
            return st.one_of([from_schema(option, depth) for option in node[key]])
    kinds = node.get("type", "object" if "properties" in node else None)
    if kinds is None:
        return _JUNK
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return st.one_of([_typed(node, kind, depth) for kind in kinds])


def from_schema(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly schema-shaped values for ``node``; one time in eight (deeper: more) junk."""
    exact = _exact(node, depth)
    if depth > 7:
        return st.one_of(st.none(), exact)
    return st.integers(0, 7).flatmap(lambda n: _JUNK if n == 0 else exact)


def manifests_from_schema() -> st.SearchStrategy[str]:
    """Whole manifests from the schema, dumped as JSON (valid YAML) or block YAML."""
    documents = _object(SCHEMA, 0).map(_with_devices)
    return st.tuples(documents, st.booleans()).map(
        lambda pair: json.dumps(pair[0]) if pair[1] else to_block_yaml(pair[0]))


def _with_devices(document: dict[str, Any]) -> dict[str, Any]:
    document.setdefault("devices", [])
    return document


def to_block_yaml(value: Any, indent: int = 0) -> str:
    """A block-style YAML rendering (scalars as JSON, which YAML reads back as written)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        return "".join(f"{pad}{json.dumps(str(k))}:" + _child(v, indent) for k, v in value.items())
    if isinstance(value, list) and value:
        return "".join(f"{pad}-" + _child(v, indent) for v in value)
    return f"{pad}{json.dumps(value)}\n"


def _child(value: Any, indent: int) -> str:
    if isinstance(value, (dict, list)) and value:
        return "\n" + to_block_yaml(value, indent + 2)
    return " " + json.dumps(value) + "\n"


# -- mutations of the shipped examples -------------------------------------------------
_FRAGMENTS = ["{{", "}}", "{%", "%}", "{#", ":", "- ", "  ", "\t", "'", '"', "&a ", "*a",
              "!!python/object:os.system", "${env:", "${env:NOT_SET}", "\n", "#", "[", "]",
              "{", "}", "|", ">", "? ", "<<: *a", "---\n", "...\n", "\x00", "\ufeff", "é",
              "{{ range(10**9) | list }}", "{{ env('FUZZ_SECRET') }}", "%", "\\"]


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    """One of examples/*.yaml with a few line- or character-level edits."""
    lines = draw(st.sampled_from(sorted(EXAMPLES.items())))[1].split("\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, max(len(lines) - 1, 0)))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent",
                                       "insert", "replace_value", "truncate"]))
        line = lines[index] if lines else ""
        if action == "delete" and lines:
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "swap" and len(lines) > 1:
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == "indent":
            lines[index:index + 1] = ["  " + line]
        elif action == "dedent":
            lines[index:index + 1] = [line[2:]]
        elif action == "insert":
            at = draw(st.integers(0, len(line)))
            piece = draw(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)))
            lines[index:index + 1] = [line[:at] + piece + line[at:]]
        elif action == "replace_value" and ":" in line:
            key = line.split(":", 1)[0]
            value = draw(st.one_of(_JUNK.map(json.dumps), st.sampled_from(_FRAGMENTS)))
            lines[index:index + 1] = [f"{key}: {value}"]
        elif action == "truncate":
            del lines[index + 1:]
    return "\n".join(lines)


# -- random Jinja ------------------------------------------------------------------------
_JINJA = [
    "{{ x }}", "{{ farm_size }}", "{% for i in range(n) %}", "{% for i in range(3) %}",
    "{% endfor %}", "{% if x %}", "{% else %}", "{% endif %}", "{% set x = 1 %}",
    "{{ env('FUZZ_SECRET') }}", "{{ env('NOT_SET') }}", "{{ env(x) }}", "{{ env() }}",
    "{{ 'a' * 10**8 }}", "{{ 2 ** 100000 }}", "{{ range(10**10) | list }}", "{{ 1 / 0 }}",
    "{{ ''.__class__.__mro__ }}", "{{ self }}", "{{ cycler }}", "{{ lipsum() }}",
    "{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'base' %}", "{% macro m() %}",
    "{% endmacro %}", "{{ m() }}", "{% raw %}", "{% endraw %}", "{# comment", "#}",
    "{{ x | int }}", "{{ x | nosuchfilter }}", "{{ [1,2][5] }}", "{{ {'a': 1}.b.c }}",
    "{{ '%d' % 'x' }}", "{{ '%s' % x }}", "{{ x.y }}", "{% for %}", "{{", "}}", "{%", "%}",
    "\x1e", "\x1f", "{% filter upper %}", "{% endfilter %}", "{{ caller() }}",
    "{% call m() %}{% endcall %}", "{{ namespace() }}", "{{ x is defined }}",
    "{{ 'x' ~ (x or '') }}", "{{ (1, 2) * 10**7 }}",
]
_YAML_BITS = ["devices:\n", "  - name: m{{ i }}\n", "    provider: antminer\n",
              "    provider: aver\n", "    provider: turretcam\n",
              "    connection: {host: 127.0.0.1}\n", "    settings: {}\n",
              "variables:\n  x: 1\n  n: 2\n", "variables: {farm_size: 2}\n", "\n", "  ", ": "]


def random_jinja() -> st.SearchStrategy[str]:
    """Text mixing Jinja constructs (valid, broken, hostile) with manifest lines."""
    return st.lists(st.sampled_from(_JINJA + _YAML_BITS), max_size=24).map("".join)


def random_bytes() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and valid text with a stray byte or a BOM."""
    sample = next(iter(EXAMPLES.values())).encode()
    return st.one_of(
        st.binary(max_size=300),
        st.tuples(st.integers(0, len(sample)), st.binary(min_size=1, max_size=3)).map(
            lambda pair: sample[:pair[0]] + pair[1] + sample[pair[0]:]),
        st.just(b"\xef\xbb\xbf" + sample), st.just(sample.decode().encode("utf-16")),
    )


def var_assignments() -> st.SearchStrategy[list[str]]:
    """``--var`` arguments, well- and badly formed."""
    return st.lists(st.one_of(
        st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["x", "n", "farm_size", "1x", ""]),
                  st.one_of(st.text(max_size=8), _JUNK.map(json.dumps))),
        st.text(max_size=10)), max_size=3)
