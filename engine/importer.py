"""``fleetform import``: read live devices and write a manifest that matches them.

Why: an existing fleet is onboarded in one step; a plan right after the
import shows no changes. Generic over providers, with an optional hook:

A provider MAY implement, as methods of its class or as module-level
functions in ``providers/<family>/importer.py`` next to its provider module
(found by :func:`find_hook`; see :class:`ImportHook`):

- ``import_connection(address: str) -> dict``: the manifest ``connection``
  data for a device found at ``address`` (default: ``{"host": address}`` if
  the connection model has a ``host`` field);
- ``import_device(device: DeviceSpec, read: ReadResponse) -> ImportedDevice``:
  the manifest ``settings`` (plain data, secrets in clear: the engine turns
  them into ``${env:...}`` references), a suggested name and comment lines
  (default: every readable setting of ``read.live`` the settings model knows).

Secrets never reach the output: each secret leaf becomes ``${env:NAME}``,
one variable per distinct (setting pattern, value), and the header lists the
variables to export. The output is deterministic (no timestamps).
"""

from __future__ import annotations

import importlib
import io
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import SecretMatcher, pattern_of
from fleetform.drift import read_only
from fleetform.errors import DeviceError, FleetformError
from fleetform.manifest.schema import secret_paths
from fleetform.manifest.secretref import resolve_secrets
from fleetform.parallel import map_parallel
from fleetform.plan import DeviceFailure, to_plain
from fleetform.planner import unwrap
from fleetform.provider import Opaque, Provider, ReadRequest, ReadResponse

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

    def import_device(self, device: DeviceSpec, read: ReadResponse) -> ImportedDevice:
        """Manifest settings, a suggested name and comments for one live read."""
        ...


@dataclass(frozen=True)
class ImportSource:
    """One device to import: provider, raw connection (``${env:}`` kept), name, labels."""

    provider: str
    connection: dict[str, Any]
    name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    origin: str = ""


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
    """Every readable, known setting of the live read, minus values that cannot be known."""
    fields = provider.settings_model.model_fields
    settings = {
        name: unwrap(value) for name, value in read.live.items()
        if name in fields and provider.settings_specs.get(name) is not None
        and provider.settings_specs[name].readable and not _has_opaque(value)
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


@dataclass
class _Secrets:
    """Assigns ``${env:NAME}`` references: one variable per (pattern, value)."""

    prefix: str
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)

    def reference(self, path: str, value: str, device: str) -> str:
        key = (pattern_of(path), value)
        if key not in self.names:
            base = f"{self.prefix}_{pattern_of(path)}".upper()
            base = re.sub(r"[^A-Z0-9]+", "_", base).strip("_")
            name, count = base, 1
            while name in self.names.values():
                count += 1
                name = f"{base}_{count}"
            self.names[key] = name
        name = self.names[key]
        self.users.setdefault(name, [])
        if device not in self.users[name]:
            self.users[name].append(device)
        return f"${{env:{name}}}"


def _with_references(value: Any, path: str, is_secret: SecretMatcher, secrets: _Secrets,
                     device: str) -> Any:
    if path and is_secret(path) and not isinstance(value, (Mapping, list)):
        if isinstance(value, str) and "${env:" in value:
            return value  # already a reference (a connection block from a manifest)
        return secrets.reference(path, "" if value is None else str(value), device)
    if isinstance(value, Mapping):
        return {k: _with_references(v, f"{path}.{k}" if path else str(k), is_secret, secrets,
                                    device) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_references(v, f"{path}[{i}]", is_secret, secrets, device)
                for i, v in enumerate(value)]
    return to_plain(value)


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
        settings = provider.settings_model.model_validate({})
    except ValidationError as exc:
        required = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ImportError_(
            f"{name}: the {provider.name} provider cannot be imported: its settings model "
            f"requires {required} before a device can be read, so there is no empty "
            "manifest entry to read it with") from None
    return DeviceSpec(name=name, provider=source.provider, connection=connection,
                      settings=settings, labels=dict(source.labels))


def _read(source: ImportSource, provider: Provider, name: str, timeout: float
          ) -> tuple[DeviceSpec, ReadResponse]:
    device = _spec_for(source, provider, name)
    read = provider.read(ReadRequest(device=device, record=None, deadline=Deadline(timeout)))
    return device, read


def import_devices(sources: Sequence[ImportSource], providers: Mapping[str, Provider], *,
                   parallelism: int = 10, timeout: float = 60.0,
                   header: str = "") -> ImportResult:
    """Read every source (read-only) and render the manifest text."""
    guarded = read_only(providers)
    placeholder = [s.name or f"{s.provider}-{i + 1}" for i, s in enumerate(sources)]

    def work(index: int) -> tuple[str, Any]:
        source, name = sources[index], placeholder[index]
        try:
            return "ok", _read(source, guarded[source.provider], name, timeout)
        except DeviceError as exc:
            exc.with_context(device=name, step="read")
            return "failed", DeviceFailure.from_exception(exc, step="read")
        except ImportError_ as exc:
            return "failed", DeviceFailure("ImportError", str(exc), "connection")

    results = map_parallel(list(range(len(sources))), work, parallelism)
    failures = {placeholder[i]: r[1] for i, r in enumerate(results) if r[0] == "failed"}
    if failures:
        return ImportResult("", {}, failures, ())
    secrets_by_provider: dict[str, _Secrets] = {}
    blocks: list[str] = []
    used: set[str] = set()
    names: list[str] = []
    for index, (source, (_, (device, read))) in enumerate(zip(sources, results, strict=True)):
        provider = providers[source.provider]
        hook = find_hook(provider, "import_device")
        imported = hook(device, read) if hook is not None else default_import(provider, read)
        name = _unique(source.name or _clean(imported.name) or placeholder[index], used)
        names.append(name)
        settings, notes = _validated(provider.settings_model, imported.settings)
        if not settings:
            notes.append(f"no setting imported: the {source.provider} provider reported none "
                         "for a device with no desired settings (it has no import hook); "
                         "add the settings to manage")
        matcher = SecretMatcher(provider.settings_specs,
                                secret_paths(provider.settings_model))
        secrets = secrets_by_provider.setdefault(source.provider, _Secrets(source.provider))
        ordered = _ordered(settings, provider)
        entry: dict[str, Any] = {"name": name, "provider": source.provider}
        if source.labels:
            entry["labels"] = dict(sorted(source.labels.items()))
        entry["connection"] = _with_references(
            source.connection, "", SecretMatcher({}, secret_paths(provider.connection_model)),
            secrets, name)
        entry["settings"] = _with_references(ordered, "", matcher, secrets, name)
        identity = ", ".join(f"{k} {v}" for k, v in sorted(read.identity.items()))
        comments = [f"{name}: {source.provider} at {read.address}"
                    + (f" ({identity})" if identity else "")
                    + (f", {source.origin}" if source.origin else ""),
                    *imported.comments, *notes]
        blocks.append(_device_block(entry, comments))
    variables = {n: tuple(users) for s in secrets_by_provider.values()
                 for n, users in sorted(s.users.items())}
    return ImportResult(_document(blocks, variables, header), variables, {}, tuple(names))


def _ordered(settings: Mapping[str, Any], provider: Provider) -> dict[str, Any]:
    specs = provider.settings_specs
    keys = sorted(settings, key=lambda k: (specs[k].order if k in specs else 1000, k))
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


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _device_block(entry: dict[str, Any], comments: Sequence[str]) -> str:
    stream = io.StringIO()
    _yaml().dump(entry, stream)
    lines = stream.getvalue().splitlines()
    body = "".join(("  - " if index == 0 else "    ") + line + "\n"
                   for index, line in enumerate(lines))
    notes = "".join(f"  # {c}\n" for c in comments)
    return notes + body


def _document(blocks: Sequence[str], variables: Mapping[str, tuple[str, ...]],
              header: str) -> str:
    lines = ["# fleetform manifest written by 'fleetform import'."]
    if header:
        lines.append(f"# {header}")
    lines.append("# Settings left out are not managed; add them to manage them.")
    if variables:
        lines.append("# Secrets are not written here. Export these before planning:")
        for name, users in variables.items():
            shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5
                                             else "")
            lines.append(f"#   {name}  (used by {shown})")
    return "\n".join(lines) + "\ndevices:\n" + "\n".join(blocks)
