"""The AVer camera simulator: pty daisy chains and VISCA-over-IP cameras.

Why: fleetform's tests, benchmarks and ``fleetform simulate`` need cameras
that behave like the documented ones (two sockets, ACK then completion,
movement that takes time, presets, power transitions, errors per model) and
that a test can change behind fleetform's back or make misbehave
(:class:`~fleetform.providers.visca.sim_camera.Faults`).

    with CameraSimulator() as sim:
        line = sim.add_line("room-a", [CameraConfig("cam1"), CameraConfig("cam2", address=2)])
        host, port = sim.add_udp(CameraConfig("cam3", host="127.0.0.5", port=0))
        sim.camera("cam1").set_power("standby")   # drift behind fleetform's back
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from fleetform.faults import FaultMap, coerce_knobs, unknown_devices
from fleetform.providers.visca.sim_camera import CameraConfig, Faults, SimCamera
from fleetform.providers.visca.sim_serial import LineProtocol, SimLine
from fleetform.providers.visca.sim_udp import SimUdpServer


class CameraSimulator:
    """Owns every simulated line and UDP camera; ``stop()`` ends them all."""

    def __init__(self) -> None:
        self._cameras: dict[str, SimCamera] = {}
        self._lines: dict[str, SimLine] = {}
        self._udp: SimUdpServer | None = None
        self._udp_addresses: dict[str, tuple[str, int]] = {}

    def __enter__(self) -> CameraSimulator:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _register(self, config: CameraConfig) -> SimCamera:
        if config.name in self._cameras:
            raise ValueError(f"a simulated camera named {config.name!r} already exists")
        camera = SimCamera(config)
        self._cameras[config.name] = camera
        return camera

    def add_line(self, name: str, configs: Sequence[CameraConfig], *,
                 protocol: LineProtocol = "visca", baud: int = 9600,
                 byte_timing: bool = False) -> SimLine:
        """A pty with ``configs`` daisy-chained on it (in chain order)."""
        if name in self._lines:
            raise ValueError(f"a simulated line named {name!r} already exists")
        addresses = [c.address for c in configs]
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"line {name}: camera addresses must be unique, got {addresses}")
        cameras = [self._register(c) for c in configs]
        line = SimLine(name, cameras, protocol=protocol, baud=baud, byte_timing=byte_timing)
        self._lines[name] = line
        return line.start()

    def add_udp(self, config: CameraConfig) -> tuple[str, int]:
        """A VISCA-over-IP camera on ``config.host:config.port``; returns the bound address."""
        if config.host is None:
            raise ValueError(f"camera {config.name}: a UDP camera needs a host")
        camera = self._register(config)
        if self._udp is None:
            self._udp = SimUdpServer().start()
        try:
            address = self._udp.add(camera, config.host, config.port)
        except OSError:
            del self._cameras[config.name]
            raise
        self._udp_addresses[config.name] = address
        return address

    def camera(self, name: str) -> SimCamera:
        """The simulated camera called ``name``."""
        return self._cameras[name]

    def set_faults(self, faults: FaultMap) -> None:
        """Set fault knobs per camera: ``{camera name: {knob: value}}`` (see :class:`Faults`).

        Every name and value is checked before any camera changes.
        """
        unknown_devices(faults, self._cameras)
        checked = {name: coerce_knobs(Faults, knobs, device=name)
                   for name, knobs in faults.items()}
        for name, knobs in checked.items():
            camera = self._cameras[name]
            with camera.lock:
                for knob, value in knobs.items():
                    setattr(camera.faults, knob, value)

    def line(self, name: str) -> SimLine:
        """The simulated line called ``name``."""
        return self._lines[name]

    def udp_address(self, name: str) -> tuple[str, int]:
        """Where UDP camera ``name`` listens."""
        return self._udp_addresses[name]

    def udp_stats(self, name: str) -> dict[str, int]:
        """Datagram counters of UDP camera ``name`` (received, dropped by faults)."""
        assert self._udp is not None
        return self._udp.stats(name)

    def stop(self) -> None:
        """Stop every line and UDP camera."""
        for line in self._lines.values():
            line.stop()
        self._lines.clear()
        if self._udp is not None:
            self._udp.stop()
            self._udp = None
