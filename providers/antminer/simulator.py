"""A faithful Bitmain Antminer S9 / S9 Hydro simulator, many miners per process.

Why: fleetform's Antminer provider must be tested, demonstrated and benchmarked
against something that behaves like the stock firmware (Digest-protected shell
CGIs with their quirks, a cgminer RPC that disappears while bmminer restarts, an
address that moves after a network change) without owning hundreds of miners.
One asyncio loop in one background thread hosts every miner, so 1,000+ miners fit
in one process; each binds its own loopback address (Linux routes 127/8 to lo).

Wire behaviour lives in :mod:`.sim_http` (web server, CGIs) and :mod:`.sim_rpc`
(bmminer and its RPC); this module holds configuration, lifecycle and the
thread-safe handles tests and the CLI use.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import hashlib
import ipaddress
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from fleetform.errors import FleetformError
from fleetform.faults import FaultMap, coerce_knobs, unknown_devices
from fleetform.providers.antminer import sim_http, sim_rpc

_T = TypeVar("_T")
log = logging.getLogger(__name__)
DEFAULT_POOLS: tuple[dict[str, str], ...] = (  # the stock S9 fixture in protocols.md
    {"url": "solo.antpool.com:3333", "user": "antminer_1", "pass": "123"},
    {"url": "stratum.antpool.com:3333", "user": "antminer_1", "pass": "123"},
    {"url": "stratum+tcp://cn.ss.btc.com:3333", "user": "antminer.1", "pass": "123"},
)
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


class SimulatorError(FleetformError):
    """The simulator could not do what was asked (bind failed, unknown miner, bad knob).

    Why: a fleetform error renders as one clear line in the CLI instead of a traceback.
    """


@dataclass
class MinerConfig:
    """How to start one simulated miner.

    Why: one declarative record per miner lets the CLI build a simulated fleet
    straight from a manifest (name, address, ports, credentials, pools).
    """

    name: str
    host: str
    http_port: int = 80
    rpc_port: int = 4028
    username: str = "root"
    password: str = "root"  # noqa: S105 - the stock firmware's default login
    model: str = "Antminer S9 Hydro"
    mac: str | None = None
    pools: list[dict[str, str]] = field(default_factory=lambda: [dict(p) for p in DEFAULT_POOLS])
    restart_delay: float = 0.5
    network_delay: float = 0.2
    reboot_delay: float = 1.0
    hostname: str = "antMiner"
    freq: str | None = None  # None: the model's default (S9 650, S9 Hydro 750)
    voltage: str = "0706"
    pcb_temp: float = 55.0
    uptime: float = 3600.0  # seconds bmminer has been running when the miner starts
    ramp_seconds: float = 2.0  # time for hashrate to climb from zero after a (re)start
    latency: float = 0.0  # seconds added to every HTTP and RPC reply (a slow network)
    jitter: float = 0.0  # up to this many seconds more per reply, uniformly random


@dataclass
class Faults:
    """Per-miner fault knobs, changed at runtime with :meth:`SimulatedMiner.set_fault`.

    Why: fleetform must be shown to cope with slow, dead, hanging and stubborn devices.
    """

    offline: bool = False  # refuse connections on both ports
    hang: bool = False  # accept connections and never answer
    reject_writes: bool = False  # set_*_conf.cgi answer an error body and change nothing
    ignore_writes: bool = False  # set_*_conf.cgi answer "ok" and change nothing
    http_latency: float = 0.0  # seconds added to every HTTP reply
    rpc_latency: float = 0.0  # seconds added to every RPC reply
    rpc_jitter: float = 0.0  # up to this many seconds more per RPC reply, at random
    http_jitter: float = 0.0  # up to this many seconds more per HTTP reply, at random
    drop_next: int = 0  # the next N HTTP requests (see target) are closed unanswered, unprocessed
    drop_rate: float = 0.0  # chance that any HTTP request is closed unanswered, unprocessed
    empty_next: int = 0  # the next N HTTP requests (see target) get "200 OK" with no body
    auth_fail_next: int = 0  # the next N HTTP requests (see target) get 401 whatever the login
    target: str = ""  # drop_next/empty_next/auth_fail_next count only paths containing this
    late_reply: float = 0.0  # set_miner_conf.cgi applies the change, then answers this late
    reboot_on_write: int = 0  # the next N set_miner_conf.cgi reboot the miner, change lost
    restart_delay: float = 0.5  # bmminer restart: RPC closed this long
    network_delay: float = 0.2  # set_network_conf.cgi reply delay
    reboot_delay: float = 1.0  # reboot: HTTP and RPC closed this long


def default_mac(host: str) -> str:
    """A stable, per-address MAC in Bitmain's C4:F3:12 range (unique within 127/8)."""
    try:
        tail = ipaddress.IPv4Address(host).packed[1:]
    except ValueError:
        tail = hashlib.sha256(host.encode()).digest()[:3]
    return "C4:F3:12:" + ":".join(f"{b:02X}" for b in tail)


def _bind_error(name: str, kind: str, host: str, port: int, exc: OSError) -> SimulatorError:
    hint = "choose a free port for this device in the manifest (http_port/rpc_port, 0 = any)"
    if exc.errno == errno.EACCES:
        hint = "ports below 1024 need root: " + hint
    elif exc.errno == errno.EADDRNOTAVAIL:
        hint = "the address is not local; use a loopback address such as 127.0.1.5"
    return SimulatorError(f"simulated miner {name!r}: cannot bind {kind} on {host}:{port}: "
                          f"{exc.strerror or exc}; {hint}")


class MinerRuntime:
    """Everything one miner is, owned by the simulator's loop thread.

    Why: keeping all state on one thread (the loop) removes locking; the public
    :class:`SimulatedMiner` handle marshals every change onto the loop.
    """

    def __init__(self, config: MinerConfig, secret: bytes) -> None:
        self.name, self.host, self.model = config.name, config.host, config.model
        self.http_port, self.rpc_port = config.http_port, config.rpc_port
        self.profile = sim_rpc.profile_for(config.model)
        self.mac = config.mac or default_mac(config.host)
        self.secret = secret
        self.initial_password = config.password
        self.user, self.password, self.ha1 = "", "", ""
        self.set_password(config.password, user=config.username)
        freq = config.freq or self.profile.freq
        self.miner_conf_text = sim_http.render_miner_conf(
            [*sim_http.pool_fields(config.pools), "", "", "false", "100", freq, config.voltage],
            factory=True)
        self.network_conf_text = f"dhcp=true\nhostname={config.hostname}\n"
        self.faults = Faults(restart_delay=config.restart_delay, reboot_delay=config.reboot_delay,
                             network_delay=config.network_delay, http_latency=config.latency,
                             http_jitter=config.jitter, rpc_latency=config.latency,
                             rpc_jitter=config.jitter)
        self.bm = sim_rpc.Bmminer(config.model, self.profile, config.pcb_temp, config.ramp_seconds)
        now = time.monotonic()
        self.booted_at = now - config.uptime - 30
        self.bm.start(sim_rpc.parse_conf(self.miner_conf_text), now, config.uptime)
        self.rebooting = self.closing = self.conf_locked = False
        self.lock_released = asyncio.Event()
        self.lock_released.set()
        self.restarts = 0
        self.http_log: list[str] = []  # "METHOD /path" of every HTTP request received
        self.rng = random.Random(config.name)  # drop_rate / jitter, reproducible per miner
        self._unhang = asyncio.Event()
        self._gen = 0
        self._servers: dict[str, asyncio.Server] = {}
        self._listen_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- state helpers used by the HTTP / RPC modules -------------------------------
    @property
    def rpc_listening(self) -> bool:
        """Whether the RPC port accepts connections right now."""
        return "RPC" in self._servers

    def set_password(self, password: str, user: str | None = None) -> None:
        """Rewrite the htdigest line (lighttpd rereads it on every request)."""
        self.user = self.user if user is None else user
        self.password, self.ha1 = password, sim_http.ha1(self.user, password)

    def live_network(self) -> tuple[str, str, str]:
        """(nettype, ipaddress, netmask) as ``ifconfig`` would report them."""
        conf = sim_http.read_network_conf(self.network_conf_text)
        if conf["nettype"] == "Static" and conf["ipaddress"]:
            return "Static", conf["ipaddress"], conf["netmask"]
        return conf["nettype"], self.host, "255.255.255.0"

    async def wait_unhang(self) -> None:
        """Park a connection until the ``hang`` knob is cleared or the miner closes."""
        await self._unhang.wait()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, tracked so shutdown can cancel it."""
        if self.closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- listeners ----------------------------------------------------------------------
    async def sync_listeners(self, strict: bool = False) -> None:
        """Open or close HTTP and RPC to match the state (offline, rebooting, bmminer)."""
        async with self._listen_lock:
            up = not (self.faults.offline or self.rebooting or self.closing)
            for kind, want in (("HTTP", up), ("RPC", up and self.bm.running)):
                server = self._servers.get(kind)
                if not want and server is not None:
                    server.close()  # not wait_closed(): parked (hung) connections must not block
                    del self._servers[kind]
                elif want and server is None:
                    await self._listen(kind, strict)

    async def _listen(self, kind: str, strict: bool) -> None:
        port = self.http_port if kind == "HTTP" else self.rpc_port
        handler = sim_http.serve_http if kind == "HTTP" else sim_rpc.serve_rpc
        try:
            server = await asyncio.start_server(functools.partial(handler, self), self.host, port,
                                                reuse_address=True)
        except OSError as exc:
            err = _bind_error(self.name, kind, self.host, port, exc)
            if strict:
                self._close_all()
                raise err from exc
            log.warning("%s", err)
            return
        self._servers[kind] = server
        if kind == "HTTP":
            self.http_port = server.sockets[0].getsockname()[1]
        else:
            self.rpc_port = server.sockets[0].getsockname()[1]

    def _close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    async def move_to(self, host: str) -> None:
        """Rebind both ports on ``host`` (a Static IP inside 127/8 was applied)."""
        for address in (host, self.host):  # if the new address cannot be bound, stay
            async with self._listen_lock:
                self._close_all()
                self.host = address
            await self.sync_listeners()
            if "HTTP" in self._servers or self.faults.offline or self.rebooting:
                return

    # -- firmware behaviour ---------------------------------------------------------------
    async def restart_bmminer(self) -> None:
        """``/etc/init.d/bmminer.sh restart``: RPC refused for restart_delay, then back."""
        self._gen += 1
        gen = self._gen
        self.bm.running = False
        await self.sync_listeners()
        await asyncio.sleep(self.faults.restart_delay)
        if gen == self._gen and not self.rebooting:
            self.restarts += 1
            self.bm.start(sim_rpc.parse_conf(self.miner_conf_text), time.monotonic())
            await self.sync_listeners()

    async def reboot(self) -> None:
        """``reboot``: everything down for reboot_delay; network.conf applied at boot."""
        self._gen += 1
        self.rebooting, self.bm.running = True, False
        await self.sync_listeners()
        await asyncio.sleep(self.faults.reboot_delay)
        self.rebooting = False
        self.booted_at = time.monotonic()
        self.bm.start(sim_rpc.parse_conf(self.miner_conf_text), self.booted_at)
        await self.apply_network()
        await self.sync_listeners()

    async def apply_network(self, text: str | None = None) -> None:
        """Apply network.conf (after writing ``text``): a Static 127/8 IP moves the listeners."""
        self.network_conf_text = self.network_conf_text if text is None else text
        conf = sim_http.read_network_conf(self.network_conf_text)
        if conf["nettype"] != "Static":
            return
        try:
            ip = ipaddress.IPv4Address(conf["ipaddress"])
        except ValueError:
            return
        if ip in _LOOPBACK and str(ip) != self.host:
            await self.move_to(str(ip))

    async def set_faults(self, knobs: dict[str, Any]) -> None:
        """Apply fault knobs and their side effects (listeners, parked connections)."""
        for key, value in knobs.items():
            setattr(self.faults, key, value)
        if "hang" in knobs and not self.faults.hang:
            self._unhang.set()
            self._unhang = asyncio.Event()
        await self.sync_listeners()

    def write_miner_conf(self, text: str, restart: bool) -> None:
        """Replace bmminer.conf; restart bmminer (RPC away) or swap it in without a gap."""
        self.miner_conf_text, conf = text, sim_rpc.parse_conf(text)
        if restart:
            self.spawn(self.restart_bmminer())
            return
        if conf is None:
            self.bm.running = False
        else:
            self.bm.conf = conf
        self.spawn(self.sync_listeners())

    def snapshot(self) -> dict[str, Any]:
        """Current state as plain data, for tests and the CLI."""
        conf, now = sim_rpc.parse_conf(self.miner_conf_text), time.monotonic()
        net, slots = (sim_http.read_network_conf(self.network_conf_text),
                      sim_http.form_values(self.miner_conf_text))
        return {
            "name": self.name, "host": self.host, "http_port": self.http_port,
            "rpc_port": self.rpc_port, "model": self.model, "mac": self.mac,
            "username": self.user, "password": self.password,
            "password_changed": self.password != self.initial_password,
            "pools": [dict(zip(("url", "user", "pass"), slots[i:i + 3], strict=True))
                      for i in (0, 3, 6)],
            "miner_conf": conf, "miner_conf_text": self.miner_conf_text, "network": net,
            "network_conf_text": self.network_conf_text, "live_network": self.live_network(),
            "bmminer_running": self.bm.running, "rpc_listening": self.rpc_listening,
            "http_listening": "HTTP" in self._servers, "rebooting": self.rebooting,
            "restarts": self.restarts, "pcb_temps": dict(self.bm.pcb),
            "overheated": self.bm.overheated, "ghs_5s": sum(self.bm.chain_rates(now).values()),
            "faults": {f.name: getattr(self.faults, f.name) for f in fields(Faults)},
        }

    async def close(self) -> None:
        """Stop listening, release parked connections, cancel background work."""
        self.closing = True
        self._unhang.set()
        await self.sync_listeners()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class SimulatedMiner:
    """Thread-safe handle to one running miner.

    Why: tests and the CLI live on other threads than the loop; every method here
    runs its change on the loop and returns once it took effect. The setters model
    drift: somebody changing the miner behind fleetform's back.
    """

    def __init__(self, sim: MinerSimulator, runtime: MinerRuntime) -> None:
        self._sim, self._rt, self.name = sim, runtime, runtime.name

    @property
    def host(self) -> str:
        """The address the miner answers on now (moves after a Static 127/8 IP change)."""
        return self._rt.host

    @property
    def http_port(self) -> int:
        """The bound HTTP port (the real one when 0 was asked)."""
        return self._rt.http_port

    @property
    def rpc_port(self) -> int:
        """The bound RPC port (the real one when 0 was asked)."""
        return self._rt.rpc_port

    @property
    def url(self) -> str:
        """Base URL of the web interface, e.g. ``http://127.0.1.5:80``."""
        return f"http://{self.host}:{self.http_port}"

    def _do(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return self._sim.call(run())

    def set_pools(self, pools: list[dict[str, str]], restart: bool = True) -> None:
        """Change pools as the web UI would (rewrites bmminer.conf, restarts bmminer)."""
        try:
            values = sim_http.pool_fields(pools)
        except ValueError as exc:
            raise SimulatorError(str(exc)) from exc

        def apply() -> None:
            old = sim_http.form_values(self._rt.miner_conf_text)
            self._rt.write_miner_conf(sim_http.render_miner_conf([*values, *old[9:]]), restart)

        self._do(apply)

    def write_miner_conf(self, text: str, restart: bool = True) -> None:
        """Replace bmminer.conf verbatim (e.g. hand-edited over SSH)."""
        self._do(self._rt.write_miner_conf, text, restart)

    def set_password(self, password: str) -> None:
        """Change the web password directly (the Digest login changes at once)."""
        self._do(self._rt.set_password, password)

    def set_network(self, nettype: str = "DHCP", hostname: str = "antMiner", ipaddress: str = "",
                    netmask: str = "", gateway: str = "", dnsservers: str = "") -> None:
        """Change network.conf and apply it (a Static 127/8 IP moves the miner)."""
        text = sim_http.render_network_conf(
            [nettype, hostname, ipaddress, netmask, gateway, dnsservers])
        self._do(self._rt.apply_network, text)

    def set_fault(self, **knobs: Any) -> None:
        """Set fault knobs (the fields of :class:`Faults`); strings are converted to their type."""
        try:
            checked = coerce_knobs(Faults, knobs, device=self.name)
        except FleetformError as exc:
            raise SimulatorError(str(exc)) from None
        self._do(self._rt.set_faults, checked)

    def http_requests(self) -> list[str]:
        """Every HTTP request received so far, as ``"METHOD /path"`` (retries are counted)."""
        result: list[str] = self._do(lambda: list(self._rt.http_log))
        return result

    def set_pcb_temp(self, celsius: float, chain: int | None = None) -> None:
        """Set the PCB temperature of every chain (or one); at 80 °C hashing stops."""
        self._do(self._rt.bm.set_pcb, float(celsius), chain, time.monotonic())

    def reboot(self) -> None:
        """Start a reboot (HTTP and RPC down for reboot_delay); returns at once."""
        self._do(self._rt.spawn, self._rt.reboot())

    def snapshot(self) -> dict[str, Any]:
        """Current config and status as plain data (pools, network, password, faults...)."""
        result: dict[str, Any] = self._do(self._rt.snapshot)
        return result


class MinerSimulator:
    """The host process: one event-loop thread serving any number of miners.

    Why: a thread per miner or per connection would not scale to a 1,000-miner
    benchmark; asyncio sockets on one loop do, on two cores.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._miners: dict[str, SimulatedMiner] = {}
        self._adding: set[str] = set()
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(16)

    def start(self) -> None:
        """Start the loop thread (idempotent); lifts a low open-file limit."""
        with self._lock:
            if self._loop is not None:
                return
            _raise_fd_limit()
            loop, ready = asyncio.new_event_loop(), threading.Event()
            self._thread = threading.Thread(target=_run_loop, args=(loop, ready),
                                            name="antminer-sim", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float = 60.0) -> _T:
        """Run ``coro`` on the loop thread and return its result."""
        if self._loop is None:
            coro.close()
            raise SimulatorError("the miner simulator is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def add(self, config: MinerConfig) -> SimulatedMiner:
        """Create a miner and bind its ports now; bind problems raise SimulatorError."""
        self.start()
        with self._lock:
            if config.name in self._miners or config.name in self._adding:
                raise SimulatorError(f"a simulated miner named {config.name!r} already exists")
            self._adding.add(config.name)

        async def create() -> MinerRuntime:
            rt = MinerRuntime(config, self._secret)
            await rt.sync_listeners(strict=True)
            return rt

        try:
            handle = SimulatedMiner(self, self.call(create()))
        except ValueError as exc:
            raise SimulatorError(f"simulated miner {config.name!r}: {exc}") from exc
        finally:
            with self._lock:
                self._adding.discard(config.name)
        with self._lock:
            self._miners[config.name] = handle
        return handle

    def miner(self, name: str) -> SimulatedMiner:
        """The handle of the miner called ``name``."""
        with self._lock:
            found = self._miners.get(name)
        if found is None:
            raise SimulatorError(f"no simulated miner named {name!r}")
        return found

    def miners(self) -> list[SimulatedMiner]:
        """All miners, in the order they were added."""
        with self._lock:
            return list(self._miners.values())

    def set_faults(self, faults: FaultMap) -> None:
        """Set fault knobs per miner: ``{miner name: {knob: value}}`` (see :class:`Faults`)."""
        try:
            unknown_devices(faults, [m.name for m in self.miners()])
        except FleetformError as exc:
            raise SimulatorError(str(exc)) from None
        for name, knobs in faults.items():
            self.miner(name).set_fault(**knobs)

    def remove(self, name: str) -> None:
        """Stop one miner and free its ports."""
        self.call(self.miner(name)._rt.close())
        with self._lock:
            self._miners.pop(name, None)

    def stop(self) -> None:
        """Close every miner, cancel pending work, stop and join the loop thread."""
        with self._lock:
            loop, thread, self._loop = self._loop, self._thread, None
            runtimes = [m._rt for m in self._miners.values()]
            self._miners = {}
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            for rt in runtimes:
                await rt.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)

    def __enter__(self) -> MinerSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _raise_fd_limit() -> None:
    """Two sockets per miner plus clients: lift the soft open-file limit if low."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
