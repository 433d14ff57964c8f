"""Digest round trips: the challenge belongs to the miner's session, not to a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from conftest import next_subnet

from fleetform.device import Deadline
from fleetform.providers.antminer.codec import MINER_CONF, SYSTEM_INFO
from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator, SimulatedMiner
from fleetform.providers.antminer.transport import MinerHttp


@pytest.fixture
def miner() -> Iterator[SimulatedMiner]:
    with MinerSimulator() as simulator:
        yield simulator.add(MinerConfig(name="m1", host=f"{next_subnet()}.1", http_port=0,
                                        rpc_port=0, password="root"))


def test_a_wrong_candidate_costs_one_request_after_the_first_challenge(
        miner: SimulatedMiner) -> None:
    http = MinerHttp(miner.host, miner.http_port, "root", 5.0)
    try:
        label = http.login([("desired", "not-yet"), ("bootstrap", "root")], Deadline(30))
        assert label == "bootstrap"
        # challenge, wrong password signed with it, right password signed with the new nonce
        assert miner.http_requests() == [f"GET {SYSTEM_INFO}"] * 3
        assert http.requests == 3
    finally:
        http.close()


def test_another_thread_reuses_the_session_challenge(miner: SimulatedMiner) -> None:
    http = MinerHttp(miner.host, miner.http_port, "root", 5.0)
    try:
        assert http.login([("bootstrap", "root")], Deadline(30)) == "bootstrap"
        before = http.requests
        worker = threading.Thread(target=http.get, args=(MINER_CONF, Deadline(30)))
        worker.start()
        worker.join(30)
        assert http.requests == before + 1  # signed up front: no 401 round trip
        assert miner.http_requests()[-1] == f"GET {MINER_CONF}"
    finally:
        http.close()


def test_a_stale_challenge_is_answered_once(miner: SimulatedMiner) -> None:
    http = MinerHttp(miner.host, miner.http_port, "root", 5.0)
    try:
        assert http.login([("bootstrap", "root")], Deadline(30)) == "bootstrap"
        assert http._digest.challenge is not None
        http._digest.challenge["nonce"] = "0" * 32
        http._digest.fresh = False
        assert "pools" in http.get(MINER_CONF, Deadline(30))
        assert miner.http_requests()[-2:] == [f"GET {MINER_CONF}"] * 2
    finally:
        http.close()
