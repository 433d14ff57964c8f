"""Integration: the TurretCam provider through the real engine, over HTTP, against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import next_subnet

from fleetform.applier import ApplyReport, apply_fleet
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.planner import PlannedFleet, RunOptions, plan_fleet
from fleetform.providers.onvif.provider import TurretCamProvider
from fleetform.providers.onvif.sim_state import (
    VENDOR_NS,
    CameraConfig,
    CameraState,
    MaskState,
)
from fleetform.providers.onvif.simulator import CameraSimulator, SimulatedCamera
from fleetform.state import LocalStateBackend

PASSWORD = "Onvif-Secret-1"
FULL: dict[str, Any] = {
    "video": {
        "main": {"codec": "H.264", "resolution": "1920x1080", "fps": 20, "rate_control": "CBR",
                 "bitrate": 3000, "gop": 40, "quality": 70},
        "sub": {"codec": "H.265", "resolution": "720x480", "fps": 10},
    },
    "image": {"brightness": 60, "saturation": 40, "sharpness": 55, "contrast": 45,
              "rotation": 180, "wdr": {"enabled": True, "level": 3}, "day_night": "night",
              "exposure": {"mode": "manual", "shutter_us": 2000},
              "noise_reduction": {"enabled": True, "level": 30}},
    "osd": {"name": "Вхід магазин", "timestamp": True},
    "privacy_zones": [{"x": 0.1, "y": 0.1, "width": 0.2, "height": 0.3},
                      {"x": 0.5, "y": 0.5, "width": 0.25, "height": 0.25}],
    "time_zone": "Europe/Kyiv",
    "ntp": ["pool.ntp.org", "10.0.0.1"],
}


class Rig:
    """Simulated cameras, a manifest pointing at them, and a state file."""

    def __init__(self, tmp_path: Path, simulator: CameraSimulator) -> None:
        self.tmp_path = tmp_path
        self.simulator = simulator
        self.subnet = next_subnet()
        self.cameras: list[SimulatedCamera] = []
        self.backend = LocalStateBackend(tmp_path / "state" / "state.json")
        self.provider = TurretCamProvider()
        self.manifest_path = tmp_path / "shop.yaml"

    def camera(self, settings: dict[str, Any], *, password: str = PASSWORD,
               **config: Any) -> SimulatedCamera:
        index = len(self.cameras) + 1
        cam = self.simulator.add(CameraConfig(name=f"cam-{index}",
                                              host=f"{self.subnet}.{index}", port=0,
                                              password=PASSWORD, network_delay=0.05, **config))
        cam.settings = settings  # type: ignore[attr-defined]
        cam.login = password  # type: ignore[attr-defined]
        self.cameras.append(cam)
        return cam

    def write_manifest(self) -> None:
        devices = [{
            "name": cam.config.name, "provider": "turretcam",
            "connection": {"host": cam.config.host, "port": cam.port, "username": "admin",
                           "password": cam.login, "timeout": 3,  # type: ignore[attr-defined]
                           "move_timeout": 10},
            "settings": cam.settings,  # type: ignore[attr-defined]
        } for cam in self.cameras]
        self.manifest_path.write_text(json.dumps({"devices": devices}, ensure_ascii=False),
                                      encoding="utf-8")

    def plan(self) -> PlannedFleet:
        self.write_manifest()
        manifest = load_manifest(self.manifest_path,
                                 providers=provider_models_from({"turretcam": TurretCamProvider}))
        self.devices = manifest.devices
        return plan_fleet(manifest.devices, {"turretcam": self.provider}, self.backend.read(),
                          manifest=str(self.manifest_path),
                          options=RunOptions(parallelism=4, timeout=30))

    def apply(self, planned: PlannedFleet) -> ApplyReport:
        with self.backend.lock("apply", 0):
            return apply_fleet(planned, self.devices, {"turretcam": self.provider},
                               self.backend, self.backend.read(),
                               options=RunOptions(parallelism=4, timeout=30))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with CameraSimulator() as simulator:
        setup = Rig(tmp_path, simulator)
        yield setup
        setup.provider.close()


def failure(planned: PlannedFleet) -> str:
    (device,) = planned.plan.devices
    assert device.failure is not None, "expected the device to fail"
    return f"{device.failure.kind} {device.failure.step}: {device.failure.message}"


def apply_failure(report: ApplyReport) -> str:
    (device,) = report.devices
    assert device.failure is not None, "expected the apply to fail"
    return f"{device.failure.kind} {device.failure.step}: {device.failure.message}"


def test_plan_apply_replan_clean_keeps_vendor_extensions(rig: Rig) -> None:
    cam = rig.camera(FULL, model="TurretCam (8 Mp/2.8 mm)")
    planned = rig.plan()
    assert not planned.plan.failed
    paths = {c.path for c in planned.plan.devices[0].actionable}
    assert {"video.main.codec", "image.rotation", "osd.name", "privacy_zones[1].x",
            "time_zone", "ntp[1]"} <= paths
    report = rig.apply(planned)
    assert report.ok, report.devices
    assert rig.plan().plan.has_changes is False
    # unmanaged content survived read-modify-write, and no request carried both auth kinds
    assert [e.tag for e in cam.state.encoders["main"].extras] == [f"{{{VENDOR_NS}}}SmartCodec"]
    assert cam.state.imaging.white_balance == "AUTO"
    assert cam.state.time_zone == "EET-2EEST,M3.5.0/3,M10.5.0/4"
    assert {entry.auth for entry in cam.log} <= {"none", "digest"}
    state = rig.backend.read().record("cam-1")
    assert state is not None and state.identity["serial"] == cam.serial


def test_drift_behind_fleetforms_back_is_found(rig: Rig) -> None:
    cam = rig.camera({"video": {"main": {"bitrate": 3000}}, "image": {"brightness": 70},
                      "privacy_zones": []})
    assert rig.apply(rig.plan()).ok

    def meddle(state: CameraState) -> None:
        state.encoders["main"].bitrate = 5000
        state.imaging.brightness = 20
        state.masks.append(MaskState("m9", [(-1, 1), (0, 1), (0, 0), (-1, 0)]))

    cam.mutate(meddle)
    changes = {c.path: (c.before, c.after) for c in rig.plan().plan.devices[0].actionable}
    assert changes["video.main.bitrate"] == (5000, 3000)
    assert changes["image.brightness"] == (20, 70)
    assert "privacy_zones[0].x" in changes


@pytest.mark.parametrize(("operation", "subcode", "settings", "expected"), [
    ("SetImagingSettings", "InvalidArgVal", {"image": {"contrast": 10}},
     "set image (SetImagingSettings)"),
    ("SetVideoEncoderConfiguration", "ConfigModify", {"video": {"main": {"gop": 10}}},
     "set video.main"),
    ("CreateMask", "MaxMasks", {"privacy_zones": [{"x": 0, "y": 0, "width": .1, "height": .1}]},
     "maximum number of privacy masks"),
    ("SetNTP", "ActionNotSupported", {"ntp": ["10.1.1.1"]}, "does not support"),
])
def test_camera_faults_become_clear_per_device_errors(rig: Rig, operation: str, subcode: str,
                                                      settings: dict[str, Any],
                                                      expected: str) -> None:
    cam = rig.camera(settings)
    cam.inject_fault(operation, subcode, "refused by test")
    report = rig.apply(rig.plan())
    message = apply_failure(report)
    assert "DeviceRejected" in message and expected in message
    assert f"ter:{subcode}" in message and "refused by test" in message


def test_bitrate_outside_the_cameras_options_fails_at_plan(rig: Rig) -> None:
    rig.camera({"video": {"sub": {"bitrate": 4000}}})
    planned = rig.plan()
    assert "video.sub.bitrate 4000 is outside this camera's range 64-2048" in failure(planned)


def test_user_without_admin_rights_gets_not_authorized(rig: Rig) -> None:
    rig.camera({"osd": {"timestamp": False}}, user_level="User")
    message = apply_failure(rig.apply(rig.plan()))
    assert message.startswith("AuthError osd")
    assert "ter:NotAuthorized" in message


@pytest.mark.parametrize("digest", [True, False])
def test_wrong_password_is_reported_as_such(rig: Rig, digest: bool) -> None:
    rig.camera({"ntp": ["10.0.0.1"]}, password="not-the-password", digest=digest)
    message = failure(rig.plan())
    assert message.startswith("AuthError read")
    assert "wrong username or password" in message
    assert "not-the-password" not in message


def test_5mp_model_rejects_3840x2160_at_plan_time(rig: Rig) -> None:
    cam = rig.camera({"video": {"main": {"resolution": "3840x2160"}}},
                     model="TurretCam (5 Mp/4 mm)")
    message = failure(rig.plan())
    assert message.startswith("DeviceRejected plan")
    assert "3840x2160 is not supported by this TurretCam (5 Mp/4 mm)" in message
    assert not any(e.operation.startswith("Set") for e in cam.log)


def test_accepted_but_ignored_set_is_a_verification_error(rig: Rig) -> None:
    cam = rig.camera({"image": {"brightness": 90}})
    cam.ignore_sets = True
    message = apply_failure(rig.apply(rig.plan()))
    assert message.startswith("VerificationError image")
    assert "image.brightness is 50, wanted 90" in message


def test_username_token_fallback_with_clock_skew_when_digest_is_off(rig: Rig) -> None:
    cam = rig.camera({"osd": {"name": "Till"}, "time_zone": "UTC"}, digest=False,
                     clock_offset=-7200.0, clock_window=30.0)
    planned = rig.plan()
    assert not planned.plan.failed
    assert rig.apply(planned).ok
    assert not rig.plan().plan.has_changes
    kinds = {entry.auth for entry in cam.log}
    assert "token" in kinds and "both" not in kinds and "digest" not in kinds
    assert cam.state.osds[-1].text == "Till"


def test_network_change_is_awaited_at_the_new_address(rig: Rig) -> None:
    new_address = f"{rig.subnet}.200"
    cam = rig.camera({"network": {"mode": "static", "address": new_address, "prefix": 8,
                                  "gateway": "127.0.0.1", "dns": ["127.0.0.53"],
                                  "hostname": "shop-cam"}, "ntp": ["10.0.0.2"]})
    report = rig.apply(rig.plan())
    assert report.ok, report.devices
    assert report.devices[0].address == new_address
    assert cam.host == new_address
    record = rig.backend.read().record("cam-1")
    assert record is not None and record.address == new_address
    # the manifest host no longer answers; the next plan finds it at the recorded address
    replanned = rig.plan()
    assert not replanned.plan.failed and not replanned.plan.has_changes
