"""The AVer import hooks: live camera (+ state) → manifest entry (``fleetform import``).

The model cannot be read, so it must be given. :class:`AverSettings`
requires ``model`` before anything is read: the model decides which
inquiries may be sent at all (Version_Inq itself is missing on the
CAM520 Pro2 / VC520 Pro2, Power_Status_Inq exists on three models). Version_Inq
answers numeric vendor and model ids, but AVer publishes no table of them
(the simulator's ids in ``sim_camera.SIM_MODEL_IDS`` are invented), so mapping
ids to names would be a guess that misconfigures real cameras. The import
therefore takes the model from the user (``--set model=CAM570``; importing a
manifest, from its settings) and the engine's error says so when it is missing.

What is imported:

- what the camera reports: ``power`` (Power_Status_Inq: FONE700 on any
  transport, CAM520 Pro3 / VC520 Pro3 over serial) and ``audio`` mute and
  volume (Ado_Mute_Inq / Ado_Volume_Inq: VB342 Pro, VB350, VC520 Pro3,
  FONE700). :func:`import_read` asks the provider's read for audio on every
  model; the camera layer sends only the inquiries the model has;
- write-only settings the state record tracked at the last apply (the engine
  fills them in, see ``fleetform.importstate``): focus/white-balance/exposure
  modes, backlight/WDR, PIP, tracking and presets. VISCA on AVer has no
  inquiry for any of them, and a camera cannot list its presets; a preset's
  position can only be measured by recalling it, which moves the lens, so an
  import (read-only, nothing moves) does not do it. ``fleetform plan
  --verify-presets`` checks the imported presets afterwards.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fleetform.device import DeviceSpec
from fleetform.importer import ImportedDevice
from fleetform.provider import Provider, ReadRequest, ReadResponse
from fleetform.providers.visca.matrix import supports
from fleetform.providers.visca.models import Audio, AverSettings

_NO_INQUIRY = "no AVer inquiry exists"
#: Each write-only setting: a command the model needs to have the setting at all (per the
#: matrix), and why the camera cannot report it (comment text).
SETTINGS: dict[str, tuple[str, str]] = {
    "power": ("Power_On", "this model has no Power_Status_Inq over this transport"),
    "audio": ("ADO_Mute_On", "this model has no Ado_Mute_Inq / Ado_Volume_Inq"),
    "presets": ("CAM_set", "a camera cannot list its presets (recalling one to measure it "
                "moves the lens)"),
    "focus_mode": ("Focus_Auto_Mode", _NO_INQUIRY),
    "white_balance": ("WB_Auto_Mode", _NO_INQUIRY),
    "exposure_mode": ("AE_Auto_Mode", _NO_INQUIRY),
    "backlight": ("Backlight_On", _NO_INQUIRY),
    "wdr": ("WDR_On", _NO_INQUIRY),
    "pip": ("CAM_PIP_Set_USB", _NO_INQUIRY),
    "tracking": ("CAM_Track_Disable", _NO_INQUIRY),
}


def import_connection(address: str) -> dict[str, Any]:
    """``udp://HOST[:PORT]`` (or ``HOST[:PORT]``) as VISCA over IP; a path as a serial line.

    A serial camera's chain address is ``--connection address=N`` (default 1).
    """
    if address.startswith("/") or address.startswith("sim://"):
        return {"transport": "serial", "port": address}
    text = address.removeprefix("udp://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and host and (":" not in host or host.startswith("[")):
        return {"transport": "udp", "host": host.strip("[]"), "port": int(port)}
    return {"transport": "udp", "host": text.strip("[]")}


def import_read(provider: Provider, request: ReadRequest) -> ReadResponse:
    """The provider's read, asked for audio too (it reads audio only when managed)."""
    settings = request.device.settings
    assert isinstance(settings, AverSettings)
    if settings.audio is None:
        device = replace(request.device, settings=settings.model_copy(update={"audio": Audio()}))
        request = replace(request, device=device)
    return provider.read(request)


def import_device(device: DeviceSpec, read: ReadResponse) -> ImportedDevice:
    """The given model, what the camera reported, what state tracked; why the rest is absent."""
    settings = device.settings
    assert isinstance(settings, AverSettings)
    observed = read.facts.get("observed") or {}
    imported: dict[str, Any] = {"model": settings.model}
    imported.update({k: v for k, v in read.live.items() if k in SETTINGS and v is not None})
    comments = [f"model {settings.model} as given: AVer cameras do not report their model name "
                "(Version_Inq has only numeric ids AVer does not publish)"]
    reported = [k for k in SETTINGS if k in observed]
    if reported:
        comments.append("read from the camera: " + ", ".join(reported))
    reasons: dict[str, list[str]] = {}
    for key, (command, why) in SETTINGS.items():
        if key not in imported and supports(settings.model, command):
            reasons.setdefault(why, []).append(key)
    if reasons:
        comments.append("not imported (state has no value for them; add them to manage them): "
                        + "; ".join(f"{', '.join(keys)}: {why}" for why, keys in reasons.items()))
    if "presets" in imported:
        comments.append("presets are the positions fleetform last stored; 'fleetform plan "
                        "--verify-presets' checks them (it moves the camera)")
    return ImportedDevice(settings=imported, comments=tuple(comments))
