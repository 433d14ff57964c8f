"""The TurretCam import hooks: live camera → manifest entry (``fleetform import``).

Why hooks: the provider reads only what a manifest manages (see
:mod:`reading`), and an import starts from a manifest that manages nothing,
so a plain read reports no settings. :func:`import_read` reads through the
provider's own ``read`` with the device widened to manage every setting
(:data:`PROBE`: values that only select what is read, never written), so the
import gets exactly the live view a plan will compare against.
:func:`import_device` then maps that view to what :class:`TurretCamSettings`
accepts: fields that apply only in another mode are dropped (WDR level with
WDR off, shutter in auto exposure), and the camera's POSIX time zone rule
becomes an IANA zone name with the same rule.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fleetform.device import DeviceSpec
from fleetform.importer import ImportedDevice
from fleetform.provider import Provider, ReadRequest, ReadResponse
from fleetform.providers.onvif.models import TurretCamSettings
from fleetform.providers.onvif.timezones import UnknownTimeZone, posix_tz, zones_with_rule

#: A desired state that manages every setting, so ``read`` asks the camera for all of
#: them. Only the keys matter to the read (and the zone name, see :func:`_time_zone`).
PROBE: dict[str, Any] = {
    "video": {"main": {}, "sub": {}}, "image": {}, "osd": {}, "privacy_zones": [],
    "ntp": ["pool.ntp.org"], "network": {"mode": "dhcp"},
}
#: The zone name the probe asks the read to report the camera's rule as, when it matches.
PROBE_ZONE = "UTC"
#: The password reference written when ``--connection password=...`` is not given.
PASSWORD_REFERENCE = "${env:TURRETCAM_PASSWORD}"  # noqa: S105 - a reference, not a value


def import_connection(address: str) -> dict[str, Any]:
    """``host`` or ``host:port`` (the ONVIF HTTP port), user ``admin``, password from the env.

    The password is a ``${env:TURRETCAM_PASSWORD}`` reference unless
    ``--connection password=...`` overrides it; a literal given there is
    turned into a reference by the engine, so no password reaches the output.
    """
    text = address.removeprefix("http://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and host and (":" not in host or host.startswith("[")):
        connection: dict[str, Any] = {"host": host.strip("[]"), "port": int(port)}
    else:
        connection = {"host": text.strip("[]")}
    connection.update(username="admin", password=PASSWORD_REFERENCE)
    return connection


def import_read(provider: Provider, request: ReadRequest) -> ReadResponse:
    """The provider's read with the device managing every setting (given ones kept).

    ``time_zone`` bypasses validation here: the probe's zone only names the
    rule the camera reports, and must not need a zone database to be read.
    """
    desired = request.device.desired()
    zone = desired.pop("time_zone", PROBE_ZONE)
    settings = TurretCamSettings.model_validate({**PROBE, **desired}).model_copy(
        update={"time_zone": zone})
    device = replace(request.device, settings=settings)
    return provider.read(replace(request, device=device))


def _compact(value: Any) -> Any:
    """``value`` without ``None`` leaves (the manifest leaves those out)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _image(live: dict[str, Any]) -> dict[str, Any]:
    """Imaging as the manifest accepts it: mode-dependent fields only in their mode."""
    image: dict[str, Any] = _compact(live)
    wdr = image.get("wdr")
    if isinstance(wdr, dict) and not wdr.get("enabled"):
        wdr.pop("level", None)
    exposure = image.get("exposure")
    if isinstance(exposure, dict):
        if "mode" not in exposure:
            image.pop("exposure")
        elif exposure["mode"] != "manual":
            exposure.pop("shutter_us", None)
    return image


def _time_zone(live: str) -> tuple[str | None, list[str]]:
    """An IANA name for the camera's zone rule, and a comment on the choice.

    The read reports the probe's (or a given) zone name when the camera's rule
    is that zone's, else the POSIX rule itself.
    """
    if not live:
        return None, ["time_zone not imported: the camera reports no time zone"]
    try:
        posix_tz(live)
        return live, []
    except UnknownTimeZone:
        pass
    names = zones_with_rule(live)
    if not names:
        return None, [f"time_zone not imported: no IANA zone known here has the camera's rule "
                      f"{live!r}; add the zone name to manage it"]
    chosen, others = names[0], names[1:]
    note = f"time_zone {chosen}: the camera holds only the rule {live}"
    if others:
        shown = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6
                                          else "")
        note += (f", which {shown} share; any of them plans the same, so write yours "
                 f"(or import with --set time_zone=NAME)")
    return chosen, [note]


def _network(live: dict[str, Any]) -> dict[str, Any]:
    """DHCP or static addressing; an empty hostname is left unmanaged."""
    network = {k: v for k, v in live.items() if v not in (None, "")}
    if network.get("mode") == "dhcp":
        return {k: v for k, v in network.items() if k in ("mode", "hostname")}
    return network


def import_device(device: DeviceSpec, read: ReadResponse) -> ImportedDevice:
    """Every setting the camera reported, valid for the manifest; the hostname as name."""
    live = read.live
    settings: dict[str, Any] = {}
    comments: list[str] = []
    video = live.get("video")
    if isinstance(video, dict) and video:
        settings["video"] = _compact(video)
    if isinstance(live.get("image"), dict):
        settings["image"] = _image(live["image"])
    if isinstance(live.get("osd"), dict):
        settings["osd"] = _compact(live["osd"])
    if isinstance(live.get("privacy_zones"), list):
        settings["privacy_zones"] = live["privacy_zones"]
    zone, notes = _time_zone(str(live.get("time_zone") or ""))
    comments += notes
    if zone is not None:
        settings["time_zone"] = zone
    if live.get("ntp"):
        settings["ntp"] = list(live["ntp"])
    elif "ntp" in live:
        comments.append("ntp not imported: the camera has no manual NTP servers (it may take "
                        "them from DHCP); add servers to manage them")
    network = live.get("network")
    hostname = None
    if isinstance(network, dict):
        settings["network"] = _network(network)
        hostname = settings["network"].get("hostname")
    return ImportedDevice(settings=settings, name=str(hostname) if hostname else None,
                          comments=tuple(comments))
