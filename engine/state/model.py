"""The in-memory state model and the backend protocol.

Why: the engine works on an immutable :class:`State` value, separate from any
file format (after OpenTofu's split of ``states`` and ``statefile``), so codec
changes never ripple into the planner and a Postgres backend can later store
the same value without touching the engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from fleetform.provider import DeviceRecord
from fleetform.secrets import new_salt


@dataclass(frozen=True)
class State:
    """An immutable snapshot of what fleetform applied, one record per device.

    Why immutable: the engine hands one state to many per-device workers; a
    change is a new value (``with_device``), so no worker sees a half-edited
    state and the value written is exactly the value computed.

    ``serial`` is the serial this snapshot was read or written at; in-memory
    edits keep it, so it doubles as the *base serial* a write is checked
    against (see :attr:`base_serial`). ``lineage`` identifies one state's
    history across serials; ``salt`` salts every secret hash in this state.
    """

    serial: int
    lineage: str
    salt: str
    devices: Mapping[str, DeviceRecord] = field(default_factory=dict)
    updated_at: str | None = None

    def __post_init__(self) -> None:
        devices = dict(self.devices)
        for name, record in devices.items():
            if name != record.name:
                raise ValueError(f"device key {name!r} does not match record name {record.name!r}")
        if self.serial < 0:
            raise ValueError(f"serial must not be negative, got {self.serial}")
        object.__setattr__(self, "devices", MappingProxyType(devices))

    @classmethod
    def empty(cls) -> State:
        """A fresh state with a new lineage and salt and no devices.

        Why: a first run has nothing on disk; the backend returns this without
        persisting it, so ``plan`` on a new directory leaves no files behind.
        """
        return cls(serial=0, lineage=str(uuid.uuid4()), salt=new_salt())

    @property
    def base_serial(self) -> int:
        """The on-disk serial this state derives from.

        Why: a backend refuses to write if the disk moved past it meanwhile,
        which is how a lost update from a concurrent writer is detected.
        """
        return self.serial

    def record(self, name: str) -> DeviceRecord | None:
        """The record of device ``name``, or ``None`` if state has never seen it."""
        return self.devices.get(name)

    def with_device(self, record: DeviceRecord) -> State:
        """A new state with ``record`` added or replacing the one of the same name.

        Why: the apply engine records each device as soon as it is verified,
        without mutating the snapshot other workers read.
        """
        devices = dict(self.devices)
        devices[record.name] = record
        return replace(self, devices=devices)

    def without_device(self, name: str) -> State:
        """A new state without device ``name`` (unchanged if it is not present).

        Why: forgetting a device (``state rm``, a removed manifest entry) must
        be idempotent, so a retried run does not fail on an already-gone record.
        """
        devices = {key: value for key, value in self.devices.items() if key != name}
        return replace(self, devices=devices)


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock, written into the lock by its holder.

    Why: when a second run is refused, the user needs pid, host, user,
    operation and start time to decide whether to wait or investigate.
    """

    id: str
    pid: int
    host: str
    user: str
    operation: str
    since: str

    def describe(self) -> str:
        """One human line naming the holder, used in :class:`LockError` messages."""
        return (
            f"{self.operation} (pid {self.pid} on host {self.host}, "
            f"user {self.user}, since {self.since})"
        )


@runtime_checkable
class StateBackend(Protocol):
    """Where state lives: read, write, lock and name it.

    Why: kept to four methods so a remote backend (Postgres, S3) can be added
    without touching the engine, and a test can check each backend against it.
    """

    def read(self) -> State:
        """The current state; ``State.empty()`` (not persisted) if there is none."""
        ...

    def write(self, state: State) -> State:
        """Persist ``state`` at the next serial and return it as stored.

        Raises :class:`~fleetform.errors.StateError` if the stored lineage
        differs or the stored serial moved past ``state.base_serial``.
        """
        ...

    def lock(self, operation: str, timeout: float) -> AbstractContextManager[LockInfo]:
        """Hold the exclusive state lock for the block; wait up to ``timeout`` seconds.

        Raises :class:`~fleetform.errors.LockError` naming the holder on timeout.
        """
        ...

    def describe(self) -> str:
        """Where the state lives, for messages (a path, a URL without secrets)."""
        ...
