"""Plan a fleet: read every device in parallel, check identity, diff.

Why: planning is the read-only half of every command (plan, apply, drift);
keeping it here means apply runs on exactly the reads the plan showed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import SecretMatcher, redact
from fleetform.errors import DeviceError, IdentityMismatch
from fleetform.events import Event, EventSink, discard
from fleetform.parallel import map_parallel, provider_limits
from fleetform.plan import DeviceFailure, DevicePlan, Plan, to_plain
from fleetform.provider import (
    DeviceRecord,
    Opaque,
    PlanRequest,
    Provider,
    ReadRequest,
    ReadResponse,
)
from fleetform.recorder import DEFAULT_INTERVAL
from fleetform.secrets import secret_matches
from fleetform.state import State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """Knobs shared by plan and apply.

    Why: one object travels from the CLI to the engine instead of a growing
    list of keyword arguments.
    """

    parallelism: int = 10
    timeout: float = 120.0
    cancel: threading.Event = field(default_factory=threading.Event)
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    provider_parallelism: Mapping[str, int] = field(default_factory=dict)
    """Per-provider device caps, over each provider's ``max_parallel`` (see parallel.py)."""
    state_write_interval: float = DEFAULT_INTERVAL
    """apply: seconds between coalesced state writes (0: write after every step)."""


@dataclass(frozen=True)
class PlannedFleet:
    """A plan plus the live reads it came from (kept in memory for apply).

    Why: apply must re-send fields the plan did not manage (the miner blanks
    anything not re-sent), so it needs the reads, which hold secrets and
    therefore never go into the plan itself.
    """

    plan: Plan
    reads: Mapping[str, ReadResponse]


def unwrap(value: Any) -> Any:
    """Plain value of a setting (SecretStr unwrapped), recursively."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Mapping):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def check_identity(device: DeviceSpec, read: ReadResponse, record: DeviceRecord | None) -> None:
    """Refuse a device whose identity differs from what state recorded.

    Why: DHCP leases move; configuring whatever answers at an old address is
    how the wrong miner gets another farm's pool.
    """
    if record is None or not record.identity:
        return
    mismatched = [
        key
        for key, recorded in record.identity.items()
        if key in read.identity and str(read.identity[key]).lower() != str(recorded).lower()
    ]
    if mismatched:
        detail = ", ".join(
            f"{key} {read.identity[key]} (state recorded {record.identity[key]})"
            for key in mismatched
        )
        raise IdentityMismatch(
            f"the device answering at {read.address} is not the one recorded for "
            f"'{device.name}': {detail}. If it was replaced on purpose, run "
            f"'fleetform state rm {device.name}' and plan again.",
            device=device.name,
            step="identity",
        )


def merge_tracked(
    provider: Provider, device: DeviceSpec, read: ReadResponse, record: DeviceRecord | None
) -> ReadResponse:
    """Fill write-only settings into the live view from what state tracked.

    Why: a write-only setting cannot be read back, so "live" is the value
    fleetform last applied; a secret is compared through its salted hash and
    becomes the desired value (in sync) or an :class:`Opaque` (differs).
    """
    tracked = record.tracked if record else {}
    desired = device.desired()
    live = dict(read.live)
    for name, spec in provider.settings_specs.items():
        if spec.readable or name not in desired:
            continue
        stored = tracked.get(name)
        if stored is None:
            live[name] = None
        elif spec.sensitive:
            plain = unwrap(desired[name])
            live[name] = desired[name] if secret_matches(str(plain), str(stored)) else Opaque()
        else:
            live[name] = stored
    return replace(read, live=live)


def fingerprint(device: DeviceSpec, provider: Provider, read: ReadResponse) -> str:
    """A short hash of identity and non-secret live values.

    Why: a saved plan records it so applying it later can detect that the
    device changed since (stale plan); secrets are left out so the hash
    cannot be used to guess them.
    """
    matcher = SecretMatcher(provider.settings_specs, device.sensitive_paths)
    payload = {
        "identity": read.identity,
        "live": to_plain(redact(read.live, "", matcher)),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def plan_device(
    device: DeviceSpec,
    provider: Provider,
    state: State,
    options: RunOptions,
    events: EventSink,
) -> tuple[DevicePlan, ReadResponse | None]:
    """Read and plan one device; every failure becomes a DeviceFailure."""
    record = state.record(device.name)
    address = getattr(device.connection, "host", "?")
    step = "read"
    events(Event(device.name, "start", "reading live state"))
    try:
        deadline = Deadline(options.timeout, options.cancel)
        deadline.check(step)
        read = provider.read(ReadRequest(
            device=device, record=record, deadline=deadline, options=options.provider_options
        ))
        address = read.address
        step = "identity"
        check_identity(device, read, record)
        step = "plan"
        read = merge_tracked(provider, device, read, record)
        response = provider.plan(PlanRequest(device=device, read=read, record=record))
    except DeviceError as exc:
        exc.with_context(device=device.name, step=step)
        events(Event(device.name, "failed", str(exc.message), step=exc.step))
        failure = DeviceFailure.from_exception(exc, step=step)
        return DevicePlan(device.name, device.provider, address, failure=failure), None
    except Exception as exc:  # a bug must not stop the other devices
        log.exception("internal error while planning %s", device.name)
        failure = DeviceFailure(kind="InternalError", message=f"internal error: {exc!r}", step=step)
        events(Event(device.name, "failed", failure.message, step=step))
        return DevicePlan(device.name, device.provider, address, failure=failure), None
    plan = DevicePlan(
        name=device.name,
        provider=device.provider,
        address=read.address,
        changes=response.changes,
        identity=dict(read.identity),
        fingerprint=fingerprint(device, provider, read),
        warnings=tuple(read.warnings) + tuple(response.warnings),
    )
    events(Event(device.name, "done", f"{len(plan.actionable)} change(s)"))
    return plan, read


def plan_fleet(
    devices: Sequence[DeviceSpec],
    providers: Mapping[str, Provider],
    state: State,
    *,
    manifest: str,
    options: RunOptions | None = None,
    events: EventSink = discard,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> PlannedFleet:
    """Plan every device in parallel and assemble the whole plan."""
    options = options or RunOptions()

    def work(device: DeviceSpec) -> tuple[DevicePlan, ReadResponse | None]:
        return plan_device(device, providers[device.provider], state, options, events)

    results = map_parallel(
        list(devices), work, options.parallelism, options.cancel,
        group=lambda device: device.provider,
        limits=provider_limits(providers, options.provider_parallelism),
    )
    plan = Plan(
        devices=tuple(p for p, _ in results),
        manifest=manifest,
        state_serial=state.serial,
        state_lineage=state.lineage,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        targets=tuple(targets),
        excludes=tuple(excludes),
    )
    reads = {p.name: r for p, r in results if r is not None}
    return PlannedFleet(plan=plan, reads=reads)
