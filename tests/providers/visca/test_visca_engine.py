"""AVer cameras through the real engine: plan -> apply -> plan, drift, failures.

Cameras are simulated on a real pty (pyserial opens the slave path) and on
real UDP sockets on a per-test loopback subnet; the engine runs in-process
with a LocalStateBackend in tmp_path, as benchmarks/farm.py does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import next_subnet

from fleetform.applier import ApplyReport, apply_fleet
from fleetform.errors import ManifestError
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.manifest.loader import Manifest
from fleetform.planner import PlannedFleet, RunOptions, plan_fleet
from fleetform.providers.visca.provider import AverProvider
from fleetform.providers.visca.sim_camera import CameraConfig
from fleetform.providers.visca.simhost import start_cameras
from fleetform.providers.visca.simulator import CameraSimulator
from fleetform.simulation import SimulationOptions
from fleetform.state import LocalStateBackend

MODELS = provider_models_from({"aver": AverProvider})
FAST = {"timeout": 0.5, "move_timeout": 5}


class Rig:
    """A manifest, a provider and a state file around one simulator."""

    def __init__(self, tmp_path: Path, sim: CameraSimulator) -> None:
        self.tmp_path = tmp_path
        self.sim = sim
        self.provider = AverProvider()
        self.backend = LocalStateBackend(tmp_path / "state.json")
        self.manifest: Manifest | None = None

    def write(self, devices: list[dict[str, Any]]) -> Manifest:
        import json

        path = self.tmp_path / "cams.yaml"
        path.write_text(json.dumps({"devices": devices}, indent=1), encoding="utf-8")
        self.manifest = load_manifest(path, providers=MODELS)
        return self.manifest

    def plan(self, **options: Any) -> PlannedFleet:
        assert self.manifest is not None
        return plan_fleet(self.manifest.devices, {"aver": self.provider}, self.backend.read(),
                          manifest="cams.yaml",
                          options=RunOptions(timeout=60, provider_options=options))

    def apply(self, planned: PlannedFleet) -> ApplyReport:
        assert self.manifest is not None
        return apply_fleet(planned, self.manifest.devices, {"aver": self.provider}, self.backend,
                           self.backend.read(), options=RunOptions(timeout=60))

    def converge(self, **options: Any) -> ApplyReport:
        report = self.apply(self.plan(**options))
        assert report.ok, [d.failure for d in report.devices]
        again = self.plan(**options)
        assert not again.plan.failed
        assert not again.plan.has_changes, [d.changes for d in again.plan.devices]
        return report


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    sim = CameraSimulator()
    rig = Rig(tmp_path, sim)
    try:
        yield rig
    finally:
        rig.provider.close()
        sim.stop()


def serial_device(name: str, path: str, address: int, model: str,
                  **settings: Any) -> dict[str, Any]:
    return {"name": name, "provider": "aver",
            "connection": {"transport": "serial", "port": path, "address": address, **FAST},
            "settings": {"model": model, **settings}}


def udp_device(name: str, host: str, port: int, model: str, strict: bool = False,
               **settings: Any) -> dict[str, Any]:
    return {"name": name, "provider": "aver",
            "connection": {"transport": "udp", "host": host, "port": port,
                           "strict_sequence": strict, "timeout": 0.3, "retries": 4,
                           "move_timeout": 5},
            "settings": {"model": model, **settings}}


def presets(base: int, count: int) -> dict[str, Any]:
    return {str(n): {"pan": base + 100 * n, "tilt": -50 * n, "zoom": 200 * n, "name": f"p{n}"}
            for n in range(1, count + 1)}


def test_seven_camera_daisy_chain_converges(rig: Rig) -> None:
    models = ["CAM520 Pro", "CAM520 Pro3", "VC520 Pro", "CAM540", "VB342+", "VB350", "CAM570"]
    line = rig.sim.add_line("chain", [CameraConfig(f"cam{i}", model=m, address=i)
                                      for i, m in enumerate(models, 1)])
    devices = [serial_device(f"cam{i}", line.path, i, m, power="on", focus_mode="auto",
                             white_balance="one_push", presets=presets(i * 1000, 3),
                             tracking={"mode": "auto"})
               for i, m in enumerate(models, 1)]
    rig.write(devices)
    report = rig.converge()
    assert {d.status for d in report.devices} == {"applied"}
    for i in range(1, 8):
        camera = rig.sim.camera(f"cam{i}")
        assert camera.presets[2] == (i * 1000 + 200, -100, 400)
        assert camera.modes["tracking"] == "auto"
        assert camera.modes["white_balance"] == "one_push"


def test_modes_pip_audio_and_tracking_over_serial(rig: Rig) -> None:
    line = rig.sim.add_line("room", [CameraConfig("c570", model="CAM570", address=1),
                                     CameraConfig("vb", model="VB342 Pro", address=2)])
    rig.write([
        serial_device("c570", line.path, 1, "CAM570", backlight="on", exposure_mode="auto",
                      pip={"usb": "ptz_ai_bottom_right", "hdmi": "ai"},
                      tracking={"mode": "presentation"}),
        serial_device("vb", line.path, 2, "VB342 Pro", audio={"mute": True, "volume": 8},
                      tracking={"mode": "manual", "start_position": "center"}),
    ])
    rig.converge()
    c570, vb = rig.sim.camera("c570"), rig.sim.camera("vb")
    assert (c570.modes["pip_usb"], c570.modes["pip_hdmi"]) == (0x02, 0x01)
    assert c570.modes["tracking"] == "presentation" and c570.modes["backlight_wdr"] == "on"
    assert vb.modes["volume"] == 8 and vb.modes["mute"] is True
    assert vb.modes["start_position"] == 0x0A
    # Volume is readable on the VB342 Pro: a change behind our back is found.
    vb.modes["volume"] = 3
    changes = rig.plan().plan.devices[1].changes
    assert [(c.path, c.before, c.after) for c in changes] == [("audio.volume", 3, 8)]


def test_power_drift_found_by_plain_plan_over_udp(rig: Rig) -> None:
    subnet = next_subnet()
    host, port = rig.sim.add_udp(CameraConfig("fone", model="FONE700", host=f"{subnet}.1",
                                              port=0, sequence_mode="zero"))
    rig.write([udp_device("fone", host, port, "FONE700", power="on", presets=presets(0, 2))])
    rig.converge()
    rig.sim.camera("fone").set_power("standby")
    planned = rig.plan()
    assert [(c.path, c.before, c.after) for c in planned.plan.devices[0].changes] == [
        ("power", "standby", "on")]
    report = rig.apply(planned)
    assert report.ok and report.devices[0].steps == ("power",)
    assert rig.sim.camera("fone").snapshot(0)["power"] in ("on", "standby")
    rig.converge()


def test_preset_drift_needs_verify_presets(rig: Rig) -> None:
    subnet = next_subnet()
    host, port = rig.sim.add_udp(CameraConfig("cam", model="CAM520 Pro", host=f"{subnet}.1",
                                              port=0, sequence_mode="strict"))
    rig.write([udp_device("cam", host, port, "CAM520 Pro", strict=True, presets=presets(0, 3))])
    rig.converge(verify_presets=True)
    camera = rig.sim.camera("cam")
    camera.move_to(-777, 55, 1234)
    camera.set_preset(2, 9999, 10, 20)  # someone re-stored preset 2 with the remote
    assert not rig.plan().plan.has_changes  # write-only without the flag
    planned = rig.plan(verify_presets=True)
    changed = {c.path: (c.before, c.after) for c in planned.plan.devices[0].changes}
    assert changed == {"presets.2.pan": (9999, 200), "presets.2.tilt": (10, -100),
                       "presets.2.zoom": (20, 400)}
    # verifying moved the lens, then put it back where it was
    assert camera.position(1e12) == (-777, 55, 1234)
    report = rig.apply(planned)
    assert report.ok, report.devices[0].failure
    assert camera.presets[2] == (200, -100, 400)
    rig.converge(verify_presets=True)


def test_unsupported_setting_rejected_naming_models(tmp_path: Path) -> None:
    rig = Rig(tmp_path, CameraSimulator())
    with pytest.raises(ManifestError) as caught:
        rig.write([serial_device("c", "/dev/null", 1, "CAM520 Pro", pip={"usb": "ai"},
                                 tracking={"mode": "presentation"})])
    text = str(caught.value)
    assert "pip.usb" in text and "CAM550, CAM570" in text
    assert "tracking.mode 'presentation'" in text and "CAM570, VB342 Pro, VB350" in text
    with pytest.raises(ManifestError) as caught:
        rig.write([serial_device("c", "/dev/null", 1, "CAM520 Pro3", backlight="on")])
    assert "use 'wdr'" in str(caught.value)
    rig.write([serial_device("c", "/dev/null", 1, "CAM520 Pro3", wdr="on")])  # accepted


def test_silent_camera_fails_with_device_and_step_others_finish(rig: Rig) -> None:
    line = rig.sim.add_line("ln", [CameraConfig("ok1", address=1), CameraConfig("dead", address=2),
                                   CameraConfig("ok3", address=3)])
    rig.write([serial_device(n, line.path, a, "CAM520 Pro", focus_mode="manual",
                             presets=presets(a, 2)) for n, a in (("ok1", 1), ("dead", 2),
                                                                   ("ok3", 3))])
    planned = rig.plan()
    rig.sim.camera("dead").faults.offline = True
    report = rig.apply(planned)
    outcome = {d.name: d for d in report.devices}
    assert outcome["ok1"].status == outcome["ok3"].status == "applied"
    dead = outcome["dead"]
    assert dead.status == "failed" and dead.failure is not None
    assert dead.failure.step == "focus_mode" and dead.failure.kind == "DeviceTimeout"
    assert "camera 2" in dead.failure.message and "did not acknowledge" in dead.failure.message
    # and a plain plan on the silent camera fails at read, naming it
    again = rig.plan()
    failed = {d.name: d.failure for d in again.plan.devices if d.failure}
    assert set(failed) == {"dead"} and failed["dead"].step == "read"


def test_lost_udp_datagrams_are_resent(rig: Rig) -> None:
    subnet = next_subnet()
    cams = []
    for i, mode in enumerate(("strict", "zero"), 1):
        config = CameraConfig(f"u{i}", model="CAM550", host=f"{subnet}.{i}", port=0,
                              sequence_mode=mode, seed=i)  # type: ignore[arg-type]
        config.faults.drop_next = 2
        config.faults.drop_rate = 0.15
        cams.append(rig.sim.add_udp(config))
    rig.write([udp_device(f"u{i}", h, p, "CAM550", strict=(i == 1), presets=presets(i, 4),
                          white_balance="manual", pip={"usb": "ai"})
               for i, (h, p) in enumerate(cams, 1)])
    rig.converge()
    for i in (1, 2):
        assert rig.sim.udp_stats(f"u{i}")["dropped"] >= 2
        assert rig.sim.camera(f"u{i}").presets[4] == (i + 400, -200, 800)


def test_pelco_camera_power_and_tracking(rig: Rig) -> None:
    line = rig.sim.add_line("pel", [CameraConfig("pd", protocol="pelco-d", address=5)],
                            protocol="pelco-d")
    device = {"name": "pd", "provider": "aver",
              "connection": {"transport": "pelco-d", "port": line.path, "address": 5},
              "settings": {"model": "CAM520 Pro", "power": "on", "tracking": {"mode": "auto"}}}
    rig.write([device])
    planned = rig.plan()
    assert any("never reply" in w for w in planned.plan.devices[0].warnings)
    assert rig.apply(planned).ok
    assert rig.sim.camera("pd").modes["tracking"] == "auto"
    device["settings"]["presets"] = presets(0, 1)
    rig.write([device])
    planned = rig.plan()
    assert any("only set power, tracking" in w for w in planned.plan.devices[0].warnings)
    report = rig.apply(planned)
    assert report.devices[0].failure is not None
    assert "no absolute" in report.devices[0].failure.message


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "meeting-room.yaml"


def test_meeting_room_example_under_simhost(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETFORM_SIM_DIR", str(tmp_path / "sim"))
    subnet = next_subnet()
    text = EXAMPLE.read_text(encoding="utf-8").replace("127.0.60.", f"{subnet}.")
    text = text.replace("sim://room-a", "sim://room-a-test")
    path = tmp_path / "meeting-room.yaml"
    path.write_text(text, encoding="utf-8")
    manifest = load_manifest(path, providers=MODELS)
    running = start_cameras(manifest.devices,
                            SimulationOptions(restart_delay=0.1, network_delay=0.02))
    provider = AverProvider()
    backend = LocalStateBackend(tmp_path / "state.json")
    try:
        assert (tmp_path / "sim" / "room-a-test").is_symlink()
        assert len(running.endpoints) == len(manifest.devices)

        def plan() -> PlannedFleet:
            return plan_fleet(manifest.devices, {"aver": provider}, backend.read(),
                              manifest=str(path), options=RunOptions(timeout=60))

        report = apply_fleet(plan(), manifest.devices, {"aver": provider}, backend,
                             backend.read(), options=RunOptions(timeout=60))
        assert report.ok, [d.failure for d in report.devices]
        assert not plan().plan.has_changes
    finally:
        provider.close()
        running.stop()
    assert not (tmp_path / "sim" / "room-a-test").exists()
