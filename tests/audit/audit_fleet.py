"""A small mixed fleet (miners, an AVer PTZ camera, a TurretCam) with distinctive secrets.

Why a helper module: the secrets audit needs every provider running on
loopback with secrets in every place a manifest can hold one — the miners'
admin password, pool password and bootstrap login, the TurretCam's ONVIF
password (AVer cameras have no secret: VISCA has no authentication) — and
a scanner that finds a secret in any form it could leak in (raw, URL- or
form-encoded, JSON- or HTML-escaped, base64).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import socket
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetform.manifest import load_manifest
from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator, SimulatedMiner
from fleetform.providers.onvif.simhost import RunningCameras as TurretCams
from fleetform.providers.onvif.simhost import start_cameras as start_turretcams
from fleetform.providers.visca.simhost import RunningCameras as AverCams
from fleetform.providers.visca.simhost import start_cameras as start_aver
from fleetform.simulation import SimulationOptions

SECRETS = {
    # Characters that URL/form encoding changes, within what each device can store.
    "AUDIT_ADMIN_PASSWORD": "Aud1t!Admin#Secret~q7",
    "AUDIT_POOL_PASSWORD": "Aud1t!Pool#Secret:x4",
    "AUDIT_BOOT_PASSWORD": "Aud1t!Boot#Secret(m8)",
    "AUDIT_ONVIF_PASSWORD": "Aud1t/Onvif?Secret=&z2",
}

MANIFEST = """\
devices:
{% for i in range(2) %}
  - name: miner-{{ i + 1 }}
    provider: antminer
    labels: {role: miner}
    connection:
      host: {{ miner_hosts[i] }}
      port: {{ http_ports[i] }}
      rpc_port: {{ rpc_ports[i] }}
      timeout: 5
      restart_timeout: 20
      credentials: {username: root, password: "${env:AUDIT_BOOT_PASSWORD}"}
    settings:
      pools:
        - url: stratum+tcp://pool.example.com:3333
          worker: audit.m{{ i + 1 }}
          password: "{{ env('AUDIT_POOL_PASSWORD') }}"
      admin_password: "${env:AUDIT_ADMIN_PASSWORD}"
      network: {mode: dhcp, hostname: audit-{{ i + 1 }}}
{% endfor %}
  - name: ptz-1
    provider: aver
    labels: {role: camera}
    connection: {transport: udp, host: "{{ aver_host }}", port: 52381}
    settings:
      model: CAM570
      power: "on"
      presets:
        1: {name: overview, pan: 0, tilt: -400, zoom: 0}
  - name: turret-1
    provider: turretcam
    labels: {role: camera, model: 8mp}
    connection:
      host: "{{ turret_host }}"
      port: {{ turret_port }}
      username: admin
      password: "${env:AUDIT_ONVIF_PASSWORD}"
      timeout: 5
    settings:
      image: {brightness: 55, contrast: 50}
      osd: {name: Audit door, timestamp: true}
"""


def secret_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` a leak could take."""
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret),
        json.dumps(secret)[1:-1],
        html.escape(secret),
        base64.b64encode(secret.encode()).decode(),
    }


FORMS = {form: name for name, value in SECRETS.items() for form in secret_forms(value)}


def find_secrets(text: str) -> list[str]:
    """Which secrets (by variable name, with the form found) ``text`` contains."""
    return sorted({f"{name} as {form!r}" for form, name in FORMS.items() if form in text})


def free_port(host: str) -> int:
    """A TCP port free on ``host`` right now (the ONVIF simulator binds the manifest's port)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class RecordCollector(logging.Handler):
    """Keeps every log record a run emits, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Format and keep the record (exception text and stack included)."""
        self.lines.append(self.format(record))


@dataclass
class AuditFleet:
    """The running simulators and the files of one audit."""

    workdir: Path
    miners: list[SimulatedMiner]
    miner_sim: MinerSimulator
    aver: AverCams | None = None
    turret: TurretCams | None = None
    turret_address: str = ""

    @property
    def manifest(self) -> Path:
        """The mixed-fleet manifest."""
        return self.workdir / "fleet.yaml"

    @property
    def state(self) -> Path:
        """The state file."""
        return self.workdir / "state" / "state.json"

    def common(self) -> list[str]:
        """Options every device command takes."""
        return ["--var-file", str(self.workdir / "vars.yaml"), "--state", str(self.state),
                "--no-color"]

    def written_files(self) -> Iterator[Path]:
        """Every file under the work directory (state, backups, plans, reports, imports)."""
        return (p for p in sorted(self.workdir.rglob("*")) if p.is_file())

    def stop(self) -> None:
        """Stop every simulator."""
        if self.turret is not None:
            self.turret.stop()
        if self.aver is not None:
            self.aver.stop()
        self.miner_sim.stop()


@contextmanager
def audit_fleet(workdir: Path, subnet: str) -> Iterator[AuditFleet]:
    """Start two miners (factory login = the bootstrap secret) and both cameras."""
    simulator = MinerSimulator()
    simulator.start()
    fleet = AuditFleet(workdir, [], simulator)
    try:
        fleet.miners = [simulator.add(MinerConfig(
            name=f"miner-{i + 1}", host=f"{subnet}.{i + 1}", http_port=0, rpc_port=0,
            password=SECRETS["AUDIT_BOOT_PASSWORD"], restart_delay=0.2, network_delay=0.05,
        )) for i in range(2)]
        turret_host = f"{subnet}.8"
        variables: dict[str, Any] = {
            "miner_hosts": [m.host for m in fleet.miners],
            "http_ports": [m.http_port for m in fleet.miners],
            "rpc_ports": [m.rpc_port for m in fleet.miners],
            "aver_host": f"{subnet}.7", "turret_host": turret_host,
            "turret_port": free_port(turret_host),
        }
        fleet.turret_address = f"{turret_host}:{variables['turret_port']}"
        (workdir / "vars.yaml").write_text(json.dumps(variables), encoding="utf-8")
        fleet.manifest.write_text(MANIFEST, encoding="utf-8")
        devices = load_manifest(fleet.manifest, variables=variables, environ=SECRETS).devices
        options = SimulationOptions(restart_delay=0.2, network_delay=0.05)
        fleet.aver = start_aver([d for d in devices if d.provider == "aver"], options)
        fleet.turret = start_turretcams([d for d in devices if d.provider == "turretcam"],
                                        options)
        yield fleet
    finally:
        fleet.stop()
