"""VISCA-over-IP framing: the 8-byte header, control RESET and control errors.

Why separate: the header is the only thing UDP adds to VISCA; keeping it
sans-I/O lets the UDP client and the simulator share it and the tests check
every round trip without a socket.

Header (big-endian): payload type (2 bytes), payload length (2 bytes, 1-16),
sequence number (4 bytes), then the payload (a VISCA packet, or a control
byte string).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from fleetform.errors import ProtocolError

HEADER = struct.Struct(">HHI")
HEADER_SIZE = HEADER.size  # 8
DEFAULT_PORT = 52381
MAX_PAYLOAD = 16
MAX_SEQUENCE = 0xFFFFFFFF

VISCA_COMMAND = 0x0100
VISCA_INQUIRY = 0x0110
VISCA_REPLY = 0x0111
DEVICE_SETTING = 0x0120
CONTROL_COMMAND = 0x0200
CONTROL_REPLY = 0x0201

PAYLOAD_TYPES = {
    VISCA_COMMAND: "VISCA command",
    VISCA_INQUIRY: "VISCA inquiry",
    VISCA_REPLY: "VISCA reply",
    DEVICE_SETTING: "device setting",
    CONTROL_COMMAND: "control command",
    CONTROL_REPLY: "control reply",
}

RESET_PAYLOAD = b"\x01"
ERROR_SEQUENCE = b"\x0f\x01"
ERROR_MESSAGE_TYPE = b"\x0f\x02"


@dataclass(frozen=True)
class IpMessage:
    """One VISCA-over-IP datagram."""

    payload_type: int
    sequence: int
    payload: bytes

    @property
    def is_control(self) -> bool:
        """True for control command/reply datagrams."""
        return self.payload_type in (CONTROL_COMMAND, CONTROL_REPLY)


def encode(payload_type: int, sequence: int, payload: bytes) -> bytes:
    """Header + payload; the length field is computed from ``payload``."""
    if payload_type not in PAYLOAD_TYPES:
        raise ValueError(f"unknown VISCA-over-IP payload type 0x{payload_type:04X}")
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"payload must be 1-{MAX_PAYLOAD} bytes, got {len(payload)}")
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence number {sequence} does not fit 32 bits")
    return HEADER.pack(payload_type, len(payload), sequence) + payload


def decode(datagram: bytes) -> IpMessage:
    """Parse one datagram; :class:`ProtocolError` if the header is inconsistent."""
    if len(datagram) < HEADER_SIZE + 1:
        raise ProtocolError(f"VISCA-over-IP datagram too short ({len(datagram)} bytes)")
    payload_type, length, sequence = HEADER.unpack_from(datagram)
    payload = datagram[HEADER_SIZE:]
    if length != len(payload) or not 1 <= length <= MAX_PAYLOAD:
        raise ProtocolError(
            f"VISCA-over-IP length field says {length} but {len(payload)} payload bytes followed"
        )
    return IpMessage(payload_type, sequence, payload)


def payload_type_for(packet: bytes) -> int:
    """``0x0110`` for a VISCA inquiry (``8x 09 ...``), else ``0x0100``."""
    return VISCA_INQUIRY if len(packet) > 1 and packet[1] == 0x09 else VISCA_COMMAND


def reset(sequence: int = 0) -> bytes:
    """Control RESET: makes the camera's expected sequence number 0 again."""
    return encode(CONTROL_COMMAND, sequence, RESET_PAYLOAD)


def reset_reply(sequence: int = 0) -> bytes:
    """The camera's acknowledgement of a RESET."""
    return encode(CONTROL_REPLY, sequence, RESET_PAYLOAD)


def control_error(sequence: int, payload: bytes) -> bytes:
    """A control-channel error reply (``0F 01`` or ``0F 02``)."""
    return encode(CONTROL_REPLY, sequence, payload)


class SequenceNumberError(ProtocolError):
    """Control error ``0F 01``: the camera rejected our sequence number."""


class MessageTypeError(ProtocolError):
    """Control error ``0F 02``: the camera rejected the payload type."""


def control_exception(message: IpMessage) -> ProtocolError | None:
    """The exception a control reply carries, or ``None`` if it is not an error."""
    if message.payload_type != CONTROL_REPLY:
        return None
    if message.payload == ERROR_SEQUENCE:
        return SequenceNumberError(
            f"the camera rejected sequence number {message.sequence} "
            "(control error 0F 01: abnormal sequence number)"
        )
    if message.payload == ERROR_MESSAGE_TYPE:
        return MessageTypeError(
            "the camera rejected the message type (control error 0F 02: abnormal message type)"
        )
    return None
