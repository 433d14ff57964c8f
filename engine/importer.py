"""``fleetform import``: read live devices and write a manifest that matches them.

Why: an existing fleet is onboarded in one step; a plan right after the
import shows no changes. Generic over providers, with optional hooks:

A provider MAY implement, as methods of its class or as module-level
functions in ``providers/<family>/importer.py`` next to its provider module
(found by :func:`find_hook`; see :class:`ImportHook`):

- ``import_connection(address: str) -> dict``: the manifest ``connection``
  data for a device found at ``address`` (default: ``{"host": address}`` if
  the connection model has a ``host`` field);
- ``import_read(provider: Provider, request: ReadRequest) -> ReadResponse``:
  the read an import uses instead of ``provider.read(request)``. For a
  provider whose read is selective (it reads only what the manifest manages,
  and an import starts from an empty manifest) or that needs more in the
  request: it gets the *read-only wrapped* provider and reads through its
  public ``read``, typically with ``request.device`` widened to manage every
  setting it wants reported. It must not write to the device;
- ``import_device(device: DeviceSpec, read: ReadResponse) -> ImportedDevice``:
  the manifest ``settings`` (plain data, secrets in clear: the engine turns
  them into ``${env:...}`` references), a suggested name and comment lines
  (default: every setting of ``read.live`` the settings model knows).

Settings the user gives (:attr:`ImportSource.settings`: ``--set key=value``,
or, importing a manifest, the settings its model requires, such as an AVer
camera's ``model``) are part of the device the import reads with, and are
written as given. A provider whose settings model requires a field the
device cannot report is imported only with that field given; the error says
how to give it.

Write-only settings (``SettingSpec.readable=False``): before ``import_device``
the engine fills ``read.live`` with what state tracked at the last apply,
overlaid with what the device reports (see :mod:`fleetform.importstate`); the
device then takes the state record's name so a plan finds the record.

Secrets never reach the output: each secret leaf becomes ``${env:NAME}``,
one variable per distinct (setting pattern, value), and the header lists the
variables to export. The output is deterministic (no timestamps).
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, get_origin, runtime_checkable

from pydantic import BaseModel, ValidationError

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import SecretMatcher, overlay
from fleetform.drift import read_only
from fleetform.errors import DeviceError, FleetformError
from fleetform.importrender import SecretReferences, device_block, document, with_references
from fleetform.importstate import record_at, record_named, with_write_only
from fleetform.manifest.schema import secret_paths
from fleetform.manifest.secretref import resolve_secrets
from fleetform.parallel import map_parallel
from fleetform.plan import DeviceFailure
from fleetform.planner import unwrap
from fleetform.provider import DeviceRecord, Opaque, Provider, ReadRequest, ReadResponse
from fleetform.state import State

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


class ImportError_(FleetformError):  # noqa: N801 - avoid shadowing the builtin ImportError
    """A device cannot be imported (bad address, no hook, unreadable)."""


@dataclass(frozen=True)
class ImportedDevice:
    """A provider's manifest view of one live device (see the module docstring)."""

    settings: dict[str, Any]
    name: str | None = None
    comments: tuple[str, ...] = ()


@runtime_checkable
class ImportHook(Protocol):
    """The optional provider methods ``fleetform import`` uses when present."""

    def import_connection(self, address: str) -> dict[str, Any]:
        """Manifest connection data for a device at ``address``."""
        ...

    def import_read(self, provider: Provider, request: ReadRequest) -> ReadResponse:
        """The read an import uses instead of ``provider.read(request)`` (read-only)."""
        ...

    def import_device(self, device: DeviceSpec, read: ReadResponse) -> ImportedDevice:
        """Manifest settings, a suggested name and comments for one live read."""
        ...


@dataclass(frozen=True)
class ImportSource:
    """One device to import: provider, raw connection (``${env:}`` kept), name, labels.

    ``settings``: what the user states rather than the device reports (see the
    module docstring); written into the manifest as given.
    ``login_settings``: secret settings the provider may log in with (a miner's
    rotated ``admin_password``); used for the read only, and written back (as
    ``${env:}`` references) only if the provider's ``import_device`` reports
    them in sync.
    """

    provider: str
    connection: dict[str, Any]
    name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    origin: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    login_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    """The manifest text, the variables to export, and devices that failed."""

    text: str
    variables: Mapping[str, tuple[str, ...]]
    failures: Mapping[str, DeviceFailure]
    devices: tuple[str, ...]


def find_hook(provider: Provider, name: str) -> Callable[..., Any] | None:
    """The provider's import hook ``name``: a method, else ``<package>.importer.<name>``.

    Why the module convention: a family can add its import mapping in a file of
    its own, without touching its provider class.
    """
    method = getattr(provider, name, None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    package = type(provider).__module__.rpartition(".")[0]
    if not package:
        return None
    try:
        module = importlib.import_module(f"{package}.importer")
    except ModuleNotFoundError as exc:
        if exc.name == f"{package}.importer":
            return None
        raise
    function = getattr(module, name, None)
    return function if callable(function) else None


def connection_for_address(provider: Provider, address: str) -> dict[str, Any]:
    """The provider's hook, or ``{"host": address}`` when its connection has a host."""
    hook = find_hook(provider, "import_connection")
    if hook is not None:
        return dict(hook(address))
    if "host" in provider.connection_model.model_fields:
        return {"host": address}
    raise ImportError_(f"provider {provider.name} cannot import by --address: put the devices "
                       "in a manifest's connection blocks and import from it")


def default_import(provider: Provider, read: ReadResponse) -> ImportedDevice:
    """Every known setting of the live read, minus values that cannot be known.

    Write-only settings are in ``read.live`` only where the engine filled them
    in from state or from what the device reported (see the module docstring).
    """
    fields = provider.settings_model.model_fields
    settings = {
        name: unwrap(value) for name, value in read.live.items()
        if name in fields and provider.settings_specs.get(name) is not None
        and value is not None and not _has_opaque(value)
    }
    return ImportedDevice(settings=settings)


def _has_opaque(value: Any) -> bool:
    if isinstance(value, Opaque):
        return True
    if isinstance(value, Mapping):
        return any(_has_opaque(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_opaque(v) for v in value)
    return False


def _validated(model: type[BaseModel], settings: dict[str, Any]) -> tuple[dict[str, Any],
                                                                           list[str]]:
    """Keep the settings the model accepts; explain each one dropped."""
    try:
        model.model_validate(settings)
        return settings, []
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    notes = []
    for name, value in settings.items():
        try:
            model.model_validate({**kept, name: value})
            kept[name] = value
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"])
            notes.append(f"{name} not imported: the live value is not valid in a manifest "
                         f"({where}: {exc.errors()[0]['msg']})")
    return kept, notes


def _spec_for(source: ImportSource, provider: Provider, name: str) -> DeviceSpec:
    resolved = resolve_secrets(source.connection, os.environ)
    if resolved.issues:
        raise ImportError_(f"{name}: connection: {resolved.issues[0].message}")
    try:
        connection = provider.connection_model.model_validate(resolved.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ImportError_(f"{name}: connection.{where}: {first['msg']}") from None
    try:
        settings = provider.settings_model.model_validate(
            {**source.login_settings, **source.settings}
        )
    except ValidationError as exc:
        raise ImportError_(f"{name}: {_settings_problem(provider, exc)}") from None
    return DeviceSpec(name=name, provider=source.provider, connection=connection,
                      settings=settings, labels=dict(source.labels))


def _settings_problem(provider: Provider, exc: ValidationError) -> str:
    """Say which required setting is missing and how to give it, or what is wrong."""
    missing = [".".join(str(p) for p in e["loc"]) for e in exc.errors() if e["type"] == "missing"]
    if not missing:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"settings.{where}: {first['msg']}"
    how = []
    for key in missing:
        choices = _choices(provider.settings_model, key)
        how.append(f"--set {key}=VALUE" + (f" (one of: {', '.join(choices)})" if choices else ""))
    return (f"the {provider.name} provider needs {', '.join(missing)} before a device can be "
            "read, and the device cannot report it: give it with " + " and ".join(how)
            + " (importing a manifest: put it under the device's settings)")


def _choices(model: type[BaseModel], key: str) -> list[str]:
    """The allowed values of a top-level ``Literal`` field (empty for anything else)."""
    info = model.model_fields.get(key)
    if info is None or get_origin(info.annotation) is not Literal:
        return []
    return [str(v) for v in get_args(info.annotation)]


@dataclass(frozen=True)
class _Found:
    """One device read for import: the device, its read (write-only filled) and notes."""

    device: DeviceSpec
    read: ReadResponse
    record: DeviceRecord | None
    notes: tuple[str, ...]


def _read(source: ImportSource, provider: Provider, guarded: Provider, name: str,
          timeout: float, state: State | None) -> _Found:
    """Read one source (through its ``import_read`` hook if any) and fill in state."""
    device = _spec_for(source, provider, name)
    record = record_named(state, source.name, source.provider)
    request = ReadRequest(device=device, record=record, deadline=Deadline(timeout))
    hook = find_hook(provider, "import_read")
    read: ReadResponse = hook(guarded, request) if hook is not None else guarded.read(request)
    record = record or record_at(state, source.provider, read.address)
    view = with_write_only(provider, device, read, record)
    return _Found(device, view.read, view.record, view.notes)


def _with_given(imported: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Given settings first (a required one must validate first), then the imported rest."""
    settings = {key: overlay(imported.get(key), value) for key, value in given.items()}
    settings.update({k: v for k, v in imported.items() if k not in given})
    return settings


def import_devices(sources: Sequence[ImportSource], providers: Mapping[str, Provider], *,
                   parallelism: int = 10, timeout: float = 60.0, header: str = "",
                   state: State | None = None) -> ImportResult:
    """Read every source (read-only) and render the manifest text.

    ``state``: where write-only settings fleetform last applied are found
    (see :mod:`fleetform.importstate`); ``None`` imports only what devices report.
    """
    guarded = read_only(providers)
    placeholder = [s.name or f"{s.provider}-{i + 1}" for i, s in enumerate(sources)]

    def work(index: int) -> tuple[str, Any]:
        source, name = sources[index], placeholder[index]
        try:
            return "ok", _read(source, providers[source.provider], guarded[source.provider],
                               name, timeout, state)
        except DeviceError as exc:
            exc.with_context(device=name, step="read")
            return "failed", DeviceFailure.from_exception(exc, step="read")
        except ImportError_ as exc:
            return "failed", DeviceFailure("ImportError", str(exc), "connection")

    results = map_parallel(list(range(len(sources))), work, parallelism)
    failures = {placeholder[i]: r[1] for i, r in enumerate(results) if r[0] == "failed"}
    if failures:
        return ImportResult("", {}, failures, ())
    secrets_by_provider: dict[str, SecretReferences] = {}
    blocks: list[str] = []
    used: set[str] = set()
    names: list[str] = []
    for index, (source, (_, found)) in enumerate(zip(sources, results, strict=True)):
        assert isinstance(found, _Found)
        device, read = found.device, found.read
        provider = providers[source.provider]
        hook = find_hook(provider, "import_device")
        imported = hook(device, read) if hook is not None else default_import(provider, read)
        recorded = found.record.name if found.record is not None else None
        name = _unique(source.name or recorded or _clean(imported.name) or placeholder[index],
                       used)
        names.append(name)
        settings, notes = _validated(provider.settings_model,
                                     _with_given(imported.settings, source.settings))
        if not settings.keys() - source.settings.keys():
            notes.append(f"no setting imported: the {source.provider} provider reported none "
                         "for this device; add the settings to manage")
        matcher = SecretMatcher(provider.settings_specs,
                                secret_paths(provider.settings_model))
        secrets = secrets_by_provider.setdefault(source.provider,
                                                 SecretReferences(source.provider))
        ordered = _ordered(settings, provider)
        entry: dict[str, Any] = {"name": name, "provider": source.provider}
        if source.labels:
            entry["labels"] = dict(sorted(source.labels.items()))
        entry["connection"] = with_references(
            source.connection, "", SecretMatcher({}, secret_paths(provider.connection_model)),
            secrets, name)
        entry["settings"] = with_references(ordered, "", matcher, secrets, name)
        identity = ", ".join(f"{k} {v}" for k, v in sorted(read.identity.items()))
        comments = [f"{name}: {source.provider} at {read.address}"
                    + (f" ({identity})" if identity else "")
                    + (f", {source.origin}" if source.origin else ""),
                    *found.notes, *imported.comments, *notes]
        blocks.append(device_block(entry, comments))
    variables = {n: tuple(users) for s in secrets_by_provider.values()
                 for n, users in sorted(s.users.items())}
    return ImportResult(document(blocks, variables, header), variables, {}, tuple(names))


def _ordered(settings: Mapping[str, Any], provider: Provider) -> dict[str, Any]:
    specs = provider.settings_specs
    # Settings without a spec (an AVer camera's model) say what the device is: first.
    keys = sorted(settings, key=lambda k: (specs[k].order if k in specs else -1, k))
    return {k: settings[k] for k in keys}


def _clean(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = _NAME_CHARS.sub("-", name).strip("-._")[:64]
    return cleaned or None


def _unique(name: str, used: set[str]) -> str:
    candidate, count = name, 1
    while candidate in used:
        count += 1
        candidate = f"{name}-{count}"
    used.add(candidate)
    return candidate
