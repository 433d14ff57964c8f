"""Manifest models for Bitmain Antminer S9 / S9 Hydro miners.

Why: pydantic models are the single source of what a manifest may say about a
miner; they validate input, generate ``schemas/manifest.schema.json`` and
reject values the stock firmware cannot store (its CGI splits the form on
``&`` and whitespace, turns ``+`` into a space and writes the config without
JSON escaping, so such characters would be silently mangled on the device).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# Characters the stock set_miner_conf.cgi cannot round-trip (see module docstring):
# whitespace, '&' (field separator), '+' (becomes a space), '"' and '\' (written
# unescaped into JSON), '%' (percent-decoding is partial and inconsistent).
_UNSTORABLE = re.compile(r"""[\s&+"\\%']""")
_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_POOL_URL = re.compile(
    r"^(?:(?P<scheme>stratum\+tcp|stratum\+ssl|stratum2\+tcp|http|https|tcp)://)?"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
    r":(?P<port>\d{1,5})(?P<path>/[^\s]*)?$"
)


def unstorable_reason(value: str) -> str | None:
    """Explain why the firmware could not store ``value``, or ``None`` if it can."""
    bad = sorted(set(_UNSTORABLE.findall(value)))
    if not bad:
        return None
    shown = ", ".join(repr(c) for c in bad)
    return (
        f"contains {shown}, which the S9 firmware's set_miner_conf.cgi cannot store "
        "(it splits on '&' and whitespace, turns '+' into a space and writes quotes and "
        "backslashes unescaped); allowed: letters, digits and . _ - : / @ ! ~ * ( ) , ; = ? # [ ] $"
    )


def _hostname(value: str | None) -> str | None:
    if value is not None and not _HOSTNAME.match(value):
        raise ValueError("must be an RFC 1123 host label: letters, digits, '-', 1-63 chars")
    return value


def _storable(value: str) -> str:
    reason = unstorable_reason(value)
    if reason:
        raise ValueError(reason)
    return value


class Pool(BaseModel):
    """One mining pool slot: stratum URL, worker name and worker password."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="Pool URL, `stratum+tcp://host:port` (the scheme may be omitted: `host:port`).",
        examples=["stratum+tcp://stratum.example.com:3333"],
    )
    worker: str = Field(min_length=1, max_length=128, description="Worker (user) name on the pool.")
    password: str = Field(
        default="x",
        max_length=128,
        description="Worker password (pools mostly ignore it; `x` by convention). Sensitive.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        # The scheme's '+' (stratum+tcp) is a known literal the firmware keeps;
        # every other character must survive the CGI's form parsing.
        _storable(value.split("://", 1)[-1])
        match = _POOL_URL.match(value)
        if not match:
            raise ValueError(
                "must be a stratum URL like 'stratum+tcp://pool.example.com:3333' "
                "(scheme optional, host and port required)"
            )
        port = int(match.group("port"))
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} is out of range 1-65535")
        return value

    @field_validator("worker", "password")
    @classmethod
    def _check_storable(cls, value: str) -> str:
        return _storable(value)


class StaticNetwork(BaseModel):
    """A fixed IPv4 configuration (the firmware's `Static` mode)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["static"]
    ip: ipaddress.IPv4Address = Field(description="Address the miner will move to (disruptive).")
    netmask: ipaddress.IPv4Address = Field(description="Dotted netmask, e.g. 255.255.255.0.")
    gateway: ipaddress.IPv4Address
    dns: list[ipaddress.IPv4Address] = Field(min_length=1, max_length=3)
    hostname: str | None = Field(default=None, description="RFC 1123 host label.")

    @field_validator("netmask")
    @classmethod
    def _check_mask(cls, value: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        bits = int(value)
        inverted = (~bits) & 0xFFFFFFFF
        if bits == 0 or (inverted & (inverted + 1)) != 0:
            raise ValueError(f"{value} is not a contiguous netmask (e.g. 255.255.255.0)")
        return value

    @field_validator("hostname")
    @classmethod
    def _check_hostname(cls, value: str | None) -> str | None:
        return _hostname(value)

    @model_validator(mode="after")
    def _gateway_in_subnet(self) -> StaticNetwork:
        network = ipaddress.IPv4Network(f"{self.ip}/{self.netmask}", strict=False)
        if self.gateway not in network:
            raise ValueError(f"gateway {self.gateway} is not inside {network}")
        if self.ip in (network.network_address, network.broadcast_address) and (
            network.prefixlen < 31
        ):
            raise ValueError(f"ip {self.ip} is the network or broadcast address of {network}")
        return self


class DhcpNetwork(BaseModel):
    """Address by DHCP (the factory default); only the hostname is managed."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["dhcp"]
    hostname: str | None = Field(default=None, description="RFC 1123 host label.")

    @field_validator("hostname")
    @classmethod
    def _check_hostname(cls, value: str | None) -> str | None:
        return _hostname(value)


Network = Annotated[StaticNetwork | DhcpNetwork, Field(discriminator="mode")]


class AntminerSettings(BaseModel):
    """Desired state of one miner. Omitted settings are left as they are."""

    model_config = ConfigDict(extra="forbid")

    pools: list[Pool] | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        description="1-3 pools in priority order; "
        "lower ones are used only when higher ones are dead.",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Web/admin password for user root (write-only, sensitive). "
        "Use a secret reference: ${env:NAME}.",
    )
    network: Network | None = Field(
        default=None, description="DHCP or static addressing; applied last (disruptive)."
    )

    @field_validator("admin_password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        secret = value.get_secret_value()
        # passwd.cgi receives the password in a GET query string and feeds it to a shell.
        if re.search(r"""[\s&+"\\%'`$;|<>]""", secret):
            raise ValueError(
                "contains characters the S9 passwd.cgi cannot take "
                "(whitespace & + \" \\ % ' ` $ ; | < >)"
            )
        return value


class AntminerCredentials(BaseModel):
    """Web login. `password` is the current (bootstrap) password of the miner."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(default="root", description="Digest-auth user (stock firmware: root).")
    password: SecretStr = Field(
        default=SecretStr("root"),
        description="Password fleetform logs in with when `settings.admin_password` does not "
        "work yet (factory: root). Use ${env:NAME}.",
    )


class AntminerConnection(BaseModel):
    """Where and how to reach the miner's web CGI and RPC API."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="IPv4 address or DNS name of the miner.")
    port: int = Field(default=80, ge=1, le=65535, description="HTTP port of the web CGI.")
    rpc_port: int = Field(default=4028, ge=1, le=65535, description="TCP port of the RPC API.")
    credentials: AntminerCredentials = Field(default_factory=AntminerCredentials)
    timeout: float = Field(default=10.0, gt=0, le=600, description="Per-request timeout, seconds.")
    restart_timeout: float = Field(
        default=180.0, gt=0, le=1800,
        description="How long to wait for bmminer to come back after a pool change, seconds.",
    )
