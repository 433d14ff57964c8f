"""Coalesced state writes: fewer writes, and never a recorded change that did not happen."""

from __future__ import annotations

import json
import random
import threading
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scale_fakes import MemoryProvider, memory_devices

from fleetform.applier import apply_fleet
from fleetform.errors import StateError
from fleetform.planner import RunOptions, plan_fleet
from fleetform.provider import DeviceRecord
from fleetform.recorder import StateRecorder
from fleetform.state import LocalStateBackend, State
from fleetform.state.codec import Encoder, encode
from fleetform.state.model import LockInfo


class CheckingBackend:
    """Wraps a local backend; at each write, checks the snapshot against the devices."""

    def __init__(self, inner: LocalStateBackend, store: dict[str, dict[str, Any]]) -> None:
        self.inner, self.store = inner, store
        self.writes = 0
        self.violations: list[str] = []
        self.fail_after: int | None = None

    def read(self) -> State:
        return self.inner.read()

    def write(self, state: State) -> State:
        if self.fail_after is not None and self.writes >= self.fail_after:
            raise StateError("disk full (injected)")
        self.writes += 1
        for name, record in state.devices.items():
            label = record.tracked.get("label")
            if label is not None and self.store.get(name, {}).get("label") != label:
                self.violations.append(f"{name}: state says {label!r}, device has "
                                       f"{self.store.get(name, {}).get('label')!r}")
        return self.inner.write(state)

    def lock(self, operation: str, timeout: float) -> AbstractContextManager[LockInfo]:
        return self.inner.lock(operation, timeout)

    def describe(self) -> str:
        return self.inner.describe()


def _apply(tmp_path: Path, count: int, failing: frozenset[str] = frozenset(),
           interval: float = 0.25) -> tuple[CheckingBackend, Any, MemoryProvider]:
    store: dict[str, dict[str, Any]] = {}
    provider = MemoryProvider(store, failing=failing)
    devices = memory_devices(count)
    backend = CheckingBackend(LocalStateBackend(tmp_path / "state.json"), store)
    options = RunOptions(parallelism=8, timeout=30, state_write_interval=interval)
    planned = plan_fleet(devices, {"memory": provider}, backend.read(), manifest="m",
                         options=options)
    with backend.lock("apply", 0):
        report = apply_fleet(planned, devices, {"memory": provider}, backend, backend.read(),
                             options=options)
    return backend, report, provider


def test_apply_coalesces_writes_and_stores_every_verified_step(tmp_path: Path) -> None:
    backend, report, provider = _apply(tmp_path, 60, failing=frozenset({"dev-007", "dev-031"}))
    assert backend.violations == []
    steps = sum(len(d.steps) for d in report.devices)
    assert steps == 60 * 2 - 2
    assert backend.writes < steps  # coalesced (one write per step before)
    stored = LocalStateBackend(tmp_path / "state.json").read()
    assert stored.serial == report.state_serial
    for name, values in provider.store.items():
        record = stored.record(name)
        assert record is not None
        assert record.tracked.get("label") == values.get("label")
    assert stored.record("dev-007").tracked.get("label") is None  # type: ignore[union-attr]
    assert {d.name: d.status for d in report.devices if d.status != "applied"} == {
        "dev-007": "failed", "dev-031": "failed"}


def test_interval_zero_writes_after_every_step(tmp_path: Path) -> None:
    backend, report, _ = _apply(tmp_path, 5, interval=0)
    steps = sum(len(d.steps) for d in report.devices)
    assert backend.writes == steps
    assert backend.violations == []


def test_a_finished_device_is_stored_without_waiting_for_the_interval(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    recorder = StateRecorder(backend, backend.read(), interval=3600)
    record = DeviceRecord(name="a", provider="memory", address="a", identity={})
    recorder.update("a", lambda r: replace(r, tracked={"label": "x"}), record)
    recorder.device_done()
    for _ in range(400):  # bounded wait for the writer thread; not a timing assertion
        if backend.path.exists():
            break
        threading.Event().wait(0.05)
    assert json.loads(backend.path.read_text())["devices"]["a"]["tracked"] == {"label": "x"}
    assert recorder.close().serial == 1


def test_a_failed_write_fails_the_next_update_and_close(tmp_path: Path) -> None:
    backend = CheckingBackend(LocalStateBackend(tmp_path / "state.json"), {})
    backend.fail_after = 0
    recorder = StateRecorder(backend, backend.read(), interval=3600)
    record = DeviceRecord(name="a", provider="memory", address="a", identity={})
    recorder.update("a", lambda r: r, record)
    recorder.device_done()
    with pytest.raises(StateError, match="disk full"):
        for _ in range(400):
            recorder.update("a", lambda r: r, record)
            threading.Event().wait(0.05)
    with pytest.raises(StateError, match="disk full"):
        recorder.close()


def test_the_cached_encoder_writes_exactly_what_encode_writes() -> None:
    rng = random.Random(6)
    encoder, state = Encoder(), State.empty()
    assert encoder.encode(state) == encode(state)
    for step in range(200):
        name = rng.choice(["a", "b", "ü-1", 'q"x', "z"]) + str(rng.randint(0, 20))
        state = state.with_device(DeviceRecord(
            name=name, provider="p", address="10.0.0.1", identity={"mac": "C4"},
            tracked={"k": [step, {"b": None, "a": "ü\n"}]}, updated_at=None))
        if rng.random() < 0.2:
            state = state.without_device(name)
        assert encoder.encode(state) == encode(state)


def test_a_file_changed_behind_the_locked_backend_is_still_detected(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    other = LocalStateBackend(tmp_path / "state.json")
    record = DeviceRecord(name="a", provider="memory", address="a", identity={})
    with backend.lock("apply", 0):
        state = backend.write(backend.read().with_device(record))
        # Another writer ignoring the lock (flock is advisory) moves the serial on.
        other._write_locked(other.read())
        with pytest.raises(StateError, match="written by another run"):
            backend.write(state)
