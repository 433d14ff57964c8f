"""Which AVer models support which VISCA command: the seed's support notes as data.

Why: the AVer specification marks rows with "*Support: ..." (only these
models) or "*Not available for ..." (every model but these), sometimes only
"over IP". Keeping that as one table means the manifest validator, the
provider and the simulator all answer "does this model do X?" the same way,
and a new model or firmware note is a one-line data change, not an if-chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelName = Literal[
    "CAM520", "CAM520 Pro", "CAM520 Pro2", "CAM520 Pro3",
    "VC520+", "VC520 Pro", "VC520 Pro2", "VC520 Pro3",
    "CAM540", "CAM550", "CAM570",
    "VB342+", "VB342 Pro", "VB350", "FONE700",
]

MODELS: tuple[str, ...] = (
    "CAM520", "CAM520 Pro", "CAM520 Pro2", "CAM520 Pro3",
    "VC520+", "VC520 Pro", "VC520 Pro2", "VC520 Pro3",
    "CAM540", "CAM550", "CAM570",
    "VB342+", "VB342 Pro", "VB350", "FONE700",
)

Transport = Literal["serial", "udp", "pelco-d", "pelco-p"]


@dataclass(frozen=True)
class Support:
    """Which models accept one command.

    ``only``: the "*Support:" list (None = no restriction); ``excluded``: the
    "*Not available for" list; ``excluded_over_ip``: models that lack the
    command only over VISCA-over-IP (the seed's "(over IP)" / "overIP 不支援").
    """

    only: frozenset[str] | None = None
    excluded: frozenset[str] = frozenset()
    excluded_over_ip: frozenset[str] = frozenset()

    def allows(self, model: str, transport: str | None = None) -> bool:
        """True if ``model`` accepts the command (over ``transport`` when given)."""
        if self.only is not None and model not in self.only:
            return False
        if model in self.excluded:
            return False
        return not (transport == "udp" and model in self.excluded_over_ip)

    def models(self, transport: str | None = None) -> list[str]:
        """The models that accept the command, in catalogue order."""
        return [m for m in MODELS if self.allows(m, transport)]


def _only(*names: str) -> Support:
    return Support(only=frozenset(names))


def _not(*names: str) -> Support:
    return Support(excluded=frozenset(names))


ALL = Support()
_HDMI_MENU = _only("CAM550", "CAM570", "VC520 Pro3", "CAM520 Pro3")
_PRO3_ZOOM = _only("CAM520 Pro3", "VC520 Pro3")
_NO_FOCUS_MOVE = _not("CAM520 Pro2", "VC520 Pro2", "VC520 Pro3")
_NO_AE = _not("CAM520 Pro2", "VC520 Pro2")
_NO_BACKLIGHT = _not("CAM520 Pro3", "VC520 Pro3")
_PIP = _only("CAM550", "CAM570")
_TRACK_BASIC = _only(
    "VB342+", "VB342 Pro", "VB350", "CAM540", "CAM550", "CAM520 Pro", "CAM520 Pro2",
    "CAM520 Pro3", "VC520 Pro", "VC520 Pro2", "VC520 Pro3", "CAM570",
)
_AUDIO = _only("VB342+", "VB342 Pro", "VB350", "FONE700", "VC520 Pro3")
_AUDIO_INQ = _only("VB342 Pro", "VB350", "VC520 Pro3", "FONE700")

#: Command (or inquiry) name from the seed's table -> the models that accept it.
#: Names missing here have no restriction.
SUPPORT: dict[str, Support] = {
    "PT_Menu": _HDMI_MENU,
    "Zoom_Tele": _PRO3_ZOOM,
    "Zoom_Wide": _PRO3_ZOOM,
    "Focus_Stop": _NO_FOCUS_MOVE,
    "Focus_Far": _NO_FOCUS_MOVE,
    "Focus_Near": _NO_FOCUS_MOVE,
    "AE_Auto_Mode": _NO_AE,
    "AE_Gain_Up": _NO_AE,
    "AE_Gain_Down": _NO_AE,
    "Shutter_Up": _HDMI_MENU,
    "Shutter_Down": _HDMI_MENU,
    "Iris_Up": _HDMI_MENU,
    "Iris_Down": _HDMI_MENU,
    "Bright_Up": _HDMI_MENU,
    "Bright_Down": _HDMI_MENU,
    "Color_Gain": Support(excluded_over_ip=frozenset({"CAM520 Pro2"})),
    "Color_Hue": Support(excluded_over_ip=frozenset({"CAM520 Pro2"})),
    "Backlight_On": _NO_BACKLIGHT,
    "Backlight_Off": _NO_BACKLIGHT,
    "CAM_Profile_Read": _not("CAM520 Pro3", "VC520 Pro3"),
    "CAM_Profile_Save": _only("CAM520"),
    "CAM_Enter": _HDMI_MENU,
    "CAM_PIP_Set_USB": _PIP,
    "CAM_PIP_Set_HDMI": _PIP,
    "CAM_Track_Trigger": _TRACK_BASIC,
    "CAM_Track_Disable": _TRACK_BASIC,
    "CAM_Track_Auto": _TRACK_BASIC,
    "CAM_Track_Manual": _TRACK_BASIC,
    "CAM_Track_Audio_Tracking": _only("VB342+", "VB342 Pro", "VB350", "CAM570"),
    "CAM_Track_Audio_Frame": _only("VB342+"),
    "CAM_Track_Audio_Preset": _only("VB342+"),
    "CAM_Track_Presentation": _only("VB342 Pro", "VB350", "CAM570"),
    "CAM_Track_Preset": _only("CAM520 Pro3", "CAM570", "VB350", "VC520 Pro3"),
    "CAM_Track_Set_Start_Position": _only(
        "VB342+", "VB342 Pro", "CAM540", "CAM520 Pro", "CAM520 Pro2", "CAM520 Pro3",
        "VC520 Pro", "VC520 Pro2", "VC520 Pro3",
    ),
    "CAM_Track_Source": _PIP,
    "CAM_Track_Gesture_On": _only("CAM550", "VB342 Pro", "VB350", "CAM570"),
    "CAM_Track_Gesture_Off": _only("CAM550", "VB342 Pro", "VB350", "CAM570"),
    "CAM_Track_Smart_Composition": _PRO3_ZOOM,
    "ADO_Mute_Trigger": _AUDIO,
    "ADO_Mute_On": _AUDIO,
    "ADO_Mute_Off": _AUDIO,
    "ADO_Volume_Up": _AUDIO,
    "ADO_Volume_Down": _AUDIO,
    "ADO_Tracking_On": _only("FONE700"),
    "ADO_Tracking_Off": _only("FONE700"),
    "Version_Inq": _not("CAM520 Pro2", "VC520 Pro2"),
    "PT_Pos_Inq": _not("CAM520 Pro2"),
    "Zoom_Pos_Inq": _not("CAM520 Pro2"),
    "Power_Status_Inq": Support(
        only=frozenset({"FONE700", "CAM520 Pro3", "VC520 Pro3"}),
        excluded_over_ip=frozenset({"CAM520 Pro3", "VC520 Pro3"}),
    ),
    "Ado_Mute_Inq": _AUDIO_INQ,
    "Ado_Volume_Inq": _AUDIO_INQ,
}


def support(command: str) -> Support:
    """The support entry of ``command`` (unrestricted when the seed names no models)."""
    return SUPPORT.get(command, ALL)


def supports(model: str, command: str, transport: str | None = None) -> bool:
    """True if ``model`` accepts ``command`` (over ``transport`` when given)."""
    return support(command).allows(model, transport)


def supports_all(model: str, commands: tuple[str, ...], transport: str | None = None) -> bool:
    """True if ``model`` accepts every one of ``commands``."""
    return all(supports(model, c, transport) for c in commands)


def models_supporting(commands: tuple[str, ...], transport: str | None = None) -> list[str]:
    """The models that accept every one of ``commands``, in catalogue order."""
    return [m for m in MODELS if supports_all(m, commands, transport)]


@dataclass(frozen=True)
class PositionLimits:
    """Allowed pan/tilt/zoom positions of one model, in VISCA units.

    Why per model: units per degree differ by model and AVer does not publish
    them, so the defaults are the protocol's ranges (signed 16-bit pan/tilt,
    zoom 0x0000-0x4000); narrow them here once a model is measured.
    """

    pan: tuple[int, int] = (-0x8000, 0x7FFF)
    tilt: tuple[int, int] = (-0x8000, 0x7FFF)
    zoom: tuple[int, int] = (0x0000, 0x4000)


#: Per-model position limits (unverified on hardware: protocol ranges for all).
LIMITS: dict[str, PositionLimits] = {model: PositionLimits() for model in MODELS}
