"""The in-memory State: immutable, edited by returning new values."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from fleetform.provider import DeviceRecord
from fleetform.state import LocalStateBackend, State, StateBackend


def _record(name: str = "miner-001", address: str = "127.0.1.1") -> DeviceRecord:
    return DeviceRecord(name=name, provider="antminer", address=address, identity={"mac": "aa"})


def test_empty_state_has_fresh_uuid4_lineage_and_salt() -> None:
    first, second = State.empty(), State.empty()
    assert first.serial == 0
    assert first.devices == {}
    assert uuid.UUID(first.lineage).version == 4
    assert first.salt
    assert first.lineage != second.lineage
    assert first.salt != second.salt


def test_with_device_returns_new_state_and_leaves_original() -> None:
    base = State.empty()
    changed = base.with_device(_record())
    assert base.record("miner-001") is None
    assert changed.record("miner-001") == _record()
    assert (changed.serial, changed.lineage, changed.salt) == (base.serial, base.lineage, base.salt)


def test_with_device_replaces_record_of_same_name() -> None:
    state = State.empty().with_device(_record()).with_device(_record(address="10.0.0.9"))
    assert len(state.devices) == 1
    record = state.record("miner-001")
    assert record is not None
    assert record.address == "10.0.0.9"


def test_without_device_is_new_state_and_idempotent() -> None:
    state = State.empty().with_device(_record()).with_device(_record("miner-002"))
    removed = state.without_device("miner-001")
    assert set(removed.devices) == {"miner-002"}
    assert set(state.devices) == {"miner-001", "miner-002"}
    assert removed.without_device("miner-001") == removed


def test_state_is_frozen() -> None:
    state = State.empty()
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.serial = 5  # type: ignore[misc]


def test_devices_mapping_cannot_be_mutated() -> None:
    state = State.empty().with_device(_record())
    with pytest.raises(TypeError):
        state.devices["miner-002"] = _record("miner-002")  # type: ignore[index]


def test_state_copies_the_mapping_it_is_given() -> None:
    devices = {"miner-001": _record()}
    state = State(serial=0, lineage="l", salt="s", devices=devices)
    devices["miner-002"] = _record("miner-002")
    assert set(state.devices) == {"miner-001"}


def test_device_key_must_match_record_name() -> None:
    with pytest.raises(ValueError, match="does not match"):
        State(serial=0, lineage="l", salt="s", devices={"other": _record()})


def test_negative_serial_is_refused() -> None:
    with pytest.raises(ValueError, match="serial"):
        State(serial=-1, lineage="l", salt="s")


def test_base_serial_survives_in_memory_edits() -> None:
    state = State(serial=7, lineage="l", salt="s")
    assert state.with_device(_record()).without_device("x").base_serial == 7


def test_local_backend_satisfies_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalStateBackend(tmp_path / "state.json"), StateBackend)
