"""Start simulated TurretCams for the turretcam devices of a manifest.

Why: bridges ``fleetform simulate`` / ``demo`` to the camera simulator: each
device gets a factory-fresh camera at its manifest address and port, with
the manifest's ONVIF login. A device label ``model`` (e.g. ``5mp``) picks
the 5 Mp variant; the default is the 8 Mp one.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetform.device import DeviceSpec
from fleetform.faults import FaultMap
from fleetform.providers.onvif.models import TurretCamConnection
from fleetform.providers.onvif.sim_state import CameraConfig
from fleetform.providers.onvif.simulator import CameraSimulator
from fleetform.simulation import Endpoint, SimulationOptions, require_loopback

VARIANT_LABELS = {"5mp": "TurretCam (5 Mp/2.8 mm)", "8mp": "TurretCam (8 Mp/2.8 mm)"}


class RunningCameras:
    """The camera simulator started for a manifest."""

    def __init__(self, simulator: CameraSimulator, names: list[str]) -> None:
        self.simulator = simulator
        self._names = names

    @property
    def endpoints(self) -> list[Endpoint]:
        """Where each simulated camera listens now."""
        out = []
        for name in self._names:
            camera = self.simulator.camera(name)
            out.append(Endpoint(device=name, provider="turretcam",
                                description=f"http://{camera.host}:{camera.port}"
                                "/onvif/device_service"))
        return out

    def set_faults(self, faults: FaultMap) -> None:
        """Inject faults per camera: ``{device name: {knob: value}}`` (``sim_faults.Faults``)."""
        self.simulator.set_faults(faults)

    def stop(self) -> None:
        """Stop every simulated camera."""
        self.simulator.stop()


def camera_config(device: DeviceSpec, options: SimulationOptions) -> CameraConfig:
    """The simulated camera for one manifest device."""
    connection = device.connection
    assert isinstance(connection, TurretCamConnection)
    require_loopback(device, connection.host)
    model = VARIANT_LABELS.get(device.labels.get("model", "8mp").lower(),
                               VARIANT_LABELS["8mp"])
    return CameraConfig(
        name=device.name, host=connection.host, port=connection.port, model=model,
        username=connection.username, password=connection.password.get_secret_value(),
        network_delay=options.network_delay,
    )


def start_cameras(devices: Sequence[DeviceSpec], options: SimulationOptions) -> RunningCameras:
    """Start one simulator hosting every given camera (latency/jitter from ``options``)."""
    simulator = CameraSimulator()
    try:
        for device in devices:
            camera = simulator.add(camera_config(device, options))
            camera.set_faults(latency=options.latency, jitter=options.jitter)
    except BaseException:
        simulator.stop()
        raise
    return RunningCameras(simulator, [d.name for d in devices])


def set_faults(running: RunningCameras, faults: FaultMap) -> None:
    """Inject faults into running simulated cameras (what ``simulate --fault`` calls).

    ``faults`` maps a device name to knobs of :class:`~.sim_faults.Faults`,
    values as Python values or command-line text (``"0.5"``, ``"true"``).
    """
    running.set_faults(faults)
