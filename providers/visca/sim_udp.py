"""Simulated cameras speaking VISCA over IP, all served by one thread.

Why one thread: each camera has its own UDP socket on its own loopback
address; a selector waits on all of them plus the cameras' scheduled
replies, so a room of cameras costs one thread.

Sequence handling per camera (``CameraConfig.sequence_mode``):
- ``echo``: replies carry the command's sequence number, nothing is checked;
- ``strict``: after RESET any number is accepted, then each must not go
  backwards (lower -> control error ``0F 01``); the same number again is a
  resend: the replies already sent for it are sent again, nothing re-executes;
- ``zero``: replies always carry sequence 0 (what AVer's examples suggest).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from fleetform.errors import ProtocolError
from fleetform.providers.visca import ipframe
from fleetform.providers.visca.sim_camera import SimCamera


@dataclass
class _Endpoint:
    camera: SimCamera
    sock: socket.socket
    last_sequence: int | None = None
    last_replies: list[tuple[float, bytes]] = field(default_factory=list)
    peer: tuple[str, int] | None = None
    datagrams_in: int = 0
    dropped: int = 0


class SimUdpServer:
    """Serves any number of VISCA-over-IP cameras from one thread."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._endpoints: dict[str, _Endpoint] = {}
        self._events: list[tuple[float, int, str, bytes, tuple[str, int]]] = []
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-visca-udp", daemon=True)

    def start(self) -> SimUdpServer:
        """Start the serving thread."""
        self._thread.start()
        return self

    def add(self, camera: SimCamera, host: str, port: int) -> tuple[str, int]:
        """Bind ``host:port`` (port 0: any) for ``camera``; return the bound address."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        with self._lock:
            self._endpoints[camera.name] = _Endpoint(camera, sock)
            self._selector.register(sock, selectors.EVENT_READ, camera.name)
        bound = sock.getsockname()
        return str(bound[0]), int(bound[1])

    def stats(self, name: str) -> dict[str, int]:
        """Datagrams received and dropped (by fault injection) for one camera."""
        endpoint = self._endpoints[name]
        return {"datagrams_in": endpoint.datagrams_in, "dropped": endpoint.dropped}

    def stop(self) -> None:
        """Stop serving and close every socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        with self._lock:
            for endpoint in self._endpoints.values():
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(endpoint.sock)
                endpoint.sock.close()
            self._endpoints.clear()
        self._selector.close()

    # --- loop -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            wait = 0.05 if not self._events else max(0.0, min(0.05, self._events[0][0] - now))
            with self._lock:
                has_sockets = bool(self._endpoints)
            if not has_sockets:
                time.sleep(wait or 0.01)
                ready = []
            else:
                try:
                    ready = self._selector.select(wait)
                except (OSError, ValueError):
                    return
            for key, _ in ready:
                self._receive(str(key.data))
            self._due(time.monotonic())

    def _due(self, now: float) -> None:
        while self._events and self._events[0][0] <= now:
            _, _, name, data, peer = heapq.heappop(self._events)
            endpoint = self._endpoints.get(name)
            if endpoint is None:
                continue
            if endpoint.camera.faults.drop_replies_next > 0:
                endpoint.camera.faults.drop_replies_next -= 1
                continue
            with contextlib.suppress(OSError):
                endpoint.sock.sendto(data, peer)

    def _receive(self, name: str) -> None:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            return
        try:
            data, peer = endpoint.sock.recvfrom(2048)
        except OSError:
            return
        endpoint.datagrams_in += 1
        faults = endpoint.camera.faults
        if faults.drop_next > 0 or (faults.drop_rate and
                                    endpoint.camera.rng.random() < faults.drop_rate):
            faults.drop_next = max(0, faults.drop_next - 1)
            endpoint.dropped += 1
            return
        if faults.offline:
            return
        now = time.monotonic()
        try:
            message = ipframe.decode(data)
        except ProtocolError:
            return
        self._handle(endpoint, message, peer, now)

    def _send(self, endpoint: _Endpoint, when: float, data: bytes, peer: tuple[str, int]) -> None:
        heapq.heappush(self._events, (when, next(self._counter), endpoint.camera.name, data, peer))

    def _handle(self, endpoint: _Endpoint, message: ipframe.IpMessage, peer: tuple[str, int],
                now: float) -> None:
        camera = endpoint.camera
        mode = camera.config.sequence_mode
        if message.payload_type == ipframe.CONTROL_COMMAND:
            if message.payload == ipframe.RESET_PAYLOAD:
                endpoint.last_sequence = None
                endpoint.last_replies = []
                self._send(endpoint, now, ipframe.reset_reply(message.sequence), peer)
            else:
                self._send(endpoint, now, ipframe.control_error(
                    message.sequence, ipframe.ERROR_MESSAGE_TYPE), peer)
            return
        if message.payload_type not in (ipframe.VISCA_COMMAND, ipframe.VISCA_INQUIRY):
            self._send(endpoint, now, ipframe.control_error(
                message.sequence, ipframe.ERROR_MESSAGE_TYPE), peer)
            return
        if mode == "strict" and endpoint.last_sequence is not None:
            if message.sequence < endpoint.last_sequence:
                self._send(endpoint, now, ipframe.control_error(
                    message.sequence, ipframe.ERROR_SEQUENCE), peer)
                return
            if message.sequence == endpoint.last_sequence:
                for when, reply in endpoint.last_replies:  # a resend: don't re-run
                    if when <= now:  # replies still pending go out on schedule anyway
                        self._send(endpoint, now, reply, peer)
                return
        replies = camera.handle_visca(message.payload, now, "udp")
        out_sequence = 0 if mode == "zero" else message.sequence
        endpoint.last_sequence = message.sequence
        endpoint.last_replies = []
        for when, payload in replies:
            datagram = ipframe.encode(ipframe.VISCA_REPLY, out_sequence, payload)
            endpoint.last_replies.append((when, datagram))
            self._send(endpoint, when, datagram, peer)
