"""fleetform import for cameras: live camera (+ state) → manifest → validate → a clean plan.

TurretCams come from the ONVIF simulator (changed first, so the import is
not just factory defaults); AVer cameras from the VISCA simulator over UDP
and a pty, with the model given by ``--set`` because a camera cannot report it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import next_subnet
from ruamel.yaml import YAML

from fleetform.device import DeviceSpec
from fleetform.importstate import with_write_only
from fleetform.provider import DeviceRecord, ReadResponse
from fleetform.providers.onvif.sim_state import CameraConfig as OnvifConfig
from fleetform.providers.onvif.sim_state import CameraState, MaskState, OsdState
from fleetform.providers.onvif.simulator import CameraSimulator as OnvifSimulator
from fleetform.providers.onvif.timezones import posix_tz
from fleetform.providers.visca.models import AverConnection, AverSettings
from fleetform.providers.visca.provider import AverProvider
from fleetform.providers.visca.sim_camera import CameraConfig as ViscaConfig
from fleetform.providers.visca.simulator import CameraSimulator as ViscaSimulator

PASSWORD = "Onvif-Import-Secret-9"


def _settings(text: str) -> dict[str, dict[str, Any]]:
    """Device name → settings of a written manifest."""
    doc = YAML(typ="safe").load(text)
    return {d["name"]: d["settings"] for d in doc["devices"]}


def _tuned(subnet: str) -> Any:
    """A change to a simulated TurretCam as someone in the Ajax app would make it."""

    def change(state: CameraState) -> None:
        main = state.encoders["main"]
        main.encoding, main.width, main.height, main.fps, main.cbr = "H264", 2560, 1440, 20, True
        main.bitrate, main.gop = 6000, 40
        state.imaging.brightness, state.imaging.wdr_mode, state.imaging.wdr_level = 65, "ON", 3
        state.imaging.exposure_mode, state.imaging.exposure_time = "MANUAL", 2000
        state.imaging.ircut, state.rotation = "OFF", 180
        state.osds.append(OsdState("OSD_Name", "Plain", text="Склад 2"))
        state.masks.append(MaskState("Mask_1", [(-0.8, 0.8), (-0.4, 0.8), (-0.4, 0.2),
                                                (-0.8, 0.2)]))
        state.time_zone = posix_tz("Europe/Kyiv")
        state.ntp = ["ntp.example.net", "10.0.0.1"]
        net = state.network
        net.dhcp, net.dns_from_dhcp, net.gateway, net.dns = False, False, f"{subnet}.254", [
            "10.0.0.53"]
        net.hostname = "cam-store"

    return change


@pytest.fixture
def turretcams() -> Iterator[list[Any]]:
    """Two simulated TurretCams on a fresh subnet: one tuned, one as it left the factory."""
    subnet = next_subnet()
    with OnvifSimulator() as sim:
        tuned = sim.add(OnvifConfig(name="a", host=f"{subnet}.1", port=0, password=PASSWORD))
        tuned.mutate(_tuned(subnet))
        fresh = sim.add(OnvifConfig(name="b", host=f"{subnet}.2", port=0, password=PASSWORD,
                                    model="TurretCam (5 Mp/4 mm)"))
        yield [tuned, fresh]


def test_turretcam_import_then_plan_shows_no_changes(  # type: ignore[no-untyped-def]
    turretcams: list[Any], cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURRETCAM_PASSWORD", PASSWORD)
    addresses = [a for cam in turretcams for a in ("--address", f"{cam.host}:{cam.port}")]
    imported = tmp_path / "cams.yaml"
    result = cli("import", "--provider", "turretcam", *addresses, "-o", str(imported))
    assert result.code == 0, result.all
    text = imported.read_text(encoding="utf-8")
    assert PASSWORD not in result.all + text
    assert text.count("password: ${env:TURRETCAM_PASSWORD}") == 2
    settings = _settings(text)
    assert set(settings) == {"cam-store", "turretcam"}  # named after their hostnames
    tuned = settings["cam-store"]
    assert tuned["video"]["main"] == {"codec": "H.264", "resolution": "2560x1440", "fps": 20,
                                      "rate_control": "CBR", "bitrate": 6000, "gop": 40,
                                      "quality": 60}
    assert tuned["image"]["wdr"] == {"enabled": True, "level": 3}
    assert tuned["image"]["exposure"] == {"mode": "manual", "shutter_us": 2000}
    assert (tuned["image"]["rotation"], tuned["image"]["day_night"]) == (180, "night")
    assert tuned["osd"] == {"name": "Склад 2", "timestamp": True}
    assert tuned["privacy_zones"] == [{"x": 0.1, "y": 0.1, "width": 0.2, "height": 0.3}]
    assert tuned["ntp"] == ["ntp.example.net", "10.0.0.1"]
    assert tuned["network"] == {"mode": "static", "address": turretcams[0].host, "prefix": 24,
                                "gateway": turretcams[0].host.rsplit(".", 1)[0] + ".254",
                                "dns": ["10.0.0.53"], "hostname": "cam-store"}
    # The camera holds only a POSIX rule: the import names a zone with the same rule.
    assert posix_tz(tuned["time_zone"]) == posix_tz("Europe/Kyiv")
    assert "Europe/Kyiv" in text  # the comment lists the zones sharing the rule
    fresh = settings["turretcam"]
    assert fresh["image"]["wdr"] == {"enabled": False} and fresh["time_zone"] == "UTC"
    assert fresh["network"] == {"mode": "dhcp", "hostname": "turretcam"}

    assert cli("validate", str(imported)).code == 0
    state = ["--state", str(tmp_path / "state.json"), "--no-color"]
    plan = cli("plan", str(imported), *state, "--detailed-exitcode")
    assert plan.code == 0, plan.all
    assert "No changes. 2 device(s) match the manifest." in plan.out

    # A literal password becomes a reference too; --set picks the zone name.
    literal = cli("import", "--provider", "turretcam", *addresses[:2],
                  "--connection", f"password={PASSWORD}", "--set", "time_zone=Europe/Kyiv")
    assert literal.code == 0, literal.all
    assert PASSWORD not in literal.all
    assert "password: ${env:TURRETCAM_PASSWORD}" in literal.out
    assert "time_zone: Europe/Kyiv" in literal.out

    # Importing the imported manifest reads the same cameras into the same settings.
    again = cli("import", str(imported))
    assert again.code == 0, again.all
    assert _settings(again.out) == settings


@pytest.fixture
def visca() -> Iterator[ViscaSimulator]:
    """A VISCA camera simulator, stopped after the test."""
    with ViscaSimulator() as sim:
        yield sim


def _udp_camera(sim: ViscaSimulator, name: str, model: str) -> str:
    host, port = sim.add_udp(ViscaConfig(name, model=model, host=f"{next_subnet()}.1", port=0,
                                         sequence_mode="zero"))
    return f"udp://{host}:{port}"


def test_aver_import_reads_power_and_audio_with_the_model_given(  # type: ignore[no-untyped-def]
    visca: ViscaSimulator, cli, tmp_path: Path
) -> None:
    address = _udp_camera(visca, "fone", "FONE700")
    camera = visca.camera("fone")
    camera.set_power("standby")
    camera.modes.update(volume=8, mute=True)
    out = cli("import", "--provider", "aver", "--address", address, "--set", "model=FONE700",
              "--name", "huddle", "--state", str(tmp_path / "none.json"))
    assert out.code == 0, out.all
    settings = _settings(out.out)["huddle"]
    assert settings == {"model": "FONE700", "power": "standby",
                        "audio": {"mute": True, "volume": 8}}
    assert "read from the camera: power, audio" in out.out
    assert "presets: a camera cannot list its presets" in out.out
    manifest = tmp_path / "huddle.yaml"
    manifest.write_text(out.out, encoding="utf-8")
    assert cli("validate", str(manifest)).code == 0
    plan = cli("plan", str(manifest), "--state", str(tmp_path / "s.json"), "--detailed-exitcode")
    assert plan.code == 0, plan.all


def test_aver_import_without_a_model_says_how_to_give_it(  # type: ignore[no-untyped-def]
    visca: ViscaSimulator, cli
) -> None:
    address = _udp_camera(visca, "cam", "CAM570")
    out = cli("import", "--provider", "aver", "--address", address)
    assert out.code == 1
    assert "needs model before a device can be read" in out.err
    assert "--set model=VALUE (one of: CAM520," in out.err and "FONE700" in out.err
    wrong = cli("import", "--provider", "aver", "--address", address, "--set", "model=CAM999")
    assert wrong.code == 1 and "settings.model" in wrong.err and "CAM570" in wrong.err


def test_aver_import_takes_write_only_settings_from_state(  # type: ignore[no-untyped-def]
    visca: ViscaSimulator, cli, tmp_path: Path
) -> None:
    address = _udp_camera(visca, "stage", "CAM570")
    host, port = address.removeprefix("udp://").rsplit(":", 1)
    applied = {"model": "CAM570", "power": "on", "focus_mode": "manual", "wdr": "on",
               "pip": {"usb": "ptz_ai_bottom_right"}, "tracking": {"mode": "presentation"},
               "presets": {"1": {"pan": 0, "tilt": -400, "zoom": 0},
                           "2": {"pan": -900, "tilt": -200, "zoom": 8000}}}
    source = tmp_path / "room.yaml"
    source.write_text(json.dumps({"devices": [{
        "name": "stage", "provider": "aver",
        "connection": {"transport": "udp", "host": host, "port": int(port), "timeout": 0.5},
        "settings": applied}]}), encoding="utf-8")
    state = ["--state", str(tmp_path / "state.json")]
    assert cli("apply", str(source), *state, "--auto-approve").code == 0

    out = cli("import", "--provider", "aver", "--address", address, "--set", "model=CAM570",
              "--connection", "timeout=0.5", *state)
    assert out.code == 0, out.all
    assert _settings(out.out) == {"stage": applied}  # named like the state record
    assert "from state record 'stage'" in out.out and "--verify-presets" in out.out
    manifest = tmp_path / "imported.yaml"
    manifest.write_text(out.out, encoding="utf-8")
    plan = cli("plan", str(manifest), *state, "--detailed-exitcode")
    assert plan.code == 0, plan.all

    # Without state, only what the camera can report (nothing, for a CAM570 over IP).
    bare = cli("import", "--provider", "aver", "--address", address, "--set", "model=CAM570",
               "--state", str(tmp_path / "empty.json"))
    assert bare.code == 0, bare.all
    assert _settings(bare.out) == {"aver-1": {"model": "CAM570"}}
    assert "no setting imported" in bare.out


def test_aver_refresh_only_accepts_hand_changes_the_camera_reports(  # type: ignore[no-untyped-def]
    visca: ViscaSimulator, cli, tmp_path: Path
) -> None:
    line = visca.add_line("desk", [ViscaConfig("pro3", model="CAM520 Pro3", address=1),
                                   ViscaConfig("vb", model="VB350", address=2)])
    connection = {"transport": "serial", "port": line.path, "timeout": 0.5}
    manifest = tmp_path / "desk.yaml"
    manifest.write_text(json.dumps({"devices": [
        {"name": "pro3", "provider": "aver", "connection": {**connection, "address": 1},
         "settings": {"model": "CAM520 Pro3", "power": "on", "focus_mode": "auto"}},
        {"name": "vb", "provider": "aver", "connection": {**connection, "address": 2},
         "settings": {"model": "VB350", "audio": {"mute": False, "volume": 5}}},
    ]}), encoding="utf-8")
    state_file = tmp_path / "state.json"
    args = [str(manifest), "--state", str(state_file), "--no-color"]
    assert cli("apply", *args, "--auto-approve").code == 0
    # By hand: the remote's power button, and the speaker turned up and muted.
    visca.camera("pro3").set_power("standby")
    visca.camera("vb").modes.update(volume=9, mute=True)

    accepted = cli("apply", *args, "--refresh-only", "--auto-approve")
    assert accepted.code == 0, accepted.all
    assert "Refresh complete" in accepted.out
    tracked = {name: record["tracked"]
               for name, record in json.loads(state_file.read_text())["devices"].items()}
    assert tracked["pro3"] == {"power": "standby", "focus_mode": "auto"}
    assert tracked["vb"] == {"audio": {"mute": True, "volume": 9}}
    assert visca.camera("pro3").power == "standby"  # nothing was written to the cameras

    plan = cli("plan", *args, "--detailed-exitcode")
    assert plan.code == 2
    assert '"standby" -> "on"' in plan.out and "9 -> 5" in plan.out
    again = cli("apply", *args, "--refresh-only", "--json", "--auto-approve")
    assert again.code == 0 and json.loads(again.out)["changes"] == []


def test_state_values_are_overlaid_by_reports_and_refused_for_another_device() -> None:
    device = DeviceSpec(name="cam", provider="aver",
                        connection=AverConnection(transport="udp", host="127.0.0.1"),
                        settings=AverSettings(model="VB350"))
    record = DeviceRecord(name="room-cam", provider="aver", address="127.0.0.1:52381",
                          identity={"model_id": "0x010D"},
                          tracked={"audio": {"mute": True, "volume": 3}, "focus_mode": "auto"})
    read = ReadResponse(address="127.0.0.1:52381", identity={"model_id": "0x010D"}, live={},
                        facts={"observed": {"audio": {"volume": 6}}})
    provider = AverProvider()
    try:
        same = with_write_only(provider, device, read, record)
        assert same.read.live == {"audio": {"mute": True, "volume": 6}, "focus_mode": "auto"}
        assert same.record == record and "room-cam" in same.notes[0]
        swapped = replace(read, identity={"model_id": "0x0101"})
        other = with_write_only(provider, device, swapped, record)
        assert other.record is None and other.read.live == {"audio": {"volume": 6}}
        assert "is for another device" in other.notes[0]
    finally:
        provider.close()
