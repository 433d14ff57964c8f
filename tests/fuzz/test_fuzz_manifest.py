"""Fuzz the manifest loader and validators of all three providers.

Property: whatever the input — structures generated from the real schema,
mutated examples, random Jinja, random bytes, odd ``--var`` values and var
files — loading either succeeds or raises :class:`ManifestError` whose
problems each carry a message and a location (file:line:column; only "the
file cannot be read at all" has none), and no message echoes a secret.
Anything else (a ``KeyError`` from a validator, a ``RecursionError`` from
Jinja ...) fails the test with the input that caused it. A sample also goes
through ``fleetform validate`` in-process: exit code 1, no traceback.

How many cases ran is printed at the end of the module (``pytest -s``) and
written as JSON to ``$FLEETFORM_FUZZ_REPORT`` when set. CI runs a small
sample; a long run:

    FLEETFORM_FUZZ_EXAMPLES=20000 FLEETFORM_FUZZ_REPORT=fuzz.json \
        python -m pytest tests/fuzz -s --timeout=0
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_strategies import (
    ENV,
    EXAMPLES,
    FUZZ_SECRET,
    manifests_from_schema,
    mutated_examples,
    random_bytes,
    random_jinja,
    var_assignments,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fleetform.errors import ManifestError
from fleetform.manifest import Manifest, load_manifest, parse_var_assignment, provider_models_from
from fleetform.providers import builtin_providers

PROVIDERS = provider_models_from(builtin_providers())
UNLOCATED_OK = ("cannot read manifest", "cannot read variables file")
"""Problems about a file as a whole (it is not UTF-8 text), which have no line."""
RUNS: Counter[str] = Counter()


def examples(default: int) -> int:
    """Examples per property: ``FLEETFORM_FUZZ_EXAMPLES`` if set, else the CI sample."""
    return int(os.environ.get("FLEETFORM_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int) -> Any:
    """Hypothesis settings shared by every property here (no deadline: CI boxes stall)."""
    return settings(max_examples=examples(default), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    """Print (and optionally save) how many cases ran, per property and outcome."""
    yield
    total = sum(v for k, v in RUNS.items() if "/" not in k)
    lines = [f"manifest fuzzing: {total} case(s) ran"] + [
        f"  {key}: {count}" for key, count in sorted(RUNS.items())]
    sys.stdout.write("\n" + "\n".join(lines) + "\n")
    target = os.environ.get("FLEETFORM_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps({"total": total, **dict(sorted(RUNS.items()))},
                                           indent=2) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the generated files (hypothesis reuses it across examples)."""
    return tmp_path_factory.mktemp("fuzz")


def check_load(kind: str, path: Path, **kwargs: Any) -> Manifest | None:
    """Load ``path``; only success or a well-formed ManifestError may come out."""
    RUNS[kind] += 1
    try:
        manifest = load_manifest(path, environ=ENV, providers=PROVIDERS, **kwargs)
    except ManifestError as exc:
        RUNS[f"{kind}/manifest-error"] += 1
        assert exc.problems, "a ManifestError without problems"
        for problem in exc.problems:
            assert isinstance(problem.message, str) and problem.message.strip()
            assert problem.location is not None or problem.message.startswith(UNLOCATED_OK), (
                f"unlocated problem: {problem}")
        assert FUZZ_SECRET not in str(exc), f"a secret in an error message: {exc}"
        return None
    RUNS[f"{kind}/valid"] += 1
    assert FUZZ_SECRET not in manifest.rendered
    return manifest


def _write(workdir: Path, text: str | bytes, name: str = "fuzz.yaml") -> Path:
    path = workdir / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@fuzz_settings(150)
@given(manifests_from_schema())
def test_schema_shaped_manifests_for_every_provider(workdir: Path, text: str) -> None:
    check_load("schema", _write(workdir, text))


@fuzz_settings(200)
@given(mutated_examples())
def test_mutated_examples(workdir: Path, text: str) -> None:
    check_load("mutated-example", _write(workdir, text))


@fuzz_settings(200)
@given(random_jinja())
def test_random_jinja(workdir: Path, text: str) -> None:
    check_load("jinja", _write(workdir, text))


@fuzz_settings(150)
@given(random_bytes())
def test_random_bytes(workdir: Path, data: bytes) -> None:
    check_load("bytes", _write(workdir, data))


@fuzz_settings(100)
@given(var_assignments(), st.one_of(st.binary(max_size=80), st.text(max_size=80)))
def test_var_arguments_and_var_files(workdir: Path, assignments: list[str],
                                     var_file: bytes | str) -> None:
    variables: dict[str, Any] = {}
    try:
        for text in assignments:
            name, value = parse_var_assignment(text)
            variables[name] = value
            # A big farm_size is a legitimate big farm: a scale test, not a fuzz case.
            assume(not (isinstance(value, int) and 200 < value <= 100_000))
    except ManifestError as exc:
        assert exc.problems and FUZZ_SECRET not in str(exc)
    manifest = _write(workdir, EXAMPLES["farm.yaml"], "farm.yaml")
    check_load("vars", manifest, variables=variables,
               var_files=[_write(workdir, var_file, "vars.yaml")])


@fuzz_settings(25)
@given(text=st.one_of(mutated_examples(), random_jinja(), manifests_from_schema()))
def test_validate_command_never_prints_a_traceback(  # type: ignore[no-untyped-def]
    workdir: Path, cli, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = _write(workdir, text, "cli.yaml")
    valid = check_load("cli-sample", path) is not None
    result = cli("validate", str(path))
    assert "Traceback" not in result.all
    assert FUZZ_SECRET not in result.all
    if valid:
        assert result.code == 0, result.all
    else:
        assert result.code == 1, result.all
        assert result.err.startswith("Error: the manifest is not valid"), result.err
