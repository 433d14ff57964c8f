"""The Antminer S9 simulator speaks the stock firmware's protocols, quirks included.

Why: every Antminer integration test and benchmark trusts this simulator, so its
fidelity (Digest auth, positional CGI parsing, RPC NUL/``}{`` quirks, restart and
rebind timing) is pinned here over real loopback sockets.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.auth import HTTPDigestAuth

from fleetform.errors import FleetformError
from fleetform.providers.antminer.sim_http import parse_positional
from fleetform.providers.antminer.simulator import (
    MinerConfig,
    MinerSimulator,
    SimulatedMiner,
    SimulatorError,
)

ROOT = HTTPDigestAuth("root", "root")
_N = itertools.count(1)
_OCTET = 210 + os.getpid() % 40  # conftest's farms use 127.100-199


def new_host() -> str:
    """A loopback address no other test uses."""
    n = next(_N)
    return f"127.{_OCTET}.{n // 250}.{n % 250 + 1}"


@pytest.fixture(scope="module")
def sim() -> Iterator[MinerSimulator]:
    """One simulator (one loop thread) for the whole module, like a real fleet."""
    with MinerSimulator() as simulator:
        yield simulator


@pytest.fixture
def make(sim: MinerSimulator) -> Iterator[Callable[..., SimulatedMiner]]:
    """Factory for fresh miners on fresh addresses; removed after the test."""
    names: list[str] = []

    def build(**overrides: object) -> SimulatedMiner:
        settings: dict[str, object] = {
            "name": f"m{next(_N)}", "host": new_host(), "http_port": 0, "rpc_port": 0,
            "model": "Antminer S9", "restart_delay": 0.3, "network_delay": 0.05,
            "reboot_delay": 0.3,
        }
        settings.update(overrides)
        miner = sim.add(MinerConfig(**settings))  # type: ignore[arg-type]
        names.append(miner.name)
        return miner

    yield build
    for name in names:
        sim.remove(name)


@pytest.fixture
def miner(make: Callable[..., SimulatedMiner]) -> SimulatedMiner:
    """A fresh stock S9."""
    return make()


def rpc(host: str, port: int, payload: bytes | str) -> bytes:
    """One RPC exchange: send, read until the server closes."""
    data = payload.encode() if isinstance(payload, str) else payload
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def rpc_json(m: SimulatedMiner, command: str) -> dict[str, object]:
    """A JSON RPC command, NUL stripped and parsed."""
    reply = rpc(m.host, m.rpc_port, json.dumps({"command": command}))
    assert reply.endswith(b"\x00")
    result: dict[str, object] = json.loads(reply[:-1])
    return result


def refused(host: str, port: int) -> bool:
    """Whether a TCP connect is refused (nothing listening)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` briefly; fail if it never holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def get(m: SimulatedMiner, path: str, auth: HTTPDigestAuth | None = ROOT,
        host: str | None = None, **kw: object) -> requests.Response:
    """GET a CGI with Digest auth."""
    url = f"http://{host or m.host}:{m.http_port}/cgi-bin/{path}"
    return requests.get(url, auth=auth, timeout=kw.pop("timeout", 5))  # type: ignore[arg-type]


def post(m: SimulatedMiner, path: str, body: str, **kw: object) -> requests.Response:
    """POST a raw form body to a CGI with Digest auth."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return requests.post(f"{m.url}/cgi-bin/{path}", data=body, auth=ROOT, headers=headers,
                         timeout=kw.pop("timeout", 10))  # type: ignore[arg-type]


FULL_FORM = ("_ant_pool1url=stratum%2Btcp%3A%2F%2Fpool.example.com%3A3333&_ant_pool1user=farm.m1"
             "&_ant_pool1pw=x&_ant_pool2url=&_ant_pool2user=&_ant_pool2pw=&_ant_pool3url="
             "&_ant_pool3user=&_ant_pool3pw=&_ant_nobeeper=false&_ant_notempoverctrl=false"
             "&_ant_fan_customize_switch=false&_ant_fan_customize_value=&_ant_freq=650"
             "&_ant_voltage=0706")


# -- HTTP and Digest ------------------------------------------------------------------------

def test_unauthenticated_request_gets_digest_challenge(miner: SimulatedMiner) -> None:
    r = get(miner, "get_system_info.cgi", auth=None)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith('Digest realm="antMiner Configuration", nonce="')
    assert 'qop="auth"' in challenge
    assert r.headers["Server"].startswith("lighttpd")
    assert "401 - Unauthorized" in r.text
    assert get(miner, "no_such.cgi", auth=None).status_code == 401  # auth on every path


def test_digest_right_and_wrong_password(miner: SimulatedMiner) -> None:
    assert get(miner, "get_system_info.cgi").status_code == 200
    for user, password in (("root", "nope"), ("admin", "root")):
        r = get(miner, "get_system_info.cgi", auth=HTTPDigestAuth(user, password))
        assert r.status_code == 401
    assert get(miner, "no_such.cgi").status_code == 404


def test_system_info_shape_and_identity(make: Callable[..., SimulatedMiner]) -> None:
    hydro, other = make(model="Antminer S9 Hydro"), make()
    info = get(hydro, "get_system_info.cgi").json()
    for key in ("minertype", "nettype", "netdevice", "macaddr", "hostname", "ipaddress",
                "netmask", "gateway", "dnsservers", "curtime", "uptime", "mem_total",
                "system_mode", "ant_hwv", "system_kernel_version", "bmminer_version"):
        assert key in info
    assert info["minertype"] == "Antminer S9 Hydro"
    assert info["system_filesystem_version"] == "Mon Aug 20 15:39:45 CST 2018"
    assert info["ipaddress"] == hydro.host and info["hostname"] == "antMiner"
    assert info["macaddr"] != get(other, "get_system_info.cgi").json()["macaddr"]
    assert info["macaddr"] == get(hydro, "get_network_info.cgi").json()["macaddr"]


def test_miner_conf_is_the_raw_file_with_stray_newline(miner: SimulatedMiner) -> None:
    text = get(miner, "get_miner_conf.cgi").text
    assert '"pass" : "123"\n}\n]\n,\n"api-listen" : true,' in text
    conf = json.loads(text)
    assert [p["url"] for p in conf["pools"]] == ["solo.antpool.com:3333",
                                                 "stratum.antpool.com:3333",
                                                 "stratum+tcp://cn.ss.btc.com:3333"]
    assert conf["api-allow"] == "A:0/0,W:*" and conf["multi-version"] == "1"
    for key in ("bitmain-fan-ctrl", "bitmain-fan-pwm", "bitmain-freq", "bitmain-voltage",
                "bitmain-use-vil"):
        assert key in conf


def test_network_info_exact_shape(miner: SimulatedMiner) -> None:
    info = get(miner, "get_network_info.cgi").json()
    assert list(info) == ["nettype", "netdevice", "macaddr", "ipaddress", "netmask",
                          "conf_nettype", "conf_hostname", "conf_ipaddress", "conf_netmask",
                          "conf_gateway", "conf_dnsservers"]
    assert info["nettype"] == "DHCP" and info["conf_hostname"] == "antMiner"


def test_miner_status_shape(make: Callable[..., SimulatedMiner]) -> None:
    status = get(make(model="Antminer S9"), "get_miner_status.cgi").json()
    assert set(status) == {"summary", "pools", "devs"}
    assert float(status["summary"]["ghs5s"]) > 13000
    assert [p["status"] for p in status["pools"]] == ["Alive", "Alive", "Alive"]
    assert [d["index"] for d in status["devs"]] == ["6", "7", "8"]


# -- set_miner_conf.cgi -----------------------------------------------------------------------

def test_positional_parser_matches_the_shell_script() -> None:
    names = ("_a", "_b", "_c")
    assert parse_positional("_a=1&_b=x+y&_c=%22%5C%20%26", names) == ["1", "x y", '%22%5C%20&']
    assert parse_positional("_a=1&_c=3", names) == ["1", "_c=3", ""]  # shifted, not by name
    assert parse_positional("_a=1&&_b=2", names) == ["1", "2", ""]  # empty words vanish
    assert parse_positional("_a=%2B%2b%3d%3D", names)[0] == "+%2b%3d="  # upper case only


def test_set_miner_conf_missing_fields_are_blanked(miner: SimulatedMiner) -> None:
    body = ("_ant_pool1url=stratum%2Btcp%3A%2F%2Fa.example.com%3A3333"
            "&_ant_pool1user=farm+one&_ant_pool1pw=x")
    assert post(miner, "set_miner_conf.cgi", body).text.strip() == "ok"
    conf = json.loads(get(miner, "get_miner_conf.cgi").text)
    assert conf["pools"][0] == {"url": "stratum+tcp://a.example.com:3333", "user": "farm one",
                                "pass": "x"}
    assert conf["pools"][1] == {"url": "", "user": "", "pass": ""}
    assert conf["bitmain-freq"] == "" and conf["bitmain-voltage"] == ""
    assert "bitmain-fan-ctrl" not in conf  # the CGI writes fan keys only when switched on


def test_set_miner_conf_restarts_bmminer(make: Callable[..., SimulatedMiner]) -> None:
    miner = make(ramp_seconds=60)
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(post, miner, "set_miner_conf.cgi", FULL_FORM)
        wait_until(lambda: refused(miner.host, miner.rpc_port))
        assert reply.result().text == "ok\n"
        assert not refused(miner.host, miner.rpc_port)  # "ok" only once bmminer is back
    pools = rpc_json(miner, "pools")["POOLS"]
    assert isinstance(pools, list)
    assert pools[0]["URL"] == "stratum+tcp://pool.example.com:3333"
    assert pools[0]["User"] == "farm.m1" and pools[0]["Status"] == "Alive"
    assert pools[1]["URL"] == "" and pools[1]["Status"] == "Dead"
    summary = rpc_json(miner, "summary")["SUMMARY"]
    assert isinstance(summary, list) and summary[0]["Elapsed"] < 60
    assert summary[0]["GHS av"] < 13500 / 2  # restarted from zero, still ramping
    assert miner.snapshot()["restarts"] == 1


def test_second_post_during_restart_gets_empty_body(
        make: Callable[..., SimulatedMiner]) -> None:
    miner = make(restart_delay=1.5)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, miner, "set_miner_conf.cgi", FULL_FORM)
        wait_until(lambda: refused(miner.host, miner.rpc_port))
        second = post(miner, "set_miner_conf.cgi", "_ant_pool1url=other.example.com%3A1")
        assert second.status_code == 200 and second.text == ""
        assert first.result().text == "ok\n"
    assert miner.snapshot()["pools"][0]["url"] == "stratum+tcp://pool.example.com:3333"
    assert miner.snapshot()["restarts"] == 1


def test_unparsable_config_keeps_bmminer_down(miner: SimulatedMiner) -> None:
    assert post(miner, "set_miner_conf.cgi", '_ant_pool1url=a"b').text == "ok\n"
    assert refused(miner.host, miner.rpc_port)  # bmminer cannot parse its config
    summary = get(miner, "get_miner_status.cgi").json()["summary"]
    assert summary["ghs5s"] == "0" and summary["diffs"] == ""


# -- passwd.cgi ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "text"), [
    ("current_pw=wrong&new_pw=a&new_pw_ctrl=a", "Invalid Password"),
    ("current_pw=root&new_pw=a&new_pw_ctrl=b", "New Password does not match"),
    ("current_pw=root&new_pw=&new_pw_ctrl=", "New Password must be set"),
    ("current_pw=&new_pw=a&new_pw_ctrl=a", "Invalid Password"),
])
def test_passwd_failures(miner: SimulatedMiner, query: str, text: str) -> None:
    r = get(miner, f"passwd.cgi?{query}")
    assert r.status_code == 200 and text in r.text
    assert get(miner, "get_system_info.cgi").status_code == 200
    assert not miner.snapshot()["password_changed"]


def test_passwd_success_changes_digest_password(miner: SimulatedMiner) -> None:
    r = get(miner, "passwd.cgi?current_pw=root&new_pw=n3w%21pw&new_pw_ctrl=n3w%21pw")
    assert "Updating Password" in r.text
    assert get(miner, "get_system_info.cgi").status_code == 401
    assert get(miner, "get_system_info.cgi", auth=HTTPDigestAuth("root", "n3w!pw")).ok
    assert miner.snapshot()["password_changed"]


def test_passwd_empty_query_sets_empty_password(miner: SimulatedMiner) -> None:
    assert "Updating Password" in get(miner, "passwd.cgi").text  # the real script's hole
    assert get(miner, "get_system_info.cgi", auth=HTTPDigestAuth("root", "")).ok


# -- network ---------------------------------------------------------------------------------------

def test_static_loopback_ip_rebinds_both_ports(miner: SimulatedMiner) -> None:
    old, new = miner.host, new_host()
    body = (f"_ant_conf_nettype=Static&_ant_conf_hostname=rack1-m1&_ant_conf_ipaddress={new}"
            "&_ant_conf_netmask=255.0.0.0&_ant_conf_gateway=127.0.0.1&_ant_conf_dnsservers=1.1.1.1")
    assert post(miner, "set_network_conf.cgi", body).text.strip() == "ok"
    wait_until(lambda: miner.host == new)
    assert refused(old, miner.http_port) and refused(old, miner.rpc_port)
    info = get(miner, "get_network_info.cgi").json()
    assert info["nettype"] == "Static" and info["ipaddress"] == new
    assert info["conf_hostname"] == "rack1-m1" and info["conf_dnsservers"] == "1.1.1.1"
    assert rpc_json(miner, "version")["STATUS"]


def test_static_ip_outside_loopback_keeps_serving(miner: SimulatedMiner) -> None:
    old = miner.host
    body = ("_ant_conf_nettype=Static&_ant_conf_hostname=h&_ant_conf_ipaddress=192.168.1.50"
            "&_ant_conf_netmask=255.255.255.0&_ant_conf_gateway=192.168.1.1&_ant_conf_dnsservers=")
    assert post(miner, "set_network_conf.cgi", body).ok
    info = get(miner, "get_network_info.cgi").json()
    assert miner.host == old and info["ipaddress"] == "192.168.1.50"
    assert info["conf_nettype"] == "Static" and info["conf_gateway"] == "192.168.1.1"


# -- RPC -------------------------------------------------------------------------------------------

def test_version_reply_shape_and_trailing_nul(miner: SimulatedMiner) -> None:
    raw = rpc(miner.host, miner.rpc_port, '{"command":"version"}')
    assert raw.endswith(b"}\x00") and raw.count(b"\x00") == 1
    reply = json.loads(raw[:-1])
    reply["STATUS"][0]["When"] = 0
    assert reply == {"STATUS": [{"STATUS": "S", "When": 0, "Code": 22, "Msg": "BMMiner versions",
                                 "Description": "bmminer 1.0.0"}],
                     "VERSION": [{"BMMiner": "2.0.0", "API": "3.1", "Miner": "16.8.1.3",
                                  "CompileTime": "Fri Nov 17 17:37:49 CST 2017",
                                  "Type": "Antminer S9"}], "id": 1}


def test_stats_is_invalid_json_with_chains_6_to_8(miner: SimulatedMiner) -> None:
    text = rpc(miner.host, miner.rpc_port, '{"command":"stats"}')[:-1].decode()
    assert '"Type":"Antminer S9"}{"STATS":0,' in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    stats = json.loads(text.replace("}{", "},{"))["STATS"][1]
    assert [stats[f"chain_acn{c}"] for c in (5, 6, 7, 8, 9)] == [0, 63, 63, 63, 0]
    assert stats["temp6"] == 55 and stats["temp2_6"] == 70
    assert isinstance(stats["GHS 5s"], str) and isinstance(stats["GHS av"], float)
    assert float(stats["chain_rate6"]) > 4000 and all(f"fan{i}" in stats for i in range(1, 9))


def test_hydro_reports_the_seed_boards(make: Callable[..., SimulatedMiner]) -> None:
    hydro = make(model="Antminer S9 Hydro")
    text = rpc(hydro.host, hydro.rpc_port, '{"command":"stats"}')[:-1].decode()
    stats = json.loads(text.replace("}{", "},{"))["STATS"][1]
    assert [c for c in range(1, 17) if stats[f"chain_acn{c}"]] == [2, 3, 4, *range(6, 15)]
    assert stats["chain_acn6"] == 18 and 17500 < float(stats["GHS 5s"]) < 18500
    assert [stats[f"fan{i}"] for i in range(1, 9)] == [2280] * 4 + [1320, 2280, 0, 0]


def test_joined_summary_pools(miner: SimulatedMiner) -> None:
    reply = rpc_json(miner, "summary+pools")
    assert set(reply) == {"summary", "pools", "id"}
    summary = reply["summary"][0]["SUMMARY"][0]  # type: ignore[index]
    assert isinstance(summary["GHS 5s"], str) and isinstance(summary["GHS av"], float)
    assert 13000 < float(summary["GHS 5s"]) < 14000
    assert len(reply["pools"][0]["POOLS"]) == 3  # type: ignore[index]


def test_pools_never_show_passwords(miner: SimulatedMiner) -> None:
    miner.set_pools([{"url": "p.example.com:25", "user": "w", "pass": "Sekr1tPw"}], restart=False)
    raw = rpc(miner.host, miner.rpc_port, '{"command":"pools"}')
    assert b"Sekr1tPw" not in raw and b'"pass' not in raw.lower()
    pools = json.loads(raw[:-1])["POOLS"]
    assert pools[0]["URL"] == "stratum+tcp://p.example.com:25"
    assert [p["Status"] for p in pools] == ["Alive", "Dead", "Dead"]


def test_privileged_and_unknown_commands(miner: SimulatedMiner) -> None:
    denied = rpc_json(miner, "addpool")["STATUS"][0]  # type: ignore[index]
    assert denied["STATUS"] == "E" and denied["Code"] == 45
    assert denied["Msg"] == "Access denied to 'addpool' command"
    assert denied["Description"] == "bmminer 1.0.0"
    unknown = rpc_json(miner, "frobnicate")["STATUS"][0]  # type: ignore[index]
    assert unknown["Code"] == 14 and unknown["Msg"] == "Invalid command"


def test_plain_text_requests(miner: SimulatedMiner) -> None:
    raw = rpc(miner.host, miner.rpc_port, "pools|0")
    assert raw.startswith(b"STATUS=S,") and raw.endswith(b"|\x00")
    assert b"|POOL=0,URL=stratum+tcp://solo.antpool.com:3333,Status=Alive," in raw
    assert b"Code=45" in rpc(miner.host, miner.rpc_port, "switchpool|1")


def test_pcb_at_80_stops_hashing(miner: SimulatedMiner) -> None:
    miner.set_pcb_temp(79.5)
    assert float(rpc_json(miner, "summary")["SUMMARY"][0]["GHS 5s"]) > 0  # type: ignore[index]
    miner.set_pcb_temp(80, chain=7)
    text = rpc(miner.host, miner.rpc_port, '{"command":"stats"}')[:-1].decode()
    stats = json.loads(text.replace("}{", "},{"))["STATS"][1]
    assert stats["temp7"] == 80 and stats["GHS 5s"] == "0.00"
    assert "Temperature is too high" in get(miner, "get_kernel_log.cgi").text


# -- faults, reboot, drift ----------------------------------------------------------------------

def test_offline_refuses_both_ports(miner: SimulatedMiner) -> None:
    miner.set_fault(offline=True)
    assert refused(miner.host, miner.http_port) and refused(miner.host, miner.rpc_port)
    miner.set_fault(offline=False)
    assert get(miner, "get_system_info.cgi").ok


def test_hang_accepts_and_never_answers(miner: SimulatedMiner) -> None:
    miner.set_fault(hang=True)
    with socket.create_connection((miner.host, miner.rpc_port), timeout=0.3) as s:
        s.sendall(b'{"command":"version"}')
        with pytest.raises(TimeoutError):
            s.recv(10)
        miner.set_fault(hang=False)
        s.settimeout(3)
        assert s.recv(10) == b""  # released: closed without an answer
    with pytest.raises(requests.exceptions.ReadTimeout):
        miner.set_fault(hang=True)
        get(miner, "get_system_info.cgi", timeout=0.3)
    miner.set_fault(hang=False)


def test_reject_and_ignore_writes(miner: SimulatedMiner) -> None:
    before = get(miner, "get_miner_conf.cgi").text
    miner.set_fault(reject_writes=True)
    assert post(miner, "set_miner_conf.cgi", FULL_FORM).text.strip() != "ok"
    assert post(miner, "set_network_conf.cgi", "_ant_conf_nettype=DHCP").text.strip() != "ok"
    miner.set_fault(reject_writes=False, ignore_writes=True)
    assert post(miner, "set_miner_conf.cgi", FULL_FORM).text.strip() == "ok"
    assert get(miner, "get_miner_conf.cgi").text == before
    assert miner.snapshot()["restarts"] == 0


def test_http_latency_delays_replies(miner: SimulatedMiner) -> None:
    miner.set_fault(http_latency=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(miner, "get_system_info.cgi", auth=None, timeout=0.2)
    miner.set_fault(http_latency=0.0)


def test_reboot_takes_everything_down_then_back(make: Callable[..., SimulatedMiner]) -> None:
    miner = make(reboot_delay=1.0)
    assert get(miner, "reboot.cgi").text == ""
    wait_until(lambda: refused(miner.host, miner.http_port))
    assert refused(miner.host, miner.rpc_port)
    wait_until(lambda: not refused(miner.host, miner.http_port))
    wait_until(lambda: not refused(miner.host, miner.rpc_port))
    assert int(get(miner, "get_system_info.cgi").json()["uptime"]) < 60


def test_drift_api(miner: SimulatedMiner) -> None:
    miner.set_pools([{"url": "stratum+tcp://drift.example.com:3333", "worker": "w.1"}])
    assert "drift.example.com" in get(miner, "get_miner_conf.cgi").text
    miner.set_password("drifted")
    assert get(miner, "get_system_info.cgi").status_code == 401
    new = new_host()
    miner.set_network("Static", "h", new, "255.0.0.0")
    assert miner.host == new
    assert get(miner, "get_system_info.cgi", auth=HTTPDigestAuth("root", "drifted")).ok
    with pytest.raises(SimulatorError, match="unknown fault knob"):
        miner.set_fault(offline_please=True)


# -- hosting ---------------------------------------------------------------------------------------

def test_bind_conflict_is_a_clear_fleetform_error(sim: MinerSimulator,
                                                  miner: SimulatedMiner) -> None:
    clash = MinerConfig(name="clash", host=miner.host, http_port=miner.http_port, rpc_port=0)
    with pytest.raises(SimulatorError) as info:
        sim.add(clash)
    assert isinstance(info.value, FleetformError)
    assert f"{miner.host}:{miner.http_port}" in str(info.value) and "manifest" in str(info.value)
    with pytest.raises(SimulatorError, match="already exists"):
        sim.add(MinerConfig(name=miner.name, host=new_host(), http_port=0, rpc_port=0))
    with pytest.raises(SimulatorError, match="not local"):  # TEST-NET-1 is not on this host
        sim.add(MinerConfig(name="remote", host="192.0.2.7", http_port=0, rpc_port=0))
    with pytest.raises(SimulatorError, match="3 pool slots"):
        sim.add(MinerConfig(name="greedy", host=new_host(), pools=[{"url": "a:1"}] * 4))


@pytest.mark.skipif(os.geteuid() != 0, reason="ports 80/4028 need root")
def test_default_ports(make: Callable[..., SimulatedMiner]) -> None:
    m = make(http_port=80, rpc_port=4028)
    assert (m.http_port, m.rpc_port) == (80, 4028)
    assert get(m, "get_system_info.cgi").ok and rpc_json(m, "version")["VERSION"]


def test_two_hundred_miners_in_one_simulator() -> None:
    with MinerSimulator() as sim:
        miners = [sim.add(MinerConfig(name=f"fleet-{i}", host=new_host(), http_port=0,
                                      rpc_port=0)) for i in range(200)]
        assert len({m.host for m in miners}) == 200
        for m in miners:
            assert rpc_json(m, "version")["VERSION"]
            with socket.create_connection((m.host, m.http_port), timeout=3) as s:
                s.sendall(b"GET /cgi-bin/get_system_info.cgi HTTP/1.1\r\nHost: x\r\n\r\n")
                assert s.recv(64).startswith(b"HTTP/1.1 401 Unauthorized")
        assert get(miners[-1], "get_system_info.cgi").ok
