"""``fleetform import``: write a manifest from live devices (onboarding in one step).

Why: an existing fleet should not be typed in by hand. Devices are found by
``--provider`` + ``--address`` (plus ``--connection key=value`` for ports
and credentials) or from the connection blocks of an existing manifest; the
output is a manifest whose plan shows no changes, secrets written as
``${env:NAME}`` references (the header lists the variables to export).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from ruamel.yaml import YAML

from fleetform.cli.context import load_workspace
from fleetform.cli.options import VarFileOpt, VarOpt
from fleetform.errors import FleetformError
from fleetform.importer import ImportSource, connection_for_address, import_devices
from fleetform.provider import Provider
from fleetform.providers import builtin_providers

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _assignment(option: str, text: str) -> tuple[str, Any]:
    """``key.sub=value`` with the value read as YAML (``port=8080`` is a number)."""
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


def _set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        node = target.setdefault(part, {})
        if not isinstance(node, dict):
            raise FleetformError(f"--connection {key}: {part} is not a mapping")
        target = node
    target[parts[-1]] = value


def _address_sources(provider_name: str | None, addresses: list[str], connection: list[str],
                     names: list[str], labels: list[str]) -> list[ImportSource]:
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
            origin=f"--address {address}"))
    provider.close()
    return sources


def _manifest_sources(manifest: Path, var: list[str], var_file: list[Path]
                      ) -> list[ImportSource]:
    workspace = load_workspace(manifest, variables=var, var_files=var_file)
    try:
        raw = YAML(typ="safe").load(workspace.manifest.rendered) or {}
    finally:
        workspace.close()
    blocks = {d.get("name"): d.get("connection") or {} for d in raw.get("devices") or []
              if isinstance(d, dict)}
    return [ImportSource(provider=d.provider, connection=dict(blocks.get(d.name) or {}),
                         name=d.name, labels=dict(d.labels), origin=f"from {manifest}")
            for d in workspace.manifest.devices]


def import_command(
    manifest: Annotated[
        Path | None,
        typer.Argument(help="Import the devices listed in this manifest (their connection "
                       "blocks); its settings are ignored.", dir_okay=False, exists=True),
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Device family of the --address devices.")
    ] = None,
    address: Annotated[
        list[str], typer.Option("--address", help="Address of a live device (repeatable); "
                                "for antminer host or host:port.")
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
    Nothing is written to any device.
    """
    if (manifest is None) == (not address):
        raise FleetformError("import either a MANIFEST's devices or --provider with "
                             "--address (one or the other)")
    if output is not None and output.exists() and not force:
        raise FleetformError(f"{output} exists; pass --force to overwrite it")
    if manifest is not None:
        sources = _manifest_sources(manifest, var, var_file)
        header = f"Devices from {manifest}."
    else:
        sources = _address_sources(provider, address, connection, name, label)
        header = f"Devices at {', '.join(address)}."
    providers: dict[str, Provider] = {n: cls() for n, cls in builtin_providers().items()}
    try:
        result = import_devices(sources, providers, parallelism=parallelism, timeout=timeout,
                                header=header)
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
