"""Read-only commands: ``show`` (state), ``status`` (live health), ``schema``, ``state``.

Why together: none of them changes a device; they answer "what did fleetform
record?", "how are my devices doing?" and "what may a manifest say?".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fleetform.cli.context import backend_for, load_workspace, make_console
from fleetform.cli.options import (
    ExcludeOpt,
    GlobalOptions,
    JsonOpt,
    ManifestArg,
    NoColorOpt,
    ParallelismOpt,
    StateOpt,
    TargetOpt,
    TimeoutOpt,
    VarFileOpt,
    VarOpt,
)
from fleetform.errors import DeviceError, FleetformError

if TYPE_CHECKING:  # the engine is imported when a command runs (quick --help)
    from fleetform.device import DeviceSpec
    from fleetform.state import StateBackend

OptionalManifest = Annotated[
    Path | None,
    typer.Argument(help="Manifest whose state settings to use, or a saved plan file "
                   "(optional).", dir_okay=False),
]


def backend_of(manifest: Path | None, state: Path | None) -> StateBackend:
    """The state backend of a manifest (if given and no --state), else --state/env/default."""
    if state is None and manifest is not None:
        workspace = load_workspace(manifest)
        for provider in workspace.providers.values():
            provider.close()
        return workspace.backend
    return backend_for(None, state)


def show(
    ctx: typer.Context,
    manifest: OptionalManifest = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
    view: Annotated[
        str, typer.Option("--format", help="For a plan file: text, json or markdown "
                          "(a pull-request comment).")
    ] = "text",
) -> None:
    """Show what state records, or render a saved plan file (fleetform show site.plan).

    Tracked secrets are shown only as "(sensitive)"; state stores them as
    salted hashes, never in clear. A plan file holds no secret at all.
    """
    from fleetform.planfile import is_plan_file
    from fleetform.state.config import close_backend
    from fleetform.views.human import render_records
    from fleetform.views.jsonview import dumps, state_document

    options: GlobalOptions = ctx.obj or GlobalOptions()
    if manifest is not None and is_plan_file(manifest):
        _show_plan_file(manifest, "json" if json_out else view, no_color or options.no_color)
        return
    backend = backend_of(manifest, state)
    try:
        current = backend.read()
    finally:
        close_backend(backend)
    records = [current.devices[name] for name in sorted(current.devices)]
    if json_out:
        typer.echo(dumps(state_document(
            records, serial=current.serial, lineage=current.lineage, source=backend.describe()
        )))
        return
    console = make_console(no_color=no_color or options.no_color)
    source = f"{backend.describe()} (serial {current.serial})"
    console.print(render_records(records, source), end="")


def _show_plan_file(path: Path, view: str, no_color: bool) -> None:
    from fleetform.planfile import read_plan_file
    from fleetform.views.human import render_plan
    from fleetform.views.jsonview import dumps
    from fleetform.views.markdown import render_plan_markdown

    saved = read_plan_file(path)
    if view == "json":
        typer.echo(dumps(saved.plan.to_json()))
    elif view == "markdown":
        typer.echo(render_plan_markdown(saved.plan, source=str(path)), nl=False)
    elif view == "text":
        console = make_console(no_color=no_color)
        console.print(f"Saved plan {path}: manifest {saved.manifest_path}, state "
                      f"{saved.state_backend} at serial {saved.plan.state_serial}, made "
                      f"{saved.plan.created_at} by fleetform {saved.fleetform_version}.\n")
        console.print(render_plan(saved.plan), end="")
    else:
        raise FleetformError(f"--format {view!r} is not one of: text, json, markdown")


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
    target: TargetOpt = [],  # noqa: B006
    exclude: ExcludeOpt = [],  # noqa: B006
) -> None:
    """Live health of every device (miners: hash rate, pools, temperatures, fans).

    Warns when a miner's PCB temperature nears the 80 °C shutdown. Exit code 1
    if any device is unreachable or critical.
    """
    from fleetform.device import Deadline
    from fleetform.parallel import map_parallel
    from fleetform.provider import StatusRequest
    from fleetform.targeting import Targeting
    from fleetform.views.jsonview import dumps

    options: GlobalOptions = ctx.obj or GlobalOptions()
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state,
                               targeting=Targeting(tuple(target), tuple(exclude)))
    try:
        current = workspace.backend.read()
    except FleetformError:
        workspace.close()
        raise

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
        rows = map_parallel(list(workspace.devices), probe, parallelism)
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
    from fleetform.manifest import provider_models_from
    from fleetform.manifest.schema import render_schema_text
    from fleetform.providers import builtin_providers

    text = render_schema_text(provider_models_from(builtin_providers()))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(show)
    app.command()(status)
    app.command()(schema)
    from fleetform.cli.statecmd import state_app

    app.add_typer(state_app, name="state")
