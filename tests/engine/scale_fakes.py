"""An in-memory device family for the scale tests: counts concurrency, fails on demand.

Why in memory: the engine behaviours under test (per-provider caps, coalesced
state writes) do not depend on a wire protocol, and a fake whose device store
is visible lets a test check every stored state against what the devices
really hold at the moment of the write.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from fleetform.device import DeviceSpec
from fleetform.diff import diff_settings
from fleetform.errors import DeviceRejected
from fleetform.provider import (
    ApplyRequest,
    ApplyResponse,
    PlanRequest,
    PlanResponse,
    ReadRequest,
    ReadResponse,
    SettingSpec,
    StatusRequest,
    StatusResponse,
)


class MemoryConnection(BaseModel):
    """Where a memory device lives (its name in the store)."""

    model_config = ConfigDict(extra="forbid")
    host: str


class MemorySettings(BaseModel):
    """One readable and one write-only setting."""

    model_config = ConfigDict(extra="forbid")
    colour: str | None = None
    label: str | None = None


class Gauge:
    """Tracks how many calls run at once, overall and the peak."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> Gauge:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class MemoryProvider:
    """A provider over a dict of devices; ``label`` is write-only (tracked in state)."""

    name = "memory"
    connection_model: type[BaseModel] = MemoryConnection
    settings_model: type[BaseModel] = MemorySettings
    settings_specs: Mapping[str, SettingSpec] = {
        "colour": SettingSpec(name="colour", order=10),
        "label": SettingSpec(name="label", readable=False, order=20),
    }

    def __init__(self, store: dict[str, dict[str, Any]] | None = None, *,
                 failing: frozenset[str] = frozenset(), pause: threading.Event | None = None,
                 ) -> None:
        self.store = store if store is not None else {}
        self.failing = failing
        self.pause = pause
        self.gauge = Gauge()
        self._lock = threading.Lock()

    def read(self, request: ReadRequest) -> ReadResponse:
        """The device's readable values (a missing device starts empty)."""
        host = _host(request.device)
        with self.gauge:
            if self.pause is not None:
                self.pause.wait(30)
            with self._lock:
                live = dict(self.store.setdefault(host, {}))
        live.pop("label", None)
        return ReadResponse(address=host, identity={"serial": host}, live=live)

    def plan(self, request: PlanRequest) -> PlanResponse:
        """The engine's generic diff."""
        return PlanResponse(changes=tuple(diff_settings(
            request.device.desired(), dict(request.read.live), self.settings_specs)))

    def apply(self, request: ApplyRequest) -> ApplyResponse:
        """Write one setting (refused for devices in ``failing``), then read it back."""
        host = _host(request.device)
        value = request.device.desired()[request.setting]
        if host in self.failing and request.setting == "label":
            raise DeviceRejected("the device refused the label")
        with self._lock:
            self.store.setdefault(host, {})[request.setting] = value
            observed = self.store[host][request.setting]
        return ApplyResponse(observed=observed)

    def status(self, request: StatusRequest) -> StatusResponse:
        """Always healthy."""
        return StatusResponse(address=_host(request.device), metrics={})

    def close(self) -> None:
        """Nothing to close."""


class CappedMemoryProvider(MemoryProvider):
    """The same family declaring a per-provider cap, as a slow management plane would."""

    name = "capped"
    max_parallel = 2


def _host(device: DeviceSpec) -> str:
    connection = device.connection
    assert isinstance(connection, MemoryConnection)
    return connection.host


def memory_devices(count: int, provider: str = "memory", prefix: str = "dev") -> list[DeviceSpec]:
    """``count`` devices of ``provider`` wanting colour ``blue`` and label ``L<i>``."""
    return [DeviceSpec(name=f"{prefix}-{i:03d}", provider=provider,
                       connection=MemoryConnection(host=f"{prefix}-{i:03d}"),
                       settings=MemorySettings(colour="blue", label=f"L{i}"))
            for i in range(count)]
