"""Progress events from device work running in parallel threads.

Why: the engine must report what each device is doing (a miner restart can
take minutes) without knowing whether it is drawn as a rich progress bar on a
terminal, as plain lines in CI, or not at all in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Event:
    """One thing that happened to one device.

    ``kind`` is one of ``start``, ``step``, ``info``, ``done``, ``failed``.
    """

    device: str
    kind: str
    message: str = ""
    step: str | None = None


class EventSink(Protocol):
    """Receives events; must be safe to call from several threads at once."""

    def __call__(self, event: Event) -> None:
        """Handle one event."""
        ...


def discard(event: Event) -> None:
    """An event sink that ignores everything (library use, tests)."""
