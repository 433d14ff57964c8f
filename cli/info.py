"""Read-only commands: ``show`` (state), ``status`` (live health), ``schema``, ``state``.

Why together: none of them changes a device; they answer "what did fleetform
record?", "how are my devices doing?" and "what may a manifest say?".
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fleetform.cli.context import load_workspace, make_console, state_path_for
from fleetform.cli.options import (
    GlobalOptions,
    JsonOpt,
    LockTimeoutOpt,
    ManifestArg,
    NoColorOpt,
    ParallelismOpt,
    StateOpt,
    TimeoutOpt,
    VarFileOpt,
    VarOpt,
)
from fleetform.device import Deadline, DeviceSpec
from fleetform.errors import DeviceError, FleetformError
from fleetform.manifest import provider_models_from
from fleetform.manifest.schema import render_schema_text
from fleetform.parallel import map_parallel
from fleetform.provider import StatusRequest
from fleetform.providers import builtin_providers
from fleetform.state import LocalStateBackend
from fleetform.views.human import render_records
from fleetform.views.jsonview import dumps, state_document

OptionalManifest = Annotated[
    Path | None,
    typer.Argument(help="Manifest whose state.path to use (optional).", dir_okay=False),
]


def _backend(manifest: Path | None, state: Path | None) -> LocalStateBackend:
    if state is None and manifest is not None:
        workspace = load_workspace(manifest)
        return workspace.backend
    return LocalStateBackend(state_path_for(None, state))


def show(
    ctx: typer.Context,
    manifest: OptionalManifest = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Show what state records: each device's identity, address and tracked settings.

    Tracked secrets are shown only as "(sensitive)"; state stores them as
    salted hashes, never in clear.
    """
    options: GlobalOptions = ctx.obj or GlobalOptions()
    backend = _backend(manifest, state)
    current = backend.read()
    records = [current.devices[name] for name in sorted(current.devices)]
    if json_out:
        typer.echo(dumps(state_document(
            records, serial=current.serial, lineage=current.lineage, source=backend.describe()
        )))
        return
    console = make_console(no_color=no_color or options.no_color)
    source = f"{backend.describe()} (serial {current.serial})"
    console.print(render_records(records, source), end="")


def status(
    ctx: typer.Context,
    manifest: ManifestArg,
    var: VarOpt = [],  # noqa: B006
    var_file: VarFileOpt = [],  # noqa: B006
    state: StateOpt = None,
    parallelism: ParallelismOpt = 10,
    timeout: TimeoutOpt = 30.0,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Live health of every device (miners: hash rate, pools, temperatures, fans).

    Warns when a miner's PCB temperature nears the 80 °C shutdown. Exit code 1
    if any device is unreachable or critical.
    """
    options: GlobalOptions = ctx.obj or GlobalOptions()
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state)
    current = workspace.backend.read()

    def probe(device: DeviceSpec) -> dict[str, Any]:
        provider = workspace.providers[device.provider]
        try:
            response = provider.status(StatusRequest(
                device=device, record=current.record(device.name), deadline=Deadline(timeout)
            ))
        except DeviceError as exc:
            exc.with_context(device=device.name, step="status")
            return {"name": device.name, "ok": False, "error": str(exc.message),
                    "step": exc.step, "warnings": []}
        return {"name": device.name, "ok": response.healthy, "address": response.address,
                "summary": response.summary, "metrics": response.metrics,
                "warnings": list(response.warnings)}

    try:
        rows = map_parallel(list(workspace.manifest.devices), probe, parallelism)
    finally:
        workspace.close()
    if json_out:
        typer.echo(dumps({"type": "status", "format_version": "1.0", "devices": rows}))
    else:
        console = make_console(no_color=no_color or options.no_color)
        table = Table("device", "address", "health", "figures", title="fleetform status")
        for row in rows:
            if "error" in row:
                table.add_row(row["name"], "-", Text("error", style="bold red"),
                              Text(f"at {row['step']}: {row['error']}", style="red"))
                continue
            health = Text("ok", style="green") if row["ok"] else Text("critical", style="bold red")
            figures = Text(row["summary"])
            for warning in row["warnings"]:
                figures.append(f"\nwarning: {warning}", style="yellow")
            table.add_row(row["name"], row["address"], health, figures)
        console.print(table)
    if not all(r["ok"] for r in rows):
        raise typer.Exit(1)


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the manifest JSON Schema (generated from the provider models).

    Editors use it via '# yaml-language-server: $schema=schemas/manifest.schema.json'.
    """
    text = render_schema_text(provider_models_from(builtin_providers()))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


state_app = typer.Typer(help="Inspect and edit state records.", no_args_is_help=True)


@state_app.command("list")
def state_list(
    manifest: OptionalManifest = None,
    state: StateOpt = None,
) -> None:
    """List the devices recorded in state."""
    current = _backend(manifest, state).read()
    for name in sorted(current.devices):
        record = current.devices[name]
        typer.echo(f"{name}\t{record.provider}\t{record.address}")


@state_app.command("rm")
def state_rm(
    names: Annotated[list[str], typer.Argument(help="Device names to forget.")],
    state: StateOpt = None,
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Forget devices (e.g. after replacing a miner on purpose).

    The device itself is not touched; the next plan treats it as new and
    records its new identity on apply.
    """
    backend = _backend(None, state)
    with backend.lock("state rm", lock_timeout):
        current = backend.read()
        missing = [n for n in names if n not in current.devices]
        if missing:
            raise FleetformError(f"not in state: {', '.join(missing)}")
        for name in names:
            current = current.without_device(name)
        backend.write(current)
    typer.echo(f"removed {len(names)} device(s) from {backend.describe()}")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(show)
    app.command()(status)
    app.command()(schema)
    app.add_typer(state_app, name="state")
