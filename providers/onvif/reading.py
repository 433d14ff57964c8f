"""Read a TurretCam's live settings over ONVIF, asking only for what the manifest manages.

Why selective: a plan across fifty cameras is dominated by round trips; a
manifest that manages only ``video`` should cost the discovery calls plus
profiles and encoder options, not the network and imaging services too. The
camera's option ranges travel in ``facts["capabilities"]`` (plain data) so
that ``plan`` can reject what the camera cannot do without another request,
and the tokens fleetform needs later travel in ``facts["onvif"]``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from fleetform.errors import ProtocolError
from fleetform.providers.onvif import mapping
from fleetform.providers.onvif.operations import CameraOperations
from fleetform.providers.onvif.soap import NS, text_of
from fleetform.providers.onvif.timezones import UnknownTimeZone, posix_tz

STREAMS = ("main", "sub")


def layout_of(profiles: list[ET.Element]) -> dict[str, str]:
    """Tokens of the main/sub encoder configurations and the video source.

    The first Media2 profile carries the mainstream, the second the substream
    (how TurretCam and most cameras order them).
    """
    layout: dict[str, str] = {}
    for stream, profile in zip(STREAMS, profiles, strict=False):
        encoder = profile.find("tr2:Configurations/tr2:VideoEncoder", NS)
        if encoder is not None:
            layout[stream] = encoder.get("token", "")
        source = profile.find("tr2:Configurations/tr2:VideoSource", NS)
        if source is not None and "source_config" not in layout:
            layout["source_config"] = source.get("token", "")
            layout["source"] = text_of(source, "tt:SourceToken") or ""
    if "source_config" not in layout or "main" not in layout:
        raise ProtocolError("the camera's Media2 profiles carry no video source or encoder")
    return layout


def encoders_of(profiles: list[ET.Element]) -> dict[str, ET.Element]:
    """The encoder configuration element of each stream, from the profiles reply."""
    out: dict[str, ET.Element] = {}
    for stream, profile in zip(STREAMS, profiles, strict=False):
        encoder = profile.find("tr2:Configurations/tr2:VideoEncoder", NS)
        if encoder is not None:
            out[stream] = encoder
    return out


def zone_name(desired: str | None, posix: str) -> str:
    """Show the live zone as the manifest's IANA name when it has the same rules."""
    if desired:
        try:
            if posix_tz(desired) == posix:
                return desired
        except UnknownTimeZone:
            pass
    return posix


def read_settings(ops: CameraOperations, desired: dict[str, Any],
                  clock: ET.Element) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Live values, capabilities and tokens for the settings ``desired`` manages."""
    live: dict[str, Any] = {}
    caps: dict[str, Any] = {}
    layout: dict[str, str] = {}
    if {"video", "image", "osd", "privacy_zones"} & desired.keys():
        profiles = ops.profiles()
        layout = layout_of(profiles)
        encoders = encoders_of(profiles)
        source = next(p.find("tr2:Configurations/tr2:VideoSource", NS) for p in profiles)
    if "video" in desired:
        live["video"] = {s: mapping.encoder_setting(e) for s, e in encoders.items()}
        caps["video"] = {
            s: mapping.encoder_capabilities(ops.encoder_options(layout[s], f"read video.{s} "
                                                                "option ranges"))
            for s in desired["video"] if s in layout
        }
    if "image" in desired:
        settings = ops.imaging_settings(layout["source"])
        rotation = mapping.rotation_of(source) if source is not None else 0
        live["image"] = mapping.image_setting(settings, rotation)
        caps["image"] = mapping.imaging_capabilities(ops.imaging_options(layout["source"]))
    if "osd" in desired:
        live["osd"] = mapping.osd_setting(ops.osds(layout["source_config"]))
    if "privacy_zones" in desired:
        live["privacy_zones"] = [mapping.zone_of(m) for m in ops.masks(layout["source_config"])]
        options = ops.mask_options(layout["source_config"])
        caps["max_masks"] = int(text_of(options, "tr2:MaxMasks") or "4")
    if "time_zone" in desired:
        live["time_zone"] = zone_name(desired["time_zone"], mapping.time_zone_of(clock))
    if "ntp" in desired:
        live["ntp"] = mapping.ntp_servers(ops.ntp())
    if "network" in desired:
        live["network"] = read_network(ops, layout)
    return live, caps, layout


def read_network(ops: CameraOperations, layout: dict[str, str]) -> dict[str, Any]:
    """The manifest ``network`` dict from four device-service reads."""
    interfaces = ops.network_interfaces()
    if not interfaces:
        raise ProtocolError("the camera reports no network interface")
    layout["interface"] = interfaces[0].get("token", "eth0")
    return mapping.network_setting(interfaces[0], ops.dns(), ops.gateways(), ops.hostname())
