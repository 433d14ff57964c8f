"""The camera chapter of ``fleetform demo``: an AVer PTZ camera and an Ajax TurretCam.

Why a chapter of its own: it shows the other two device families with the
same commands — presets and modes over VISCA on a (simulated) RS-232 line, and
streams/image/OSD over ONVIF — and drift on each, without any hardware.
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from fleetform.manifest import load_manifest
from fleetform.providers.onvif.simhost import RunningCameras as RunningTurretCams
from fleetform.providers.onvif.simhost import start_cameras as start_turretcams
from fleetform.providers.visca.simhost import RunningCameras as RunningAverCameras
from fleetform.providers.visca.simhost import start_cameras as start_aver_cameras
from fleetform.simulation import SimulationOptions

_MANIFEST = """\
# A meeting room camera on RS-232 and a shop camera on the LAN.
devices:
  - name: room-ptz
    provider: aver
    labels: {{room: a}}
    connection:
      transport: serial
      port: sim://{line}      # the simulator's pty; on hardware e.g. /dev/ttyUSB0
      baud: 9600
      address: 1
    settings:
      model: CAM520 Pro3
      power: "on"
      wdr: "on"
      presets:
        1: {{name: wide,    pan: 0,     tilt: 0,   zoom: 0}}
        2: {{name: lectern, pan: -1200, tilt: 150, zoom: 6000}}
      tracking: {{mode: preset}}

  - name: shop-entrance
    provider: turretcam
    labels: {{model: 8mp}}
    connection:
      host: {host}
      port: {port}
      username: admin
      password: ${{env:DEMO_ONVIF_PASSWORD}}
    settings:
      video:
        main: {{codec: H.265, resolution: 3840x2160, fps: 15, rate_control: VBR,
                bitrate: 4096, gop: 30, quality: 70}}
      image: {{brightness: 55, contrast: 50}}
      osd: {{name: Shop entrance, timestamp: true}}
      time_zone: Europe/Kyiv
"""

RunStep = Callable[[str, list[str], int], bool]


def camera_chapter(console: Console, workdir: Path, common: list[str], run: RunStep) -> bool:
    """Start simulated cameras, then plan → apply → plan → drift → plan; True if all as expected."""
    os.environ["DEMO_ONVIF_PASSWORD"] = "onvif-" + secrets.token_hex(6)
    os.environ.setdefault("FLEETFORM_SIM_DIR", str(workdir / "sim"))
    line = f"demo-{secrets.token_hex(3)}"
    host = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.21"
    manifest = workdir / "cameras.yaml"
    manifest.write_text(
        _MANIFEST.format(line=line, host=host, port=random.randint(20000, 60000)),
        encoding="utf-8",
    )
    devices = load_manifest(manifest).devices
    options = SimulationOptions(restart_delay=0.2, network_delay=0.1)
    aver = start_aver_cameras([d for d in devices if d.provider == "aver"], options)
    try:
        turretcams = start_turretcams([d for d in devices if d.provider == "turretcam"], options)
        try:
            return _story(console, manifest, common, run, aver, turretcams)
        finally:
            turretcams.stop()
    finally:
        aver.stop()


def _story(console: Console, manifest: Path, common: list[str], run: RunStep,
           aver: RunningAverCameras, turretcams: RunningTurretCams) -> bool:
    console.print(
        "[bold]Cameras[/bold]: a simulated AVer CAM520 Pro3 on a 9600-baud RS-232 line "
        "(VISCA over a pty) and a simulated Ajax TurretCam 8 Mp (ONVIF over HTTP).\n"
    )
    target = ["plan", str(manifest), *common, "--detailed-exitcode"]
    ok = run("6. Plan the cameras: presets, modes, stream, image, OSD", target, 2)
    ok &= run("7. Apply: each preset is driven to, stored and confirmed; each Set is read back",
              ["apply", str(manifest), *common, "--auto-approve"], 0)
    ok &= run("8. Plan again: the cameras match the manifest", target, 0)
    console.print(Rule("9. Drift: someone uses the remote and the Ajax app"))
    console.print(
        "The PTZ camera is put in standby with its remote, and the TurretCam's brightness\n"
        "is changed to 80 in the Ajax app — both behind fleetform's back.\n"
    )
    aver.simulator.camera("room-ptz").set_power("standby")

    def brighten(state: object) -> None:
        state.imaging.brightness = 80.0  # type: ignore[attr-defined]

    turretcams.simulator.camera("shop-entrance").mutate(brighten)
    ok &= run("10. Plan finds both drifts (exit code 2)", target, 2)
    return ok
