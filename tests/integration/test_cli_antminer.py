"""End to end through the real CLI against simulated S9 miners on loopback.

Covers the issue's "done means": plan on fresh miners, apply converges, a
second plan is clean, drift is detected, per-device failures (wrong password,
unreachable, rejected value) leave the other miners applied, and secrets
appear nowhere in output, JSON, logs or state.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests
from conftest import ADMIN_PASSWORD, POOL_PASSWORD, Farm, Result

SECRETS = (ADMIN_PASSWORD, POOL_PASSWORD)


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_plan_on_fresh_miners_shows_the_changes(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    result: Result = cli(*farm.args("plan", "--detailed-exitcode"))
    assert result.code == 2, result.all
    out = result.out
    for n in (1, 2, 3):
        assert f"~ miner-{n}" in out
    assert '~ pools[0].url' in out and '"stratum+tcp://pool.example.com:3333"' in out
    assert "~ pools[0].password" in out and "(sensitive)" in out
    assert "~ admin_password" in out
    assert "~ network.hostname" in out and '"antMiner" -> "miner-1"' in out
    assert "on 3 of 3 device(s)" in out
    assert_no_secrets(result.all)
    assert not farm.state.exists(), "plan must not write state"


def test_apply_converges_and_second_plan_is_clean(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    applied = cli(*farm.args("apply", "--auto-approve"))
    assert applied.code == 0, applied.all
    assert "3 applied, 0 unchanged, 0 failed" in applied.out
    clean = cli(*farm.args("plan", "--detailed-exitcode"))
    assert clean.code == 0, clean.all
    assert clean.out.startswith("No changes.")
    snapshot = farm.miners[0].snapshot()
    assert snapshot["pools"][0]["url"] == "stratum+tcp://pool.example.com:3333"
    state_text = farm.state.read_text()
    assert_no_secrets(applied.all, clean.all, state_text)
    state = json.loads(state_text)
    record = state["devices"]["miner-1"]
    assert record["identity"]["mac"] and record["tracked"]["admin_password"].startswith(
        "pbkdf2-sha256$"
    )
    assert oct(farm.state.stat().st_mode & 0o777) == "0o600"


def test_drift_behind_fleetforms_back_is_detected(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    miner = farm.miners[1]
    # A person edits the miner through its own web CGI (positional form, digest auth).
    from fleetform.providers.antminer.codec import build_miner_conf_form, parse_miner_conf

    base = f"http://{miner.host}:{miner.http_port}/cgi-bin"
    auth = requests.auth.HTTPDigestAuth("root", ADMIN_PASSWORD)
    conf = parse_miner_conf(requests.get(f"{base}/get_miner_conf.cgi", auth=auth, timeout=5).text)
    pools = [{"url": p["url"], "user": p["user"], "pass": p["pass"]} for p in conf["pools"]]
    pools[0]["user"] = "someone.else"
    requests.post(f"{base}/set_miner_conf.cgi", data=build_miner_conf_form(pools, conf),
                  auth=auth, timeout=10).raise_for_status()
    drift = cli(*farm.args("plan", "--detailed-exitcode"))
    assert drift.code == 2, drift.all
    assert '~ pools[0].worker' in drift.out and '"someone.else" -> "farm.m2"' in drift.out
    assert "on 1 of 3 device(s)" in drift.out


def test_per_device_failures_leave_the_others_applied(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    wrong, offline, rejecting = farm.miners
    wrong.set_password("not-what-the-manifest-says")
    offline.set_fault(offline=True)
    rejecting.set_fault(reject_writes=True)
    extra = make_extra_miner(farm)
    result = cli(*farm.args("apply", "--auto-approve"))
    assert result.code == 1, result.all
    out = result.out
    assert "miner-1" in out and "wrong password" in out.lower()
    assert "miner-2" in out and "read" in out
    assert "miner-3" in out and "at pools" in out
    assert "1 applied" in out and "3 failed" in out
    assert extra.snapshot()["pools"][0]["url"] == "stratum+tcp://pool.example.com:3333"
    assert_no_secrets(result.all, "not-what-the-manifest-says")
    state = json.loads(farm.state.read_text())
    assert set(state["devices"]) == {"miner-4"}


def make_extra_miner(farm: Farm):  # type: ignore[no-untyped-def]
    """Add a healthy fourth miner to the farm (so some device succeeds)."""
    from fleetform.providers.antminer.simulator import MinerConfig

    prefix = farm.miners[0].host.rsplit(".", 1)[0]
    miner = farm.simulator.add(MinerConfig(
        name="miner-4", host=f"{prefix}.4", http_port=0, rpc_port=0, restart_delay=0.2,
    ))
    farm.miners.append(miner)
    farm.write_vars()
    return miner


def test_json_plan_and_debug_logs_hold_no_secret(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--log-level", "debug", *farm.args("plan", "--json"))
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["type"] == "plan" and document["summary"]["devices_changing"] == 3
    sensitive = [c for d in document["devices"] for c in d["changes"] if c["sensitive"]]
    assert sensitive and all(c["before"] is None and c["after"] is None for c in sensitive)
    assert_no_secrets(result.out, result.err)
    applied = cli("--log-level", "debug", *farm.args("apply", "--auto-approve", "--json"))
    assert applied.code == 0, applied.err
    assert json.loads(applied.out)["ok"] is True
    shown = cli("show", "--state", str(farm.state), "--json")
    assert_no_secrets(applied.out, applied.err, shown.out, farm.state.read_text())


def test_identity_mismatch_refuses_the_device(farm: Farm, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    state = json.loads(farm.state.read_text())
    state["devices"]["miner-1"]["identity"]["mac"] = "02:00:00:00:00:99"
    farm.state.write_text(json.dumps(state))
    result = cli(*farm.args("plan"))
    assert result.code == 1
    assert "miner-1" in result.out and "is not the one recorded" in result.out
    assert "fleetform state rm miner-1" in result.out


def test_validate_and_help(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    ok = cli("validate", str(farm.manifest), "--var-file", str(farm.var_file))
    assert ok.code == 0 and "3 device(s)" in ok.out
    for command in ("validate", "plan", "apply", "show", "status", "schema", "simulate", "demo"):
        helped = cli(command, "--help")
        assert helped.code == 0 and "Usage" in helped.out, command


def test_status_reports_health_and_warns_when_hot(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    farm.miners[0].set_pcb_temp(77.0)
    result = cli(*farm.args("status", "--json"))
    document = json.loads(result.out)
    rows = {row["name"]: row for row in document["devices"]}
    assert any("80" in w for w in rows["miner-1"]["warnings"])
    assert rows["miner-2"]["ok"] and not rows["miner-2"]["warnings"]
    farm.miners[2].set_pcb_temp(81.0)
    critical = cli(*farm.args("status"))
    assert critical.code == 1
