"""Commands that plan and change devices: ``validate``, ``plan``, ``apply``.

Why together: they share the load → plan pipeline; apply is plan plus
confirmation plus the applier, under the state lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fleetform.applier import ApplyReport, apply_fleet
from fleetform.cli.context import Workspace, load_workspace, make_console, stdin_is_interactive
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
from fleetform.cli.progress import progress_for
from fleetform.errors import FleetformError
from fleetform.planner import PlannedFleet, RunOptions, plan_fleet
from fleetform.state import State
from fleetform.views.human import render_apply, render_plan
from fleetform.views.jsonview import dumps


def _consoles(ctx: typer.Context, no_color: bool) -> tuple[Console, Console]:
    options: GlobalOptions = ctx.obj or GlobalOptions()
    plain = no_color or options.no_color
    return make_console(no_color=plain), make_console(no_color=plain, stderr=True)


def plan_workspace(
    workspace: Workspace, state: State, options: RunOptions, err: Console, *, quiet: bool
) -> PlannedFleet:
    """Plan every device of the workspace with a progress display on stderr."""
    devices = workspace.manifest.devices
    with progress_for(err, len(devices), "planning", enabled=not quiet, verbose=False) as sink:
        return plan_fleet(
            devices,
            workspace.providers,
            state,
            manifest=str(workspace.manifest.path),
            options=options,
            events=sink,
        )


def validate(
    ctx: typer.Context,
    manifest: ManifestArg,
    var: VarOpt = [],  # noqa: B006 - typer needs a literal default
    var_file: VarFileOpt = [],  # noqa: B006
    json_out: JsonOpt = False,
) -> None:
    """Check a manifest (YAML, Jinja, secrets, schema) without touching any device.

    Exit code 0 when valid, 1 with every problem listed (file:line:column,
    field, what is allowed) when not.
    """
    workspace = load_workspace(manifest, variables=var, var_files=var_file)
    devices = workspace.manifest.devices
    if json_out:
        typer.echo(dumps({
            "type": "validation", "format_version": "1.0", "valid": True,
            "manifest": str(manifest), "devices": [d.name for d in devices],
        }))
    else:
        providers = sorted({d.provider for d in devices})
        typer.echo(
            f"The manifest is valid: {len(devices)} device(s)"
            + (f" ({', '.join(providers)})." if providers else ".")
        )


def plan(
    ctx: typer.Context,
    manifest: ManifestArg,
    var: VarOpt = [],  # noqa: B006
    var_file: VarFileOpt = [],  # noqa: B006
    state: StateOpt = None,
    parallelism: ParallelismOpt = 10,
    timeout: TimeoutOpt = 120.0,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when there are no changes, 2 when there are changes, 1 on error.",
        ),
    ] = False,
) -> None:
    """Read every device, compare it with the manifest and show the changes.

    Read-only: nothing is written to devices or state. Devices that cannot be
    read are reported with the step that failed; the exit code is then 1.
    """
    out, err = _consoles(ctx, no_color)
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state)
    try:
        current = workspace.backend.read()
        planned = plan_workspace(
            workspace, current, RunOptions(parallelism=parallelism, timeout=timeout), err,
            quiet=json_out,
        )
    finally:
        workspace.close()
    if json_out:
        typer.echo(dumps(planned.plan.to_json()))
    else:
        out.print(render_plan(planned.plan), end="")
    if planned.plan.failed:
        raise typer.Exit(1)
    if detailed_exitcode and planned.plan.has_changes:
        raise typer.Exit(2)


def _confirm(out: Console) -> bool:
    if not stdin_is_interactive():
        raise FleetformError(
            "refusing to apply without confirmation: stdin is not a terminal. "
            "Review the plan and pass --auto-approve."
        )
    out.print("\nDo you want to perform these actions? Only 'yes' will be accepted.")
    try:
        answer = input("  Enter a value: ")
    except EOFError:
        return False
    return answer.strip() == "yes"


def apply(
    ctx: typer.Context,
    manifest: ManifestArg,
    var: VarOpt = [],  # noqa: B006
    var_file: VarFileOpt = [],  # noqa: B006
    state: StateOpt = None,
    parallelism: ParallelismOpt = 10,
    timeout: TimeoutOpt = 600.0,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking for confirmation.")
    ] = False,
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Plan, ask for confirmation, then push the changes and verify them.

    Devices run in parallel (--parallelism); within a device, steps run in a
    safe order (pools, then password, then network last). Each step is read
    back before it is recorded in state. A device that fails stops alone; the
    others finish; the exit code is 1 if any device failed.
    """
    out, err = _consoles(ctx, no_color)
    if json_out and not auto_approve:
        raise FleetformError("--json needs --auto-approve (there is no one to ask).")
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state)
    options = RunOptions(parallelism=parallelism, timeout=timeout)
    try:
        with workspace.backend.lock("apply", lock_timeout):
            current = workspace.backend.read()
            planned = plan_workspace(workspace, current, options, err, quiet=json_out)
            if not json_out:
                out.print(render_plan(planned.plan), end="")
            if planned.plan.has_changes and not auto_approve and not _confirm(out):
                out.print("Apply cancelled.")
                raise typer.Exit(1)
            report = _run_apply(workspace, planned, current, options, err, quiet=json_out)
    finally:
        workspace.close()
    if json_out:
        typer.echo(dumps(report.to_json()))
    else:
        out.print(render_apply(report), end="")
    if not report.ok:
        raise typer.Exit(1)


def _run_apply(
    workspace: Workspace, planned: PlannedFleet, current: State, options: RunOptions,
    err: Console, *, quiet: bool,
) -> ApplyReport:
    total = len(planned.plan.devices)
    with progress_for(err, total, "applying", enabled=not quiet, verbose=True) as sink:
        return apply_fleet(
            planned, workspace.manifest.devices, workspace.providers, workspace.backend, current,
            options=options, events=sink,
        )


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(validate)
    app.command()(plan)
    app.command()(apply)
    from fleetform.cli.demo import demo
    from fleetform.cli.simulate import simulate

    app.command()(simulate)
    app.command()(demo)


__all__ = ["Path", "register"]
