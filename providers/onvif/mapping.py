"""Manifest settings ⇄ ONVIF structures, as pure functions over element trees.

Why pure: every conversion here is exercised by the simulator tests and by
unit tests without sockets. ``apply_*`` functions change an element read
from the camera *in place*, touching only the children fleetform manages, so
read-modify-write hands back vendor extensions and unmanaged fields intact.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from fleetform.providers.onvif.soap import NS, TR2, TT, child, ensure, node, q, text_of

CODEC_TO_ONVIF = {"H.264": "H264", "H.265": "H265"}
CODEC_FROM_ONVIF = {v: k for k, v in CODEC_TO_ONVIF.items()}
DAY_NIGHT_TO_ONVIF = {"day": "ON", "night": "OFF", "auto": "AUTO"}  # ON = IR-cut filter in
DAY_NIGHT_FROM_ONVIF = {v: k for k, v in DAY_NIGHT_TO_ONVIF.items()}
EXPOSURE_TO_ONVIF = {"auto": "AUTO", "manual": "MANUAL"}
EXPOSURE_FROM_ONVIF = {v: k for k, v in EXPOSURE_TO_ONVIF.items()}


def tt(local: str) -> str:
    """``{tt}local``."""
    return q(TT, local)


def num(text: str | None) -> int | float | None:
    """ONVIF number text → int when integral (so 50.0 compares equal to a manifest 50)."""
    if text is None:
        return None
    value = float(text)
    return int(value) if value.is_integer() else round(value, 6)


def fmt(value: float) -> str:
    """A number as ONVIF text (no trailing ``.0``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _set_text(parent: ET.Element, tag: str, value: str, before: tuple[str, ...] = ()) -> None:
    ensure(parent, tag, before).text = value


# --- time ----------------------------------------------------------------------------------


def camera_utc(info: ET.Element | None) -> datetime | None:
    """The camera's UTC clock from ``tt:SystemDateAndTime`` (None if it gave none)."""
    utc = info.find("tt:UTCDateTime", NS) if info is not None else None
    if utc is None:
        return None
    fields = [text_of(utc, f"tt:{path}") for path in (
        "Date/tt:Year", "Date/tt:Month", "Date/tt:Day", "Time/tt:Hour", "Time/tt:Minute",
        "Time/tt:Second")]
    if any(f is None for f in fields):
        return None
    year, month, day, hour, minute, second = (int(f or 0) for f in fields)
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def time_zone_of(info: ET.Element | None) -> str:
    """The POSIX TZ string the camera holds ('' if none)."""
    return text_of(info, "tt:TimeZone/tt:TZ") or ""


def ntp_servers(info: ET.Element) -> list[str]:
    """Manually configured NTP servers, in order."""
    servers = []
    for host in info.findall("tt:NTPManual", NS):
        value = text_of(host, "tt:DNSname") or text_of(host, "tt:IPv4Address") or text_of(
            host, "tt:IPv6Address")
        if value:
            servers.append(value)
    return servers


# --- video ---------------------------------------------------------------------------------


def encoder_setting(config: ET.Element) -> dict[str, Any]:
    """A ``VideoEncoder2Configuration`` as a manifest stream dict."""
    encoding = text_of(config, "tt:Encoding") or ""
    rate = config.find("tt:RateControl", NS)
    return {
        "codec": CODEC_FROM_ONVIF.get(encoding, encoding),
        "resolution": f"{text_of(config, 'tt:Resolution/tt:Width')}x"
                      f"{text_of(config, 'tt:Resolution/tt:Height')}",
        "fps": num(text_of(rate, "tt:FrameRateLimit")),
        "rate_control": "CBR" if rate is not None and rate.get("ConstantBitRate") == "true"
        else "VBR",
        "bitrate": num(text_of(rate, "tt:BitrateLimit")),
        "gop": num(config.get("GovLength")),
        "quality": num(text_of(config, "tt:Quality")),
    }


_ENCODER_ORDER = ("Name", "UseCount", "Encoding", "Resolution", "RateControl", "Multicast",
                  "Quality")


def _after(tag: str, order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(tt(t) for t in order[order.index(tag) + 1:])


def apply_encoder(config: ET.Element, desired: dict[str, Any]) -> None:
    """Write the managed stream fields into ``config`` (read-modify-write)."""
    if "codec" in desired:
        _set_text(config, tt("Encoding"), CODEC_TO_ONVIF[desired["codec"]],
                  _after("Encoding", _ENCODER_ORDER))
        if desired["codec"] == "H.265":
            config.set("Profile", "Main")
    if "resolution" in desired:
        width, height = desired["resolution"].split("x")
        resolution = ensure(config, tt("Resolution"), _after("Resolution", _ENCODER_ORDER))
        _set_text(resolution, tt("Width"), width, (tt("Height"),))
        _set_text(resolution, tt("Height"), height)
    if {"fps", "bitrate", "rate_control"} & desired.keys():
        rate = ensure(config, tt("RateControl"), _after("RateControl", _ENCODER_ORDER))
        if "fps" in desired:
            _set_text(rate, tt("FrameRateLimit"), fmt(desired["fps"]), (tt("BitrateLimit"),))
        if "bitrate" in desired:
            _set_text(rate, tt("BitrateLimit"), str(desired["bitrate"]))
        if "rate_control" in desired:
            rate.set("ConstantBitRate", str(desired["rate_control"] == "CBR").lower())
    if "gop" in desired:
        config.set("GovLength", str(desired["gop"]))
    if "quality" in desired:
        _set_text(config, tt("Quality"), fmt(desired["quality"]), _after("Quality", _ENCODER_ORDER))


def _range(element: ET.Element | None, path: str) -> list[float] | None:
    found = element.find(path, NS) if element is not None else None
    if found is None:
        return None
    low, high = num(text_of(found, "tt:Min")), num(text_of(found, "tt:Max"))
    return None if low is None or high is None else [low, high]


def encoder_capabilities(options: list[ET.Element]) -> dict[str, Any]:
    """``tr2:Options`` (one per codec) as plain data: what the camera offers per codec."""
    caps: dict[str, Any] = {}
    for option in options:
        codec = CODEC_FROM_ONVIF.get(text_of(option, "tt:Encoding") or "", "")
        if not codec:
            continue
        resolutions = [f"{text_of(r, 'tt:Width')}x{text_of(r, 'tt:Height')}"
                       for r in option.findall("tt:ResolutionsAvailable", NS)]
        gop = [int(v) for v in option.get("GovLengthRange", "").split()]
        caps[codec] = {
            "resolutions": resolutions,
            "fps": sorted({num(v) for v in option.get("FrameRatesSupported", "").split()}),
            "bitrate": _range(option, "tt:BitrateRange"),
            "quality": _range(option, "tt:QualityRange"),
            "gop": gop if len(gop) == 2 else None,
            "cbr": option.get("ConstantBitRateSupported", "false") == "true",
        }
    return caps


def _outside(value: float, bounds: list[float] | None) -> bool:
    return bounds is not None and not bounds[0] <= value <= bounds[1]


def stream_problems(path: str, desired: dict[str, Any], live: dict[str, Any],
                    caps: dict[str, Any], model: str) -> list[str]:
    """Why ``desired`` cannot be set on this camera's stream, checked against its options."""
    codec = desired.get("codec") or live.get("codec")
    offered = caps.get(codec or "")
    if offered is None:
        return [f"{path}.codec {codec} is not offered by this {model} "
                f"(it offers {', '.join(caps) or 'none'})"]
    problems = []
    resolution = desired.get("resolution")
    if resolution is not None and resolution not in offered["resolutions"]:
        problems.append(f"{path}.resolution {resolution} is not supported by this {model} "
                        f"with {codec}; it offers {', '.join(offered['resolutions'])}")
    fps = desired.get("fps")
    if fps is not None and offered["fps"] and fps not in offered["fps"]:
        problems.append(f"{path}.fps {fps} is not offered (allowed: "
                        f"{offered['fps'][0]}-{offered['fps'][-1]})")
    for key, label in (("bitrate", "kbit/s"), ("quality", ""), ("gop", "frames")):
        value = desired.get(key)
        bounds = offered.get(key)
        if value is not None and _outside(value, bounds):
            assert bounds is not None
            problems.append(f"{path}.{key} {value} is outside this camera's range "
                            f"{bounds[0]}-{bounds[1]} {label}".rstrip())
    if desired.get("rate_control") == "CBR" and not offered["cbr"]:
        problems.append(f"{path}.rate_control CBR is not supported with {codec}")
    return problems


# --- image ---------------------------------------------------------------------------------

_IMAGING_ORDER = ("BacklightCompensation", "Brightness", "ColorSaturation", "Contrast",
                  "Exposure", "Focus", "IrCutFilter", "Sharpness", "WideDynamicRange",
                  "WhiteBalance", "Extension")
_SCALARS = {"brightness": "Brightness", "saturation": "ColorSaturation",
            "contrast": "Contrast", "sharpness": "Sharpness"}
_NOISE = "tt:Extension/tt:Extension/tt:Extension/tt:NoiseReduction/tt:Level"


def rotation_of(source: ET.Element) -> int:
    """Degrees the video source is rotated (0 unless ``Rotate/Mode`` is ON)."""
    mode = text_of(source, "tt:Extension/tt:Rotate/tt:Mode") or "OFF"
    if mode != "ON":
        return 0
    return int(num(text_of(source, "tt:Extension/tt:Rotate/tt:Degree")) or 180)


def apply_rotation(source: ET.Element, degrees: int) -> None:
    """Set ``Extension/Rotate`` (Mode ON + Degree 180, or Mode OFF)."""
    extension = ensure(source, tt("Extension"))
    rotate = ensure(extension, tt("Rotate"), (tt("Extension"),))
    _set_text(rotate, tt("Mode"), "ON" if degrees else "OFF", (tt("Degree"), tt("Extension")))
    degree = rotate.find("tt:Degree", NS)
    if degrees:
        _set_text(rotate, tt("Degree"), str(degrees), (tt("Extension"),))
    elif degree is not None:
        rotate.remove(degree)


def image_setting(settings: ET.Element, rotation: int) -> dict[str, Any]:
    """``ImagingSettings20`` plus the source rotation as a manifest ``image`` dict."""
    noise = num(text_of(settings, _NOISE))
    out: dict[str, Any] = {key: num(text_of(settings, f"tt:{tag}"))
                           for key, tag in _SCALARS.items()}
    out["rotation"] = rotation
    out["wdr"] = {"enabled": text_of(settings, "tt:WideDynamicRange/tt:Mode") == "ON",
                  "level": num(text_of(settings, "tt:WideDynamicRange/tt:Level"))}
    out["day_night"] = DAY_NIGHT_FROM_ONVIF.get(text_of(settings, "tt:IrCutFilter") or "")
    out["exposure"] = {
        "mode": EXPOSURE_FROM_ONVIF.get(text_of(settings, "tt:Exposure/tt:Mode") or ""),
        "shutter_us": num(text_of(settings, "tt:Exposure/tt:ExposureTime")),
    }
    out["noise_reduction"] = ({"enabled": False} if not noise else
                              {"enabled": True, "level": round(noise * 100)})
    return out


def noise_level(settings: ET.Element) -> float:
    """The noise-reduction level (0-1) the camera holds, 0 if it reports none."""
    return float(num(text_of(settings, _NOISE)) or 0.0)


def apply_imaging(settings: ET.Element, desired: dict[str, Any], current_noise: float) -> None:
    """Write the managed image fields into ``ImagingSettings20`` (read-modify-write)."""
    for key, tag in _SCALARS.items():
        if key in desired:
            _set_text(settings, tt(tag), fmt(desired[key]), _after(tag, _IMAGING_ORDER))
    if "day_night" in desired:
        _set_text(settings, tt("IrCutFilter"), DAY_NIGHT_TO_ONVIF[desired["day_night"]],
                  _after("IrCutFilter", _IMAGING_ORDER))
    if "wdr" in desired:
        wdr = ensure(settings, tt("WideDynamicRange"), _after("WideDynamicRange", _IMAGING_ORDER))
        _set_text(wdr, tt("Mode"), "ON" if desired["wdr"]["enabled"] else "OFF", (tt("Level"),))
        if desired["wdr"].get("level") is not None:
            _set_text(wdr, tt("Level"), fmt(desired["wdr"]["level"]))
    if "exposure" in desired:
        exposure = ensure(settings, tt("Exposure"), _after("Exposure", _IMAGING_ORDER))
        _set_text(exposure, tt("Mode"), EXPOSURE_TO_ONVIF[desired["exposure"]["mode"]],
                  tuple(tt(t) for t in ("Priority", "Window", "MinExposureTime",
                                        "MaxExposureTime", "MinGain", "MaxGain", "MinIris",
                                        "MaxIris", "ExposureTime", "Gain", "Iris")))
        if desired["exposure"].get("shutter_us") is not None:
            _set_text(exposure, tt("ExposureTime"), fmt(desired["exposure"]["shutter_us"]),
                      (tt("Gain"), tt("Iris")))
    if "noise_reduction" in desired:
        wanted = desired["noise_reduction"]
        if not wanted["enabled"]:
            level = 0.0
        elif wanted.get("level") is not None:
            level = wanted["level"] / 100
        else:
            level = current_noise or 0.5
        node_ = settings
        for tag in ("Extension", "Extension", "Extension", "NoiseReduction"):
            node_ = ensure(node_, tt(tag))
        _set_text(node_, tt("Level"), fmt(level))


def imaging_capabilities(options: ET.Element) -> dict[str, Any]:
    """``ImagingOptions20`` as plain data (ranges and allowed modes)."""
    caps: dict[str, Any] = {key: _range(options, f"tt:{tag}") for key, tag in _SCALARS.items()}
    caps["wdr_level"] = _range(options, "tt:WideDynamicRange/tt:Level")
    caps["shutter_us"] = _range(options, "tt:Exposure/tt:ExposureTime")
    caps["day_night"] = [DAY_NIGHT_FROM_ONVIF[m.text.strip()]
                         for m in options.findall("tt:IrCutFilterModes", NS)
                         if m.text and m.text.strip() in DAY_NIGHT_FROM_ONVIF]
    caps["exposure_modes"] = [EXPOSURE_FROM_ONVIF[m.text.strip()]
                              for m in options.findall("tt:Exposure/tt:Mode", NS)
                              if m.text and m.text.strip() in EXPOSURE_FROM_ONVIF]
    caps["noise_reduction"] = text_of(
        options, "tt:Extension/tt:Extension/tt:Extension/tt:NoiseReductionOptions/tt:Level"
    ) == "true"
    return caps


def image_problems(desired: dict[str, Any], caps: dict[str, Any]) -> list[str]:
    """Why ``desired`` image settings cannot be set, checked against ``timg:GetOptions``."""
    problems = []
    checks = [(key, desired.get(key), caps.get(key)) for key in _SCALARS]
    checks.append(("wdr.level", (desired.get("wdr") or {}).get("level"), caps.get("wdr_level")))
    checks.append(("exposure.shutter_us", (desired.get("exposure") or {}).get("shutter_us"),
                   caps.get("shutter_us")))
    for key, value, bounds in checks:
        if value is not None and _outside(value, bounds):
            assert bounds is not None
            problems.append(f"image.{key} {value} is outside this camera's range "
                            f"{bounds[0]}-{bounds[1]}")
    mode = desired.get("day_night")
    if mode is not None and caps.get("day_night") and mode not in caps["day_night"]:
        problems.append(f"image.day_night {mode} is not offered (allowed: "
                        f"{', '.join(caps['day_night'])})")
    exposure = (desired.get("exposure") or {}).get("mode")
    if exposure is not None and caps.get("exposure_modes") and (
            exposure not in caps["exposure_modes"]):
        problems.append(f"image.exposure.mode {exposure} is not offered")
    noise = desired.get("noise_reduction")
    if noise is not None and not caps.get("noise_reduction"):
        problems.append("image.noise_reduction is not adjustable on this camera over ONVIF")
    return problems


# --- OSD -----------------------------------------------------------------------------------


def osd_kind(osd: ET.Element) -> str:
    """``Plain``, ``DateAndTime``, ... of a text OSD ('' for image OSDs)."""
    return text_of(osd, "tt:TextString/tt:Type") or ""


def osd_setting(osds: list[ET.Element]) -> dict[str, Any]:
    """The camera-name text and whether a timestamp is shown."""
    name = next((text_of(o, "tt:TextString/tt:PlainText") or "" for o in osds
                 if osd_kind(o) == "Plain"), "")
    return {"name": name, "timestamp": any(osd_kind(o) in ("DateAndTime", "Date", "Time")
                                           for o in osds)}


def new_text_osd(source_token: str, kind: str, text: str = "",
                 position: str = "UpperLeft") -> ET.Element:
    """A ``tr2:OSD`` to create: plain text (camera name) or a date-and-time stamp."""
    osd = node(q(TR2, "OSD"), attrib={"token": ""})
    child(osd, tt("VideoSourceConfigurationToken"), source_token)
    child(osd, tt("Type"), "Text")
    child(child(osd, tt("Position")), tt("Type"), position)
    string = child(osd, tt("TextString"))
    child(string, tt("Type"), kind)
    if kind == "DateAndTime":
        child(string, tt("DateFormat"), "yyyy-MM-dd")
        child(string, tt("TimeFormat"), "HH:mm:ss")
    if kind == "Plain":
        child(string, tt("PlainText"), text)
    return osd


def set_osd_text(osd: ET.Element, text: str) -> None:
    """Change a plain-text OSD's text in place."""
    string = ensure(osd, tt("TextString"), (tt("Image"), tt("Extension")))
    _set_text(string, tt("PlainText"), text, (tt("Extension"),))


# --- privacy masks -------------------------------------------------------------------------


def zone_of(mask: ET.Element) -> dict[str, float]:
    """A mask polygon (ONVIF -1..1, y up) as a manifest rectangle (0..1, top-left origin)."""
    points = [(float(p.get("x", "0")), float(p.get("y", "0")))
              for p in mask.findall("tr2:Polygon/tt:Point", NS)]
    if not points:
        return {"x": 0.0, "y": 0.0, "width": 0.0, "height": 0.0}
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {"x": round((min(xs) + 1) / 2, 6), "y": round((1 - max(ys)) / 2, 6),
            "width": round((max(xs) - min(xs)) / 2, 6),
            "height": round((max(ys) - min(ys)) / 2, 6)}


def polygon_points(zone: dict[str, float]) -> list[tuple[float, float]]:
    """The four corners of a manifest rectangle in ONVIF coordinates (clockwise from top-left)."""
    left, right = 2 * zone["x"] - 1, 2 * (zone["x"] + zone["width"]) - 1
    top, bottom = 1 - 2 * zone["y"], 1 - 2 * (zone["y"] + zone["height"])
    return [(left, top), (right, top), (right, bottom), (left, bottom)]


def set_mask_zone(mask: ET.Element, zone: dict[str, float]) -> None:
    """Replace a mask's polygon with ``zone`` and enable it (other fields kept)."""
    polygon = ensure(mask, q(TR2, "Polygon"), (q(TR2, "Type"), q(TR2, "Color"),
                                               q(TR2, "Enabled")))
    for point in list(polygon):
        polygon.remove(point)
    for x, y in polygon_points(zone):
        child(polygon, tt("Point"), attrib={"x": fmt(round(x, 6)), "y": fmt(round(y, 6))})
    _set_text(mask, q(TR2, "Enabled"), "true")


def new_mask(config_token: str, zone: dict[str, float]) -> ET.Element:
    """A ``tr2:Mask`` to create for ``zone`` (solid colour)."""
    mask = node(q(TR2, "Mask"), attrib={"token": ""})
    child(mask, q(TR2, "ConfigurationToken"), config_token)
    child(mask, q(TR2, "Polygon"))
    child(mask, q(TR2, "Type"), "Color")
    set_mask_zone(mask, zone)
    return mask


# --- network -------------------------------------------------------------------------------


def network_setting(interface: ET.Element, dns: ET.Element, gateways: list[str],
                    hostname: str) -> dict[str, Any]:
    """The IPv4 interface, DNS, gateway and hostname as a manifest ``network`` dict."""
    config = interface.find("tt:IPv4/tt:Config", NS)
    if text_of(config, "tt:DHCP") == "true":
        return {"mode": "dhcp", "hostname": hostname}
    manual = config.find("tt:Manual", NS) if config is not None else None
    return {
        "mode": "static",
        "address": text_of(manual, "tt:Address") or "",
        "prefix": int(num(text_of(manual, "tt:PrefixLength")) or 0),
        "gateway": gateways[0] if gateways else "",
        "dns": [text_of(e, "tt:IPv4Address") or "" for e in dns.findall("tt:DNSManual", NS)],
        "hostname": hostname,
    }


def interface_address(interface: ET.Element) -> str:
    """The IPv4 address the interface reports (manual or from DHCP)."""
    return (text_of(interface, "tt:IPv4/tt:Config/tt:Manual/tt:Address")
            or text_of(interface, "tt:IPv4/tt:Config/tt:FromDHCP/tt:Address") or "")
