"""Camera providers through the real CLI: presets verified only on request."""

from __future__ import annotations

from pathlib import Path

from conftest import next_subnet

from fleetform.manifest import load_manifest
from fleetform.providers.visca.simhost import start_cameras
from fleetform.simulation import SimulationOptions

MANIFEST = """\
devices:
  - name: cam
    provider: aver
    connection: {{transport: udp, host: {host}, port: {port}}}
    settings:
      model: CAM570
      power: "on"
      presets:
        1: {{name: overview, pan: 0, tilt: -400, zoom: 0}}
        2: {{name: speaker, pan: -900, tilt: -200, zoom: 8000}}
"""


def test_preset_drift_is_found_only_with_verify_presets(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "room.yaml"
    manifest.write_text(MANIFEST.format(host=next_subnet() + ".7", port=52381))
    state = ["--state", str(tmp_path / "state.json"), "--no-color"]
    running = start_cameras(load_manifest(manifest).devices, SimulationOptions())
    try:
        applied = cli("apply", str(manifest), *state, "--auto-approve")
        assert applied.code == 0, applied.all
        # Someone re-stores preset 2 with the remote: presets cannot be read back
        # without moving the camera, so a plain plan cannot see it...
        running.simulator.camera("cam").set_preset(2, 500, 0, 100)
        plain = cli("plan", str(manifest), *state, "--detailed-exitcode")
        assert plain.code == 0, plain.all
        # ...and --verify-presets recalls each preset, reads the position and finds it.
        verified = cli("plan", str(manifest), *state, "--detailed-exitcode", "--verify-presets")
        assert verified.code == 2, verified.all
        assert "presets.2" in verified.out
    finally:
        running.stop()
