"""Interop: an established third-party ONVIF client (onvif-zeep-async) against the simulator.

Why: the simulator is only useful if it speaks ONVIF as cameras do; zeep
parses replies strictly against the official WSDLs/XSDs, so element names and
order mistakes fail here. Skipped when ``onvif-zeep-async`` is not installed
(it is not a fleetform dependency).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import next_subnet

from fleetform.providers.onvif.sim_state import CameraConfig
from fleetform.providers.onvif.simulator import CameraSimulator

onvif = pytest.importorskip("onvif", reason="onvif-zeep-async is not installed")


async def _session(host: str, port: int) -> dict[str, Any]:
    camera = onvif.ONVIFCamera(host, port, "admin", "zeep-pw", no_cache=True, adjust_time=True)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        imaging = await camera.create_imaging_service()
        source = profiles[0].VideoSourceConfiguration.SourceToken
        await imaging.SetImagingSettings({"VideoSourceToken": source,
                                          "ImagingSettings": {"Brightness": 77}})
        settings = await imaging.GetImagingSettings({"VideoSourceToken": source})
        return {"xaddrs": dict(camera.xaddrs), "model": info.Model,
                "widths": [p.VideoEncoderConfiguration.Resolution.Width for p in profiles],
                "brightness": settings.Brightness, "ircut": settings.IrCutFilter}
    finally:
        await camera.close()


def test_onvif_zeep_async_discovers_reads_and_writes_unchanged() -> None:
    with CameraSimulator() as simulator:
        cam = simulator.add(CameraConfig(name="zeep", host=f"{next_subnet()}.1", port=0,
                                         password="zeep-pw", clock_offset=3600.0,
                                         clock_window=60.0))
        result = asyncio.run(_session(cam.host, cam.port))
    assert "http://www.onvif.org/ver20/media/wsdl" in result["xaddrs"]
    assert result["model"] == "TurretCam (8 Mp/2.8 mm)"
    assert result["widths"] == [3840, 720]
    assert (result["brightness"], result["ircut"]) == (77.0, "AUTO")
    assert cam.state.imaging.brightness == 77.0
    assert {entry.auth for entry in cam.log} == {"none", "token"}
