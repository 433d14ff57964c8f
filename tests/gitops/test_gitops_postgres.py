"""Shared state in a real PostgreSQL: round trip, locking, killed holders, state commands.

Needs a server: set FLEETFORM_TEST_PG_DSN (``.ci/run`` starts a throwaway
cluster and exports it). Without it these tests are skipped, except under CI
(``CI=true``), where a missing server is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Farm, make_farm
from gitops_helpers import PG_DSN_ENV, assert_no_secret, subprocess_env

from fleetform.errors import LockError, StateError
from fleetform.provider import DeviceRecord
from fleetform.state import State
from fleetform.state.pgconn import safe_dsn
from fleetform.state.postgres import PostgresStateBackend


@pytest.fixture
def pg_dsn() -> str:
    """The test database DSN, or skip (fail under CI) when there is no server."""
    dsn = os.environ.get(PG_DSN_ENV)
    if not dsn:
        reason = (f"{PG_DSN_ENV} is not set: no PostgreSQL server for the shared-state tests "
                  "(.ci/run starts one)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return dsn


@pytest.fixture
def workspace(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh workspace name, selected through the environment for every CLI call."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("FLEETFORM_STATE_BACKEND", "postgres")
    monkeypatch.setenv("FLEETFORM_PG_DSN", pg_dsn)
    monkeypatch.setenv("FLEETFORM_WORKSPACE", name)
    yield name


def _args(farm: Farm, command: str, *more: str) -> list[str]:
    """CLI arguments without --state (state comes from the environment)."""
    return [command, str(farm.manifest), "--var-file", str(farm.var_file), "--no-color", *more]


def _record(name: str) -> DeviceRecord:
    return DeviceRecord(name=name, provider="antminer", address="127.0.0.1",
                        identity={"mac": "AA"}, tracked={"network": {"mode": "dhcp"}})


def test_round_trip_and_lost_update_refusal(pg_dsn: str) -> None:
    backend = PostgresStateBackend(pg_dsn, f"rt-{uuid.uuid4().hex[:8]}")
    try:
        empty = backend.read()
        assert empty.serial == 0 and not empty.devices
        first = backend.write(empty.with_device(_record("a")))
        assert first.serial == 1
        again = backend.read()
        assert again == first and again.record("a") == _record("a")
        second = backend.write(again.with_device(_record("b")))
        assert second.serial == 2 and set(backend.read().devices) == {"a", "b"}
        with pytest.raises(StateError, match="written by another run since this one read it"):
            backend.write(first.with_device(_record("c")))  # read at serial 1: stale
        with pytest.raises(StateError, match="different state"):
            backend.write(State(serial=2, lineage="other", salt="s"))
        assert set(backend.read().devices) == {"a", "b"}  # nothing lost
    finally:
        backend.close()


def test_lock_names_holder_and_terminated_holder_cannot_write(  # type: ignore[no-untyped-def]
    pg_dsn: str, workspace: str, cli
) -> None:
    holder, other = (PostgresStateBackend(pg_dsn, workspace),
                     PostgresStateBackend(pg_dsn, workspace))
    try:
        with holder.lock("apply", 0):
            pattern = rf"locked by apply \(pid {os.getpid()} on host"
            with pytest.raises(LockError, match=pattern), other.lock("apply", 0.3):
                pass
            asked = cli("state", "unlock")
            assert asked.code == 1 and "locked by apply" in asked.out
            assert "pass --force" in asked.err
            forced = cli("state", "unlock", "--force")
            assert forced.code == 0 and "Lock released" in forced.out
            assert cli("state", "unlock").out.strip().endswith("is not locked.")
            with pytest.raises(LockError, match="lost the state lock"):
                holder.write(holder.read().with_device(_record("x")))
            with other.lock("apply", 2):  # free again
                pass
        assert not holder.read().devices
    finally:
        holder.close()
        other.close()


def test_apply_plan_and_state_commands_on_postgres(farm: Farm, cli, workspace: str,  # type: ignore[no-untyped-def]
                                                   pg_dsn: str) -> None:
    applied = cli(*_args(farm, "apply", "--auto-approve"))
    assert applied.code == 0, applied.all
    assert f"workspace {workspace}" in cli("show", "--no-color").out
    assert cli(*_args(farm, "plan", "--detailed-exitcode")).code == 0
    assert not farm.state.exists()  # nothing went to the local file
    listed = cli("state", "list")
    assert listed.out.splitlines()[0].startswith("miner-1\tantminer\t")
    workspaces = cli("state", "list", "--workspaces").out
    assert any(line.startswith(f"{workspace}\tserial ") and "3 device(s)" in line
               and "unlocked" in line for line in workspaces.splitlines())
    shown = json.loads(cli("state", "show", "miner-1", "--json").out)
    assert shown["devices"][0]["tracked"]["admin_password"] == "(sensitive)"
    assert cli("state", "rm", "miner-3").code == 0
    assert "miner-3" not in cli("state", "list").out
    assert_no_secret(cli("state", "show").out)
    # The manifest can carry the backend itself, the DSN through an env reference.
    os.environ.pop("FLEETFORM_STATE_BACKEND")
    farm.manifest.write_text("state: {backend: postgres, dsn: '${env:FLEETFORM_PG_DSN}', "
                             f"workspace: {workspace}}}\n" + farm.manifest.read_text())
    assert cli(*_args(farm, "apply", "--auto-approve")).code == 0  # records miner-3 again
    backend = PostgresStateBackend(pg_dsn, workspace)
    try:
        assert set(backend.read().devices) == {"miner-1", "miner-2", "miner-3"}
    finally:
        backend.close()


def test_migrate_local_state_to_postgres(farm: Farm, cli, pg_dsn: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    local = json.loads(farm.state.read_text())
    target = f"mig-{uuid.uuid4().hex[:8]}"
    migrated = cli("state", "migrate", "--state", str(farm.state), "--to",
                   _as_url(pg_dsn), "--workspace", target)
    assert migrated.code == 0, migrated.all
    assert "Migrated 3 device record(s)" in migrated.out and "left unchanged" in migrated.out
    backend = PostgresStateBackend(pg_dsn, target)
    try:
        state = backend.read()
        assert (state.serial, state.lineage) == (local["serial"], local["lineage"])
        assert set(state.devices) == {"miner-1", "miner-2", "miner-3"}
    finally:
        backend.close()
    twice = cli("state", "migrate", "--state", str(farm.state), "--to", _as_url(pg_dsn),
                "--workspace", target)
    assert twice.code == 1 and "already holds state" in twice.err
    monkeypatch.setenv("FLEETFORM_STATE_BACKEND", "postgres")
    monkeypatch.setenv("FLEETFORM_PG_DSN", pg_dsn)
    monkeypatch.setenv("FLEETFORM_WORKSPACE", target)
    plan = cli(*_args(farm, "plan", "--detailed-exitcode"))
    assert plan.code == 0, plan.all


def _as_url(dsn: str) -> str:
    """A postgres:// URL for ``state migrate --to`` from a key=value or URL DSN."""
    if dsn.startswith(("postgres://", "postgresql://")):
        return dsn
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(dsn)
    query = "&".join(f"{k}={v}" for k, v in parts.items() if k not in ("dbname",))
    return f"postgresql:///{parts.get('dbname', '')}?{query}"


def test_dsn_password_is_never_shown() -> None:
    assert "hunter22" not in safe_dsn("postgresql://fleet:hunter22@db.example:5432/ff")
    assert "hunter22" not in safe_dsn("host=db password=hunter22 dbname=ff")
    assert "host=db" in safe_dsn("host=db password=hunter22 dbname=ff")


def _start_apply(farm: Farm, env: dict[str, str], *more: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleetform.cli.main", *_args(farm, "apply", "--auto-approve",
                                                              *more)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError("".join(seen))


def test_two_applies_at_once_one_waits_one_fails_nothing_lost(  # type: ignore[no-untyped-def]
    tmp_path: Path, secrets_env: None, workspace: str, pg_dsn: str, cli
) -> None:
    farm = make_farm(tmp_path, 4, restart_delay=0.8)
    env = subprocess_env()
    try:
        first = _start_apply(farm, env, "--parallelism", "2")
        _wait_for(first, "applying")  # it holds the lock now
        refused = subprocess.run(
            [sys.executable, "-m", "fleetform.cli.main", *_args(farm, "apply", "--auto-approve")],
            env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1
        assert "is locked by apply (pid" in refused.stderr, refused.stderr
        waiting = _start_apply(farm, env, "--lock-timeout", "60")
        rest_first, _ = first.communicate(timeout=90)
        rest_waiting, _ = waiting.communicate(timeout=90)
        assert first.returncode == 0, rest_first
        assert waiting.returncode == 0, rest_waiting
        assert "4 unchanged" in rest_waiting  # planned after the first one finished
        backend = PostgresStateBackend(pg_dsn, workspace)
        try:
            state = backend.read()
            assert set(state.devices) == {f"miner-{i}" for i in range(1, 5)}
            assert all("admin_password" in r.tracked for r in state.devices.values())
        finally:
            backend.close()
        assert cli(*_args(farm, "plan", "--detailed-exitcode")).code == 0
    finally:
        farm.simulator.stop()


def test_killed_apply_leaves_no_lock(tmp_path: Path, secrets_env: None, workspace: str,  # type: ignore[no-untyped-def]
                                     pg_dsn: str, cli) -> None:
    farm = make_farm(tmp_path, 4, restart_delay=1.0)
    try:
        process = _start_apply(farm, subprocess_env(), "--parallelism", "1")
        _wait_for(process, "applying")
        backend = PostgresStateBackend(pg_dsn, workspace)
        try:
            holder = backend.holder()
            assert holder is not None and holder.pid == process.pid
            assert holder.operation == "apply"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            assert process.stdout is not None
            process.stdout.close()
            deadline = time.monotonic() + 20
            while backend.holder() is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert backend.holder() is None  # the server ended the dead session's lock
            with backend.lock("check", 0):
                pass
            assert len(backend.read().devices) < 4
        finally:
            backend.close()
        assert "is not locked" in cli("state", "unlock").out
        rerun = cli(*_args(farm, "apply", "--auto-approve"))
        assert rerun.code == 0, rerun.all
        assert cli(*_args(farm, "plan", "--detailed-exitcode")).code == 0
    finally:
        farm.simulator.stop()
