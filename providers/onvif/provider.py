"""The TurretCam provider: read, plan, apply and status over ONVIF (Media2, Imaging, device).

Round trips per camera: a read costs ``GetSystemDateAndTime`` and
``GetServices`` (both unauthenticated; once per client for the latter), one
Digest challenge, ``GetDeviceInformation``, then only the reads the manifest
needs (profiles once for every media setting; option ranges for the settings
that are managed). Plans never write.

Plan-time checks: the read carries the camera's own option ranges
(``GetVideoEncoderConfigurationOptions``, ``timg:GetOptions``,
``GetMaskOptions``) in ``facts["capabilities"]``; :meth:`plan` refuses a
manifest the camera cannot honour (a 5 Mp model asked for 3840x2160) with a
message at step ``plan``, before anything is written.

Identity is manufacturer, model and serial number; firmware is a fact (it may
be upgraded without the camera becoming another one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import diff_settings
from fleetform.errors import DeviceRejected, DeviceTimeout, TransportError
from fleetform.plan import to_plain
from fleetform.planner import unwrap
from fleetform.provider import (
    ApplyRequest,
    ApplyResponse,
    DeviceRecord,
    PlanRequest,
    PlanResponse,
    ReadRequest,
    ReadResponse,
    SettingSpec,
    StatusRequest,
    StatusResponse,
    device_step,
    model_part,
)
from fleetform.providers.onvif import steps
from fleetform.providers.onvif.client import OnvifClient
from fleetform.providers.onvif.mapping import image_problems, stream_problems
from fleetform.providers.onvif.models import TurretCamConnection, TurretCamSettings
from fleetform.providers.onvif.operations import CameraOperations
from fleetform.providers.onvif.reading import read_network, read_settings


def _connection(device: DeviceSpec) -> TurretCamConnection:
    return model_part(device, "connection", TurretCamConnection)


def _desired(device: DeviceSpec) -> dict[str, Any]:
    plain = to_plain(unwrap(device.desired()))
    assert isinstance(plain, dict)
    return plain


class TurretCamProvider:
    """Ajax TurretCam (5 Mp / 8 Mp) configured over ONVIF.

    Why one instance holds clients: each device's client remembers its auth
    scheme, clock skew and service addresses, so later calls in the run skip
    discovery; the dict is guarded by a lock because devices run in threads.
    """

    name: str = "turretcam"
    connection_model: type[BaseModel] = TurretCamConnection
    settings_model: type[BaseModel] = TurretCamSettings
    settings_specs: Mapping[str, SettingSpec] = {
        "video": SettingSpec(name="video", order=10,
                             description="Main/sub stream encoders (Media2)."),
        "image": SettingSpec(name="image", order=20,
                             description="Imaging settings and rotation."),
        "osd": SettingSpec(name="osd", order=30, description="Camera name and timestamp OSD."),
        "privacy_zones": SettingSpec(name="privacy_zones", order=40,
                                     description="Up to four Media2 privacy masks."),
        "time_zone": SettingSpec(name="time_zone", order=50,
                                 description="IANA zone, sent as a POSIX TZ string."),
        "ntp": SettingSpec(name="ntp", order=60, description="Manual NTP servers."),
        "network": SettingSpec(name="network", order=90, disruptive=True,
                               description="DHCP/static IPv4, DNS, gateway, hostname; "
                               "the camera may move to a new address."),
    }

    def __init__(self) -> None:
        self._clients: dict[str, OnvifClient] = {}
        self._lock = threading.Lock()

    # --- clients -----------------------------------------------------------------------

    def _client(self, device: DeviceSpec, address: str) -> OnvifClient:
        conn = _connection(device)
        with self._lock:
            client = self._clients.get(device.name)
            if client is not None and client.host == address:
                return client
            fresh = OnvifClient(address, conn.port, conn.username,
                                conn.password.get_secret_value(), conn.timeout)
            self._clients[device.name] = fresh
        if client is not None:
            client.close()
        return fresh

    def _find(self, device: DeviceSpec, record: DeviceRecord | None,
              deadline: Deadline) -> tuple[OnvifClient, Any]:
        """Connect at the manifest host, then at the address state recorded."""
        host = _connection(device).host
        addresses = [host] + ([record.address] if record and record.address not in ("", host)
                              else [])
        first: TransportError | None = None
        for address in addresses:
            client = self._client(device, address)
            try:
                return client, client.connect(deadline)
            except TransportError as exc:
                first = first or exc
        assert first is not None
        raise first

    # --- verbs -------------------------------------------------------------------------

    def read(self, request: ReadRequest) -> ReadResponse:
        """Identity, facts, capabilities and the live value of every managed setting."""
        with device_step(request.device, "read"):
            client, clock = self._find(request.device, request.record, request.deadline)
            ops = CameraOperations(client, request.deadline)
            info = ops.device_information()
            live, caps, layout = read_settings(ops, _desired(request.device), clock)
        return ReadResponse(
            address=client.host,
            identity={"manufacturer": info["Manufacturer"], "model": info["Model"],
                      "serial": info["SerialNumber"]},
            live=live,
            facts={"firmware": info["FirmwareVersion"], "hardware_id": info["HardwareId"],
                   "auth": client.scheme, "clock_skew_s": round(
                       client.skew.offset.total_seconds(), 1),
                   "capabilities": caps, "onvif": layout, "requests": client.requests},
        )

    def plan(self, request: PlanRequest) -> PlanResponse:
        """Refuse what the camera's options cannot do, then diff with the generic rules."""
        desired = _desired(request.device)
        problems = capability_problems(desired, request.read)
        if problems:
            raise DeviceRejected("the camera cannot do what the manifest asks: "
                                 + "; ".join(problems), device=request.device.name,
                                 step="plan")
        changes = diff_settings(desired, request.read.live, self.settings_specs,
                                secret_paths=request.device.sensitive_paths)
        return PlanResponse(changes=tuple(changes))

    def apply(self, request: ApplyRequest) -> ApplyResponse:
        """Push one setting, read it back, and wait at the new address after a network move."""
        with device_step(request.device, request.setting):
            return self._apply(request)

    def _apply(self, request: ApplyRequest) -> ApplyResponse:
        device, setting = request.device, request.setting
        desired = _desired(device).get(setting)
        if desired is None:
            raise DeviceRejected(f"{setting} is not set in the manifest")
        client = self._client(device, request.read.address)
        if not client.paths:
            client.connect(request.deadline)
        ops = CameraOperations(client, request.deadline)
        layout = dict(request.read.facts.get("onvif", {}))
        progress = request.progress
        if setting == "video":
            return ApplyResponse(observed=steps.apply_video(ops, desired, layout, progress))
        if setting == "image":
            return ApplyResponse(observed=steps.apply_image(ops, desired, layout, progress))
        if setting == "osd":
            return ApplyResponse(observed=steps.apply_osd(ops, desired, layout, progress))
        if setting == "privacy_zones":
            return ApplyResponse(observed=steps.apply_zones(ops, desired, layout, progress))
        if setting == "time_zone":
            return ApplyResponse(observed=steps.apply_time_zone(ops, desired, progress))
        if setting == "ntp":
            return ApplyResponse(observed=steps.apply_ntp(ops, desired, progress))
        if setting == "network":
            return self._apply_network(request, ops, desired, layout)
        raise DeviceRejected(f"turretcam has no setting '{setting}'")

    def _apply_network(self, request: ApplyRequest, ops: CameraOperations,
                       desired: dict[str, Any], layout: dict[str, str]) -> ApplyResponse:
        device, deadline = request.device, request.deadline
        conn = _connection(device)
        moved, reboot = steps.push_network(ops, desired, layout, request.progress)
        if reboot:
            request.progress("the camera asks for a reboot (SystemReboot)")
            ops.reboot()
        address = ops.client.host
        if moved or reboot:
            target = str(desired["address"]) if desired["mode"] == "static" else conn.host
            wait = Deadline(min(deadline.remaining(), conn.move_timeout))
            request.progress(f"waiting up to {wait.seconds:.0f}s for the camera at {target}")
            serial = request.read.identity.get("serial", "")
            ops = CameraOperations(self._await(device, target, serial, wait), deadline)
            address = target
        return ApplyResponse(observed=read_network(ops, layout), address=address)

    def _await(self, device: DeviceSpec, address: str, serial: str,
               wait: Deadline) -> OnvifClient:
        """Poll ``address`` until the camera with ``serial`` answers there."""
        delay, last = 0.1, "no answer yet"
        while True:
            client = self._client(device, address)
            client.paths.clear()
            try:
                client.connect(wait)
                found = CameraOperations(client, wait).device_information()["SerialNumber"]
                if found == serial:
                    return client
                last = f"a camera with serial {found} answers there instead"
            except TransportError as exc:
                last = exc.message
            if wait.remaining() <= delay:
                raise DeviceTimeout(f"the camera did not come back at {address} within "
                                    f"{wait.seconds:.0f}s after the network change ({last})")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def status(self, request: StatusRequest) -> StatusResponse:
        """Reachability, identity and clock skew (ONVIF exposes no health figures)."""
        with device_step(request.device, "status"):
            client, _clock = self._find(request.device, request.record, request.deadline)
            info = CameraOperations(client, request.deadline).device_information()
        skew = client.skew.offset.total_seconds()
        warnings = (f"camera clock is {skew:+.0f}s off; configure ntp",) if abs(skew) > 60 else ()
        return StatusResponse(address=client.host, metrics={
            "model": info["Model"], "serial": info["SerialNumber"],
            "firmware": info["FirmwareVersion"], "auth": client.scheme, "clock_skew_s": skew,
        }, warnings=warnings)

    def close(self) -> None:
        """Close every device's HTTP session."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def capability_problems(desired: dict[str, Any], read: ReadResponse) -> list[str]:
    """Everything in ``desired`` that the camera's reported options rule out."""
    caps = read.facts.get("capabilities", {})
    model = read.identity.get("model", "camera")
    problems: list[str] = []
    for stream, wanted in (desired.get("video") or {}).items():
        offered = caps.get("video", {}).get(stream)
        if offered is not None:
            live = (read.live.get("video") or {}).get(stream) or {}
            problems += stream_problems(f"video.{stream}", wanted, live, offered, model)
    if "image" in desired and "image" in caps:
        problems += image_problems(desired["image"], caps["image"])
    zones = desired.get("privacy_zones")
    if zones is not None and len(zones) > caps.get("max_masks", 4):
        problems.append(f"privacy_zones has {len(zones)} rectangles but this camera holds at "
                        f"most {caps['max_masks']}")
    return problems
