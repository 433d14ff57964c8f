"""Moving VISCA and Pelco bytes over RS-232: one shared line per daisy chain.

Why one :class:`SerialLine` per port path: up to seven cameras share one
RS-232 line, and fleetform drives devices in parallel threads. Every camera
on the chain therefore shares ONE lock (held from writing a command until its
ACK or error arrives: "send the next command only after the ACK of the
previous one") and ONE reader thread that sorts replies by their header byte
(``90`` camera 1 ... ``F0`` camera 7, ``88`` broadcast) into per-camera queues.
Completions are awaited *outside* the lock, so while camera 1 pans, camera 2
can already be told to move: the line is busy only while bytes and ACKs fly.

Timeouts come from the device's :class:`~fleetform.device.Deadline`; serial
failures are mapped to fleetform's exception tree at this edge.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import serial

from fleetform.device import Deadline
from fleetform.errors import DeviceTimeout, DeviceUnreachable, ProtocolError
from fleetform.providers.visca import codec
from fleetform.retry import RetryPolicy, retry_call

log = logging.getLogger(__name__)

SIM_SCHEME = "sim://"
T = TypeVar("T")


def sim_dir() -> Path:
    """Where ``fleetform simulate`` publishes its pty lines (``sim://NAME``).

    Why a directory of symlinks: the simulator and the planning fleetform are
    different processes; a symlink ``<dir>/NAME -> /dev/pts/N`` is the
    rendezvous. ``FLEETFORM_SIM_DIR`` overrides the default per-user path.
    """
    override = os.environ.get("FLEETFORM_SIM_DIR")
    if override:
        return Path(override)
    return Path(tempfile.gettempdir()) / f"fleetform-sim-{os.getuid()}" / "visca"


def resolve_port(port: str) -> str:
    """The device path for ``port``; ``sim://NAME`` becomes the simulator's pty."""
    if not port.startswith(SIM_SCHEME):
        return port
    name = port[len(SIM_SCHEME):]
    link = sim_dir() / name
    if not link.exists():
        raise DeviceUnreachable(
            f"no simulated serial line '{name}' is running ({link} does not exist): "
            "start 'fleetform simulate MANIFEST' first"
        )
    return str(link.resolve())


class SerialLine:
    """An open RS-232 port shared by every camera on its daisy chain."""

    def __init__(self, path: str, baud: int) -> None:
        self.path = path
        self.baud = baud
        self.lock = threading.Lock()
        self.garbled = 0
        self._queues: dict[int, queue.Queue[codec.Reply]] = {}
        self._queues_lock = threading.Lock()
        self._closed = threading.Event()
        try:
            self._port = serial.Serial(
                path, baudrate=baud, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE, xonxoff=False, rtscts=False, dsrdtr=False,
                timeout=0.05,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceUnreachable(
                f"cannot open serial port {path} at {baud} baud: {exc}"
            ) from exc
        self._reader = threading.Thread(target=self._read_loop, name=f"visca-{path}", daemon=True)
        self._reader.start()

    def queue(self, address: int) -> queue.Queue[codec.Reply]:
        """Replies from camera ``address`` (0 = broadcast replies ``88 ...``)."""
        with self._queues_lock:
            return self._queues.setdefault(address, queue.Queue())

    def write(self, data: bytes) -> None:
        """Send bytes (caller holds :attr:`lock`)."""
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnreachable(f"writing to serial port {self.path} failed: {exc}") from exc

    def acquire(self, deadline: Deadline, cap: float, what: str) -> None:
        """Take the line lock within the deadline, or :class:`DeviceTimeout`."""
        if not self.lock.acquire(timeout=deadline.timeout(cap)):
            raise DeviceTimeout(f"serial line {self.path} stayed busy for {cap:g}s ({what})")

    def close(self) -> None:
        """Stop the reader and close the port."""
        self._closed.set()
        self._reader.join(timeout=1.0)
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()

    def _read_loop(self) -> None:
        buffer = bytearray()
        while not self._closed.is_set():
            try:
                chunk = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as exc:
                if not self._closed.is_set():
                    log.warning("serial port %s read failed: %s", self.path, exc)
                return
            buffer += chunk
            while (end := buffer.find(0xFF)) >= 0:
                frame = bytes(buffer[: end + 1])
                del buffer[: end + 1]
                self._route(frame)
            if len(buffer) > 64:  # no terminator in sight: line noise
                self.garbled += 1
                buffer.clear()

    def _route(self, frame: bytes) -> None:
        reply = _decode_resync(frame)
        if reply is None:
            self.garbled += 1
            log.debug("discarding garbled bytes on %s: %s", self.path, frame.hex(" "))
            return
        address = 0 if isinstance(reply, (codec.AddressSetReply, codec.BroadcastEcho)) else (
            reply.address
        )
        self.queue(address).put(reply)


def _decode_resync(frame: bytes) -> codec.Reply | None:
    """Decode a frame, skipping leading noise up to the last plausible header byte."""
    for start in range(len(frame) - 2):
        head = frame[start]
        if head == 0x88 or (0x90 <= head <= 0xF0 and head & 0x0F == 0):
            try:
                return codec.decode_reply(frame[start:])
            except ProtocolError:
                continue
    return None


class ViscaLink(Protocol):
    """One camera's VISCA channel, serial or UDP."""

    endpoint: str

    def command(self, name: str, packet: bytes, deadline: Deadline, *, wait: bool = True) -> None:
        """Send a command, wait for its ACK (and completion when ``wait``)."""
        ...

    def inquire(self, name: str, packet: bytes, deadline: Deadline) -> bytes:
        """Send an inquiry and return the answer's data bytes."""
        ...

    def close(self) -> None:
        """Release the channel."""
        ...


def _drain(replies: queue.Queue[codec.Reply]) -> None:
    while True:
        try:
            replies.get_nowait()
        except queue.Empty:
            return


def _get(replies: queue.Queue[codec.Reply], deadline: Deadline, cap: float,
         on_timeout: Callable[[], Exception]) -> codec.Reply:
    try:
        return replies.get(timeout=deadline.timeout(cap))
    except queue.Empty:
        raise on_timeout() from None


class SerialVisca:
    """VISCA to camera ``address`` on a shared :class:`SerialLine`."""

    def __init__(self, line: SerialLine, address: int, timeout: float, move_timeout: float) -> None:
        self.line = line
        self.address = address
        self.timeout = timeout
        self.move_timeout = move_timeout
        self.endpoint = f"{line.path}#{address}"

    def _timeout(self, name: str, waited: str, seconds: float) -> DeviceTimeout:
        return DeviceTimeout(
            f"camera {self.address} on {self.line.path} did not {waited} {name} "
            f"within {seconds:g}s (check power, cable, baud {self.line.baud} and address)"
        )

    def _exchange(self, name: str, packet: bytes, deadline: Deadline, waited: str,
                  wanted: tuple[type[codec.Ack | codec.Completion | codec.InquiryAnswer], ...],
                  ) -> codec.Reply:
        """Write ``packet`` under the line lock and return the first wanted reply.

        Why one place: VISCA allows the next write only after the camera's
        ACK, error or answer, so the lock is held exactly until then; an error
        reply raises its exception.
        """
        replies = self.line.queue(self.address)
        self.line.acquire(deadline, self.move_timeout, name)
        try:
            _drain(replies)
            self.line.write(packet)
            while True:
                reply = _get(replies, deadline, self.timeout,
                             lambda: self._timeout(name, waited, self.timeout))
                if isinstance(reply, codec.ErrorReply):
                    raise reply.exception(name)
                if isinstance(reply, wanted):
                    return reply
        finally:
            self.line.lock.release()

    def command(self, name: str, packet: bytes, deadline: Deadline, *, wait: bool = True) -> None:
        """Write under the line lock until ACK/error; await completion without it."""
        first = self._exchange(name, packet, deadline, "acknowledge",
                               (codec.Completion, codec.Ack))
        if isinstance(first, codec.Completion):
            return
        assert isinstance(first, codec.Ack)
        socket = first.socket
        replies = self.line.queue(self.address)
        while wait:
            reply = _get(replies, deadline, self.move_timeout,
                         lambda: self._timeout(name, "complete", self.move_timeout))
            if isinstance(reply, codec.ErrorReply) and reply.socket in (socket, 0):
                raise reply.exception(name)
            if isinstance(reply, codec.Completion) and reply.socket == socket:
                return

    def inquire(self, name: str, packet: bytes, deadline: Deadline) -> bytes:
        """Inquiries get an answer ``y0 50 .. FF`` (no ACK) while we hold the line."""
        answer = self._exchange(name, packet, deadline, "answer", (codec.InquiryAnswer,))
        assert isinstance(answer, codec.InquiryAnswer)
        return answer.data

    def close(self) -> None:
        """The line is shared; :class:`SerialLines` closes it."""


class SerialLines:
    """The provider's open lines, one per resolved port path.

    Why an instance (not a module global): each provider instance owns its
    ports and closes them in ``close()``; two cameras naming the same path
    (or ``sim://`` link) share the one line and its lock.
    """

    def __init__(self) -> None:
        self._lines: dict[str, SerialLine] = {}
        self._lock = threading.Lock()

    def get(self, port: str, baud: int) -> SerialLine:
        """The open line for ``port`` (opened on first use)."""
        path = os.path.realpath(resolve_port(port))
        with self._lock:
            line = self._lines.get(path)
            if line is None:
                line = SerialLine(path, baud)
                self._lines[path] = line
            elif line.baud != baud:
                raise DeviceUnreachable(
                    f"serial port {path} is already open at {line.baud} baud; every camera "
                    f"on one daisy chain must use the same baud (this one says {baud})"
                )
            return line

    def close(self) -> None:
        """Close every line."""
        with self._lock:
            lines, self._lines = list(self._lines.values()), {}
        for line in lines:
            line.close()


def address_set(line: SerialLine, deadline: Deadline, timeout: float) -> int:
    """Broadcast ``88 30 01 FF``; return how many cameras the chain has."""
    from fleetform.providers.visca.commands import ADDRESS_SET

    replies = line.queue(0)
    line.acquire(deadline, timeout, "Address_Set")
    try:
        _drain(replies)
        line.write(ADDRESS_SET)
        while True:
            reply = _get(replies, deadline, timeout, lambda: DeviceTimeout(
                f"no camera on {line.path} answered Address_Set within {timeout:g}s"))
            if isinstance(reply, codec.AddressSetReply):
                return reply.cameras
    finally:
        line.lock.release()


def camera_busy(error: Exception) -> bool:
    """41 (not executable now) or 03 (buffer full): the camera did NOT run the command."""
    return isinstance(error, codec.NotExecutable | codec.BufferFull)


def retry_busy(action: Callable[[], T], deadline: Deadline, *, attempts: int, pause: float,
               step: str, longest: float = 0.5) -> T:
    """Run ``action``, retrying while the camera answers 41 (not executable) or 03 (busy).

    Why always safe: with 41 or 03 the camera refused to start the command,
    so sending it again never runs it twice. Why bounded: a camera mid power
    transition refuses commands for a few seconds; one that refuses for
    longer than ``attempts`` tries (backoff from ``pause`` to ``longest``) is
    broken. ``step`` is kept for callers; the deadline bounds the waits.
    """
    policy = RetryPolicy(attempts=attempts, base_delay=pause, max_delay=longest,
                         jitter=pause / 2)
    return retry_call(action, deadline=deadline, policy=policy, retryable=camera_busy)


class PelcoSerial:
    """Pelco-D/P frames to one camera on a shared line (Pelco has no replies)."""

    def __init__(self, line: SerialLine, address: int, gap: float = 0.02) -> None:
        self.line = line
        self.address = address
        self.gap = gap
        self.endpoint = f"{line.path}#{address}"

    def send(self, frame: bytes, deadline: Deadline, what: str) -> None:
        """Write one frame under the line lock, then leave the camera a frame gap."""
        self.line.acquire(deadline, 5.0, what)
        try:
            self.line.write(frame)
            # 10 bits per byte on the wire, plus a gap so frames never run together.
            time.sleep(min(len(frame) * 10 / self.line.baud + self.gap, deadline.remaining()))
        finally:
            self.line.lock.release()
