"""fleetform import: live devices → manifest (secrets as references) → a clean plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Farm
from gitops_helpers import assert_no_secret

from fleetform.providers.antminer.simulator import DEFAULT_POOLS


def test_import_from_a_manifest_then_plan_shows_no_changes(  # type: ignore[no-untyped-def]
    farm: Farm, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    farm.miners[1].set_network(hostname="rig-b")
    pools = [dict(p) for p in DEFAULT_POOLS]
    pools[0]["pass"] = "hand-made-pw"
    farm.miners[2].set_pools(pools)
    imported = farm.workdir / "imported.yaml"
    result = cli("import", str(farm.manifest), "--var-file", str(farm.var_file),
                 "-o", str(imported))
    assert result.code == 0, result.all
    text = imported.read_text()
    assert "hand-made-pw" not in text and "123" not in re.sub(r"\d+\.\d+\.\d+\.\d+", "", text)
    assert_no_secret(result.all + text)
    names = re.findall(r"^#   (\w+)", text, flags=re.M)
    assert names == ["ANTMINER_POOLS_PASSWORD", "ANTMINER_POOLS_PASSWORD_2"], text
    assert "password: ${env:ANTMINER_POOLS_PASSWORD}" in text
    assert "name: miner-2" in text and "hostname: rig-b" in text
    assert "admin_password is write-only" in text
    # Deterministic: the same fleet imports to the same text.
    again = farm.workdir / "again.yaml"
    assert cli("import", str(farm.manifest), "--var-file", str(farm.var_file),
               "-o", str(again)).code == 0
    assert again.read_text() == text

    monkeypatch.setenv("ANTMINER_POOLS_PASSWORD", "123")
    monkeypatch.setenv("ANTMINER_POOLS_PASSWORD_2", "hand-made-pw")
    state = ["--state", str(farm.workdir / "imported-state.json"), "--no-color"]
    plan = cli("plan", str(imported), *state, "--detailed-exitcode")
    assert plan.code == 0, plan.all
    assert "No changes. 3 device(s) match the manifest." in plan.out
    assert cli("validate", str(imported)).code == 0


def test_import_by_address(farm: Farm, cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    miner = farm.miners[0]
    monkeypatch.setenv("MINER_LOGIN", "root")
    out = cli("import", "--provider", "antminer", "--address", f"{miner.host}:{miner.http_port}",
              "--connection", f"rpc_port={miner.rpc_port}",
              "--connection", "credentials.password=${env:MINER_LOGIN}",
              "--name", "rig-1", "--label", "site=lab")
    assert out.code == 0, out.all
    assert "name: rig-1" in out.out and "site: lab" in out.out
    assert f"port: {miner.http_port}" in out.out and "${env:MINER_LOGIN}" in out.out
    manifest = tmp_path / "one.yaml"
    manifest.write_text(out.out)
    monkeypatch.setenv("ANTMINER_POOLS_PASSWORD", "123")
    plan = cli("plan", str(manifest), "--state", str(tmp_path / "s.json"), "--detailed-exitcode")
    assert plan.code == 0, plan.all

    literal = cli("import", "--provider", "antminer", "--address",
                  f"{miner.host}:{miner.http_port}", "--connection", "credentials.password=root",
                  "--connection", f"rpc_port={miner.rpc_port}")
    assert literal.code == 0
    assert "password: ${env:ANTMINER_CREDENTIALS_PASSWORD}" in literal.out

    refused = cli("import", "--address", "127.0.0.1")
    assert refused.code == 1 and "--provider" in refused.err


def test_import_from_a_manifest_after_a_password_rotation(farm: Farm, cli) -> None:  # type: ignore[no-untyped-def]
    """Miners that only accept admin_password: import logs in with it, keeps a reference."""
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    imported = farm.workdir / "rotated.yaml"
    result = cli("import", str(farm.manifest), "--var-file", str(farm.var_file),
                 "-o", str(imported))
    assert result.code == 0, result.all
    text = imported.read_text()
    assert "admin_password: ${env:" in text
    assert_no_secret(result.all + text)
