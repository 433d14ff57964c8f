"""VISCA over IP (UDP 52381): sequence numbers, RESET and resend on timeout.

Why this shape:
- On connect the client sends control RESET so the camera's sequence counter
  and ours both start at 0.
- Each command gets the next sequence number; when no reply arrives in
  ``timeout`` the *same* datagram (same sequence number) is resent, at most
  ``retries`` times, so a camera that saw the first copy can recognise the
  duplicate instead of executing it twice.
- Replies are matched by sequence number. AVer's own examples always use
  sequence 0 and AVer cameras may reply with 0, so unless
  ``strict_sequence`` is set a reply with sequence 0 is accepted too; stale
  datagrams are drained before each send so a late duplicate is not taken
  for the next command's answer.
- ``0F 01`` (abnormal sequence number) triggers one RESET and a resend.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from fleetform.device import Deadline
from fleetform.errors import DeviceTimeout, DeviceUnreachable, ProtocolError
from fleetform.providers.visca import codec, ipframe


class UdpVisca:
    """VISCA over IP to one camera (always VISCA address 1)."""

    def __init__(self, host: str, port: int, *, timeout: float, retries: int,
                 move_timeout: float, strict_sequence: bool) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.move_timeout = move_timeout
        self.strict = strict_sequence
        self.endpoint = f"{host}:{port}"
        self.resends = 0
        self._sequence = 0
        self._connected = False
        self._lock = threading.Lock()
        try:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.connect((host, port))
        except OSError as exc:
            raise DeviceUnreachable(f"cannot reach {self.endpoint} over UDP: {exc}") from exc

    # --- plumbing ---------------------------------------------------------------------

    def _send(self, datagram: bytes) -> None:
        try:
            self._sock.send(datagram)
        except OSError as exc:
            raise DeviceUnreachable(f"sending to {self.endpoint} failed: {exc}") from exc

    def _recv(self, deadline: Deadline, cap: float) -> ipframe.IpMessage | None:
        """One datagram, or ``None`` on timeout; garbage is skipped."""
        self._sock.settimeout(deadline.timeout(cap))
        try:
            data = self._sock.recv(2048)
        except TimeoutError:
            return None
        except ConnectionRefusedError as exc:
            raise DeviceUnreachable(
                f"nothing listens on {self.endpoint} (UDP port unreachable)"
            ) from exc
        except OSError as exc:
            raise DeviceUnreachable(f"receiving from {self.endpoint} failed: {exc}") from exc
        try:
            return ipframe.decode(data)
        except ProtocolError:
            return ipframe.IpMessage(0, 0, b"")

    def _drain(self) -> None:
        self._sock.setblocking(False)
        try:
            while True:
                self._sock.recv(2048)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        except OSError:
            pass
        finally:
            self._sock.setblocking(True)

    def _matches(self, reply_sequence: int, sequence: int) -> bool:
        return reply_sequence == sequence or (not self.strict and reply_sequence == 0)

    def _timeout(self, name: str, what: str) -> DeviceTimeout:
        return DeviceTimeout(
            f"camera at {self.endpoint} did not {what} {name} after {self.retries + 1} "
            f"attempt(s) of {self.timeout:g}s (same sequence number resent)"
        )

    # --- control ----------------------------------------------------------------------

    def reset(self, deadline: Deadline) -> None:
        """Control RESET (resent on timeout); both sequence counters restart at 0."""
        datagram = ipframe.reset(0)
        self._drain()
        for _attempt in range(self.retries + 1):
            self._send(datagram)
            while (message := self._recv(deadline, self.timeout)) is not None:
                if (message.payload_type == ipframe.CONTROL_REPLY
                        and message.payload == ipframe.RESET_PAYLOAD):
                    self._sequence = 0
                    self._connected = True
                    return
            deadline.check("connect")
            self.resends += 1
        raise self._timeout("RESET", "acknowledge")

    # --- VISCA ------------------------------------------------------------------------

    def command(self, name: str, packet: bytes, deadline: Deadline, *, wait: bool = True) -> None:
        """Send a command; ACK then (when ``wait``) completion, resending on silence."""
        self._exchange(name, packet, deadline, inquiry=False, wait=wait)

    def inquire(self, name: str, packet: bytes, deadline: Deadline) -> bytes:
        """Send an inquiry (payload type 0110) and return the answer's data."""
        data = self._exchange(name, packet, deadline, inquiry=True, wait=True)
        assert data is not None
        return data

    def _exchange(self, name: str, packet: bytes, deadline: Deadline, *, inquiry: bool,
                  wait: bool) -> bytes | None:
        with self._lock:
            if not self._connected:
                self.reset(deadline)
            try:
                return self._attempts(name, packet, deadline, inquiry=inquiry, wait=wait)
            except ipframe.SequenceNumberError:
                # The camera lost track (rebooted?): resynchronise once.
                self.reset(deadline)
                return self._attempts(name, packet, deadline, inquiry=inquiry, wait=wait)

    def _attempts(self, name: str, packet: bytes, deadline: Deadline, *, inquiry: bool,
                  wait: bool) -> bytes | None:
        sequence = self._sequence
        self._sequence = (self._sequence + 1) & ipframe.MAX_SEQUENCE
        datagram = ipframe.encode(ipframe.payload_type_for(packet), sequence, packet)
        self._drain()
        self._send(datagram)
        acked: int | None = None
        attempts = 0
        while True:
            cap = self.move_timeout if acked is not None else self.timeout
            message = self._recv(deadline, cap)
            if message is None:
                attempts += 1
                deadline.check(name)
                if attempts > self.retries:
                    raise self._timeout(name, "complete" if acked is not None else "answer")
                self.resends += 1
                self._send(datagram)
                continue
            error = ipframe.control_exception(message)
            if error is not None:
                raise error
            if message.payload_type != ipframe.VISCA_REPLY or not self._matches(
                message.sequence, sequence
            ):
                continue
            try:
                reply = codec.decode_reply(message.payload)
            except ProtocolError:
                continue
            if isinstance(reply, codec.ErrorReply):
                raise reply.exception(name)
            if inquiry and isinstance(reply, codec.InquiryAnswer):
                return reply.data
            if isinstance(reply, codec.Ack) and not inquiry:
                if not wait:
                    return None
                acked = reply.socket
            elif isinstance(reply, codec.Completion) and not inquiry and (
                acked is None or reply.socket == acked
            ):
                return None

    def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(OSError):
            self._sock.close()
