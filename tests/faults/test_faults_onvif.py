"""Ajax TurretCam (ONVIF) under injected faults, through the real engine, over HTTP.

Each test checks: completed, or failed naming the camera and step; every step
the apply reports done is held by the simulated camera (and state records
only identity and address: every ONVIF setting is read back, none tracked);
a second apply converges; retries are counted in the camera's ``received``
log of operations.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import next_subnet
from faults_helpers import Engine, failed_at, outcome, plan_failed_at

from fleetform.applier import ApplyReport
from fleetform.providers.onvif.client import RETRIES
from fleetform.providers.onvif.provider import TurretCamProvider
from fleetform.providers.onvif.sim_state import CameraConfig, CameraState
from fleetform.providers.onvif.simhost import set_faults, start_cameras
from fleetform.providers.onvif.simulator import CameraSimulator, SimulatedCamera
from fleetform.simulation import SimulationOptions, SimulatorError

PASSWORD = "Onvif-Fault-7"
SETTINGS: dict[str, Any] = {
    "video": {"main": {"bitrate": 3000, "gop": 40}},
    "image": {"brightness": 70, "contrast": 40},
    "osd": {"name": "Shop door", "timestamp": True},
    "ntp": ["10.0.0.1"],
}
#: Step -> does the camera hold the desired value?
HOLDS: dict[str, Callable[[CameraState], bool]] = {
    "video": lambda s: (s.encoders["main"].bitrate, s.encoders["main"].gop) == (3000, 40),
    "image": lambda s: (s.imaging.brightness, s.imaging.contrast) == (70, 40),
    "osd": lambda s: sorted((o.kind, o.text) for o in s.osds if o.kind == "Plain") == [
        ("Plain", "Shop door")],
    "ntp": lambda s: s.ntp == ["10.0.0.1"],
}


class Rig:
    """One simulated camera and the engine pointed at it."""

    def __init__(self, tmp_path: Path, simulator: CameraSimulator, *,
                 request_timeout: float = 2.0) -> None:
        self.camera: SimulatedCamera = simulator.add(CameraConfig(
            name="cam", host=f"{next_subnet()}.1", port=0, password=PASSWORD,
            network_delay=0.05))
        device = {"name": "cam", "provider": "turretcam", "settings": SETTINGS,
                  "connection": {"host": self.camera.host, "port": self.camera.port,
                                 "username": "admin", "password": PASSWORD,
                                 "timeout": request_timeout}}
        self.engine = Engine(tmp_path, "turretcam", TurretCamProvider, [device])
        self.mark = 0

    def faults(self, **knobs: object) -> None:
        """Set knobs, and start counting requests from here."""
        self.camera.set_faults(**knobs)
        self.mark = len(self.camera.received)

    def count(self, operation: str) -> int:
        """Requests for ``operation`` since the last :meth:`faults`."""
        return self.camera.received[self.mark:].count(operation)

    def assert_state_matches(self, report: ApplyReport | None = None) -> None:
        """Done steps are held by the camera; state tracks nothing and names the real camera."""
        if report is not None:
            for step in outcome(report, "cam").steps:
                assert HOLDS[step](self.camera.state), step
        record = self.engine.record("cam")
        if record is not None:
            assert record["tracked"] == {}
            assert record["identity"]["serial"] == self.camera.serial
            assert record["address"] == self.camera.host
        assert PASSWORD not in str(self.engine.state_file())

    def assert_untouched(self, *steps: str) -> None:
        for step in steps:
            assert not HOLDS[step](self.camera.state), step


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with CameraSimulator() as simulator:
        setup = Rig(tmp_path, simulator)
        yield setup
        setup.engine.close()


def wait_listening(camera: SimulatedCamera) -> None:
    """Until a rebooting camera accepts connections again (the test's pace only)."""
    for _ in range(200):
        try:
            socket.create_connection((camera.host, camera.port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the simulated camera did not come back")


def test_dropped_and_empty_replies_to_idempotent_calls_are_retried(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(drop_next=1, target="SetImagingSettings")
    report = rig.engine.apply(planned)
    assert report.ok, [d.failure for d in report.devices]
    assert rig.count("SetImagingSettings") == 2  # dropped unprocessed, sent again
    rig.assert_state_matches(report)
    rig.faults(empty_next=1, target="GetProfiles")
    assert not rig.engine.plan().plan.has_changes
    assert rig.count("GetProfiles") == 2


def test_retries_are_bounded_and_later_steps_do_not_run(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(drop_next=1000, target="SetVideoEncoderConfiguration")
    report = rig.engine.apply(planned)
    failure = failed_at(report, "cam", "video")
    assert failure.kind == "DeviceUnreachable"
    assert f"gave up after {RETRIES.attempts} attempts" in failure.message
    assert rig.count("SetVideoEncoderConfiguration") == RETRIES.attempts
    rig.assert_untouched("video", "image", "osd", "ntp")
    rig.assert_state_matches(report)
    rig.faults(drop_next=0)
    report = rig.engine.converge()
    rig.assert_state_matches(report)


def test_create_is_never_repeated_blindly(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(drop_next=1, target="CreateOSD")
    report = rig.engine.apply(planned)
    failed_at(report, "cam", "osd")
    assert rig.count("CreateOSD") == 1
    assert outcome(report, "cam").steps == ("video", "image")
    rig.assert_state_matches(report)
    rig.engine.converge()
    assert HOLDS["osd"](rig.camera.state)  # exactly one camera-name OSD, no duplicate


def test_onvif_fault_fails_the_step_and_is_not_retried(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(fault_next=1, fault_subcode="ConfigModify", target="SetImagingSettings")
    report = rig.engine.apply(planned)
    failure = failed_at(report, "cam", "image")
    assert failure.kind == "DeviceRejected" and "ter:ConfigModify" in failure.message
    assert rig.count("SetImagingSettings") == 1
    rig.assert_state_matches(report)
    rig.assert_untouched("image", "osd", "ntp")
    rig.engine.converge()


def test_auth_failure_fails_the_read_without_retries(rig: Rig) -> None:
    rig.faults(auth_fail_next=1000)
    failure = plan_failed_at(rig.engine.plan(), "cam", "read")
    assert failure.kind == "AuthError" and PASSWORD not in failure.message
    # one request and the digest client's one answer to the challenge; no retry on top
    assert rig.count("GetDeviceInformation") == 2
    assert rig.engine.record("cam") is None
    rig.faults(auth_fail_next=0)
    rig.assert_state_matches(rig.engine.converge())


def test_reboot_mid_apply_completes_the_device(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(reboot_after=1, reboot_seconds=0.3, target="SetImagingSettings")
    report = rig.engine.apply(planned)
    assert report.ok, [d.failure for d in report.devices]
    assert rig.camera.reboots == 1
    assert 2 <= rig.count("SetImagingSettings") <= RETRIES.attempts
    rig.assert_state_matches(report)
    assert not rig.engine.plan().plan.has_changes


def test_long_reboot_fails_the_step_then_converges(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(reboot_after=1, reboot_seconds=1.5, target="SetImagingSettings")
    report = rig.engine.apply(planned)
    failure = failed_at(report, "cam", "image")
    assert failure.kind in ("DeviceUnreachable", "DeviceTimeout")
    assert rig.count("SetImagingSettings") == 1  # the others were refused: camera off
    rig.assert_untouched("image", "osd", "ntp")
    rig.assert_state_matches(report)
    wait_listening(rig.camera)
    rig.engine.restart_provider()
    rig.assert_state_matches(rig.engine.converge())


def test_slow_replies(tmp_path: Path) -> None:
    with CameraSimulator() as simulator:
        rig = Rig(tmp_path, simulator, request_timeout=0.3)
        try:
            rig.faults(latency=0.6)
            failure = plan_failed_at(rig.engine.plan(), "cam", "read")
            assert failure.kind == "DeviceTimeout"
            assert rig.count("GetSystemDateAndTime") == RETRIES.attempts
            rig.faults(latency=0.02, jitter=0.02)
            rig.assert_state_matches(rig.engine.converge())
        finally:
            rig.engine.close()


def test_camera_that_ignores_sets_fails_verification(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults(ignore_sets="true")
    report = rig.engine.apply(planned)
    assert failed_at(report, "cam", "video").kind == "VerificationError"
    rig.assert_untouched("video")
    rig.faults(ignore_sets=False)
    rig.engine.converge()


def test_simhost_takes_latency_from_options_and_faults_per_device(tmp_path: Path) -> None:
    host = f"{next_subnet()}.1"
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    device = {"name": "sim-cam", "provider": "turretcam", "settings": {"ntp": ["10.0.0.9"]},
              "connection": {"host": host, "port": port, "username": "admin",
                             "password": PASSWORD}}
    engine = Engine(tmp_path, "turretcam", TurretCamProvider, [device])
    running = start_cameras(engine.devices, SimulationOptions(latency=0.01, jitter=0.01))
    try:
        camera = running.simulator.camera("sim-cam")
        assert (camera.network.latency, camera.network.jitter) == (0.01, 0.01)
        set_faults(running, {"sim-cam": {"drop_next": "1"}})
        assert camera.network.drop_next == 1
        engine.converge()
        with pytest.raises(SimulatorError, match="unknown fault knob"):
            set_faults(running, {"sim-cam": {"drop": 1}})
        with pytest.raises(SimulatorError, match="no simulated device"):
            set_faults(running, {"other": {"offline": True}})
    finally:
        engine.close()
        running.stop()
