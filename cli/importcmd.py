"""``fleetform import``: write a manifest from live devices (onboarding in one step).

Why: an existing fleet should not be typed in by hand. Devices are found by
``--provider`` + ``--address`` (plus ``--connection key=value`` for ports
and credentials, and ``--set key=value`` for settings a device cannot report,
such as an AVer camera's model) or from the connection blocks of an existing
manifest (plus the settings its model requires); the output is a manifest
whose plan shows no changes, secrets written as ``${env:NAME}`` references
(the header lists the variables to export). Write-only settings come from
the state a plan would use (``--state``, the environment, the manifest's
``state`` block, else ``.fleetform/state.json``), read without locking it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fleetform.cli.context import backend_for, load_workspace
from fleetform.cli.options import StateOpt, VarFileOpt, VarOpt
from fleetform.errors import FleetformError

if TYPE_CHECKING:  # the engine is imported when a command runs (quick --help)

    from fleetform.device import DeviceSpec
    from fleetform.importer import ImportSource
    from fleetform.provider import Provider
    from fleetform.state import State

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _assignment(option: str, text: str) -> tuple[str, Any]:
    """``key.sub=value`` with the value read as YAML (``port=8080`` is a number)."""
    from ruamel.yaml import YAML

    key, sep, raw = text.partition("=")
    if not sep or not _KEY.match(key.strip()):
        raise FleetformError(f"{option} expects key=value (key may be dotted: "
                             f"credentials.password), got {text!r}")
    try:
        value = YAML(typ="safe").load(raw) if raw.strip() else ""
    except Exception:  # not YAML: keep the text as written
        value = raw
    if not isinstance(value, (str, int, float, bool)):
        value = raw
    return key.strip(), value


def _set_dotted(target: dict[str, Any], key: str, value: Any, option: str = "--connection"
                ) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        node = target.setdefault(part, {})
        if not isinstance(node, dict):
            raise FleetformError(f"{option} {key}: {part} is not a mapping")
        target = node
    target[parts[-1]] = value


def _address_sources(provider_name: str | None, addresses: list[str], connection: list[str],
                     names: list[str], labels: list[str], given: list[str]
                     ) -> list[ImportSource]:
    from fleetform.importer import ImportSource, connection_for_address
    from fleetform.providers import builtin_providers

    classes = builtin_providers()
    if provider_name is None or provider_name not in classes:
        known = ", ".join(sorted(classes))
        raise FleetformError(f"--address needs --provider (one of: {known})")
    provider: Provider = classes[provider_name]()
    if names and len(names) != len(addresses):
        raise FleetformError("give one --name per --address, or none")
    extra: dict[str, Any] = {}
    for text in connection:
        key, value = _assignment("--connection", text)
        _set_dotted(extra, key, value)
    label_map = dict(_assignment("--label", t) for t in labels)
    settings: dict[str, Any] = {}
    for text in given:
        key, value = _assignment("--set", text)
        _set_dotted(settings, key, value, "--set")
    sources = []
    for index, address in enumerate(addresses):
        data = connection_for_address(provider, address)
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        sources.append(ImportSource(
            provider=provider_name, connection=data,
            name=names[index] if names else None,
            labels={str(k): str(v) for k, v in label_map.items()},
            origin=f"--address {address}", settings=settings))
    provider.close()
    return sources


def _carried_settings(device: DeviceSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """Manifest settings an import keeps: (required ones, secrets to log in with).

    Why: the device cannot report what its model requires (an AVer camera's
    model), and a provider may log in with a secret setting (a miner whose
    password was rotated to ``admin_password``); secrets are used for the
    read only and written back, as ``${env:...}`` references, only when the
    device reports them in sync.
    """
    from fleetform.plan import to_plain
    from fleetform.planner import unwrap
    from fleetform.providers import builtin_providers

    specs = builtin_providers()[device.provider].settings_specs
    required: dict[str, Any] = {}
    login: dict[str, Any] = {}
    for name, info in type(device.settings).model_fields.items():
        value = getattr(device.settings, name)
        spec = specs.get(name)
        if info.is_required():
            required[name] = to_plain(unwrap(value))
        elif spec is not None and spec.sensitive and value is not None:
            login[name] = unwrap(value)
    return required, login


def _manifest_sources(manifest: Path, var: list[str], var_file: list[Path], state: Path | None
                      ) -> tuple[list[ImportSource], State]:
    from ruamel.yaml import YAML

    from fleetform.importer import ImportSource

    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state)
    try:
        raw = YAML(typ="safe").load(workspace.manifest.rendered) or {}
        recorded = workspace.backend.read()
    finally:
        workspace.close()
    blocks = {d.get("name"): d.get("connection") or {} for d in raw.get("devices") or []
              if isinstance(d, dict)}
    sources = []
    for d in workspace.manifest.devices:
        required, login = _carried_settings(d)
        sources.append(ImportSource(
            provider=d.provider, connection=dict(blocks.get(d.name) or {}), name=d.name,
            labels=dict(d.labels), origin=f"from {manifest}", settings=required,
            login_settings=login,
        ))
    return sources, recorded


def _read_state(state: Path | None) -> State:
    """The state a plan of the imported manifest would use (read, not locked)."""
    from fleetform.state.config import close_backend

    backend = backend_for(None, state)
    try:
        return backend.read()
    finally:
        close_backend(backend)


def import_command(
    manifest: Annotated[
        Path | None,
        typer.Argument(help="Import the devices listed in this manifest (their connection "
                       "blocks); its settings are ignored except those its model requires "
                       "(an aver camera's model).", dir_okay=False, exists=True),
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Device family of the --address devices.")
    ] = None,
    address: Annotated[
        list[str], typer.Option("--address", help="Address of a live device (repeatable); "
                                "antminer, turretcam: host or host:port; aver: "
                                "udp://HOST[:PORT] or a serial device path.")
    ] = [],  # noqa: B006
    connection: Annotated[
        list[str], typer.Option("--connection", help="Connection field for every --address "
                                "device, e.g. rpc_port=4028 or "
                                "credentials.password='${env:MINER_PW}' (repeatable).")
    ] = [],  # noqa: B006
    name: Annotated[
        list[str], typer.Option("--name", help="Device name for each --address, in order.")
    ] = [],  # noqa: B006
    label: Annotated[
        list[str], typer.Option("--label", help="Label key=value for every --address device.")
    ] = [],  # noqa: B006
    given: Annotated[
        list[str], typer.Option("--set", help="Setting key=value for every --address device, "
                                "for what a device cannot report, e.g. model=CAM570 for aver "
                                "cameras; written as given (repeatable).")
    ] = [],  # noqa: B006
    state: StateOpt = None,
    var: VarOpt = [],  # noqa: B006
    var_file: VarFileOpt = [],  # noqa: B006
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False,
                                  help="Write the manifest here (default: stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output.")] = False,
    parallelism: Annotated[int, typer.Option("--parallelism", min=1, max=1000)] = 10,
    timeout: Annotated[float, typer.Option("--timeout", min=1)] = 60.0,
) -> None:
    """Read live devices and write a manifest with their current settings.

    A plan right after shows no changes. Secrets are written as ${env:NAME}
    references (never values); the header lists the variables to export.
    Write-only settings come from state (what fleetform last applied).
    Nothing is written to any device.
    """
    from fleetform.importer import import_devices
    from fleetform.providers import builtin_providers

    if (manifest is None) == (not address):
        raise FleetformError("import either a MANIFEST's devices or --provider with "
                             "--address (one or the other)")
    if output is not None and output.exists() and not force:
        raise FleetformError(f"{output} exists; pass --force to overwrite it")
    if manifest is not None and given:
        raise FleetformError("--set is for --address imports; a manifest's devices take their "
                             "settings from the manifest")
    if manifest is not None:
        sources, recorded = _manifest_sources(manifest, var, var_file, state)
        header = f"Devices from {manifest}."
    else:
        sources = _address_sources(provider, address, connection, name, label, given)
        recorded = _read_state(state)
        header = f"Devices at {', '.join(address)}."
    providers: dict[str, Provider] = {n: cls() for n, cls in builtin_providers().items()}
    try:
        result = import_devices(sources, providers, parallelism=parallelism, timeout=timeout,
                                header=header, state=recorded)
    finally:
        for instance in providers.values():
            instance.close()
    if result.failures:
        for device, failure in result.failures.items():
            typer.echo(f"Error: {device}: {failure}", err=True)
        raise FleetformError(f"{len(result.failures)} device(s) could not be imported; "
                             "nothing was written")
    if output is None:
        typer.echo(result.text, nl=False)
        return
    output.write_text(result.text, encoding="utf-8")
    typer.echo(f"Wrote {output}: {len(result.devices)} device(s).")
    if result.variables:
        typer.echo("Export these secrets before planning: " + ", ".join(result.variables))
