"""Is a saved plan still valid? Staleness checks before ``apply site.plan``.

Why: applying a plan computed against a different reality is how the wrong
value lands on the wrong device. Before anything is written, every reason a
saved plan may be stale is checked and *all* of them are reported, each
saying what moved:

1. state: same lineage, same serial as when planned (nobody applied since);
2. manifest: every planned device still there, same provider, same
   connection and desired settings (secrets compared by salted hash);
3. devices: each is read again (through a read-only provider) and must have
   the same identity and fingerprint, and need exactly the planned changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fleetform.device import DeviceSpec
from fleetform.drift import read_only
from fleetform.errors import PlanError
from fleetform.events import EventSink, discard
from fleetform.plan import Change, DevicePlan
from fleetform.planfile import SavedPlan, seal_device
from fleetform.planner import PlannedFleet, RunOptions, plan_fleet
from fleetform.provider import Provider
from fleetform.state import State


def diff_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Paths at which two plain JSON-like values differ (for "what moved" messages)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = sorted(set(old) | set(new), key=str)
        return [p for k in keys
                for p in diff_paths(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for i, (a, b) in enumerate(zip(old, new, strict=True))
                for p in diff_paths(a, b, f"{path}[{i}]")]
    return [] if old == new else [path or "(root)"]


def check_state(saved: SavedPlan, state: State) -> list[str]:
    """Problems with the state the plan was made against."""
    plan = saved.plan
    empty = plan.state_serial == 0  # planned against no state: any lineage then
    if not empty and state.lineage != plan.state_lineage:
        return [f"state is a different one: lineage {state.lineage} now, "
                f"{plan.state_lineage} when planned (state backend {saved.state_backend})"]
    if state.serial != plan.state_serial:
        return [f"state moved: serial {plan.state_serial} when planned, {state.serial} now "
                f"(updated {state.updated_at or 'at an unknown time'}): another run wrote "
                "state since"]
    return []


def check_manifest(saved: SavedPlan, devices: Mapping[str, DeviceSpec],
                   providers: Mapping[str, Provider]) -> list[str]:
    """Problems between the plan's seals and the manifest as it loads now."""
    problems: list[str] = []
    for planned in saved.plan.devices:
        device = devices.get(planned.name)
        seal = saved.seals.get(planned.name)
        if device is None:
            problems.append(f"{planned.name}: no longer in the manifest")
            continue
        if seal is None:
            problems.append(f"{planned.name}: the plan file has no record of it (damaged?)")
            continue
        if device.provider != seal.provider:
            problems.append(f"{planned.name}: provider is {device.provider} now, "
                            f"{seal.provider} when planned")
            continue
        now = seal_device(device, providers[device.provider], planned, saved.salt)
        for path in diff_paths(seal.connection, now.connection):
            problems.append(f"{planned.name}: connection.{path} changed in the manifest")
        for path in diff_paths(seal.desired, now.desired):
            problems.append(f"{planned.name}: settings.{path} changed in the manifest")
        for path in sorted(set(seal.secrets) | set(now.secrets)):
            if seal.secrets.get(path) != now.secrets.get(path):
                problems.append(f"{planned.name}: secret {path} is not the value it was when "
                                "planned (check the environment)")
    return problems


def _change_key(change: Change) -> tuple[str, str, Any, Any]:
    return (change.path, change.action.value, repr(change.before), repr(change.after))


def _describe_changes(old: Sequence[Change], new: Sequence[Change]) -> str:
    before = {_change_key(c): c for c in old}
    after = {_change_key(c): c for c in new}
    gone = [f"{before[k].action.symbol} {before[k].path}" for k in before if k not in after]
    added = [f"{after[k].action.symbol} {after[k].path}" for k in after if k not in before]
    parts = []
    if added:
        parts.append("now also needs " + ", ".join(added))
    if gone:
        parts.append("no longer needs (or needs differently) " + ", ".join(gone))
    return "; ".join(parts)


def check_devices(saved: SavedPlan, fresh: Sequence[DevicePlan]) -> list[str]:
    """Problems between the planned devices and a fresh read of them."""
    by_name = {d.name: d for d in fresh}
    problems: list[str] = []
    for planned in saved.plan.devices:
        now = by_name.get(planned.name)
        if now is None:
            continue
        if now.failure is not None:
            problems.append(f"{planned.name}: cannot be read to verify the plan: {now.failure}")
            continue
        if now.identity != planned.identity:
            problems.append(f"{planned.name}: a different device answers "
                            f"({now.identity} now, {planned.identity} when planned)")
            continue
        if now.fingerprint != planned.fingerprint:
            detail = _describe_changes(planned.actionable, now.actionable)
            problems.append(f"{planned.name}: the device changed since the plan (fingerprint "
                            f"{planned.fingerprint} -> {now.fingerprint})"
                            + (f": {detail}" if detail else ""))
            continue
        detail = _describe_changes(planned.actionable, now.actionable)
        if detail:
            problems.append(f"{planned.name}: {detail}")
    return problems


def verify_saved_plan(
    saved: SavedPlan,
    devices: Sequence[DeviceSpec],
    providers: Mapping[str, Provider],
    state: State,
    *,
    source: str,
    options: RunOptions | None = None,
    events: EventSink = discard,
) -> PlannedFleet:
    """Check every staleness rule; return the saved plan with fresh reads to apply.

    Raises :class:`PlanError` listing everything that moved; nothing has
    been written to any device or to state when it does.
    """
    by_name = {d.name: d for d in devices}
    problems = check_state(saved, state) + check_manifest(saved, by_name, providers)
    planned_devices = [by_name[d.name] for d in saved.plan.devices if d.name in by_name]
    if problems:
        _refuse(source, problems)
    fresh = plan_fleet(planned_devices, read_only(providers), state,
                       manifest=saved.plan.manifest, options=options, events=events)
    problems = check_devices(saved, fresh.plan.devices)
    if problems:
        _refuse(source, problems)
    addresses = {d.name: d.address for d in fresh.plan.devices}
    plan = replace(saved.plan, devices=tuple(
        replace(d, address=addresses.get(d.name, d.address)) for d in saved.plan.devices))
    return PlannedFleet(plan=plan, reads=fresh.reads)


def _refuse(source: str, problems: list[str]) -> None:
    listed = "\n".join(f"  - {p}" for p in problems)
    raise PlanError(
        f"the saved plan {source} is stale; nothing was applied:\n{listed}\n"
        "Make a new plan (fleetform plan --out ...) and review it again."
    )
