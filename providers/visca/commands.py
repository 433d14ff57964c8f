"""The AVer VISCA command and inquiry table (seed section 3.2.1), as data.

Why: every row of the specification is one line here, written the way the
seed writes its packet column, so a reviewer can hold the two side by side.
The codec (``codec.py``) builds and parses packets from these templates; the
simulator parses incoming packets with the same table, so client and camera
cannot drift apart.

Template tokens (space separated):

- ``8x``: header byte, ``0x80 | camera address``;
- ``FF`` / two hex digits: a literal byte;
- ``{name}``: one byte holding argument ``name``;
- ``{name:n}``: one byte ``0v`` holding a nibble;
- ``{name:2n}`` / ``{name:3n}``: one byte ``2v`` / ``3v`` (zoom speeds);
- ``{name:s16}`` / ``{name:u16}``: four bytes ``0p 0q 0r 0s`` holding a
  signed / unsigned 16-bit value (seed note 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PIP_CODES: tuple[int, ...] = (0x00, 0x01, 0x02, 0x03, 0x04, 0x12, 0x13, 0x14)


@dataclass(frozen=True)
class Arg:
    """Allowed values of one argument: a closed range, or an explicit set."""

    low: int
    high: int
    allowed: tuple[int, ...] = ()
    meaning: str = ""

    def check(self, command: str, name: str, value: int) -> None:
        """Raise :class:`ArgumentOutOfRange` unless ``value`` is allowed."""
        ok = value in self.allowed if self.allowed else self.low <= value <= self.high
        if not ok:
            allowed = (
                ", ".join(f"0x{v:02X}" for v in self.allowed)
                if self.allowed
                else f"{self.low} to {self.high} (0x{self.low & 0xFFFF:X}-0x{self.high & 0xFFFF:X})"
            )
            what = f" ({self.meaning})" if self.meaning else ""
            raise ArgumentOutOfRange(
                f"{command}: {name}{what} = {value} is out of range; allowed: {allowed}"
            )


class ArgumentOutOfRange(ValueError):
    """A command argument is outside what the specification allows.

    Why: checked before a single byte is sent, so a bad value never reaches
    the camera (where it would be a syntax error, or worse, accepted).
    """


@dataclass(frozen=True)
class Row:
    """One command or inquiry of the table."""

    name: str
    template: str
    inquiry: bool = False
    args: dict[str, Arg] = field(default_factory=dict)
    comment: str = ""


_SPEED_PT = Arg(0, 0x0F, meaning="pan/tilt speed")
_PT_SPEEDS = {"pan_speed": _SPEED_PT, "tilt_speed": _SPEED_PT}
_ZOOM_SPEED = {"speed": Arg(1, 7, meaning="zoom speed")}
_S16 = Arg(-0x8000, 0x7FFF, meaning="signed 16-bit position")
_U16 = Arg(0, 0xFFFF, meaning="unsigned 16-bit position")
_PRESET = {"preset": Arg(0, 0x7F, meaning="preset number")}
_PROFILE = {"profile": Arg(0, 5, meaning="profile number")}
_NIBBLE = Arg(0, 0x0F)
_PIP = {"layout": Arg(0, 0x14, allowed=PIP_CODES, meaning="PIP layout")}


def _move(name: str, pan_dir: str, tilt_dir: str) -> Row:
    return Row(name, f"8x 01 06 01 {{pan_speed:n}} {{tilt_speed:n}} {pan_dir} {tilt_dir} FF",
               args=_PT_SPEEDS)


ROWS: tuple[Row, ...] = (
    Row("IF_Clear", "8x 01 00 01 FF"),
    Row("Power_On", "8x 01 04 00 02 FF", comment="Leave suspend mode"),
    Row("Power_Off", "8x 01 04 00 03 FF", comment="Enter suspend mode"),
    Row("Power_Reset", "8x 01 04 00 00 FF", comment="device reboot"),
    Row("PT_Stop", "8x 01 06 01 00 00 03 03 FF"),
    _move("PT_Up", "03", "01"),
    _move("PT_Down", "03", "02"),
    _move("PT_Left", "01", "03"),
    _move("PT_Right", "02", "03"),
    _move("PT_UpLeft", "01", "01"),
    _move("PT_UpRight", "02", "01"),
    _move("PT_DownLeft", "01", "02"),
    _move("PT_DownRight", "02", "02"),
    Row("PT_Calibration", "8x 01 06 05 FF"),
    Row("PT_Direct", "8x 01 06 02 00 00 {pan:s16} {tilt:s16} FF",
        args={"pan": _S16, "tilt": _S16}),
    Row("PT_Menu", "8x 01 06 06 10 FF", comment="HDMI menu on/off"),
    Row("Zoom_Stop", "8x 01 04 07 00 FF"),
    Row("Zoom_Tele", "8x 01 04 07 {speed:2n} FF", args=_ZOOM_SPEED),
    Row("Zoom_Wide", "8x 01 04 07 {speed:3n} FF", args=_ZOOM_SPEED),
    Row("Zoom_Direct", "8x 01 04 47 {zoom:u16} FF", args={"zoom": _U16}),
    Row("Focus_Stop", "8x 01 04 08 00 FF"),
    Row("Focus_Far", "8x 01 04 08 20 FF"),
    Row("Focus_Near", "8x 01 04 08 30 FF"),
    Row("Focus_Auto_Mode", "8x 01 04 38 02 FF"),
    Row("Focus_Manual_Mode", "8x 01 04 38 03 FF"),
    Row("Focus_OnePush_Trigger", "8x 01 04 18 01 FF"),
    Row("WB_Auto_Mode", "8x 01 04 35 00 FF"),
    Row("WB_One_Push_Mode", "8x 01 04 35 03 FF"),
    Row("WB_Manual_Mode", "8x 01 04 35 05 FF"),
    Row("WB_One_Push_Trigger", "8x 01 04 10 05 FF"),
    Row("WB_Rgain_Up", "8x 01 04 03 02 FF"),
    Row("WB_Rgain_Down", "8x 01 04 03 03 FF"),
    Row("WB_Bgain_Up", "8x 01 04 04 02 FF"),
    Row("WB_Bgain_Down", "8x 01 04 04 03 FF"),
    Row("AE_Auto_Mode", "8x 01 04 39 00 FF"),
    Row("AE_Gain_Up", "8x 01 04 0C 02 FF"),
    Row("AE_Gain_Down", "8x 01 04 0C 03 FF"),
    Row("ExpComp_Up", "8x 01 04 0E 02 FF"),
    Row("ExpComp_Down", "8x 01 04 0E 03 FF"),
    Row("Shutter_Up", "8x 01 04 0A 02 FF"),
    Row("Shutter_Down", "8x 01 04 0A 03 FF"),
    Row("Iris_Up", "8x 01 04 0B 02 FF"),
    Row("Iris_Down", "8x 01 04 0B 03 FF"),
    Row("Bright_Up", "8x 01 04 0D 02 FF"),
    Row("Bright_Down", "8x 01 04 0D 03 FF"),
    Row("Color_Gain", "8x 01 04 49 00 00 00 {gain:n} FF", args={"gain": _NIBBLE}),
    Row("Color_Hue", "8x 01 04 4F 00 00 00 {hue:n} FF", args={"hue": _NIBBLE}),
    Row("Backlight_On", "8x 01 04 33 02 FF"),
    Row("Backlight_Off", "8x 01 04 33 03 FF"),
    # Same bytes as Backlight: a model without Backlight controls WDR (seed note).
    Row("WDR_On", "8x 01 04 33 02 FF"),
    Row("WDR_Off", "8x 01 04 33 03 FF"),
    Row("CAM_set", "8x 01 04 3F 01 {preset} FF", args=_PRESET),
    Row("CAM_recall", "8x 01 04 3F 02 {preset} FF", args=_PRESET),
    Row("CAM_Profile_Read", "8x 01 04 40 01 {profile} FF", args=_PROFILE),
    Row("CAM_Profile_Save", "8x 01 04 40 02 {profile} FF", args=_PROFILE),
    Row("CAM_Enter", "8x 01 7E 01 02 00 01 FF"),
    Row("CAM_PIP_Set_USB", "8x 01 04 7F 00 {layout} FF", args=_PIP),
    Row("CAM_PIP_Set_HDMI", "8x 01 04 7F 01 {layout} FF", args=_PIP),
    Row("CAM_Track_Trigger", "8x 01 04 7D 00 00 FF"),
    Row("CAM_Track_Disable", "8x 01 04 7D 01 00 FF"),
    Row("CAM_Track_Auto", "8x 01 04 7D 02 00 FF"),
    Row("CAM_Track_Manual", "8x 01 04 7D 03 00 FF"),
    Row("CAM_Track_Audio_Tracking", "8x 01 04 7D 04 00 FF"),
    Row("CAM_Track_Audio_Frame", "8x 01 04 7D 05 00 FF"),
    Row("CAM_Track_Audio_Preset", "8x 01 04 7D 06 00 FF"),
    Row("CAM_Track_Presentation", "8x 01 04 7D 07 00 FF"),
    Row("CAM_Track_Preset", "8x 01 04 7D 08 00 FF"),
    Row("CAM_Track_Set_Start_Position", "8x 01 04 7D 10 {position} FF",
        args={"position": Arg(0, 0x0A, meaning="preset 0-9, or 0x0A for the image centre")}),
    Row("CAM_Track_Source", "8x 01 04 7D 11 {source} FF",
        args={"source": Arg(1, 2, meaning="1 = 2nd AI lens, 2 = PTZ lens")}),
    Row("CAM_Track_Gesture_On", "8x 01 04 7D 20 02 FF"),
    Row("CAM_Track_Gesture_Off", "8x 01 04 7D 20 03 FF"),
    Row("CAM_Track_Smart_Composition", "8x 01 04 7D 09 00 FF"),
    Row("ADO_Mute_Trigger", "8x 01 08 00 00 FF"),
    Row("ADO_Mute_On", "8x 01 08 00 01 FF"),
    Row("ADO_Mute_Off", "8x 01 08 00 02 FF"),
    Row("ADO_Volume_Up", "8x 01 08 01 01 FF"),
    Row("ADO_Volume_Down", "8x 01 08 01 02 FF"),
    Row("ADO_Tracking_On", "8x 01 08 02 01 FF"),
    Row("ADO_Tracking_Off", "8x 01 08 02 02 FF"),
    Row("Version_Inq", "8x 09 00 02 FF", inquiry=True),
    Row("PT_Pos_Inq", "8x 09 06 12 FF", inquiry=True),
    Row("Zoom_Pos_Inq", "8x 09 04 47 FF", inquiry=True),
    Row("Power_Status_Inq", "8x 09 04 00 FF", inquiry=True),
    Row("Ado_Mute_Inq", "8x 09 08 00 FF", inquiry=True),
    Row("Ado_Volume_Inq", "8x 09 08 01 FF", inquiry=True),
)

BY_NAME: dict[str, Row] = {row.name: row for row in ROWS}

#: Broadcast-only packets (serial daisy chain; not allowed over IP).
ADDRESS_SET = bytes.fromhex("88 30 01 FF")
IF_CLEAR_BROADCAST = bytes.fromhex("88 01 00 01 FF")
