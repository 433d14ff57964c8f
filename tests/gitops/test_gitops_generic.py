"""The GitOps commands work for any registered provider: a TurretCam (ONVIF) run.

Nothing here is camera-specific in the engine: saved plans, drift with an
ignore rule, targeting and import go through the Provider protocol only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import next_subnet

from fleetform.manifest import load_manifest
from fleetform.providers import builtin_simulators
from fleetform.simulation import SimulationOptions, start_simulation

MANIFEST = """\
drift:
  ignore:
    - devices: site=lab
      paths: [osd]
      reason: the operators rename cameras on screen
devices:
{% for i in range(2) %}
  - name: cam-{{ i + 1 }}
    provider: turretcam
    labels: {site: lab}
    connection: {host: "SUBNET.{{ i + 1 }}", port: 8080, username: admin,
                 password: "${env:GITOPS_CAM_PASSWORD}"}
    settings:
      image: {brightness: {{ 55 + i }}, contrast: 50}
      osd: {name: "Cam {{ i + 1 }}", timestamp: true}
{% endfor %}
"""


@pytest.fixture
def cameras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two simulated TurretCams and a manifest for them."""
    monkeypatch.setenv("GITOPS_CAM_PASSWORD", "cam-Secret-9")
    manifest = tmp_path / "cams.yaml"
    manifest.write_text(MANIFEST.replace("SUBNET", next_subnet()))
    devices = load_manifest(manifest).devices
    simulation = start_simulation(devices, builtin_simulators(),
                                  SimulationOptions(restart_delay=0.1, network_delay=0.05))
    try:
        yield manifest
    finally:
        simulation.stop()


def test_plan_file_drift_and_import_on_cameras(cameras: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = ["--state", str(tmp_path / "state.json"), "--no-color"]
    plan_file = tmp_path / "cams.plan"
    planned = cli("plan", str(cameras), *state, "--out", str(plan_file), "--target", "cam-*")
    assert planned.code == 0, planned.all
    assert "cam-Secret-9" not in plan_file.read_text()
    assert json.loads(plan_file.read_text())["targets"] == ["cam-*"]
    assert cli("drift", str(cameras), *state).code == 2  # image differs: not ignored
    applied = cli("apply", str(plan_file), *state)
    assert applied.code == 0, applied.all
    assert cli("drift", str(cameras), *state).code == 0
    assert cli("apply", str(plan_file), *state).code == 1  # stale now

    imported = cli("import", str(cameras))
    assert imported.code == 0, imported.all
    assert "password: ${env:GITOPS_CAM_PASSWORD}" in imported.out
    assert "cam-Secret-9" not in imported.out
