"""Simulated Antminer web server: HTTP/1.1, Digest auth and the stock shell CGIs.

Why hand-written: the point is to reproduce what lighttpd and Bitmain's CGI
scripts really do (bitmaintech/Antminer_firmware, lighttpd recipe): Digest on
every path, set_*_conf.cgi parsing the form *by position* with only some %XX
substitutions, config files written without escaping, passwd.cgi answering
in HTML text only. A framework would "fix" exactly the quirks fleetform must
survive, and must not add a thread per connection (1,000+ miners per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from fleetform.providers.antminer.sim_rpc import parse_conf, pools, stats, summary

if TYPE_CHECKING:
    from fleetform.providers.antminer.simulator import MinerRuntime

REALM = "antMiner Configuration"
SERVER = "lighttpd/1.4.32"
REJECT_BODY = "error"
MINER_FORM = (*(f"_ant_pool{i}{k}" for i in (1, 2, 3) for k in ("url", "user", "pw")),
              "_ant_nobeeper", "_ant_notempoverctrl", "_ant_fan_customize_switch",
              "_ant_fan_customize_value", "_ant_freq", "_ant_voltage")
NETWORK_FORM = tuple(f"_ant_conf_{k}" for k in
                     ("nettype", "hostname", "ipaddress", "netmask", "gateway", "dnsservers"))
# set_*_conf.cgi: "+" first, then exactly these, in this order; %22 %5C %20 %21 ... stay encoded.
_SUBSTITUTIONS = (("+", " "), ("%23", "#"), ("%24", "$"), ("%25", "%"), ("%26", "&"),
                  ("%2C", ","), ("%2B", "+"), ("%3A", ":"), ("%3B", ";"), ("%3C", "<"),
                  ("%3D", "="), ("%3E", ">"), ("%3F", "?"), ("%40", "@"), ("%5B", "["),
                  ("%5D", "]"), ("%5E", "^"), ("%7B", "{"), ("%7C", "|"), ("%7D", "}"),
                  ("%2F", "/"))
_STATUS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           411: "Length Required"}
_AUTH_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_ERROR_PAGE = """<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{0}</title>
 </head>
 <body>
  <h1>{0}</h1>
 </body>
</html>
"""


def md5(text: str) -> str:
    """Hex MD5 of UTF-8 text (RFC 2617 H())."""
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the protocol mandates MD5


def ha1(user: str, password: str) -> str:
    """The htdigest hash lighttpd stores: md5(user:realm:password)."""
    return md5(f"{user}:{REALM}:{password}")


def parse_positional(body: str, names: Sequence[str]) -> list[str]:
    """Parse a form exactly like set_miner_conf.cgi / set_network_conf.cgi.

    ``&`` becomes a space and the result is word-split (space, tab, newline), so
    empty words vanish; word *i* fills slot *i* whatever its name, minus the first
    occurrence of ``<name_i>=``; slots without a word stay empty.
    """
    words = [w for w in re.split(r"[ \t\n]+", body.replace("&", " ")) if w]
    values = [""] * len(names)
    for i, word in enumerate(words[: len(names)]):
        for old, new in _SUBSTITUTIONS:
            word = word.replace(old, new)
        values[i] = word.replace(f"{names[i]}=", "", 1)
    return values


def render_miner_conf(v: Sequence[str], *, factory: bool = False) -> str:
    """bmminer.conf as the CGI echoes it: unescaped values, stray newline before ``,``.

    ``v`` is in MINER_FORM order. Fan keys appear only when the switch is "true",
    except in the factory file, which always carries them.
    """
    lines = ["{", '"pools" : [']
    for i in range(3):
        lines += ["{", f'"url" : "{v[3 * i]}",', f'"user" : "{v[3 * i + 1]}",',
                  f'"pass" : "{v[3 * i + 2]}"', "}," if i < 2 else "}"]
    lines += ["]", ",", '"api-listen" : true,', '"api-network" : true,',
              '"api-groups" : "A:stats:pools:devs:summary:version:noncenum",',
              '"api-allow" : "A:0/0,W:*",']
    if v[9] == "true":
        lines.append('"bitmain-nobeeper" : true,')
    if v[10] == "true":
        lines.append('"bitmain-notempoverctrl" : true,')
    if v[11] == "true" or factory:
        lines += [f'"bitmain-fan-ctrl" : {"true" if v[11] == "true" else "false"},',
                  f'"bitmain-fan-pwm" : "{v[12]}",']
    lines += ['"bitmain-use-vil" : true,', f'"bitmain-freq" : "{v[13]}",',
              f'"bitmain-voltage" : "{v[14]}",', '"multi-version" : "1"', "}"]
    return "\n".join(lines) + "\n"


def pool_fields(pools: Sequence[dict[str, str]]) -> list[str]:
    """Up to three pools as the nine url/user/pass form slots (missing ones empty).

    Accepts bmminer.conf keys (``user``/``pass``) or the manifest's (``worker``/``password``).
    """
    if len(pools) > 3:
        raise ValueError(f"an S9 has 3 pool slots, got {len(pools)} pools")
    out: list[str] = []
    for p in [*pools, {}, {}, {}][:3]:
        out += [p.get("url", ""), p.get("user", p.get("worker", "")),
                p.get("pass", p.get("password", ""))]
    return out


def form_values(conf_text: str) -> list[str]:
    """The 15 MINER_FORM values that reproduce a bmminer.conf (a web-UI "Save&Apply")."""
    conf = parse_conf(conf_text) or {}
    raw = conf.get("pools")
    pools = [{k: str(v) for k, v in p.items()} for p in raw if isinstance(p, dict)] \
        if isinstance(raw, list) else []
    flag = {True: "true", False: ""}
    return [*pool_fields(pools[:3]), flag[conf.get("bitmain-nobeeper") is True],
            flag[conf.get("bitmain-notempoverctrl") is True],
            "true" if conf.get("bitmain-fan-ctrl") is True else "false",
            *(str(conf.get(k, "")) for k in ("bitmain-fan-pwm", "bitmain-freq", "bitmain-voltage"))]


def render_network_conf(v: Sequence[str]) -> str:
    """network.conf as set_network_conf.cgi writes it (NETWORK_FORM order)."""
    if v[0] == "DHCP":
        return f"dhcp=true\nhostname={v[1]}\n"
    return (f"hostname={v[1]}\nipaddress={v[2]}\nnetmask={v[3]}\ngateway={v[4]}\n"
            f'dnsservers="{v[5]}"\n')


def read_network_conf(text: str) -> dict[str, str]:
    """Read network.conf like get_network_info.cgi: ``grep key`` then strip ``key=``."""
    def grep(key: str) -> str:
        found = "\n".join(line for line in text.splitlines() if key in line)
        return found.replace(f"{key}=", "", 1)

    return {"nettype": "DHCP" if grep("dhcp") == "true" else "Static",
            "hostname": grep("hostname"), "ipaddress": grep("ipaddress"),
            "netmask": grep("netmask"), "gateway": grep("gateway"),
            "dnsservers": grep("dnsservers").replace('"', "")}


def _ifs_split(text: str, sep: str) -> list[str]:
    """POSIX field splitting with one non-blank IFS character (passwd.cgi's ``set --``)."""
    if not text:
        return []
    parts = text.split(sep)
    return parts[:-1] if parts[-1] == "" else parts


def passwd(query: str, user: str, current_ha1: str) -> tuple[str, str | None]:
    """passwd.cgi: (message shown, new password or None).

    Faithful holes: only fields present are checked, so a query without
    ``current_pw`` (or an empty query) passes, and an empty query sets "".
    """
    error, invalid, new_pw, new_ctrl = False, "", "", ""
    for item in _ifs_split(query, "&"):
        name, value = ([*_ifs_split(item, "="), "", ""])[:2]
        if value == "":  # "all fields are mandatory": only the ones present, though
            error, invalid = True, name
            break
        if name == "current_pw":
            typed = f"root:{REALM}:{ha1('root', unquote_plus(value))}"
            if typed != f"{user}:{REALM}:{current_ha1}":
                error, invalid = True, name
                break
        if name == "new_pw":
            new_pw = unquote_plus(value)
            error = error or new_pw == ""
        if name == "new_pw_ctrl":
            new_ctrl = unquote_plus(value)
            error = error or new_ctrl == ""
    error = error or new_pw != new_ctrl
    if not error:
        return "Updating Password", new_pw
    if invalid == "current_pw":
        return "Invalid Password", None
    if new_pw == "" or new_ctrl == "":
        return "New Password must be set", None
    return "New Password does not match", None


def echo_json(pairs: Sequence[tuple[str, str]]) -> str:
    """JSON the way the CGIs ``echo`` it: one key per line, values not escaped."""
    return "{\n" + ",\n".join(f'"{k}":"{v}"' for k, v in pairs) + "\n}\n"


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The raw query string (QUERY_STRING)."""
        return self.target.partition("?")[2]


@dataclass
class Response:
    """One HTTP response; ``after`` runs once it has been sent (reboot, new IP)."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], Coroutine[Any, Any, None]] | None = None


def make_nonce(secret: bytes, stamp: str | None = None) -> str:
    """A stateless nonce: hex time plus a keyed hash, 32 hex digits like lighttpd's."""
    stamp = stamp or f"{int(time.time()):08x}"
    return stamp + hmac.new(secret, stamp.encode(), "md5").hexdigest()[:24]


def check_digest(header: str, req: Request, user: str, stored_ha1: str, secret: bytes) -> bool:
    """Verify an RFC 2617 Digest ``Authorization`` header (MD5, qop auth or none)."""
    if not header.lower().startswith("digest "):
        return False
    p = {m[0].lower(): m[1] if m[1] or not m[2] else m[2] for m in _AUTH_PARAM.findall(header)}
    nonce = p.get("nonce", "")
    if (p.get("username") != user or p.get("realm") != REALM or len(nonce) != 32
            or not hmac.compare_digest(nonce, make_nonce(secret, nonce[:8]))
            or p.get("uri") != req.target or p.get("algorithm", "MD5").upper() != "MD5"):
        return False
    ha2 = md5(f"{req.method}:{req.target}")
    if "qop" in p:
        if p["qop"] != "auth":
            return False
        expected = md5(f"{stored_ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
    else:
        expected = md5(f"{stored_ha1}:{nonce}:{ha2}")
    return hmac.compare_digest(expected, p.get("response", ""))


async def _get_system_info(rt: MinerRuntime, req: Request) -> Response:
    conf, (nettype, ip, mask) = read_network_conf(rt.network_conf_text), rt.live_network()
    up = int(time.monotonic() - rt.booted_at)
    return Response(body=echo_json([
        ("minertype", rt.model), ("nettype", nettype), ("netdevice", "eth0"),
        ("macaddr", rt.mac), ("hostname", conf["hostname"] or "antMiner"), ("ipaddress", ip),
        ("netmask", mask), ("gateway", conf["gateway"]), ("dnsservers", conf["dnsservers"]),
        ("curtime", time.strftime("%H:%M:%S")), ("uptime", str(up)),
        ("loadaverage", "0.21, 0.18, 0.12"), ("cpu_usage", "3%"), ("mem_total", "1030800"),
        ("mem_used", "241760"), ("mem_free", "789040"), ("mem_buffers", "0"),
        ("mem_cached", "0"), ("system_mode", "GNU/Linux"),
        ("ant_hwv", rt.profile.miner_version),
        ("system_kernel_version",
         "Linux 3.14.0-xilinx-ge8a2f71-dirty #82 SMP PREEMPT Tue May 16 19:49:53 CST 2017"),
        ("system_filesystem_version", rt.profile.compile_time), ("bmminer_version", "2.0.0"),
    ]))


async def _get_network_info(rt: MinerRuntime, req: Request) -> Response:
    conf, (nettype, ip, mask) = read_network_conf(rt.network_conf_text), rt.live_network()
    return Response(body=echo_json([
        ("nettype", nettype), ("netdevice", "eth0"), ("macaddr", rt.mac), ("ipaddress", ip),
        ("netmask", mask), ("conf_nettype", nettype), ("conf_hostname", conf["hostname"]),
        ("conf_ipaddress", conf["ipaddress"]), ("conf_netmask", conf["netmask"]),
        ("conf_gateway", conf["gateway"]), ("conf_dnsservers", conf["dnsservers"]),
    ]))


async def _get_miner_conf(rt: MinerRuntime, req: Request) -> Response:
    return Response(body=rt.miner_conf_text)


class Dropped(Exception):
    """Close the connection without an answer (fault injection: reboot, lost reply)."""


async def _set_miner_conf(rt: MinerRuntime, req: Request) -> Response:
    if rt.faults.reject_writes:
        return Response(body=REJECT_BODY)
    if rt.faults.reboot_on_write > 0:  # power cut before the CGI saved anything
        rt.faults.reboot_on_write -= 1
        rt.spawn(rt.reboot())
        raise Dropped
    if rt.conf_locked:  # later builds: lock file held -> wait for it, answer nothing
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rt.lock_released.wait(), 30)
        return Response(body="")
    rt.conf_locked = True
    rt.lock_released.clear()
    try:
        if rt.faults.ignore_writes:
            await asyncio.sleep(rt.faults.restart_delay)
        else:
            body = req.body.decode("utf-8", "replace")
            rt.miner_conf_text = render_miner_conf(parse_positional(body, MINER_FORM))
            await rt.restart_bmminer()
    finally:
        rt.conf_locked = False
        rt.lock_released.set()
    if rt.faults.late_reply > 0:  # the change took effect; the answer comes too late
        await asyncio.sleep(rt.faults.late_reply)
    return Response(body="ok\n")


async def _set_network_conf(rt: MinerRuntime, req: Request) -> Response:
    if rt.faults.reject_writes:
        return Response(body=REJECT_BODY)
    values = parse_positional(req.body.decode("utf-8", "replace"), NETWORK_FORM)
    if not rt.faults.ignore_writes:
        rt.network_conf_text = render_network_conf(values)
    await asyncio.sleep(rt.faults.network_delay)
    return Response(body="ok\n", after=None if rt.faults.ignore_writes else rt.apply_network)


async def _passwd(rt: MinerRuntime, req: Request) -> Response:
    message, new = passwd(req.query, rt.user, rt.ha1)
    if new is not None:
        rt.set_password(new, user="root")  # the CGI rewrites the htdigest line for root
    page = ('<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; '
            f'charset=utf-8" />\n<title>Antminer</title>\n</head>\n<body>\n<h2>{message}</h2>\n'
            "</body>\n</html>\n")
    return Response(body=page, content_type="text/html")


async def _reboot(rt: MinerRuntime, req: Request) -> Response:
    return Response(body="", after=rt.reboot)


async def _get_kernel_log(rt: MinerRuntime, req: Request) -> Response:
    log = "Booting Linux on physical CPU 0x0\nLinux version 3.14.0-xilinx-ge8a2f71-dirty\n"
    if rt.bm.overheated:
        log += "Fatal Error: Temperature is too high!\n"
    return Response(body=log)


def _strs(entry: dict[str, object], keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Values as ``cgminer-api -o`` prints them, which is what the CGI copies."""
    def text(value: object) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return [(k, text(entry.get(src, ""))) for k, src in keys]


_SUMMARY_KEYS = tuple((k, s) for k, s in (
    ("elapsed", "Elapsed"), ("ghs5s", "GHS 5s"), ("ghsav", "GHS av"),
    ("foundblocks", "Found Blocks"), ("getworks", "Getworks"), ("accepted", "Accepted"),
    ("rejected", "Rejected"), ("hw", "Hardware Errors"), ("utility", "Utility"),
    ("discarded", "Discarded"), ("stale", "Stale"), ("localwork", "Local Work"),
    ("wu", "Work Utility"), ("diffa", "Difficulty Accepted"),
    ("diffr", "Difficulty Rejected"), ("diffs", "Difficulty Stale"), ("bestshare", "Best Share")))
_POOL_KEYS = (("index", "POOL"), ("url", "URL"), ("user", "User"), ("status", "Status"),
              ("priority", "Priority"), ("getworks", "Getworks"), ("accepted", "Accepted"),
              ("rejected", "Rejected"), ("discarded", "Discarded"), ("stale", "Stale"),
              ("diff", "Diff"), ("diff1", "Diff1 Shares"), ("diffa", "Difficulty Accepted"),
              ("diffr", "Difficulty Rejected"), ("diffs", "Difficulty Stale"),
              ("lsdiff", "Last Share Difficulty"), ("lstime", "Last Share Time"))


async def _get_miner_status(rt: MinerRuntime, req: Request) -> Response:
    """Like the CGI: ask the RPC; if it is down, zeros (and an unset ``diffs``)."""
    now = time.monotonic()
    if rt.rpc_listening:
        summ = _strs(summary(rt.bm, now).entries[0], _SUMMARY_KEYS)
        pool_list = [_strs(e, _POOL_KEYS) for e in pools(rt.bm, now).entries]
        s = stats(rt.bm, now).entries[1]
        dev_list = [[("index", str(c)), ("chain_acn", str(s[f"chain_acn{c}"])),
                     ("freq", str(s["frequency"])), ("fan", str(s.get(f"fan{c}", ""))),
                     ("temp", str(s[f"temp{c}"])), ("temp2", str(s[f"temp2_{c}"])),
                     ("chain_acs", str(s[f"chain_acs{c}"])),
                     ("chain_rate", str(s[f"chain_rate{c}"]))] for c in rt.profile.chains]
    else:
        summ = [(k, "" if k == "diffs" else "0") for k, _ in _SUMMARY_KEYS]
        pool_list, dev_list = [], []

    def block(pairs: list[tuple[str, str]]) -> str:
        return "{\n" + ",\n".join(f'"{k}":"{v}"' for k, v in pairs) + "\n}"

    body = ('{\n"summary": ' + block(summ) + ',\n"pools": [\n'
            + "\n,\n".join(block(p) for p in pool_list) + '\n],\n"devs": [\n'
            + "\n,\n".join(block(d) for d in dev_list) + "\n]\n}\n")
    return Response(body=body)


ROUTES: dict[str, Callable[[MinerRuntime, Request], Awaitable[Response]]] = {
    "/cgi-bin/get_system_info.cgi": _get_system_info,
    "/cgi-bin/get_network_info.cgi": _get_network_info,
    "/cgi-bin/get_miner_conf.cgi": _get_miner_conf,
    "/cgi-bin/set_miner_conf.cgi": _set_miner_conf,
    "/cgi-bin/set_network_conf.cgi": _set_network_conf,
    "/cgi-bin/passwd.cgi": _passwd,
    "/cgi-bin/reboot.cgi": _reboot,
    "/cgi-bin/get_miner_status.cgi": _get_miner_status,
    "/cgi-bin/get_kernel_log.cgi": _get_kernel_log,
}


async def _read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Request(parts[0], parts[1], headers | {":chunked": "1"}, b"")
    length = int(headers.get("content-length", "0") or "0")
    if length and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await reader.readexactly(length) if length > 0 else b""
    return Request(parts[0], parts[1], headers, body)


def _error(status: int) -> Response:
    return Response(status, _ERROR_PAGE.format(f"{status} - {_STATUS[status]}"), "text/html")


def _challenge(rt: MinerRuntime) -> Response:
    resp = _error(401)
    resp.headers["WWW-Authenticate"] = (
        f'Digest realm="{REALM}", nonce="{make_nonce(rt.secret)}", qop="auth"')
    return resp


def _take_fault(rt: MinerRuntime, req: Request | None) -> str | None:
    """Which injected fault (``drop``, ``empty``, ``auth``) hits this request, if any."""
    faults = rt.faults
    targeted = req is not None and faults.target in req.path
    for kind in ("drop", "empty", "auth_fail"):
        left = getattr(faults, f"{kind}_next")
        if left > 0 and targeted:
            setattr(faults, f"{kind}_next", left - 1)
            return kind
    if faults.drop_rate > 0 and rt.rng.random() < faults.drop_rate:
        return "drop"
    return None


async def _answer(rt: MinerRuntime, req: Request | None) -> Response:
    """The response to one request, after the counted faults had their say."""
    if req is not None:
        rt.http_log.append(f"{req.method} {req.path}")
    fault = _take_fault(rt, req)
    if fault == "drop":
        raise Dropped
    if fault == "empty":
        return Response(body="")
    if fault == "auth_fail":
        return _challenge(rt)
    return await _respond(rt, req)


async def _respond(rt: MinerRuntime, req: Request | None) -> Response:
    if req is None:
        return _error(400)
    if not check_digest(req.headers.get("authorization", ""), req, rt.user, rt.ha1, rt.secret):
        return _challenge(rt)
    if ":chunked" in req.headers:
        return _error(411)
    handler = ROUTES.get(req.path)
    return await handler(rt, req) if handler else _error(404)


async def serve_http(rt: MinerRuntime, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
    """One HTTP connection: one request, one response, ``Connection: close``."""
    resp: Response | None = None
    try:
        if rt.faults.hang:
            await rt.wait_unhang()
            return
        try:
            req = await asyncio.wait_for(_read(reader, writer), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            req = None
        resp = await _answer(rt, req)
        delay = rt.faults.http_latency + (
            rt.rng.uniform(0, rt.faults.http_jitter) if rt.faults.http_jitter > 0 else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        body = resp.body.encode("utf-8")
        head = [f"HTTP/1.1 {resp.status} {_STATUS[resp.status]}",
                f"Content-Type: {resp.content_type}", f"Content-Length: {len(body)}",
                f"Date: {formatdate(usegmt=True)}", f"Server: {SERVER}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in resp.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
    except (ConnectionError, TimeoutError, Dropped):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if resp is not None and resp.after is not None:
            rt.spawn(resp.after())
