"""AVer VISCA cameras under injected faults, through the real engine and ``simhost``.

Two cameras share a simulated RS-232 daisy chain (a real pty) and one speaks
VISCA over UDP; faults are set per camera with ``simhost.set_faults``. Each
test checks: completed, or failed naming the camera and step; the state
file tracks a setting only if the camera really holds it; a second apply
converges; retries are counted in the camera's log of received packets.
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

from fleetform.providers.visca.camera import BUSY_ATTEMPTS, LOST_REPLY
from fleetform.providers.visca.provider import AverProvider
from fleetform.providers.visca.sim_camera import SimCamera
from fleetform.providers.visca.simhost import RunningCameras, set_faults, start_cameras
from fleetform.simulation import SimulationOptions, SimulatorError

OPTIONS = SimulationOptions(restart_delay=0.1, network_delay=0.02, latency=0.004, jitter=0.004)
SERIAL = {"transport": "serial", "timeout": 0.3, "move_timeout": 3}
UDP_RETRIES = 2
CAM1 = {"model": "CAM520 Pro", "focus_mode": "manual", "white_balance": "manual",
        "presets": {"1": {"pan": 1200, "tilt": -40, "zoom": 300},
                    "2": {"pan": -800, "tilt": 60, "zoom": 900}},
        "tracking": {"mode": "auto"}}
CAM2 = {"model": "VB342 Pro", "audio": {"volume": 8}, "tracking": {"mode": "manual"}}
CAM3 = {"model": "CAM520 Pro", "focus_mode": "manual",
        "presets": {"1": {"pan": 500, "tilt": 20, "zoom": 100}}}
DESIRED = {"cam1": CAM1, "cam2": CAM2, "cam3": CAM3}

#: Setting -> does the simulated camera hold the desired value?
HOLDS: dict[str, Callable[[dict[str, Any], Any], bool]] = {
    "power": lambda snap, want: snap["power"] == want,
    "focus_mode": lambda snap, want: snap.get("focus_mode") == want,
    "white_balance": lambda snap, want: snap.get("white_balance") == want,
    "tracking": lambda snap, want: snap.get("tracking") == want["mode"],
    "audio": lambda snap, want: snap.get("volume") == want["volume"],
    "presets": lambda snap, want: all(
        snap["presets"].get(int(n)) == (p["pan"], p["tilt"], p["zoom"]) for n, p in want.items()),
}


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Rig:
    """Simulated cameras started by simhost from the manifest, and the engine around them."""

    def __init__(self, tmp_path: Path, timeout: float = 30.0) -> None:
        host = f"{next_subnet()}.3"
        line = f"sim://chain-{tmp_path.name}"
        devices = [
            {"name": "cam1", "provider": "aver", "settings": CAM1,
             "connection": {**SERIAL, "port": line, "address": 1}},
            {"name": "cam2", "provider": "aver", "settings": CAM2,
             "connection": {**SERIAL, "port": line, "address": 2}},
            {"name": "cam3", "provider": "aver", "settings": CAM3,
             "connection": {"transport": "udp", "host": host, "port": free_udp_port(host),
                            "timeout": 0.2, "retries": UDP_RETRIES, "move_timeout": 3}},
        ]
        self.engine = Engine(tmp_path, "aver", AverProvider, devices, timeout=timeout)
        self.running: RunningCameras = start_cameras(self.engine.devices, OPTIONS)

    def camera(self, name: str) -> SimCamera:
        return self.running.simulator.camera(name)

    def faults(self, name: str, **knobs: object) -> None:
        set_faults(self.running, {name: knobs})

    def count(self, name: str, command: str) -> int:
        return self.camera(name).received.count(command)

    def assert_state_matches(self) -> None:
        """Every tracked setting is one the camera really holds (never an invented change)."""
        for name, desired in DESIRED.items():
            snapshot = self.camera(name).snapshot(time.monotonic())
            for setting in self.engine.tracked(name):
                assert HOLDS[setting](snapshot, desired[setting]), (name, setting, snapshot)

    def close(self) -> None:
        self.engine.close()
        self.running.stop()


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    monkeypatch.setenv("FLEETFORM_SIM_DIR", str(tmp_path / "sim"))
    setup = Rig(tmp_path)
    yield setup
    setup.close()


def test_error_41_and_buffer_full_are_retried_for_any_command(rig: Rig) -> None:
    planned = rig.engine.plan()
    assert not planned.plan.failed
    rig.faults("cam1", not_executable_next=2, buffer_full_next=2)
    report = rig.engine.apply(planned)
    assert report.ok, [d.failure for d in report.devices]
    assert rig.count("cam1", "Focus_Manual_Mode") == 5  # 2 x 41, 2 x 03, then run
    rig.assert_state_matches()
    assert not rig.engine.plan().plan.has_changes


def test_persistent_41_gives_up_bounded_and_records_nothing_after(rig: Rig) -> None:
    rig.engine.timeout = 2.0  # a camera that never leaves its power transition
    planned = rig.engine.plan()
    rig.faults("cam1", not_executable_next=10_000)
    report = rig.engine.apply(planned)
    failure = failed_at(report, "cam1", "focus_mode")
    tries = rig.count("cam1", "Focus_Manual_Mode")
    assert 1 < tries <= BUSY_ATTEMPTS and f"gave up after {tries} attempts" in failure.message
    assert "error 41" in failure.message or "right now" in failure.message
    assert outcome(report, "cam2").status == "applied"  # the chain's other camera is fine
    assert rig.engine.tracked("cam1") == {}
    rig.assert_state_matches()
    rig.faults("cam1", not_executable_next=0)
    rig.engine.timeout = 30.0
    rig.engine.converge()
    rig.assert_state_matches()


def test_garbled_bytes_resync_and_corrupted_replies_are_resent(rig: Rig) -> None:
    planned = rig.engine.plan()
    # The ACK and completion of the first command are mangled beyond use, then 4 replies
    # arrive behind line noise the reader skips.
    rig.faults("cam1", corrupt_next=2, garble_next=4)
    report = rig.engine.apply(planned)
    assert report.ok, [d.failure for d in report.devices]
    assert rig.count("cam1", "Focus_Manual_Mode") == 2  # sent again after the lost reply
    rig.assert_state_matches()
    assert not rig.engine.plan().plan.has_changes


def test_corrupted_line_fails_the_read_bounded_and_alone(rig: Rig) -> None:
    rig.faults("cam1", corrupt_rate=1.0)
    planned = rig.engine.plan()
    failure = plan_failed_at(planned, "cam1", "read")
    assert failure.kind == "DeviceTimeout"
    assert rig.count("cam1", "Version_Inq") == LOST_REPLY.attempts
    report = rig.engine.apply(planned)
    failed_at(report, "cam1", "read")
    assert outcome(report, "cam2").status == "applied"
    assert rig.engine.record("cam1") is None
    rig.faults("cam1", corrupt_rate=0.0)
    rig.engine.converge()
    rig.assert_state_matches()


def test_reboot_mid_apply_resends_the_absolute_command(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults("cam1", reboot_after=2, reboot_seconds=0.3)  # WB_Manual_Mode is lost
    report = rig.engine.apply(planned)
    assert report.ok, [d.failure for d in report.devices]
    assert rig.camera("cam1").reboots == 1
    assert rig.count("cam1", "WB_Manual_Mode") >= 2
    assert rig.count("cam1", "WB_Manual_Mode") <= LOST_REPLY.attempts
    rig.assert_state_matches()
    assert not rig.engine.plan().plan.has_changes


def test_reboot_during_a_relative_step_fails_that_step_and_converges_later(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults("cam2", reboot_after=1, reboot_seconds=0.2)  # the first ADO_Volume_Up
    report = rig.engine.apply(planned)
    failure = failed_at(report, "cam2", "audio")
    assert failure.kind == "DeviceTimeout"
    assert rig.count("cam2", "ADO_Volume_Up") == 1  # relative: never sent blindly again
    assert "audio" not in rig.engine.tracked("cam2")
    assert "tracking" not in rig.engine.tracked("cam2")  # later steps did not run
    assert rig.camera("cam2").snapshot(time.monotonic())["tracking"] != "manual"
    rig.assert_state_matches()
    rig.engine.converge()
    assert rig.camera("cam2").snapshot(time.monotonic())["volume"] == 8
    rig.assert_state_matches()


def test_lost_udp_datagrams_are_resent(rig: Rig) -> None:
    planned = rig.engine.plan()
    rig.faults("cam3", drop_next=2, drop_replies_next=2)
    report = rig.engine.apply(planned)
    assert report.ok, [d.failure for d in report.devices]
    assert rig.running.simulator.udp_stats("cam3")["dropped"] == 2
    rig.assert_state_matches()
    assert not rig.engine.plan().plan.has_changes


def test_udp_camera_that_hears_nothing_fails_bounded(rig: Rig) -> None:
    rig.faults("cam3", drop_rate=1.0)
    failure = plan_failed_at(rig.engine.plan(), "cam3", "read")
    assert failure.kind == "DeviceTimeout"
    # each camera-level try is one RESET sent 1 + retries times, all lost
    stats = rig.running.simulator.udp_stats("cam3")
    assert stats["datagrams_in"] == stats["dropped"] == (UDP_RETRIES + 1) * LOST_REPLY.attempts
    rig.faults("cam3", drop_rate=0.0)
    rig.engine.converge()
    rig.assert_state_matches()


def test_latency_jitter_and_knobs_are_set_per_device(rig: Rig) -> None:
    assert rig.camera("cam1").faults.latency == OPTIONS.latency
    assert rig.camera("cam3").faults.jitter == OPTIONS.jitter
    rig.faults("cam2", latency="0.02", jitter="0.02")
    assert rig.camera("cam2").faults.latency == 0.02
    rig.engine.converge()
    rig.assert_state_matches()
    with pytest.raises(SimulatorError, match="unknown fault knob 'lag'"):
        rig.faults("cam1", lag=1)
    with pytest.raises(SimulatorError, match="no simulated device named 'cam9'"):
        set_faults(rig.running, {"cam9": {"offline": True}})
