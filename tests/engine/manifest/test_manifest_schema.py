"""JSON Schema generation and provider-model introspection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from manifest_helpers import ANTMINER, PROVIDERS
from pydantic import BaseModel, SecretStr

from fleetform.manifest import manifest_json_schema, provider_models_from, render_schema_text
from fleetform.manifest.schema import allowed_keys, resolve_loc, secret_paths, union_choices
from fleetform.provider import SettingSpec
from fleetform.providers.antminer.models import (
    AntminerConnection,
    AntminerSettings,
    Pool,
    StaticNetwork,
)

REPO = Path(__file__).resolve().parents[3]


def test_schema_shape() -> None:
    schema = manifest_json_schema(PROVIDERS)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]
    assert schema["required"] == ["devices"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"variables", "devices", "state", "drift"}
    items = schema["properties"]["devices"]["items"]
    assert items == {"oneOf": [{"$ref": "#/$defs/antminer.device"}]}
    device = schema["$defs"]["antminer.device"]
    assert device["properties"]["provider"]["const"] == "antminer"
    assert device["properties"]["connection"] == {"$ref": "#/$defs/antminer.AntminerConnection"}
    assert device["properties"]["settings"] == {"$ref": "#/$defs/antminer.AntminerSettings"}
    assert device["required"] == ["name", "provider", "connection"]
    expected = {"antminer.Pool", "antminer.StaticNetwork", "antminer.DhcpNetwork"}
    assert expected <= set(schema["$defs"])


def test_schema_refs_all_resolve_and_hide_secret_defaults() -> None:
    schema = manifest_json_schema(PROVIDERS)
    text = json.dumps(schema)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        assert ref.startswith("#/$defs/") and ref[len("#/$defs/"):] in schema["$defs"], ref
    assert "**********" not in text


def test_schema_text_is_deterministic() -> None:
    first = render_schema_text(PROVIDERS)
    assert first == render_schema_text(dict(PROVIDERS))
    assert first.endswith("}\n")
    assert json.loads(first) == manifest_json_schema(PROVIDERS)


def test_committed_schema_is_up_to_date() -> None:
    committed = REPO / "schemas" / "manifest.schema.json"
    if not committed.exists():
        pytest.skip("schemas/manifest.schema.json is not written yet")
    try:
        from fleetform.providers import builtin_providers

        providers = provider_models_from(builtin_providers())
    except ImportError:
        providers = PROVIDERS
    assert committed.read_text(encoding="utf-8") == render_schema_text(providers)


def test_empty_provider_set() -> None:
    assert manifest_json_schema({})["properties"]["devices"]["items"] is False


def test_provider_models_from_provider_classes() -> None:
    class FakeProvider:
        """Fake provider for tests."""

        name = "antminer"
        connection_model = AntminerConnection
        settings_model = AntminerSettings
        settings_specs: ClassVar[dict[str, SettingSpec]] = dict(ANTMINER.settings_specs)

    (models,) = provider_models_from({"antminer": FakeProvider}).values()
    assert models.connection_sensitive == frozenset({"credentials.password"})
    assert models.settings_sensitive == frozenset({"admin_password", "pools[].password"})
    assert models.description == "Fake provider for tests."


def test_secret_paths_walks_lists_and_nesting() -> None:
    class Inner(BaseModel):
        token: SecretStr

    class Outer(BaseModel):
        items: list[Inner] | None = None
        key: SecretStr | None = None
        plain: str = ""

    assert secret_paths(Outer) == frozenset({"items[].token", "key"})


def test_introspection_helpers() -> None:
    assert resolve_loc(AntminerSettings, ("network", "static", "gateway")) == (
        ("network", "gateway"), None)
    assert resolve_loc(AntminerSettings, ("network", "static"))[1] is StaticNetwork
    assert resolve_loc(AntminerSettings, ("pools", 2))[1] is Pool
    assert allowed_keys(Pool) == ["password", "url", "worker"]
    assert union_choices(AntminerSettings, ("network",)) == ("mode", ["dhcp", "static"])
    assert union_choices(AntminerSettings, ("pools",)) == ("", [])
