"""Shared fixtures: unique loopback subnets and simulated miner farms.

Why: integration tests speak the real protocols over real sockets; each test
gets its own 127.x.y.0/24 so tests never collide with each other or with a
`fleetform simulate` left running on the examples' addresses.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator, SimulatedMiner

_SUBNETS = itertools.count(1)
ADMIN_PASSWORD = "Adm1n-Secret-42"
POOL_PASSWORD = "poolpw-Secret-77"


def next_subnet() -> str:
    """A fresh 127.a.b prefix for one test (a from the pid so parallel runs differ)."""
    n = next(_SUBNETS)
    return f"127.{100 + os.getpid() % 100}.{n % 250 + 1}"


FARM_TEMPLATE = """\
variables:
  admin: true
devices:
{% for i in range(hosts | length) %}
  - name: miner-{{ i + 1 }}
    provider: antminer
    labels: {rack: "r{{ i % 2 }}"}
    connection:
      host: {{ hosts[i] }}
      port: {{ http_ports[i] }}
      rpc_port: {{ rpc_ports[i] }}
      timeout: 5
      restart_timeout: 20
    settings:
      pools:
        - url: stratum+tcp://pool.example.com:3333
          worker: farm.m{{ i + 1 }}
          password: "${env:FF_TEST_POOL_PASSWORD}"
        - url: stratum+tcp://backup.example.com:443
          worker: farm.m{{ i + 1 }}
{% if admin %}
      admin_password: "{{ env('FF_TEST_ADMIN_PASSWORD') }}"
{% endif %}
      network:
        mode: dhcp
        hostname: miner-{{ i + 1 }}
{% endfor %}
"""


@dataclass
class Farm:
    """Simulated miners plus a manifest, var-file and state path that point at them."""

    simulator: MinerSimulator
    miners: list[SimulatedMiner]
    workdir: Path
    manifest: Path
    var_file: Path
    state: Path
    extra: list[str] = field(default_factory=list)

    def args(self, command: str, *more: str) -> list[str]:
        """CLI arguments for ``command`` against this farm."""
        return [command, str(self.manifest), "--var-file", str(self.var_file),
                "--state", str(self.state), "--no-color", *self.extra, *more]

    def write_vars(self) -> None:
        """(Re)write the var-file with the miners' current addresses and ports."""
        self.var_file.write_text(
            f"hosts: {json.dumps([m.host for m in self.miners])}\n"
            f"http_ports: {json.dumps([m.http_port for m in self.miners])}\n"
            f"rpc_ports: {json.dumps([m.rpc_port for m in self.miners])}\n",
            encoding="utf-8",
        )


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets the farm manifest references."""
    monkeypatch.setenv("FF_TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("FF_TEST_POOL_PASSWORD", POOL_PASSWORD)


def make_farm(tmp_path: Path, count: int, **config: float) -> Farm:
    """Start ``count`` simulated miners and write a manifest for them."""
    simulator = MinerSimulator()
    simulator.start()
    subnet = next_subnet()
    miners = [
        simulator.add(MinerConfig(
            name=f"miner-{i + 1}", host=f"{subnet}.{i + 1}", http_port=0, rpc_port=0,
            restart_delay=config.get("restart_delay", 0.2),
            network_delay=config.get("network_delay", 0.05),
        ))
        for i in range(count)
    ]
    manifest = tmp_path / "farm.yaml"
    manifest.write_text(FARM_TEMPLATE, encoding="utf-8")
    farm = Farm(simulator, miners, tmp_path, manifest, tmp_path / "vars.yaml",
                tmp_path / "state" / "state.json")
    farm.write_vars()
    return farm


@pytest.fixture
def farm(tmp_path: Path, secrets_env: None) -> Iterator[Farm]:
    """Three fresh simulated miners with a manifest pointing at them."""
    farm = make_farm(tmp_path, 3)
    try:
        yield farm
    finally:
        farm.simulator.stop()


@dataclass
class Result:
    """What one CLI invocation printed and returned."""

    code: int
    out: str
    err: str

    @property
    def all(self) -> str:
        """stdout and stderr together, for secret scans."""
        return self.out + self.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the real ``fleetform`` entry point in-process; returns a Result."""
    from fleetform.cli.main import run

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["fleetform", *args])
        capsys.readouterr()
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
