"""The camera simulator and the transports against each other, on a real pty and UDP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import next_subnet

from fleetform.device import Deadline
from fleetform.errors import DeviceTimeout, DeviceUnreachable
from fleetform.providers.visca import codec, ipframe, pelco
from fleetform.providers.visca.camera import Camera, Position
from fleetform.providers.visca.sim_camera import CameraConfig
from fleetform.providers.visca.simulator import CameraSimulator
from fleetform.providers.visca.transport import (
    PelcoSerial,
    SerialLines,
    SerialVisca,
    address_set,
    resolve_port,
    retry_busy,
)
from fleetform.providers.visca.transport_udp import UdpVisca


@pytest.fixture
def sim() -> Iterator[CameraSimulator]:
    with CameraSimulator() as simulator:
        yield simulator


@pytest.fixture
def lines() -> Iterator[SerialLines]:
    opened = SerialLines()
    yield opened
    opened.close()


def _wait_until(check: object, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_address_set_counts_chain_and_if_clear_is_echoed(sim: CameraSimulator,
                                                         lines: SerialLines) -> None:
    line = sim.add_line("l", [CameraConfig(f"c{i}", address=i) for i in range(1, 8)])
    port = lines.get(line.path, 9600)
    assert address_set(port, Deadline(5), 1.0) == 7
    port.acquire(Deadline(5), 1.0, "IF_Clear")
    try:
        port.write(bytes.fromhex("88 01 00 01 FF"))
        echo = port.queue(0).get(timeout=2)
    finally:
        port.lock.release()
    assert echo == codec.BroadcastEcho(bytes.fromhex("88 01 00 01 FF"))


def test_third_command_while_both_sockets_busy_is_buffer_full(sim: CameraSimulator,
                                                              lines: SerialLines) -> None:
    line = sim.add_line("l", [CameraConfig("c", pt_speed=1000.0)])
    link = SerialVisca(lines.get(line.path, 9600), 1, 1.0, 5.0)
    deadline = Deadline(10)
    link.command("PT_Direct", codec.encode("PT_Direct", pan=2000, tilt=0), deadline, wait=False)
    link.command("Zoom_Direct", codec.encode("Zoom_Direct", zoom=3000), deadline, wait=False)
    with pytest.raises(codec.BufferFull, match="both sockets are busy"):
        link.command("CAM_set", codec.encode("CAM_set", preset=1), deadline, wait=False)
    # and the camera answers "buffer full" until a socket frees up; retry_busy rides it out
    retry_busy(lambda: link.command("CAM_set", codec.encode("CAM_set", preset=1), deadline),
               deadline, attempts=50, pause=0.05, step="CAM_set")


def test_not_executable_during_power_transition(sim: CameraSimulator, lines: SerialLines) -> None:
    line = sim.add_line("l", [CameraConfig("c", model="CAM520 Pro3", power_transition=0.4)])
    camera = Camera(SerialVisca(lines.get(line.path, 9600), 1, 1.0, 5.0), "CAM520 Pro3",
                    "serial", 1)
    deadline = Deadline(10)
    camera.command("Power_Off", deadline, wait=False)
    with pytest.raises(codec.NotExecutable, match="powering on/off"):
        camera.link.command("WB_Auto_Mode", codec.encode("WB_Auto_Mode"), deadline)
    assert camera.power(deadline) == "on"  # still going down
    assert camera.set_power("on", deadline, 5.0) == "on"  # waits out 41, then powers on
    camera.command("WB_Auto_Mode", deadline)


def test_model_without_command_answers_syntax_error(sim: CameraSimulator,
                                                    lines: SerialLines) -> None:
    line = sim.add_line("l", [CameraConfig("c", model="CAM520 Pro")])
    link = SerialVisca(lines.get(line.path, 9600), 1, 1.0, 5.0)
    with pytest.raises(codec.SyntaxErrorReply, match="PT_Menu: the camera does not understand"):
        link.command("PT_Menu", codec.encode("PT_Menu"), Deadline(5))
    with pytest.raises(codec.SyntaxErrorReply):
        link.command("junk", bytes.fromhex("81 01 77 77 FF"), Deadline(5))
    camera = Camera(link, "CAM520 Pro", "serial", 1)
    with pytest.raises(Exception, match="models that do: CAM520 Pro3, VC520 Pro3, CAM550"):
        camera.command("PT_Menu", Deadline(5))


def test_garbled_replies_are_resynchronised(sim: CameraSimulator, lines: SerialLines) -> None:
    config = CameraConfig("c")
    config.faults.garble_next = 4
    line = sim.add_line("l", [config])
    port = lines.get(line.path, 9600)
    camera = Camera(SerialVisca(port, 1, 1.0, 5.0), "CAM520 Pro", "serial", 1)
    deadline = Deadline(10)
    camera.store_preset(3, Position(10, 20, 30), deadline)
    assert camera.measure_preset(3, deadline) == Position(10, 20, 30)
    assert port.garbled == 0  # noise before a header is skipped, the reply still decodes


def test_silent_camera_times_out_naming_it(sim: CameraSimulator, lines: SerialLines) -> None:
    config = CameraConfig("c", address=4)
    config.faults.offline = True
    line = sim.add_line("l", [config])
    link = SerialVisca(lines.get(line.path, 9600), 4, 0.2, 1.0)
    with pytest.raises(DeviceTimeout, match=r"camera 4 on .* did not acknowledge Power_On"):
        link.command("Power_On", codec.encode("Power_On", 4), Deadline(5))


def test_serial_byte_timing_costs_ten_bits_per_byte(sim: CameraSimulator,
                                                    lines: SerialLines) -> None:
    line = sim.add_line("slow", [CameraConfig("c", completion_delay=0.0)], baud=2400,
                        byte_timing=True)
    link = SerialVisca(lines.get(line.path, 2400), 1, 2.0, 5.0)
    link.command("CAM_set", codec.encode("CAM_set", preset=1), Deadline(10))
    # 7 bytes out, ACK + completion (3 + 3) back, all counted by the line
    assert (line.bytes_in, line.bytes_out) == (7, 6)
    assert line.wire_time(12) == pytest.approx(0.05)


def test_pelco_frames_drive_the_camera(sim: CameraSimulator, lines: SerialLines) -> None:
    line = sim.add_line("p", [CameraConfig("c", protocol="pelco-p", address=3)],
                        protocol="pelco-p")
    link = PelcoSerial(lines.get(line.path, 9600), 3)
    camera = sim.camera("c")
    camera.set_preset(9, 100, 200, 300)
    deadline = Deadline(5)
    link.send(pelco.extended("pelco-p", 3, "goto_preset", 9), deadline, "go")
    link.send(pelco.extended("pelco-p", 2, "track_on"), deadline, "other camera")
    link.send(pelco.extended("pelco-p", 3, "track_on"), deadline, "track")
    _wait_until(lambda: camera.modes["tracking"] == "auto")
    _wait_until(lambda: camera.position(time.monotonic() + 10) == (100, 200, 300))
    link.send(pelco.power("pelco-p", 3, "off"), deadline, "power")
    _wait_until(lambda: camera.power == "standby")


# --- UDP ----------------------------------------------------------------------------------


def _raw(address: tuple[str, int], datagram: bytes) -> ipframe.IpMessage:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(datagram, address)
        return ipframe.decode(sock.recv(64))


def test_strict_sequence_camera(sim: CameraSimulator) -> None:
    address = sim.add_udp(CameraConfig("u", host=f"{next_subnet()}.1", port=0,
                                       sequence_mode="strict"))
    camera = sim.camera("u")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)

        def send(seq: int, packet: bytes,
                 ptype: int = ipframe.VISCA_COMMAND) -> ipframe.IpMessage:
            sock.sendto(ipframe.encode(ptype, seq, packet), address)
            return ipframe.decode(sock.recv(64))

        sock.sendto(ipframe.reset(0), address)
        assert ipframe.decode(sock.recv(64)).payload == ipframe.RESET_PAYLOAD
        ack = send(5, codec.encode("CAM_set", preset=1))
        assert ack.sequence == 5 and codec.decode_reply(ack.payload) == codec.Ack(1, 1)
        assert codec.decode_reply(ipframe.decode(sock.recv(64)).payload) == codec.Completion(1, 1)
        seen = camera.commands_seen
        again = send(5, codec.encode("CAM_set", preset=1))  # a resend: answered, not re-run
        assert again.sequence == 5 and camera.commands_seen == seen
        assert ipframe.decode(sock.recv(64)).sequence == 5  # its completion, resent too
        stale = send(4, codec.encode("CAM_set", preset=1))
        assert stale.payload == ipframe.ERROR_SEQUENCE
        wrong_type = send(6, b"\x01", ipframe.DEVICE_SETTING)
        assert wrong_type.payload == ipframe.ERROR_MESSAGE_TYPE


def test_zero_sequence_camera_tolerated_unless_strict(sim: CameraSimulator) -> None:
    address = sim.add_udp(CameraConfig("u", host=f"{next_subnet()}.1", port=0,
                                       sequence_mode="zero"))
    tolerant = UdpVisca(*address, timeout=0.2, retries=1, move_timeout=2, strict_sequence=False)
    strict = UdpVisca(*address, timeout=0.1, retries=1, move_timeout=1, strict_sequence=True)
    try:
        for _ in range(3):
            tolerant.command("CAM_set", codec.encode("CAM_set", preset=2), Deadline(5))
        assert codec.decode_power(b"\x02") == "on"
        strict.reset(Deadline(5))
        strict.command("CAM_set", codec.encode("CAM_set", preset=2), Deadline(5))  # seq 0 matches
        with pytest.raises(DeviceTimeout, match="same sequence number resent"):
            strict.command("CAM_set", codec.encode("CAM_set", preset=2), Deadline(5))
    finally:
        tolerant.close()
        strict.close()


def test_udp_resend_uses_same_sequence_and_recovers_lost_replies(sim: CameraSimulator) -> None:
    config = CameraConfig("u", host=f"{next_subnet()}.1", port=0, sequence_mode="strict")
    config.faults.drop_next = 2
    address = sim.add_udp(config)
    link = UdpVisca(*address, timeout=0.2, retries=3, move_timeout=0.3, strict_sequence=True)
    camera = Camera(link, "CAM520 Pro", "udp", 1)
    try:
        camera.store_preset(1, Position(5, 6, 7), Deadline(10))  # RESET + first command dropped
        config.faults.drop_replies_next = 2  # an ACK and a completion vanish on the way back
        camera.store_preset(2, Position(8, 9, 10), Deadline(10))
        assert sim.camera("u").presets == {1: (5, 6, 7), 2: (8, 9, 10)}
        assert link.resends >= 3
        sim.camera("u").faults.offline = True
        with pytest.raises(DeviceTimeout, match="did not answer Version_Inq after 4 attempt"):
            camera.version(Deadline(5))
    finally:
        link.close()


def test_udp_nothing_listening_is_unreachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((f"{next_subnet()}.1", 0))
        address = probe.getsockname()
    link = UdpVisca(*address, timeout=0.2, retries=1, move_timeout=1, strict_sequence=False)
    try:
        with pytest.raises((DeviceUnreachable, DeviceTimeout)):
            link.reset(Deadline(3))
    finally:
        link.close()


def test_sim_port_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETFORM_SIM_DIR", str(tmp_path))
    with pytest.raises(DeviceUnreachable, match="start 'fleetform simulate"):
        resolve_port("sim://nowhere")
    (tmp_path / "room").symlink_to("/dev/null")
    assert resolve_port("sim://room") == "/dev/null"
    assert resolve_port("/dev/ttyUSB0") == "/dev/ttyUSB0"
