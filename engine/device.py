"""What the manifest says about one device, after loading and validation.

Why: the provider protocol, the planner and the apply engine all take this one
frozen object, so none of them needs to know about YAML, Jinja or files.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from fleetform.errors import DeviceTimeout, Interrupted, SourceLocation


@dataclass(frozen=True)
class DeviceSpec:
    """One validated device from the manifest.

    ``connection`` and ``settings`` are instances of the provider's own pydantic
    models. ``sensitive_paths`` lists setting paths whose value came from a
    secret reference (``${env:...}``), so they are redacted like declared
    secrets. ``locations`` maps field paths to where they stand in the manifest.
    """

    name: str
    provider: str
    connection: BaseModel
    settings: BaseModel
    labels: dict[str, str] = field(default_factory=dict)
    sensitive_paths: frozenset[str] = frozenset()
    location: SourceLocation | None = None
    locations: dict[str, SourceLocation] = field(default_factory=dict)

    def desired(self) -> dict[str, Any]:
        """The managed settings as plain data (unset/None settings are unmanaged)."""
        return self.settings.model_dump(mode="python", exclude_none=True)


class Deadline:
    """A per-device time budget shared by every step of one operation.

    Why: threads cannot be killed, so each transport asks the deadline how long
    it may still wait; a device that hangs fails at its own deadline while the
    others go on.
    """

    def __init__(self, seconds: float, cancel: threading.Event | None = None) -> None:
        self.seconds = seconds
        self._expires = time.monotonic() + seconds
        self._cancel = cancel

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._expires - time.monotonic())

    def timeout(self, cap: float) -> float:
        """A socket timeout: the smaller of ``cap`` and the time left (at least 1 ms)."""
        return max(0.001, min(cap, self.remaining()))

    def cancelled(self) -> bool:
        """True once the run was interrupted (Ctrl-C).

        Why public: retry loops inside a step stop retrying after an interrupt
        instead of running to their attempt limit.
        """
        return self._cancel is not None and self._cancel.is_set()

    def check(self, step: str) -> None:
        """Raise :class:`Interrupted` or :class:`DeviceTimeout` naming ``step``.

        Why: called between steps, so an interrupt or a spent budget stops a
        device at a step boundary, where state is consistent.
        """
        if self.cancelled():
            raise Interrupted("interrupted before this step started", step=step)
        if self.remaining() <= 0:
            raise DeviceTimeout(
                f"per-device timeout of {self.seconds:g}s exceeded", step=step
            )
