"""The fleet benchmark's devices: its manifest and a simulator process serving it.

Why a separate process: in the field the devices are other machines. Running
the simulators in a child process keeps their CPU out of the fleetform
process being measured (two cores: one each) and lets the benchmark report
how busy the simulators were, to show they were not the bottleneck.

The child is started with :func:`start`; it loads the same manifest, starts
every family's simulator through ``builtin_simulators()`` with the injected
latency (``SimulationOptions.latency``/``jitter``, which each simulator
applies per request), and answers a few commands over a pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

MINER_NET = "127.210"
CAMERA_NET = "127.211"
RPC_PORT = 4028  # pyasic talks to the RPC API on 4028 only
HTTP_PORT = 8000

TEMPLATE = """\
devices:
{% for i in range(miners) %}
  - name: s9-{{ "%04d" % (i + 1) }}
    provider: antminer
    labels: {rack: "r{{ i % 20 }}"}
    connection:
      host: "MINER_NET.{{ i // 250 }}.{{ i % 250 + 1 }}"
      port: HTTP_PORT
      rpc_port: RPC_PORT
      timeout: 10
      credentials: {username: root, password: root}
    settings:
      pools:
        - {url: "stratum+tcp://stratum.example.com:3333", worker: "farm.{{ i + 1 }}"}
        - {url: "stratum+tcp://backup.example.com:443", worker: "farm.{{ i + 1 }}"}
      admin_password: "${env:BENCH_ADMIN_PASSWORD}"
      network: {mode: dhcp, hostname: "s9-{{ '%04d' % (i + 1) }}"}
{% endfor %}
{% for i in range(turretcams) %}
  - name: cam-{{ "%03d" % (i + 1) }}
    provider: turretcam
    labels: {model: "{{ '5mp' if i % 2 else '8mp' }}"}
    connection:
      host: "CAMERA_NET.{{ i // 250 }}.{{ i % 250 + 1 }}"
      port: 8080
      username: admin
      password: "${env:BENCH_CAMERA_PASSWORD}"
    settings:
      video:
        main: {codec: H.265, resolution: 2560x1440, fps: 15, rate_control: VBR,
               bitrate: 4096, gop: 30, quality: 70}
        sub: {codec: H.264, resolution: 720x576, fps: 10}
      image: {brightness: 55, contrast: 50, rotation: 0, day_night: auto,
              wdr: {enabled: true, level: 2}}
      osd: {name: "Camera {{ i + 1 }}", timestamp: true}
      privacy_zones: [{x: 0.1, y: 0.1, width: 0.2, height: 0.2}]
      time_zone: Europe/Kyiv
      ntp: [pool.ntp.org]
{% endfor %}
{% for line in range(chains) %}
{% for address in range(1, 8) %}
  - name: ptz-{{ line + 1 }}-{{ address }}
    provider: aver
    connection: {transport: serial, port: "sim://fleet-chain-{{ line + 1 }}", baud: 9600,
                 address: {{ address }}, timeout: 2.0, move_timeout: 30}
    settings:
      model: CAM520 Pro
      power: "on"
      focus_mode: auto
      white_balance: auto
      presets:
        1: {name: wide, pan: 0, tilt: 0, zoom: 0}
        2: {name: desk, pan: {{ address * 100 }}, tilt: 50, zoom: 3000}
{% endfor %}
{% endfor %}
""".replace("MINER_NET", MINER_NET).replace("CAMERA_NET", CAMERA_NET).replace(
    "HTTP_PORT", str(HTTP_PORT)).replace("RPC_PORT", str(RPC_PORT))


@dataclass(frozen=True)
class FleetSpec:
    """What to simulate and how slow the network is."""

    manifest: Path
    variables: dict[str, int]
    latency: float
    jitter: float
    restart_delay: float
    network_delay: float


def write_manifest(workdir: Path, miners: int, turretcams: int, chains: int,
                   ) -> tuple[Path, dict[str, int]]:
    """The Jinja-looped fleet manifest and its variables."""
    path = workdir / "fleet.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path, {"miners": miners, "turretcams": turretcams, "chains": chains}


def _serve(spec: FleetSpec, conn: Connection) -> None:
    """Child process: start every simulator, then answer commands until ``stop``."""
    from fleetform.manifest import load_manifest
    from fleetform.providers import builtin_simulators
    from fleetform.simulation import SimulationOptions

    manifest = load_manifest(spec.manifest, variables=spec.variables)
    options = SimulationOptions(restart_delay=spec.restart_delay,
                                network_delay=spec.network_delay,
                                latency=spec.latency, jitter=spec.jitter)
    started = time.perf_counter()
    starters = builtin_simulators()
    parts: dict[str, Any] = {}
    try:
        # Serial lines first: the VISCA line simulator (and pyserial) use select(),
        # which cannot watch a descriptor above 1023, and 1,000 miners open 2,000.
        for family in sorted({d.provider for d in manifest.devices}, key=lambda f: f != "aver"):
            members = [d for d in manifest.devices if d.provider == family]
            parts[family] = starters[family](members, options)
    except BaseException:
        for part in parts.values():
            part.stop()
        raise
    aver = [d.name for d in manifest.devices if d.provider == "aver"]
    visca = parts.get("aver")
    conn.send(("ready", time.perf_counter() - started))
    try:
        while True:
            command = conn.recv()
            if command == "stop":
                break
            if command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                commands = sum(visca.simulator.camera(n).commands_seen  # type: ignore[union-attr]
                               for n in aver) if visca is not None else 0
                conn.send({"cpu_s": usage.ru_utime + usage.ru_stime,
                           "maxrss_mib": usage.ru_maxrss / 1024, "visca_commands": commands,
                           "threads": sum(1 for _ in Path(f"/proc/{os.getpid()}/task").iterdir())})
    finally:
        for part in parts.values():
            part.stop()
        conn.send("stopped")


class SimulatorProcess:
    """Handle on the child process hosting every simulated device."""

    def __init__(self, spec: FleetSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(spec, child), daemon=True,
                                        name="fleet-simulators")
        self._process.start()
        kind, seconds = self._conn.recv()
        assert kind == "ready"
        self.start_seconds: float = seconds

    def stats(self) -> dict[str, Any]:
        """CPU seconds, peak memory and VISCA commands counted by the simulators so far."""
        self._conn.send("stats")
        result: dict[str, Any] = self._conn.recv()
        return result

    def stop(self) -> None:
        """Stop the simulators and the process."""
        if self._process.is_alive():
            self._conn.send("stop")
            if self._conn.poll(60):
                self._conn.recv()
            self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
