"""Simulated bmminer: hashrate model and the cgminer-style RPC API on TCP 4028.

Why a module of its own: the RPC protocol (one request, one reply ending in a
NUL byte, then close; ``cmd+cmd`` joins; the ``}{`` stats quirk; code 45 for
privileged commands) and the numbers behind it are what fleetform's reader and
drift detection are tested against, and ``get_miner_status.cgi`` reuses them just
as the real CGI shells out to ``cgminer-api``. Sources: docs/protocols.md §1,
delawr0190/foreman-apps fixtures (reply shapes, number formats), cgminer api.c.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetform.providers.antminer.simulator import MinerRuntime

DESCRIPTION = "bmminer 1.0.0"
SHARE_GH = 65536 * 2**32 / 1e9  # GH behind one share at difficulty 65536 (the seed's "65.5K")
PRIVILEGED = frozenset((
    "addpool", "switchpool", "removepool", "enablepool", "disablepool", "poolpriority",
    "poolquota", "save", "quit", "restart", "privileged", "failover-only", "setconfig", "debug",
    "zero", "hotplug", "lockstats", "pgaenable", "pgadisable", "pgaidentify", "pgaset",
    "ascenable", "ascdisable", "ascidentify", "ascset"))
_URL = re.compile(r"^(?:[a-z0-9+]+://)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5}$")


class Raw(str):
    """A JSON token written verbatim, e.g. ``0.000000``.

    Why: cgminer prints floats with fixed decimals (``"GHS av":13500.12``,
    ``"Difficulty Accepted":21504.00000000``); ``json.dumps`` cannot.
    """


def encode(value: object) -> str:
    """Encode ``value`` as compact JSON the way cgminer's api.c prints it."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def text_value(value: object) -> str:
    """Render one value for cgminer's plain-text (non-JSON) reply mode."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    for ch in "\\,|=":
        text = text.replace(ch, "\\" + ch)
    return text


@dataclass(frozen=True)
class MinerProfile:
    """Hardware figures of one model: chains, chips, fans, firmware strings.

    Why: the S9 (chains 6-8, 63 chips, ~13.5 TH/s, protocols.md) and the S9 Hydro
    (12 boards of 18 chips, 18 TH/s, 6 fans: seed status page) differ only in data.
    """

    chains: tuple[int, ...]
    asics: int
    ghs_per_chain: float
    fans: tuple[tuple[int, int], ...]
    freq: str
    compile_time: str
    miner_version: str


PROFILES: dict[str, MinerProfile] = {
    "Antminer S9": MinerProfile(
        (6, 7, 8), 63, 4500.0, ((5, 4920), (6, 5880)), "650",
        "Fri Nov 17 17:37:49 CST 2017", "16.8.1.3",
    ),
    "Antminer S9 Hydro": MinerProfile(
        (2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14), 18, 1500.0,
        ((1, 2280), (2, 2280), (3, 2280), (4, 2280), (5, 1320), (6, 2280)), "750",
        "Mon Aug 20 15:39:45 CST 2018", "16.8.1.3",
    ),
}


def profile_for(model: str) -> MinerProfile:
    """Profile for ``model``; unknown S9 variants (S9i, S9j, ...) behave as the S9."""
    return PROFILES.get(model, PROFILES["Antminer S9"])


def parse_conf(text: str) -> dict[str, object] | None:
    """bmminer's reading of its config file; ``None`` if unparsable (bmminer exits)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def normalise_url(url: str) -> str:
    """bmminer shows a scheme-less pool URL as ``stratum+tcp://host:port`` (protocols.md)."""
    return url if not url or "://" in url else "stratum+tcp://" + url


class Bmminer:
    """State of the bmminer process: loaded config, uptime, temperatures, hashes.

    Why: restarts reset elapsed time and hashrate (which then ramps), and a PCB at
    80 °C stops hashing until the next start ("Fatal Error: Temperature is too
    high!", seed §7); the RPC and status CGI read these figures.
    """

    def __init__(self, model: str, profile: MinerProfile, pcb: float, ramp: float) -> None:
        self.model, self.profile, self.ramp = model, profile, max(ramp, 1e-6)
        self.pcb: dict[int, float] = {c: pcb for c in profile.chains}
        self.conf: dict[str, object] = {}
        self.running = self.overheated = False
        self.started_at = self._acc = 0.0
        self._segment: float | None = None

    @property
    def nominal(self) -> float:
        """Full-speed hashrate in GH/s."""
        return self.profile.ghs_per_chain * len(self.profile.chains)

    def start(self, conf: dict[str, object] | None, now: float, elapsed: float = 0.0) -> None:
        """Start with a parsed config; ``None`` (unparsable file) means bmminer exits."""
        self.running = conf is not None
        if conf is not None:
            self.conf, self.started_at, self._acc = conf, now - elapsed, 0.0
            self.overheated = max(self.pcb.values()) >= 80
            self._segment = None if self.overheated else 0.0

    def set_pcb(self, celsius: float, chain: int | None, now: float) -> None:
        """Change PCB temperature(s); reaching 80 °C stops hashing (latched)."""
        for c in self.pcb:
            if chain is None or c == chain:
                self.pcb[c] = celsius
        if self.running and not self.overheated and max(self.pcb.values()) >= 80:
            self._acc = self.hashed(now)
            self._segment, self.overheated = None, True

    def elapsed(self, now: float) -> float:
        """Seconds since bmminer started."""
        return max(0.0, now - self.started_at)

    def _integral(self, t: float) -> float:
        r = self.ramp
        return self.nominal * (t * t / (2 * r) if t < r else t - r / 2)

    def hashed(self, now: float) -> float:
        """GH hashed since start (ramp from zero, nothing while overheated)."""
        if self._segment is None:
            return self._acc
        return self._acc + self._integral(self.elapsed(now)) - self._integral(self._segment)

    def chain_rates(self, now: float) -> dict[int, float]:
        """Current GH/s per chain, with the small jitter a real board shows."""
        if not self.running or self._segment is None:
            return {c: 0.0 for c in self.profile.chains}
        factor = min(1.0, self.elapsed(now) / self.ramp)
        per = self.profile.ghs_per_chain * factor
        return {c: per * random.uniform(0.99, 1.01) for c in self.profile.chains}

    def freq(self) -> str:
        """The configured frequency, or the model default when the file has none."""
        value = self.conf.get("bitmain-freq")
        return value if isinstance(value, str) and value.strip() else self.profile.freq

    def pools(self) -> list[dict[str, str]]:
        """Pools from the loaded config, tolerating any shape the file has."""
        raw = self.conf.get("pools")
        out: list[dict[str, str]] = []
        for p in raw if isinstance(raw, list) else []:
            d = p if isinstance(p, dict) else {}
            out.append({k: str(d.get(k, "")) for k in ("url", "user", "pass")})
        return out


@dataclass
class Reply:
    """One command's reply; rendered as JSON or as cgminer's plain-text form."""

    code: int
    msg: str
    section: str | None = None
    entries: tuple[dict[str, object], ...] = ()
    header: bool = False  # plain text: "SUMMARY,Elapsed=..." rather than "POOL=0,..."
    severity: str = "S"
    stats_quirk: bool = False

    def status(self) -> dict[str, object]:
        """The STATUS object every reply starts with."""
        return {"STATUS": self.severity, "When": int(time.time()), "Code": self.code,
                "Msg": self.msg, "Description": DESCRIPTION}

    def json(self) -> str:
        """JSON text; for stats the first two objects lack a comma (protocols.md)."""
        parts = [f'"STATUS":[{encode(self.status())}]']
        if self.section is not None:
            items = [encode(e) for e in self.entries]
            if self.stats_quirk and len(items) >= 2:
                items = [items[0] + items[1], *items[2:]]
            parts.append(f'"{self.section}":[{",".join(items)}]')
        return "{" + ",".join([*parts, '"id":1']) + "}"

    def text(self) -> str:
        """cgminer's non-JSON reply: ``KEY=value,...|`` sections."""
        def obj(d: dict[str, object]) -> str:
            return ",".join(f"{k}={text_value(v)}" for k, v in d.items())

        out = obj(self.status()) + "|"
        for e in self.entries:
            out += (f"{self.section}," if self.header else "") + obj(e) + "|"
        return out


def _f(value: float, places: int) -> Raw:
    return Raw(f"{value:.{places}f}")


def _counts(bm: Bmminer, now: float) -> dict[str, int]:
    hashed, el = bm.hashed(now), int(bm.elapsed(now))
    acc = int(hashed / SHARE_GH)
    return {"el": el, "acc": acc, "rej": acc // 300, "hw": acc // 50, "gw": el // 30 + 1,
            "disc": acc * 4, "lw": int(hashed / 4.295), "best": acc * 131072}


def summary(bm: Bmminer, now: float) -> Reply:
    """The ``summary`` command: "GHS 5s" is a string, "GHS av" a number."""
    c, ghs5 = _counts(bm, now), sum(bm.chain_rates(now).values())
    minutes = max(c["el"], 1) / 60
    entry: dict[str, object] = {
        "Elapsed": c["el"], "GHS 5s": f"{ghs5:.2f}",
        "GHS av": _f(bm.hashed(now) / c["el"] if c["el"] else 0.0, 2), "Found Blocks": 0,
        "Getworks": c["gw"], "Accepted": c["acc"], "Rejected": c["rej"],
        "Hardware Errors": c["hw"], "Utility": _f(c["acc"] / minutes, 2),
        "Discarded": c["disc"], "Stale": 0, "Get Failures": 0, "Local Work": c["lw"],
        "Remote Failures": 0, "Network Blocks": c["el"] // 600,
        "Total MH": _f(bm.hashed(now) * 1000, 4), "Work Utility": _f(c["lw"] / minutes, 2),
        "Difficulty Accepted": _f(c["acc"] * 65536, 8),
        "Difficulty Rejected": _f(c["rej"] * 65536, 8), "Difficulty Stale": _f(0, 8),
        "Best Share": c["best"], "Device Hardware%": _f(0.0001 if c["hw"] else 0, 4),
        "Device Rejected%": _f(100 * c["rej"] / c["acc"] if c["acc"] else 0, 4),
        "Pool Rejected%": _f(100 * c["rej"] / c["acc"] if c["acc"] else 0, 4),
        "Pool Stale%": _f(0, 4), "Last getwork": int(time.time()),
    }
    return Reply(11, "Summary", "SUMMARY", (entry,), header=True)


def pools(bm: Bmminer, now: float) -> Reply:
    """The ``pools`` command: normalised URLs, never passwords, empty slots Dead."""
    c, entries, active = _counts(bm, now), [], None
    for i, p in enumerate(bm.pools()):
        alive = bool(_URL.match(p["url"]))
        if alive and active is None:
            active = i
        on = active == i
        acc, rej = (c["acc"], c["rej"]) if on else (0, 0)
        entries.append({
            "POOL": i, "URL": normalise_url(p["url"]), "Status": "Alive" if alive else "Dead",
            "Priority": i, "Quota": 1, "Long Poll": "N", "Getworks": c["gw"] if on else 0,
            "Accepted": acc, "Rejected": rej, "Discarded": c["disc"] if on else 0, "Stale": 0,
            "Get Failures": 0, "Remote Failures": 0, "User": p["user"],
            "Last Share Time": "0:00:04" if on and acc else "0", "Diff": "65.5K" if alive else "",
            "Diff1 Shares": 0, "Proxy Type": "", "Proxy": "",
            "Difficulty Accepted": _f(acc * 65536, 8), "Difficulty Rejected": _f(rej * 65536, 8),
            "Difficulty Stale": _f(0, 8), "Last Share Difficulty": _f(65536 if acc else 0, 8),
            "Has Stratum": alive, "Stratum Active": on,
            "Stratum URL": normalise_url(p["url"]).split("://")[-1].rsplit(":", 1)[0] if on else "",
            "Has GBT": False, "Best Share": c["best"] if on else 0,
            "Pool Rejected%": _f(100 * rej / acc if acc else 0, 4), "Pool Stale%": _f(0, 4),
        })
    return Reply(7, f"{len(entries)} Pool(s)", "POOLS", tuple(entries))


def devs(bm: Bmminer, now: float) -> Reply:
    """The ``devs`` command: one ASC per hash board."""
    rates, el = bm.chain_rates(now), int(bm.elapsed(now))
    entries: list[dict[str, object]] = []
    for i, chain in enumerate(bm.profile.chains):
        share = bm.hashed(now) / len(rates)
        entries.append({
            "ASC": i, "Name": "BC5", "ID": i, "Enabled": "Y", "Status": "Alive",
            "Temperature": _f(bm.pcb[chain], 2), "MHS av": _f(share / el * 1000 if el else 0, 2),
            "MHS 5s": _f(rates[chain] * 1000, 2), "Accepted": 0, "Rejected": 0,
            "Hardware Errors": 0, "Utility": _f(0, 2), "Last Share Pool": -1,
            "Last Share Time": 0, "Total MH": _f(share * 1000, 4), "Diff1 Work": 0,
            "Difficulty Accepted": _f(0, 8), "Difficulty Rejected": _f(0, 8),
            "Last Share Difficulty": _f(0, 8), "Last Valid Work": int(time.time()),
            "Device Hardware%": _f(0, 4), "Device Rejected%": _f(0, 4), "Device Elapsed": el,
        })
    return Reply(9, f"{len(entries)} ASC(s)", "DEVS", tuple(entries))


def stats(bm: Bmminer, now: float) -> Reply:
    """The ``stats`` command, chains numbered as the firmware does (S9: 6-8)."""
    p, rates, el = bm.profile, bm.chain_rates(now), int(bm.elapsed(now))
    fans, freq = dict(p.fans), bm.freq()
    fnum = float(freq) if freq.replace(".", "", 1).isdigit() else float(p.freq)
    chip = {c: t + 15 for c, t in bm.pcb.items()}
    acs = " " + " ".join("o" * min(8, p.asics - k) for k in range(0, p.asics, 8))
    head: dict[str, object] = {"BMMiner": "2.0.0", "Miner": p.miner_version,
                               "CompileTime": p.compile_time, "Type": bm.model}
    e: dict[str, object] = {
        "STATS": 0, "ID": "BC50", "Elapsed": el, "Calls": 0, "Wait": _f(0, 6), "Max": _f(0, 6),
        "Min": _f(99999999, 6), "GHS 5s": f"{sum(rates.values()):.2f}",
        "GHS av": _f(bm.hashed(now) / el if el else 0, 2), "miner_count": len(p.chains),
        "frequency": freq, "fan_num": len(fans),
    }
    e.update({f"fan{i}": fans.get(i, 0) for i in range(1, 9)})
    e["temp_num"] = len(p.chains)
    e.update({f"temp{i}": int(bm.pcb.get(i, 0)) for i in range(1, 17)})
    e.update({f"temp2_{i}": int(chip.get(i, 0)) for i in range(1, 17)})
    e.update({f"temp3_{i}": 0 for i in range(1, 17)})
    e.update({f"freq_avg{i}": _f(fnum if i in rates else 0, 2) for i in range(1, 17)})
    ideal = p.ghs_per_chain * len(p.chains) * fnum / float(p.freq)
    e.update({"total_rateideal": _f(ideal, 2), "total_freqavg": _f(fnum, 2),
              "total_acn": p.asics * len(p.chains), "total_rate": _f(sum(rates.values()), 2)})
    e.update({f"chain_rateideal{i}": _f(ideal / len(p.chains) if i in rates else 0, 2)
              for i in range(1, 17)})
    e.update({"temp_max": int(max(chip.values())), "Device Hardware%": _f(0, 4),
              "no_matching_work": 0})
    e.update({f"chain_acn{i}": p.asics if i in rates else 0 for i in range(1, 17)})
    e.update({f"chain_acs{i}": acs if i in rates else "" for i in range(1, 17)})
    e.update({f"chain_hw{i}": 0 for i in range(1, 17)})
    e.update({f"chain_rate{i}": f"{rates[i]:.2f}" if i in rates else "" for i in range(1, 17)})
    for key in ("chain_xtime", "chain_offside_", "chain_opencore_"):
        e.update({f"{key}{c}": "{}" if key == "chain_xtime" else "0" for c in p.chains})
    e["miner_version"] = p.miner_version
    return Reply(70, "BMMiner stats", "STATS", (head, e), stats_quirk=True)


def version(bm: Bmminer, now: float) -> Reply:
    """The ``version`` command, exact shape from protocols.md."""
    p = bm.profile
    entry: dict[str, object] = {"BMMiner": "2.0.0", "API": "3.1", "Miner": p.miner_version,
                                "CompileTime": p.compile_time, "Type": bm.model}
    return Reply(22, "BMMiner versions", "VERSION", (entry,), header=True)


COMMANDS = {"summary": summary, "pools": pools, "devs": devs, "stats": stats, "version": version}


def dispatch(bm: Bmminer, command: str, now: float) -> Reply:
    """Run one command; privileged ones are denied (stock ``api-allow A:0/0,W:*``)."""
    if command in PRIVILEGED:
        return Reply(45, f"Access denied to '{command}' command", severity="E")
    handler = COMMANDS.get(command)
    return handler(bm, now) if handler else Reply(14, "Invalid command", severity="E")


def handle(bm: Bmminer, request: bytes, now: float) -> bytes:
    """Answer one raw request (JSON or ``cmd|param`` text); the NUL is added here."""
    text = request.decode("utf-8", "replace").strip("\x00 \t\r\n")
    if not text.startswith("{"):
        out = dispatch(bm, text.partition("|")[0].strip(), now).text()
        return out.encode() + b"\x00"
    try:
        obj = json.loads(text)
    except ValueError:
        return Reply(23, "Invalid JSON", severity="E").json().encode() + b"\x00"
    command = obj.get("command") if isinstance(obj, dict) else None
    if not isinstance(command, str):
        return Reply(24, "Missing JSON 'command'", severity="E").json().encode() + b"\x00"
    if "+" not in command:
        return dispatch(bm, command, now).json().encode() + b"\x00"
    parts: list[str] = []
    for cmd in dict.fromkeys(command.split("+")):
        parts.append(f"{json.dumps(cmd)}:[{dispatch(bm, cmd, now).json()}]")
    return ("{" + ",".join([*parts, '"id":1']) + "}").encode() + b"\x00"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """cgminer does one recv(); keep reading briefly only if the JSON is incomplete."""
    data = await reader.read(8192)
    while data.lstrip().startswith(b"{") and len(data) < 65536:
        try:
            json.loads(data.decode("utf-8", "replace").strip("\x00 \t\r\n"))
            break
        except ValueError:
            try:
                more = await asyncio.wait_for(reader.read(8192), 0.2)
            except TimeoutError:
                break
            if not more:
                break
            data += more
    return data


async def serve_rpc(rt: MinerRuntime, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
    """One RPC connection: one request, one NUL-terminated reply, then close."""
    try:
        if rt.faults.hang:
            await rt.wait_unhang()
            return
        request = await asyncio.wait_for(_read_request(reader), 10)
        reply = handle(rt.bm, request, time.monotonic())
        faults = rt.faults
        delay = faults.rpc_latency + (
            rt.rng.uniform(0, faults.rpc_jitter) if faults.rpc_jitter > 0 else 0.0)
        if delay > 0:  # a slow management network: the reply leaves late
            await asyncio.sleep(delay)
        writer.write(reply)
        await writer.drain()
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
