"""Integration tests: the Antminer provider over real sockets against the simulator."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from fleetform.device import Deadline, DeviceSpec
from fleetform.errors import (
    AuthError,
    DeviceRejected,
    DeviceTimeout,
    DeviceUnreachable,
    ProtocolError,
    VerificationError,
)
from fleetform.plan import Action
from fleetform.provider import (
    ApplyRequest,
    ApplyResponse,
    DeviceRecord,
    Opaque,
    PlanRequest,
    Provider,
    ReadRequest,
    ReadResponse,
    StatusRequest,
)
from fleetform.providers.antminer.models import (
    AntminerConnection,
    AntminerCredentials,
    AntminerSettings,
)
from fleetform.providers.antminer.provider import AntminerProvider
from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator, SimulatedMiner

_SUBNETS = itertools.count(1)
ADMIN = "Adm1n-Rotated-9"
POOL_SECRET = "pool-Secret-77"
POOLS = [
    {"url": "stratum+tcp://pool.example.com:3333", "worker": "farm.rig1", "password": POOL_SECRET},
    {"url": "backup.example.com:443", "worker": "farm.rig1"},
]


def subnet() -> str:
    """A fresh 127.a.b prefix (a range apart from tests/conftest.py's 100-199)."""
    return f"127.{200 + os.getpid() % 50}.{next(_SUBNETS) % 250 + 1}"


@pytest.fixture
def miner() -> Iterator[SimulatedMiner]:
    with MinerSimulator() as simulator:
        yield simulator.add(MinerConfig(name="rig1", host=f"{subnet()}.1", http_port=0,
                                        rpc_port=0, restart_delay=0.3, network_delay=0.05))


@pytest.fixture
def provider() -> Iterator[AntminerProvider]:
    instance = AntminerProvider()
    yield instance
    instance.close()


def device(miner: SimulatedMiner, settings: dict[str, Any] | None = None, *,
           bootstrap: str = "root", sensitive: frozenset[str] = frozenset(),
           timeout: float = 3.0, restart_timeout: float = 15) -> DeviceSpec:
    connection = AntminerConnection(
        host=miner.host, port=miner.http_port, rpc_port=miner.rpc_port, timeout=timeout,
        restart_timeout=restart_timeout,
        credentials=AntminerCredentials(password=SecretStr(bootstrap)))
    return DeviceSpec(name=miner.name, provider="antminer", connection=connection,
                      settings=AntminerSettings.model_validate(settings or {}),
                      sensitive_paths=sensitive)


def read(provider: AntminerProvider, spec: DeviceSpec, record: DeviceRecord | None = None,
         seconds: float = 10) -> ReadResponse:
    return provider.read(ReadRequest(device=spec, record=record, deadline=Deadline(seconds)))


def converge(provider: AntminerProvider, spec: DeviceSpec,
             record: DeviceRecord | None = None) -> dict[str, ApplyResponse]:
    """What the engine does: read, plan, apply each changed setting in spec order."""
    live = read(provider, spec, record)
    changes = provider.plan(PlanRequest(device=spec, read=live, record=record)).changes
    done: dict[str, ApplyResponse] = {}
    for setting in sorted({c.setting for c in changes},
                          key=lambda s: provider.settings_specs[s].order):
        mine = tuple(c for c in changes if c.setting == setting)
        done[setting] = provider.apply(ApplyRequest(
            device=spec, setting=setting, changes=mine, read=live, record=record,
            deadline=Deadline(30), progress=lambda _m: None))
    return done


def test_provider_satisfies_the_protocol() -> None:
    assert isinstance(AntminerProvider(), Provider)


def test_read_fresh_miner(miner: SimulatedMiner, provider: AntminerProvider) -> None:
    result = read(provider, device(miner))
    assert result.address == miner.host
    assert result.identity == {"mac": miner.snapshot()["mac"], "model": "Antminer S9 Hydro"}
    assert result.facts["hostname"] == "antMiner"
    assert result.live["pools"][0] == {"url": "solo.antpool.com:3333", "worker": "antminer_1",
                                       "password": "123"}
    assert result.live["network"] == {"mode": "dhcp", "hostname": "antMiner"}
    assert "admin_password" not in result.live
    assert result.facts["api_version"] == "3.1"
    assert result.warnings == ()


def test_plan_shows_pool_changes_with_passwords_redacted(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    spec = device(miner, {"pools": POOLS}, sensitive=frozenset({"pools[0].password"}))
    live = read(provider, spec)
    changes = {c.path: c for c in provider.plan(PlanRequest(spec, live, None)).changes}
    assert changes["pools[0].url"].after == "stratum+tcp://pool.example.com:3333"
    assert changes["pools[0].worker"].before == "antminer_1"
    for path in ("pools[0].password", "pools[1].password"):
        assert changes[path].sensitive and changes[path].before is changes[path].after is None
    assert changes["pools[2].url"].action is Action.DELETE
    assert POOL_SECRET not in repr(list(changes.values()))


def test_apply_pools_is_verified_and_replan_is_clean(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    spec = device(miner, {"pools": POOLS})
    done = converge(provider, spec)
    assert done["pools"].observed[0]["password"] == POOL_SECRET
    snapshot = miner.snapshot()
    assert snapshot["pools"][0]["url"] == "stratum+tcp://pool.example.com:3333"  # '+' kept
    assert snapshot["pools"][1] == {"url": "backup.example.com:443", "user": "farm.rig1",
                                    "pass": "x"}
    assert snapshot["pools"][2] == {"url": "", "user": "", "pass": ""}
    assert snapshot["miner_conf"]["bitmain-voltage"] == "0706"  # re-sent, not blanked
    assert snapshot["miner_conf"]["bitmain-freq"] == "750"
    live = read(provider, spec)
    assert provider.plan(PlanRequest(spec, live, None)).changes == ()


def test_pool_urls_with_and_without_scheme_are_equal(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    miner.set_pools([{"url": "stratum+tcp://POOL.example.com:3333", "user": "w", "pass": "x"}])
    spec = device(miner, {"pools": [{"url": "pool.example.com:3333", "worker": "w"}]})
    assert provider.plan(PlanRequest(spec, read(provider, spec), None)).changes == ()
    miner.set_pools([{"url": "pool.example.com:3333", "user": "w", "pass": "x"}])
    spec = device(miner, {"pools": [{"url": "stratum+tcp://pool.example.com:3333",
                                     "worker": "w"}]})
    assert provider.plan(PlanRequest(spec, read(provider, spec), None)).changes == ()


def test_password_rotation_keeps_connecting_with_bootstrap_unchanged(
    miner: SimulatedMiner, provider: AntminerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    spec = device(miner, {"admin_password": ADMIN})  # bootstrap stays "root" in the manifest
    live = read(provider, spec)
    assert isinstance(live.live["admin_password"], Opaque)
    changes = provider.plan(PlanRequest(spec, live, None)).changes
    assert [(c.path, c.sensitive, c.after) for c in changes] == [("admin_password", True, None)]
    done = converge(provider, spec)
    assert done["admin_password"].tracked is None
    assert miner.snapshot()["password"] == ADMIN
    assert "passwd.cgi?<redacted>" in caplog.text and ADMIN not in caplog.text
    fresh = AntminerProvider()
    try:
        again = read(fresh, spec)
        assert again.live["admin_password"] == SecretStr(ADMIN)
        assert fresh.plan(PlanRequest(spec, again, None)).changes == ()
    finally:
        fresh.close()


def test_wrong_password_is_an_auth_error_without_secrets(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    miner.set_password("someone-else-7")
    with pytest.raises(AuthError) as info:
        read(provider, device(miner, {"admin_password": ADMIN}))
    message = str(info.value)
    assert "wrong password for user root" in message
    assert "admin_password and connection.credentials.password" in message
    assert ADMIN not in message and "root:" not in message
    assert info.value.device == "rig1" and info.value.step == "read"


def test_offline_miner_is_unreachable(miner: SimulatedMiner, provider: AntminerProvider) -> None:
    miner.set_fault(offline=True)
    with pytest.raises(DeviceUnreachable, match="refused"):
        read(provider, device(miner))


def test_hanging_miner_times_out_within_the_deadline(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    miner.set_fault(hang=True)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout):
        read(provider, device(miner, timeout=30), seconds=1.0)
    assert time.monotonic() - started < 2.0
    miner.set_fault(hang=False)


def test_rejected_write_names_the_step(miner: SimulatedMiner, provider: AntminerProvider) -> None:
    miner.set_fault(reject_writes=True)
    with pytest.raises(DeviceRejected) as info:
        converge(provider, device(miner, {"pools": POOLS}))
    assert info.value.step == "pools"
    assert "'error' instead of 'ok'" in str(info.value)
    assert POOL_SECRET not in str(info.value)


def test_write_the_miner_ignores_fails_verification_within_restart_timeout(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    miner.set_fault(ignore_writes=True, restart_delay=0.1)
    started = time.monotonic()
    with pytest.raises(VerificationError, match="RPC pools shows") as info:
        converge(provider, device(miner, {"pools": POOLS}, restart_timeout=1.5))
    assert info.value.step == "pools"
    assert time.monotonic() - started < 5


def test_concurrent_write_gets_miner_busy(miner: SimulatedMiner) -> None:
    miner.set_fault(restart_delay=1.5)
    first_error: list[BaseException] = []

    def first_writer() -> None:
        own = AntminerProvider()
        try:
            converge(own, device(miner, {"pools": POOLS}))
        except BaseException as exc:  # reported below
            first_error.append(exc)
        finally:
            own.close()

    thread = threading.Thread(target=first_writer)
    thread.start()
    time.sleep(0.4)
    second = AntminerProvider()
    try:
        with pytest.raises(DeviceRejected, match="miner busy: another configuration write"):
            converge(second, device(miner, {"pools": POOLS[:1]}))
    finally:
        second.close()
        thread.join(30)
    assert first_error == []


def test_rpc_down_is_a_read_warning_and_an_unhealthy_status(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    miner.set_fault(restart_delay=5.0)
    miner.write_miner_conf(miner.snapshot()["miner_conf_text"], restart=True)
    spec = device(miner, timeout=1.0)
    result = read(provider, spec)
    assert result.live["pools"] and "api_version" not in result.facts
    assert any("RPC API not answering" in w for w in result.warnings)
    status = provider.status(StatusRequest(device=spec, record=None, deadline=Deadline(5)))
    assert not status.healthy
    assert "RPC API does not" in status.warnings[0]


def test_network_change_finds_the_miner_at_its_new_address(
    miner: SimulatedMiner, provider: AntminerProvider
) -> None:
    old = miner.host
    new = f"{subnet()}.77"
    network = {"mode": "static", "ip": new, "netmask": "255.0.0.0", "gateway": "127.0.0.1",
               "dns": ["127.0.0.1"], "hostname": "rig1"}
    spec = device(miner, {"network": network})
    before = read(provider, spec)
    done = converge(provider, spec)
    assert done["network"].address == new == miner.host
    assert str(done["network"].observed["ip"]) == new
    # Next run: the manifest still says the old host; state recorded the new address.
    record = DeviceRecord(name="rig1", provider="antminer", address=new)
    fresh = AntminerProvider()
    try:
        again = read(fresh, spec, record)
        assert again.address == new and old != new
        assert again.identity == before.identity  # a hostname change is not a new machine
        assert again.facts["hostname"] == "rig1"
        assert fresh.plan(PlanRequest(spec, again, record)).changes == ()
    finally:
        fresh.close()


def test_status_warns_about_a_hot_miner(miner: SimulatedMiner, provider: AntminerProvider) -> None:
    spec = device(miner)
    healthy = provider.status(StatusRequest(device=spec, record=None, deadline=Deadline(10)))
    assert healthy.healthy and healthy.metrics["hashrate_5s_ghs"] > 0
    assert len(healthy.metrics["chains"]) == 12 and healthy.metrics["fans"]
    miner.set_pcb_temp(77)
    warm = provider.status(StatusRequest(device=spec, record=None, deadline=Deadline(10)))
    assert warm.healthy
    assert any("approaching the 80 °C shutdown" in w for w in warm.warnings)
    miner.set_pcb_temp(81)
    hot = provider.status(StatusRequest(device=spec, record=None, deadline=Deadline(10)))
    assert not hot.healthy
    assert any("Temperature is too high" in w for w in hot.warnings)


class _BasicAuthHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="Router"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_non_antminer_login_is_a_protocol_error(provider: AntminerProvider) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BasicAuthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = AntminerConnection(host="127.0.0.1", port=server.server_address[1])
        spec = DeviceSpec(name="router", provider="antminer", connection=connection,
                          settings=AntminerSettings())
        with pytest.raises(ProtocolError, match="not an Antminer"):
            read(provider, spec)
    finally:
        server.shutdown()
        server.server_close()
