"""An exclusive advisory file lock (``fcntl.flock``) that names its holder.

Why flock: the kernel drops the lock when the holding process dies, so a
SIGKILLed or crashed apply never leaves a stuck lock and there is no
``force-unlock`` ritual. The lock file is never deleted (deleting it would let
two runs lock two different files); its content is only a note of the holder.
flock is local to one host: do not share a state directory over NFS.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from fleetform.errors import LockError, StateError
from fleetform.state.model import LockInfo

POLL_INTERVAL = 0.05
"""Seconds between attempts while waiting for the lock."""


@contextlib.contextmanager
def hold_lock(path: Path, operation: str, timeout: float) -> Iterator[LockInfo]:
    """Hold the exclusive lock on ``path`` for the ``with`` block.

    Why: every state writer runs inside this, so two runs can never interleave
    writes. Tries every :data:`POLL_INTERVAL` seconds for up to ``timeout``
    seconds (0 tries once), then raises :class:`LockError` naming the holder.
    Not reentrant: a second ``hold_lock`` on the same path in the same process
    waits like any other caller.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"cannot open lock file {path}: {exc.strerror}") from exc
    try:
        _acquire(fd, path, timeout)
        info = new_lock_info(operation)
        try:
            try:
                _write_info(fd, info)
            except OSError as exc:
                raise StateError(f"cannot write lock file {path}: {exc.strerror}") from exc
            yield info
        finally:
            # Clear the note before unlocking so nobody reads a stale holder.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_lock_holder(path: Path) -> LockInfo | None:
    """Who holds the lock on ``path`` now, or ``None`` if nobody does.

    Why: ``fleetform state`` commands show the holder before the user decides
    to wait. A note left by a killed holder is ignored because this checks the
    kernel lock itself, not just the file content (a brief shared-lock probe,
    which can make a concurrent ``timeout=0`` attempt fail once).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot open lock file {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise StateError(f"cannot lock {path}: {exc.strerror}") from exc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockError(_held_message(_read_info(fd), timeout))
        time.sleep(min(POLL_INTERVAL, remaining))


def _held_message(holder: LockInfo | None, timeout: float) -> str:
    who = holder.describe() if holder else "another process (holder not yet recorded)"
    return (
        f"state is locked by {who}; waited {timeout:g}s. "
        "If that process is gone, the lock is released automatically."
    )


def new_lock_info(operation: str) -> LockInfo:
    """A fresh holder note for ``operation`` (who, where, since): shared by every backend.

    Why public: the Postgres backend records the same holder fields, so a
    "locked by" message reads the same whichever backend holds the lock.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=socket.gethostname(),
        user=user,
        operation=operation,
        since=since,
    )


def _write_info(fd: int, info: LockInfo) -> None:
    data = json.dumps(
        {
            "id": info.id,
            "pid": info.pid,
            "host": info.host,
            "user": info.user,
            "operation": info.operation,
            "since": info.since,
        },
        sort_keys=True,
    ).encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, data + b"\n", 0)


def _read_info(fd: int) -> LockInfo | None:
    """Parse the holder note; ``None`` if empty or unreadable (the holder may be mid-write)."""
    try:
        size = os.fstat(fd).st_size
        raw = json.loads(os.pread(fd, max(size, 1), 0).decode("utf-8") or "null")
        return LockInfo(
            id=str(raw["id"]),
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            user=str(raw["user"]),
            operation=str(raw["operation"]),
            since=str(raw["since"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
