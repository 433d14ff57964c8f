"""Codec tests against byte strings written from the AVer seed's tables.

Every row of section 3.2.1 appears below with the packet the seed shows for
camera address 1 (``8x`` -> ``81``) and concrete arguments, typed in by hand
from the seed rather than derived from ``commands.py``.
"""

from __future__ import annotations

import pytest

from fleetform.errors import DeviceRejected, ProtocolError
from fleetform.providers.visca import codec, ipframe, pelco
from fleetform.providers.visca.commands import ROWS

# (name, args, expected packet for address 1) - from the seed's "Packet" column.
SEED_ROWS: list[tuple[str, dict[str, int], str]] = [
    ("IF_Clear", {}, "81 01 00 01 FF"),
    ("Power_On", {}, "81 01 04 00 02 FF"),
    ("Power_Off", {}, "81 01 04 00 03 FF"),
    ("Power_Reset", {}, "81 01 04 00 00 FF"),
    ("PT_Stop", {}, "81 01 06 01 00 00 03 03 FF"),
    ("PT_Up", {"pan_speed": 5, "tilt_speed": 6}, "81 01 06 01 05 06 03 01 FF"),
    ("PT_Down", {"pan_speed": 1, "tilt_speed": 2}, "81 01 06 01 01 02 03 02 FF"),
    ("PT_Left", {"pan_speed": 15, "tilt_speed": 0}, "81 01 06 01 0F 00 01 03 FF"),
    ("PT_Right", {"pan_speed": 3, "tilt_speed": 3}, "81 01 06 01 03 03 02 03 FF"),
    ("PT_UpLeft", {"pan_speed": 4, "tilt_speed": 4}, "81 01 06 01 04 04 01 01 FF"),
    ("PT_UpRight", {"pan_speed": 4, "tilt_speed": 4}, "81 01 06 01 04 04 02 01 FF"),
    ("PT_DownLeft", {"pan_speed": 4, "tilt_speed": 4}, "81 01 06 01 04 04 01 02 FF"),
    ("PT_DownRight", {"pan_speed": 4, "tilt_speed": 4}, "81 01 06 01 04 04 02 02 FF"),
    ("PT_Calibration", {}, "81 01 06 05 FF"),
    ("PT_Direct", {"pan": 0x1234, "tilt": -2},
     "81 01 06 02 00 00 01 02 03 04 0F 0F 0F 0E FF"),
    ("PT_Menu", {}, "81 01 06 06 10 FF"),
    ("Zoom_Stop", {}, "81 01 04 07 00 FF"),
    ("Zoom_Tele", {"speed": 7}, "81 01 04 07 27 FF"),
    ("Zoom_Wide", {"speed": 1}, "81 01 04 07 31 FF"),
    ("Zoom_Direct", {"zoom": 0x4000}, "81 01 04 47 04 00 00 00 FF"),
    ("Focus_Stop", {}, "81 01 04 08 00 FF"),
    ("Focus_Far", {}, "81 01 04 08 20 FF"),
    ("Focus_Near", {}, "81 01 04 08 30 FF"),
    ("Focus_Auto_Mode", {}, "81 01 04 38 02 FF"),
    ("Focus_Manual_Mode", {}, "81 01 04 38 03 FF"),
    ("Focus_OnePush_Trigger", {}, "81 01 04 18 01 FF"),
    ("WB_Auto_Mode", {}, "81 01 04 35 00 FF"),
    ("WB_One_Push_Mode", {}, "81 01 04 35 03 FF"),
    ("WB_Manual_Mode", {}, "81 01 04 35 05 FF"),
    ("WB_One_Push_Trigger", {}, "81 01 04 10 05 FF"),
    ("WB_Rgain_Up", {}, "81 01 04 03 02 FF"),
    ("WB_Rgain_Down", {}, "81 01 04 03 03 FF"),
    ("WB_Bgain_Up", {}, "81 01 04 04 02 FF"),
    ("WB_Bgain_Down", {}, "81 01 04 04 03 FF"),
    ("AE_Auto_Mode", {}, "81 01 04 39 00 FF"),
    ("AE_Gain_Up", {}, "81 01 04 0C 02 FF"),
    ("AE_Gain_Down", {}, "81 01 04 0C 03 FF"),
    ("ExpComp_Up", {}, "81 01 04 0E 02 FF"),
    ("ExpComp_Down", {}, "81 01 04 0E 03 FF"),
    ("Shutter_Up", {}, "81 01 04 0A 02 FF"),
    ("Shutter_Down", {}, "81 01 04 0A 03 FF"),
    ("Iris_Up", {}, "81 01 04 0B 02 FF"),
    ("Iris_Down", {}, "81 01 04 0B 03 FF"),
    ("Bright_Up", {}, "81 01 04 0D 02 FF"),
    ("Bright_Down", {}, "81 01 04 0D 03 FF"),
    ("Color_Gain", {"gain": 9}, "81 01 04 49 00 00 00 09 FF"),
    ("Color_Hue", {"hue": 3}, "81 01 04 4F 00 00 00 03 FF"),
    ("Backlight_On", {}, "81 01 04 33 02 FF"),
    ("Backlight_Off", {}, "81 01 04 33 03 FF"),
    ("WDR_On", {}, "81 01 04 33 02 FF"),
    ("WDR_Off", {}, "81 01 04 33 03 FF"),
    ("CAM_set", {"preset": 0x7F}, "81 01 04 3F 01 7F FF"),
    ("CAM_recall", {"preset": 0}, "81 01 04 3F 02 00 FF"),
    ("CAM_Profile_Read", {"profile": 5}, "81 01 04 40 01 05 FF"),
    ("CAM_Profile_Save", {"profile": 2}, "81 01 04 40 02 02 FF"),
    ("CAM_Enter", {}, "81 01 7E 01 02 00 01 FF"),
    ("CAM_PIP_Set_USB", {"layout": 0x14}, "81 01 04 7F 00 14 FF"),
    ("CAM_PIP_Set_HDMI", {"layout": 0x02}, "81 01 04 7F 01 02 FF"),
    ("CAM_Track_Trigger", {}, "81 01 04 7D 00 00 FF"),
    ("CAM_Track_Disable", {}, "81 01 04 7D 01 00 FF"),
    ("CAM_Track_Auto", {}, "81 01 04 7D 02 00 FF"),
    ("CAM_Track_Manual", {}, "81 01 04 7D 03 00 FF"),
    ("CAM_Track_Audio_Tracking", {}, "81 01 04 7D 04 00 FF"),
    ("CAM_Track_Audio_Frame", {}, "81 01 04 7D 05 00 FF"),
    ("CAM_Track_Audio_Preset", {}, "81 01 04 7D 06 00 FF"),
    ("CAM_Track_Presentation", {}, "81 01 04 7D 07 00 FF"),
    ("CAM_Track_Preset", {}, "81 01 04 7D 08 00 FF"),
    ("CAM_Track_Set_Start_Position", {"position": 0x0A}, "81 01 04 7D 10 0A FF"),
    ("CAM_Track_Source", {"source": 2}, "81 01 04 7D 11 02 FF"),
    ("CAM_Track_Gesture_On", {}, "81 01 04 7D 20 02 FF"),
    ("CAM_Track_Gesture_Off", {}, "81 01 04 7D 20 03 FF"),
    ("CAM_Track_Smart_Composition", {}, "81 01 04 7D 09 00 FF"),
    ("ADO_Mute_Trigger", {}, "81 01 08 00 00 FF"),
    ("ADO_Mute_On", {}, "81 01 08 00 01 FF"),
    ("ADO_Mute_Off", {}, "81 01 08 00 02 FF"),
    ("ADO_Volume_Up", {}, "81 01 08 01 01 FF"),
    ("ADO_Volume_Down", {}, "81 01 08 01 02 FF"),
    ("ADO_Tracking_On", {}, "81 01 08 02 01 FF"),
    ("ADO_Tracking_Off", {}, "81 01 08 02 02 FF"),
    ("Version_Inq", {}, "81 09 00 02 FF"),
    ("PT_Pos_Inq", {}, "81 09 06 12 FF"),
    ("Zoom_Pos_Inq", {}, "81 09 04 47 FF"),
    ("Power_Status_Inq", {}, "81 09 04 00 FF"),
    ("Ado_Mute_Inq", {}, "81 09 08 00 FF"),
    ("Ado_Volume_Inq", {}, "81 09 08 01 FF"),
]


def test_every_table_row_is_covered() -> None:
    assert sorted(name for name, _, _ in SEED_ROWS) == sorted(row.name for row in ROWS)


@pytest.mark.parametrize(("name", "args", "packet"), SEED_ROWS, ids=[r[0] for r in SEED_ROWS])
def test_encode_matches_seed(name: str, args: dict[str, int], packet: str) -> None:
    assert codec.encode(name, 1, **args) == bytes.fromhex(packet)


@pytest.mark.parametrize(("name", "args", "packet"), SEED_ROWS, ids=[r[0] for r in SEED_ROWS])
def test_parse_recognises_seed_packet(name: str, args: dict[str, int], packet: str) -> None:
    wire = bytearray(bytes.fromhex(packet))
    wire[0] = 0x83  # camera 3
    parsed = codec.parse_command(bytes(wire))
    assert parsed is not None
    assert parsed.address == 3
    assert parsed.args == args
    # WDR shares Backlight's bytes: the first row wins.
    assert parsed.row.name == {"WDR_On": "Backlight_On", "WDR_Off": "Backlight_Off"}.get(name, name)


def test_address_goes_into_header() -> None:
    assert codec.encode("Power_On", 7)[0] == 0x87
    with pytest.raises(codec.ArgumentOutOfRange, match="address 8"):
        codec.encode("Power_On", 8)


@pytest.mark.parametrize(("name", "args", "fragment"), [
    ("PT_Up", {"pan_speed": 0x10, "tilt_speed": 1}, "pan_speed"),
    ("Zoom_Tele", {"speed": 0}, "zoom speed"),
    ("Zoom_Wide", {"speed": 8}, "zoom speed"),
    ("PT_Direct", {"pan": 0x8000, "tilt": 0}, "signed 16-bit"),
    ("Zoom_Direct", {"zoom": -1}, "unsigned 16-bit"),
    ("CAM_set", {"preset": 0x80}, "preset number"),
    ("CAM_Profile_Read", {"profile": 6}, "profile"),
    ("CAM_PIP_Set_USB", {"layout": 0x05}, "0x12"),
    ("CAM_Track_Set_Start_Position", {"position": 0x0B}, "image centre"),
    ("CAM_Track_Source", {"source": 0}, "AI lens"),
    ("Color_Gain", {"gain": 0x10}, "gain"),
])
def test_arguments_range_checked_before_sending(name: str, args: dict[str, int],
                                                 fragment: str) -> None:
    with pytest.raises(codec.ArgumentOutOfRange, match=fragment):
        codec.encode(name, 1, **args)


def test_missing_or_extra_argument() -> None:
    with pytest.raises(TypeError):
        codec.encode("CAM_set", 1)
    with pytest.raises(TypeError):
        codec.encode("Power_On", 1, preset=1)


@pytest.mark.parametrize(("value", "signed", "nibbles"), [
    (0x1234, False, "01 02 03 04"),
    (0x0000, False, "00 00 00 00"),
    (0xFFFF, False, "0F 0F 0F 0F"),
    (-1, True, "0F 0F 0F 0F"),
    (-0x8000, True, "08 00 00 00"),
    (0x7FFF, True, "07 0F 0F 0F"),
])
def test_nibbles_round_trip(value: int, signed: bool, nibbles: str) -> None:
    assert codec.int_to_nibbles(value, signed) == bytes.fromhex(nibbles)
    assert codec.nibbles_to_int(bytes.fromhex(nibbles), signed) == value


def test_bad_nibbles_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        codec.nibbles_to_int(bytes.fromhex("10 00 00 00"), False)


@pytest.mark.parametrize(("frame", "expected"), [
    ("90 41 FF", codec.Ack(1, 1)),
    ("A0 42 FF", codec.Ack(2, 2)),
    ("F0 51 FF", codec.Completion(7, 1)),
    ("90 50 FF", codec.Completion(1, 0)),
    ("90 50 02 FF", codec.InquiryAnswer(1, b"\x02")),
    ("90 60 03 FF", codec.ErrorReply(1, 0, 3)),
    ("88 30 08 FF", codec.AddressSetReply(8)),
    ("88 01 00 01 FF", codec.BroadcastEcho(bytes.fromhex("88 01 00 01 FF"))),
])
def test_decode_replies(frame: str, expected: codec.Reply) -> None:
    assert codec.decode_reply(bytes.fromhex(frame)) == expected


@pytest.mark.parametrize("frame", ["90 41", "91 41 FF", "90 77 FF", "80 41 FF", "90 41 00"])
def test_malformed_replies(frame: str) -> None:
    with pytest.raises(ProtocolError):
        codec.decode_reply(bytes.fromhex(frame))


@pytest.mark.parametrize(("code", "cls", "base", "words"), [
    (0x01, codec.MessageLengthError, ProtocolError, "message length"),
    (0x02, codec.SyntaxErrorReply, DeviceRejected, "does not understand"),
    (0x03, codec.BufferFull, DeviceRejected, "buffer is full"),
    (0x04, codec.CommandCancelled, DeviceRejected, "cancelled"),
    (0x05, codec.NoSocket, ProtocolError, "no command in that socket"),
    (0x41, codec.NotExecutable, DeviceRejected, "cannot execute"),
])
def test_each_error_is_its_own_exception(code: int, cls: type[Exception], base: type[Exception],
                                         words: str) -> None:
    reply = codec.decode_reply(bytes((0x90, 0x61, code, 0xFF)))
    assert isinstance(reply, codec.ErrorReply)
    exc = reply.exception("CAM_set")
    assert type(exc) is cls
    assert isinstance(exc, base) and isinstance(exc, codec.ViscaError)
    assert "CAM_set" in str(exc) and words in str(exc)
    assert exc.code == code


def test_unknown_error_code_is_protocol_error() -> None:
    exc = codec.ErrorReply(1, 1, 0x77).exception("X")
    assert isinstance(exc, ProtocolError) and "0x77" in str(exc)


def test_inquiry_answers_decode() -> None:
    assert codec.decode_version(bytes.fromhex("00 20 05 11 01 02 02")) == codec.VersionInfo(
        0x0020, 0x0511, 0x0102, 2)
    assert codec.decode_pt_position(bytes.fromhex("00 01 02 03 0F 0F 0F 0F")) == (0x0123, -1)
    assert codec.decode_zoom_position(bytes.fromhex("04 00 00 00")) == 0x4000
    assert codec.decode_power(b"\x02") == "on" and codec.decode_power(b"\x03") == "standby"
    assert codec.decode_mute(b"\x01") is True and codec.decode_mute(b"\x02") is False
    assert codec.decode_volume(b"\x0a") == 10
    with pytest.raises(ProtocolError):
        codec.decode_volume(b"\x0b")
    with pytest.raises(ProtocolError):
        codec.decode_power(b"\x05")
    with pytest.raises(ProtocolError, match="expected 8"):
        codec.decode_pt_position(b"\x00")


def test_reply_builders_round_trip() -> None:
    assert codec.decode_reply(codec.ack(3, 2)) == codec.Ack(3, 2)
    assert codec.decode_reply(codec.completion(3, 1)) == codec.Completion(3, 1)
    assert codec.decode_reply(codec.error(3, 1, 0x41)) == codec.ErrorReply(3, 1, 0x41)
    assert codec.decode_reply(codec.answer(3, b"\x02")) == codec.InquiryAnswer(3, b"\x02")


# --- Pelco --------------------------------------------------------------------------------

PELCO_D: list[tuple[str, int, int, str]] = [
    # (command, camera, value, frame): sum of bytes 2..6 mod 256
    ("goto_preset", 1, 1, "FF 01 00 07 00 01 09"),
    ("set_preset", 1, 3, "FF 01 00 03 00 03 07"),
    ("set_preset", 0x80, 0x7F, "FF 80 00 03 00 7F 02"),
    ("track_on", 2, 0, "FF 02 00 65 00 00 67"),
    ("track_off", 2, 0, "FF 02 00 67 00 00 69"),
    ("wol_on", 1, 0, "FF 01 00 69 00 00 6A"),
    ("wol_off", 1, 0, "FF 01 00 6B 00 00 6C"),
    ("read_profile", 1, 5, "FF 01 00 6D 00 05 73"),
    ("save_profile", 1, 1, "FF 01 00 6F 00 01 71"),
    ("track_trigger", 1, 0, "FF 01 00 63 00 00 64"),
]
PELCO_P: list[tuple[str, int, int, str]] = [
    # camera n is n-1 on the wire; checksum = XOR of bytes 1..7
    ("goto_preset", 1, 1, "A0 00 00 07 00 01 AF 09"),
    ("set_preset", 1, 3, "A0 00 00 03 00 03 AF 0F"),
    ("track_on", 3, 0, "A0 02 00 65 00 00 AF 68"),
    ("track_trigger", 1, 0, "A0 00 00 63 00 00 AF 6C"),
    ("save_profile", 8, 5, "A0 07 00 6F 00 05 AF 62"),
]


@pytest.mark.parametrize(("name", "camera", "value", "frame"), PELCO_D)
def test_pelco_d_frames(name: str, camera: int, value: int, frame: str) -> None:
    wire = pelco.extended("pelco-d", camera, name, value)
    assert wire == bytes.fromhex(frame)
    decoded = pelco.decode("pelco-d", wire)
    assert decoded.address == camera and decoded.extended_name == name


@pytest.mark.parametrize(("name", "camera", "value", "frame"), PELCO_P)
def test_pelco_p_frames(name: str, camera: int, value: int, frame: str) -> None:
    wire = pelco.extended("pelco-p", camera, name, value)
    assert wire == bytes.fromhex(frame)
    decoded = pelco.decode("pelco-p", wire)
    assert decoded.address == camera and decoded.extended_name == name


def test_pelco_power_and_moves() -> None:
    assert pelco.power("pelco-d", 1, "off") == bytes.fromhex("FF 01 08 00 00 00 09")
    assert pelco.power("pelco-d", 1, "on") == bytes.fromhex("FF 01 88 00 00 00 89")
    assert pelco.power("pelco-p", 1, "off") == bytes.fromhex("A0 00 10 00 00 00 AF 1F")
    assert pelco.move("pelco-d", 1, pan=1, pan_speed=0x20, tilt_speed=0) == bytes.fromhex(
        "FF 01 00 02 20 00 23")
    assert pelco.move("pelco-d", 1, tilt=-1, zoom=1, pan_speed=0, tilt_speed=0x30) == bytes.fromhex(
        "FF 01 00 30 00 30 61")
    assert pelco.stop("pelco-p", 2) == bytes.fromhex("A0 01 00 00 00 00 AF 0E")


def test_pelco_checks() -> None:
    with pytest.raises(codec.ArgumentOutOfRange, match="0x30"):
        pelco.move("pelco-d", 1, pan=1, pan_speed=0x31)
    with pytest.raises(codec.ArgumentOutOfRange, match="0x7F"):
        pelco.extended("pelco-d", 1, "set_preset", 0)
    with pytest.raises(codec.ArgumentOutOfRange, match="1-255"):
        pelco.extended("pelco-d", 0, "track_on")
    with pytest.raises(ProtocolError, match="checksum"):
        pelco.decode("pelco-d", bytes.fromhex("FF 01 00 07 00 01 0A"))
    with pytest.raises(ProtocolError, match="checksum"):
        pelco.decode("pelco-p", bytes.fromhex("A0 00 00 07 00 01 AF 08"))


# --- VISCA over IP ------------------------------------------------------------------------


@pytest.mark.parametrize(("ptype", "seq", "payload", "wire"), [
    (ipframe.VISCA_COMMAND, 1, "81 01 04 00 02 FF", "01 00 00 06 00 00 00 01 81 01 04 00 02 FF"),
    (ipframe.VISCA_INQUIRY, 0xFFFFFFFF, "81 09 00 02 FF", "01 10 00 05 FF FF FF FF 81 09 00 02 FF"),
    (ipframe.VISCA_REPLY, 7, "90 41 FF", "01 11 00 03 00 00 00 07 90 41 FF"),
    (ipframe.CONTROL_COMMAND, 0, "01", "02 00 00 01 00 00 00 00 01"),
    (ipframe.CONTROL_REPLY, 5, "0F 01", "02 01 00 02 00 00 00 05 0F 01"),
])
def test_ip_header_round_trip(ptype: int, seq: int, payload: str, wire: str) -> None:
    data = ipframe.encode(ptype, seq, bytes.fromhex(payload))
    assert data == bytes.fromhex(wire)
    message = ipframe.decode(data)
    assert (message.payload_type, message.sequence, message.payload) == (
        ptype, seq, bytes.fromhex(payload))


def test_ip_header_errors() -> None:
    with pytest.raises(ProtocolError, match="too short"):
        ipframe.decode(b"\x01\x00\x00")
    with pytest.raises(ProtocolError, match="length field"):
        ipframe.decode(bytes.fromhex("01 00 00 09 00 00 00 01 81 01 FF"))
    with pytest.raises(ValueError, match="1-16"):
        ipframe.encode(ipframe.VISCA_COMMAND, 0, bytes(17))
    with pytest.raises(ValueError, match="payload type"):
        ipframe.encode(0x0300, 0, b"\x01")


def test_ip_payload_type_and_control() -> None:
    assert ipframe.payload_type_for(codec.encode("Version_Inq")) == ipframe.VISCA_INQUIRY
    assert ipframe.payload_type_for(codec.encode("Power_On")) == ipframe.VISCA_COMMAND
    assert ipframe.reset(0) == bytes.fromhex("02 00 00 01 00 00 00 00 01")
    seq_error = ipframe.control_exception(ipframe.decode(
        ipframe.control_error(4, ipframe.ERROR_SEQUENCE)))
    assert isinstance(seq_error, ipframe.SequenceNumberError) and "0F 01" in str(seq_error)
    type_error = ipframe.control_exception(ipframe.decode(
        ipframe.control_error(4, ipframe.ERROR_MESSAGE_TYPE)))
    assert isinstance(type_error, ipframe.MessageTypeError) and "0F 02" in str(type_error)
    assert ipframe.control_exception(ipframe.decode(ipframe.reset_reply(0))) is None
