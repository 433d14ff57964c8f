"""``apply --refresh-only``: accept what devices report into state, write nothing to them.

Why: a write-only setting (``SettingSpec.readable=False``) is compared with
the value fleetform last applied, which state tracks. When someone changes
such a setting by hand and the provider can still report it (a probe, a
partial read), refresh-only shows the live values and, once confirmed,
records them as tracked: the next plan then shows the real difference to the
manifest instead of pretending the device is in sync. The device's address
and identity records are refreshed too. Providers are wrapped read-only, so
nothing can be written to a device.

Where a provider reports what it can observe of a write-only setting: in
``ReadResponse.live[setting]`` or in ``ReadResponse.facts["observed"][setting]``
(a partial mapping is merged over the tracked value, so fields the device
cannot report keep their tracked values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import overlay
from fleetform.drift import read_only
from fleetform.errors import DeviceError
from fleetform.parallel import map_parallel
from fleetform.plan import DeviceFailure, to_plain
from fleetform.planner import RunOptions, check_identity, fingerprint, merge_tracked, unwrap
from fleetform.provider import DeviceRecord, Provider, ReadRequest
from fleetform.secrets import hash_secret, is_secret_hash, secret_matches
from fleetform.state import State, StateBackend


@dataclass(frozen=True)
class Accepted:
    """One value refresh-only will record: the device, what, old and new."""

    device: str
    what: str
    before: Any
    after: Any
    sensitive: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON view (sensitive values as ``null``)."""
        hidden = self.sensitive
        return {"device": self.device, "what": self.what, "sensitive": hidden,
                "before": None if hidden else to_plain(self.before),
                "after": None if hidden else to_plain(self.after)}


@dataclass(frozen=True)
class RefreshPlan:
    """What a refresh would record, per device, and what could not be refreshed."""

    accepted: tuple[Accepted, ...]
    records: Mapping[str, DeviceRecord]
    failures: Mapping[str, DeviceFailure]
    unreadable: tuple[tuple[str, str], ...] = ()

    @property
    def has_changes(self) -> bool:
        """True when state would change."""
        return bool(self.accepted)


_MISSING = object()


def _observed(live: Mapping[str, Any], facts: Mapping[str, Any], name: str) -> Any:
    """What the device reports for write-only setting ``name``, or ``_MISSING``."""
    if name in live:
        return live[name]
    observed = facts.get("observed")
    if isinstance(observed, Mapping) and name in observed:
        return observed[name]
    return _MISSING


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refresh_device(device: DeviceSpec, provider: Provider, state: State,
                    options: RunOptions) -> tuple[list[Accepted], DeviceRecord,
                                                  list[tuple[str, str]]]:
    record = state.record(device.name)
    deadline = Deadline(options.timeout, options.cancel)
    read = provider.read(ReadRequest(device=device, record=record, deadline=deadline,
                                     options=options.provider_options))
    check_identity(device, read, record)
    tracked = dict(record.tracked) if record else {}
    accepted: list[Accepted] = []
    unreadable: list[tuple[str, str]] = []
    for name, spec in provider.settings_specs.items():
        if spec.readable:
            continue
        observed = _observed(read.live, read.facts, name)
        if observed is _MISSING:
            if name in device.desired() or name in tracked:
                unreadable.append((device.name, name))
            continue
        old = tracked.get(name)
        live = overlay(old, unwrap(observed))
        if spec.sensitive:
            if isinstance(old, str) and secret_matches(str(live), old):
                continue
            tracked[name] = hash_secret(str(live), state.salt)
            accepted.append(Accepted(device.name, name, None, None, sensitive=True))
        elif to_plain(live) != old:
            tracked[name] = to_plain(live)
            accepted.append(Accepted(device.name, name, old, to_plain(live)))
    if record is None:
        accepted.append(Accepted(device.name, "record", None,
                                 {"address": read.address, **read.identity}))
    elif record.address != read.address:
        accepted.append(Accepted(device.name, "address", record.address, read.address))
    base = record or DeviceRecord(name=device.name, provider=device.provider,
                                  address=read.address)
    merged = merge_tracked(provider, device, replace(read, live=dict(read.live)),
                           replace(base, tracked=tracked))
    updated = replace(base, address=read.address, identity=dict(read.identity),
                      tracked=tracked, updated_at=_now(),
                      fingerprint=fingerprint(device, provider, merged))
    return accepted, updated, unreadable


def plan_refresh(devices: Sequence[DeviceSpec], providers: Mapping[str, Provider],
                 state: State, options: RunOptions | None = None) -> RefreshPlan:
    """Read every device (read-only) and compute what state would record."""
    options = options or RunOptions()
    guarded = read_only(providers)

    def work(device: DeviceSpec) -> tuple[str, Any]:
        try:
            return "ok", _refresh_device(device, guarded[device.provider], state, options)
        except DeviceError as exc:
            exc.with_context(device=device.name, step="read")
            return "failed", DeviceFailure.from_exception(exc, step="read")
        except Exception as exc:  # a bug must not stop the other devices
            return "failed", DeviceFailure("InternalError", f"internal error: {exc!r}", "read")

    results = map_parallel(list(devices), work, options.parallelism, options.cancel)
    accepted: list[Accepted] = []
    records: dict[str, DeviceRecord] = {}
    failures: dict[str, DeviceFailure] = {}
    unreadable: list[tuple[str, str]] = []
    for device, (kind, value) in zip(devices, results, strict=True):
        if kind == "failed":
            failures[device.name] = value
            continue
        items, record, missing = value
        accepted += items
        unreadable += missing
        if items:
            records[device.name] = record
    return RefreshPlan(tuple(accepted), records, failures, tuple(unreadable))


def apply_refresh(refresh: RefreshPlan, backend: StateBackend, state: State) -> State:
    """Record the refreshed devices in one state write; nothing touches a device."""
    updated = state
    for record in refresh.records.values():
        updated = updated.with_device(record)
    return backend.write(updated) if refresh.records else state


def shown(value: Any) -> Any:
    """A tracked value for display: secret hashes masked."""
    return "(sensitive)" if is_secret_hash(value) else value
