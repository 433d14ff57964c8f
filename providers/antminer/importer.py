"""The Antminer import hook: live miner → manifest entry (``fleetform import``).

Why provider-specific: the engine's generic import keeps every readable
setting as read, but a miner reports its network with the fields of the mode
it is in and may hold pool slots the manifest model rejects; this maps the
live read to exactly what :class:`AntminerSettings` accepts, suggests the
miner's hostname as the device name, and explains what cannot be imported
(the admin password is write-only: it can be probed, never read).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from fleetform.device import DeviceSpec
from fleetform.importer import ImportedDevice
from fleetform.provider import ReadResponse


def import_connection(address: str) -> dict[str, Any]:
    """``host`` or ``host:port`` (the web CGI port) as a connection block."""
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and host and "]" not in port:
        return {"host": host.strip("[]"), "port": int(port)}
    return {"host": address}


def _network(live: dict[str, Any]) -> dict[str, Any] | None:
    mode = live.get("mode")
    if mode == "dhcp":
        keys = ["mode", "hostname"]
    elif mode == "static":
        keys = ["mode", "ip", "netmask", "gateway", "dns", "hostname"]
    else:
        return None
    return {k: live[k] for k in keys if live.get(k) not in (None, "")}


def import_device(device: DeviceSpec, read: ReadResponse) -> ImportedDevice:
    """Pools (worker passwords become secrets), network, and the hostname as name."""
    settings: dict[str, Any] = {}
    pools = [
        {"url": p["url"], "worker": p["worker"], "password": p.get("password", "")}
        for p in read.live.get("pools") or [] if p.get("url") and p.get("worker")
    ]
    if pools:
        settings["pools"] = pools[:3]
    network = read.live.get("network")
    if isinstance(network, dict):
        mapped = _network(network)
        if mapped is not None:
            settings["network"] = mapped
    hostname = read.facts.get("hostname") or (network or {}).get("hostname")
    in_sync = read.live.get("admin_password")
    if isinstance(in_sync, SecretStr):
        # The manifest's admin_password logged in: it is the live password.
        settings["admin_password"] = in_sync.get_secret_value()
        comments: tuple[str, ...] = ()
    else:
        comments = (
            "admin_password is write-only (it can be checked, not read): to manage it, add "
            "'admin_password: ${env:NAME}' under settings",
        )
    return ImportedDevice(settings=settings, name=str(hostname) if hostname else None,
                          comments=comments)
