"""Byte- and text-level tests of the Antminer codec against the real firmware's behaviour.

The firmware's form decoding and config writing are re-implemented below from
bitmaintech/Antminer_firmware ``set_miner_conf.cgi`` / ``set_network_conf.cgi``
(not imported from the codec), so the round trip checks the codec against the
CGI, not against itself.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetform.errors import DeviceRejected, ProtocolError
from fleetform.providers.antminer import codec
from fleetform.providers.antminer.models import AntminerSettings

# --- the firmware, re-implemented from the CGI scripts ----------------------------------

# set_miner_conf.cgi (S9, www_miner): `case ${i} in 0) ant_pool1url=... 14) ant_voltage=...`
CGI_MINER_FIELDS = [
    "_ant_pool1url", "_ant_pool1user", "_ant_pool1pw", "_ant_pool2url", "_ant_pool2user",
    "_ant_pool2pw", "_ant_pool3url", "_ant_pool3user", "_ant_pool3pw", "_ant_nobeeper",
    "_ant_notempoverctrl", "_ant_fan_customize_switch", "_ant_fan_customize_value",
    "_ant_freq", "_ant_voltage",
]
CGI_NETWORK_FIELDS = [
    "_ant_conf_nettype", "_ant_conf_hostname", "_ant_conf_ipaddress", "_ant_conf_netmask",
    "_ant_conf_gateway", "_ant_conf_dnsservers",
]
# The substitutions, in the script's order ('#ant_var=${ant_var//%22/...}' is commented out).
CGI_SUBSTITUTIONS = [
    ("+", " "), ("%23", "#"), ("%24", "$"), ("%25", "%"), ("%26", "&"), ("%2C", ","),
    ("%2B", "+"), ("%3A", ":"), ("%3B", ";"), ("%3C", "<"), ("%3D", "="), ("%3E", ">"),
    ("%3F", "?"), ("%40", "@"), ("%5B", "["), ("%5D", "]"), ("%5E", "^"), ("%7B", "{"),
    ("%7C", "|"), ("%7D", "}"), ("%2F", "/"),
]


def cgi_decode(
    body: bytes, fields: list[str], defaults: dict[str, str] | None = None
) -> dict[str, str]:
    """``ant_tmp=${ant_input//&/ }; for ant_var in ${ant_tmp}`` then the substitutions."""
    values = {name: "" for name in fields} | (defaults or {})
    words = [w for w in re.split(r"[ \t\n]+", body.decode("utf-8").replace("&", " ")) if w]
    for index, word in enumerate(words):
        for code, char in CGI_SUBSTITUTIONS:
            word = word.replace(code, char)
        if index < len(fields):
            values[fields[index]] = word.replace(f"{fields[index]}=", "", 1)
    return values


def cgi_write_conf(v: dict[str, str]) -> str:
    """The echo lines of set_miner_conf.cgi, including the lone ',' line after ']'."""
    lines = ["{", '"pools" : [']
    for n in (1, 2, 3):
        lines += ["{", f'"url" : "{v[f"_ant_pool{n}url"]}",',
                  f'"user" : "{v[f"_ant_pool{n}user"]}",',
                  f'"pass" : "{v[f"_ant_pool{n}pw"]}"', "}," if n < 3 else "}"]
    lines += ["]", ",", '"api-listen" : true,', '"api-network" : true,', '"api-allow" : "W:0/0",']
    if v["_ant_nobeeper"] == "true":
        lines.append('"bitmain-nobeeper" : true,')
    if v["_ant_notempoverctrl"] == "true":
        lines.append('"bitmain-notempoverctrl" : true,')
    if v["_ant_fan_customize_switch"] == "true":
        lines += ['"bitmain-fan-ctrl" : true,',
                  f'"bitmain-fan-pwm" : "{v["_ant_fan_customize_value"]}",']
    lines += ['"bitmain-use-vil" : true,', f'"bitmain-freq" : "{v["_ant_freq"]}",',
              f'"bitmain-voltage" : "{v["_ant_voltage"]}"', "}"]
    return "\n".join(lines) + "\n"


FOREMAN_CONF = (
    '{"pools":[{"url":"solo.antpool.com:3333","user":"antminer_1","pass":"123"},'
    '{"url":"stratum.antpool.com:3333","user":"antminer_1","pass":"123"},'
    '{"url":"stratum+tcp://cn.ss.btc.com:3333","user":"antminer.1","pass":"123"}],'
    '"api-listen":true,"api-network":true,'
    '"api-groups":"A:stats:pools:devs:summary:version:noncenum",'
    '"api-allow":"A:0/0,W:*","bitmain-use-vil":true,"bitmain-freq":"550","multi-version":"1"}'
)
POOLS = [
    {"url": "stratum+tcp://pool.example.com:3333", "worker": "farm.rig1", "password": "x"},
    {"url": "backup.example.com:443", "worker": "farm.rig1", "password": "p@ss:w/rd?#$"},
]

# --- set_miner_conf.cgi form ------------------------------------------------------------


def test_miner_form_lists_every_field_in_firmware_order() -> None:
    conf = {"bitmain-freq": "550", "bitmain-voltage": "0706"}
    body = codec.build_miner_conf_form(POOLS, conf).decode()
    names = [pair.split("=", 1)[0] for pair in body.split("&")]
    assert names == CGI_MINER_FIELDS


def test_miner_form_resends_current_hardware_values() -> None:
    conf = {"bitmain-nobeeper": True, "bitmain-notempoverctrl": "true", "bitmain-fan-ctrl": True,
            "bitmain-fan-pwm": "80", "bitmain-freq": "18:218.75:1106", "bitmain-voltage": "0725"}
    values = cgi_decode(codec.build_miner_conf_form(POOLS, conf), CGI_MINER_FIELDS)
    assert values["_ant_nobeeper"] == "true"
    assert values["_ant_notempoverctrl"] == "true"
    assert values["_ant_fan_customize_switch"] == "true"
    assert values["_ant_fan_customize_value"] == "80"
    assert values["_ant_freq"] == "18:218.75:1106"
    assert values["_ant_voltage"] == "0725"
    assert values["_ant_pool3url"] == values["_ant_pool3user"] == values["_ant_pool3pw"] == ""


def test_miner_form_round_trips_through_firmware_decode_and_config_file() -> None:
    conf = {"bitmain-freq": "650", "bitmain-voltage": "0706"}
    values = cgi_decode(codec.build_miner_conf_form(POOLS, conf), CGI_MINER_FIELDS)
    written = cgi_write_conf(values)
    assert "]\n,\n" in written  # the stray newline before the comma
    parsed = codec.parse_miner_conf(written)
    assert codec.conf_pools(parsed) == POOLS
    assert parsed["bitmain-freq"] == "650"
    assert parsed["bitmain-voltage"] == "0706"


def test_miner_form_accepts_bmminer_conf_shaped_pools() -> None:
    conf = codec.parse_miner_conf(FOREMAN_CONF)
    assert codec.build_miner_conf_form(conf["pools"], conf) == codec.build_miner_conf_form(
        codec.conf_pools(conf), conf)


def test_unknown_trailing_values_are_left_to_firmware_defaults() -> None:
    body = codec.build_miner_conf_form(POOLS, {"bitmain-freq": "550"})
    assert b"_ant_voltage" not in body
    values = cgi_decode(body, CGI_MINER_FIELDS, defaults={"_ant_voltage": "0706"})
    assert values["_ant_voltage"] == "0706"
    assert values["_ant_freq"] == "550"


def test_encoding_uses_upper_case_codes_the_firmware_knows() -> None:
    assert codec.encode_form_value("f", "stratum+tcp://h:1") == "stratum%2Btcp%3A%2F%2Fh%3A1"
    assert codec.encode_form_value("f", "a b") == "a+b"
    assert codec.encode_form_value("f", "a.b-c_d~!*()") == "a.b-c_d~!*()"


STORABLE = st.text(
    alphabet=st.characters(
        blacklist_characters='%"\\\x7f', blacklist_categories=("Cc", "Cs", "Zl", "Zp")
    ).filter(lambda c: not c.isspace() or c == " "),
    max_size=40,
)


@given(st.lists(st.tuples(STORABLE, STORABLE, STORABLE), min_size=1, max_size=3), STORABLE)
def test_any_storable_value_survives_the_firmware_decode(
    pools: list[tuple[str, str, str]], freq: str
) -> None:
    dicts = [{"url": u, "worker": w, "password": p} for u, w, p in pools]
    values = cgi_decode(
        codec.build_miner_conf_form(dicts, {"bitmain-freq": freq, "bitmain-voltage": "0706"}),
        CGI_MINER_FIELDS,
    )
    for n, pool in enumerate(dicts, start=1):
        assert values[f"_ant_pool{n}url"] == pool["url"]
        assert values[f"_ant_pool{n}user"] == pool["worker"]
        assert values[f"_ant_pool{n}pw"] == pool["password"]
    assert values["_ant_freq"] == freq


@pytest.mark.parametrize("bad", ['pa"ss', "back\\slash", "50%", "tab\there", "nl\nx", "nul\x00"])
def test_unstorable_values_are_refused_without_echoing_them(bad: str) -> None:
    pools = [{"url": "h:1", "worker": "w", "password": bad}]
    with pytest.raises(DeviceRejected) as info:
        codec.build_miner_conf_form(pools, {})
    assert bad not in str(info.value)
    assert "_ant_pool1pw" in str(info.value)


def test_more_than_three_pools_is_refused() -> None:
    with pytest.raises(DeviceRejected, match="3 pool slots"):
        codec.build_miner_conf_form([POOLS[0]] * 4, {})


# --- get_miner_conf.cgi -----------------------------------------------------------------


def test_parse_foreman_fixture_and_empty_slots() -> None:
    conf = codec.parse_miner_conf(FOREMAN_CONF)
    assert codec.conf_pools(conf)[2] == {
        "url": "stratum+tcp://cn.ss.btc.com:3333", "worker": "antminer.1", "password": "123"}
    blank = cgi_write_conf(cgi_decode(codec.build_miner_conf_form(POOLS[:1], {}), CGI_MINER_FIELDS))
    assert codec.conf_pools(codec.parse_miner_conf(blank)) == POOLS[:1]


def test_parse_tolerates_pretty_printing_missing_keys_and_trailing_commas() -> None:
    assert codec.conf_pools(codec.parse_miner_conf('{\n  "api-listen" : true\n}\n')) == []
    text = '{\n"pools" : [\n{"url" : "h:1", "user" : "w"},\n]\n,\n"bitmain-freq" : "550",\n}'
    assert codec.conf_pools(codec.parse_miner_conf(text)) == [
        {"url": "h:1", "worker": "w", "password": ""}]


def test_newer_generation_firmware_is_refused() -> None:
    text = json.dumps({"pools": [], "bitmain-fan-ctrl": False, "bitmain-pwth": "90"})
    with pytest.raises(DeviceRejected, match=r"S17\+/S19 firmware not supported yet"):
        codec.parse_miner_conf(text)


def test_unparseable_conf_is_a_protocol_error_that_hides_the_content() -> None:
    with pytest.raises(ProtocolError) as info:
        codec.parse_miner_conf('{"pools":[{"pass":"hunter2"')
    assert "hunter2" not in str(info.value)
    with pytest.raises(ProtocolError, match="JSON object"):
        codec.parse_miner_conf("[]")


# --- system and network info ------------------------------------------------------------

NETWORK_DHCP = (
    '{"nettype":"DHCP","netdevice":"eth0","macaddr":"C4:F3:12:B3:9F:FC",'
    '"ipaddress":"192.168.1.189","netmask":"255.255.255.0","conf_nettype":"DHCP",'
    '"conf_hostname":"antMiner","conf_ipaddress":"",'
    '"conf_netmask":"","conf_gateway":"","conf_dnsservers":""}'
)


def test_system_info_identity() -> None:
    info = codec.parse_system_info(json.dumps({
        "minertype": "Antminer S9 Hydro", "macaddr": "c4:f3:12:b3:9f:fc", "hostname": "antMiner",
        "system_filesystem_version": "Mon Aug 20 15:39:45 CST 2018", "bmminer_version": "2.0.0"}))
    assert (info.mac, info.model, info.hostname) == (
        "C4:F3:12:B3:9F:FC", "Antminer S9 Hydro", "antMiner")
    assert info.firmware.startswith("Mon Aug 20")
    with pytest.raises(ProtocolError, match="macaddr"):
        codec.parse_system_info('{"minertype":"x"}')


def test_network_info_matches_the_manifest_model_dump() -> None:
    assert codec.parse_network_info(NETWORK_DHCP) == {"mode": "dhcp", "hostname": "antMiner"}
    static = json.loads(NETWORK_DHCP) | {
        "conf_nettype": "Static", "conf_hostname": "rig1", "conf_ipaddress": "10.0.0.5",
        "conf_netmask": "255.255.255.0", "conf_gateway": "10.0.0.1",
        "conf_dnsservers": "10.0.0.1 1.1.1.1"}
    live = codec.parse_network_info(json.dumps(static))
    desired = AntminerSettings.model_validate({"network": {
        "mode": "static", "ip": "10.0.0.5", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
        "dns": ["10.0.0.1", "1.1.1.1"], "hostname": "rig1",
    }}).model_dump(mode="python", exclude_none=True)
    assert live == desired["network"]
    assert live["ip"] == ipaddress.IPv4Address("10.0.0.5")


def test_network_form_static_and_dhcp() -> None:
    static = {"mode": "static", "ip": ipaddress.IPv4Address("10.0.0.5"),
              "netmask": ipaddress.IPv4Address("255.255.255.0"),
              "gateway": ipaddress.IPv4Address("10.0.0.1"),
              "dns": [ipaddress.IPv4Address("10.0.0.1"), ipaddress.IPv4Address("1.1.1.1")]}
    body = codec.build_network_form(static, "antMiner")
    assert body == (b"_ant_conf_nettype=Static&_ant_conf_hostname=antMiner"
                    b"&_ant_conf_ipaddress=10.0.0.5"
                    b"&_ant_conf_netmask=255.255.255.0&_ant_conf_gateway=10.0.0.1"
                    b"&_ant_conf_dnsservers=10.0.0.1+1.1.1.1")
    assert cgi_decode(body, CGI_NETWORK_FIELDS)["_ant_conf_dnsservers"] == "10.0.0.1 1.1.1.1"
    dhcp = cgi_decode(codec.build_network_form({"mode": "dhcp", "hostname": "rig2"}, "old"),
                      CGI_NETWORK_FIELDS)
    assert dhcp == {"_ant_conf_nettype": "DHCP", "_ant_conf_hostname": "rig2",
                    "_ant_conf_ipaddress": "", "_ant_conf_netmask": "", "_ant_conf_gateway": "",
                    "_ant_conf_dnsservers": ""}


# --- passwd.cgi -------------------------------------------------------------------------


def passwd_cgi_args(query: str) -> dict[str, str]:
    """``IFS="&"; set -- $QUERY_STRING`` then ``IFS="="`` and ``urldecode $2``."""
    out = {}
    for item in query.split("&"):
        parts = item.split("=")
        out[parts[0]] = unquote(parts[1])
    return out


def test_passwd_query_survives_the_cgi_splitting() -> None:
    new = "n3w=pw#*?[x]@!"
    args = passwd_cgi_args(codec.build_passwd_query("root", new))
    assert args == {"current_pw": "root", "new_pw": new, "new_pw_ctrl": new}


def page(message: str) -> str:
    return f"<html><head><title>passwd</title></head><body><h1>{message}</h1></body></html>"


def test_passwd_success_page() -> None:
    codec.judge_passwd_page(page("Updating Password"))


@pytest.mark.parametrize("words", codec.PASSWD_FAILURES)
def test_passwd_failure_pages_report_the_firmware_words(words: str) -> None:
    with pytest.raises(DeviceRejected, match=words):
        codec.judge_passwd_page(page(words))


def test_passwd_unknown_page_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        codec.judge_passwd_page(page("Something else"))


# --- pool URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "same"), [
    ("pool.example.com:3333", "stratum+tcp://pool.example.com:3333", True),
    ("POOL.example.com:3333", "stratum+tcp://pool.example.com:3333", True),
    ("pool.example.com:3333", "stratum+tcp://pool.example.com:3334", False),
    ("stratum+ssl://pool.example.com:3333", "stratum+tcp://pool.example.com:3333", False),
])
def test_pool_url_normalisation(a: str, b: str, same: bool) -> None:
    assert (codec.normalize_pool_url(a) == codec.normalize_pool_url(b)) is same


def test_align_and_difference() -> None:
    live = [{"url": "stratum+tcp://pool.example.com:3333", "worker": "w", "password": "x"}]
    desired = [{"url": "pool.example.com:3333", "worker": "w", "password": "x"}]
    assert codec.align_pool_urls(desired, live)[0]["url"] == "pool.example.com:3333"
    assert codec.pools_difference(desired, live) is None
    other = [dict(live[0], password="secret")]
    difference = codec.pools_difference(desired, other)
    assert difference == "pools[0].password differs"
    assert codec.pools_difference(desired, []) == "0 pools configured, 1 expected"


# --- RPC --------------------------------------------------------------------------------

VERSION = (b'{"STATUS":[{"STATUS":"S","When":1516328450,"Code":22,"Msg":"BMMiner versions",'
           b'"Description":"bmminer 1.0.0"}],"VERSION":[{"BMMiner":"2.0.0","API":"3.1",'
           b'"Miner":"16.8.1.3","CompileTime":"Fri Nov 17 17:37:49 CST 2017",'
           b'"Type":"Antminer S9"}],'
           b'"id":1}\x00')
STATS = (b'{"STATUS":[{"STATUS":"S","When":1,"Code":70,"Msg":"BMMiner stats",'
         b'"Description":"bmminer 1.0.0"}],'
         b'"STATS":[{"BMMiner":"2.0.0","Miner":"16.8.1.3","CompileTime":"x","Type":"Antminer S9"}'
         b'{"STATS":0,"ID":"BC50","GHS 5s":"13507.92","GHS av":13480.5,"fan_num":2,"fan1":0,'
         b'"fan3":4200,"fan6":6000,"temp1":0,"temp6":68,"temp7":62,"temp8":81,"temp2_1":0,'
         b'"temp2_6":83,"temp2_7":77,"temp2_8":96,"chain_acn1":0,"chain_acn6":63,"chain_acn7":63,'
         b'"chain_acn8":63,"chain_rate6":"4500.10","chain_rate7":"4500.20","chain_rate8":""}],'
         b'"id":1}\x00')


def test_rpc_request_bytes() -> None:
    assert codec.encode_rpc_command("summary+pools") == b'{"command":"summary+pools"}'
    assert codec.encode_rpc_command("pools", "0") == b'{"command":"pools","parameter":"0"}'


def test_rpc_nul_is_stripped_and_version_parsed() -> None:
    reply = codec.decode_rpc_reply(VERSION, "version")["version"]
    assert codec.parse_version(reply) == {
        "api_version": "3.1", "miner_version": "16.8.1.3", "bmminer": "2.0.0",
        "type": "Antminer S9"}


def test_stats_quirk_is_repaired_and_chains_found() -> None:
    stats = codec.parse_stats(codec.decode_rpc_reply(STATS, "stats")["stats"])
    assert [c["chain"] for c in stats["chains"]] == [6, 7, 8]
    assert stats["chains"][0] == {"chain": 6, "pcb_temp": 68.0, "chip_temp": 83.0, "asics": 63,
                                  "rate_ghs": 4500.10}
    assert stats["fans"] == [{"fan": 3, "rpm": 4200}, {"fan": 6, "rpm": 6000}]
    warnings, critical = codec.temperature_warnings(stats["chains"])
    assert critical and len(warnings) == 1 and "Temperature is too high" in warnings[0]


def test_generic_chains_without_acn_counts() -> None:
    stats = codec.parse_stats({"STATS": [{"temp1": 60, "temp2_1": 75, "temp2": 0, "temp3": 76}]})
    assert [c["chain"] for c in stats["chains"]] == [1, 3]
    warnings, critical = codec.temperature_warnings(stats["chains"])
    assert not critical and warnings == ["chain 3: PCB 76 °C, approaching the 80 °C shutdown"]


def test_joined_reply_is_split_and_ghs_5s_string_becomes_float() -> None:
    raw = (b'{"summary":[{"STATUS":[{"STATUS":"S","Code":11,"Msg":"Summary"}],'
           b'"SUMMARY":[{"GHS 5s":"13,507.92","GHS av":13480.5}],"id":1}],'
           b'"pools":[{"STATUS":[{"STATUS":"S","Code":7,"Msg":"2 Pool(s)"}],"POOLS":['
           b'{"POOL":1,"URL":"","Status":"Dead","Priority":1,"User":""},'
           b'{"POOL":0,"URL":"stratum+tcp://p:3333","Status":"Alive","Priority":0,"User":"w"}],'
           b'"id":1}],"id":1}\x00')
    parts = codec.decode_rpc_reply(raw, "summary+pools")
    assert codec.parse_summary(parts["summary"]) == {"hashrate_5s_ghs": 13507.92,
                                                     "hashrate_avg_ghs": 13480.5}
    pools = codec.parse_rpc_pools(parts["pools"])
    assert pools == [{"url": "stratum+tcp://p:3333", "user": "w", "status": "Alive", "priority": 0}]
    assert codec.rpc_pools_match([{"url": "p:3333", "worker": "w"}], pools)
    assert not codec.rpc_pools_match([{"url": "p:3333", "worker": "other"}], pools)


def test_access_denied_code_45_is_a_rejection_with_code_and_msg() -> None:
    raw = (b'{"STATUS":[{"STATUS":"E","When":1,"Code":45,'
           b'"Msg":"Access denied to \'addpool\' command",'
           b'"Description":"bmminer 1.0.0"}],"id":1}\x00')
    with pytest.raises(DeviceRejected, match=r"Access denied to 'addpool' command \(code 45"):
        codec.decode_rpc_reply(raw, "addpool")


def test_invalid_command_is_a_protocol_error_also_inside_a_joined_reply() -> None:
    inner = '{"STATUS":[{"STATUS":"E","Code":14,"Msg":"Invalid command"}],"id":1}'
    raw = f'{{"summary":[{inner}],"pools":[{inner}],"id":1}}'.encode() + b"\x00"
    with pytest.raises(ProtocolError, match="code 14"):
        codec.decode_rpc_reply(raw, "summary+pools")


def test_garbage_rpc_reply_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="RPC pools"):
        codec.decode_rpc_reply(b"STATUS=S,When=1|\x00", "pools")
