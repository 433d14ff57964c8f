"""The state of one simulated TurretCam, and how it looks as ONVIF XML.

Why separate from the request handlers: tests change this state behind
fleetform's back (drift), the handlers change it through SOAP, and both need
the same rendering; plain dataclasses keep that honest and easy to inspect.
Element names and order follow the ONVIF ``tt`` schema (checked against the
ver10/ver20 WSDLs) so an unmodified zeep-based client can parse them.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from fleetform.providers.onvif.models import VariantCapabilities
from fleetform.providers.onvif.soap import TR2, TT, child, node, q

#: A vendor extension the simulator keeps in encoder configurations; fleetform
#: does not manage it, so read-modify-write must hand it back untouched.
VENDOR_NS = "http://www.ajax.systems/onvif/extension"


def tt(local: str) -> str:
    """``{tt}local``."""
    return q(TT, local)


def fmt(value: float) -> str:
    """ONVIF numbers: integral floats without a trailing ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class EncoderState:
    """One ``VideoEncoder2Configuration``."""

    token: str
    name: str
    encoding: str  # H264 / H265
    width: int
    height: int
    fps: float
    cbr: bool
    bitrate: int
    gop: int
    quality: float
    profile: str = "Main"
    extras: list[ET.Element] = field(default_factory=list)


@dataclass
class ImagingState:
    """The managed part of ``ImagingSettings20`` (plus two unmanaged modes)."""

    brightness: float = 50.0
    saturation: float = 50.0
    sharpness: float = 50.0
    contrast: float = 50.0
    ircut: str = "AUTO"
    wdr_mode: str = "OFF"
    wdr_level: float = 1.0
    exposure_mode: str = "AUTO"
    exposure_time: float = 10000.0
    noise_level: float = 0.5
    white_balance: str = "AUTO"
    backlight: str = "OFF"


@dataclass
class OsdState:
    """One text OSD: ``Plain`` (camera name) or ``DateAndTime``."""

    token: str
    kind: str
    text: str = ""
    position: str = "UpperLeft"


@dataclass
class MaskState:
    """One Media2 privacy mask (a polygon in ONVIF's -1..1 coordinates)."""

    token: str
    points: list[tuple[float, float]]
    kind: str = "Color"
    enabled: bool = True


@dataclass
class NetworkState:
    """eth0's IPv4 configuration, DNS, gateway and hostname."""

    mac: str
    dhcp: bool = True
    address: str = ""
    prefix: int = 24
    gateway: str = ""
    dns: list[str] = field(default_factory=list)
    dns_from_dhcp: bool = True
    hostname: str = "turretcam"


@dataclass
class CameraState:
    """Everything the simulated camera remembers."""

    variant: VariantCapabilities
    encoders: dict[str, EncoderState]
    network: NetworkState
    imaging: ImagingState = field(default_factory=ImagingState)
    rotation: int = 0
    osds: list[OsdState] = field(default_factory=list)
    masks: list[MaskState] = field(default_factory=list)
    time_zone: str = "UTC0"
    datetime_type: str = "NTP"
    ntp: list[str] = field(default_factory=lambda: ["pool.ntp.org"])
    ntp_from_dhcp: bool = False
    counter: int = 0

    def next_token(self, prefix: str) -> str:
        """A fresh token for a created OSD or mask."""
        self.counter += 1
        return f"{prefix}_{self.counter}"


def factory_state(variant: VariantCapabilities, mac: str, host: str) -> CameraState:
    """A TurretCam as it leaves the factory (DHCP lease at ``host``)."""
    main_w, main_h = (int(v) for v in variant.main.resolutions[-1].split("x"))
    vendor = node(q(VENDOR_NS, "SmartCodec"), "Off")
    encoders = {
        "main": EncoderState("VideoEncoderMain", "MainStream", "H265", main_w, main_h, 25.0,
                             False, 4096, 50, 60.0, extras=[vendor]),
        "sub": EncoderState("VideoEncoderSub", "SubStream", "H264", 720, 576, 15.0,
                            False, 512, 30, 50.0, extras=[copy.deepcopy(vendor)]),
    }
    return CameraState(variant=variant, encoders=encoders,
                       network=NetworkState(mac=mac, address=host, gateway="127.0.0.1",
                                            dns=["127.0.0.53"]),
                       osds=[OsdState("OSD_Time", "DateAndTime")])


# --- rendering ----------------------------------------------------------------------------

SOURCE_CONFIG = "VideoSourceConfig"
SOURCE = "VideoSource_1"


def encoder2_xml(tag: str, enc: EncoderState) -> ET.Element:
    """``tt:VideoEncoder2Configuration`` content under ``tag``."""
    element = node(tag, attrib={"token": enc.token, "GovLength": str(enc.gop),
                                "Profile": enc.profile})
    child(element, tt("Name"), enc.name)
    child(element, tt("UseCount"), "1")
    child(element, tt("Encoding"), enc.encoding)
    resolution = child(element, tt("Resolution"))
    child(resolution, tt("Width"), str(enc.width))
    child(resolution, tt("Height"), str(enc.height))
    rate = child(element, tt("RateControl"), attrib={"ConstantBitRate": str(enc.cbr).lower()})
    child(rate, tt("FrameRateLimit"), fmt(enc.fps))
    child(rate, tt("BitrateLimit"), str(enc.bitrate))
    child(element, tt("Quality"), fmt(enc.quality))
    element.extend(copy.deepcopy(enc.extras))
    return element


def encoder10_xml(tag: str, enc: EncoderState) -> ET.Element:
    """The ver10 ``tt:VideoEncoderConfiguration`` view (cannot say H.265 or CBR)."""
    element = node(tag, attrib={"token": enc.token})
    child(element, tt("Name"), enc.name)
    child(element, tt("UseCount"), "1")
    child(element, tt("Encoding"), "H264")
    resolution = child(element, tt("Resolution"))
    child(resolution, tt("Width"), str(enc.width))
    child(resolution, tt("Height"), str(enc.height))
    child(element, tt("Quality"), fmt(enc.quality))
    rate = child(element, tt("RateControl"))
    child(rate, tt("FrameRateLimit"), str(int(enc.fps)))
    child(rate, tt("EncodingInterval"), "1")
    child(rate, tt("BitrateLimit"), str(enc.bitrate))
    h264 = child(element, tt("H264"))
    child(h264, tt("GovLength"), str(enc.gop))
    child(h264, tt("H264Profile"), enc.profile)
    multicast = child(element, tt("Multicast"))
    address = child(multicast, tt("Address"))
    child(address, tt("Type"), "IPv4")
    child(address, tt("IPv4Address"), "0.0.0.0")
    child(multicast, tt("Port"), "0")
    child(multicast, tt("TTL"), "0")
    child(multicast, tt("AutoStart"), "false")
    child(element, tt("SessionTimeout"), "PT60S")
    return element


def source_config_xml(tag: str, state: CameraState) -> ET.Element:
    """``tt:VideoSourceConfiguration`` with ``Extension/Rotate``."""
    main = state.encoders["main"]
    element = node(tag, attrib={"token": SOURCE_CONFIG})
    child(element, tt("Name"), "VideoSourceConfig")
    child(element, tt("UseCount"), "2")
    child(element, tt("SourceToken"), SOURCE)
    child(element, tt("Bounds"), attrib={"x": "0", "y": "0", "width": str(main.width),
                                         "height": str(main.height)})
    extension = child(element, tt("Extension"))
    rotate = child(extension, tt("Rotate"))
    child(rotate, tt("Mode"), "ON" if state.rotation else "OFF")
    if state.rotation:
        child(rotate, tt("Degree"), str(state.rotation))
    return element


def imaging_xml(tag: str, img: ImagingState) -> ET.Element:
    """``tt:ImagingSettings20`` in schema order."""
    element = node(tag)
    backlight = child(element, tt("BacklightCompensation"))
    child(backlight, tt("Mode"), img.backlight)
    child(element, tt("Brightness"), fmt(img.brightness))
    child(element, tt("ColorSaturation"), fmt(img.saturation))
    child(element, tt("Contrast"), fmt(img.contrast))
    exposure = child(element, tt("Exposure"))
    child(exposure, tt("Mode"), img.exposure_mode)
    child(exposure, tt("ExposureTime"), fmt(img.exposure_time))
    child(element, tt("IrCutFilter"), img.ircut)
    child(element, tt("Sharpness"), fmt(img.sharpness))
    wdr = child(element, tt("WideDynamicRange"))
    child(wdr, tt("Mode"), img.wdr_mode)
    child(wdr, tt("Level"), fmt(img.wdr_level))
    balance = child(element, tt("WhiteBalance"))
    child(balance, tt("Mode"), img.white_balance)
    ext = child(child(child(element, tt("Extension")), tt("Extension")), tt("Extension"))
    child(child(ext, tt("NoiseReduction")), tt("Level"), fmt(img.noise_level))
    return element


def _range(parent: ET.Element, tag: str, bounds: tuple[float, float]) -> ET.Element:
    element = child(parent, tag)
    child(element, tt("Min"), fmt(bounds[0]))
    child(element, tt("Max"), fmt(bounds[1]))
    return element


def imaging_options_xml(tag: str, variant: VariantCapabilities) -> ET.Element:
    """``tt:ImagingOptions20`` for the variant."""
    element = node(tag)
    child(child(element, tt("BacklightCompensation")), tt("Mode"), "OFF")
    for name in ("Brightness", "ColorSaturation", "Contrast"):
        _range(element, tt(name), variant.image_range)
    exposure = child(element, tt("Exposure"))
    child(exposure, tt("Mode"), "AUTO")
    child(exposure, tt("Mode"), "MANUAL")
    _range(exposure, tt("ExposureTime"), variant.exposure_time_us)
    for mode in ("ON", "OFF", "AUTO"):
        child(element, tt("IrCutFilterModes"), mode)
    _range(element, tt("Sharpness"), variant.image_range)
    wdr = child(element, tt("WideDynamicRange"))
    child(wdr, tt("Mode"), "ON")
    child(wdr, tt("Mode"), "OFF")
    _range(wdr, tt("Level"), variant.wdr_level)
    ext = child(child(child(element, tt("Extension")), tt("Extension")), tt("Extension"))
    child(child(ext, tt("NoiseReductionOptions")), tt("Level"), "true")
    return element


def encoder_options_xml(enc: EncoderState, variant: VariantCapabilities,
                        stream: str) -> list[ET.Element]:
    """``tr2:Options`` (one per codec) for one encoder configuration."""
    caps = variant.main if stream == "main" else variant.sub
    out = []
    for codec in caps.codecs:
        options = node(q(TR2, "Options"), attrib={
            "GovLengthRange": f"{caps.gop[0]} {caps.gop[1]}",
            "FrameRatesSupported": " ".join(str(f) for f in range(caps.fps[0], caps.fps[1] + 1)),
            "ProfilesSupported": "Main High" if codec == "H.264" else "Main",
            "ConstantBitRateSupported": "true",
        })
        child(options, tt("Encoding"), codec.replace(".", ""))
        _range(options, tt("QualityRange"), caps.quality)
        for resolution in caps.resolutions:
            width, height = resolution.split("x")
            available = child(options, tt("ResolutionsAvailable"))
            child(available, tt("Width"), width)
            child(available, tt("Height"), height)
        _range(options, tt("BitrateRange"), caps.bitrate_kbps)
        out.append(options)
    return out


def osd_xml(tag: str, osd: OsdState) -> ET.Element:
    """``tt:OSDConfiguration`` for a text OSD."""
    element = node(tag, attrib={"token": osd.token})
    child(element, tt("VideoSourceConfigurationToken"), SOURCE_CONFIG)
    child(element, tt("Type"), "Text")
    child(child(element, tt("Position")), tt("Type"), osd.position)
    text = child(element, tt("TextString"))
    child(text, tt("Type"), osd.kind)
    if osd.kind in ("Date", "DateAndTime"):
        child(text, tt("DateFormat"), "yyyy-MM-dd")
    if osd.kind in ("Time", "DateAndTime"):
        child(text, tt("TimeFormat"), "HH:mm:ss")
    if osd.kind == "Plain":
        child(text, tt("PlainText"), osd.text)
    return element


def mask_xml(tag: str, mask: MaskState) -> ET.Element:
    """``tr2:Mask``."""
    element = node(tag, attrib={"token": mask.token})
    child(element, q(TR2, "ConfigurationToken"), SOURCE_CONFIG)
    polygon = child(element, q(TR2, "Polygon"))
    for x, y in mask.points:
        child(polygon, tt("Point"), attrib={"x": fmt(x), "y": fmt(y)})
    child(element, q(TR2, "Type"), mask.kind)
    child(element, q(TR2, "Color"), attrib={"X": "16", "Y": "128", "Z": "128",
                                              "Colorspace": "http://www.onvif.org/ver10/colorspace/YCbCr"})
    child(element, q(TR2, "Enabled"), str(mask.enabled).lower())
    return element


@dataclass
class CameraConfig:
    """How to build one simulated camera.

    ``digest`` / ``username_token`` switch the two auth schemes;
    ``clock_offset`` (seconds) puts the camera's clock off ours;
    ``clock_window`` is how far a UsernameToken's Created may be from it;
    ``user_level`` ``User`` makes every Set fail with ``ter:NotAuthorized``.
    """

    name: str
    host: str
    port: int = 8080
    model: str = "TurretCam (8 Mp/2.8 mm)"
    serial: str = ""
    firmware: str = "2.356.0"
    username: str = "admin"
    password: str = "admin"  # noqa: S105 - the simulated camera's factory login
    digest: bool = True
    username_token: bool = True
    clock_offset: float = 0.0
    clock_window: float = 300.0
    user_level: str = "Administrator"
    network_delay: float = 0.1
