"""Device-service operations of the simulated camera, and the shared handler plumbing.

Why a table of handlers: each ONVIF operation is one small function from the
request body to the response element; the table also records each
operation's access class (pre-auth, read, write) the way the ONVIF Core spec
groups them, so authentication and ``ter:NotAuthorized`` behave like a camera.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleetform.providers.onvif.sim_state import CameraConfig, CameraState, tt
from fleetform.providers.onvif.soap import NS, TDS, TIMG, TR2, TRT, child, node, q, text_of

_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_POSIX_TZ = re.compile(r"^(<[^>]+>|[A-Za-z]{3,})[+-]?\d")


class SimFault(Exception):
    """A SOAP fault the simulated camera answers with."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason


def invalid(reason: str, detail: str = "ConfigModify") -> SimFault:
    """``env:Sender / ter:InvalidArgVal / ter:<detail>``: a value the camera cannot take."""
    return SimFault("Sender", ("ter:InvalidArgVal", f"ter:{detail}"), reason)


def bad_args(reason: str) -> SimFault:
    """``env:Sender / ter:InvalidArgs``: a request missing what it must carry."""
    return SimFault("Sender", ("ter:InvalidArgs",), reason)


@dataclass
class OpContext:
    """What a handler may touch: the camera's state and a few callbacks."""

    config: CameraConfig
    state: CameraState
    host: str
    port: int
    camera_now: Callable[[], datetime]
    move: Callable[[str], None]

    def xaddr(self, service: str) -> str:
        """The URL of one service on this camera."""
        return f"http://{self.host}:{self.port}/onvif/{service}"


Handler = Callable[[OpContext, ET.Element], ET.Element]


def need(element: ET.Element | None, path: str, what: str) -> str:
    """Text at ``path`` or an ``InvalidArgs`` fault naming ``what``."""
    value = text_of(element, path)
    if value is None:
        raise bad_args(f"missing {what}")
    return value


def number(element: ET.Element | None, path: str, what: str) -> float:
    """A number at ``path``, or a fault."""
    text = need(element, path, what)
    try:
        return float(text)
    except ValueError as exc:
        raise invalid(f"{what} {text!r} is not a number") from exc


def within(value: float, bounds: tuple[float, float], what: str) -> float:
    """``value`` if inside ``bounds``, else an ``InvalidArgVal`` fault saying the range."""
    low, high = bounds
    if not low <= value <= high:
        raise invalid(f"{what} {value:g} is outside {low:g}-{high:g}")
    return value


def response(namespace: str, operation: str, *children: ET.Element) -> ET.Element:
    """``<ns:OperationResponse>`` with children."""
    return node(q(namespace, f"{operation}Response"), children=children)


# --- device service -------------------------------------------------------------------


def get_system_date_and_time(ctx: OpContext, _body: ET.Element) -> ET.Element:
    now = ctx.camera_now()
    info = node(q(TDS, "SystemDateAndTime"))
    child(info, tt("DateTimeType"), ctx.state.datetime_type)
    child(info, tt("DaylightSavings"), "false")
    child(child(info, tt("TimeZone")), tt("TZ"), ctx.state.time_zone)
    for tag, moment in (("UTCDateTime", now), ("LocalDateTime", now + _std_offset(ctx))):
        holder = child(info, tt(tag))  # tt:DateTime is Time, then Date
        clock = child(holder, tt("Time"))
        child(clock, tt("Hour"), str(moment.hour))
        child(clock, tt("Minute"), str(moment.minute))
        child(clock, tt("Second"), str(moment.second))
        date = child(holder, tt("Date"))
        child(date, tt("Year"), str(moment.year))
        child(date, tt("Month"), str(moment.month))
        child(date, tt("Day"), str(moment.day))
    return response(TDS, "GetSystemDateAndTime", info)


def _std_offset(ctx: OpContext) -> timedelta:
    """Local time from the POSIX string's standard offset (DST ignored by the simulator)."""
    match = re.match(r"^(?:<[^>]+>|[A-Za-z]+)([+-]?)(\d+)(?::(\d+))?", ctx.state.time_zone)
    if not match:
        return timedelta(0)
    sign = 1 if match.group(1) == "-" else -1  # POSIX offsets are west-positive
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))


def set_system_date_and_time(ctx: OpContext, body: ET.Element) -> ET.Element:
    kind = need(body, "tds:DateTimeType", "DateTimeType")
    if kind not in ("NTP", "Manual"):
        raise invalid(f"DateTimeType {kind!r} is not NTP or Manual", "InvalidDateTime")
    zone = text_of(body, "tds:TimeZone/tt:TZ")
    if zone is not None:
        if not _POSIX_TZ.match(zone):
            raise invalid(f"TZ {zone!r} is not a POSIX time zone string", "InvalidTimeZone")
        ctx.state.time_zone = zone
    ctx.state.datetime_type = kind
    return response(TDS, "SetSystemDateAndTime")


_SERVICES = (("device_service", TDS), ("media_service", TRT), ("media2_service", TR2),
             ("imaging_service", TIMG))


def get_services(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TDS, "GetServices")
    for path, namespace in _SERVICES:
        service = child(out, q(TDS, "Service"))
        child(service, q(TDS, "Namespace"), namespace)
        child(service, q(TDS, "XAddr"), ctx.xaddr(path))
        version = child(service, q(TDS, "Version"))
        child(version, tt("Major"), "2" if namespace in (TR2, TIMG) else "1")
        child(version, tt("Minor"), "60")
    return out


def get_capabilities(ctx: OpContext, _body: ET.Element) -> ET.Element:
    caps = node(q(TDS, "Capabilities"))
    child(child(caps, tt("Device")), tt("XAddr"), ctx.xaddr("device_service"))
    child(child(caps, tt("Imaging")), tt("XAddr"), ctx.xaddr("imaging_service"))
    media = child(caps, tt("Media"))
    child(media, tt("XAddr"), ctx.xaddr("media_service"))
    streaming = child(media, tt("StreamingCapabilities"))
    for name, value in (("RTPMulticast", "false"), ("RTP_TCP", "true"),
                        ("RTP_RTSP_TCP", "true")):
        child(streaming, tt(name), value)
    return response(TDS, "GetCapabilities", caps)


def get_device_information(ctx: OpContext, _body: ET.Element) -> ET.Element:
    out = response(TDS, "GetDeviceInformation")
    for name, value in (("Manufacturer", "Ajax Systems"), ("Model", ctx.config.model),
                        ("FirmwareVersion", ctx.config.firmware),
                        ("SerialNumber", ctx.config.serial), ("HardwareId", "TC-1")):
        child(out, q(TDS, name), value)
    return out


def get_hostname(ctx: OpContext, _body: ET.Element) -> ET.Element:
    info = node(q(TDS, "HostnameInformation"))
    child(info, tt("FromDHCP"), "false")
    child(info, tt("Name"), ctx.state.network.hostname)
    return response(TDS, "GetHostname", info)


def set_hostname(ctx: OpContext, body: ET.Element) -> ET.Element:
    name = need(body, "tds:Name", "Name")
    if not _HOSTNAME.match(name):
        raise invalid(f"hostname {name!r} is not an RFC 1123 label", "InvalidHostname")
    ctx.state.network.hostname = name
    return response(TDS, "SetHostname")


def get_ntp(ctx: OpContext, _body: ET.Element) -> ET.Element:
    info = node(q(TDS, "NTPInformation"))
    child(info, tt("FromDHCP"), str(ctx.state.ntp_from_dhcp).lower())
    for server in ctx.state.ntp:
        host = child(info, tt("NTPManual"))
        is_ip = _is_ipv4(server)
        child(host, tt("Type"), "IPv4" if is_ip else "DNS")
        child(host, tt("IPv4Address" if is_ip else "DNSname"), server)
    return response(TDS, "GetNTP", info)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def set_ntp(ctx: OpContext, body: ET.Element) -> ET.Element:
    servers = []
    for host in body.findall("tds:NTPManual", NS):
        value = text_of(host, "tt:IPv4Address") or text_of(host, "tt:DNSname")
        if not value:
            raise invalid("NTPManual without an address or DNS name", "InvalidNtpServer")
        servers.append(value)
    ctx.state.ntp_from_dhcp = text_of(body, "tds:FromDHCP") == "true"
    ctx.state.ntp = servers
    return response(TDS, "SetNTP")


def get_network_interfaces(ctx: OpContext, _body: ET.Element) -> ET.Element:
    net = ctx.state.network
    iface = node(q(TDS, "NetworkInterfaces"), attrib={"token": "eth0"})
    child(iface, tt("Enabled"), "true")
    info = child(iface, tt("Info"))
    child(info, tt("Name"), "eth0")
    child(info, tt("HwAddress"), net.mac)
    child(info, tt("MTU"), "1500")
    ipv4 = child(iface, tt("IPv4"))
    child(ipv4, tt("Enabled"), "true")
    config = child(ipv4, tt("Config"))
    entry = child(config, tt("FromDHCP" if net.dhcp else "Manual"))
    child(entry, tt("Address"), net.address)
    child(entry, tt("PrefixLength"), str(net.prefix))
    child(config, tt("DHCP"), str(net.dhcp).lower())
    return response(TDS, "GetNetworkInterfaces", iface)


def set_network_interfaces(ctx: OpContext, body: ET.Element) -> ET.Element:
    if need(body, "tds:InterfaceToken", "InterfaceToken") != "eth0":
        raise invalid("no such network interface", "InvalidNetworkInterface")
    ipv4 = body.find("tds:NetworkInterface/tt:IPv4", NS)
    net = ctx.state.network
    if ipv4 is not None:
        dhcp = text_of(ipv4, "tt:DHCP") == "true"
        if dhcp:
            net.dhcp, target = True, ctx.config.host
        else:
            address = need(ipv4, "tt:Manual/tt:Address", "Manual/Address")
            prefix = int(number(ipv4, "tt:Manual/tt:PrefixLength", "PrefixLength"))
            try:
                loopback = ipaddress.IPv4Address(address).is_loopback
            except ValueError as exc:
                raise invalid(f"{address!r} is not an IPv4 address", "InvalidIPv4Address") from exc
            if not loopback:
                raise invalid(f"the simulator can only move to loopback addresses, not {address}",
                              "InvalidIPv4Address")
            within(prefix, (1, 32), "PrefixLength")
            net.dhcp, net.prefix, target = False, prefix, address
        if target != ctx.host:
            ctx.move(target)
        net.address = target
    return response(TDS, "SetNetworkInterfaces", node(q(TDS, "RebootNeeded"), "false"))


def get_dns(ctx: OpContext, _body: ET.Element) -> ET.Element:
    net = ctx.state.network
    info = node(q(TDS, "DNSInformation"))
    child(info, tt("FromDHCP"), str(net.dns_from_dhcp).lower())
    for server in net.dns:
        entry = child(info, tt("DNSFromDHCP" if net.dns_from_dhcp else "DNSManual"))
        child(entry, tt("Type"), "IPv4")
        child(entry, tt("IPv4Address"), server)
    return response(TDS, "GetDNS", info)


def set_dns(ctx: OpContext, body: ET.Element) -> ET.Element:
    net = ctx.state.network
    net.dns_from_dhcp = text_of(body, "tds:FromDHCP") == "true"
    servers = [text_of(e, "tt:IPv4Address") or "" for e in body.findall("tds:DNSManual", NS)]
    for server in servers:
        if not _is_ipv4(server):
            raise invalid(f"DNS server {server!r} is not an IPv4 address", "InvalidIPv4Address")
    net.dns = servers if not net.dns_from_dhcp else ["127.0.0.53"]
    return response(TDS, "SetDNS")


def get_gateway(ctx: OpContext, _body: ET.Element) -> ET.Element:
    info = node(q(TDS, "NetworkGateway"))
    if ctx.state.network.gateway:
        child(info, tt("IPv4Address"), ctx.state.network.gateway)
    return response(TDS, "GetNetworkDefaultGateway", info)


def set_gateway(ctx: OpContext, body: ET.Element) -> ET.Element:
    gateways = [e.text or "" for e in body.findall("tds:IPv4Address", NS)]
    for gateway in gateways:
        if not _is_ipv4(gateway):
            raise invalid(f"gateway {gateway!r} is not an IPv4 address", "InvalidGatewayAddress")
    ctx.state.network.gateway = gateways[0] if gateways else ""
    return response(TDS, "SetNetworkDefaultGateway")


def system_reboot(_ctx: OpContext, _body: ET.Element) -> ET.Element:
    return response(TDS, "SystemReboot", node(q(TDS, "Message"), "Rebooting"))


#: Clark tag of the request → (access class, handler). Access: pre (no auth), read, write.
DEVICE_OPS: dict[str, tuple[str, Handler]] = {
    q(TDS, name): (access, handler)
    for name, access, handler in (
        ("GetSystemDateAndTime", "pre", get_system_date_and_time),
        ("SetSystemDateAndTime", "write", set_system_date_and_time),
        ("GetServices", "pre", get_services),
        ("GetCapabilities", "pre", get_capabilities),
        ("GetDeviceInformation", "read", get_device_information),
        ("GetHostname", "pre", get_hostname),
        ("SetHostname", "write", set_hostname),
        ("GetNTP", "read", get_ntp),
        ("SetNTP", "write", set_ntp),
        ("GetNetworkInterfaces", "read", get_network_interfaces),
        ("SetNetworkInterfaces", "write", set_network_interfaces),
        ("GetDNS", "read", get_dns),
        ("SetDNS", "write", set_dns),
        ("GetNetworkDefaultGateway", "read", get_gateway),
        ("SetNetworkDefaultGateway", "write", set_gateway),
        ("SystemReboot", "write", system_reboot),
    )
}
