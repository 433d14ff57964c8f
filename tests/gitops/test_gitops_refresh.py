"""apply --refresh-only: accept what devices report for write-only settings, write nothing.

The Antminer has no write-only setting, so these tests use it with ``network``
declared write-only (``SettingSpec.readable=False``): the engine then compares
network with what state tracked, exactly as for a camera's write-only setting,
while the simulated miner can still report it for the refresh.
"""

from __future__ import annotations

import json

import pytest
from conftest import Farm
from gitops_helpers import assert_no_secret

from fleetform.provider import SettingSpec
from fleetform.providers.antminer.provider import AntminerProvider


class WriteOnlyNetworkMiner(AntminerProvider):
    """An Antminer whose network setting the engine treats as write-only."""

    settings_specs = {
        **AntminerProvider.settings_specs,
        "network": SettingSpec(name="network", readable=False, disruptive=True, order=90),
    }


@pytest.fixture
def write_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every CLI command use the write-only-network variant."""
    monkeypatch.setattr("fleetform.cli.context.builtin_providers",
                        lambda: {"antminer": WriteOnlyNetworkMiner})


def test_refresh_only_accepts_hand_changes_into_state(farm: Farm, cli, write_only) -> None:  # type: ignore[no-untyped-def]
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    tracked = json.loads(farm.state.read_text())["devices"]["miner-1"]["tracked"]
    assert tracked["network"] == {"mode": "dhcp", "hostname": "miner-1"}
    farm.miners[0].set_network(hostname="by-hand")
    # Write-only: plan compares with what state tracked and cannot see the change.
    assert cli(*farm.args("plan", "--detailed-exitcode")).code == 0

    refused = cli(*farm.args("apply", "--refresh-only"))
    assert refused.code == 1 and "--auto-approve" in refused.err
    assert "miner-1 network: " in refused.out and '"hostname": "by-hand"' in refused.out
    assert "nothing will be written to devices" in refused.out
    serial = json.loads(farm.state.read_text())["serial"]

    accepted = cli(*farm.args("apply", "--refresh-only", "--auto-approve"))
    assert accepted.code == 0, accepted.all
    assert "Refresh complete" in accepted.out
    stored = json.loads(farm.state.read_text())
    assert stored["serial"] == serial + 1
    assert stored["devices"]["miner-1"]["tracked"]["network"]["hostname"] == "by-hand"
    assert stored["devices"]["miner-2"]["tracked"]["network"]["hostname"] == "miner-2"
    assert farm.miners[0].snapshot()["network"]["hostname"] == "by-hand"  # device untouched
    assert_no_secret(refused.all + accepted.all + farm.state.read_text())

    plan = cli(*farm.args("plan", "--detailed-exitcode"))
    assert plan.code == 2 and '"by-hand" -> "miner-1"' in plan.out
    again = cli(*farm.args("apply", "--refresh-only", "--json", "--auto-approve"))
    doc = json.loads(again.out)
    assert again.code == 0 and doc["type"] == "refresh" and doc["changes"] == []
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    assert farm.miners[0].snapshot()["network"]["hostname"] == "miner-1"
