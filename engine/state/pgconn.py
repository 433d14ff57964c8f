"""Connecting to PostgreSQL for state, and naming a database without its password.

Why apart: every message about the state database names it, and none may
show a password, whichever way the DSN carried one (URL, ``password=``).
The password itself comes from the environment (``PGPASSWORD``,
``~/.pgpass``) or a ``${env:NAME}`` reference resolved by the manifest loader.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from fleetform.errors import StateError

CONNECT_TIMEOUT = 10
"""Seconds to wait for the database before a state command fails."""


def safe_dsn(dsn: str) -> str:
    """The DSN as ``key=value`` pairs without the password (for messages and files)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "(unparsable DSN)"
    shown = {k: v for k, v in parts.items() if k not in ("password", "passfile") and v}
    return " ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "(default connection)"


def connect(dsn: str, what: str) -> psycopg.Connection[Any]:
    """An autocommit connection, or a :class:`StateError` naming ``what`` (no password)."""
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               application_name="fleetform")
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StateError(f"cannot connect to {what}: {first}") from exc
