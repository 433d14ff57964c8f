"""Sans-I/O codec for the Antminer S9 web CGIs and the bmminer RPC API.

Why a codec without sockets: every firmware quirk (positional forms, partial
%XX decoding, invalid ``stats`` JSON, NUL-terminated replies, HTML-only
password results) is pinned down here as pure functions over text and bytes,
so unit tests check them byte by byte and the transport only moves bytes.

Facts come from bitmaintech/Antminer_firmware (lighttpd CGIs) and
``docs/protocols.md`` section 1. Error messages never contain a password.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fleetform.errors import DeviceRejected, ProtocolError

REALM = "antMiner Configuration"
SYSTEM_INFO = "/cgi-bin/get_system_info.cgi"
MINER_CONF = "/cgi-bin/get_miner_conf.cgi"
SET_MINER_CONF = "/cgi-bin/set_miner_conf.cgi"
NETWORK_INFO = "/cgi-bin/get_network_info.cgi"
SET_NETWORK_CONF = "/cgi-bin/set_network_conf.cgi"
PASSWD = "/cgi-bin/passwd.cgi"  # noqa: S105 (a path, not a password)

#: set_miner_conf.cgi assigns values by position (``case ${i}``), in this order.
MINER_CONF_FIELDS: tuple[str, ...] = (
    "_ant_pool1url", "_ant_pool1user", "_ant_pool1pw",
    "_ant_pool2url", "_ant_pool2user", "_ant_pool2pw",
    "_ant_pool3url", "_ant_pool3user", "_ant_pool3pw",
    "_ant_nobeeper", "_ant_notempoverctrl",
    "_ant_fan_customize_switch", "_ant_fan_customize_value",
    "_ant_freq", "_ant_voltage",
)
#: set_network_conf.cgi, positional as well.
NETWORK_CONF_FIELDS: tuple[str, ...] = (
    "_ant_conf_nettype", "_ant_conf_hostname", "_ant_conf_ipaddress",
    "_ant_conf_netmask", "_ant_conf_gateway", "_ant_conf_dnsservers",
)
# The only %XX codes the firmware decodes (after turning '+' into a space). '%'
# itself is never produced: "%25" is decoded before "%26" etc., so it would decode twice.
_FIRMWARE_CODES = "#$&,+:;<=>?@[]^{|}/"
_ENCODE = {char: f"%{ord(char):02X}" for char in _FIRMWARE_CODES}
_UNENCODABLE = re.compile(r'[%"\\\x00-\x1f\x7f]')

PASSWD_SUCCESS = "Updating Password"  # noqa: S105 (page text)
PASSWD_FAILURES: tuple[str, ...] = (
    "Invalid Password", "New Password must be set", "New Password does not match",
)
NEWER_GENERATION_KEY = "bitmain-pwth"

_JOINED_OBJECTS = re.compile(r"}\s*{")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def encode_form_value(field: str, value: str) -> str:
    """Encode one value so the firmware's partial decoding restores it exactly.

    Why not ``urlencode``: the CGI decodes only ``+`` and the codes in
    ``_FIRMWARE_CODES`` (upper-case hex); anything else stays literally
    ``%XX`` in the config. Characters JSON or the decoder cannot carry raise.
    """
    if _UNENCODABLE.search(value):
        raise DeviceRejected(
            f"{field}: the value contains %, a quote, a backslash or a control character, "
            "which the S9 firmware cannot store"
        )
    return "".join("+" if char == " " else _ENCODE.get(char, char) for char in value)


def encode_form(fields: Sequence[str], values: Sequence[str]) -> bytes:
    """Join ``name=value`` pairs in the given order into a form body.

    Why the order matters: the CGIs assign by position, not by name.
    ``values`` may be shorter than ``fields``: the missing tail is not sent.
    """
    named = zip(fields[: len(values)], values, strict=True)
    pairs = (f"{name}={encode_form_value(name, value)}" for name, value in named)
    return "&".join(pairs).encode("utf-8")


def loads_lenient(text: str, what: str) -> Any:
    """Parse firmware JSON, repairing the known breakages only if strict parsing fails.

    Why: ``stats`` glues two objects as ``}{`` and hand-written configs may end
    lists with a comma; the error names the CGI but never echoes the content
    (it may hold pool passwords).
    """
    cleaned = text.strip().rstrip("\x00").strip()
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", _JOINED_OBJECTS.sub("},{", cleaned))
    try:
        return json.loads(repaired)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            f"{what}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc


def _object(text: str, what: str) -> dict[str, Any]:
    data = loads_lenient(text, what)
    if not isinstance(data, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def parse_miner_conf(text: str) -> dict[str, Any]:
    """Parse ``get_miner_conf.cgi`` (the raw bmminer.conf) and refuse newer firmware.

    Why refuse: S17+/S19 firmware takes JSON bodies with other fields, so the S9
    positional form would corrupt its configuration.
    """
    conf = _object(text, "get_miner_conf.cgi")
    if NEWER_GENERATION_KEY in conf:
        raise DeviceRejected(
            "S17+/S19 firmware not supported yet (its configuration contains "
            f"'{NEWER_GENERATION_KEY}'); fleetform manages the stock S9 family"
        )
    return conf


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def conf_pools(conf: Mapping[str, Any]) -> list[dict[str, str]]:
    """The configured pools in the manifest's shape (``user``→``worker``, ``pass``→``password``).

    Why drop empty slots: the firmware always writes three, the manifest lists only used ones.
    """
    pools = conf.get("pools")
    if not isinstance(pools, list):
        return []
    return [
        {"url": _text(p.get("url")), "worker": _text(p.get("user")),
         "password": _text(p.get("pass"))}
        for p in pools
        if isinstance(p, dict) and _text(p.get("url"))
    ]


def _verbatim(value: Any) -> str | None:
    """A config value to re-send exactly as read (not stripped), ``None`` if absent."""
    return None if value is None else str(value)


def _flag(value: Any) -> str:
    return "true" if value is True or _text(value).lower() == "true" else "false"


def build_miner_conf_form(pools: Sequence[Mapping[str, str]], conf: Mapping[str, Any]) -> bytes:
    """The full positional ``set_miner_conf.cgi`` body for ``pools``.

    ``pools`` use the manifest's keys (``url``, ``worker``, ``password``) or
    bmminer.conf's (``url``, ``user``, ``pass``). Why everything: the CGI
    rewrites the whole file and blanks what it is not sent, so beeper,
    temperature control, fan, frequency and voltage are re-sent from the
    current ``conf``. Trailing values the config does not have are
    left out so the script keeps its own default (e.g. ``ant_voltage=0706``).
    """
    if len(pools) > 3:
        raise DeviceRejected(f"the S9 has 3 pool slots, {len(pools)} pools were given")
    values: list[str | None] = []
    for slot in range(3):
        pool = pools[slot] if slot < len(pools) else None
        values += [
            str(pool.get("url", "")), str(pool.get("worker", pool.get("user", ""))),
            str(pool.get("password", pool.get("pass", ""))),
        ] if pool else ["", "", ""]
    values += [
        _flag(conf.get("bitmain-nobeeper")),
        _flag(conf.get("bitmain-notempoverctrl")),
        _flag(conf.get("bitmain-fan-ctrl")),
        _verbatim(conf.get("bitmain-fan-pwm")) or "",
        _verbatim(conf.get("bitmain-freq")),
        _verbatim(conf.get("bitmain-voltage")),
    ]
    while values and values[-1] is None:
        values.pop()
    return encode_form(MINER_CONF_FIELDS, [v or "" for v in values])


def normalize_pool_url(url: str) -> str:
    """Canonical form for comparison: ``host:port`` ≡ ``stratum+tcp://host:port``.

    Why: bmminer reports every URL as ``stratum+tcp://…`` after a restart while
    the manifest and the config may omit the scheme; host names are case-insensitive.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "stratum+tcp", text
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


def align_pool_urls(
    desired: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``live`` pools with each URL spelled as in ``desired`` where both normalise equal.

    Why: the generic diff compares values literally; this keeps a scheme-less
    manifest URL from showing a change against the same pool spelled in full.
    """
    aligned = [dict(p) for p in live]
    for have, want in zip(aligned, desired, strict=False):
        url, wanted = have.get("url"), want.get("url")
        if isinstance(url, str) and isinstance(wanted, str) and (
            normalize_pool_url(url) == normalize_pool_url(wanted)
        ):
            have["url"] = wanted
    return aligned


def pools_difference(
    desired: Sequence[Mapping[str, str]], actual: Sequence[Mapping[str, str]]
) -> str | None:
    """Where ``actual`` pools differ from ``desired`` (URLs normalised), or ``None``.

    Why a path and no values: the difference may be a password.
    """
    if len(actual) != len(desired):
        return f"{len(actual)} pools configured, {len(desired)} expected"
    for index, (want, have) in enumerate(zip(desired, actual, strict=True)):
        if normalize_pool_url(want["url"]) != normalize_pool_url(have["url"]):
            return f"pools[{index}].url differs"
        for key in ("worker", "password"):
            if want[key] != have[key]:
                return f"pools[{index}].{key} differs"
    return None


@dataclass(frozen=True)
class SystemInfo:
    """The identity and firmware facts from ``get_system_info.cgi``.

    Why a type: the MAC identifies the machine across address changes, the
    rest are facts for the plan header; named fields keep the two apart.
    """

    mac: str
    model: str
    hostname: str
    firmware: str
    bmminer_version: str


def parse_system_info(text: str) -> SystemInfo:
    """Parse ``get_system_info.cgi``; the MAC is required because it identifies the miner."""
    data = _object(text, "get_system_info.cgi")
    mac = _text(data.get("macaddr")).upper()
    if not mac:
        raise ProtocolError("get_system_info.cgi: no 'macaddr' in the reply")
    return SystemInfo(
        mac=mac,
        model=_text(data.get("minertype")),
        hostname=_text(data.get("hostname")),
        firmware=_text(data.get("system_filesystem_version")),
        bmminer_version=_text(data.get("bmminer_version") or data.get("cgminer_version")),
    )


def _ip(value: str) -> ipaddress.IPv4Address | str:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        return value


def parse_network_info(text: str) -> dict[str, Any]:
    """The configured network as the manifest's ``network`` shape (``conf_*`` fields).

    Why IPv4Address objects: they compare equal to the manifest model's
    ``model_dump(mode="python")`` output, so an unchanged network plans no change.
    """
    data = _object(text, "get_network_info.cgi")
    mode = _text(data.get("conf_nettype") or data.get("nettype")).lower()
    hostname = _text(data.get("conf_hostname"))
    network: dict[str, Any]
    if mode == "static":
        network = {
            "mode": "static",
            "ip": _ip(_text(data.get("conf_ipaddress"))),
            "netmask": _ip(_text(data.get("conf_netmask"))),
            "gateway": _ip(_text(data.get("conf_gateway"))),
            "dns": [_ip(d) for d in re.split(r"[\s,]+", _text(data.get("conf_dnsservers"))) if d],
        }
    elif mode == "dhcp":
        network = {"mode": "dhcp"}
    else:
        raise ProtocolError(f"get_network_info.cgi: unknown conf_nettype {mode!r}")
    if hostname:
        network["hostname"] = hostname
    return network


def build_network_form(network: Mapping[str, Any], current_hostname: str) -> bytes:
    """The positional ``set_network_conf.cgi`` body (DHCP or Static).

    Why ``current_hostname``: the CGI rewrites the hostname too, so an unmanaged
    hostname is re-sent. DNS servers are space-separated on the device ('+' on the wire).
    """
    hostname = _text(network.get("hostname")) or current_hostname
    if network.get("mode") == "dhcp":
        values = ["DHCP", hostname, "", "", "", ""]
    else:
        dns = " ".join(str(d) for d in network.get("dns", []))
        values = ["Static", hostname, str(network["ip"]), str(network["netmask"]),
                  str(network["gateway"]), dns]
    return encode_form(NETWORK_CONF_FIELDS, values)


def build_passwd_query(current: str, new: str) -> str:
    """The ``passwd.cgi`` query string, every value fully percent-encoded.

    Why fully: the CGI splits the raw query on ``&`` and ``=`` before it
    URL-decodes each value, so only encoded separators survive.
    """
    def enc(value: str) -> str:
        return quote(value, safe="")
    return f"current_pw={enc(current)}&new_pw={enc(new)}&new_pw_ctrl={enc(new)}"


def judge_passwd_page(html: str) -> None:
    """Raise unless the ``passwd.cgi`` page says the password is being updated.

    Why text matching: the CGI answers 200 either way; only the message in the
    page tells success from failure. The firmware's own words are reported.
    """
    for failure in PASSWD_FAILURES:
        if failure.lower() in html.lower():
            invalid = failure == "Invalid Password"
            hint = " (the current password was not accepted)" if invalid else ""
            raise DeviceRejected(f"passwd.cgi refused the change: {failure}{hint}")
    if PASSWD_SUCCESS.lower() not in html.lower():
        raise ProtocolError("passwd.cgi answered a page without a known result text")


def excerpt(text: str, secrets: Sequence[str] = (), limit: int = 80) -> str:
    """A short, tag-free piece of a reply with ``secrets`` masked.

    Why: an unexpected reply is best explained by quoting it, but never a password.
    """
    plain = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    for secret in secrets:
        if secret:
            plain = plain.replace(secret, "***")
    return plain[:limit] + ("…" if len(plain) > limit else "")


# --- RPC API (TCP 4028) -------------------------------------------------------------

WARN_PCB_TEMP = 75.0
CRITICAL_PCB_TEMP = 80.0


def encode_rpc_command(command: str, parameter: str | None = None) -> bytes:
    """One RPC request; ``command`` may join several with ``+`` (``summary+pools``).

    Why joined: one connection answers several commands, one round trip per status.
    """
    request: dict[str, str] = {"command": command}
    if parameter is not None:
        request["parameter"] = parameter
    return json.dumps(request, separators=(",", ":")).encode("ascii")


def _check_status(reply: Mapping[str, Any], command: str) -> None:
    status = reply.get("STATUS")
    entry = status[0] if isinstance(status, list) and status else status
    if not isinstance(entry, dict):
        raise ProtocolError(f"RPC {command}: reply has no STATUS")
    if entry.get("STATUS") not in ("E", "F"):
        return
    code, msg = entry.get("Code"), _text(entry.get("Msg")) or "error"
    if code == 45:
        raise DeviceRejected(
            f"RPC {command}: {msg} (code 45: the API gives this host read-only access; "
            "fleetform writes through the web CGI)"
        )
    if code == 14:
        raise ProtocolError(f"RPC {command}: {msg} (code 14: this firmware lacks the command)")
    raise DeviceRejected(f"RPC {command}: {msg} (code {code})")


def decode_rpc_reply(raw: bytes, command: str) -> dict[str, dict[str, Any]]:
    """Decode one reply into ``{command: reply}``, splitting joined commands.

    Why: every reply ends with NUL, ``stats`` glues objects as ``}{`` and a
    joined ``summary+pools`` answers ``{"summary":[{…}],"pools":[{…}]}``; STATUS
    ``E`` becomes an error carrying the firmware's Code and Msg.
    """
    text = raw.rstrip(b"\x00").decode("utf-8", errors="replace")
    reply = _object(text, f"RPC {command}")
    parts = command.split("+")
    if len(parts) == 1:
        _check_status(reply, command)
        return {command: reply}
    split: dict[str, dict[str, Any]] = {}
    for part in parts:
        inner = reply.get(part)
        if isinstance(inner, list) and inner and isinstance(inner[0], dict):
            inner = inner[0]
        if not isinstance(inner, dict):
            if "STATUS" in reply:
                _check_status(reply, command)
            raise ProtocolError(f"RPC {command}: no '{part}' part in the joined reply")
        _check_status(inner, part)
        split[part] = inner
    return split


def number(value: Any, what: str = "value") -> float:
    """A float from an RPC number or numeric string (``"GHS 5s": "13507.92"``).

    Why: bmminer prints some figures as strings and leaves empty ones as ``""``.
    """
    if value is None or value == "":
        return 0.0
    try:
        return float(str(value).replace(",", ""))
    except ValueError as exc:
        raise ProtocolError(f"RPC: {what} is not a number") from exc


def parse_summary(reply: Mapping[str, Any]) -> dict[str, float]:
    """Hash rates in GH/s from a ``summary`` reply (5 s and average).

    Why both: 5 s shows a miner that just stopped, the average one that is weak.
    """
    rows = reply.get("SUMMARY") or [{}]
    row = rows[0] if isinstance(rows, list) and isinstance(rows[0], dict) else {}
    return {"hashrate_5s_ghs": number(row.get("GHS 5s"), "GHS 5s"),
            "hashrate_avg_ghs": number(row.get("GHS av"), "GHS av")}


def parse_rpc_pools(reply: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pools from a ``pools`` reply, by priority; empty slots left out.

    Why: RPC is the only source of each pool's Alive/Dead status, and the proof
    that bmminer restarted with the new pools (it never shows passwords).
    """
    rows = [r for r in reply.get("POOLS") or [] if isinstance(r, dict) and _text(r.get("URL"))]
    rows.sort(key=lambda r: (number(r.get("Priority")), number(r.get("POOL"))))
    return [{"url": _text(r.get("URL")), "user": _text(r.get("User")),
             "status": _text(r.get("Status")), "priority": int(number(r.get("Priority")))}
            for r in rows]


def rpc_pools_match(
    desired: Sequence[Mapping[str, Any]], seen: Sequence[Mapping[str, Any]]
) -> bool:
    """True if RPC shows the desired URLs (normalised) and workers, in order.

    Why not passwords: RPC never returns them; the config read-back checks those.
    """
    return len(desired) == len(seen) and all(
        normalize_pool_url(str(want["url"])) == normalize_pool_url(str(have["url"]))
        and want["worker"] == have["user"]
        for want, have in zip(desired, seen, strict=True)
    )


def parse_stats(reply: Mapping[str, Any]) -> dict[str, Any]:
    """Per-chain PCB/chip temperatures and fans from a (repaired) ``stats`` reply.

    Why generic over chains 1..16: the S9 reports chains 6-8 (``temp6``,
    ``temp2_6``, ``chain_acn6``) while other models use 1-3; a chain counts when
    it has ASICs or, without ``chain_acn``, any non-zero temperature.
    """
    merged: dict[str, Any] = {}
    for entry in reply.get("STATS") or []:
        if isinstance(entry, dict):
            merged.update(entry)
    chains: list[dict[str, Any]] = []
    for index in range(1, 17):
        pcb, chip = number(merged.get(f"temp{index}")), number(merged.get(f"temp2_{index}"))
        asics = number(merged.get(f"chain_acn{index}"))
        present = asics > 0 if f"chain_acn{index}" in merged else (pcb > 0 or chip > 0)
        if present:
            rate = number(merged.get(f"chain_rate{index}"))
            chains.append({"chain": index, "pcb_temp": pcb, "chip_temp": chip,
                           "asics": int(asics), "rate_ghs": rate})
    fans = [{"fan": index, "rpm": int(number(merged.get(f"fan{index}")))}
            for index in range(1, 17) if number(merged.get(f"fan{index}")) > 0]
    return {"type": _text(merged.get("Type")), "chains": chains, "fans": fans}


def parse_version(reply: Mapping[str, Any]) -> dict[str, str]:
    """API, miner and bmminer versions from a ``version`` reply.

    Why: the web CGIs do not report the API version, which tells firmware builds apart.
    """
    rows = reply.get("VERSION") or [{}]
    row = rows[0] if isinstance(rows, list) and isinstance(rows[0], dict) else {}
    return {"api_version": _text(row.get("API")), "miner_version": _text(row.get("Miner")),
            "bmminer": _text(row.get("BMMiner") or row.get("CGMiner")),
            "type": _text(row.get("Type"))}


def temperature_warnings(chains: Sequence[Mapping[str, Any]]) -> tuple[list[str], bool]:
    """Warnings for hot chains and whether any is critical.

    Why these numbers: the firmware stops mining when a PCB reaches 80 °C
    (S9 Hydro guide); 75 °C leaves time to act before that.
    """
    warnings: list[str] = []
    critical = False
    for chain in chains:
        temp = float(chain["pcb_temp"])
        if temp >= CRITICAL_PCB_TEMP:
            critical = True
            warnings.append(
                f"chain {chain['chain']}: PCB {temp:g} °C, at the 80 °C shutdown: the firmware "
                "stops mining (\"Fatal Error: Temperature is too high!\")"
            )
        elif temp >= WARN_PCB_TEMP:
            warnings.append(
                f"chain {chain['chain']}: PCB {temp:g} °C, approaching the 80 °C shutdown"
            )
    return warnings, critical
