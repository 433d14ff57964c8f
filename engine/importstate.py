"""What ``fleetform import`` takes from state: write-only settings fleetform last applied.

Why: a write-only setting (``SettingSpec.readable=False``) cannot be read
from the device, so a plain import would leave it out and the manifest would
stop managing it. State tracks the value of every write-only setting at the
last apply; the import writes that value, overlaid with whatever the device
*can* report of it (``live`` or ``facts["observed"]``, exactly as
``apply --refresh-only`` accepts it), so a plan right after shows no changes.

Which record: the one named like the imported device, else the only record
of the same provider at the address the device answered from. A record whose
identity differs from the device's (a replaced camera at the same address)
is not used. Secret write-only settings are never imported: state holds only
their salted hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from fleetform.device import DeviceSpec
from fleetform.diff import overlay
from fleetform.errors import IdentityMismatch
from fleetform.planner import check_identity, unwrap
from fleetform.provider import DeviceRecord, Provider, ReadResponse
from fleetform.state import State

_MISSING = object()


def record_named(state: State | None, name: str | None, provider: str) -> DeviceRecord | None:
    """The record called ``name`` if it belongs to ``provider``."""
    record = state.record(name) if state is not None and name else None
    return record if record is not None and record.provider == provider else None


def record_at(state: State | None, provider: str, address: str) -> DeviceRecord | None:
    """The only record of ``provider`` at ``address`` (none if absent or ambiguous)."""
    if state is None:
        return None
    found = [r for r in state.devices.values() if r.provider == provider and r.address == address]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class StateView:
    """The read with write-only values filled in, the record used and notes for comments."""

    read: ReadResponse
    record: DeviceRecord | None
    notes: tuple[str, ...] = ()


def with_write_only(provider: Provider, device: DeviceSpec, read: ReadResponse,
                    record: DeviceRecord | None) -> StateView:
    """Fill each non-secret write-only setting into ``read.live`` (see the module docstring)."""
    notes: list[str] = []
    if record is not None:
        try:
            check_identity(device, read, record)
        except IdentityMismatch:
            notes.append(f"state record '{record.name}' was not used: it is for another device "
                         f"(identity {record.identity}, this one {read.identity})")
            record = None
    tracked = record.tracked if record is not None else {}
    observed = read.facts.get("observed")
    observed = observed if isinstance(observed, Mapping) else {}
    live = dict(read.live)
    from_state: list[str] = []
    for name, spec in provider.settings_specs.items():
        if spec.readable or spec.sensitive:
            continue
        seen = live[name] if live.get(name) is not None else observed.get(name, _MISSING)
        stored = tracked.get(name)
        if seen is not _MISSING and seen is not None:
            live[name] = overlay(stored, unwrap(seen))
        elif stored is not None:
            live[name] = stored
            from_state.append(name)
    if from_state:
        assert record is not None
        notes.append(f"from state record '{record.name}' (the value fleetform last applied; "
                     f"the device cannot report it): {', '.join(from_state)}")
    return StateView(replace(read, live=live), record, tuple(notes))
