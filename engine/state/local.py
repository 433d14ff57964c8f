"""The local file backend: ``.fleetform/state.json`` with a backup and a lock.

Why: state must survive a power cut or a SIGKILL mid-write. Every write goes
to a temp file in the same directory, is fsynced, then ``os.replace``-d over
the old file and the directory fsynced, so a reader only ever sees the old or
the new complete file. The file holds secret hashes, so it is 0600 from its
first byte and its directory 0700.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from fleetform.errors import StateError
from fleetform.state.codec import Encoder, decode
from fleetform.state.lock import hold_lock
from fleetform.state.model import LockInfo, State

DEFAULT_PATH = Path(".fleetform") / "state.json"
"""Where the CLI keeps state unless told otherwise (relative to the working directory)."""

FILE_MODE = 0o600
DIR_MODE = 0o700


class LocalStateBackend:
    """State in one JSON file, with ``<file>.backup`` and ``<file>.lock`` beside it.

    Why: the default backend needs no server; the backup is the previous
    version, the user's way back from a corrupted or unwanted write.

    ``write`` outside a ``lock`` block takes the lock itself for the write
    (waiting up to ``write_lock_timeout`` seconds), so no write is ever
    unguarded. An instance is meant for one thread.
    """

    def __init__(self, path: Path, *, write_lock_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._write_lock_timeout = write_lock_timeout
        self._held: LockInfo | None = None
        self._encoder = Encoder()
        self._written: _Written | None = None

    def describe(self) -> str:
        """The state file path, for messages."""
        return str(self.path)

    def read(self) -> State:
        """The stored state, or a fresh unsaved ``State.empty()`` if there is no file.

        Why not persist the empty state: ``plan`` in a new directory must not
        create files; the first successful write does.
        """
        data = self._read_bytes()
        return State.empty() if data is None else self._decode(data)

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        """Hold the state lock for the block, naming ``operation`` (e.g. ``"apply"``).

        Why: an apply reads, changes devices and writes state many times; the
        lock spans all of it so no other run can write in between.
        """
        self._ensure_dir()
        with hold_lock(self.lock_path, operation, timeout) as info:
            self._held = info
            try:
                yield info
            finally:
                self._held = None
                self._written = None

    def write(self, state: State) -> State:
        """Store ``state`` at the next serial; return the state as stored.

        Why the checks: a different lineage on disk means this is another
        state altogether, and a serial past ``state.base_serial`` means another
        run wrote since this one read; overwriting either would lose records.
        """
        if self._held is not None:
            return self._write_locked(state)
        with self.lock("write", self._write_lock_timeout):
            return self._write_locked(state)

    def _write_locked(self, state: State) -> State:
        previous, current = self._previous()
        serial = state.base_serial
        if current is not None:
            self._check_base(current, state)
            serial = max(serial, current.serial)
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        stored = replace(state, serial=serial + 1, updated_at=now)
        self._ensure_dir()
        if self._written is None:
            self._remove_stale_temp_files()
        data = self._encoder.encode(stored).encode("utf-8")
        self._written = None
        try:
            if previous is not None:
                _atomic_write(self.backup_path, previous)
            _atomic_write(self.path, data)
        except OSError as exc:
            raise StateError(f"cannot write state file {self.path}: {exc}") from exc
        if self._held is not None:
            self._written = _Written(data, stored, _fingerprint(self.path))
        return stored

    def _previous(self) -> tuple[bytes | None, State | None]:
        """The file's bytes and decoded state before a write.

        Why the shortcut: under the lock nobody else writes, so when the file
        is still the one this backend wrote last (same inode, size and mtime)
        its bytes and state are known; decoding a 1,000-device file before
        each of an apply's thousands of writes was most of their cost.
        """
        written = self._written
        if written is not None and _fingerprint(self.path) == written.fingerprint:
            return written.data, written.state
        previous = self._read_bytes()
        return previous, (None if previous is None else self._decode(previous))

    def _check_base(self, current: State, state: State) -> None:
        if current.lineage != state.lineage:
            if state.base_serial == 0:
                raise StateError(
                    f"state file {self.path} was created by another run after this one "
                    "started from an empty state; run again to use the stored state"
                )
            raise StateError(
                f"state file {self.path} has lineage {current.lineage}, not {state.lineage}: "
                "it is a different state; refusing to overwrite it"
            )
        if current.serial > state.base_serial:
            raise StateError(
                f"state file {self.path} was written by another run since this one read it "
                f"(serial {current.serial} on disk, read at {state.base_serial}); "
                "run again to work from the current state"
            )

    def _read_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from exc

    def _decode(self, data: bytes) -> State:
        hint = (
            f"The previous version is kept in {self.backup_path}; inspect it and copy it "
            f"over {self.path} to recover"
            if self.backup_path.exists()
            else f"No backup ({self.backup_path}) exists"
        )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateError(f"state file {self.path} is corrupt: not UTF-8 text. {hint}") from exc
        return decode(text, source=str(self.path), hint=hint)

    def _ensure_dir(self) -> None:
        try:
            self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {self.path.parent}: {exc}") from exc

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files a killed writer left; safe because we hold the lock."""
        for name in (self.path.name, self.backup_path.name):
            for stale in self.path.parent.glob(f".{name}.*.tmp"):
                with contextlib.suppress(OSError):
                    stale.unlink()


@dataclasses.dataclass(frozen=True)
class _Written:
    """What this backend last wrote while holding the lock, to skip re-reading it."""

    data: bytes
    state: State
    fingerprint: tuple[int, int, int] | None


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a mix.

    Why each step: the temp file is in the same directory so ``os.replace`` is
    a rename on one filesystem; it is 0600 before any byte is written; the file
    fsync makes the content durable before the rename, the directory fsync
    makes the rename itself durable.
    """
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp_name).unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
