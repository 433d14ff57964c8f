"""Manifest models and capability tables for the Ajax TurretCam over ONVIF.

Why tables as data: the user manual lists the stream resolutions, frame rates,
GOP and quality ranges; the 5 Mp and 8 Mp variants differ only in data, so
the manifest validator, the plan-time check and the simulator all read these
tables instead of branching on the model. Values the manual does not give
(bitrate limits, image slider ranges) are marked *unverified* and are checked
at plan time against what the camera itself reports.

Settings the manual lists but ONVIF cannot reach are rejected with a message
saying they are managed only in the Ajax app, rather than silently ignored.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from fleetform.providers.onvif.timezones import UnknownTimeZone, posix_tz

# --- capability tables (from the TurretCam manual) ----------------------------------------

MAIN_RESOLUTIONS_8MP: tuple[str, ...] = (
    "1024x576", "1920x1080", "2304x1296", "2560x1440", "2592x1944", "2880x1620",
    "2944x1656", "3072x1728", "3840x2160",
)
# The manual lists one table for all versions; a 5 Mp sensor cannot deliver 3840x2160
# (8.3 Mp). Assumption: every other entry (all <= 5.3 Mp) is offered by the 5 Mp model.
MAIN_RESOLUTIONS_5MP: tuple[str, ...] = MAIN_RESOLUTIONS_8MP[:-1]
SUB_RESOLUTIONS: tuple[str, ...] = ("720x480", "720x576", "1024x576")
CODECS: tuple[str, ...] = ("H.264", "H.265")
FPS_RANGE = (3, 25)
GOP_RANGE = (1, 250)
QUALITY_RANGE = (0, 100)


@dataclass(frozen=True)
class StreamCapabilities:
    """What one stream (main or sub) of a variant offers."""

    resolutions: tuple[str, ...]
    bitrate_kbps: tuple[int, int]  # unverified: the manual gives no limits
    fps: tuple[int, int] = FPS_RANGE
    gop: tuple[int, int] = GOP_RANGE
    quality: tuple[int, int] = QUALITY_RANGE
    codecs: tuple[str, ...] = CODECS


@dataclass(frozen=True)
class VariantCapabilities:
    """One TurretCam version as sold (the manual's four SKUs)."""

    model: str
    megapixels: int
    main: StreamCapabilities
    sub: StreamCapabilities
    max_masks: int = 4
    image_range: tuple[float, float] = (0.0, 100.0)  # unverified: app sliders
    wdr_level: tuple[float, float] = (1.0, 5.0)  # manual: 1-2.9 WDR, 3-5 HDR
    exposure_time_us: tuple[float, float] = (10.0, 40000.0)  # unverified


_SUB = StreamCapabilities(SUB_RESOLUTIONS, (64, 2048))
_MAIN_5 = StreamCapabilities(MAIN_RESOLUTIONS_5MP, (256, 8192))
_MAIN_8 = StreamCapabilities(MAIN_RESOLUTIONS_8MP, (256, 16384))

TURRETCAM_VARIANTS: dict[str, VariantCapabilities] = {
    v.model: v
    for v in (
        VariantCapabilities("TurretCam (5 Mp/2.8 mm)", 5, _MAIN_5, _SUB),
        VariantCapabilities("TurretCam (5 Mp/4 mm)", 5, _MAIN_5, _SUB),
        VariantCapabilities("TurretCam (8 Mp/2.8 mm)", 8, _MAIN_8, _SUB),
        VariantCapabilities("TurretCam (8 Mp/4 mm)", 8, _MAIN_8, _SUB),
    )
}

#: Settings in the manual that ONVIF cannot reach: manifest key → (manual's name, why).
APP_ONLY: dict[str, tuple[str, str]] = {
    key: (label, reason)
    for reason, entries in {
        "ONVIF has no operation for it": {
            "ir_intensity": "IR intensity", "infrared": "Infrared illumination (IR)",
            "exposure_compensation": "Exposure compensation",
            "anti_flicker": "Anti-flicker (Power frequency)",
            "lighting_threshold": "Lighting threshold for mode switching",
            "exposure_area": "Set exposure based on", "image_preferences": "Image preferences",
        },
        "it is a setting of the Ajax system, not of the camera's ONVIF service": {
            "notifications": "Notifications from camera detectors",
            "recording_mode": "Recording preferences", "recording": "Recording preferences",
            "archive_depth": "Memory card: maximum archive depth",
            "cloud_connection": "Server connection (cloud loss delay, polling interval)",
            "cloud_polling_interval": "Cloud polling interval",
            "arm_in_night_mode": "Arm in Night mode", "room": "Room",
            "monitoring": "Monitoring (CMS)", "video_scenarios": "Video scenarios",
        },
        "fleetform does not manage it over ONVIF (TurretCam analytics/audio over ONVIF "
        "are unverified)": {
            "motion_detection": "Motion detection", "object_detection": "Object detection",
            "detection": "Detection", "audio": "Audio",
        },
    }.items()
    for key, label in entries.items()
}


def app_only_message(key: str) -> str:
    """The validation message for a manual setting that ONVIF cannot reach."""
    label, reason = APP_ONLY[key]
    return (f"'{key}' ({label} in the TurretCam manual) cannot be set by fleetform: {reason}. "
            "It is managed only in the Ajax app (Devices → camera → Settings).")


def _reject_app_only(data: Any) -> Any:
    if isinstance(data, dict):
        found = sorted(k for k in data if k in APP_ONLY)
        if found:
            raise ValueError(" ".join(app_only_message(k) for k in found))
    return data


# --- streams ---------------------------------------------------------------------------


def _normalise_resolution(value: Any) -> Any:
    if isinstance(value, str):
        return re.sub(r"\s*[xX*\u00d7]\s*", "x", value.strip())
    return value


class StreamSettings(BaseModel):
    """One video stream's encoder settings (Media2 ``VideoEncoder2Configuration``)."""

    model_config = ConfigDict(extra="forbid")
    allowed: ClassVar[tuple[str, ...]] = MAIN_RESOLUTIONS_8MP
    stream: ClassVar[str] = "main"

    codec: Literal["H.264", "H.265"] | None = Field(default=None, description="Video codec.")
    resolution: str | None = Field(default=None, description="WIDTHxHEIGHT, e.g. 1920x1080.")
    fps: int | None = Field(default=None, ge=FPS_RANGE[0], le=FPS_RANGE[1],
                            description="Frame rate, 3-25 frame/s.")
    rate_control: Literal["VBR", "CBR"] | None = Field(default=None,
                                                       description="Bit rate type.")
    bitrate: int | None = Field(default=None, ge=16, le=65536,
                                description="Bit rate limit in kbit/s (camera range at plan).")
    gop: int | None = Field(default=None, ge=GOP_RANGE[0], le=GOP_RANGE[1],
                            description="GOP length, 1-250 frames.")
    quality: int | None = Field(default=None, ge=QUALITY_RANGE[0], le=QUALITY_RANGE[1],
                                description="VBR/CBR quality, 0-100.")

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution_text(cls, value: Any) -> Any:
        return _normalise_resolution(value)

    @field_validator("resolution")
    @classmethod
    def _resolution_known(cls, value: str | None) -> str | None:
        if value is not None and value not in cls.allowed:
            raise ValueError(
                f"{value} is not a TurretCam {cls.stream}stream resolution; allowed: "
                + ", ".join(cls.allowed)
            )
        return value


class MainStream(StreamSettings):
    """The mainstream (resolutions 1024x576 … 3840x2160; 3840x2160 on 8 Mp models only)."""

    allowed: ClassVar[tuple[str, ...]] = MAIN_RESOLUTIONS_8MP
    stream: ClassVar[str] = "main"


class SubStream(StreamSettings):
    """The substream (720x480, 720x576 or 1024x576)."""

    allowed: ClassVar[tuple[str, ...]] = SUB_RESOLUTIONS
    stream: ClassVar[str] = "sub"


class VideoSettings(BaseModel):
    """Both encoder streams; each is optional (unmanaged when omitted)."""

    model_config = ConfigDict(extra="forbid")

    main: MainStream | None = None
    sub: SubStream | None = None


# --- image -----------------------------------------------------------------------------


class Wdr(BaseModel):
    """Wide dynamic range; ``level`` is the manual's lighting stabilisation (1-2.9 WDR, 3-5 HDR)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    level: float | None = Field(default=None, ge=1, le=5)

    @model_validator(mode="after")
    def _level_needs_enabled(self) -> Wdr:
        if self.level is not None and not self.enabled:
            raise ValueError("wdr.level applies only when wdr.enabled is true")
        return self


class Exposure(BaseModel):
    """Exposure mode; the shutter (microseconds) is set only in manual mode."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "manual"]
    shutter_us: float | None = Field(default=None, gt=0, le=1_000_000,
                                     description="Exposure time in microseconds (manual).")

    @model_validator(mode="after")
    def _shutter_needs_manual(self) -> Exposure:
        if self.shutter_us is not None and self.mode != "manual":
            raise ValueError("exposure.shutter_us applies only when exposure.mode is manual")
        return self


class NoiseReduction(BaseModel):
    """Noise reduction; ONVIF carries only a level, so ``enabled: false`` is level 0."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    level: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _level_needs_enabled(self) -> NoiseReduction:
        if self.level is not None and not self.enabled:
            raise ValueError("noise_reduction.level applies only when enabled is true")
        return self


class ImageSettings(BaseModel):
    """Image quality (``timg:ImagingSettings20``) and rotation (video source)."""

    model_config = ConfigDict(extra="forbid")

    brightness: int | None = Field(default=None, ge=0, le=100)
    saturation: int | None = Field(default=None, ge=0, le=100)
    sharpness: int | None = Field(default=None, ge=0, le=100)
    contrast: int | None = Field(default=None, ge=0, le=100)
    rotation: Literal[0, 180] | None = Field(default=None, description="0 or 180 degrees.")
    wdr: Wdr | None = None
    day_night: Literal["day", "night", "auto"] | None = Field(
        default=None, description="IR-cut filter: day (filter on), night (off) or auto.")
    exposure: Exposure | None = None
    noise_reduction: NoiseReduction | None = None

    @model_validator(mode="before")
    @classmethod
    def _app_only(cls, data: Any) -> Any:
        return _reject_app_only(data)


# --- OSD, privacy zones ------------------------------------------------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_OSD_NAME_BUDGET = 24  # manual: up to 24 Latin or up to 12 Cyrillic characters


def osd_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a TurretCam camera name, or ``None``.

    A Cyrillic character takes two of the 24 slots (the manual: 24 Latin or 12 Cyrillic).
    """
    for char in value:
        if unicodedata.category(char).startswith("C"):
            return "must not contain control characters"
        if ord(char) > 0xFF and not _CYRILLIC.match(char):
            return f"{char!r} is neither a Latin nor a Cyrillic character"
    cyrillic = len(_CYRILLIC.findall(value))
    used = len(value) + cyrillic
    if used > _OSD_NAME_BUDGET:
        if cyrillic:
            return (f"is too long: {len(value)} characters ({cyrillic} Cyrillic, each counting "
                    "double); the TurretCam allows up to 12 Cyrillic or 24 Latin characters")
        return (f"is too long: {len(value)} characters; the TurretCam allows up to 24 Latin "
                "(or 12 Cyrillic) characters")
    return None


class OsdSettings(BaseModel):
    """On-screen display: the camera name text and the timestamp."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Camera name; '' removes it.")
    timestamp: bool | None = Field(default=None, description="Show date and time.")

    @field_validator("name")
    @classmethod
    def _name_fits(cls, value: str | None) -> str | None:
        problem = osd_name_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"camera name {value!r} {problem}")
        return value


class PrivacyZone(BaseModel):
    """A rectangle in normalised frame coordinates: origin top-left, 0-1 on both axes."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    width: float = Field(gt=0, le=1)
    height: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside_frame(self) -> PrivacyZone:
        if self.x + self.width > 1.0 + 1e-9 or self.y + self.height > 1.0 + 1e-9:
            raise ValueError("the rectangle must lie inside the frame (x + width <= 1, "
                             "y + height <= 1)")
        return self


# --- time, network ------------------------------------------------------------------------

_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


def _hostname(value: str | None) -> str | None:
    if value is not None and not _HOSTNAME.match(value):
        raise ValueError("must be an RFC 1123 host label: letters, digits, '-', 1-63 chars")
    return value


class StaticNetwork(BaseModel):
    """Fixed IPv4 addressing (disruptive: the camera moves to ``address``)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["static"]
    address: ipaddress.IPv4Address
    prefix: int = Field(ge=1, le=32, description="Prefix length, e.g. 24.")
    gateway: ipaddress.IPv4Address
    dns: list[ipaddress.IPv4Address] = Field(min_length=1, max_length=3)
    hostname: str | None = None

    _check_hostname = field_validator("hostname")(classmethod(lambda cls, v: _hostname(v)))

    @model_validator(mode="after")
    def _gateway_in_subnet(self) -> StaticNetwork:
        network = ipaddress.IPv4Network(f"{self.address}/{self.prefix}", strict=False)
        if self.gateway not in network:
            raise ValueError(f"gateway {self.gateway} is not inside {network}")
        return self


class DhcpNetwork(BaseModel):
    """Addressing by DHCP; only the hostname is managed."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["dhcp"]
    hostname: str | None = None

    _check_hostname = field_validator("hostname")(classmethod(lambda cls, v: _hostname(v)))


Network = Annotated[StaticNetwork | DhcpNetwork, Field(discriminator="mode")]


class TurretCamSettings(BaseModel):
    """Desired state of one TurretCam; omitted settings are left as they are."""

    model_config = ConfigDict(extra="forbid")

    video: VideoSettings | None = None
    image: ImageSettings | None = None
    osd: OsdSettings | None = None
    privacy_zones: list[PrivacyZone] | None = Field(
        default=None, max_length=4, description="Up to four privacy rectangles (Media2 masks).")
    time_zone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Kyiv.")
    ntp: list[str] | None = Field(default=None, min_length=1, max_length=4,
                                  description="NTP servers (host names or IPv4 addresses).")
    network: Network | None = Field(default=None,
                                    description="DHCP or static; applied last (disruptive).")

    @model_validator(mode="before")
    @classmethod
    def _app_only(cls, data: Any) -> Any:
        return _reject_app_only(data)

    @field_validator("time_zone")
    @classmethod
    def _zone_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                posix_tz(value)
            except UnknownTimeZone as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("ntp")
    @classmethod
    def _ntp_hosts(cls, value: list[str] | None) -> list[str] | None:
        for server in value or []:
            if not _DNS_NAME.match(server):
                raise ValueError(f"NTP server {server!r} is not a host name or IPv4 address")
        return value


class TurretCamConnection(BaseModel):
    """Where and how to reach the camera's ONVIF service (enable ONVIF in the Ajax app)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="IPv4 address or DNS name of the camera.")
    port: int = Field(default=8080, ge=1, le=65535, description="ONVIF HTTP port.")
    username: str = Field(default="admin", min_length=1, description="ONVIF user (Ajax app).")
    password: SecretStr = Field(description="ONVIF user's password. Use ${env:NAME}.")
    timeout: float = Field(default=10.0, gt=0, le=600, description="Per-request timeout, s.")
    move_timeout: float = Field(default=60.0, gt=0, le=1800,
                                description="How long to wait for the camera at its new "
                                "address after a network change, seconds.")
