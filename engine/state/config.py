"""Choosing the state backend: ``--state``, environment variables, the manifest.

Why one function: every command must find state the same way, or ``plan``
and ``apply`` could silently look at two different states. Precedence,
highest first:

1. ``--state PATH`` (or ``FLEETFORM_STATE``): that local file;
2. ``FLEETFORM_STATE_BACKEND`` (``local`` | ``postgres``);
3. the manifest's ``state.backend`` / ``state.path``;
4. the local default ``.fleetform/state.json``.

For Postgres the DSN is ``FLEETFORM_PG_DSN`` or ``state.dsn`` and the
workspace ``FLEETFORM_WORKSPACE`` or ``state.workspace`` (default ``default``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from fleetform.errors import StateError
from fleetform.manifest.gitops import BACKENDS, StateConfig
from fleetform.state.local import DEFAULT_PATH, LocalStateBackend
from fleetform.state.model import StateBackend

if TYPE_CHECKING:
    from fleetform.state.postgres import PostgresStateBackend

ENV_BACKEND = "FLEETFORM_STATE_BACKEND"
ENV_DSN = "FLEETFORM_PG_DSN"
ENV_WORKSPACE = "FLEETFORM_WORKSPACE"
DEFAULT_WORKSPACE = "default"


def is_postgres_url(text: str) -> bool:
    """True for ``postgres://`` / ``postgresql://`` URLs (``state migrate --to``)."""
    return text.startswith(("postgres://", "postgresql://"))


def postgres_backend(dsn: str, workspace: str) -> StateBackend:
    """A Postgres backend (imported lazily: plain local use needs no database driver)."""
    from fleetform.state.postgres import PostgresStateBackend

    return PostgresStateBackend(dsn, workspace)


def choose_backend(config: StateConfig | None, manifest_dir: Path | None,
                   explicit: Path | None, environ: Mapping[str, str]) -> StateBackend:
    """The backend a command uses, by the precedence in the module docstring."""
    if explicit is not None:
        return LocalStateBackend(explicit)
    config = config or StateConfig()
    kind = environ.get(ENV_BACKEND) or config.backend or "local"
    if kind not in BACKENDS:
        raise StateError(f"{ENV_BACKEND}={kind!r} is not a state backend; "
                         f"use one of: {', '.join(BACKENDS)}")
    if kind == "postgres":
        dsn = environ.get(ENV_DSN) or config.dsn
        if not dsn:
            raise StateError("the postgres state backend needs a database: set state.dsn in "
                             f"the manifest or {ENV_DSN} (the password goes in PGPASSWORD)")
        workspace = environ.get(ENV_WORKSPACE) or config.workspace or DEFAULT_WORKSPACE
        return postgres_backend(dsn, workspace)
    if config.path:
        declared = Path(config.path)
        if not declared.is_absolute() and manifest_dir is not None:
            declared = manifest_dir / declared
        return LocalStateBackend(declared)
    return LocalStateBackend(DEFAULT_PATH)


def close_backend(backend: StateBackend) -> None:
    """Release a backend's connections if it has any (Postgres)."""
    close = getattr(backend, "close", None)
    if callable(close):
        close()


def as_postgres(backend: StateBackend) -> PostgresStateBackend | None:
    """``backend`` if it is the Postgres backend (for its admin methods), else ``None``."""
    from fleetform.state.postgres import PostgresStateBackend

    return backend if isinstance(backend, PostgresStateBackend) else None
