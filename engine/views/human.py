"""Human rendering: Terraform-like ``+ ~ -`` plans, apply summaries, state.

Why: people review plans before they touch a farm; the text must be easy to
scan, show secrets only as ``(sensitive)`` and say which device failed where.
Everything returns ``rich.text.Text`` so colour can be switched off
(``--no-color``, ``NO_COLOR``, pipes) without changing the words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text

from fleetform.applier import ApplyReport
from fleetform.plan import Action, Change, DevicePlan, Plan, to_plain
from fleetform.provider import DeviceRecord
from fleetform.secrets import is_secret_hash

_STYLE = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red", Action.NOOP: ""}


def format_value(value: Any) -> str:
    """One setting value as the plan shows it (JSON-like, strings quoted)."""
    return json.dumps(to_plain(value), ensure_ascii=False)


def _change_line(change: Change, width: int) -> Text:
    line = Text("      ")
    line.append(f"{change.action.symbol} ", style=_STYLE[change.action])
    line.append(f"{change.path:<{width}}", style="bold")
    line.append(" = ")
    if change.sensitive:
        line.append("(sensitive)", style="magenta")
    elif change.action is Action.CREATE:
        line.append(format_value(change.after))
    elif change.action is Action.DELETE:
        line.append(format_value(change.before), style="red")
        line.append(" -> null")
    else:
        line.append(format_value(change.before))
        line.append(" -> ")
        line.append(format_value(change.after), style="bold")
    if change.disruptive:
        line.append("   # disruptive: restarts networking / moves the address", style="dim")
    return line


def _device_symbol(device: DevicePlan) -> tuple[str, str]:
    actions = {c.action for c in device.actionable}
    if actions == {Action.CREATE}:
        return "+", "green"
    if actions == {Action.DELETE}:
        return "-", "red"
    return "~", "yellow"


def _identity(device: DevicePlan) -> str:
    shown = [device.identity[k] for k in ("model", "mac", "serial") if device.identity.get(k)]
    return f" ({', '.join(shown)})" if shown else ""


def render_device_plan(device: DevicePlan) -> Text:
    """One device's block of the plan."""
    out = Text()
    if device.failure is not None:
        out.append("  ! ", style="bold red")
        out.append(device.name, style="bold")
        out.append(f"  {device.provider} @ {device.address}\n")
        out.append(f"      failed at {device.failure.step or 'plan'}: ", style="red")
        out.append(f"{device.failure.message}\n")
        return out
    symbol, style = _device_symbol(device)
    out.append(f"  {symbol} ", style=f"bold {style}")
    out.append(device.name, style="bold")
    out.append(f"  {device.provider} @ {device.address}{_identity(device)}\n")
    width = max((len(c.path) for c in device.actionable), default=0)
    for change in device.actionable:
        out.append_text(_change_line(change, width))
        out.append("\n")
    for warning in device.warnings:
        out.append(f"      warning: {warning}\n", style="yellow")
    return out


def plan_summary(plan: Plan) -> Text:
    """The closing line: totals per action and device counts."""
    totals = plan.summary()
    out = Text("Plan: ", style="bold")
    out.append(f"{totals['create']} to add, ", style="green")
    out.append(f"{totals['update']} to change, ", style="yellow")
    out.append(f"{totals['delete']} to remove", style="red")
    out.append(
        f", on {totals['devices_changing']} of {totals['devices']} device(s)"
    )
    if totals["devices_failed"]:
        out.append(f"; {totals['devices_failed']} device(s) failed to plan", style="bold red")
    out.append(".\n")
    return out


def targeted_banner(targets: Sequence[str], excludes: Sequence[str]) -> Text:
    """The warning a partial (``--target``/``--exclude``) run prints first.

    Why: as with Terraform's ``-target``, a partial plan must never be
    mistaken for the whole fleet: devices outside it are not even read.
    """
    parts = []
    if targets:
        parts.append("only " + ", ".join(targets))
    if excludes:
        parts.append("excluding " + ", ".join(excludes))
    return Text(f"Targeted plan ({'; '.join(parts)}): devices outside the selection were "
                "not read and are not shown.\n\n", style="yellow")


def render_plan(plan: Plan) -> Text:
    """The whole plan as a person reads it."""
    out = Text()
    if plan.targeted:
        out.append_text(targeted_banner(plan.targets, plan.excludes))
    shown = [d for d in plan.devices if d.has_changes or d.failure or d.warnings]
    unchanged = [d for d in plan.devices if not d.has_changes and not d.failure]
    if not plan.has_changes and not plan.failed:
        out.append("No changes. ", style="bold green")
        out.append(f"{len(plan.devices)} device(s) match the manifest.\n")
        for device in shown:
            out.append_text(render_device_plan(device))
        return out
    if plan.has_changes:
        out.append("fleetform will perform the following actions:\n\n")
    for device in shown:
        out.append_text(render_device_plan(device))
        out.append("\n")
    if unchanged:
        out.append(f"  {len(unchanged)} device(s) unchanged.\n\n", style="dim")
    out.append_text(plan_summary(plan))
    return out


def render_apply(report: ApplyReport) -> Text:
    """Per-device summary after an apply, failures with their step."""
    out = Text("\nApply summary:\n", style="bold")
    styles = {"applied": "green", "unchanged": "dim", "failed": "bold red", "interrupted": "yellow"}
    width = max((len(d.name) for d in report.devices), default=0)
    for device in report.devices:
        out.append(f"  {device.name:<{width}}  ")
        out.append(f"{device.status:<11}", style=styles.get(device.status, ""))
        if device.steps:
            out.append(f" {', '.join(device.steps)}")
        if device.failure:
            out.append(f" at {device.failure.step or '?'}: {device.failure.message}", style="red")
        out.append("\n")
    counts = report.counts()
    out.append(
        f"\nApply {'complete' if report.ok else 'finished with errors'}: "
        f"{counts['applied']} applied, {counts['unchanged']} unchanged, "
        f"{counts['failed']} failed, {counts['interrupted']} interrupted "
        f"(state serial {report.state_serial}).\n",
        style="bold green" if report.ok else "bold red",
    )
    return out


def render_records(records: Iterable[DeviceRecord], source: str) -> Text:
    """State as a table of devices; tracked secrets shown only as hashed."""
    rows = list(records)
    out = Text(f"State: {source}\n", style="bold")
    if not rows:
        out.append("  (no devices recorded yet: run 'fleetform apply')\n")
        return out
    for record in rows:
        out.append(f"  {record.name}", style="bold")
        out.append(f"  {record.provider} @ {record.address}  updated {record.updated_at}\n")
        for key, value in sorted(record.identity.items()):
            out.append(f"      {key}: {value}\n")
        for key, value in sorted(record.tracked.items()):
            shown = "(sensitive, salted hash)" if is_secret_hash(value) else format_value(value)
            out.append(f"      {key}: {shown} (tracked)\n", style="dim")
    return out
