"""Apply a plan: steps in a safe order per device, verified, recorded one by one.

Why: this is the only code that changes devices. Its rules are the promises
fleetform makes on real hardware:
- within a device, steps run in the provider's order (network last);
- every step is verified by reading the device back before it is recorded;
- state records each verified step as soon as it is verified (and only
  then), stored by a coalescing writer (see :mod:`fleetform.recorder`), so a
  killed run leaves a valid state that never records a change that did not
  happen;
- a failure stops that device only, naming the device and the step.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import SecretMatcher, diff_value
from fleetform.errors import DeviceError, Interrupted, StateError, VerificationError
from fleetform.events import Event, EventSink, discard
from fleetform.parallel import map_parallel, provider_limits
from fleetform.plan import Change, DeviceFailure, DevicePlan, Plan, to_plain
from fleetform.planner import PlannedFleet, RunOptions, unwrap
from fleetform.provider import ApplyRequest, ApplyResponse, DeviceRecord, Provider, ReadResponse
from fleetform.recorder import StateRecorder
from fleetform.secrets import hash_secret
from fleetform.state import State, StateBackend

log = logging.getLogger(__name__)

APPLY_FORMAT_VERSION = "1.0"


@dataclass(frozen=True)
class DeviceOutcome:
    """What apply did to one device.

    ``status`` is ``applied``, ``unchanged``, ``failed`` or ``interrupted``;
    ``steps`` lists the steps that were applied and verified.
    """

    name: str
    address: str
    status: str
    steps: tuple[str, ...] = ()
    failure: DeviceFailure | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON view of the outcome."""
        return {
            "name": self.name,
            "address": self.address,
            "status": self.status,
            "steps": list(self.steps),
            "failure": self.failure.to_json() if self.failure else None,
        }


@dataclass(frozen=True)
class ApplyReport:
    """The outcome of a whole apply, rendered by the views."""

    plan: Plan
    devices: tuple[DeviceOutcome, ...]
    state_serial: int

    @property
    def ok(self) -> bool:
        """True when every device converged."""
        return all(d.status in ("applied", "unchanged") for d in self.devices)

    def counts(self) -> dict[str, int]:
        """Number of devices per status."""
        out = {"applied": 0, "unchanged": 0, "failed": 0, "interrupted": 0}
        for device in self.devices:
            out[device.status] = out.get(device.status, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON document for an apply (``type: apply``)."""
        return {
            "type": "apply",
            "format_version": APPLY_FORMAT_VERSION,
            "ok": self.ok,
            "state_serial": self.state_serial,
            "devices": [d.to_json() for d in self.devices],
            "summary": self.counts(),
            "plan": self.plan.to_json(),
        }


@dataclass
class _DeviceRun:
    device: DeviceSpec
    provider: Provider
    plan: DevicePlan
    read: ReadResponse | None
    recorder: StateRecorder
    options: RunOptions
    events: EventSink
    steps_done: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_steps(
    changes: Sequence[Change], provider: Provider
) -> list[tuple[str, tuple[Change, ...]]]:
    """Group changes by top-level setting, in the provider's apply order."""
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.setting, []).append(change)
    specs = provider.settings_specs

    def order(name: str) -> tuple[int, str]:
        spec = specs.get(name)
        return (spec.order if spec else 1000, name)

    return [(name, tuple(grouped[name])) for name in sorted(grouped, key=order)]


def _tracked_value(provider: Provider, setting: str, value: Any, salt: str) -> Any:
    """What state remembers for a setting after it was applied (None: nothing)."""
    spec = provider.settings_specs.get(setting)
    if spec is None:
        return None
    if spec.sensitive:
        return hash_secret(str(unwrap(value)), salt)
    if not spec.readable:
        return to_plain(unwrap(value))
    return None


def _verify(run: _DeviceRun, setting: str, response: ApplyResponse) -> None:
    desired = run.device.desired().get(setting)
    matcher = SecretMatcher(run.provider.settings_specs, run.device.sensitive_paths)
    remaining = diff_value(setting, desired, response.observed, is_secret=matcher)
    if remaining:
        shown = ", ".join(
            c.path if c.sensitive else f"{c.path} is {c.before!r}, wanted {c.after!r}"
            for c in remaining
        )
        raise VerificationError(
            f"the device accepted the change but reads back differently: {shown}",
            step=setting,
        )


def _apply_step(run: _DeviceRun, setting: str, changes: tuple[Change, ...], deadline: Deadline,
                address: str) -> str:
    assert run.read is not None
    deadline.check(setting)
    run.events(Event(run.device.name, "step", f"applying {setting}", step=setting))
    response = run.provider.apply(
        ApplyRequest(
            device=run.device,
            setting=setting,
            changes=changes,
            read=replace(run.read, address=address),
            record=run.recorder.state.record(run.device.name),
            deadline=deadline,
            progress=lambda message: run.events(
                Event(run.device.name, "info", message, step=setting)
            ),
        )
    )
    _verify(run, setting, response)
    new_address = response.address or address
    tracked = _tracked_value(
        run.provider, setting, run.device.desired().get(setting), run.recorder.state.salt
    )

    def record(current: DeviceRecord) -> DeviceRecord:
        updated = dict(current.tracked)
        if tracked is not None:
            updated[setting] = tracked
        return replace(current, address=new_address, tracked=updated, updated_at=_now())

    run.recorder.update(run.device.name, record, _initial_record(run, address))
    run.steps_done.append(setting)
    return new_address


def _initial_record(run: _DeviceRun, address: str) -> DeviceRecord:
    return DeviceRecord(
        name=run.device.name,
        provider=run.device.provider,
        address=address,
        identity=dict(run.plan.identity),
        updated_at=_now(),
        fingerprint=run.plan.fingerprint,
    )


def apply_device(run: _DeviceRun) -> DeviceOutcome:
    """Apply every step of one device; a failure stops this device only.

    Why the ``finally``: a finished or failed device asks the recorder to
    store its records now, so state lags the devices by as little as possible.
    """
    try:
        return _apply_device(run)
    finally:
        run.recorder.device_done()


def _apply_device(run: _DeviceRun) -> DeviceOutcome:
    name = run.device.name
    address = run.plan.address
    if run.plan.failure is not None or run.read is None:
        failure = run.plan.failure or DeviceFailure("PlanError", "device was not planned", "plan")
        status = "interrupted" if failure.kind == Interrupted.__name__ else "failed"
        return DeviceOutcome(name, address, status, failure=failure)
    deadline = Deadline(run.options.timeout, run.options.cancel)
    step = "start"
    try:
        for step, changes in group_steps(run.plan.actionable, run.provider):
            address = _apply_step(run, step, changes, deadline, address)
        # Record identity and address even when nothing changed, so the next
        # plan can tell if a different machine answers at this address.
        known = run.recorder.state.record(name)
        if known is None or known.identity != run.plan.identity or known.address != address:
            run.recorder.update(
                name,
                lambda current: replace(
                    current, identity=dict(run.plan.identity), address=address
                ),
                _initial_record(run, address),
            )
    except DeviceError as exc:
        exc.with_context(device=name, step=step)
        status = "interrupted" if isinstance(exc, Interrupted) else "failed"
        run.events(Event(name, "failed", exc.message, step=exc.step))
        failure = DeviceFailure.from_exception(exc, step=step)
        return DeviceOutcome(name, address, status, tuple(run.steps_done), failure)
    except Exception as exc:  # a bug must not stop the other devices
        log.exception("internal error while applying %s", name)
        failure = DeviceFailure("InternalError", f"internal error: {exc!r}", step)
        run.events(Event(name, "failed", failure.message, step=step))
        return DeviceOutcome(name, address, "failed", tuple(run.steps_done), failure)
    status = "applied" if run.steps_done else "unchanged"
    run.events(Event(name, "done", status))
    return DeviceOutcome(name, address, status, tuple(run.steps_done))


def apply_fleet(
    planned: PlannedFleet,
    devices: Sequence[DeviceSpec],
    providers: Mapping[str, Provider],
    backend: StateBackend,
    state: State,
    *,
    options: RunOptions | None = None,
    events: EventSink = discard,
) -> ApplyReport:
    """Apply a plan to every device in parallel and record state as it goes."""
    options = options or RunOptions()
    recorder = StateRecorder(backend, state, interval=options.state_write_interval)
    by_name = {d.name: d for d in devices}
    runs = [
        _DeviceRun(
            device=by_name[p.name],
            provider=providers[p.provider],
            plan=p,
            read=planned.reads.get(p.name),
            recorder=recorder,
            options=options,
            events=events,
        )
        for p in planned.plan.devices
        if p.name in by_name
    ]
    try:
        outcomes = map_parallel(
            runs, apply_device, options.parallelism, options.cancel,
            group=lambda run: run.device.provider,
            limits=provider_limits(providers, options.provider_parallelism),
        )
    except BaseException:
        with contextlib.suppress(StateError):  # the first error is the one to show
            recorder.close()
        raise
    stored = recorder.close()
    return ApplyReport(plan=planned.plan, devices=tuple(outcomes), state_serial=stored.serial)
