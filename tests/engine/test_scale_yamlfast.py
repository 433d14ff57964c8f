"""The libyaml fast path gives exactly the ruamel path's data and positions, or steps aside."""

from __future__ import annotations

import pytest

from fleetform.manifest import yamlfast
from fleetform.manifest.yamlsource import SourceMap, YamlDocument, parse_yaml

pytestmark = pytest.mark.skipif(not yamlfast.available(), reason="PyYAML without libyaml")

SAME = [
    "devices:\n  - name: s9-1\n    provider: antminer\n    connection: {host: 10.0.0.1}\n",
    "a: on\nb: yes\nc: 'on'\nd: 0.5\ne: -3\nf: ~\ng: null\nh: true\ni: False\nj: 1.0\n",
    "variables:\n",
    "a:\n  b:\n",
    "a: #comment\nb: 1\n",
    "- a:  #c\n- b\n",
    "x:\n- a:  # c\n  b: 1\n- c\n",
    "a: \"quoted: yes\"\nb: [1, 'two', {c: d}]\nempty: {}\nlist: []\n",
    "1: one\nfalse: yes\nnull: x\n",
    "devices:\n\n# a comment\n  # another\n- name: x\n",
]
UNUSUAL = [
    "a: !!str 1\n",  # explicit tag
    "a: &x 1\nb: *x\n",  # alias
    "<<: {a: 1}\n",  # merge key
    "a: 0x1f\nb: 0o17\nc: 1_000\nd: .inf\ne: 2024-01-02\n",  # YAML 1.2 numbers and dates
    "a: 1\na: 2\n",  # duplicate key (ruamel reports it)
    "%YAML 1.1\n---\na: on\n",  # directive changes the rules
    "a:\n\tb: 1\n",  # tab
    "a: |\n  text\n",  # block scalar
    "? complex\n",  # explicit key without value
    "1: one\ntrue: two\n",  # equal keys in Python: ruamel reports a duplicate
    "a: [1, 2\n",  # syntax error: ruamel locates it
]


def _ruamel(text: str) -> YamlDocument:
    saved = yamlfast._COMPOSER
    yamlfast._COMPOSER = None
    try:
        return parse_yaml(text, SourceMap("m.yaml"))
    finally:
        yamlfast._COMPOSER = saved


@pytest.mark.parametrize("text", SAME)
def test_fast_path_matches_ruamel(text: str) -> None:
    fast = yamlfast.fast_parse(text)
    assert fast is not None
    reference = _ruamel(text)
    assert fast[0] == reference.data
    assert [type(v) for v in fast[0].values()] == [type(v) for v in reference.data.values()] \
        if isinstance(fast[0], dict) else True
    assert fast[1] == reference.positions


@pytest.mark.parametrize("text", UNUSUAL)
def test_unusual_documents_go_to_ruamel(text: str) -> None:
    assert yamlfast.fast_parse(text) is None


def test_yaml_1_2_booleans_only() -> None:
    fast = yamlfast.fast_parse("power: on\nmute: off\nflag: true\n")
    assert fast is not None
    assert fast[0] == {"power": "on", "mute": "off", "flag": True}
