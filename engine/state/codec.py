"""The on-disk envelope of a state and its conversion to and from :class:`State`.

Why: the file format is versioned separately from the model (after OpenTofu's
``statefile`` package), so an old file is migrated step by step on read and a
file from a newer fleetform is refused with a clear message instead of being
half understood and overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fleetform import __version__
from fleetform.errors import StateError
from fleetform.provider import DeviceRecord
from fleetform.state.model import State

FORMAT_VERSION = 1
"""The envelope version this fleetform writes and the newest it can read."""

Envelope = dict[str, Any]
Migration = Callable[[Envelope], Envelope]
_T = TypeVar("_T")

MIGRATIONS: Mapping[int, Migration] = {}
"""``{n: f}`` where ``f`` turns a format ``n`` envelope into format ``n + 1``.

Why: when the format changes, adding one function here keeps every older state
file readable; reads migrate in memory and the next write stores the new format.
"""


def encode(state: State, *, fleetform_version: str = __version__) -> str:
    """The file text for ``state``: pretty JSON, sorted keys, trailing newline.

    Why sorted and pretty: state files are diffed and reviewed by people, and a
    stable layout makes a one-device change a small diff.
    """
    envelope: Envelope = {
        **_header(state, fleetform_version),
        "devices": {name: _encode_record(record) for name, record in state.devices.items()},
    }
    return json.dumps(envelope, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Encoder:
    """:func:`encode` with each device's JSON kept between writes.

    Why: apply writes state after every verified step; re-encoding all 1,000
    records of a farm for each of ~3,000 writes made state writes quadratic
    (json's pure-Python pretty printer). Records are immutable, so a record
    seen before (the same object) reuses its text; the output is byte for
    byte what :func:`encode` gives. One instance per backend, one writer at a time.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[DeviceRecord, str]] = {}

    def encode(self, state: State, *, fleetform_version: str = __version__) -> str:
        """The file text for ``state``, identical to :func:`encode`."""
        rest = _dumps(_header(state, fleetform_version))
        cache: dict[str, tuple[DeviceRecord, str]] = {}
        parts = []
        for name in sorted(state.devices):
            record = state.devices[name]
            known = self._cache.get(name)
            text = known[1] if known is not None and known[0] is record else (
                _dumps(_encode_record(record)).replace("\n", "\n    "))
            cache[name] = (record, text)
            parts.append(f"    {json.dumps(name, ensure_ascii=False)}: {text}")
        self._cache = cache
        devices = "{\n" + ",\n".join(parts) + "\n  }" if parts else "{}"
        return '{\n  "devices": ' + devices + ",\n" + rest[2:] + "\n"


def _header(state: State, fleetform_version: str) -> dict[str, Any]:
    """Every envelope field but ``devices`` (shared by both encoders)."""
    return {
        "format_version": FORMAT_VERSION,
        "serial": state.serial,
        "lineage": state.lineage,
        "salt": state.salt,
        "fleetform_version": fleetform_version,
        "updated_at": state.updated_at,
    }


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def decode(text: str, *, source: str, hint: str = "") -> State:
    """Parse file text into a :class:`State`, migrating older formats.

    Why: every failure names ``source`` (and the line for bad JSON) and, for a
    damaged file, appends ``hint`` (the backend's recovery advice), because a
    state problem must stop the run with a message the user can act on.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        message = (
            f"state file {source} is corrupt: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        )
        raise StateError(_with_hint(message, hint)) from exc
    if not isinstance(raw, dict):
        raise StateError(_with_hint(f"state file {source} is corrupt: not a JSON object", hint))
    envelope = migrate(raw, source=source)
    try:
        return _decode_envelope(envelope)
    except _InvalidError as exc:
        raise StateError(_with_hint(f"state file {source} is corrupt: {exc}", hint)) from None


def migrate(envelope: Envelope, *, source: str) -> Envelope:
    """Bring ``envelope`` up to :data:`FORMAT_VERSION` through :data:`MIGRATIONS`.

    Why: refusing a newer format here (before any field is read) is what stops
    an old fleetform from silently dropping data a newer one stored.
    """
    version = envelope.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError(f"state file {source} has no valid format_version; is it a state file?")
    if version > FORMAT_VERSION:
        writer = envelope.get("fleetform_version")
        needed = f"fleetform {writer} or newer" if isinstance(writer, str) else "a newer fleetform"
        raise StateError(
            f"state file {source} uses format version {version}, but this fleetform "
            f"({__version__}) reads up to version {FORMAT_VERSION}; it needs {needed}"
        )
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StateError(
                f"state file {source} uses format version {version}, which this "
                f"fleetform ({__version__}) can no longer read"
            )
        envelope = step(envelope)
        version += 1
        envelope["format_version"] = version
    return envelope


class _InvalidError(Exception):
    """A structural problem at a field path, turned into a StateError by decode."""


def _with_hint(message: str, hint: str) -> str:
    return f"{message}. {hint}" if hint else message


def _encode_record(record: DeviceRecord) -> Envelope:
    return {
        "provider": record.provider,
        "address": record.address,
        "identity": dict(record.identity),
        "tracked": dict(record.tracked),
        "updated_at": record.updated_at,
        "fingerprint": record.fingerprint,
    }


def _decode_envelope(envelope: Envelope) -> State:
    serial = envelope.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        raise _InvalidError("serial: expected a non-negative integer")
    devices = _field(envelope, "devices", dict, "", "an object")
    records = [_decode_record(name, value) for name, value in devices.items()]
    return State(
        serial=serial,
        lineage=_field(envelope, "lineage", str, "", "a string"),
        salt=_field(envelope, "salt", str, "", "a string"),
        updated_at=_optional_str(envelope, "updated_at", ""),
        devices={record.name: record for record in records},
    )


def _decode_record(name: str, value: object) -> DeviceRecord:
    where = f"devices.{name}."
    if not isinstance(value, dict):
        raise _InvalidError(f"devices.{name}: expected an object")
    identity = _field(value, "identity", dict, where, "an object", default={})
    if not all(isinstance(v, str) for v in identity.values()):
        raise _InvalidError(f"{where}identity: expected string values")
    return DeviceRecord(
        name=name,
        provider=_field(value, "provider", str, where, "a string"),
        address=_field(value, "address", str, where, "a string"),
        identity=dict(identity),
        tracked=dict(_field(value, "tracked", dict, where, "an object", default={})),
        updated_at=_optional_str(value, "updated_at", where),
        fingerprint=_optional_str(value, "fingerprint", where),
    )


def _field(
    data: Envelope, key: str, kind: type[_T], where: str, expected: str, default: _T | None = None
) -> _T:
    value = data.get(key, default)
    if not isinstance(value, kind):
        raise _InvalidError(f"{where}{key}: expected {expected}")
    return value


def _optional_str(data: Envelope, key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _InvalidError(f"{where}{key}: expected a string or null")
    return value
