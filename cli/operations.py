"""Commands that plan and change devices: ``validate``, ``plan``, ``apply``.

Why together: they share the load → plan pipeline; apply is plan plus
confirmation plus the applier, under the state lock. Applying a saved plan
and ``--refresh-only`` live in :mod:`fleetform.cli.saved`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from fleetform.cli.context import Workspace, load_workspace, make_console, stdin_is_interactive
from fleetform.cli.interrupt import INTERRUPTED_EXIT_CODE, finish_running_steps_on_sigint
from fleetform.cli.options import (
    ExcludeOpt,
    GlobalOptions,
    JsonOpt,
    LockTimeoutOpt,
    ManifestArg,
    NoColorOpt,
    ParallelismOpt,
    StateOpt,
    TargetOpt,
    TimeoutOpt,
    VarFileOpt,
    VarOpt,
    VerifyPresetsOpt,
    run_options,
)
from fleetform.errors import FleetformError

if TYPE_CHECKING:  # the engine is imported when a command runs (quick --help)
    from fleetform.applier import ApplyReport, DeviceOutcome
    from fleetform.planner import PlannedFleet, RunOptions
    from fleetform.state import State


def _consoles(ctx: typer.Context, no_color: bool) -> tuple[Console, Console]:
    options: GlobalOptions = ctx.obj or GlobalOptions()
    plain = no_color or options.no_color
    return make_console(no_color=plain), make_console(no_color=plain, stderr=True)


def plan_workspace(
    workspace: Workspace, state: State, options: RunOptions, err: Console, *, quiet: bool
) -> PlannedFleet:
    """Plan every device of the workspace with a progress display on stderr."""
    from fleetform.cli.progress import progress_for
    from fleetform.planner import plan_fleet

    devices = workspace.devices
    with progress_for(err, len(devices), "planning", enabled=not quiet, verbose=False) as sink:
        return plan_fleet(
            devices,
            workspace.providers,
            state,
            manifest=str(workspace.manifest.path),
            options=options,
            events=sink,
            targets=workspace.targeting.targets,
            excludes=workspace.targeting.excludes,
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
    from fleetform.views.jsonview import dumps

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
    target: TargetOpt = [],  # noqa: B006
    exclude: ExcludeOpt = [],  # noqa: B006
    out_file: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Save the plan to this file for "
                     "'fleetform apply FILE' (no secret in clear; refused there if stale)."),
    ] = None,
    verify_presets: VerifyPresetsOpt = False,
) -> None:
    """Read every device, compare it with the manifest and show the changes.

    Read-only: nothing is written to devices or state. Devices that cannot be
    read are reported with the step that failed; the exit code is then 1.
    With --out the plan is saved for a later 'fleetform apply FILE'.
    """
    from fleetform.planfile import build_saved_plan, write_plan_file
    from fleetform.targeting import Targeting
    from fleetform.views.human import render_plan
    from fleetform.views.jsonview import dumps

    out, err = _consoles(ctx, no_color)
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state,
                               targeting=Targeting(tuple(target), tuple(exclude)))
    try:
        current = workspace.backend.read()
        planned = plan_workspace(
            workspace, current,
            run_options(parallelism, timeout, verify_presets=verify_presets), err,
            quiet=json_out,
        )
        if out_file is not None and not planned.plan.failed:
            saved = build_saved_plan(
                planned.plan, {d.name: d for d in workspace.devices}, workspace.providers,
                manifest_path=str(workspace.manifest.path),
                variables=workspace.manifest.variables,
                state_backend=workspace.backend.describe(),
            )
            write_plan_file(saved, out_file)
    finally:
        workspace.close()
    if json_out:
        typer.echo(dumps(planned.plan.to_json()))
    else:
        out.print(render_plan(planned.plan), end="")
        if out_file is not None and not planned.plan.failed:
            out.print(f"\nSaved the plan to {out_file}. To apply exactly this plan: "
                      f"fleetform apply {out_file}")
    if planned.plan.failed:
        if out_file is not None:
            err.print(f"The plan was not saved to {out_file}: device(s) failed to plan. "
                      "Fix them or leave them out with --exclude.")
        raise typer.Exit(1)
    if detailed_exitcode and planned.plan.has_changes:
        raise typer.Exit(2)


def _confirm(out: Console, question: str = "Do you want to perform these actions?") -> bool:
    if not stdin_is_interactive():
        raise FleetformError(
            "refusing to apply without confirmation: stdin is not a terminal. "
            "Review the plan and pass --auto-approve."
        )
    out.print(f"\n{question} Only 'yes' will be accepted.")
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
    target: TargetOpt = [],  # noqa: B006
    exclude: ExcludeOpt = [],  # noqa: B006
    refresh_only: Annotated[
        bool,
        typer.Option("--refresh-only", help="Write nothing to devices: accept the values "
                     "devices report for write-only settings (changed by hand) into state, "
                     "after showing them."),
    ] = False,
    verify_presets: VerifyPresetsOpt = False,
) -> None:
    """Plan, ask for confirmation, then push the changes and verify them.

    MANIFEST may also be a plan file saved by 'fleetform plan --out': then
    exactly that plan is applied, without asking, after checking it is not
    stale (state serial, manifest, secrets and every device's fingerprint).

    Devices run in parallel (--parallelism); within a device, steps run in a
    safe order (pools, then password, then network last). Each step is read
    back before it is recorded in state. A device that fails stops alone; the
    others finish; the exit code is 1 if any device failed.

    Ctrl-C lets running steps finish (and records them); devices not yet
    started are reported as interrupted and the exit code is 130. Press it
    twice to stop at once.
    """
    from fleetform.cli.saved import apply_saved_plan, refresh_workspace
    from fleetform.planfile import is_plan_file
    from fleetform.targeting import Targeting
    from fleetform.views.human import render_plan

    out, err = _consoles(ctx, no_color)
    if is_plan_file(manifest):
        if var or var_file or target or exclude or refresh_only:
            raise FleetformError("a saved plan fixes its variables and targets: --var, "
                                 "--var-file, --target, --exclude and --refresh-only cannot "
                                 "be combined with a plan file")
        options = run_options(parallelism, timeout, verify_presets=verify_presets)
        with finish_running_steps_on_sigint(options.cancel):
            report = apply_saved_plan(manifest, state=state, lock_timeout=lock_timeout,
                                      options=options, out=out, err=err, json_out=json_out)
            _finish(report, out, err, json_out=json_out)
        return
    if json_out and not auto_approve:
        raise FleetformError("--json needs --auto-approve (there is no one to ask).")
    targeting = Targeting(tuple(target), tuple(exclude))
    if refresh_only:
        refresh_workspace(load_workspace(manifest, variables=var, var_files=var_file,
                                         state=state, targeting=targeting),
                          run_options(parallelism, timeout, verify_presets=verify_presets),
                          out=out, json_out=json_out, auto_approve=auto_approve,
                          lock_timeout=lock_timeout, confirm=_confirm)
        return
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state,
                               targeting=targeting)
    options = run_options(parallelism, timeout, verify_presets=verify_presets)
    try:
        with workspace.backend.lock("apply", lock_timeout), \
                finish_running_steps_on_sigint(options.cancel):
            current = workspace.backend.read()
            planned = plan_workspace(workspace, current, options, err, quiet=json_out)
            if not json_out:
                out.print(render_plan(planned.plan), end="")
            # After a Ctrl-C while planning, no question: every device stops before
            # its first step and the report says so.
            if (planned.plan.has_changes and not auto_approve and not options.cancel.is_set()
                    and not _confirm(out)):
                out.print("Apply cancelled.")
                raise typer.Exit(1)
            report = _run_apply(workspace, planned, current, options, err, quiet=json_out)
            # Still under the Ctrl-C handler: a late Ctrl-C must not swallow the summary.
            _finish(report, out, err, json_out=json_out)
    finally:
        workspace.close()


def _was_interrupted(device: DeviceOutcome) -> bool:
    return device.status == "interrupted" or (
        device.failure is not None and device.failure.kind == "Interrupted")


def _finish(report: ApplyReport, out: Console, err: Console, *, json_out: bool) -> None:
    """Print the report; exit 130 if a Ctrl-C stopped a device, else 1 if one failed.

    A Ctrl-C that came after every device had finished stopped nothing: the
    report, and the exit code, are those of a complete apply.
    """
    from fleetform.views.human import render_apply
    from fleetform.views.jsonview import dumps

    if json_out:
        typer.echo(dumps(report.to_json()))
    else:
        out.print(render_apply(report), end="")
    if any(_was_interrupted(d) for d in report.devices):
        stopped = [d.name for d in report.devices if d.status not in ("applied", "unchanged")]
        err.print(f"Interrupted: {len(stopped)} device(s) did not finish"
                  + (f" ({', '.join(stopped)})" if stopped else "")
                  + ". Steps that ran were verified and recorded; run apply again to converge.")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if not report.ok:
        raise typer.Exit(1)


def _run_apply(
    workspace: Workspace, planned: PlannedFleet, current: State, options: RunOptions,
    err: Console, *, quiet: bool,
) -> ApplyReport:
    from fleetform.applier import apply_fleet
    from fleetform.cli.progress import progress_for

    total = len(planned.plan.devices)
    with progress_for(err, total, "applying", enabled=not quiet, verbose=True) as sink:
        return apply_fleet(
            planned, workspace.devices, workspace.providers, workspace.backend, current,
            options=options, events=sink,
        )


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(validate)
    app.command()(plan)
    app.command()(apply)
    from fleetform.cli.demo import demo
    from fleetform.cli.drift import drift
    from fleetform.cli.importcmd import import_command
    from fleetform.cli.simulate import simulate

    app.command()(drift)
    app.command("import")(import_command)

    app.command()(simulate)
    app.command()(demo)


__all__ = ["Path", "register"]
