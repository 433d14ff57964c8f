"""Plan model and its two views: human text and versioned JSON."""

from __future__ import annotations

import json

from fleetform.plan import Action, Change, DeviceFailure, DevicePlan, Plan
from fleetform.views.human import render_plan
from fleetform.views.jsonview import dumps


def make_plan() -> Plan:
    changing = DevicePlan(
        name="miner-01", provider="antminer", address="127.0.1.1",
        identity={"mac": "AA:BB:CC:00:00:01", "model": "Antminer S9 Hydro"},
        changes=(
            Change("pools[0].url", Action.UPDATE, "old:1", "stratum+tcp://new:3333"),
            Change("pools[0].password", Action.UPDATE, "top-secret", "new-secret", sensitive=True),
            Change("pools[2].url", Action.DELETE, "gone:1", None),
            Change("network.hostname", Action.CREATE, None, "miner-01", disruptive=True),
        ),
    )
    same = DevicePlan(name="miner-02", provider="antminer", address="127.0.1.2")
    failed = DevicePlan(
        name="miner-03", provider="antminer", address="127.0.1.3",
        failure=DeviceFailure("DeviceUnreachable", "connection refused", "read"),
    )
    return Plan(
        devices=(changing, same, failed), manifest="farm.yaml", state_serial=4,
        state_lineage="lin", created_at="2026-11-23T00:00:00Z",
    )


def test_human_plan_marks_actions_and_hides_secrets() -> None:
    text = render_plan(make_plan()).plain
    assert "~ pools[0].url" in text and '"old:1" -> "stratum+tcp://new:3333"' in text
    assert "~ pools[0].password" in text and "(sensitive)" in text
    assert "- pools[2].url" in text and "+ network.hostname" in text
    assert "disruptive" in text
    assert "! miner-03" in text and "failed at read: connection refused" in text
    assert "1 device(s) unchanged" in text
    assert "Plan: 1 to add, 2 to change, 1 to remove, on 1 of 3 device(s)" in text
    assert "1 device(s) failed to plan" in text
    assert "top-secret" not in text and "new-secret" not in text


def test_json_plan_is_versioned_and_secret_free() -> None:
    document = json.loads(dumps(make_plan().to_json()))
    assert document["type"] == "plan" and document["format_version"] == "1.0"
    assert document["state"] == {"serial": 4, "lineage": "lin"}
    first = document["devices"][0]
    secret = next(c for c in first["changes"] if c["sensitive"])
    assert secret["before"] is None and secret["after"] is None
    assert document["devices"][2]["failure"] == {
        "kind": "DeviceUnreachable", "step": "read", "message": "connection refused"
    }
    assert document["summary"]["devices_failed"] == 1
    assert "secret" not in json.dumps(document).replace("sensitive", "")


def test_no_changes_plan_says_so() -> None:
    plan = Plan(
        devices=(DevicePlan(name="m", provider="antminer", address="x"),), manifest="m.yaml",
        state_serial=0, state_lineage="l", created_at="t",
    )
    assert render_plan(plan).plain.startswith("No changes.")
    assert not plan.has_changes
