"""Shared state in PostgreSQL: one row per workspace, advisory-lock guarded.

Why Postgres: a team (and its CI) needs one state that every run sees, and a
lock that cannot get stuck. The lock is a session-level advisory lock held on
a *dedicated* connection for the whole run: when the holder dies (SIGKILL, a
cancelled CI job, a lost network with TCP keepalives) its session ends and the
server releases the lock by itself. Who holds it is written to a small table
so a refused run can say "locked by apply (pid, host, user, since)"; a row
whose session no longer holds the advisory lock is ignored as stale.

Writes are checked like the local file's: same lineage, and the stored serial
must not have moved past the serial this run read (no lost updates).

Tables (created on first use)::

    fleetform_state(workspace PK, serial, lineage, document, previous, updated_at)
    fleetform_locks(workspace PK, lock_id, backend_pid, pid, host, username,
                    operation, since)
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from fleetform.errors import LockError, StateError
from fleetform.state.codec import decode, encode
from fleetform.state.lock import POLL_INTERVAL, new_lock_info
from fleetform.state.model import LockInfo, State
from fleetform.state.pgconn import connect, safe_dsn

LOCK_CLASS = 0x46464C4B
"""First key of every fleetform advisory lock ('FFLK'); the second is per workspace."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fleetform_state (
    workspace text PRIMARY KEY,
    serial bigint NOT NULL,
    lineage text NOT NULL,
    document text NOT NULL,
    previous text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS fleetform_locks (
    workspace text PRIMARY KEY,
    lock_id text NOT NULL,
    backend_pid integer NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    username text NOT NULL,
    operation text NOT NULL,
    since text NOT NULL
);
"""

_HOLDER = """
SELECT l.lock_id, l.pid, l.host, l.username, l.operation, l.since, l.backend_pid
FROM fleetform_locks l
WHERE l.workspace = %s AND EXISTS (
    SELECT 1 FROM pg_locks p
    WHERE p.locktype = 'advisory' AND p.granted AND p.pid = l.backend_pid
      AND p.classid = %s AND p.objid = %s AND p.objsubid = 2)
"""


def workspace_key(workspace: str) -> int:
    """The advisory lock's second key for a workspace (non-negative int4)."""
    return int.from_bytes(hashlib.sha256(workspace.encode()).digest()[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class WorkspaceInfo:
    """One row of ``fleetform state list --workspaces``."""

    name: str
    serial: int
    lineage: str
    devices: int
    updated_at: str
    holder: LockInfo | None


class PostgresStateBackend:
    """State for one workspace in a PostgreSQL database (a :class:`StateBackend`).

    Why the extra methods (``holder``, ``force_unlock``, ``workspaces``,
    ``import_state``): the ``fleetform state`` commands need them; the engine
    only uses the four protocol methods.
    """

    def __init__(self, dsn: str, workspace: str = "default", *,
                 write_lock_timeout: float = 5.0) -> None:
        self._dsn = dsn
        self.workspace = workspace
        self._key = workspace_key(workspace)
        self._write_lock_timeout = write_lock_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._conn_lock = threading.Lock()
        self._lock_conn: psycopg.Connection[Any] | None = None
        self._held: LockInfo | None = None

    def describe(self) -> str:
        """The database (without password) and workspace, for messages."""
        return f"postgres {safe_dsn(self._dsn)} workspace {self.workspace}"

    # --- connections -------------------------------------------------------------

    def _data(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._dsn, self.describe())
            with self._errors("prepare the state tables"), self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
                self._conn.execute(_SCHEMA)
        return self._conn

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StateError(f"cannot {doing} in {self.describe()}: {first}") from exc

    def close(self) -> None:
        """Close the data connection (the lock connection closes with its block)."""
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- protocol ----------------------------------------------------------------

    def read(self) -> State:
        """The workspace's state, or an unsaved ``State.empty()`` if it has none."""
        with self._conn_lock, self._errors("read state"):
            row = self._data().execute(
                "SELECT document FROM fleetform_state WHERE workspace = %s", (self.workspace,)
            ).fetchone()
        if row is None:
            return State.empty()
        return decode(str(row[0]), source=self.describe(),
                      hint="The previous version is in the 'previous' column of fleetform_state")

    def write(self, state: State) -> State:
        """Store ``state`` at the next serial; refuse a lost update or another lineage."""
        if self._held is not None:
            self._check_lock_alive()
            return self._write_locked(state)
        with self.lock("write", self._write_lock_timeout):
            return self._write_locked(state)

    def _write_locked(self, state: State) -> State:
        with self._conn_lock, self._errors("write state"):
            conn = self._data()
            with conn.transaction():
                row = conn.execute(
                    "SELECT serial, lineage FROM fleetform_state WHERE workspace = %s "
                    "FOR UPDATE", (self.workspace,)).fetchone()
                serial = state.base_serial
                if row is not None:
                    self._check_base(int(row[0]), str(row[1]), state)
                    serial = max(serial, int(row[0]))
                now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                stored = replace(state, serial=serial + 1, updated_at=now)
                self._upsert(conn, stored)
        return stored

    def _upsert(self, conn: psycopg.Connection[Any], state: State) -> None:
        conn.execute(
            "INSERT INTO fleetform_state (workspace, serial, lineage, document) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (workspace) DO UPDATE SET "
            "serial = EXCLUDED.serial, lineage = EXCLUDED.lineage, "
            "previous = fleetform_state.document, document = EXCLUDED.document, "
            "updated_at = now()",
            (self.workspace, state.serial, state.lineage, encode(state)))

    def _check_base(self, serial: int, lineage: str, state: State) -> None:
        if lineage != state.lineage:
            if state.base_serial == 0:
                raise StateError(
                    f"{self.describe()} was created by another run after this one started "
                    "from an empty state; run again to use the stored state")
            raise StateError(f"{self.describe()} has lineage {lineage}, not {state.lineage}: "
                             "it is a different state; refusing to overwrite it")
        if serial > state.base_serial:
            raise StateError(
                f"{self.describe()} was written by another run since this one read it "
                f"(serial {serial} stored, read at {state.base_serial}); run again to work "
                "from the current state")

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        """Hold the workspace's advisory lock on a dedicated session for the block."""
        self._data()  # tables exist before the holder row is written
        conn = connect(self._dsn, self.describe())
        try:
            with self._errors("lock state"):
                with contextlib.suppress(psycopg.Error):  # not settable on unix sockets
                    conn.execute("SET tcp_keepalives_idle = 30")
                    conn.execute("SET tcp_keepalives_interval = 10")
                self._acquire(conn, timeout)
                info = new_lock_info(operation)
                conn.execute(
                    "INSERT INTO fleetform_locks VALUES (%s, %s, pg_backend_pid(), %s, %s, %s, "
                    "%s, %s) ON CONFLICT (workspace) DO UPDATE SET lock_id = EXCLUDED.lock_id, "
                    "backend_pid = EXCLUDED.backend_pid, pid = EXCLUDED.pid, "
                    "host = EXCLUDED.host, username = EXCLUDED.username, "
                    "operation = EXCLUDED.operation, since = EXCLUDED.since",
                    (self.workspace, info.id, info.pid, info.host, info.user, info.operation,
                     info.since))
            self._lock_conn, self._held = conn, info
            try:
                yield info
            finally:
                self._lock_conn, self._held = None, None
                with contextlib.suppress(psycopg.Error):
                    conn.execute("DELETE FROM fleetform_locks WHERE workspace = %s AND "
                                 "lock_id = %s", (self.workspace, info.id))
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, self._key))
        finally:
            conn.close()

    def _acquire(self, conn: psycopg.Connection[Any], timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                               (LOCK_CLASS, self._key)).fetchone()
            if row is not None and row[0]:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = self.holder()
                who = holder.describe() if holder else "another session (holder not recorded)"
                raise LockError(
                    f"state ({self.describe()}) is locked by {who}; waited {timeout:g}s. "
                    "The lock is released when the holder's database session ends; "
                    "'fleetform state unlock' shows it and can end that session")
            time.sleep(min(POLL_INTERVAL * 2, remaining))

    def _check_lock_alive(self) -> None:
        conn = self._lock_conn
        try:
            if conn is None:
                raise psycopg.OperationalError("no lock session")
            conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise LockError(
                f"lost the state lock on {self.describe()}: its database session ended "
                "(terminated by 'fleetform state unlock'?); state was not written") from exc

    # --- administration ------------------------------------------------------------

    def holder(self) -> LockInfo | None:
        """Who holds this workspace's lock now (a stale holder row is ignored)."""
        with self._conn_lock, self._errors("read the lock holder"):
            row = self._data().execute(_HOLDER, (self.workspace, LOCK_CLASS, self._key)
                                       ).fetchone()
        if row is None:
            return None
        return LockInfo(id=str(row[0]), pid=int(row[1]), host=str(row[2]), user=str(row[3]),
                        operation=str(row[4]), since=str(row[5]))

    def force_unlock(self) -> LockInfo | None:
        """End the database session holding the lock; return who held it (or ``None``)."""
        with self._conn_lock, self._errors("force-release the lock"):
            conn = self._data()
            row = conn.execute(_HOLDER, (self.workspace, LOCK_CLASS, self._key)).fetchone()
            if row is None:
                return None
            conn.execute("SELECT pg_terminate_backend(%s)", (int(row[6]),))
            conn.execute("DELETE FROM fleetform_locks WHERE workspace = %s AND lock_id = %s",
                         (self.workspace, str(row[0])))
        return LockInfo(id=str(row[0]), pid=int(row[1]), host=str(row[2]), user=str(row[3]),
                        operation=str(row[4]), since=str(row[5]))

    def workspaces(self) -> list[WorkspaceInfo]:
        """Every workspace in the database with its serial and lock holder."""
        with self._conn_lock, self._errors("list workspaces"):
            rows = self._data().execute(
                "SELECT workspace, serial, lineage, document, updated_at FROM fleetform_state "
                "ORDER BY workspace").fetchall()
        result = []
        for name, serial, lineage, document, updated in rows:
            other = PostgresStateBackend(self._dsn, str(name))
            try:
                holder = other.holder()
            finally:
                other.close()
            devices = len(decode(str(document), source=f"workspace {name}").devices)
            result.append(WorkspaceInfo(str(name), int(serial), str(lineage), devices,
                                        updated.strftime("%Y-%m-%dT%H:%M:%SZ"), holder))
        return result

    def import_state(self, state: State, *, force: bool = False) -> State:
        """Store ``state`` as is (same serial and lineage): the target of a migration."""
        with self._conn_lock, self._errors("import state"):
            conn = self._data()
            with conn.transaction():
                row = conn.execute("SELECT serial FROM fleetform_state WHERE workspace = %s "
                                   "FOR UPDATE", (self.workspace,)).fetchone()
                if row is not None and not force:
                    raise StateError(
                        f"{self.describe()} already holds state (serial {row[0]}); refusing "
                        "to overwrite it (pass --force to replace it)")
                self._upsert(conn, state)
        return state
