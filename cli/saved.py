"""``apply PLANFILE`` and ``apply --refresh-only``: the two applies that do not re-plan.

Why apart from ``operations``: both have their own safety rules. A saved plan
is applied exactly, with no question asked (it was reviewed when it was
made) but only after every staleness check passed; a refresh writes only
state, after showing and confirming what it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from fleetform.applier import ApplyReport, apply_fleet
from fleetform.cli.context import Workspace, load_workspace
from fleetform.cli.progress import progress_for
from fleetform.errors import PlanError
from fleetform.planfile import read_plan_file
from fleetform.planner import RunOptions
from fleetform.refresh import Accepted, apply_refresh, plan_refresh, shown
from fleetform.stale import verify_saved_plan
from fleetform.targeting import Targeting
from fleetform.views.human import format_value, render_plan
from fleetform.views.jsonview import dumps


def _manifest_of(plan_path: Path, recorded: str) -> Path:
    """The plan's manifest: as recorded (relative to the working directory), else beside it."""
    candidate = Path(recorded)
    if candidate.exists() or candidate.is_absolute():
        return candidate
    beside = plan_path.parent / candidate
    return beside if beside.exists() else candidate


def apply_saved_plan(plan_path: Path, *, state: Path | None, lock_timeout: float,
                     options: RunOptions, out: Console, err: Console,
                     json_out: bool) -> ApplyReport:
    """Check a saved plan against state, manifest and devices, then apply exactly it."""
    saved = read_plan_file(plan_path)
    manifest = _manifest_of(plan_path, saved.manifest_path)
    if not manifest.exists():
        raise PlanError(f"the plan's manifest {saved.manifest_path} is not here (run apply "
                        "from the directory the plan was made in)")
    names = tuple(d.name for d in saved.plan.devices)
    workspace = load_workspace(manifest, state=state, typed_variables=saved.variables)
    workspace.devices = tuple(d for d in workspace.manifest.devices if d.name in names)
    workspace.targeting = Targeting(saved.plan.targets, saved.plan.excludes)
    try:
        if workspace.backend.describe() != saved.state_backend:
            raise PlanError(
                f"the plan was made against state {saved.state_backend}, but this apply would "
                f"use {workspace.backend.describe()}: use the same --state (or state "
                "environment variables) as for the plan")
        with workspace.backend.lock("apply", lock_timeout):
            current = workspace.backend.read()
            with progress_for(err, len(names), "verifying", enabled=not json_out,
                              verbose=False) as sink:
                planned = verify_saved_plan(saved, workspace.devices, workspace.providers,
                                            current, source=str(plan_path), options=options,
                                            events=sink)
            if not json_out:
                out.print(f"Applying the saved plan {plan_path} (made {saved.plan.created_at}, "
                          f"state serial {saved.plan.state_serial}): it is not stale.\n")
                out.print(render_plan(planned.plan), end="")
            with progress_for(err, len(names), "applying", enabled=not json_out,
                              verbose=True) as sink:
                return apply_fleet(planned, workspace.devices, workspace.providers,
                                   workspace.backend, current, options=options, events=sink)
    finally:
        workspace.close()


def _accepted_line(item: Accepted) -> Text:
    line = Text("  ~ ", style="yellow")
    line.append(item.device, style="bold")
    line.append(f" {item.what}: ")
    if item.sensitive:
        line.append("(sensitive) differs from what state tracked", style="magenta")
    else:
        line.append(f"{format_value(shown(item.before))} -> {format_value(item.after)}")
    return line


def refresh_workspace(workspace: Workspace, options: RunOptions, *, out: Console,
                      json_out: bool, auto_approve: bool, lock_timeout: float,
                      confirm: Callable[[Console, str], bool]) -> None:
    """``apply --refresh-only``: show what devices report, confirm, record it in state."""
    try:
        with workspace.backend.lock("apply --refresh-only", lock_timeout):
            current = workspace.backend.read()
            refresh = plan_refresh(workspace.devices, workspace.providers, current, options)
            if not json_out:
                _show_refresh(out, refresh.accepted, refresh.unreadable)
                for name, failure in refresh.failures.items():
                    out.print(f"  ! {name}: failed at {failure.step or 'read'}: "
                              f"{failure.message}", style="red")
            accept = refresh.has_changes and (
                auto_approve or confirm(out, "Accept these values into state?"))
            serial = current.serial
            if accept:
                serial = apply_refresh(refresh, workspace.backend, current).serial
    finally:
        workspace.close()
    if json_out:
        typer.echo(dumps({"type": "refresh", "format_version": "1.0", "accepted": accept,
                          "state_serial": serial,
                          "changes": [a.to_json() for a in refresh.accepted],
                          "not_refreshable": [{"device": d, "setting": s}
                                              for d, s in refresh.unreadable],
                          "failures": {n: f.to_json() for n, f in refresh.failures.items()}}))
    elif accept:
        out.print(f"\nRefresh complete: state updated (serial {serial}); nothing was written "
                  "to any device.", style="bold green")
    elif refresh.has_changes:
        out.print("Refresh cancelled: state unchanged.")
    if refresh.failures or (refresh.has_changes and not accept):
        raise typer.Exit(1)


def _show_refresh(out: Console, accepted: tuple[Accepted, ...],
                  unreadable: tuple[tuple[str, str], ...]) -> None:
    if not accepted:
        out.print("No changes to accept: state matches what the devices report.")
    else:
        out.print("Refresh-only: nothing will be written to devices. State will record "
                  "these values the devices report:\n")
        for item in accepted:
            out.print(_accepted_line(item))
    for device, setting in unreadable:
        out.print(f"  note: {device} {setting} is write-only and the device does not report "
                  "it; it cannot be refreshed", style="dim")
