"""fleetform drift: exit codes, ignore rules, JSON/JUnit/Markdown reports, read-only."""

from __future__ import annotations

import ast
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Farm
from gitops_helpers import ROGUE, assert_no_secret, drift_pool, load_schema, validate

from fleetform.device import Deadline, DeviceSpec
from fleetform.drift import ReadOnlyProvider, ReadOnlyViolation
from fleetform.manifest.gitops import path_covers
from fleetform.provider import ApplyRequest, ReadResponse
from fleetform.providers.antminer.models import AntminerConnection, AntminerSettings
from fleetform.providers.antminer.provider import AntminerProvider


def _converge(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(*farm.args("apply", "--auto-approve")).code == 0


def _add_rules(farm: Farm, top: str = "", device: str = "") -> None:
    text = farm.manifest.read_text()
    if device:
        text = text.replace('    labels: {rack: "r{{ i % 2 }}"}\n',
                            '    labels: {rack: "r{{ i % 2 }}"}\n' + device)
    farm.manifest.write_text(top + text)


def test_drift_exits_2_then_0_once_an_ignore_rule_accepts_it(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    _converge(farm, cli)
    assert cli(*farm.args("drift")).code == 0
    drift_pool(farm.miners[1])
    snapshot = [m.snapshot()["pools"] for m in farm.miners]
    result = cli(*farm.args("drift"))
    assert result.code == 2, result.all
    assert "drifted  miner-2" in result.out and ROGUE in result.out
    assert "Drift detected: 1 of 3 device(s) drifted" in result.out
    assert [m.snapshot()["pools"] for m in farm.miners] == snapshot  # nothing was written

    _add_rules(farm, top="drift:\n  ignore:\n    - devices: [rack=r1]\n"
               "      paths: ['pools[*].url']\n      reason: pool migration in progress\n")
    accepted = cli(*farm.args("drift"))
    assert accepted.code == 0, accepted.all
    assert "ignored: pools[0].url" in accepted.out and "pool migration in progress" in accepted.out
    # plan still shows (and apply would correct) the difference: rules only quiet drift.
    assert cli(*farm.args("plan", "--detailed-exitcode")).code == 2


def test_per_device_rule_and_reports(farm: Farm, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _converge(farm, cli)
    drift_pool(farm.miners[0])
    farm.miners[2].set_network(hostname="hand-edited")
    _add_rules(farm, device="{% if i == 2 %}\n    drift: {ignore: [network.hostname]}\n"
                            "{% endif %}\n")
    junit = tmp_path / "drift.xml"
    result = cli(*farm.args("drift", "--format", "junit", "--output", str(junit)))
    assert result.code == 2 and f"Wrote the junit report to {junit}" in result.out
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 - our own report
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"miner-1", "miner-2", "miner-3"}
    failure = cases["miner-1"].find("failure")
    assert failure is not None and ROGUE in (failure.text or "")
    assert cases["miner-2"].find("failure") is None
    ignored = cases["miner-3"].find("system-out")
    assert ignored is not None and "miner-3.drift (network.hostname)" in (ignored.text or "")

    markdown = cli(*farm.args("drift", "--format", "markdown"))
    assert markdown.code == 2
    assert markdown.out.startswith("### :warning: fleetform drift: Drift detected")
    assert "| `miner-1` | antminer | drifted |" in markdown.out
    assert "Ignored by rules (1)" in markdown.out

    as_json = cli(*farm.args("drift", "--format", "json"))
    doc = json.loads(as_json.out)
    validate(doc, load_schema("drift.schema.json"))
    assert doc["exit_code"] == 2 and doc["summary"]["ignored"] == 1
    by_name = {d["name"]: d for d in doc["devices"]}
    assert by_name["miner-3"]["status"] == "in_sync"
    assert by_name["miner-3"]["ignored"][0]["ignored_by"]["rule"] == "miner-3.drift"
    assert_no_secret(result.all + junit.read_text() + markdown.all + as_json.all)

    targeted = cli(*farm.args("drift", "--target", "miner-2"))
    assert targeted.code == 0 and "Targeted drift check (only miner-2)" in targeted.out


def test_secret_drift_is_reported_without_the_secret(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    _converge(farm, cli)
    pools = farm.miners[0].snapshot()["pools"]
    farm.miners[0].set_pools([{**pools[0], "pass": "hand-set-secret"}, *pools[1:]])
    result = cli(*farm.args("drift", "--format", "markdown"))
    assert result.code == 2 and "pools[0].password: (sensitive) differs" in result.out
    assert "hand-set-secret" not in result.all
    assert_no_secret(result.all)


def test_unreachable_device_is_an_error_exit_1(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    farm.miners[0].set_fault(offline=True)
    result = cli(*farm.args("drift", "--timeout", "3", "--format", "json"))
    assert result.code == 1
    assert json.loads(result.out)["devices"][0]["status"] == "error"


def test_drift_cannot_write_to_a_device() -> None:
    guarded = ReadOnlyProvider(AntminerProvider())
    device = DeviceSpec("m", "antminer", AntminerConnection(host="127.0.0.1"),
                        AntminerSettings(network={"mode": "dhcp", "hostname": "x"}))
    request = ApplyRequest(device=device, setting="network", changes=(),
                           read=ReadResponse("127.0.0.1", {}, {}), record=None,
                           deadline=Deadline(1))
    with pytest.raises(ReadOnlyViolation, match="refusing to apply network to m"):
        guarded.apply(request)
    import fleetform.cli.drift as command
    import fleetform.drift as engine

    for module in (command, engine):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any("applier" in (name or "") for name in imported), imported


@pytest.mark.parametrize(("pattern", "path", "covered"), [
    ("network.hostname", "network.hostname", True),
    ("network", "network.dns[1]", True),
    ("pools[*].password", "pools[2].password", True),
    ("pools[1].password", "pools[2].password", False),
    ("pools[*]", "pools_backup[0].url", False),
    ("pool*", "pools[0].url", True),
    ("network.hostname", "network", False),
])
def test_ignore_path_patterns(pattern: str, path: str, covered: bool) -> None:
    assert path_covers(pattern, path) is covered


@pytest.mark.parametrize(("block", "message"), [
    ("drift:\n  ignore:\n    - paths: ['pools[x]']\n", "bad path 'pools[x]'"),
    ("drift:\n  ignore:\n    - devices: 's9-*'\n", "'paths' is required in a drift rule"),
    ("drift:\n  ignore:\n    - {paths: [a], devices: '=x'}\n", "a label selector is key=value"),
    ("drift:\n  alarm: yes\n", "unknown key 'alarm' in drift; allowed: ignore"),
    ("state: {backend: s3}\n", "state.backend must be one of: local, postgres"),
    ("state: {backend: postgres, dsn: 'postgresql://u:hunter22@db/x'}\n",
     "must not contain a password"),
])
def test_bad_gitops_blocks_are_located_errors(tmp_path: Path, cli, block: str,
                                              message: str) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "m.yaml"
    manifest.write_text(block + "devices: []\n")
    result = cli("validate", str(manifest))
    assert result.code == 1 and message in result.err, result.err
    assert "hunter22" not in result.all
