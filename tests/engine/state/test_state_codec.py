"""The versioned envelope: layout, validation, format versions and migrations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetform.errors import StateError
from fleetform.provider import DeviceRecord
from fleetform.state import FORMAT_VERSION, State, codec


def _state() -> State:
    record = DeviceRecord(
        name="miner-001",
        provider="antminer",
        address="127.0.1.1",
        identity={"mac": "aa:bb", "model": "S19"},
        tracked={"admin_password": "pbkdf2-sha256$1$s$d", "pools": [{"url": "x"}]},
        updated_at="2026-11-23T10:00:00Z",
        fingerprint="abc",
    )
    return State(
        serial=7, lineage="lin", salt="salt", updated_at="2026-11-23T10:00:00Z"
    ).with_device(record)


def _envelope(**overrides: Any) -> str:
    data = json.loads(codec.encode(_state()))
    data.update(overrides)
    return json.dumps(data)


def test_encode_is_pretty_sorted_with_trailing_newline() -> None:
    text = codec.encode(_state(), fleetform_version="9.9.9")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["format_version"] == FORMAT_VERSION
    assert data["fleetform_version"] == "9.9.9"
    assert set(data) == {
        "format_version",
        "serial",
        "lineage",
        "salt",
        "fleetform_version",
        "updated_at",
        "devices",
    }
    assert set(data["devices"]["miner-001"]) == {
        "provider",
        "address",
        "identity",
        "tracked",
        "updated_at",
        "fingerprint",
    }


def test_round_trip_preserves_everything() -> None:
    assert codec.decode(codec.encode(_state()), source="s.json") == _state()


def test_newer_format_names_needed_fleetform_version() -> None:
    text = _envelope(format_version=FORMAT_VERSION + 1, fleetform_version="3.2.0")
    with pytest.raises(StateError, match=r"s\.json.*format version 2.*fleetform 3\.2\.0 or newer"):
        codec.decode(text, source="s.json")


def test_missing_or_boolean_format_version_is_refused() -> None:
    for bad in ('{"serial": 1}', _envelope(format_version=True)):
        with pytest.raises(StateError, match="format_version"):
            codec.decode(bad, source="s.json")


def test_older_format_runs_registered_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    def rename_hosts(envelope: dict[str, Any]) -> dict[str, Any]:
        envelope["devices"] = envelope.pop("hosts")
        return envelope

    monkeypatch.setattr(codec, "MIGRATIONS", {FORMAT_VERSION - 1: rename_hosts})
    data = json.loads(codec.encode(_state()))
    data["hosts"] = data.pop("devices")
    data["format_version"] = FORMAT_VERSION - 1
    assert codec.decode(json.dumps(data), source="s.json") == _state()


def test_older_format_without_migration_is_refused() -> None:
    with pytest.raises(StateError, match="can no longer read"):
        codec.decode(_envelope(format_version=FORMAT_VERSION - 1), source="s.json")


def test_bad_json_names_source_line_and_hint() -> None:
    with pytest.raises(StateError, match=r"s\.json is corrupt: line 3.*use the backup"):
        codec.decode('{\n  "serial": 1,\n  oops\n}', source="s.json", hint="use the backup")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[1, 2]", "not a JSON object"),
        (_envelope(serial="7"), "serial"),
        (_envelope(lineage=None), "lineage"),
        (_envelope(devices=[]), "devices"),
        (_envelope(devices={"m": {"provider": "p"}}), "devices.m.address"),
        (
            _envelope(devices={"m": {"provider": "p", "address": "a", "identity": {"k": 1}}}),
            "devices.m.identity",
        ),
        (
            _envelope(devices={"m": {"provider": "p", "address": "a", "fingerprint": 3}}),
            "devices.m.fingerprint",
        ),
    ],
)
def test_structural_problems_name_the_field(text: str, field: str) -> None:
    with pytest.raises(StateError, match=rf"s\.json is corrupt: .*{field}"):
        codec.decode(text, source="s.json")
