"""The Jinja stage: rendering, the rendered→template line map and the sandbox."""

from __future__ import annotations

import pytest

from fleetform.errors import ManifestError
from fleetform.manifest.template import extract_variables, render_template, strip_markers


def render(source: str, **variables: object) -> list[tuple[int, str]]:
    """(template line, rendered line) pairs."""
    result = render_template(source, file="t.yaml", variables=variables, environ={"SET": "v"})
    lines = result.text.split("\n")
    assert len(lines) == len(result.line_map)
    return list(zip(result.line_map, lines, strict=True))


def test_identity_without_jinja() -> None:
    source = "a: 1\n\nb:\n  - c\n  - d\n"
    result = render_template(source, file="t", variables={}, environ={})
    assert result.text == source
    assert result.line_map == (1, 2, 3, 4, 5, 6)


def test_loop_maps_every_iteration_to_the_loop_body() -> None:
    source = (
        "top: 1\nitems:\n{% for i in range(3) %}\n  - n: {{ i }}\n    k: v\n{% endfor %}\nend: 1\n"
    )
    assert render(source) == [
        (1, "top: 1"), (2, "items:"),
        (4, "  - n: 0"), (5, "    k: v"),
        (4, "  - n: 1"), (5, "    k: v"),
        (4, "  - n: 2"), (5, "    k: v"),
        (7, "end: 1"), (8, ""),
    ]


def test_trim_and_lstrip_blocks_with_if() -> None:
    source = "a:\n  {% if flag %}\n  b: 1\n  {% else %}\n  c: 2\n  {% endif %}\nd: 3\n"
    assert render(source, flag=True)[:3] == [(1, "a:"), (3, "  b: 1"), (7, "d: 3")]
    assert render(source, flag=False)[:3] == [(1, "a:"), (5, "  c: 2"), (7, "d: 3")]


def test_macro_lines_map_to_the_macro_body() -> None:
    source = (
        "{% macro pool(n) %}\n"
        "  - url: p{{ n }}.example.com:1\n"
        "    worker: w{{ n }}\n"
        "{% endmacro %}\n"
        "pools:\n"
        "{{ pool(1) }}{{ pool(2) }}after: 1\n"
    )
    assert render(source) == [
        (5, "pools:"),
        (2, "  - url: p1.example.com:1"), (3, "    worker: w1"),
        (2, "  - url: p2.example.com:1"), (3, "    worker: w2"),
        (6, "after: 1"), (7, ""),
    ]


def test_raw_block_is_literal_and_mapped() -> None:
    source = "a: 1\n{% raw %}\nb: '{{ not_jinja }}'\n{% endraw %}\nc: 2\n"
    pairs = render(source)
    assert (3, "b: '{{ not_jinja }}'") in pairs
    assert (5, "c: 2") in pairs


def test_multiline_expression_output_inherits_its_line() -> None:
    source = "a: 1\nb: |\n  {{ text | indent(2) }}\nc: 2\n"
    pairs = render(source, text="one\ntwo\nthree")
    assert pairs[:6] == [(1, "a: 1"), (2, "b: |"), (3, "  one"), (3, "  two"), (3, "  three"),
                         (4, "c: 2")]


def test_multiline_expression_tag() -> None:
    source = "a: {{ 1 +\n 2 }}\nb: {{ x }}\n"
    assert render(source, x="y")[:2] == [(1, "a: 3"), (3, "b: y")]


def test_strip_markers_rules() -> None:
    marked = "\x1e1\x1fa\n\x1e2\x1f\x1e4\x1fb\nexpr\x1e5\x1f tail\nno-marker\n"
    result = strip_markers(marked)
    assert result.text == "a\nb\nexpr tail\nno-marker\n"
    assert result.line_map == (1, 4, 5, 5, 5)


def test_env_renders_a_reference_never_the_value() -> None:
    pairs = render("a: {{ env('SET') }}\nb: {{ env('UNSET', 'dflt') }}\nc: {{ env('UNSET') }}\n")
    assert [text for _, text in pairs[:3]] == ["a: ${env:SET}", "b: dflt", "c: ${env:UNSET}"]


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("a: 1\nb: {{ 2 ** 100000 }}\n", 2, "exponent too large"),
        ("a: {{ 'x' * 100000000 }}\n", 1, "too large"),
        ("a:\n{% for i in range(10 ** 9) %}{% endfor %}\n", 2, "template error"),
        ("a: {{ env('bad name') }}\n", 1, "env() needs an environment variable name"),
        ("a:\n\n{{ x.y }}\n", 3, "undefined template variable 'x'"),
        ("{{ ().__class__.__base__ }}\n", 1, "not allowed"),
        ("{% include 'other.yaml' %}\n", 1, "template error"),
    ],
)
def test_template_failures_are_located(source: str, line: int, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        render_template(source, file="t.yaml", variables={}, environ={})
    (problem,) = info.value.problems
    assert problem.location is not None and problem.location.line == line, problem
    assert fragment in problem.message, problem
    assert "Traceback" not in str(info.value)


def test_control_marker_characters_are_rejected() -> None:
    with pytest.raises(ManifestError, match="control character"):
        render_template("a: 1\nb: \x1e\n", file="t", variables={}, environ={})


def test_extract_variables_block() -> None:
    source = (
        "# comment\n"
        "variables:\n"
        "  count: 3\n"
        "# a comment at column 0 does not end the block\n"
        "  names: [a, b]\n"
        "\n"
        "devices:\n"
        "{% for i in range(count) %}\n"
        "{% endfor %}\n"
    )
    assert extract_variables(source, "t") == {"count": 3, "names": ["a", "b"]}
    assert extract_variables("devices: []\n", "t") == {}
    assert extract_variables("variables:\ndevices: []\n", "t") == {}
    assert extract_variables("variables: {a: 1}\ndevices: []\n", "t") == {"a": 1}


def test_variables_block_must_be_a_mapping() -> None:
    with pytest.raises(ManifestError, match="must be a mapping") as info:
        extract_variables("devices: []\nvariables: [1, 2]\n", "t.yaml")
    assert info.value.problems[0].location is not None
    assert info.value.problems[0].location.line == 2
