"""Typed ONVIF operations for the TurretCam, one method per SOAP call.

Why a layer over :class:`OnvifClient`: the provider speaks in settings, the
client in envelopes; these methods build each request body, name the
setting an error concerns, and return the response elements unmodified so
read-modify-write keeps everything the camera sent.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET

from fleetform.device import Deadline
from fleetform.errors import ProtocolError
from fleetform.providers.onvif.client import OnvifClient, renamed
from fleetform.providers.onvif.soap import NS, TDS, TIMG, TR2, TT, child, node, q, text_of


def _req(namespace: str, operation: str, **fields: str) -> ET.Element:
    body = node(q(namespace, operation))
    for name, value in fields.items():
        child(body, q(namespace, name), value)
    return body


def _host(tag: str, server: str) -> ET.Element:
    """A ``tt:NetworkHost`` (NTP) entry: IPv4 address or DNS name."""
    element = node(tag)
    try:
        ipaddress.IPv4Address(server)
        child(element, q(TT, "Type"), "IPv4")
        child(element, q(TT, "IPv4Address"), server)
    except ValueError:
        child(element, q(TT, "Type"), "DNS")
        child(element, q(TT, "DNSname"), server)
    return element


class CameraOperations:
    """The ONVIF calls fleetform makes on a TurretCam."""

    def __init__(self, client: OnvifClient, deadline: Deadline) -> None:
        self.client = client
        self.deadline = deadline

    def _call(self, service: str, body: ET.Element, what: str) -> ET.Element:
        return self.client.call(service, body, self.deadline, what)

    # --- device ------------------------------------------------------------------------

    def device_information(self) -> dict[str, str]:
        """Manufacturer, Model, FirmwareVersion, SerialNumber, HardwareId."""
        reply = self._call("device", _req(TDS, "GetDeviceInformation"), "read identity")
        return {field: text_of(reply, f"tds:{field}") or "" for field in (
            "Manufacturer", "Model", "FirmwareVersion", "SerialNumber", "HardwareId")}

    def system_date_and_time(self, what: str) -> ET.Element:
        """``tt:SystemDateAndTime`` (authenticated read, e.g. for verification)."""
        reply = self._call("device", _req(TDS, "GetSystemDateAndTime"), what)
        info = reply.find("tds:SystemDateAndTime", NS)
        if info is None:
            raise ProtocolError("GetSystemDateAndTime answered without SystemDateAndTime")
        return info

    def set_time_zone(self, posix: str, current: ET.Element) -> None:
        """Set the POSIX TZ, keeping the date/time type and DST flag the camera has."""
        body = _req(TDS, "SetSystemDateAndTime",
                    DateTimeType=text_of(current, "tt:DateTimeType") or "NTP",
                    DaylightSavings=text_of(current, "tt:DaylightSavings") or "false")
        child(child(body, q(TDS, "TimeZone")), q(TT, "TZ"), posix)
        self._call("device", body, "set time_zone")

    def set_date_time_type(self, kind: str, current: ET.Element) -> None:
        """Switch between NTP and Manual time keeping, keeping the zone."""
        body = _req(TDS, "SetSystemDateAndTime", DateTimeType=kind,
                    DaylightSavings=text_of(current, "tt:DaylightSavings") or "false")
        zone = text_of(current, "tt:TimeZone/tt:TZ")
        if zone:
            child(child(body, q(TDS, "TimeZone")), q(TT, "TZ"), zone)
        self._call("device", body, "set ntp (time from NTP)")

    def ntp(self) -> ET.Element:
        """``tt:NTPInformation``."""
        reply = self._call("device", _req(TDS, "GetNTP"), "read ntp")
        info = reply.find("tds:NTPInformation", NS)
        if info is None:
            raise ProtocolError("GetNTP answered without NTPInformation")
        return info

    def set_ntp(self, servers: list[str]) -> None:
        """Manual NTP servers (not from DHCP)."""
        body = _req(TDS, "SetNTP", FromDHCP="false")
        body.extend(_host(q(TDS, "NTPManual"), server) for server in servers)
        self._call("device", body, "set ntp")

    def hostname(self) -> str:
        """The camera's hostname."""
        reply = self._call("device", _req(TDS, "GetHostname"), "read network.hostname")
        return text_of(reply, "tds:HostnameInformation/tt:Name") or ""

    def set_hostname(self, name: str) -> None:
        """Set the hostname (RFC 1123 label)."""
        self._call("device", _req(TDS, "SetHostname", Name=name), "set network.hostname")

    def network_interfaces(self) -> list[ET.Element]:
        """``tds:NetworkInterfaces`` elements."""
        reply = self._call("device", _req(TDS, "GetNetworkInterfaces"), "read network")
        return reply.findall("tds:NetworkInterfaces", NS)

    def set_ipv4(self, token: str, dhcp: bool, address: str = "", prefix: int = 0) -> bool:
        """Configure the interface's IPv4; returns RebootNeeded."""
        body = _req(TDS, "SetNetworkInterfaces", InterfaceToken=token)
        iface = child(body, q(TDS, "NetworkInterface"))
        child(iface, q(TT, "Enabled"), "true")
        ipv4 = child(iface, q(TT, "IPv4"))
        child(ipv4, q(TT, "Enabled"), "true")
        if not dhcp:
            manual = child(ipv4, q(TT, "Manual"))
            child(manual, q(TT, "Address"), address)
            child(manual, q(TT, "PrefixLength"), str(prefix))
        child(ipv4, q(TT, "DHCP"), str(dhcp).lower())
        reply = self._call("device", body, "set network (IPv4 address)")
        return text_of(reply, "tds:RebootNeeded") == "true"

    def dns(self) -> ET.Element:
        """``tt:DNSInformation``."""
        reply = self._call("device", _req(TDS, "GetDNS"), "read network.dns")
        info = reply.find("tds:DNSInformation", NS)
        if info is None:
            raise ProtocolError("GetDNS answered without DNSInformation")
        return info

    def set_dns(self, from_dhcp: bool, servers: list[str]) -> None:
        """DNS from DHCP, or these manual IPv4 servers."""
        body = _req(TDS, "SetDNS", FromDHCP=str(from_dhcp).lower())
        for server in servers:
            entry = child(body, q(TDS, "DNSManual"))
            child(entry, q(TT, "Type"), "IPv4")
            child(entry, q(TT, "IPv4Address"), server)
        self._call("device", body, "set network.dns")

    def gateways(self) -> list[str]:
        """IPv4 default gateways."""
        reply = self._call("device", _req(TDS, "GetNetworkDefaultGateway"),
                           "read network.gateway")
        return [(e.text or "").strip()
                for e in reply.findall("tds:NetworkGateway/tt:IPv4Address", NS)]

    def set_gateway(self, gateway: str) -> None:
        """One IPv4 default gateway."""
        self._call("device", _req(TDS, "SetNetworkDefaultGateway", IPv4Address=gateway),
                   "set network.gateway")

    def reboot(self) -> None:
        """Reboot (when SetNetworkInterfaces says RebootNeeded)."""
        self._call("device", _req(TDS, "SystemReboot"), "reboot after the network change")

    # --- media2 ------------------------------------------------------------------------

    def profiles(self) -> list[ET.Element]:
        """``tr2:Profiles`` with their video source and encoder configurations."""
        body = _req(TR2, "GetProfiles")
        for kind in ("VideoSource", "VideoEncoder"):
            child(body, q(TR2, "Type"), kind)
        reply = self._call("media2", body, "read media profiles")
        return reply.findall("tr2:Profiles", NS)

    def encoder_configuration(self, token: str, what: str) -> ET.Element:
        """One ``tr2:Configurations`` (VideoEncoder2Configuration)."""
        reply = self._call("media2", _req(TR2, "GetVideoEncoderConfigurations",
                                          ConfigurationToken=token), what)
        found = reply.find("tr2:Configurations", NS)
        if found is None:
            raise ProtocolError(f"no video encoder configuration {token!r} on the camera")
        return found

    def encoder_options(self, token: str, what: str) -> list[ET.Element]:
        """``tr2:Options`` for one encoder configuration."""
        reply = self._call("media2", _req(TR2, "GetVideoEncoderConfigurationOptions",
                                          ConfigurationToken=token), what)
        return reply.findall("tr2:Options", NS)

    def set_encoder_configuration(self, config: ET.Element, what: str) -> None:
        """Send back a (modified) encoder configuration."""
        body = _req(TR2, "SetVideoEncoderConfiguration")
        body.append(renamed(config, q(TR2, "Configuration")))
        self._call("media2", body, what)

    def source_configuration(self, token: str) -> ET.Element:
        """The ``tr2:Configurations`` video source configuration."""
        reply = self._call("media2", _req(TR2, "GetVideoSourceConfigurations",
                                          ConfigurationToken=token), "read image.rotation")
        found = reply.find("tr2:Configurations", NS)
        if found is None:
            raise ProtocolError(f"no video source configuration {token!r} on the camera")
        return found

    def set_source_configuration(self, config: ET.Element) -> None:
        """Send back a (modified) video source configuration."""
        body = _req(TR2, "SetVideoSourceConfiguration")
        body.append(renamed(config, q(TR2, "Configuration")))
        self._call("media2", body, "set image.rotation")

    def osds(self, config_token: str) -> list[ET.Element]:
        """``tr2:OSDs`` on a video source configuration."""
        reply = self._call("media2", _req(TR2, "GetOSDs", ConfigurationToken=config_token),
                           "read osd")
        return reply.findall("tr2:OSDs", NS)

    def create_osd(self, osd: ET.Element, what: str) -> str:
        """Create an OSD; returns its token."""
        body = _req(TR2, "CreateOSD")
        body.append(osd)
        return text_of(self._call("media2", body, what), "tr2:OSDToken") or ""

    def set_osd(self, osd: ET.Element, what: str) -> None:
        """Send back a (modified) OSD."""
        body = _req(TR2, "SetOSD")
        body.append(renamed(osd, q(TR2, "OSD")))
        self._call("media2", body, what)

    def delete_osd(self, token: str, what: str) -> None:
        """Delete one OSD."""
        self._call("media2", _req(TR2, "DeleteOSD", OSDToken=token), what)

    def mask_options(self, config_token: str) -> ET.Element:
        """``tr2:Options`` for masks (MaxMasks, RectangleOnly, ...)."""
        reply = self._call("media2", _req(TR2, "GetMaskOptions",
                                          ConfigurationToken=config_token),
                           "read privacy zone limits")
        found = reply.find("tr2:Options", NS)
        if found is None:
            raise ProtocolError("GetMaskOptions answered without Options")
        return found

    def masks(self, config_token: str) -> list[ET.Element]:
        """``tr2:Masks`` on a video source configuration."""
        reply = self._call("media2", _req(TR2, "GetMasks", ConfigurationToken=config_token),
                           "read privacy_zones")
        return reply.findall("tr2:Masks", NS)

    def create_mask(self, mask: ET.Element, what: str) -> str:
        """Create a mask; returns its token."""
        body = _req(TR2, "CreateMask")
        body.append(mask)
        return text_of(self._call("media2", body, what), "tr2:Token") or ""

    def set_mask(self, mask: ET.Element, what: str) -> None:
        """Send back a (modified) mask."""
        body = _req(TR2, "SetMask")
        body.append(renamed(mask, q(TR2, "Mask")))
        self._call("media2", body, what)

    def delete_mask(self, token: str, what: str) -> None:
        """Delete one mask."""
        self._call("media2", _req(TR2, "DeleteMask", Token=token), what)

    # --- imaging -----------------------------------------------------------------------

    def imaging_settings(self, source: str) -> ET.Element:
        """``timg:ImagingSettings`` of a video source."""
        reply = self._call("imaging", _req(TIMG, "GetImagingSettings", VideoSourceToken=source),
                           "read image")
        found = reply.find("timg:ImagingSettings", NS)
        if found is None:
            raise ProtocolError("GetImagingSettings answered without ImagingSettings")
        return found

    def imaging_options(self, source: str) -> ET.Element:
        """``timg:ImagingOptions`` of a video source."""
        reply = self._call("imaging", _req(TIMG, "GetOptions", VideoSourceToken=source),
                           "read image option ranges")
        found = reply.find("timg:ImagingOptions", NS)
        if found is None:
            raise ProtocolError("GetOptions answered without ImagingOptions")
        return found

    def set_imaging_settings(self, source: str, settings: ET.Element) -> None:
        """Send back (modified) imaging settings."""
        body = _req(TIMG, "SetImagingSettings", VideoSourceToken=source)
        body.append(renamed(settings, q(TIMG, "ImagingSettings")))
        child(body, q(TIMG, "ForcePersistence"), "true")
        self._call("imaging", body, "set image")
