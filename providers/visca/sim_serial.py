"""A simulated RS-232 daisy chain on a pseudo-terminal.

Why a pty: fleetform's serial transport opens a real device path with
pyserial, exactly as it would ``/dev/ttyUSB0``; ``os.openpty()`` gives such a
path with no hardware and no root. One thread per line serves every camera
on the chain, sorting incoming frames by address byte and writing replies
when the cameras' schedules say so.

With ``byte_timing`` the line behaves like a real wire: every byte costs 10
bit times at the baud rate in each direction (8N1), frames queue behind one
another, and replies from different cameras cannot overlap on the way back.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import selectors
import threading
import time
import tty
from typing import Literal

from fleetform.errors import ProtocolError
from fleetform.providers.visca import pelco
from fleetform.providers.visca.commands import ADDRESS_SET, IF_CLEAR_BROADCAST
from fleetform.providers.visca.sim_camera import SimCamera

LineProtocol = Literal["visca", "pelco-d", "pelco-p"]


class SimLine:
    """One pty serving a chain of up to seven simulated cameras."""

    def __init__(self, name: str, cameras: list[SimCamera], *, protocol: LineProtocol = "visca",
                 baud: int = 9600, byte_timing: bool = False) -> None:
        if not 1 <= len(cameras) <= 7:
            raise ValueError(f"a daisy chain holds 1-7 cameras, not {len(cameras)}")
        self.name = name
        self.cameras = cameras
        self.protocol = protocol
        self.baud = baud
        self.byte_timing = byte_timing
        self.bytes_in = 0
        self.bytes_out = 0
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._events: list[tuple[float, int, str, bytes]] = []
        self._counter = itertools.count()
        self._in_free = 0.0
        self._out_free = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim-line-{name}", daemon=True)

    def start(self) -> SimLine:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the pty."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def wire_time(self, size: int) -> float:
        """Seconds ``size`` bytes take on the wire (10 bits per byte, 8N1)."""
        return size * 10 / self.baud

    # --- the loop ---------------------------------------------------------------------

    def _push(self, when: float, kind: str, data: bytes) -> None:
        heapq.heappush(self._events, (when, next(self._counter), kind, data))

    def _run(self) -> None:
        # A selector, not select.select(): select() cannot watch a descriptor
        # numbered above 1023, which a process simulating a big fleet has.
        with selectors.DefaultSelector() as selector:
            selector.register(self._master, selectors.EVENT_READ)
            self._loop(selector)

    def _loop(self, selector: selectors.BaseSelector) -> None:
        buffer = bytearray()
        while not self._stop.is_set():
            now = time.monotonic()
            wait = 0.05 if not self._events else max(0.0, min(0.05, self._events[0][0] - now))
            try:
                if selector.select(wait):
                    buffer += os.read(self._master, 4096)
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
                time.sleep(0.01)
                continue
            now = time.monotonic()
            for frame in self._frames(buffer):
                self.bytes_in += len(frame)
                arrival = now
                if self.byte_timing:
                    arrival = max(now, self._in_free) + self.wire_time(len(frame))
                    self._in_free = arrival
                self._push(arrival, "in", frame)
            self._due(time.monotonic())

    def _due(self, now: float) -> None:
        while self._events and self._events[0][0] <= now:
            when, _, kind, data = heapq.heappop(self._events)
            if kind == "in":
                self._dispatch(data, now)
            elif kind == "out" and self.byte_timing:
                done = max(when, self._out_free) + self.wire_time(len(data))
                self._out_free = done
                self._push(done, "write", data)
            else:
                self._write(data)

    def _write(self, data: bytes) -> None:
        self.bytes_out += len(data)
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _frames(self, buffer: bytearray) -> list[bytes]:
        frames: list[bytes] = []
        if self.protocol == "visca":
            while (end := buffer.find(0xFF)) >= 0:
                frames.append(bytes(buffer[: end + 1]))
                del buffer[: end + 1]
            return frames
        sync = pelco.D_SYNC if self.protocol == "pelco-d" else pelco.P_STX
        size = pelco.frame_length(self.protocol)
        while True:
            start = buffer.find(sync)
            if start < 0:
                buffer.clear()
                return frames
            del buffer[:start]
            if len(buffer) < size:
                return frames
            frames.append(bytes(buffer[:size]))
            del buffer[:size]

    def _dispatch(self, frame: bytes, now: float) -> None:
        if self.protocol != "visca":
            self._dispatch_pelco(frame, now)
            return
        if frame == ADDRESS_SET:
            online = [c for c in self.cameras if not c.faults.offline]
            for index, camera in enumerate(self.cameras):
                camera.address = index + 1
            if online:
                self._push(now, "out", bytes((0x88, 0x30, len(self.cameras) + 1, 0xFF)))
            return
        if frame == IF_CLEAR_BROADCAST:
            for camera in self.cameras:
                camera.busy_until = [0.0, 0.0]
            self._push(now, "out", frame)
            return
        header = frame[0]
        if header >> 4 != 0x8:
            return  # line noise
        for camera in self.cameras:
            if camera.address == header & 0x0F:
                for when, data in camera.handle_visca(frame, now, "serial"):
                    self._push(when, "out", data)
                return

    def _dispatch_pelco(self, frame: bytes, now: float) -> None:
        assert self.protocol in ("pelco-d", "pelco-p")
        try:
            message = pelco.decode(self.protocol, frame)
        except ProtocolError:  # bad checksum: a real camera ignores the frame
            return
        for camera in self.cameras:
            if camera.address == message.address:
                camera.handle_pelco(message, now)
