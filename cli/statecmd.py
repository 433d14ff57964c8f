"""``fleetform state list | show | rm | unlock | migrate``: look after state.

Why a group: these change or inspect state itself, never a device. They
work on whichever backend the run would use (``--state``, the environment,
the manifest given with ``--manifest``), local file or Postgres.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fleetform.cli.context import make_console, stdin_is_interactive
from fleetform.cli.info import OptionalManifest, backend_of
from fleetform.cli.options import JsonOpt, LockTimeoutOpt, StateOpt
from fleetform.errors import FleetformError, StateError

if TYPE_CHECKING:  # the engine is imported when a command runs (quick --help)
    from fleetform.state import LocalStateBackend, State, StateBackend

state_app = typer.Typer(help="Inspect and edit state: list, show, rm, unlock, migrate.",
                        no_args_is_help=True)

ManifestOpt = Annotated[
    Path | None,
    typer.Option("--manifest", "-m", dir_okay=False, exists=True,
                 help="Use this manifest's state settings (state.path or the Postgres backend)."),
]


@state_app.command("list")
def state_list(
    manifest: OptionalManifest = None,
    state: StateOpt = None,
    workspaces: Annotated[
        bool, typer.Option("--workspaces", help="List the Postgres workspaces instead.")
    ] = False,
) -> None:
    """List the devices recorded in state (or, with --workspaces, the Postgres workspaces)."""
    from fleetform.state.config import as_postgres, close_backend

    backend = backend_of(manifest, state)
    try:
        if workspaces:
            pg = as_postgres(backend)
            if pg is None:
                raise StateError("--workspaces needs the postgres backend "
                                 "(FLEETFORM_STATE_BACKEND=postgres or state.backend)")
            for info in pg.workspaces():
                lock = f"locked by {info.holder.describe()}" if info.holder else "unlocked"
                typer.echo(f"{info.name}\tserial {info.serial}\t{info.devices} device(s)\t"
                           f"updated {info.updated_at}\t{lock}")
            return
        current = backend.read()
        for name in sorted(current.devices):
            record = current.devices[name]
            typer.echo(f"{name}\t{record.provider}\t{record.address}")
    finally:
        close_backend(backend)


@state_app.command("show")
def state_show(
    names: Annotated[list[str] | None, typer.Argument(help="Devices to show (default: all).")
                     ] = None,
    manifest: ManifestOpt = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show state records: identity, address, tracked settings (secrets masked)."""
    from fleetform.state.config import close_backend
    from fleetform.views.human import render_records
    from fleetform.views.jsonview import dumps, record_json, state_document

    backend = backend_of(manifest, state)
    try:
        current = backend.read()
    finally:
        close_backend(backend)
    wanted = names or sorted(current.devices)
    missing = [n for n in wanted if n not in current.devices]
    if missing:
        raise FleetformError(f"not in state: {', '.join(missing)}")
    records = [current.devices[n] for n in wanted]
    if json_out:
        document = state_document(records, serial=current.serial, lineage=current.lineage,
                                  source=backend.describe())
        document["devices"] = [record_json(r) for r in records]
        typer.echo(dumps(document))
        return
    console = make_console(no_color=True)
    console.print(render_records(records, f"{backend.describe()} (serial {current.serial})"),
                  end="")


@state_app.command("rm")
def state_rm(
    names: Annotated[list[str], typer.Argument(help="Device names to forget.")],
    manifest: ManifestOpt = None,
    state: StateOpt = None,
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Forget devices (e.g. after replacing a miner on purpose).

    The device itself is not touched; the next plan treats it as new and
    records its new identity on apply.
    """
    from fleetform.state.config import close_backend

    backend = backend_of(manifest, state)
    try:
        with backend.lock("state rm", lock_timeout):
            current = backend.read()
            missing = [n for n in names if n not in current.devices]
            if missing:
                raise FleetformError(f"not in state: {', '.join(missing)}")
            for name in names:
                current = current.without_device(name)
            backend.write(current)
    finally:
        close_backend(backend)
    typer.echo(f"removed {len(names)} device(s) from {backend.describe()}")


@state_app.command("unlock")
def state_unlock(
    manifest: ManifestOpt = None,
    state: StateOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Postgres: end the holder's session "
                                        "without asking.")] = False,
) -> None:
    """Show who holds the state lock and, for Postgres, release it by ending that session.

    Local file: the lock is a kernel flock, released the moment its holder
    exits (even on SIGKILL), so there is never a stuck lock to remove: if it
    is held, a fleetform process is still running; stop that process instead.
    Postgres: the lock is released when the holder's database session ends;
    this command can end it (pg_terminate_backend), after confirmation. Do it
    only when the holder is really gone (e.g. a hung CI runner): a terminated
    apply stops writing state at its next step.
    """
    from fleetform.state import LocalStateBackend
    from fleetform.state.config import as_postgres, close_backend

    backend = backend_of(manifest, state)
    try:
        if isinstance(backend, LocalStateBackend):
            _unlock_local(backend)
            return
        pg = as_postgres(backend)
        if pg is None:
            raise StateError(f"{backend.describe()}: this backend has no unlock")
        holder = pg.holder()
        if holder is None:
            typer.echo(f"{backend.describe()} is not locked.")
            return
        typer.echo(f"{backend.describe()} is locked by {holder.describe()}.")
        if not force:
            if not stdin_is_interactive():
                raise FleetformError("refusing to end the holder's session without "
                                     "confirmation: pass --force")
            answer = input("End that database session to release the lock? Only 'yes' will "
                           "be accepted: ")
            if answer.strip() != "yes":
                typer.echo("Unlock cancelled.")
                raise typer.Exit(1)
        released = pg.force_unlock()
        typer.echo("Lock released: the holder's session was ended." if released else
                   "The lock was released meanwhile.")
    finally:
        close_backend(backend)


def _unlock_local(backend: LocalStateBackend) -> None:
    from fleetform.state import read_lock_holder

    holder = read_lock_holder(backend.lock_path)
    if holder is None:
        typer.echo(f"{backend.describe()} is not locked. (The local lock is a kernel flock: "
                   "it is released automatically when its holder exits, even if killed.)")
        return
    typer.echo(
        f"{backend.describe()} is locked by {holder.describe()}.\n"
        "The local lock is a kernel flock held by that live process; it cannot be stuck and "
        "cannot be broken from outside. Wait for it, or stop that process "
        f"(kill {holder.pid} on {holder.host}) if it hangs; the lock is released when it exits.")
    raise typer.Exit(1)


@state_app.command("migrate")
def state_migrate(
    to: Annotated[str, typer.Option("--to", help="Target: a postgres:// URL (password in "
                                     "PGPASSWORD) or a local file path.")],
    manifest: ManifestOpt = None,
    state: StateOpt = None,
    workspace: Annotated[
        # The literal is state.config.ENV_WORKSPACE (importing it would slow every start-up).
        str | None, typer.Option("--workspace", envvar="FLEETFORM_WORKSPACE",
                                 help="Target Postgres workspace (default 'default').")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace state already at the target."
                                        )] = False,
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Copy state to another backend (local file → Postgres), keeping lineage and serial.

    The source is left as it was (keep it as a backup). Then point the
    manifest (state: {backend: postgres, dsn, workspace}) or the environment
    (FLEETFORM_STATE_BACKEND=postgres, FLEETFORM_PG_DSN) at the target.
    """
    from fleetform.state import LocalStateBackend
    from fleetform.state.config import (
        DEFAULT_WORKSPACE,
        close_backend,
        is_postgres_url,
        postgres_backend,
    )

    source = backend_of(manifest, state)
    target: StateBackend = (postgres_backend(to, workspace or DEFAULT_WORKSPACE)
                            if is_postgres_url(to) else LocalStateBackend(Path(to)))
    try:
        with source.lock("state migrate", lock_timeout), \
                target.lock("state migrate", lock_timeout):
            current = source.read()
            if not current.devices and current.serial == 0:
                raise StateError(f"{source.describe()} holds no state: nothing to migrate")
            stored = _copy(current, target, force=force)
    finally:
        close_backend(source)
        close_backend(target)
    typer.echo(f"Migrated {len(stored.devices)} device record(s) from {source.describe()} to "
               f"{target.describe()} (serial {stored.serial}, lineage {stored.lineage}). "
               f"{source.describe()} was left unchanged.")


def _copy(current: State, target: StateBackend, *, force: bool) -> State:
    """Store ``current`` at the target: Postgres keeps the serial; a file starts anew."""
    from fleetform.state.config import as_postgres

    pg = as_postgres(target)
    if pg is not None:
        return pg.import_state(current, force=force)
    existing = target.read()
    if existing.devices or existing.serial:
        raise StateError(f"{target.describe()} already holds state (serial {existing.serial}); "
                         "move it away first")
    return target.write(current)
