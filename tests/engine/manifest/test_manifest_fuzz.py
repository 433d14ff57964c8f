"""Property: whatever text a manifest holds, loading raises only ManifestError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_helpers import ENV, PROVIDERS, VALID

from fleetform.errors import ManifestError
from fleetform.manifest import load_manifest

FRAGMENTS = [
    "devices:", "\n", "  ", "- ", "name: ", "provider: antminer", "connection:", "host: ",
    "settings:", "pools:", "{", "}", "[", "]", ":", "'", '"', "{{ ", " }}", "{% ", " %}",
    "for i in range(2)", "endfor", "${env:", "MINER_ADMIN_PASSWORD", "&a", "*a", "!!", "\t",
    "variables:", "x", "1", "state:", "path: p", "#", "<<: ", "---", "...", "network:",
    "mode: static", "10.0.0.1", "port: ", "|", ">", "?", ",", "\x00", "é",
]

yaml_like = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
mutated = st.builds(
    lambda cut, insert: VALID[:cut] + insert + VALID[cut:],
    st.integers(min_value=0, max_value=len(VALID)),
    st.text(max_size=8),
)


def _load(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_manifest(path, environ=ENV, providers=PROVIDERS)
        except ManifestError as exc:
            assert exc.problems
            assert "Traceback" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), yaml_like, mutated))
def test_arbitrary_text_raises_only_manifest_error(text: str) -> None:
    _load(text)
