"""A plan as Markdown, for the pull-request comment of a GitOps pipeline.

Why: reviewers approve a plan where they review code; the comment must say
what will change per device, flag disruptive steps and partial (targeted)
plans, and never show a secret (sensitive changes carry no values).
"""

from __future__ import annotations

from fleetform.plan import Action, Change, Plan
from fleetform.views.human import format_value

_SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.NOOP: " "}


def _change(change: Change) -> str:
    symbol = _SYMBOL[change.action]
    if change.sensitive:
        value = "(sensitive)"
    elif change.action is Action.CREATE:
        value = format_value(change.after)
    elif change.action is Action.DELETE:
        value = f"{format_value(change.before)} -> null"
    else:
        value = f"{format_value(change.before)} -> {format_value(change.after)}"
    note = "   # disruptive" if change.disruptive else ""
    return f"{symbol} {change.path} = {value}{note}"


MAX_CHARS = 60_000
"""Comment size budget (GitHub refuses comments over 65,536 characters)."""


def render_plan_markdown(plan: Plan, *, source: str | None = None,
                         max_chars: int = MAX_CHARS) -> str:
    """The plan as a Markdown comment (a summary line, then one diff block per device).

    Devices that do not fit in ``max_chars`` are counted, not shown: the
    comment says so and points at the full plan in the job log.
    """
    totals = plan.summary()
    failed = totals["devices_failed"]
    icon = ":x:" if failed else (":pencil2:" if plan.has_changes else ":white_check_mark:")
    lines = [f"### {icon} fleetform plan: {totals['create']} to add, {totals['update']} to "
             f"change, {totals['delete']} to remove on {totals['devices_changing']} of "
             f"{totals['devices']} device(s)", ""]
    if plan.targeted:
        parts = ([f"only {', '.join(plan.targets)}"] if plan.targets else []) + (
            [f"excluding {', '.join(plan.excludes)}"] if plan.excludes else [])
        lines += [f"> :warning: **Targeted plan** ({'; '.join(parts)}): devices outside the "
                  "selection were not read.", ""]
    if failed:
        lines += [f"> :x: {failed} device(s) could not be planned:", ""]
        for device in plan.failed:
            lines.append(f"- `{device.name}`: {device.failure}")
        lines.append("")
    changing = [d for d in plan.devices if d.has_changes]
    used = sum(len(line) + 1 for line in lines)
    for index, device in enumerate(changing):
        block = [f"<details open><summary><code>{device.name}</code> ({device.provider} @ "
                 f"{device.address}): {len(device.actionable)} change(s)</summary>", "",
                 "```diff", *[_change(c) for c in device.actionable], "```", "", "</details>", ""]
        size = sum(len(line) + 1 for line in block)
        if used + size > max_chars - 500:
            lines += [f"> {len(changing) - index} more changing device(s) not shown here "
                      "(comment size limit): see the full plan in the job log.", ""]
            break
        lines += block
        used += size
    unchanged = sum(1 for d in plan.devices if not d.has_changes and d.failure is None)
    if unchanged:
        lines += [f"{unchanged} device(s) unchanged.", ""]
    where = f"saved plan `{source}`, " if source else ""
    lines += [f"<sub>{where}manifest `{plan.manifest}`, state serial {plan.state_serial}, "
              f"planned {plan.created_at}</sub>", ""]
    return "\n".join(lines)
