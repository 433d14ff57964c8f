"""Record apply progress in state: every verified step, coalesced into few writes.

Why: apply used to write the whole state file after each verified step, under
one lock. At 1,000 devices that is ~3,000 writes of a file that grows to half
a megabyte, each with four fsyncs, serialised across every device thread: the
writes, not the devices, set the pace. This recorder keeps the promise that
matters — state never records a change that did not happen — while writing
far less often:

- a verified step updates the in-memory state at once (later steps of the
  device, and the final report, see it);
- a background writer stores the in-memory state when it changed, at most
  every ``interval`` seconds, and at once (without waiting for the interval)
  when a device finished or failed; several devices finishing during one
  write share the next one;
- :meth:`close` (always called, also on Ctrl-C) stores whatever is left.

Only verified steps ever enter the in-memory state, so every snapshot the
writer stores is a state some prefix of the run really reached. A run killed
between two writes loses at most the last ``interval`` of records: those
changes happened but are not recorded, which the next plan shows (readable
settings are read back; write-only ones are applied again, idempotently).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from fleetform.errors import StateError
from fleetform.provider import DeviceRecord
from fleetform.state import State, StateBackend

DEFAULT_INTERVAL = 0.25
"""Seconds between background writes while devices are busy (upper bound on lost records)."""


class StateRecorder:
    """Serialises state updates from device threads into coalesced atomic writes.

    Why a class with a thread: device threads must never wait for the disk;
    one writer thread owns the backend's ``write`` while the run lasts.
    ``interval=0`` writes after every update, synchronously (the old behaviour,
    kept for callers and tests that want it).
    """

    def __init__(self, backend: StateBackend, state: State, *,
                 interval: float = DEFAULT_INTERVAL) -> None:
        self._backend = backend
        self._state = state
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._dirty = False
        self._urgent = False
        self._closing = False
        self._error: StateError | None = None
        self._last_write = 0.0
        self.writes = 0
        """How many times state was stored (for benchmarks and tests)."""
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(target=self._run, name="fleetform-state",
                                            daemon=True)
            self._thread.start()

    @property
    def state(self) -> State:
        """The latest state: every verified step so far (maybe not yet on disk)."""
        with self._lock:
            return self._state

    def update(self, name: str, change: Callable[[DeviceRecord], DeviceRecord],
               initial: DeviceRecord) -> None:
        """Apply ``change`` to the device's record (or ``initial``); store it soon.

        Raises the :class:`StateError` of a failed earlier write, so the
        device that tries to record next fails instead of going on unrecorded.
        """
        with self._lock:
            self._raise_error()
            current = self._state.record(name) or initial
            self._state = self._state.with_device(change(current))
            if self._thread is None:
                self._write_now()
                return
            self._dirty = True
            self._wake.notify()

    def device_done(self) -> None:
        """A device finished or failed: store pending records now, without waiting."""
        with self._lock:
            if self._dirty:
                self._urgent = True
                self._wake.notify()

    def close(self) -> State:
        """Stop the writer, store what is pending, and return the state as stored.

        Why it raises: a final write that fails means the state file is behind
        the devices; the caller must tell the user rather than report success.
        """
        thread = self._thread
        with self._lock:
            self._closing = True
            self._wake.notify()
        if thread is not None:
            thread.join()
        with self._lock:
            self._raise_error()
            if self._dirty:
                self._write_now()
            return self._state

    def _raise_error(self) -> None:
        if self._error is not None:
            raise StateError(str(self._error)) from self._error

    def _write_now(self) -> None:
        """Store the in-memory state; caller holds the lock (no update can interleave)."""
        stored = self._backend.write(self._state)
        self._state, self._dirty, self._urgent = stored, False, False
        self._last_write = time.monotonic()
        self.writes += 1

    def _run(self) -> None:
        """The writer thread: wait for changes, pace writes, write outside the lock."""
        while True:
            with self._lock:
                while not self._closing and not self._dirty:
                    self._wake.wait()
                while not self._closing and not self._urgent:
                    left = self._last_write + self._interval - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                if self._closing:
                    return
                snapshot, self._dirty, self._urgent = self._state, False, False
            try:
                stored = self._backend.write(snapshot)
            except StateError as exc:
                with self._lock:
                    self._error = exc
                    self._dirty = True
                return
            except Exception as exc:  # an unexpected backend failure must still surface
                with self._lock:
                    self._error = StateError(f"cannot write state: {exc!r}")
                    self._dirty = True
                return
            with self._lock:
                self._last_write = time.monotonic()
                self.writes += 1
                # Updates made during the write sit on top of the snapshot; they
                # continue from the serial just stored.
                self._state = replace(self._state, serial=stored.serial,
                                      updated_at=stored.updated_at)
