"""Antminer under injected faults, through the real engine, against the simulator.

Each test answers: did the miner complete (or fail naming its step)? does the
state file record only what happened on the miner? does a second apply, the
fault cleared, converge? are retries bounded (counted in the miner's request
log, never by the clock)?
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import next_subnet
from faults_helpers import Engine, failed_at, outcome, plan_failed_at

from fleetform.providers.antminer.provider import AntminerProvider
from fleetform.providers.antminer.recovery import POOL_WRITE_ATTEMPTS, READS
from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator, SimulatedMiner

ADMIN = "Fault-Admin-31"
POOLS = [{"url": "stratum+tcp://pool.example.com:3333", "worker": "farm.f1", "password": "x"},
         {"url": "stratum+tcp://backup.example.com:443", "worker": "farm.f1", "password": "x"}]
POST_CONF = "POST /cgi-bin/set_miner_conf.cgi"
GET_CONF = "GET /cgi-bin/get_miner_conf.cgi"


@pytest.fixture
def miner(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedMiner]:
    monkeypatch.setenv("FF_FAULT_ADMIN", ADMIN)
    with MinerSimulator() as simulator:
        yield simulator.add(MinerConfig(name="m1", host=f"{next_subnet()}.1", http_port=0,
                                        rpc_port=0, restart_delay=0.2, network_delay=0.05,
                                        reboot_delay=0.5))


def engine_for(tmp_path: Path, miner: SimulatedMiner, *, timeout: float = 30.0,
               request_timeout: float = 1.0, restart_timeout: float = 5.0) -> Engine:
    device = {"name": miner.name, "provider": "antminer",
              "connection": {"host": miner.host, "port": miner.http_port,
                             "rpc_port": miner.rpc_port, "timeout": request_timeout,
                             "restart_timeout": restart_timeout},
              "settings": {"pools": POOLS, "admin_password": "${env:FF_FAULT_ADMIN}",
                           "network": {"mode": "dhcp", "hostname": "m1-faults"}}}
    return Engine(tmp_path, "antminer", AntminerProvider, [device], timeout=timeout)


@pytest.fixture
def engine(tmp_path: Path, miner: SimulatedMiner) -> Iterator[Engine]:
    rig = engine_for(tmp_path, miner)
    yield rig
    rig.close()


def pools_on(miner: SimulatedMiner) -> list[dict[str, Any]]:
    return [p for p in miner.snapshot()["pools"] if p["url"]]


def pools_applied(miner: SimulatedMiner) -> bool:
    return [(p["url"], p["user"]) for p in pools_on(miner)] == [
        (p["url"], p["worker"]) for p in POOLS]


def assert_state_matches(engine: Engine, miner: SimulatedMiner) -> None:
    """The state file records the password rotation iff the miner has the new password."""
    snapshot = miner.snapshot()
    record = engine.record(miner.name)
    rotated = snapshot["password"] == ADMIN
    if record is None:
        assert not rotated, "the miner rotated its password but state has no record"
        return
    assert ("admin_password" in record["tracked"]) == rotated, (record, rotated)
    assert ADMIN not in str(engine.state_file())
    assert record["identity"]["mac"] == snapshot["mac"]
    assert record["address"] == snapshot["host"]


def count(miner: SimulatedMiner, request: str) -> int:
    return miner.http_requests().count(request)


def wait_back(miner: SimulatedMiner) -> None:
    """Until a rebooting miner listens again (bounded; the test's pace, not an assertion)."""
    for _ in range(200):
        snapshot = miner.snapshot()
        if snapshot["http_listening"] and snapshot["rpc_listening"]:
            return
        time.sleep(0.05)
    raise AssertionError("the simulated miner did not come back")


def test_dropped_and_empty_reads_are_retried(engine: Engine, miner: SimulatedMiner) -> None:
    miner.set_fault(drop_next=2, target="get_miner_conf")
    planned = engine.plan()
    assert not planned.plan.failed
    # a dropped GET, the transport's one reconnect (dropped too), then the retry that works
    assert count(miner, GET_CONF) == 3
    miner.set_fault(empty_next=1, target="get_network_info")
    assert not engine.plan().plan.failed
    engine.converge()
    assert pools_applied(miner)
    assert_state_matches(engine, miner)


def test_dropped_reads_give_up_after_the_bounded_attempts(engine: Engine,
                                                          miner: SimulatedMiner) -> None:
    miner.set_fault(drop_next=100, target="get_miner_conf")
    failure = plan_failed_at(engine.plan(), "m1", "read")
    assert failure.kind == "DeviceUnreachable"
    assert f"gave up after {READS.attempts} attempts" in failure.message
    # READS.attempts tries, each a GET plus the transport's one reconnect after a reset
    assert count(miner, GET_CONF) == READS.attempts * 2
    assert engine.record("m1") is None
    miner.set_fault(drop_next=0)
    engine.converge()
    assert_state_matches(engine, miner)


def test_replies_slower_than_the_timeout_fail_the_read_after_bounded_tries(
        tmp_path: Path, miner: SimulatedMiner) -> None:
    rig = engine_for(tmp_path, miner, request_timeout=0.3)
    try:
        miner.set_fault(http_latency=0.6)
        failure = plan_failed_at(rig.plan(), "m1", "read")
        assert failure.kind == "DeviceTimeout"
        assert count(miner, "GET /cgi-bin/get_system_info.cgi") == READS.attempts
        miner.set_fault(http_latency=0.05, http_jitter=0.05)  # slow but in time: completes
        rig.converge()
        assert pools_applied(miner)
        assert_state_matches(rig, miner)
    finally:
        rig.close()


def test_auth_failures_fail_the_read_and_are_not_retried(engine: Engine,
                                                         miner: SimulatedMiner) -> None:
    miner.set_fault(auth_fail_next=1000)
    failure = plan_failed_at(engine.plan(), "m1", "read")
    assert failure.kind == "AuthError" and "wrong password" in failure.message
    assert ADMIN not in failure.message
    # one challenge, then each of the two candidate passwords signed once with the
    # nonce the miner just sent (the session keeps it): no retries
    assert count(miner, "GET /cgi-bin/get_system_info.cgi") == 3
    assert engine.record("m1") is None
    miner.set_fault(auth_fail_next=0)
    engine.converge()
    assert_state_matches(engine, miner)


def test_reply_after_timeout_is_found_by_rereading_not_reposting(
        tmp_path: Path, miner: SimulatedMiner) -> None:
    # The CGI answers 2 s after the change took effect; fleetform waits restart_timeout (1 s).
    rig = engine_for(tmp_path, miner, restart_timeout=1.0)
    try:
        planned = rig.plan()
        miner.set_fault(late_reply=2.0)
        report = rig.apply(planned)
        assert outcome(report, "m1").status == "applied", outcome(report, "m1").failure
        assert count(miner, POST_CONF) == 1  # re-read found the pools: no second post
        assert miner.snapshot()["restarts"] == 1
        assert pools_applied(miner)
        assert_state_matches(rig, miner)
        miner.set_fault(late_reply=0.0)
        rig.restart_provider()
        assert not rig.plan().plan.has_changes
    finally:
        rig.close()


def test_dropped_pool_post_is_reread_then_posted_again(engine: Engine,
                                                       miner: SimulatedMiner) -> None:
    planned = engine.plan()
    miner.set_fault(drop_next=1, target="set_miner_conf")
    report = engine.apply(planned)
    assert outcome(report, "m1").status == "applied", outcome(report, "m1").failure
    assert count(miner, POST_CONF) == 2  # lost, re-read: not there, posted once more
    assert miner.snapshot()["restarts"] == 1  # the dropped post never ran
    assert pools_applied(miner)
    assert_state_matches(engine, miner)


def test_pool_posts_are_bounded_and_later_steps_not_recorded(engine: Engine,
                                                             miner: SimulatedMiner) -> None:
    planned = engine.plan()
    miner.set_fault(drop_next=100, target="set_miner_conf")
    report = engine.apply(planned)
    failure = failed_at(report, "m1", "pools")
    assert "still shows the old pools" in failure.message
    assert count(miner, POST_CONF) == POOL_WRITE_ATTEMPTS
    assert not pools_applied(miner) and miner.snapshot()["password"] != ADMIN
    assert_state_matches(engine, miner)  # nothing after the failed step ran or was recorded
    miner.set_fault(drop_next=0)
    engine.restart_provider()
    engine.converge()
    assert pools_applied(miner)
    assert_state_matches(engine, miner)


def test_reboot_during_pool_write_completes_the_device(engine: Engine,
                                                       miner: SimulatedMiner) -> None:
    planned = engine.plan()
    miner.set_fault(reboot_on_write=1, reboot_delay=0.5)
    report = engine.apply(planned)
    assert outcome(report, "m1").status == "applied", outcome(report, "m1").failure
    assert count(miner, POST_CONF) == 2  # the write lost in the reboot was posted again
    assert pools_applied(miner)
    assert_state_matches(engine, miner)


def test_reboot_longer_than_the_budget_fails_at_pools_then_converges(
        tmp_path: Path, miner: SimulatedMiner) -> None:
    rig = engine_for(tmp_path, miner, timeout=2.0)
    try:
        planned = rig.plan()
        miner.set_fault(reboot_on_write=1, reboot_delay=3.0)
        report = rig.apply(planned)
        failure = failed_at(report, "m1", "pools")
        assert failure.kind in ("DeviceUnreachable", "DeviceTimeout")
        assert count(miner, POST_CONF) == 1  # never re-posted without a successful re-read
        assert not pools_applied(miner)
        assert_state_matches(rig, miner)
        wait_back(miner)
        rig.restart_provider()
        rig.converge()
        assert pools_applied(miner)
        assert_state_matches(rig, miner)
    finally:
        rig.close()


def test_offline_miner_fails_alone_and_converges_when_back(engine: Engine,
                                                           miner: SimulatedMiner) -> None:
    miner.set_fault(offline=True)
    report = engine.apply()
    failed_at(report, "m1", "read")
    assert engine.record("m1") is None
    miner.set_fault(offline=False)
    engine.converge()
    assert_state_matches(engine, miner)


def test_fault_knobs_are_checked_and_take_text(miner: SimulatedMiner) -> None:
    miner.set_fault(http_latency="0.01", drop_next="0", ignore_writes="false")
    faults = miner.snapshot()["faults"]
    assert faults["http_latency"] == 0.01 and faults["ignore_writes"] is False
    with pytest.raises(Exception, match="unknown fault knob 'dorp_next'"):
        miner.set_fault(dorp_next=1)
    with pytest.raises(Exception, match="needs true or false"):
        miner.set_fault(offline="maybe")
