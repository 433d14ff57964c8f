"""Media2, ver10 Media (reads) and Imaging operations of the simulated camera.

Why the validation here mirrors the manual: a real TurretCam refuses values
outside its option ranges with ``ter:InvalidArgVal``; the simulator does the
same from the capability tables in :mod:`models`, so a plan-time check that
is skipped or wrong shows up as an apply fault in tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fleetform.providers.onvif.sim_ops import (
    Handler,
    OpContext,
    SimFault,
    invalid,
    need,
    number,
    response,
    within,
)
from fleetform.providers.onvif.sim_state import (
    SOURCE,
    SOURCE_CONFIG,
    EncoderState,
    MaskState,
    OsdState,
    encoder2_xml,
    encoder10_xml,
    encoder_options_xml,
    imaging_options_xml,
    imaging_xml,
    mask_xml,
    osd_xml,
    source_config_xml,
    tt,
)
from fleetform.providers.onvif.soap import NS, TIMG, TR2, TRT, child, node, q, text_of

_KNOWN_ENCODER = {tt(n) for n in ("Name", "UseCount", "Encoding", "Resolution", "RateControl",
                                  "Multicast", "Quality")}


def _encoder(ctx: OpContext, token: str | None) -> tuple[str, EncoderState]:
    for stream, enc in ctx.state.encoders.items():
        if token is None or enc.token == token:
            return stream, enc
    raise invalid(f"no video encoder configuration {token!r}", "NoConfig")


def get_profiles2(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TR2, "GetProfiles")
    for stream, enc in ctx.state.encoders.items():
        profile = child(out, q(TR2, "Profiles"), attrib={"token": f"Profile_{stream}",
                                                           "fixed": "true"})
        child(profile, q(TR2, "Name"), f"{stream}stream")
        configs = child(profile, q(TR2, "Configurations"))
        configs.append(source_config_xml(q(TR2, "VideoSource"), ctx.state))
        configs.append(encoder2_xml(q(TR2, "VideoEncoder"), enc))
    return out


def get_encoder_configs2(ctx: OpContext, body: ET.Element) -> ET.Element:
    token = text_of(body, "tr2:ConfigurationToken")
    out = response(TR2, "GetVideoEncoderConfigurations")
    for enc in ctx.state.encoders.values():
        if token is None or enc.token == token:
            out.append(encoder2_xml(q(TR2, "Configurations"), enc))
    if token is not None and len(out) == 0:
        raise invalid(f"no video encoder configuration {token!r}", "NoConfig")
    return out


def get_encoder_options2(ctx: OpContext, body: ET.Element) -> ET.Element:
    stream, enc = _encoder(ctx, text_of(body, "tr2:ConfigurationToken"))
    out = response(TR2, "GetVideoEncoderConfigurationOptions")
    out.extend(encoder_options_xml(enc, ctx.state.variant, stream))
    return out


def set_encoder2(ctx: OpContext, body: ET.Element) -> ET.Element:
    config = body.find("tr2:Configuration", NS)
    if config is None:
        raise invalid("missing Configuration", "NoConfig")
    stream, enc = _encoder(ctx, config.get("token") or "?")
    caps = ctx.state.variant.main if stream == "main" else ctx.state.variant.sub
    encoding = need(config, "tt:Encoding", "Encoding")
    if encoding not in ("H264", "H265"):
        raise invalid(f"encoding {encoding} is not supported (H264, H265)")
    width = int(number(config, "tt:Resolution/tt:Width", "Resolution/Width"))
    height = int(number(config, "tt:Resolution/tt:Height", "Resolution/Height"))
    if f"{width}x{height}" not in caps.resolutions:
        raise invalid(f"resolution {width}x{height} is not supported by the {stream}stream "
                      f"of {ctx.config.model}")
    rate = config.find("tt:RateControl", NS)
    fps = within(number(rate, "tt:FrameRateLimit", "FrameRateLimit"), caps.fps, "frame rate")
    bitrate = within(number(rate, "tt:BitrateLimit", "BitrateLimit"), caps.bitrate_kbps,
                     "bitrate (kbit/s)")
    quality = within(number(config, "tt:Quality", "Quality"), caps.quality, "quality")
    gop = within(float(config.get("GovLength", str(enc.gop))), caps.gop, "GOP length")
    enc.encoding, enc.width, enc.height, enc.fps = encoding, width, height, fps
    enc.bitrate, enc.quality, enc.gop = int(bitrate), quality, int(gop)
    enc.cbr = rate is not None and rate.get("ConstantBitRate") == "true"
    enc.profile = config.get("Profile", enc.profile)
    enc.name = text_of(config, "tt:Name") or enc.name
    enc.extras = [element for element in config if element.tag not in _KNOWN_ENCODER]
    return response(TR2, "SetVideoEncoderConfiguration")


def get_source_configs2(ctx: OpContext, _body: ET.Element) -> ET.Element:
    return response(TR2, "GetVideoSourceConfigurations",
                    source_config_xml(q(TR2, "Configurations"), ctx.state))


def set_source_config2(ctx: OpContext, body: ET.Element) -> ET.Element:
    config = body.find("tr2:Configuration", NS)
    if config is None or config.get("token") != SOURCE_CONFIG:
        raise invalid("no such video source configuration", "NoConfig")
    rotate = config.find("tt:Extension/tt:Rotate", NS)
    if rotate is not None:
        mode = need(rotate, "tt:Mode", "Rotate/Mode")
        degree = int(number(rotate, "tt:Degree", "Rotate/Degree")) if (
            rotate.find("tt:Degree", NS) is not None) else (180 if mode == "ON" else 0)
        if mode == "OFF":
            degree = 0
        elif mode != "ON" or degree not in (0, 180):
            raise invalid(f"rotation {mode}/{degree} is not supported (OFF, or ON with 180)")
        ctx.state.rotation = degree
    return response(TR2, "SetVideoSourceConfiguration")


def get_osds(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TR2, "GetOSDs")
    out.extend(osd_xml(q(TR2, "OSDs"), osd) for osd in ctx.state.osds)
    return out


def _osd_from(element: ET.Element | None, token: str) -> OsdState:
    if element is None:
        raise invalid("missing OSD", "InvalidOSD")
    kind = need(element, "tt:TextString/tt:Type", "TextString/Type")
    if kind not in ("Plain", "Date", "Time", "DateAndTime"):
        raise invalid(f"OSD text type {kind!r} is not supported", "InvalidOSD")
    text = text_of(element, "tt:TextString/tt:PlainText") or ""
    budget = len(text) + sum(1 for c in text if "\u0400" <= c <= "\u04ff")
    if budget > 24:
        raise invalid("OSD text longer than 24 Latin / 12 Cyrillic characters", "InvalidOSD")
    position = text_of(element, "tt:Position/tt:Type") or "UpperLeft"
    return OsdState(token, kind, text, position)


def create_osd(ctx: OpContext, body: ET.Element) -> ET.Element:
    if len(ctx.state.osds) >= 4:
        raise SimFault("Receiver", ("ter:Action", "ter:MaxOSDs"), "at most 4 OSDs")
    osd = _osd_from(body.find("tr2:OSD", NS), ctx.state.next_token("OSD"))
    ctx.state.osds.append(osd)
    return response(TR2, "CreateOSD", node(q(TR2, "OSDToken"), osd.token))


def set_osd(ctx: OpContext, body: ET.Element) -> ET.Element:
    element = body.find("tr2:OSD", NS)
    token = element.get("token", "") if element is not None else ""
    for index, existing in enumerate(ctx.state.osds):
        if existing.token == token:
            ctx.state.osds[index] = _osd_from(element, token)
            return response(TR2, "SetOSD")
    raise invalid(f"no OSD {token!r}", "NoConfig")


def delete_osd(ctx: OpContext, body: ET.Element) -> ET.Element:
    token = need(body, "tr2:OSDToken", "OSDToken")
    before = len(ctx.state.osds)
    ctx.state.osds = [o for o in ctx.state.osds if o.token != token]
    if len(ctx.state.osds) == before:
        raise invalid(f"no OSD {token!r}", "NoConfig")
    return response(TR2, "DeleteOSD")


def get_mask_options(ctx: OpContext, _body: ET.Element) -> ET.Element:
    options = node(q(TR2, "Options"), attrib={"RectangleOnly": "true", "SingleColorOnly": "true"})
    child(options, q(TR2, "MaxMasks"), str(ctx.state.variant.max_masks))
    child(options, q(TR2, "MaxPoints"), "4")
    child(options, q(TR2, "Types"), "Color")
    color = child(options, q(TR2, "Color"))
    child(color, tt("ColorList"), attrib={"X": "16", "Y": "128", "Z": "128"})
    return response(TR2, "GetMaskOptions", options)


def get_masks(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TR2, "GetMasks")
    out.extend(mask_xml(q(TR2, "Masks"), m) for m in ctx.state.masks)
    return out


def _mask_from(element: ET.Element | None, token: str) -> MaskState:
    if element is None:
        raise invalid("missing Mask", "InvalidMask")
    points = []
    for point in element.findall("tr2:Polygon/tt:Point", NS):
        x, y = float(point.get("x", "nan")), float(point.get("y", "nan"))
        if not (-1 <= x <= 1 and -1 <= y <= 1):
            raise invalid(f"mask point ({x}, {y}) is outside -1..1", "InvalidMask")
        points.append((x, y))
    xs, ys = {p[0] for p in points}, {p[1] for p in points}
    if len(points) != 4 or len(xs) != 2 or len(ys) != 2:
        raise invalid("masks must be rectangles (RectangleOnly)", "InvalidMask")
    enabled = text_of(element, "tr2:Enabled") != "false"
    return MaskState(token, points, text_of(element, "tr2:Type") or "Color", enabled)


def create_mask(ctx: OpContext, body: ET.Element) -> ET.Element:
    if len(ctx.state.masks) >= ctx.state.variant.max_masks:
        raise SimFault("Receiver", ("ter:Action", "ter:MaxMasks"),
                       f"the camera holds at most {ctx.state.variant.max_masks} masks")
    mask = _mask_from(body.find("tr2:Mask", NS), ctx.state.next_token("Mask"))
    ctx.state.masks.append(mask)
    return response(TR2, "CreateMask", node(q(TR2, "Token"), mask.token))


def set_mask(ctx: OpContext, body: ET.Element) -> ET.Element:
    element = body.find("tr2:Mask", NS)
    token = element.get("token", "") if element is not None else ""
    for index, existing in enumerate(ctx.state.masks):
        if existing.token == token:
            ctx.state.masks[index] = _mask_from(element, token)
            return response(TR2, "SetMask")
    raise invalid(f"no mask {token!r}", "NoConfig")


def delete_mask(ctx: OpContext, body: ET.Element) -> ET.Element:
    token = need(body, "tr2:Token", "Token")
    before = len(ctx.state.masks)
    ctx.state.masks = [m for m in ctx.state.masks if m.token != token]
    if len(ctx.state.masks) == before:
        raise invalid(f"no mask {token!r}", "NoConfig")
    return response(TR2, "DeleteMask")


# --- ver10 media (reads only, for third-party clients) --------------------------------


def get_profiles10(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TRT, "GetProfiles")
    for stream, enc in ctx.state.encoders.items():
        profile = child(out, q(TRT, "Profiles"), attrib={"token": f"Profile_{stream}",
                                                           "fixed": "true"})
        child(profile, tt("Name"), f"{stream}stream")
        profile.append(source_config_xml(tt("VideoSourceConfiguration"), ctx.state))
        profile.append(encoder10_xml(tt("VideoEncoderConfiguration"), enc))
    return out


def get_encoder_configs10(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TRT, "GetVideoEncoderConfigurations")
    out.extend(encoder10_xml(q(TRT, "Configurations"), e) for e in ctx.state.encoders.values())
    return out


# --- imaging ---------------------------------------------------------------------------


def _source(body: ET.Element) -> None:
    if text_of(body, "timg:VideoSourceToken") != SOURCE:
        raise invalid("no such video source", "NoSource")


def get_imaging(ctx: OpContext, body: ET.Element) -> ET.Element:
    _source(body)
    return response(TIMG, "GetImagingSettings",
                    imaging_xml(q(TIMG, "ImagingSettings"), ctx.state.imaging))


def get_imaging_options(ctx: OpContext, body: ET.Element) -> ET.Element:
    _source(body)
    return response(TIMG, "GetOptions",
                    imaging_options_xml(q(TIMG, "ImagingOptions"), ctx.state.variant))


def set_imaging(ctx: OpContext, body: ET.Element) -> ET.Element:
    _source(body)
    settings = body.find("timg:ImagingSettings", NS)
    if settings is None:
        raise invalid("missing ImagingSettings", "SettingsInvalid")
    img, variant = ctx.state.imaging, ctx.state.variant
    for tag, attr in (("Brightness", "brightness"), ("ColorSaturation", "saturation"),
                      ("Contrast", "contrast"), ("Sharpness", "sharpness")):
        if settings.find(f"tt:{tag}", NS) is not None:
            setattr(img, attr, within(number(settings, f"tt:{tag}", tag), variant.image_range,
                                      tag))
    choices = {"IrCutFilter": ("ON", "OFF", "AUTO"), "WideDynamicRange/tt:Mode": ("ON", "OFF"),
               "Exposure/tt:Mode": ("AUTO", "MANUAL")}
    values = {}
    for path, allowed in choices.items():
        value = text_of(settings, f"tt:{path}")
        if value is not None and value not in allowed:
            raise invalid(f"{path.replace('/tt:', '/')} {value!r} is not one of {allowed}",
                          "SettingsInvalid")
        values[path] = value
    img.ircut = values["IrCutFilter"] or img.ircut
    img.wdr_mode = values["WideDynamicRange/tt:Mode"] or img.wdr_mode
    img.exposure_mode = values["Exposure/tt:Mode"] or img.exposure_mode
    if settings.find("tt:WideDynamicRange/tt:Level", NS) is not None:
        img.wdr_level = within(number(settings, "tt:WideDynamicRange/tt:Level", "WDR level"),
                               variant.wdr_level, "WDR level")
    if settings.find("tt:Exposure/tt:ExposureTime", NS) is not None:
        img.exposure_time = within(number(settings, "tt:Exposure/tt:ExposureTime",
                                          "ExposureTime"), variant.exposure_time_us,
                                   "exposure time (us)")
    noise = "tt:Extension/tt:Extension/tt:Extension/tt:NoiseReduction/tt:Level"
    if settings.find(noise, NS) is not None:
        img.noise_level = within(number(settings, noise, "NoiseReduction/Level"), (0.0, 1.0),
                                 "noise reduction level")
    img.white_balance = text_of(settings, "tt:WhiteBalance/tt:Mode") or img.white_balance
    img.backlight = text_of(settings, "tt:BacklightCompensation/tt:Mode") or img.backlight
    return response(TIMG, "SetImagingSettings")


MEDIA_OPS: dict[str, tuple[str, Handler]] = {
    q(namespace, name): (access, handler)
    for namespace, name, access, handler in (
        (TR2, "GetProfiles", "read", get_profiles2),
        (TR2, "GetVideoEncoderConfigurations", "read", get_encoder_configs2),
        (TR2, "GetVideoEncoderConfigurationOptions", "read", get_encoder_options2),
        (TR2, "SetVideoEncoderConfiguration", "write", set_encoder2),
        (TR2, "GetVideoSourceConfigurations", "read", get_source_configs2),
        (TR2, "SetVideoSourceConfiguration", "write", set_source_config2),
        (TR2, "GetOSDs", "read", get_osds),
        (TR2, "CreateOSD", "write", create_osd),
        (TR2, "SetOSD", "write", set_osd),
        (TR2, "DeleteOSD", "write", delete_osd),
        (TR2, "GetMaskOptions", "read", get_mask_options),
        (TR2, "GetMasks", "read", get_masks),
        (TR2, "CreateMask", "write", create_mask),
        (TR2, "SetMask", "write", set_mask),
        (TR2, "DeleteMask", "write", delete_mask),
        (TRT, "GetProfiles", "read", get_profiles10),
        (TRT, "GetVideoEncoderConfigurations", "read", get_encoder_configs10),
        (TIMG, "GetImagingSettings", "read", get_imaging),
        (TIMG, "GetOptions", "read", get_imaging_options),
        (TIMG, "SetImagingSettings", "write", set_imaging),
    )
}
