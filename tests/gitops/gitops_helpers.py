"""Shared helpers for the GitOps tests: simulated drift, env for subprocesses, schemas.

Why a helper module (not a conftest): test module basenames must be unique
across the repository and there is one conftest; this file is imported by
name because pytest puts each test file's directory on sys.path.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from conftest import ADMIN_PASSWORD, POOL_PASSWORD

from fleetform.providers.antminer.simulator import SimulatedMiner

REPO = Path(__file__).resolve().parents[2]
PG_DSN_ENV = "FLEETFORM_TEST_PG_DSN"
ROGUE = "stratum+tcp://rogue.example.net:3333"


def drift_pool(miner: SimulatedMiner, url: str = ROGUE) -> None:
    """Point a miner's first pool elsewhere, as someone in its web UI would."""
    pools = miner.snapshot()["pools"]
    first = {"url": url, "user": pools[0]["user"], "pass": pools[0]["pass"]}
    miner.set_pools([first, *pools[1:]])


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment a fleetform subprocess needs for the farm manifest."""
    env = dict(os.environ)
    env.update(FF_TEST_ADMIN_PASSWORD=ADMIN_PASSWORD, FF_TEST_POOL_PASSWORD=POOL_PASSWORD,
               NO_COLOR="1", **extra)
    return env


def assert_no_secret(text: str) -> None:
    """Neither farm secret appears in ``text``."""
    assert ADMIN_PASSWORD not in text
    assert POOL_PASSWORD not in text


def load_schema(name: str) -> dict[str, Any]:
    """A schema from ``schemas/``."""
    return json.loads((REPO / "schemas" / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


_TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "boolean": bool,
                          "null": type(None), "integer": int, "number": (int, float)}


def validate(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None,
             path: str = "$") -> None:
    """Check ``instance`` against the subset of JSON Schema our schemas use.

    Why hand-written: the project has no jsonschema dependency; the keywords
    used in schemas/*.json (type, enum, const, required, properties,
    additionalProperties, items, $ref, oneOf, pattern, minimum) are covered.
    """
    root = root or schema
    if "$ref" in schema:
        ref = schema["$ref"].removeprefix("#/$defs/")
        validate(instance, root["$defs"][ref], root, path)
        return
    if "oneOf" in schema:
        passed = 0
        for option in schema["oneOf"]:
            try:
                validate(instance, option, root, path)
                passed += 1
            except AssertionError:
                pass
        assert passed == 1, f"{path}: matches {passed} of oneOf"
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        ok = any(isinstance(instance, _TYPES[n]) and not (
            n in ("integer", "number") and isinstance(instance, bool)) for n in names)
        assert ok, f"{path}: {instance!r} is not {names}"
    if "enum" in schema:
        assert instance in schema["enum"], f"{path}: {instance!r} not in {schema['enum']}"
    if "const" in schema:
        assert instance == schema["const"], f"{path}: {instance!r} != {schema['const']!r}"
    if "pattern" in schema and isinstance(instance, str):
        assert re.search(schema["pattern"], instance), f"{path}: {instance!r} !~ pattern"
    if "minimum" in schema and isinstance(instance, (int, float)):
        assert instance >= schema["minimum"], f"{path}: {instance} < minimum"
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            assert key in instance, f"{path}: missing {key!r}"
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in props:
                validate(value, props[key], root, f"{path}.{key}")
            elif extra is False:
                raise AssertionError(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                validate(value, extra, root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            validate(item, schema["items"], root, f"{path}[{index}]")
