"""Saved plans: plan --out, apply PLANFILE, staleness refusals, show, targeting."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ADMIN_PASSWORD, POOL_PASSWORD, Farm
from gitops_helpers import assert_no_secret, drift_pool, load_schema, validate

POOL_URL = "stratum+tcp://pool.example.com:3333"


def _plan(farm: Farm, cli, *more: str):  # type: ignore[no-untyped-def]
    plan_file = farm.workdir / "site.plan"
    result = cli(*farm.args("plan", "--out", str(plan_file), *more))
    assert result.code == 0, result.all
    return plan_file, result


def test_saved_plan_applies_exactly_and_holds_no_secret(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    plan_file, result = _plan(farm, cli)
    assert "Saved the plan" in result.out
    text = plan_file.read_text()
    assert_no_secret(text)
    assert plan_file.stat().st_mode & 0o777 == 0o600
    doc = json.loads(text)
    validate(doc, load_schema("planfile.schema.json"))
    validate(doc["plan"], load_schema("plan.schema.json"))
    seal = doc["devices"]["miner-1"]
    assert seal["desired"]["admin_password"] == "(sensitive)"
    assert seal["desired"]["pools"][0]["password"] == "(sensitive)"
    assert set(seal["secrets"]) >= {"settings.admin_password", "settings.pools[0].password"}
    assert all(v.startswith("pbkdf2-sha256$") for v in seal["secrets"].values())
    assert doc["state"]["serial"] == 0 and doc["manifest"]["variables"]["hosts"]
    # Nothing was applied by plan --out.
    assert farm.miners[0].snapshot()["pools"][0]["url"] != POOL_URL

    shown = cli("show", str(plan_file), "--no-color")
    assert shown.code == 0 and "Saved plan" in shown.out and "pools[0].url" in shown.out
    markdown = cli("show", str(plan_file), "--format", "markdown")
    assert "### :pencil2: fleetform plan" in markdown.out and "```diff" in markdown.out
    assert "(sensitive)" in markdown.out
    as_json = json.loads(cli("show", str(plan_file), "--json").out)
    assert as_json["type"] == "plan" and as_json["summary"]["devices_changing"] == 3
    assert_no_secret(shown.all + markdown.all + json.dumps(as_json))

    # No prompt: the plan was reviewed when it was made.
    applied = cli("apply", str(plan_file), "--no-color", "--state", str(farm.state))
    assert applied.code == 0, applied.all
    assert "it is not stale" in applied.out and "Apply complete" in applied.out
    assert all(m.snapshot()["pools"][0]["url"] == POOL_URL for m in farm.miners)
    assert_no_secret(applied.all)
    assert cli(*farm.args("plan", "--detailed-exitcode")).code == 0
    # Applying the same plan again is refused: state moved on.
    again = cli("apply", str(plan_file), "--state", str(farm.state))
    assert again.code == 1 and "state moved: serial 0 when planned" in again.err


def test_stale_plan_is_refused_naming_what_moved(farm: Farm, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    plan_file, _ = _plan(farm, cli)  # no changes, but a valid plan at the current serial
    drift_pool(farm.miners[1])
    monkeypatch.setenv("FF_TEST_POOL_PASSWORD", "another-pool-secret")
    result = cli("apply", str(plan_file), "--state", str(farm.state))
    assert result.code == 1
    assert "is stale; nothing was applied" in result.err
    assert "secret settings.pools[0].password is not the value it was" in result.err
    assert "another-pool-secret" not in result.all and POOL_PASSWORD not in result.all
    monkeypatch.setenv("FF_TEST_POOL_PASSWORD", POOL_PASSWORD)
    result = cli("apply", str(plan_file), "--state", str(farm.state))
    assert result.code == 1
    assert "miner-2: the device changed since the plan (fingerprint" in result.err
    assert "now also needs ~ pools[0].url" in result.err
    assert "miner-1" not in result.err and "miner-3" not in result.err
    assert farm.miners[1].snapshot()["pools"][0]["url"] != POOL_URL  # nothing applied


def test_manifest_change_after_plan_is_refused(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    plan_file, _ = _plan(farm, cli)
    farm.manifest.write_text(farm.manifest.read_text().replace("farm.m{{ i + 1 }}\n          pass",
                                                               "farm.x{{ i + 1 }}\n          pass"))
    result = cli("apply", str(plan_file), "--state", str(farm.state))
    assert result.code == 1
    assert "miner-1: settings.pools[0].worker changed in the manifest" in result.err


def test_targeting_by_name_glob_and_label(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    by_name = cli(*farm.args("plan", "--json", "--target", "miner-2"))
    assert [d["name"] for d in json.loads(by_name.out)["devices"]] == ["miner-2"]
    by_label = cli(*farm.args("plan", "--json", "--target", "rack=r0"))
    assert [d["name"] for d in json.loads(by_label.out)["devices"]] == ["miner-1", "miner-3"]
    glob_exclude = cli(*farm.args("plan", "--target", "miner-*", "--exclude", "miner-3"))
    assert "Targeted plan (only miner-*; excluding miner-3)" in glob_exclude.out
    assert "miner-3" not in glob_exclude.out.split("\n", 1)[1]
    typo = cli(*farm.args("plan", "--target", "miner-9"))
    assert typo.code == 1 and "matches no device" in typo.err

    plan_file, _ = _plan(farm, cli, "--target", "rack=r1")
    doc = json.loads(plan_file.read_text())
    assert doc["targets"] == ["rack=r1"] and doc["plan"]["targets"] == ["rack=r1"]
    assert list(doc["devices"]) == ["miner-2"]
    assert "Targeted plan" in cli("show", str(plan_file), "--no-color").out
    assert cli("apply", str(plan_file), "--state", str(farm.state)).code == 0
    assert farm.miners[1].snapshot()["pools"][0]["url"] == POOL_URL
    assert farm.miners[0].snapshot()["pools"][0]["url"] != POOL_URL
    status = cli(*farm.args("status", "--target", "miner-2", "--json"))
    assert [d["name"] for d in json.loads(status.out)["devices"]] == ["miner-2"]
    applied = cli(*farm.args("apply", "--auto-approve", "--exclude", "rack=r1", "--json"))
    assert {d["name"] for d in json.loads(applied.out)["devices"]} == {"miner-1", "miner-3"}
    assert cli(*farm.args("plan", "--detailed-exitcode")).code == 0


def test_a_plan_with_a_failed_device_is_not_saved(farm: Farm, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    farm.miners[2].set_fault(offline=True)
    plan_file = tmp_path / "broken.plan"
    result = cli(*farm.args("plan", "--out", str(plan_file), "--timeout", "3"))
    assert result.code == 1 and not plan_file.exists()
    assert "not saved" in result.err and "--exclude" in result.err
    assert cli(*farm.args("plan", "--out", str(plan_file), "--exclude", "miner-3")).code == 0
    assert ADMIN_PASSWORD not in plan_file.read_text()
