"""The plan model: a closed set of actions and the changes they apply to.

Why: the human view, the JSON view, saved plans and the apply engine all read
this one model, so what the user reviewed is exactly what runs. Secrets never
enter it: a sensitive change carries no before/after values at all.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PLAN_FORMAT_VERSION = "1.0"


def to_plain(value: Any) -> Any:
    """Turn setting values (IP addresses, nested models) into JSON-ready data.

    Why: plans are rendered as JSON and saved to files; provider models use
    richer Python types than JSON has.
    """
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class Action(enum.StrEnum):
    """What a change does to one setting on one device.

    Why: a closed enum (after OpenTofu's ``plans.Action``) means every renderer
    and the apply engine must handle every case; the reason text is display only.
    """

    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        """The Terraform-style marker shown in front of a change."""
        return {"no-op": " ", "create": "+", "update": "~", "delete": "-"}[self.value]


@dataclass(frozen=True)
class Change:
    """One difference between the manifest and the live device.

    ``path`` is a dotted path below ``settings`` (``pools[1].url``). For a
    sensitive change ``before`` and ``after`` are forced to ``None`` so no
    renderer or plan file can ever print the secret.
    """

    path: str
    action: Action
    before: Any = None
    after: Any = None
    sensitive: bool = False
    disruptive: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.sensitive:
            object.__setattr__(self, "before", None)
            object.__setattr__(self, "after", None)

    @property
    def setting(self) -> str:
        """The top-level setting this change belongs to (the apply step)."""
        head = self.path.split(".", 1)[0]
        return head.split("[", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of a change (see README, plan JSON format)."""
        return {
            "path": self.path,
            "action": self.action.value,
            "before": to_plain(self.before),
            "after": to_plain(self.after),
            "sensitive": self.sensitive,
            "disruptive": self.disruptive,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DeviceFailure:
    """Why a device could not be planned or applied: kind, step and message.

    Why: kept as data (not an exception) so a plan or an apply summary can
    carry one failure per device while the others succeed.
    """

    kind: str
    message: str
    step: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, *, step: str | None = None) -> DeviceFailure:
        """Build a failure record from any exception, preferring the error's own step."""
        own_step = getattr(exc, "step", None)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return cls(kind=type(exc).__name__, message=message, step=own_step or step)

    def to_json(self) -> dict[str, Any]:
        """JSON view of the failure."""
        return {"kind": self.kind, "step": self.step, "message": self.message}

    def __str__(self) -> str:
        return f"{self.step}: {self.message}" if self.step else self.message


@dataclass(frozen=True)
class DevicePlan:
    """The changes planned for one device, or why it could not be planned."""

    name: str
    provider: str
    address: str
    changes: tuple[Change, ...] = ()
    identity: dict[str, str] = field(default_factory=dict)
    fingerprint: str | None = None
    failure: DeviceFailure | None = None
    warnings: tuple[str, ...] = ()

    @property
    def actionable(self) -> tuple[Change, ...]:
        """The changes that do something (everything but no-ops)."""
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        """True when applying this device would touch it."""
        return bool(self.actionable)

    def counts(self) -> dict[str, int]:
        """Number of changes per action, for summaries."""
        counter = Counter(c.action.value for c in self.actionable)
        return {a.value: counter.get(a.value, 0) for a in Action if a is not Action.NOOP}

    def to_json(self) -> dict[str, Any]:
        """JSON view of a device plan."""
        return {
            "name": self.name,
            "provider": self.provider,
            "address": self.address,
            "identity": dict(self.identity),
            "fingerprint": self.fingerprint,
            "changes": [c.to_json() for c in self.actionable],
            "summary": self.counts(),
            "failure": self.failure.to_json() if self.failure else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Plan:
    """A whole plan: every device's changes plus what they were computed from.

    Why: records the state serial and lineage so a saved plan can be refused as
    stale when state moved on after it was made, and the ``--target`` /
    ``--exclude`` selectors so a partial plan always says it is partial.
    """

    devices: tuple[DevicePlan, ...]
    manifest: str
    state_serial: int
    state_lineage: str
    created_at: str
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @property
    def targeted(self) -> bool:
        """True when this plan covers only part of the manifest (``--target``/``--exclude``)."""
        return bool(self.targets or self.excludes)

    @property
    def has_changes(self) -> bool:
        """True when any device has something to do."""
        return any(d.has_changes for d in self.devices)

    @property
    def failed(self) -> tuple[DevicePlan, ...]:
        """Devices that could not be planned."""
        return tuple(d for d in self.devices if d.failure is not None)

    def summary(self) -> dict[str, int]:
        """Totals across devices: changes per action and device counts."""
        totals: Counter[str] = Counter()
        for device in self.devices:
            totals.update(device.counts())
        return {
            **{a.value: totals.get(a.value, 0) for a in Action if a is not Action.NOOP},
            "devices": len(self.devices),
            "devices_changing": sum(1 for d in self.devices if d.has_changes),
            "devices_failed": len(self.failed),
        }

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON document for this plan (``type: plan``)."""
        return {
            "type": "plan",
            "format_version": PLAN_FORMAT_VERSION,
            "manifest": self.manifest,
            "created_at": self.created_at,
            "state": {"serial": self.state_serial, "lineage": self.state_lineage},
            "targets": list(self.targets),
            "excludes": list(self.excludes),
            "devices": [d.to_json() for d in self.devices],
            "summary": self.summary(),
        }
