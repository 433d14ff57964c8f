"""Manifest models for AVer PTZ cameras, validated against the model matrix.

Why: the manifest must fail at ``validate`` time, naming the models that do
support a setting, rather than at apply time with a camera's "syntax error".
Each setting value maps to the VISCA commands that realise it
(:data:`REQUIREMENTS`, data), and :mod:`matrix` says which models accept
those commands. ``model`` itself is excluded from the dumped settings: it
drives validation and is not something fleetform can change on a camera.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fleetform.providers.visca.matrix import LIMITS, ModelName, models_supporting, supports_all

OnOff = Literal["on", "off"]
TrackingMode = Literal[
    "off", "auto", "manual", "audio", "audio_frame", "audio_preset", "presentation",
    "preset", "smart_composition",
]
PipLayout = Literal[
    "ptz", "ai", "ptz_ai_bottom_right", "ptz_ai_top_left", "ptz_left_ai_right",
    "ai_ptz_bottom_right", "ai_ptz_top_left", "ai_left_ptz_right",
]

#: PIP layout name -> the seed's YY code.
PIP_LAYOUTS: dict[str, int] = {
    "ptz": 0x00, "ai": 0x01, "ptz_ai_bottom_right": 0x02, "ptz_ai_top_left": 0x03,
    "ptz_left_ai_right": 0x04, "ai_ptz_bottom_right": 0x12, "ai_ptz_top_left": 0x13,
    "ai_left_ptz_right": 0x14,
}
TRACKING_COMMANDS: dict[str, str] = {
    "off": "CAM_Track_Disable", "auto": "CAM_Track_Auto", "manual": "CAM_Track_Manual",
    "audio": "CAM_Track_Audio_Tracking", "audio_frame": "CAM_Track_Audio_Frame",
    "audio_preset": "CAM_Track_Audio_Preset", "presentation": "CAM_Track_Presentation",
    "preset": "CAM_Track_Preset", "smart_composition": "CAM_Track_Smart_Composition",
}
MODE_COMMANDS: dict[str, dict[str, str]] = {
    "power": {"on": "Power_On", "standby": "Power_Off"},
    "focus_mode": {"auto": "Focus_Auto_Mode", "manual": "Focus_Manual_Mode"},
    "white_balance": {"auto": "WB_Auto_Mode", "one_push": "WB_One_Push_Mode",
                      "manual": "WB_Manual_Mode"},
    "exposure_mode": {"auto": "AE_Auto_Mode"},
    "backlight": {"on": "Backlight_On", "off": "Backlight_Off"},
    "wdr": {"on": "WDR_On", "off": "WDR_Off"},
}
#: Settings path -> the commands it needs regardless of value.
FIXED_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "presets": ("PT_Direct", "Zoom_Direct", "CAM_set", "CAM_recall"),
    "tracking.start_position": ("CAM_Track_Set_Start_Position",),
    "pip.usb": ("CAM_PIP_Set_USB",),
    "pip.hdmi": ("CAM_PIP_Set_HDMI",),
    "audio.mute": ("ADO_Mute_On", "ADO_Mute_Off"),
    # Only Up/Down exist: an absolute volume needs the inquiry to step from.
    "audio.volume": ("ADO_Volume_Up", "ADO_Volume_Down", "Ado_Volume_Inq"),
}
HINTS: dict[str, str] = {
    "backlight": "these models have WDR on the same command instead: use 'wdr'",
    "audio.volume": "volume is set by stepping Up/Down from the value Ado_Volume_Inq reports",
}


class Preset(BaseModel):
    """One preset: an absolute pan/tilt/zoom position stored with CAM_set."""

    model_config = ConfigDict(extra="forbid")

    pan: int = Field(ge=-0x8000, le=0x7FFF, description="Pan position, signed 16-bit VISCA units.")
    tilt: int = Field(ge=-0x8000, le=0x7FFF, description="Tilt position, signed 16-bit.")
    zoom: int = Field(ge=0, le=0xFFFF, description="Zoom position, unsigned 16-bit.")
    name: str | None = Field(default=None, max_length=64,
                             description="A label for people; not stored on the camera.")


class Tracking(BaseModel):
    """AI framing/tracking mode and the preset it starts from."""

    model_config = ConfigDict(extra="forbid")

    mode: TrackingMode | None = Field(default=None, description="Tracking mode (CAM_Track_*).")
    start_position: int | Literal["center"] | None = Field(
        default=None, description="Preset 0-9 the tracker starts from, or 'center'.")

    @field_validator("start_position")
    @classmethod
    def _check_start(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 0 <= value <= 9:
            raise ValueError("start_position must be a preset 0-9 or 'center'")
        return value


class Pip(BaseModel):
    """Picture-in-picture layout of the USB and HDMI outputs (CAM550/CAM570)."""

    model_config = ConfigDict(extra="forbid")

    usb: PipLayout | None = None
    hdmi: PipLayout | None = None


class Audio(BaseModel):
    """Microphone mute and speaker volume of models with audio."""

    model_config = ConfigDict(extra="forbid")

    mute: bool | None = None
    volume: int | None = Field(default=None, ge=0, le=10, description="Volume 0-10.")


def _present(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    return value


def requirements(settings: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(path, shown value, commands) for every managed setting in ``settings``.

    Why data: the validator, the docs and the tests read the same mapping.
    """
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for name, table in MODE_COMMANDS.items():
        value = settings.get(name)
        if value is not None:
            out.append((name, repr(value), (table[value],)))
    mode = _present(settings, "tracking.mode")
    if mode is not None:
        out.append(("tracking.mode", repr(mode), (TRACKING_COMMANDS[mode],)))
    for path, commands in FIXED_REQUIREMENTS.items():
        value = _present(settings, path)
        if value is not None and value != {}:
            out.append((path, "", commands))
    return out


class AverSettings(BaseModel):
    """Desired state of one AVer camera. Omitted settings are left as they are."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = Field(
        exclude=True,
        description="Camera model (drives which settings are allowed; not applied).",
    )
    power: Literal["on", "standby"] | None = Field(
        default=None, description="Power state; applied first.")
    presets: dict[str, Preset] | None = Field(
        default=None,
        description="Preset number (VISCA 0-127, Pelco 1-127) -> pan/tilt/zoom position.",
    )
    focus_mode: Literal["auto", "manual"] | None = None
    white_balance: Literal["auto", "one_push", "manual"] | None = None
    exposure_mode: Literal["auto"] | None = Field(
        default=None, description="The AVer table offers only AE_Auto_Mode.")
    backlight: OnOff | None = None
    wdr: OnOff | None = None
    tracking: Tracking | None = None
    pip: Pip | None = None
    audio: Audio | None = None

    @field_validator("presets", mode="before")
    @classmethod
    def _preset_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, preset in value.items():
            try:
                text = str(key).strip().lower()
                number = int(text, 16) if text.startswith("0x") else int(text)
            except ValueError:
                raise ValueError(f"preset key {key!r} is not a number (0-127)") from None
            if not 0 <= number <= 0x7F:
                raise ValueError(f"preset {number} is out of range 0-127 (0x00-0x7F)")
            if str(number) in out:
                raise ValueError(f"preset {number} is declared twice")
            out[str(number)] = preset
        return out

    @model_validator(mode="after")
    def _check_model(self) -> AverSettings:
        if self.backlight is not None and self.wdr is not None:
            raise ValueError(
                "backlight and wdr are the same VISCA command (8x 01 04 33 ..): declare only one"
            )
        data = self.model_dump(mode="python", exclude_none=True)
        problems = []
        for path, shown, commands in requirements(data):
            if supports_all(self.model, commands):
                continue
            allowed = ", ".join(models_supporting(commands)) or "no AVer model"
            what = f"{path} {shown}".strip()
            hint = f" ({HINTS[path]})" if path in HINTS else ""
            problems.append(
                f"{what} is not supported by {self.model} (needs {', '.join(commands)}); "
                f"models that support it: {allowed}{hint}"
            )
        problems += self._check_positions()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _check_positions(self) -> list[str]:
        limits = LIMITS[self.model]
        problems = []
        for number, preset in (self.presets or {}).items():
            for axis in ("pan", "tilt", "zoom"):
                low, high = getattr(limits, axis)
                value = getattr(preset, axis)
                if not low <= value <= high:
                    problems.append(
                        f"preset {number}: {axis} {value} is outside {self.model}'s range "
                        f"{low} to {high}"
                    )
        return problems


class AverConnection(BaseModel):
    """How to reach the camera: VISCA over RS-232 or UDP, or Pelco-D/P over RS-232."""

    model_config = ConfigDict(extra="forbid")

    transport: Literal["serial", "udp", "pelco-d", "pelco-p"] = Field(
        default="serial",
        description="serial (VISCA RS-232), udp (VISCA over IP), pelco-d, pelco-p.",
    )
    port: str | int | None = Field(
        default=None,
        description="serial/pelco: device path (or 'sim://LINE' under fleetform simulate); "
        "udp: UDP port (default 52381).",
    )
    baud: Literal[2400, 4800, 9600, 115200] = Field(default=9600, description="Serial baud rate.")
    address: int = Field(
        default=1, ge=1, le=255,
        description="VISCA camera address on the daisy chain (1-7); Pelco address (1-255).",
    )
    host: str | None = Field(default=None, description="udp: camera IP address or name.")
    strict_sequence: bool = Field(
        default=False,
        description="udp: require replies to echo our sequence number (AVer cameras reply with 0).",
    )
    timeout: float = Field(default=1.0, gt=0, le=60, description="Wait for an ACK/answer, seconds.")
    retries: int = Field(default=3, ge=0, le=20, description="udp: resends after a timeout.")
    move_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Wait for a move/power completion, seconds.")
    preset_tolerance: int = Field(
        default=2, ge=0, le=0x1000,
        description="When verifying presets: allowed difference per axis, VISCA units.")

    @model_validator(mode="after")
    def _check_transport(self) -> AverConnection:
        if self.transport == "udp":
            if not self.host:
                raise ValueError("transport udp needs 'host' (the camera's IP address)")
            if self.port is None:
                self.port = 52381
            if isinstance(self.port, str):
                if not self.port.isdigit():
                    raise ValueError(f"udp port must be a number, not {self.port!r}")
                self.port = int(self.port)
            if not 0 <= self.port <= 65535:
                raise ValueError(f"udp port {self.port} is out of range 0-65535")
            if self.address != 1:
                raise ValueError("over IP the camera is always VISCA address 1")
            return self
        if self.host is not None:
            raise ValueError(f"'host' is for transport udp; transport {self.transport} uses 'port'")
        if not isinstance(self.port, str) or not self.port:
            raise ValueError(
                f"transport {self.transport} needs 'port': the serial device path, e.g. "
                "/dev/ttyUSB0 (or sim://LINE for a simulated line)"
            )
        if self.transport == "serial" and not 1 <= self.address <= 7:
            raise ValueError(f"VISCA address {self.address} is out of range 1-7 (daisy chain)")
        return self

    @property
    def endpoint(self) -> str:
        """Where the camera answers, for messages and state."""
        if self.transport == "udp":
            return f"{self.host}:{self.port}"
        return f"{self.port}#{self.address}"
