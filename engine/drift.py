"""Drift detection: read every device, diff against the manifest, never write.

Why a module apart from apply: ``fleetform drift`` runs unattended (cron,
CI), often with credentials that could change devices. It is read-only *by
construction*: it never imports the applier, and every provider it uses is
wrapped in :class:`ReadOnlyProvider`, whose ``apply`` raises. Known, accepted
drift is filtered by the manifest's ignore rules (reported, not alarmed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from fleetform.device import DeviceSpec
from fleetform.errors import FleetformError
from fleetform.events import EventSink, discard
from fleetform.manifest.gitops import IgnoreRule
from fleetform.plan import Change, DeviceFailure, DevicePlan
from fleetform.planner import RunOptions, plan_fleet
from fleetform.provider import (
    ApplyRequest,
    ApplyResponse,
    PlanRequest,
    PlanResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    SettingSpec,
    StatusRequest,
    StatusResponse,
)
from fleetform.state import State
from fleetform.targeting import Targeting

DRIFT_FORMAT_VERSION = "1.0"


class ReadOnlyViolation(FleetformError):
    """Something tried to write to a device during a read-only command.

    Why: raised by :class:`ReadOnlyProvider`; if it ever fires it is a bug in
    fleetform, and it fires *before* any byte is sent to the device.
    """


class ReadOnlyProvider:
    """A provider wrapper that reads, plans and reports status, and refuses to apply.

    Why: ``drift`` and ``apply --refresh-only`` must be unable to change a
    device even if some code path called ``apply`` by mistake.
    """

    def __init__(self, inner: Provider) -> None:
        self._inner = inner
        self.name: str = inner.name
        self.connection_model: type[BaseModel] = inner.connection_model
        self.settings_model: type[BaseModel] = inner.settings_model
        self.settings_specs: Mapping[str, SettingSpec] = inner.settings_specs

    def read(self, request: ReadRequest) -> ReadResponse:
        """Delegate: reading is allowed."""
        return self._inner.read(request)

    def plan(self, request: PlanRequest) -> PlanResponse:
        """Delegate: planning is pure computation."""
        return self._inner.plan(request)

    def apply(self, request: ApplyRequest) -> ApplyResponse:
        """Refuse: this run is read-only."""
        raise ReadOnlyViolation(
            f"refusing to apply {request.setting} to {request.device.name}: "
            "this command is read-only"
        )

    def status(self, request: StatusRequest) -> StatusResponse:
        """Delegate: status only reads."""
        return self._inner.status(request)

    def close(self) -> None:
        """Delegate: release the wrapped provider's connections."""
        self._inner.close()


def read_only(providers: Mapping[str, Provider]) -> dict[str, Provider]:
    """Wrap every provider of a mapping in :class:`ReadOnlyProvider`."""
    return {name: ReadOnlyProvider(p) for name, p in providers.items()}


@dataclass(frozen=True)
class IgnoredChange:
    """A difference an ignore rule accepted: the change, the pattern and the rule."""

    change: Change
    pattern: str
    rule: IgnoreRule

    def to_json(self) -> dict[str, Any]:
        """JSON view: the change plus which rule ignored it and why."""
        return {**self.change.to_json(), "ignored_by": {
            "rule": self.rule.source, "pattern": self.pattern, "reason": self.rule.reason}}


@dataclass(frozen=True)
class DeviceDrift:
    """One device's drift: alarming changes, ignored ones, or why it could not be read."""

    name: str
    provider: str
    address: str
    drifted: tuple[Change, ...] = ()
    ignored: tuple[IgnoredChange, ...] = ()
    failure: DeviceFailure | None = None
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``error``, ``drifted`` or ``in_sync``."""
        if self.failure is not None:
            return "error"
        return "drifted" if self.drifted else "in_sync"

    def to_json(self) -> dict[str, Any]:
        """JSON view of one device (see ``schemas/drift.schema.json``)."""
        return {
            "name": self.name,
            "provider": self.provider,
            "address": self.address,
            "status": self.status,
            "drift": [c.to_json() for c in self.drifted],
            "ignored": [i.to_json() for i in self.ignored],
            "failure": self.failure.to_json() if self.failure else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class DriftReport:
    """The result of one drift check over a fleet."""

    manifest: str
    created_at: str
    devices: tuple[DeviceDrift, ...]
    targeting: Targeting = field(default_factory=Targeting)

    @property
    def exit_code(self) -> int:
        """1 if any device could not be checked, else 2 if any drifted, else 0."""
        if any(d.status == "error" for d in self.devices):
            return 1
        return 2 if any(d.status == "drifted" for d in self.devices) else 0

    def summary(self) -> dict[str, int]:
        """Device counts per status plus totals of drifted and ignored changes."""
        statuses = [d.status for d in self.devices]
        return {
            "devices": len(self.devices),
            "in_sync": statuses.count("in_sync"),
            "drifted": statuses.count("drifted"),
            "errors": statuses.count("error"),
            "changes": sum(len(d.drifted) for d in self.devices),
            "ignored": sum(len(d.ignored) for d in self.devices),
        }

    def to_json(self) -> dict[str, Any]:
        """The versioned ``type: drift`` document (``schemas/drift.schema.json``)."""
        return {
            "type": "drift",
            "format_version": DRIFT_FORMAT_VERSION,
            "manifest": self.manifest,
            "created_at": self.created_at,
            "targets": list(self.targeting.targets),
            "excludes": list(self.targeting.excludes),
            "exit_code": self.exit_code,
            "devices": [d.to_json() for d in self.devices],
            "summary": self.summary(),
        }


def classify(plan: DevicePlan, labels: Mapping[str, str], rules: Sequence[IgnoreRule]
             ) -> DeviceDrift:
    """Split one device plan's changes into alarming drift and rule-ignored drift."""
    applicable = [r for r in rules if r.applies_to(plan.name, labels)]
    drifted: list[Change] = []
    ignored: list[IgnoredChange] = []
    for change in plan.actionable:
        hit = next(((rule, p) for rule in applicable if (p := rule.covers(change.path))), None)
        if hit is None:
            drifted.append(change)
        else:
            ignored.append(IgnoredChange(change, hit[1], hit[0]))
    return DeviceDrift(plan.name, plan.provider, plan.address, tuple(drifted), tuple(ignored),
                       plan.failure, plan.warnings)


def detect_drift(
    devices: Sequence[DeviceSpec],
    providers: Mapping[str, Provider],
    state: State,
    *,
    manifest: str,
    rules: Sequence[IgnoreRule] = (),
    options: RunOptions | None = None,
    events: EventSink = discard,
    targeting: Targeting | None = None,
) -> DriftReport:
    """Read and diff every device through read-only providers; apply ignore rules."""
    targeting = targeting or Targeting()
    guarded = read_only(providers)
    planned = plan_fleet(devices, guarded, state, manifest=manifest, options=options,
                         events=events, targets=targeting.targets,
                         excludes=targeting.excludes)
    labels = {d.name: d.labels for d in devices}
    return DriftReport(
        manifest=manifest,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        devices=tuple(classify(p, labels.get(p.name, {}), rules) for p in planned.plan.devices),
        targeting=targeting,
    )
