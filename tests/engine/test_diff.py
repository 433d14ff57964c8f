"""The generic diff: managed keys, whole lists, secrets never carried in changes."""

from __future__ import annotations

import ipaddress

from fleetform.diff import SecretMatcher, diff_settings, redact
from fleetform.plan import Action
from fleetform.provider import Opaque, SettingSpec

SPECS = {
    "pools": SettingSpec("pools", sensitive_fields=frozenset({"[].password"}), order=10),
    "admin_password": SettingSpec("admin_password", sensitive=True, order=20),
    "network": SettingSpec("network", disruptive=True, order=90),
}


def pool(url: str, worker: str = "w", password: str = "x") -> dict[str, str]:
    return {"url": url, "worker": worker, "password": password}


def test_equal_settings_plan_nothing() -> None:
    desired = {"pools": [pool("a:1")], "network": {"mode": "dhcp", "hostname": "m1"}}
    assert diff_settings(desired, desired, SPECS) == []


def test_unmanaged_keys_are_ignored() -> None:
    desired = {"network": {"mode": "dhcp"}}
    live = {"network": {"mode": "dhcp", "hostname": "antMiner", "ip": "10.0.0.1"}}
    assert diff_settings(desired, live, SPECS) == []


def test_lists_are_managed_whole_and_deletions_expand_to_leaves() -> None:
    desired = {"pools": [pool("a:1")]}
    live = {"pools": [pool("a:1"), pool("b:2", "w2", "secret-pw")]}
    changes = diff_settings(desired, live, SPECS)
    assert [(c.path, c.action) for c in changes] == [
        ("pools[1].url", Action.DELETE),
        ("pools[1].worker", Action.DELETE),
        ("pools[1].password", Action.DELETE),
    ]
    assert changes[0].before == "b:2"
    assert changes[2].sensitive and changes[2].before is None


def test_secret_sub_fields_are_redacted_in_changes() -> None:
    changes = diff_settings(
        {"pools": [pool("a:1", password="new-secret")]},
        {"pools": [pool("a:1", password="old-secret")]},
        SPECS,
    )
    assert len(changes) == 1
    change = changes[0]
    assert change.path == "pools[0].password" and change.sensitive
    assert change.before is None and change.after is None
    assert "secret" not in repr(change) and "secret" not in str(change.to_json())


def test_whole_sensitive_setting_and_opaque_live_value() -> None:
    changes = diff_settings({"admin_password": "hunter22"}, {"admin_password": Opaque()}, SPECS)
    assert [(c.path, c.action, c.sensitive) for c in changes] == [
        ("admin_password", Action.UPDATE, True)
    ]
    assert "hunter22" not in repr(changes)


def test_env_sourced_paths_are_sensitive_even_in_plain_fields() -> None:
    changes = diff_settings(
        {"pools": [pool("a:1", worker="from-env")]}, {"pools": [pool("a:1")]}, SPECS,
        secret_paths={"pools[0].worker"},
    )
    assert changes[0].sensitive and changes[0].after is None


def test_create_expands_mappings_and_orders_by_spec() -> None:
    desired = {
        "network": {"mode": "static", "ip": ipaddress.IPv4Address("10.0.0.5")},
        "pools": [pool("a:1")],
    }
    changes = diff_settings(desired, {"pools": []}, SPECS)
    assert [c.setting for c in changes] == ["pools"] * 3 + ["network"] * 2
    assert all(c.action is Action.CREATE for c in changes)
    assert all(c.disruptive for c in changes if c.setting == "network")
    assert changes[-1].to_json()["after"] == "10.0.0.5"


def test_redact_replaces_secret_leaves_only() -> None:
    matcher = SecretMatcher(SPECS)
    shown = redact({"pools": [pool("a:1", password="pw")], "admin_password": "z"}, "", matcher)
    assert shown == {
        "pools": [{"url": "a:1", "worker": "w", "password": "(sensitive)"}],
        "admin_password": "(sensitive)",
    }
