"""Sans-I/O VISCA codec: build commands, parse packets, decode replies.

Why sans-I/O: the serial and UDP transports, the simulator and the tests all
share this one byte-level implementation; nothing here touches a socket, so
it is tested exhaustively against the seed's byte strings.

Replies (``z`` = ``(address + 8) << 4``): ACK ``z0 4y FF``, Completion
``z0 5y FF``, inquiry answer ``z0 50 .. FF``, error ``z0 6y ee FF``. Each error
code is its own exception class, a subclass of fleetform's
:class:`DeviceRejected` (the camera understood and refused) or
:class:`ProtocolError` (the exchange itself went wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetform.errors import ProtocolError
from fleetform.providers.visca.commands import BY_NAME, ROWS, Arg, ArgumentOutOfRange, Row
from fleetform.providers.visca.viscaerrors import (
    ERRORS,
    BufferFull,
    CommandCancelled,
    MessageLengthError,
    NoSocket,
    NotExecutable,
    ProtocolViscaError,
    SyntaxErrorReply,
    ViscaError,
)

__all__ = [
    "Ack",
    "AddressSetReply",
    "ArgumentOutOfRange",
    "BroadcastEcho",
    "BufferFull",
    "CommandCancelled",
    "Completion",
    "ErrorReply",
    "InquiryAnswer",
    "MessageLengthError",
    "NoSocket",
    "NotExecutable",
    "Reply",
    "SyntaxErrorReply",
    "VersionInfo",
    "ViscaError",
    "decode_reply",
    "encode",
    "int_to_nibbles",
    "nibbles_to_int",
    "parse_command",
]

TERMINATOR = 0xFF
HEADER_PLACEHOLDER = "8x"  # the header byte in the templates
MAX_PACKET = 16


# --- numbers -------------------------------------------------------------------------


def int_to_nibbles(value: int, signed: bool) -> bytes:
    """``0x1234`` -> ``01 02 03 04``; negative values as 16-bit two's complement."""
    low, high = (-0x8000, 0x7FFF) if signed else (0, 0xFFFF)
    if not low <= value <= high:
        kind = "signed" if signed else "unsigned"
        raise ArgumentOutOfRange(f"{value} does not fit a {kind} 16-bit position")
    word = value & 0xFFFF
    return bytes(((word >> 12) & 0xF, (word >> 8) & 0xF, (word >> 4) & 0xF, word & 0xF))


def nibbles_to_int(data: bytes, signed: bool) -> int:
    """``01 02 03 04`` -> ``0x1234`` (sign-extended when ``signed``)."""
    if len(data) != 4 or any(b > 0x0F for b in data):
        raise ProtocolError(f"bad position nibbles {data.hex(' ')} (each byte must be 00-0F)")
    word = (data[0] << 12) | (data[1] << 8) | (data[2] << 4) | data[3]
    return word - 0x10000 if signed and word & 0x8000 else word


# --- building commands ---------------------------------------------------------------


def _tokens(row: Row) -> list[str]:
    return row.template.split()


def _token_arg(token: str) -> tuple[str, str]:
    inner = token[1:-1]
    name, _, kind = inner.partition(":")
    return name, kind


def encode(name: str, address: int = 1, **args: int) -> bytes:
    """The packet for command/inquiry ``name`` to camera ``address`` (1-7).

    Every argument is range-checked against the table before any byte is
    built (:class:`ArgumentOutOfRange` says what is allowed).
    """
    row = BY_NAME.get(name)
    if row is None:
        raise KeyError(f"unknown VISCA command {name!r}")
    if not 1 <= address <= 7:
        raise ArgumentOutOfRange(f"{name}: camera address {address} is out of range 1-7")
    missing = set(row.args) - set(args)
    extra = set(args) - set(row.args)
    if missing or extra:
        raise TypeError(f"{name} takes arguments {sorted(row.args)}, got {sorted(args)}")
    for arg_name, value in args.items():
        row.args[arg_name].check(name, arg_name, value)
    out = bytearray()
    for token in _tokens(row):
        if token == HEADER_PLACEHOLDER:
            out.append(0x80 | address)
        elif token.startswith("{"):
            arg_name, kind = _token_arg(token)
            value = args[arg_name]
            if kind == "s16":
                out += int_to_nibbles(value, signed=True)
            elif kind == "u16":
                out += int_to_nibbles(value, signed=False)
            elif kind == "n":
                out.append(value & 0x0F)
            elif kind in ("2n", "3n"):
                out.append((int(kind[0]) << 4) | (value & 0x0F))
            else:
                out.append(value)
        else:
            out.append(int(token, 16))
    return bytes(out)


# --- parsing commands (the simulator's side) -------------------------------------------


@dataclass(frozen=True)
class ParsedCommand:
    """A packet recognised as one row of the table."""

    row: Row
    address: int
    args: dict[str, int]


def _match(row: Row, packet: bytes) -> ParsedCommand | None:
    args: dict[str, int] = {}
    pos = 0
    address = 0
    for token in _tokens(row):
        if token.startswith("{"):
            arg_name, kind = _token_arg(token)
            size = 4 if kind in ("s16", "u16") else 1
            chunk = packet[pos:pos + size]
            if len(chunk) != size:
                return None
            if kind in ("s16", "u16"):
                if any(b > 0x0F for b in chunk):
                    return None
                args[arg_name] = nibbles_to_int(chunk, signed=kind == "s16")
            elif kind == "n":
                if chunk[0] > 0x0F:
                    return None
                args[arg_name] = chunk[0]
            elif kind in ("2n", "3n"):
                if chunk[0] >> 4 != int(kind[0]):
                    return None
                args[arg_name] = chunk[0] & 0x0F
            else:
                args[arg_name] = chunk[0]
            pos += size
            continue
        if pos >= len(packet):
            return None
        if token == HEADER_PLACEHOLDER:
            if packet[pos] >> 4 != 0x8:
                return None
            address = packet[pos] & 0x0F
        elif packet[pos] != int(token, 16):
            return None
        pos += 1
    if pos != len(packet):
        return None
    return ParsedCommand(row, address, args)


def parse_command(packet: bytes) -> ParsedCommand | None:
    """Recognise ``packet`` as a row of the table (first match), or ``None``.

    Argument values are returned as found; :func:`check_args` validates them.
    """
    for row in ROWS:
        parsed = _match(row, packet)
        if parsed is not None:
            return parsed
    return None


def args_valid(parsed: ParsedCommand) -> bool:
    """True if every argument of a parsed packet is within the table's range."""
    try:
        for name, value in parsed.args.items():
            spec: Arg = parsed.row.args[name]
            spec.check(parsed.row.name, name, value)
    except ArgumentOutOfRange:
        return False
    return True


# --- replies -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """The camera accepted a command into socket ``socket``."""

    address: int
    socket: int


@dataclass(frozen=True)
class Completion:
    """The command in ``socket`` finished."""

    address: int
    socket: int


@dataclass(frozen=True)
class InquiryAnswer:
    """The answer to an inquiry: the bytes between ``z0 50`` and ``FF``."""

    address: int
    data: bytes


@dataclass(frozen=True)
class ErrorReply:
    """``z0 6y ee FF``: the camera refused (``ee`` is the error code)."""

    address: int
    socket: int
    code: int

    def exception(self, command: str) -> ViscaError:
        """The exception for this error, its message naming ``command``."""
        cls = ERRORS.get(self.code)
        if cls is None:
            return ProtocolViscaError(
                f"{command}: camera {self.address} answered unknown error code 0x{self.code:02X}",
                code=self.code,
            )
        return cls(f"{command}: {cls.meaning}", code=self.code)


@dataclass(frozen=True)
class AddressSetReply:
    """``88 30 0n FF``: the chain has ``n - 1`` cameras."""

    next_address: int

    @property
    def cameras(self) -> int:
        """How many cameras answered on the daisy chain."""
        return self.next_address - 1


@dataclass(frozen=True)
class BroadcastEcho:
    """A broadcast packet (``88 ...``) that travelled round the chain unchanged."""

    packet: bytes


Reply = Ack | Completion | InquiryAnswer | ErrorReply | AddressSetReply | BroadcastEcho


def decode_reply(frame: bytes) -> Reply:
    """Decode one reply frame (terminator included); :class:`ProtocolError` if malformed."""
    if len(frame) < 3 or frame[-1] != TERMINATOR or len(frame) > MAX_PACKET:
        raise ProtocolError(f"malformed VISCA reply {frame.hex(' ')}")
    header, kind = frame[0], frame[1]
    if header == 0x88:
        if len(frame) == 4 and kind == 0x30:
            return AddressSetReply(frame[2])
        return BroadcastEcho(frame)
    if header & 0x0F or not 0x90 <= header <= 0xF0:
        raise ProtocolError(f"VISCA reply with bad header byte 0x{header:02X}: {frame.hex(' ')}")
    address = (header >> 4) - 8
    high, socket = kind >> 4, kind & 0x0F
    if high == 0x4 and len(frame) == 3:
        return Ack(address, socket)
    if high == 0x5 and len(frame) == 3:
        return Completion(address, socket)
    if kind == 0x50:
        return InquiryAnswer(address, frame[2:-1])
    if high == 0x6 and len(frame) == 4:
        return ErrorReply(address, socket, frame[2])
    raise ProtocolError(f"unrecognised VISCA reply {frame.hex(' ')}")


def reply_header(address: int) -> int:
    """The reply header byte of camera ``address`` (``90`` for camera 1)."""
    return (address + 8) << 4


def ack(address: int, socket: int) -> bytes:
    """``z0 4y FF``."""
    return bytes((reply_header(address), 0x40 | socket, TERMINATOR))


def completion(address: int, socket: int) -> bytes:
    """``z0 5y FF``."""
    return bytes((reply_header(address), 0x50 | socket, TERMINATOR))


def answer(address: int, data: bytes) -> bytes:
    """``z0 50 data FF``."""
    return bytes((reply_header(address), 0x50)) + data + bytes((TERMINATOR,))


def error(address: int, socket: int, code: int) -> bytes:
    """``z0 6y ee FF``."""
    return bytes((reply_header(address), 0x60 | socket, code, TERMINATOR))


# --- inquiry answers -----------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    """Version_Inq answer: vendor id, model id, firmware version, max sockets."""

    vendor: int
    model: int
    version: int
    max_sockets: int


def _need(name: str, data: bytes, size: int) -> None:
    if len(data) != size:
        raise ProtocolError(
            f"{name}: expected {size} data bytes in the answer, got {len(data)} ({data.hex(' ')})"
        )


def decode_version(data: bytes) -> VersionInfo:
    """``GG GG HH HH JJ JJ KK`` -> :class:`VersionInfo`."""
    _need("Version_Inq", data, 7)
    return VersionInfo(
        vendor=int.from_bytes(data[0:2], "big"),
        model=int.from_bytes(data[2:4], "big"),
        version=int.from_bytes(data[4:6], "big"),
        max_sockets=data[6],
    )


def decode_pt_position(data: bytes) -> tuple[int, int]:
    """``0Y*4 0V*4`` -> (pan, tilt), signed."""
    _need("PT_Pos_Inq", data, 8)
    return nibbles_to_int(data[:4], signed=True), nibbles_to_int(data[4:], signed=True)


def decode_zoom_position(data: bytes) -> int:
    """``0Y*4`` -> zoom, unsigned."""
    _need("Zoom_Pos_Inq", data, 4)
    return nibbles_to_int(data, signed=False)


def decode_power(data: bytes) -> str:
    """``0p``: 2 = on, 3 = standby."""
    _need("Power_Status_Inq", data, 1)
    states = {0x02: "on", 0x03: "standby"}
    if data[0] not in states:
        raise ProtocolError(f"Power_Status_Inq: unknown power state 0x{data[0]:02X}")
    return states[data[0]]


def decode_mute(data: bytes) -> bool:
    """``0Y``: 1 = mute on, 2 = mute off."""
    _need("Ado_Mute_Inq", data, 1)
    if data[0] not in (1, 2):
        raise ProtocolError(f"Ado_Mute_Inq: unknown mute state 0x{data[0]:02X}")
    return data[0] == 1


def decode_volume(data: bytes) -> int:
    """``0Y``: volume 0-0x0A."""
    _need("Ado_Volume_Inq", data, 1)
    if data[0] > 0x0A:
        raise ProtocolError(f"Ado_Volume_Inq: volume 0x{data[0]:02X} is above the maximum 0x0A")
    return data[0]
