"""The AVer PTZ camera provider: VISCA over RS-232 or UDP, and Pelco-D/P.

What is read and what is tracked (why every setting is ``readable=False``):
the engine tracks write-only settings in state, and most of a camera is
write-only (focus, white balance, tracking, PIP, presets without moving the
lens). Power, mute and volume are readable only on *some* models, so they are
declared write-only too, and :meth:`AverProvider.read` puts whatever this
model *can* report into ``facts["observed"]``; :meth:`AverProvider.plan`
lets those live values override the tracked ones. So a camera powered off
behind fleetform's back shows up in a plain plan where the model can say so,
and still converges where it cannot.

Presets: applying one is PT_Direct + Zoom_Direct (each to completion) then
CAM_set. Verifying one moves the camera, so it is opt-in: with the run
option ``verify_presets`` read recalls each declared preset, reads
PT_Pos_Inq + Zoom_Pos_Inq, compares within ``connection.preset_tolerance``
and finally returns the lens to where it was.

Identity: vendor and model id from Version_Inq (the firmware version is a
fact, not identity: an upgrade is not a different camera).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import diff_settings
from fleetform.errors import DeviceRejected
from fleetform.provider import (
    ApplyRequest,
    ApplyResponse,
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
from fleetform.providers.visca import pelco_ops
from fleetform.providers.visca.camera import Camera, Position
from fleetform.providers.visca.models import (
    MODE_COMMANDS,
    PIP_LAYOUTS,
    TRACKING_COMMANDS,
    AverConnection,
    AverSettings,
)
from fleetform.providers.visca.transport import PelcoSerial, SerialLines, SerialVisca
from fleetform.providers.visca.transport_udp import UdpVisca

MODES = ("focus_mode", "white_balance", "exposure_mode", "backlight", "wdr")


def _spec(name: str, order: int, description: str) -> SettingSpec:
    return SettingSpec(name=name, readable=False, order=order, description=description)


def _connection(device: DeviceSpec) -> AverConnection:
    return model_part(device, "connection", AverConnection)


def _settings(device: DeviceSpec) -> AverSettings:
    return model_part(device, "settings", AverSettings)


class AverProvider:
    """AVer PTZ cameras (CAM520/540/550/570, VC520, VB342/350, FONE700) over VISCA or Pelco.

    Why one instance holds links and lines: every camera on one RS-232 daisy
    chain must share one port and one lock (see ``transport.SerialLines``);
    UDP links keep their sequence numbers between verbs. Guarded by a lock.
    """

    name: str = "aver"
    connection_model: type[BaseModel] = AverConnection
    settings_model: type[BaseModel] = AverSettings
    settings_specs: Mapping[str, SettingSpec] = {
        "power": _spec("power", 10, "Power_On/Power_Off; read with Power_Status_Inq where the "
                       "model has it. Applied first; waits out error 41 during transitions."),
        **{mode: _spec(mode, 20, f"{mode} (write-only, tracked in state)") for mode in MODES},
        "pip": _spec("pip", 25, "CAM_PIP_Set_USB / _HDMI (CAM550, CAM570)."),
        "audio": _spec("audio", 30, "ADO_Mute_On/Off, volume stepped from Ado_Volume_Inq."),
        "presets": _spec("presets", 50, "PT_Direct + Zoom_Direct + CAM_set; verified by recall "
                         "only with --verify-presets (moves the camera)."),
        "tracking": _spec("tracking", 60, "CAM_Track_* mode and start position."),
    }

    def __init__(self) -> None:
        self._lines = SerialLines()
        self._links: dict[str, Camera | PelcoSerial] = {}
        self._lock = threading.Lock()

    # --- links ------------------------------------------------------------------------

    def _link(self, device: DeviceSpec) -> Camera | PelcoSerial:
        conn, settings = _connection(device), _settings(device)
        with self._lock:
            link = self._links.get(device.name)
            if link is not None:
                return link
            if conn.transport == "udp":
                assert conn.host is not None and isinstance(conn.port, int)
                udp = UdpVisca(conn.host, conn.port, timeout=conn.timeout, retries=conn.retries,
                               move_timeout=conn.move_timeout, strict_sequence=conn.strict_sequence)
                link = Camera(udp, settings.model, "udp", 1)
            else:
                line = self._lines.get(str(conn.port), conn.baud)
                if conn.transport == "serial":
                    serial = SerialVisca(line, conn.address, conn.timeout, conn.move_timeout)
                    link = Camera(serial, settings.model, "serial", conn.address)
                else:
                    link = PelcoSerial(line, conn.address)
            self._links[device.name] = link
            return link

    # --- read -------------------------------------------------------------------------

    def read(self, request: ReadRequest) -> ReadResponse:
        """Identity, live position and whatever this model can report."""
        with device_step(request.device, "read"):
            return self._read(request)

    def _read(self, request: ReadRequest) -> ReadResponse:
        device, deadline = request.device, request.deadline
        conn, settings = _connection(device), _settings(device)
        link = self._link(device)
        if isinstance(link, PelcoSerial):
            return pelco_ops.read(device, conn)
        identity: dict[str, str] = {}
        facts: dict[str, Any] = {"model": settings.model, "transport": conn.transport}
        warnings: list[str] = []
        observed: dict[str, Any] = {}
        version = link.version(deadline)
        if version is not None:
            identity = {"vendor_id": f"0x{version.vendor:04X}",
                        "model_id": f"0x{version.model:04X}"}
            facts.update(firmware=f"0x{version.version:04X}", max_sockets=version.max_sockets)
        power = link.power(deadline)
        if power is not None:
            observed["power"] = power
        where = link.position(deadline)
        if where is not None:
            facts.update(pan=where.pan, tilt=where.tilt, zoom=where.zoom)
        if version is None and power is None and where is None:
            warnings.append(f"{settings.model} answers no inquiry over {conn.transport}: "
                            "fleetform cannot confirm the camera is there")
        if settings.audio is not None and (audio := link.audio(deadline)):
            observed["audio"] = audio
        if request.options.get("verify_presets") and settings.presets:
            facts["verify_presets"] = True
            measured = self._verify_presets(link, settings, conn, where, power, deadline, warnings)
            if measured is not None:
                observed["presets"] = measured
        facts["observed"] = observed
        return ReadResponse(address=conn.endpoint, identity=identity, live={}, facts=facts,
                            warnings=tuple(warnings))

    def _verify_presets(self, link: Camera, settings: AverSettings, conn: AverConnection,
                        start: Position | None, power: str | None, deadline: Deadline,
                        warnings: list[str]) -> dict[str, Any] | None:
        """Recall every declared preset, measure it, and put the lens back."""
        if start is None:
            warnings.append(f"{settings.model} cannot report its position: presets not verified")
            return None
        if power == "standby":
            warnings.append("camera is in standby: presets not verified (recall would fail)")
            return None
        measured: dict[str, Any] = {}
        try:
            for number, preset in (settings.presets or {}).items():
                deadline.check(f"verify preset {number}")
                got = link.measure_preset(int(number), deadline)
                want = Position(preset.pan, preset.tilt, preset.zoom)
                entry = preset.model_dump(mode="python", exclude_none=True)
                if not got.close_to(want, conn.preset_tolerance):
                    entry.update(pan=got.pan, tilt=got.tilt, zoom=got.zoom)
                measured[number] = entry
        finally:
            link.go_to(start, deadline)
        return measured

    # --- plan -------------------------------------------------------------------------

    def plan(self, request: PlanRequest) -> PlanResponse:
        """Diff desired settings against tracked values, overridden by live reads."""
        device = request.device
        live = dict(request.read.live)
        live.update(request.read.facts.get("observed", {}))
        changes = diff_settings(device.desired(), live, self.settings_specs,
                                secret_paths=device.sensitive_paths)
        warnings: tuple[str, ...] = ()
        if _connection(device).transport in ("pelco-d", "pelco-p"):
            warnings = pelco_ops.plan_warnings(device, changes)
        return PlanResponse(changes=tuple(changes), warnings=warnings)

    # --- apply ------------------------------------------------------------------------

    def apply(self, request: ApplyRequest) -> ApplyResponse:
        """Push one setting, wait as the camera requires, and report what it now holds."""
        with device_step(request.device, request.setting):
            link = self._link(request.device)
            if isinstance(link, PelcoSerial):
                return pelco_ops.apply(link, request)
            return self._apply(link, request)

    def _apply(self, camera: Camera, request: ApplyRequest) -> ApplyResponse:
        device, setting, deadline = request.device, request.setting, request.deadline
        conn, settings = _connection(device), _settings(device)
        desired = device.desired()[setting]
        if setting == "power":
            request.progress(f"power {desired}")
            live = camera.set_power(desired, deadline, conn.move_timeout)
            return ApplyResponse(observed=live if live is not None else desired)
        if setting in MODES:
            camera.command(MODE_COMMANDS[setting][desired], deadline)
            return ApplyResponse(observed=desired)
        if setting == "pip":
            for output, name in (("usb", "CAM_PIP_Set_USB"), ("hdmi", "CAM_PIP_Set_HDMI")):
                if output in desired:
                    camera.command(name, deadline, layout=PIP_LAYOUTS[desired[output]])
            return ApplyResponse(observed=desired)
        if setting == "audio":
            return ApplyResponse(observed=self._apply_audio(camera, desired, deadline))
        if setting == "presets":
            return ApplyResponse(observed=self._apply_presets(camera, request, settings, conn))
        if setting == "tracking":
            start = desired.get("start_position")
            if start is not None:
                camera.command("CAM_Track_Set_Start_Position", deadline,
                               position=0x0A if start == "center" else int(start))
            if "mode" in desired:
                camera.command(TRACKING_COMMANDS[desired["mode"]], deadline)
            return ApplyResponse(observed=desired)
        raise DeviceRejected(f"unknown setting {setting!r}")

    def _apply_audio(self, camera: Camera, desired: dict[str, Any],
                     deadline: Deadline) -> dict[str, Any]:
        if "mute" in desired:
            camera.command("ADO_Mute_On" if desired["mute"] else "ADO_Mute_Off", deadline)
        if "volume" in desired:
            camera.set_volume(int(desired["volume"]), deadline)
        observed = dict(desired)
        observed.update({k: v for k, v in camera.audio(deadline).items() if k in desired})
        return observed

    def _apply_presets(self, camera: Camera, request: ApplyRequest, settings: AverSettings,
                       conn: AverConnection) -> dict[str, Any]:
        """Store the changed presets; re-measure them when the run verifies presets."""
        deadline = request.deadline
        desired: dict[str, Any] = request.device.desired()["presets"]
        changed = sorted({c.path.split(".")[1] for c in request.changes if c.path.count(".") >= 1},
                         key=int)
        for number in changed:
            preset = desired[number]
            request.progress(f"preset {number}: pan {preset['pan']} tilt {preset['tilt']} "
                             f"zoom {preset['zoom']}")
            camera.store_preset(int(number), Position(preset["pan"], preset["tilt"],
                                                      preset["zoom"]), deadline)
        observed = {number: dict(preset) for number, preset in desired.items()}
        if request.read.facts.get("verify_presets") and changed:
            start = camera.position(deadline)
            try:
                for number in changed:
                    got = camera.measure_preset(int(number), deadline)
                    want = desired[number]
                    if not got.close_to(Position(want["pan"], want["tilt"], want["zoom"]),
                                        conn.preset_tolerance):
                        observed[number].update(pan=got.pan, tilt=got.tilt, zoom=got.zoom)
            finally:
                if start is not None:
                    camera.go_to(start, deadline)
        return observed

    # --- status -----------------------------------------------------------------------

    def status(self, request: StatusRequest) -> StatusResponse:
        """Power, position and firmware where the model reports them."""
        conn = _connection(request.device)
        link = self._link(request.device)
        if isinstance(link, PelcoSerial):
            return StatusResponse(address=conn.endpoint, metrics={},
                                  warnings=("Pelco cameras do not reply: no status",))
        with device_step(request.device, "status"):
            deadline = request.deadline
            metrics: dict[str, Any] = {}
            version = link.version(deadline)
            if version is not None:
                metrics["firmware"] = f"0x{version.version:04X}"
            power = link.power(deadline)
            if power is not None:
                metrics["power"] = power
            where = link.position(deadline)
            if where is not None:
                metrics.update(pan=where.pan, tilt=where.tilt, zoom=where.zoom)
        return StatusResponse(address=conn.endpoint, metrics=metrics,
                              healthy=metrics.get("power", "on") == "on")

    def close(self) -> None:
        """Close UDP sockets and serial lines."""
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            if isinstance(link, Camera):
                link.link.close()
        self._lines.close()
