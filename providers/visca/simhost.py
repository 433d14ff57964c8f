"""Start simulated AVer cameras for the ``aver`` devices of a manifest.

Why: bridges ``fleetform simulate`` / ``demo`` to the camera simulator.
- UDP cameras listen on their manifest ``host:port`` (loopback only).
- Serial cameras must say ``port: sim://LINE``: the simulator cannot know a
  pty's path in advance, so every camera naming the same LINE goes on one
  simulated daisy chain (by address), and the pty is published as the
  symlink ``<sim dir>/LINE`` (see :func:`transport.sim_dir`), which the
  provider resolves when it meets ``sim://LINE``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from fleetform.device import DeviceSpec
from fleetform.faults import FaultMap
from fleetform.providers.visca.models import AverConnection, AverSettings
from fleetform.providers.visca.sim_camera import CameraConfig, Faults
from fleetform.providers.visca.simulator import CameraSimulator
from fleetform.providers.visca.transport import SIM_SCHEME, sim_dir
from fleetform.simulation import Endpoint, SimulationOptions, SimulatorError, require_loopback


class RunningCameras:
    """The simulated cameras and lines started for a manifest."""

    def __init__(self, simulator: CameraSimulator, endpoints: list[Endpoint],
                 links: list[Path]) -> None:
        self.simulator = simulator
        self._endpoints = endpoints
        self._links = links

    @property
    def endpoints(self) -> list[Endpoint]:
        """Where each simulated camera answers."""
        return list(self._endpoints)

    def set_faults(self, faults: FaultMap) -> None:
        """Inject faults per camera: ``{device name: {knob: value}}`` (``sim_camera.Faults``)."""
        self.simulator.set_faults(faults)

    def stop(self) -> None:
        """Stop the cameras and remove the published ``sim://`` links."""
        self.simulator.stop()
        for link in self._links:
            with contextlib.suppress(OSError):
                link.unlink()


def _camera(device: DeviceSpec, options: SimulationOptions, **extra: object) -> CameraConfig:
    settings = device.settings
    assert isinstance(settings, AverSettings)
    return CameraConfig(
        name=device.name, model=settings.model, power_transition=options.restart_delay,
        completion_delay=min(0.05, options.network_delay / 4),
        faults=Faults(latency=options.latency, jitter=options.jitter),
        **extra,  # type: ignore[arg-type]
    )


def set_faults(running: RunningCameras, faults: FaultMap) -> None:
    """Inject faults into running simulated cameras (what ``simulate --fault`` calls).

    ``faults`` maps a device name to knobs of :class:`~.sim_camera.Faults`,
    values as Python values or command-line text (``"0.5"``, ``"true"``).
    """
    running.set_faults(faults)


def _line_name(device: DeviceSpec, connection: AverConnection) -> str:
    port = str(connection.port)
    if not port.startswith(SIM_SCHEME) or len(port) == len(SIM_SCHEME):
        raise SimulatorError(
            f"device '{device.name}': under 'fleetform simulate' a serial camera's port must be "
            f"'sim://LINE' (the simulator creates the pty), not '{port}'"
        )
    return port[len(SIM_SCHEME):]


def start_cameras(devices: Sequence[DeviceSpec], options: SimulationOptions) -> RunningCameras:
    """Start one simulator hosting every given camera."""
    simulator = CameraSimulator()
    endpoints: list[Endpoint] = []
    links: list[Path] = []
    lines: dict[str, list[DeviceSpec]] = {}
    try:
        for device in devices:
            connection = device.connection
            assert isinstance(connection, AverConnection)
            if connection.transport == "udp":
                assert connection.host is not None and isinstance(connection.port, int)
                require_loopback(device, connection.host)
                host, port = simulator.add_udp(_camera(
                    device, options, host=connection.host, port=connection.port,
                    sequence_mode="strict" if connection.strict_sequence else "zero"))
                endpoints.append(Endpoint(device.name, "aver", f"VISCA over IP udp://{host}:{port}"))
            else:
                lines.setdefault(_line_name(device, connection), []).append(device)
        directory = sim_dir()
        directory.mkdir(parents=True, exist_ok=True)
        for name, members in lines.items():
            links.append(_start_line(simulator, name, members, options, directory, endpoints))
    except BaseException:
        simulator.stop()
        for link in links:
            with contextlib.suppress(OSError):
                link.unlink()
        raise
    return RunningCameras(simulator, endpoints, links)


def _start_line(simulator: CameraSimulator, name: str, members: list[DeviceSpec],
                options: SimulationOptions, directory: Path, endpoints: list[Endpoint]) -> Path:
    connections = [m.connection for m in members]
    assert all(isinstance(c, AverConnection) for c in connections)
    kinds = {(c.transport, c.baud) for c in connections if isinstance(c, AverConnection)}
    if len(kinds) != 1:
        raise SimulatorError(
            f"simulated line '{name}': every camera on one line must use the same transport "
            f"and baud, got {sorted(kinds)}"
        )
    transport, baud = kinds.pop()
    protocol = "visca" if transport == "serial" else transport
    ordered = sorted(members, key=lambda m: getattr(m.connection, "address", 1))
    configs = [_camera(m, options, address=getattr(m.connection, "address", 1),
                       protocol=protocol) for m in ordered]
    line = simulator.add_line(name, configs, protocol=protocol, baud=baud)  # type: ignore[arg-type]
    link = directory / name
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(line.path)
    for member in ordered:
        address = getattr(member.connection, "address", 1)
        endpoints.append(Endpoint(member.name, "aver",
                                  f"{transport} sim://{name} -> {line.path} address {address} "
                                  f"({baud} baud)"))
    return link
