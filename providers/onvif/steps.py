"""Apply one top-level setting to a TurretCam: read fresh, modify, Set, read back.

Why read fresh instead of reusing the plan's read: the Set operations take
whole configurations, and anything fleetform does not manage (vendor
extensions, white balance, multicast) must be sent back as the camera has it
*now*. Each step returns the value read back after the write, so a camera
that accepts a Set and ignores it fails verification in the engine.
Writes are skipped when the fresh read already matches (fewer round trips).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetform.diff import same_value
from fleetform.providers.onvif import mapping
from fleetform.providers.onvif.operations import CameraOperations
from fleetform.providers.onvif.reading import read_network, zone_name
from fleetform.providers.onvif.soap import text_of
from fleetform.providers.onvif.timezones import posix_tz

Progress = Callable[[str], None]


def differs(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    """True if any managed key of ``desired`` differs from ``live`` (nested dicts too)."""
    for key, want in desired.items():
        have = live.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            if differs(want, have):
                return True
        elif not same_value(want, have):
            return True
    return False


def apply_video(ops: CameraOperations, desired: dict[str, Any], layout: dict[str, str],
                progress: Progress) -> dict[str, Any]:
    """Media2 SetVideoEncoderConfiguration per stream, then read both back."""
    observed: dict[str, Any] = {}
    for stream, wanted in desired.items():
        token = layout[stream]
        config = ops.encoder_configuration(token, f"read video.{stream}")
        if differs(wanted, mapping.encoder_setting(config)):
            progress(f"writing video.{stream} (SetVideoEncoderConfiguration)")
            mapping.apply_encoder(config, wanted)
            ops.set_encoder_configuration(config, f"set video.{stream}")
            config = ops.encoder_configuration(token, f"read back video.{stream}")
        observed[stream] = mapping.encoder_setting(config)
    return observed


def apply_image(ops: CameraOperations, desired: dict[str, Any], layout: dict[str, str],
                progress: Progress) -> dict[str, Any]:
    """SetImagingSettings for image quality, SetVideoSourceConfiguration for rotation."""
    source = layout["source"]
    settings = ops.imaging_settings(source)
    imaging = {k: v for k, v in desired.items() if k != "rotation"}
    if imaging and differs(imaging, mapping.image_setting(settings, 0)):
        progress("writing image settings (SetImagingSettings)")
        mapping.apply_imaging(settings, imaging, mapping.noise_level(settings))
        ops.set_imaging_settings(source, settings)
        settings = ops.imaging_settings(source)
    config = ops.source_configuration(layout["source_config"])
    if "rotation" in desired and mapping.rotation_of(config) != desired["rotation"]:
        progress("writing image.rotation (SetVideoSourceConfiguration)")
        mapping.apply_rotation(config, desired["rotation"])
        ops.set_source_configuration(config)
        config = ops.source_configuration(layout["source_config"])
    return mapping.image_setting(settings, mapping.rotation_of(config))


def apply_osd(ops: CameraOperations, desired: dict[str, Any], layout: dict[str, str],
              progress: Progress) -> dict[str, Any]:
    """Create, change or delete the camera-name and timestamp OSDs."""
    token = layout["source_config"]
    osds = ops.osds(token)
    plain = [o for o in osds if mapping.osd_kind(o) == "Plain"]
    stamps = [o for o in osds if mapping.osd_kind(o) in ("DateAndTime", "Date", "Time")]
    name = desired.get("name")
    if name is not None:
        current = mapping.osd_setting(plain)["name"] if plain else None
        if not name:
            for osd in plain:
                progress("removing the camera name OSD (DeleteOSD)")
                ops.delete_osd(osd.get("token", ""), "remove osd.name")
        elif not plain:
            progress("creating the camera name OSD (CreateOSD)")
            ops.create_osd(mapping.new_text_osd(token, "Plain", name), "set osd.name")
        elif current != name:
            progress("writing osd.name (SetOSD)")
            mapping.set_osd_text(plain[0], name)
            ops.set_osd(plain[0], "set osd.name")
    timestamp = desired.get("timestamp")
    if timestamp is True and not stamps:
        progress("creating the timestamp OSD (CreateOSD)")
        ops.create_osd(mapping.new_text_osd(token, "DateAndTime", position="UpperRight"),
                       "set osd.timestamp")
    elif timestamp is False:
        for osd in stamps:
            progress("removing the timestamp OSD (DeleteOSD)")
            ops.delete_osd(osd.get("token", ""), "remove osd.timestamp")
    return mapping.osd_setting(ops.osds(token))


def apply_zones(ops: CameraOperations, desired: list[dict[str, Any]], layout: dict[str, str],
                progress: Progress) -> list[dict[str, Any]]:
    """Make the camera's masks equal the manifest's rectangles, index by index."""
    token = layout["source_config"]
    masks = ops.masks(token)
    for index, mask in enumerate(masks[len(desired):], start=len(desired)):
        progress(f"deleting privacy zone {index + 1} (DeleteMask)")
        ops.delete_mask(mask.get("token", ""), f"delete privacy_zones[{index}]")
    for index, zone in enumerate(desired):
        what = f"set privacy_zones[{index}]"
        if index < len(masks):
            if differs(zone, mapping.zone_of(masks[index])):
                progress(f"writing privacy zone {index + 1} (SetMask)")
                mapping.set_mask_zone(masks[index], zone)
                ops.set_mask(masks[index], what)
        else:
            progress(f"creating privacy zone {index + 1} (CreateMask)")
            ops.create_mask(mapping.new_mask(token, zone), what)
    return [mapping.zone_of(m) for m in ops.masks(token)]


def apply_time_zone(ops: CameraOperations, desired: str, progress: Progress) -> str:
    """SetSystemDateAndTime with the zone's POSIX string, keeping the time type."""
    posix = posix_tz(desired)
    current = ops.system_date_and_time("read time_zone")
    if mapping.time_zone_of(current) != posix:
        progress(f"writing time_zone {desired} as POSIX '{posix}' (SetSystemDateAndTime)")
        ops.set_time_zone(posix, current)
        current = ops.system_date_and_time("read back time_zone")
    return zone_name(desired, mapping.time_zone_of(current))


def apply_ntp(ops: CameraOperations, desired: list[str], progress: Progress) -> list[str]:
    """SetNTP with manual servers; switch the clock to NTP if it was Manual."""
    if mapping.ntp_servers(ops.ntp()) != desired:
        progress("writing ntp servers (SetNTP)")
        ops.set_ntp(desired)
    clock = ops.system_date_and_time("read ntp time keeping")
    if text_of(clock, "tt:DateTimeType") != "NTP":
        progress("switching the camera clock to NTP (SetSystemDateAndTime)")
        ops.set_date_time_type("NTP", clock)
    return mapping.ntp_servers(ops.ntp())


def push_network(ops: CameraOperations, desired: dict[str, Any], layout: dict[str, str],
                 progress: Progress) -> tuple[bool, bool]:
    """Write hostname, DNS, gateway, then the interface; returns (address changed, reboot)."""
    live = read_network(ops, layout)
    token = layout["interface"]
    hostname = desired.get("hostname")
    if hostname is not None and hostname != live.get("hostname"):
        progress("writing network.hostname (SetHostname)")
        ops.set_hostname(hostname)
    if desired["mode"] == "dhcp":
        if live["mode"] == "dhcp":
            return False, False
        progress("switching to DHCP (SetDNS, SetNetworkInterfaces)")
        ops.set_dns(True, [])
        return True, ops.set_ipv4(token, True)
    dns = [str(d) for d in desired["dns"]]
    if live["mode"] != "static" or live.get("dns") != dns:
        progress("writing network.dns (SetDNS)")
        ops.set_dns(False, dns)
    if str(desired["gateway"]) != live.get("gateway"):
        progress("writing network.gateway (SetNetworkDefaultGateway)")
        ops.set_gateway(str(desired["gateway"]))
    address = str(desired["address"])
    if (live["mode"], live.get("address"), live.get("prefix")) == ("static", address,
                                                                   desired["prefix"]):
        return False, False
    progress(f"moving the camera to {address}/{desired['prefix']} (SetNetworkInterfaces)")
    return True, ops.set_ipv4(token, False, address, desired["prefix"])
