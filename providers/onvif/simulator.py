"""Simulated Ajax TurretCams speaking ONVIF over loopback HTTP.

Why threads: one ``ThreadingHTTPServer`` per camera on its own 127.x address
is how a camera looks on a network (its own IP, port 8080 or 0); 50+ of them
fit in one process because idle servers only hold a listening socket and a
thread blocked in ``select``.

Test hooks (the Python API behind fleetform's back): :meth:`SimulatedCamera.mutate`
changes settings, ``ignore_sets`` accepts every Set and ignores it,
``faults`` answers an operation with a given fault, ``unsupported`` answers
``ter:ActionNotSupported``, and ``log`` records each request's operation and
the auth scheme it carried. Network and device faults (latency, drops, empty
replies, auth failures, reboots) are the knobs of :class:`.sim_faults.Faults`
in ``network``, set per camera with :meth:`CameraSimulator.set_faults`;
``received`` names every operation that arrived, retries included.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fleetform.faults import FaultMap, coerce_knobs, unknown_devices
from fleetform.providers.onvif.models import TURRETCAM_VARIANTS
from fleetform.providers.onvif.sim_auth import DigestVerifier, TokenVerifier
from fleetform.providers.onvif.sim_faults import Faults
from fleetform.providers.onvif.sim_media import MEDIA_OPS
from fleetform.providers.onvif.sim_ops import DEVICE_OPS, OpContext, SimFault
from fleetform.providers.onvif.sim_state import CameraConfig, CameraState, factory_state
from fleetform.providers.onvif.soap import (
    CONTENT_TYPE,
    build_envelope,
    build_fault,
    local_name,
    parse_envelope,
)

OPERATIONS = {**DEVICE_OPS, **MEDIA_OPS}


@dataclass(frozen=True)
class Logged:
    """One request the camera received: operation and auth scheme (none/digest/token/both)."""

    operation: str
    auth: str
    status: int


@dataclass
class Reply:
    """An HTTP answer: status, extra headers, body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


class SimulatedCamera:
    """One TurretCam: state, auth verifiers, its HTTP server and test hooks."""

    def __init__(self, config: CameraConfig) -> None:
        if config.model not in TURRETCAM_VARIANTS:
            raise ValueError(f"unknown TurretCam model {config.model!r}")
        digest = hashlib.sha256(config.name.encode()).hexdigest()
        serial = config.serial or f"TC{int(digest[:12], 16) % 10**8:08d}"
        self.config = config = dataclasses.replace(config, serial=serial)
        self.serial = serial
        self.host = config.host
        self.port = config.port
        mac_tail = self.serial[-6:].rjust(6, "0")
        mac = "9C:75:6E:" + ":".join(mac_tail[i:i + 2] for i in (0, 2, 4))
        self.state: CameraState = factory_state(TURRETCAM_VARIANTS[config.model], mac, config.host)
        self.network = Faults()
        self.rng = random.Random(config.name)
        self.faults: dict[str, SimFault] = {}
        self.unsupported: set[str] = set()
        self.log: list[Logged] = []
        self.received: list[str] = []
        self.reboots = 0
        self.retired = False  # stopped for good: a reboot in progress must not restart it
        self._lock = threading.RLock()
        self._digest = DigestVerifier(config.username, config.password)
        self._token = TokenVerifier(config.username, config.password, config.clock_window)
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    # --- test hooks --------------------------------------------------------------------

    @property
    def ignore_sets(self) -> bool:
        """Accept every Set and change nothing (a camera that ignores writes)."""
        return self.network.ignore_sets

    @ignore_sets.setter
    def ignore_sets(self, value: bool) -> None:
        self.network.ignore_sets = value

    def set_faults(self, **knobs: object) -> None:
        """Set knobs of :class:`.sim_faults.Faults` (text values are converted)."""
        checked = coerce_knobs(Faults, knobs, device=self.config.name)
        with self._lock:
            for knob, value in checked.items():
                setattr(self.network, knob, value)

    def mutate(self, change: Callable[[CameraState], Any]) -> None:
        """Change settings behind fleetform's back (as the Ajax app would)."""
        with self._lock:
            change(self.state)

    def inject_fault(self, operation: str, subcode: str, reason: str = "injected") -> None:
        """Answer ``operation`` (e.g. ``SetImagingSettings``) with ``ter:<subcode>``."""
        code = "Receiver" if subcode in ("MaxMasks", "ActionNotSupported") else "Sender"
        chain = ("ter:Action", "ter:MaxMasks") if subcode == "MaxMasks" else (f"ter:{subcode}",)
        self.faults[operation] = SimFault(code, chain, reason)

    def camera_now(self) -> datetime:
        """The camera's (possibly wrong) clock."""
        return datetime.now(UTC) + timedelta(seconds=self.config.clock_offset)

    # --- request handling ---------------------------------------------------------------

    def handle(self, method: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request (HTTP-independent, so it is testable on its own)."""
        try:
            envelope = parse_envelope(body)
        except ValueError as exc:
            return self._fault(SimFault("Sender", ("ter:WellFormed",), str(exc)), "?", "none")
        operation = envelope.body.tag
        name = local_name(operation)
        entry = OPERATIONS.get(operation)
        with self._lock:
            self.received.append(name)
            strike = self.network.strike(name, self.rng, entry is None or entry[0] != "pre")
        if strike is not None:
            return self._strike(strike, name)
        authorization = headers.get("authorization", "")
        has_digest = authorization.startswith("Digest ")
        has_token = envelope.header is not None and any(
            local_name(e.tag) == "Security" for e in envelope.header)
        scheme = {(False, False): "none", (True, False): "digest", (False, True): "token",
                  (True, True): "both"}[(has_digest, has_token)]
        if entry is None:
            return self._fault(SimFault("Receiver", ("ter:ActionNotSupported",),
                                        f"{name} is not supported"), name, scheme)
        access, handler = entry
        if access != "pre":
            denied = self._authenticate(method, authorization, envelope, has_digest, has_token)
            if denied is not None:
                denied_reply = denied if isinstance(denied, Reply) else None
                if denied_reply is not None:
                    self._record(name, scheme, denied_reply.status)
                    return denied_reply
                return self._fault(SimFault("Sender", ("ter:NotAuthorized",),
                                            f"Sender not Authorized: {denied}"), name, scheme)
            if access == "write" and self.config.user_level == "User":
                return self._fault(SimFault("Sender", ("ter:NotAuthorized",),
                                            "the ONVIF user may not change settings"), name, scheme)
        if name in self.unsupported:
            return self._fault(SimFault("Receiver", ("ter:ActionNotSupported",),
                                        f"{name} is not supported"), name, scheme)
        if name in self.faults:
            return self._fault(self.faults[name], name, scheme)
        with self._lock:
            ignoring = access == "write" and self.ignore_sets
            state = copy.deepcopy(self.state) if ignoring else self.state
            context = OpContext(self.config, state, self.host, self.port, self.camera_now,
                                (lambda _target: None) if ignoring else self._schedule_move)
            try:
                result = handler(context, envelope.body)
            except SimFault as fault:
                return self._fault(fault, name, scheme)
        self._record(name, scheme, 200)
        return Reply(200, build_envelope(result))

    def _strike(self, strike: str, name: str) -> Reply:
        """The reply to a request an injected fault hit (nothing is processed)."""
        if strike == "reboot":
            self.reboots += 1
            threading.Thread(target=self._reboot, name=f"onvif-sim-reboot-{self.config.name}",
                             daemon=True).start()
        if strike in ("drop", "reboot"):
            return Reply(0, b"", drop=True)
        if strike == "empty":
            return Reply(200, b"")
        if strike == "auth_fail":
            return Reply(401, b"", {"WWW-Authenticate": self._digest.challenge()})
        subcode = self.network.fault_subcode
        return self._fault(SimFault("Sender", (f"ter:{subcode}",), "injected fault"), name,
                           "none")

    def _reboot(self) -> None:
        """Off the network for ``reboot_seconds`` (connections refused), then back."""
        self.stop()
        time.sleep(self.network.reboot_seconds)
        if not self.retired:
            self.start()

    def _authenticate(self, method: str, authorization: str, envelope: Any, has_digest: bool,
                      has_token: bool) -> Reply | str | None:
        if has_digest and self.config.digest:
            verdict = self._digest.verify(authorization, method)
            if verdict == "ok":
                return None
            challenge = self._digest.challenge(stale=verdict == "stale")
            return Reply(401, b"", {"WWW-Authenticate": challenge})
        if has_token and self.config.username_token:
            return self._token.verify(envelope.header, self.camera_now())
        if self.config.digest:
            return Reply(401, b"", {"WWW-Authenticate": self._digest.challenge()})
        return "no credentials"

    def _fault(self, fault: SimFault, name: str, scheme: str) -> Reply:
        status = 400 if fault.code == "Sender" else 500
        self._record(name, scheme, status)
        return Reply(status, build_fault(fault.code, fault.subcodes, fault.reason))

    def _record(self, name: str, scheme: str, status: int) -> None:
        with self._lock:
            self.log.append(Logged(name, scheme, status))

    # --- server ------------------------------------------------------------------------

    def start(self) -> None:
        """Listen at the configured host and port (0 picks a free port)."""
        server = _Server((self.host, self.port), _Handler)
        server.camera = self
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"onvif-sim-{self.config.name}", daemon=True).start()

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _schedule_move(self, target: str) -> None:
        timer = threading.Timer(self.config.network_delay, self._move, args=(target,))
        timer.daemon = True
        timer.start()

    def _move(self, target: str) -> None:
        """Re-bind at ``target`` (what a real camera does after a network change)."""
        self.stop()
        self.host = target
        self.start()

    def track(self, connection: socket.socket, opened: bool) -> None:
        """Remember open connections so a move can drop them."""
        with self._lock:
            if opened:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    camera: SimulatedCamera


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, each reply would wait for
    # the client's delayed ACK (40 ms on Linux) on a keep-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.camera.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.camera.track(self.connection, False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        camera = self.server.camera
        reply = camera.handle("POST", headers, body)
        delay = camera.network.delay(camera.rng)
        if delay > 0:
            time.sleep(delay)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def do_GET(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""


class CameraSimulator:
    """Many simulated cameras in one process; a context manager that stops them all."""

    def __init__(self) -> None:
        self._cameras: dict[str, SimulatedCamera] = {}

    def add(self, config: CameraConfig) -> SimulatedCamera:
        """Create and start one camera."""
        camera = SimulatedCamera(config)
        camera.start()
        self._cameras[config.name] = camera
        return camera

    def camera(self, name: str) -> SimulatedCamera:
        """The camera called ``name``."""
        return self._cameras[name]

    def set_faults(self, faults: FaultMap) -> None:
        """Set fault knobs per camera: ``{camera name: {knob: value}}`` (see ``sim_faults``).

        Every name and value is checked before any camera changes.
        """
        unknown_devices(faults, self._cameras)
        for name, knobs in faults.items():
            coerce_knobs(Faults, knobs, device=name)
        for name, knobs in faults.items():
            self._cameras[name].set_faults(**knobs)

    def cameras(self) -> list[SimulatedCamera]:
        """Every camera, in the order added."""
        return list(self._cameras.values())

    def stop(self) -> None:
        """Stop every camera."""
        for camera in self._cameras.values():
            camera.retired = True
            camera.stop()

    def __enter__(self) -> CameraSimulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextmanager
def running(*configs: CameraConfig) -> Iterator[list[SimulatedCamera]]:
    """Start cameras for a block and stop them after."""
    with CameraSimulator() as simulator:
        yield [simulator.add(c) for c in configs]
