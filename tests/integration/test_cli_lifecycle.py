"""Lifecycle behaviour through the real CLI: locks, kills, moves, simulate, demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import ADMIN_PASSWORD, POOL_PASSWORD, Farm, make_farm, next_subnet

from fleetform.state import LocalStateBackend, hold_lock


def test_second_apply_fails_naming_the_lock_holder(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    lock_path = farm.state.parent / "state.json.lock"
    farm.state.parent.mkdir(parents=True, exist_ok=True)
    with hold_lock(lock_path, "apply", timeout=0):
        result = cli(*farm.args("apply", "--auto-approve", "--lock-timeout", "0.3"))
    assert result.code == 1
    assert "locked by apply" in result.err and f"pid {os.getpid()}" in result.err
    assert farm.miners[0].snapshot()["pools"][0]["url"] != "stratum+tcp://pool.example.com:3333"


def test_apply_without_a_terminal_needs_auto_approve(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(*farm.args("apply"))
    assert result.code == 1 and "--auto-approve" in result.err


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(FF_TEST_ADMIN_PASSWORD=ADMIN_PASSWORD, FF_TEST_POOL_PASSWORD=POOL_PASSWORD,
               NO_COLOR="1")
    return env


def test_killed_apply_leaves_readable_state_and_rerun_converges(  # type: ignore[no-untyped-def]
    tmp_path: Path, secrets_env: None, cli
) -> None:
    farm = make_farm(tmp_path, 6, restart_delay=1.0)
    try:
        command = [sys.executable, "-m", "fleetform.cli.main",
                   *farm.args("apply", "--auto-approve", "--parallelism", "2")]
        process = subprocess.Popen(command, env=_subprocess_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:  # kill once some device has started applying
            if "applying" in line:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        backend = LocalStateBackend(farm.state)
        state = backend.read()  # parses: old or new complete file, never a torn one
        assert len(state.devices) < 6
        with backend.lock("check", timeout=0):  # the kernel released the dead holder's lock
            pass
        rerun = cli(*farm.args("apply", "--auto-approve"))
        assert rerun.code == 0, rerun.all
        assert cli(*farm.args("plan", "--detailed-exitcode")).code == 0
    finally:
        farm.simulator.stop()


def test_static_network_move_is_recorded_and_followed(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    miner = farm.miners[0]
    new_ip = next_subnet() + ".9"
    manifest = farm.manifest.read_text().replace(
        "      network:\n        mode: dhcp\n",
        "      network:\n{% if i == 0 %}\n        mode: static\n"
        f"        ip: {new_ip}\n        netmask: 255.255.255.0\n"
        f"        gateway: {new_ip.rsplit('.', 1)[0]}.1\n        dns: [1.1.1.1]\n"
        "{% else %}\n        mode: dhcp\n{% endif %}\n",
    )
    farm.manifest.write_text(manifest)
    result = cli(*farm.args("apply", "--auto-approve"))
    assert result.code == 0, result.all
    assert miner.host == new_ip
    record = json.loads(farm.state.read_text())["devices"]["miner-1"]
    assert record["address"] == new_ip
    # The manifest still names the old address: plan finds the miner where state recorded it.
    again = cli(*farm.args("plan", "--detailed-exitcode"))
    assert again.code == 0, again.all


def test_status_table_shows_figures_and_warnings(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    farm.miners[0].set_pcb_temp(78.0)
    result = cli(*farm.args("status"))
    assert result.code == 0, result.all
    assert "GH/s" in result.out and "pools" in result.out
    assert "80" in result.out and "warning" in result.out


def test_demo_runs_every_step_as_documented(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("demo", "--no-color", "--miners", "2")
    assert result.code == 0, result.all
    assert "Every step behaved as expected" in result.out
    # Miners, then cameras: fresh plan and drift plan exit 2; apply and re-plan exit 0.
    assert result.out.count("exit code 2: as expected") == 4
    assert result.out.count("exit code 0: as expected") == 4
    assert "power" in result.out and "image.brightness" in result.out  # camera drift found
    assert "UNEXPECTED" not in result.out


def _bindable(port: int) -> bool:
    return port >= 1024 or os.geteuid() == 0


@pytest.mark.parametrize("example", ["examples/farm.yaml", "examples/lab.yaml"])
def test_examples_validate(example: str, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MINER_ADMIN_PASSWORD", "example-pw-1")
    result = cli("validate", str(Path(__file__).parents[2] / example))
    assert result.code == 0, result.all


def test_simulate_serves_the_farm_example_for_plan_and_apply(tmp_path: Path) -> None:
    repo = Path(__file__).parents[2]
    subnet = next_subnet()
    http_port, rpc_port = (80, 4028) if _bindable(80) else (18080, 14028)
    variables = ["--var", "farm_size=3", "--var", f"subnet={subnet}",
                 "--var", f"http_port={http_port}", "--var", f"rpc_port={rpc_port}"]
    env = _subprocess_env()
    env["MINER_ADMIN_PASSWORD"] = "farm-admin-pw9"
    fleetform = [sys.executable, "-m", "fleetform.cli.main"]
    simulator = subprocess.Popen(
        [*fleetform, "simulate", str(repo / "examples/farm.yaml"), *variables,
         "--restart-delay", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert simulator.stdout is not None
        lines = []
        for line in simulator.stdout:
            lines.append(line)
            if line.startswith("Ready."):
                break
        assert any(f"{subnet}.3" in line for line in lines), "".join(lines)
        reply = requests.get(f"http://{subnet}.1:{http_port}/cgi-bin/get_system_info.cgi",
                             timeout=5)
        assert reply.status_code == 401 and "antMiner Configuration" in reply.headers[
            "WWW-Authenticate"]
        state = ["--state", str(tmp_path / "state.json")]
        target = [str(repo / "examples/farm.yaml"), *variables, *state]
        apply = subprocess.run([*fleetform, "apply", *target, "--auto-approve"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert apply.returncode == 0, apply.stdout + apply.stderr
        plan = subprocess.run([*fleetform, "plan", *target, "--detailed-exitcode"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert "farm-admin-pw9" not in apply.stdout + apply.stderr + plan.stdout
    finally:
        simulator.send_signal(signal.SIGINT)
        try:
            simulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
        if simulator.stdout is not None:
            simulator.stdout.close()
    assert simulator.returncode == 0


def test_cli_start_is_quick_enough_to_measure() -> None:
    """Smoke: the console entry point starts and prints help (timing is benchmarked, not tested)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "fleetform.cli.main", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "plan" in result.stdout
    assert time.perf_counter() > started


def test_simulate_injects_faults_per_device(tmp_path: Path, secrets_env: None) -> None:
    """``simulate --fault`` reaches the named miner's simulator: it drops requests."""
    repo = Path(__file__).parents[2]
    subnet = next_subnet()
    env = _subprocess_env()
    env["MINER_ADMIN_PASSWORD"] = "farm-admin-pw9"
    variables = ["--var", "farm_size=2", "--var", f"subnet={subnet}",
                 "--var", "http_port=18080", "--var", "rpc_port=14028"]
    simulator = subprocess.Popen(
        [sys.executable, "-m", "fleetform.cli.main", "simulate",
         str(repo / "examples/farm.yaml"), *variables, "--fault", "s9-0002:offline=true"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert simulator.stdout is not None
        for line in simulator.stdout:
            if line.startswith("Ready."):
                break
        healthy = requests.get(f"http://{subnet}.1:18080/", timeout=5)
        assert healthy.status_code == 401
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{subnet}.2:18080/", timeout=5)
    finally:
        simulator.send_signal(signal.SIGINT)
        simulator.wait(timeout=10)
        if simulator.stdout is not None:
            simulator.stdout.close()
