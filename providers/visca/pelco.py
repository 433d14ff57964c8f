"""Pelco-D and Pelco-P framing for AVer cameras (seed sections 3.2.2 / 3.2.3).

Why a separate module: Pelco frames have fixed length, a checksum and no
replies at all, so they share nothing with VISCA but the serial line.

- Pelco-D: ``FF addr cmd1 cmd2 d1 d2 sum``, ``sum`` = bytes 2..6 mod 256.
- Pelco-P: ``A0 addr d1 d2 d3 d4 AF xor``, ``xor`` = XOR of bytes 1..7.

Addresses: the manifest speaks of camera 1-255 for both. Pelco-D puts the
camera number on the wire as is; Pelco-P numbers from 0, so camera ``n`` is
``n - 1`` on the wire (the usual Pelco-P convention; the seed's "0~7F").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fleetform.errors import ProtocolError
from fleetform.providers.visca.commands import ArgumentOutOfRange

Variant = Literal["pelco-d", "pelco-p"]

D_SYNC = 0xFF
P_STX = 0xA0
P_ETX = 0xAF
SPEED_MAX = 0x30

# cmd2 bits for pan/tilt/zoom (both variants; bit 0 = 0 for these)
PAN_RIGHT = 0x02
PAN_LEFT = 0x04
TILT_UP = 0x08
TILT_DOWN = 0x10
ZOOM_TELE = 0x20
ZOOM_WIDE = 0x40

# cmd1 for power: Pelco-D "sense" bit 7 + "cam on/off" bit 3; Pelco-P bits 6 and 4.
POWER_CMD1: dict[Variant, dict[str, int]] = {
    "pelco-d": {"on": 0x88, "off": 0x08},
    "pelco-p": {"on": 0x50, "off": 0x10},
}

#: AVer's extended commands: name -> (data2 opcode, argument range or None).
EXTENDED: dict[str, tuple[int, tuple[int, int] | None]] = {
    "set_preset": (0x03, (0x01, 0x7F)),
    "goto_preset": (0x07, (0x01, 0x7F)),
    "track_on": (0x65, None),
    "track_off": (0x67, None),
    "wol_on": (0x69, None),
    "wol_off": (0x6B, None),
    "read_profile": (0x6D, (0x01, 0x05)),
    "save_profile": (0x6F, (0x01, 0x05)),
    "track_trigger": (0x63, None),
}
BY_OPCODE = {opcode: name for name, (opcode, _) in EXTENDED.items()}


def d_checksum(body: bytes) -> int:
    """Pelco-D checksum of bytes 2..6 (address to data2): their sum mod 256."""
    return sum(body) & 0xFF


def p_checksum(frame7: bytes) -> int:
    """Pelco-P checksum: XOR of bytes 1..7 (STX to ETX)."""
    value = 0
    for byte in frame7:
        value ^= byte
    return value


def _wire_address(variant: Variant, address: int) -> int:
    if not 1 <= address <= 255:
        raise ArgumentOutOfRange(f"Pelco camera address {address} is out of range 1-255")
    if variant == "pelco-p":
        if address > 0x80:
            raise ArgumentOutOfRange(
                f"Pelco-P camera address {address} is out of range 1-128 (wire 0x00-0x7F)"
            )
        return address - 1
    return address


def frame(variant: Variant, address: int, cmd1: int, cmd2: int, data1: int, data2: int) -> bytes:
    """One complete frame with checksum."""
    wire = _wire_address(variant, address)
    body = bytes((wire, cmd1, cmd2, data1, data2))
    if variant == "pelco-d":
        return bytes((D_SYNC,)) + body + bytes((d_checksum(body),))
    head = bytes((P_STX,)) + body + bytes((P_ETX,))
    return head + bytes((p_checksum(head),))


def _speed(name: str, value: int) -> int:
    if not 0 <= value <= SPEED_MAX:
        raise ArgumentOutOfRange(f"Pelco {name} speed {value} is out of range 0-0x30")
    return value


def move(variant: Variant, address: int, *, pan: int = 0, tilt: int = 0, zoom: int = 0,
         pan_speed: int = 0x20, tilt_speed: int = 0x20) -> bytes:
    """Pan/tilt/zoom move: ``pan``/``tilt``/``zoom`` are -1, 0 or +1 (right/up/tele)."""
    cmd2 = 0
    cmd2 |= {1: PAN_RIGHT, -1: PAN_LEFT, 0: 0}[pan]
    cmd2 |= {1: TILT_UP, -1: TILT_DOWN, 0: 0}[tilt]
    cmd2 |= {1: ZOOM_TELE, -1: ZOOM_WIDE, 0: 0}[zoom]
    return frame(variant, address, 0, cmd2, _speed("pan", pan_speed), _speed("tilt", tilt_speed))


def stop(variant: Variant, address: int) -> bytes:
    """Stop every movement (all direction bits clear)."""
    return frame(variant, address, 0, 0, 0, 0)


def power(variant: Variant, address: int, state: Literal["on", "off"]) -> bytes:
    """Camera on / off through the cmd1 power bits."""
    return frame(variant, address, POWER_CMD1[variant][state], 0, 0, 0)


def extended(variant: Variant, address: int, name: str, value: int = 0) -> bytes:
    """One of AVer's extended commands (preset set/go, track, WOL, profiles)."""
    opcode, limits = EXTENDED[name]
    if limits is None:
        value = 0
    elif not limits[0] <= value <= limits[1]:
        raise ArgumentOutOfRange(
            f"Pelco {name}: {value} is out of range {limits[0]}-0x{limits[1]:02X}"
        )
    return frame(variant, address, 0x00, opcode, 0x00, value)


@dataclass(frozen=True)
class PelcoFrame:
    """A decoded frame (the simulator's side); ``address`` is the camera number."""

    variant: Variant
    address: int
    cmd1: int
    cmd2: int
    data1: int
    data2: int

    @property
    def extended_name(self) -> str | None:
        """The extended command's name when bit 0 of cmd2 is set, else ``None``."""
        if self.cmd2 & 1 and self.cmd1 == 0:
            return BY_OPCODE.get(self.cmd2)
        return None


def frame_length(variant: Variant) -> int:
    """Bytes per frame: 7 for Pelco-D, 8 for Pelco-P."""
    return 7 if variant == "pelco-d" else 8


def decode(variant: Variant, data: bytes) -> PelcoFrame:
    """Decode and checksum-verify one frame; :class:`ProtocolError` if it is bad."""
    if len(data) != frame_length(variant):
        raise ProtocolError(
            f"{variant} frame must be {frame_length(variant)} bytes: {data.hex(' ')}"
        )
    if variant == "pelco-d":
        if data[0] != D_SYNC or d_checksum(data[1:6]) != data[6]:
            raise ProtocolError(f"bad Pelco-D frame or checksum: {data.hex(' ')}")
        address = data[1]
    else:
        if data[0] != P_STX or data[6] != P_ETX or p_checksum(data[:7]) != data[7]:
            raise ProtocolError(f"bad Pelco-P frame or checksum: {data.hex(' ')}")
        address = data[1] + 1
    return PelcoFrame(variant, address, data[2], data[3], data[4], data[5])
