"""Valid manifests: devices, variables, secrets and locations come out right."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from manifest_helpers import (
    ADMIN_SECRET,
    BOOT_SECRET,
    ENV,
    POOL_SECRET,
    PROVIDERS,
    VALID,
    load,
    write,
)
from pydantic import SecretStr

from fleetform.errors import SourceLocation
from fleetform.manifest import load_manifest, parse_var_assignment
from fleetform.providers.antminer.models import DhcpNetwork

FARM = """\
# yaml-language-server: $schema=../schemas/manifest.schema.json
variables:            # defaults for template variables
  farm_size: 3
  rack: r1
devices:
{% for i in range(farm_size) %}
  - name: miner-{{ "%03d" % i }}
    provider: antminer
    labels: {rack: {{ rack }}}
    connection:
      host: 127.0.1.{{ i + 1 }}
      credentials: {username: root, password: "${env:MINER_BOOTSTRAP_PASSWORD}"}
    settings:
      pools:
        - {url: "pool.example.com:3333", worker: "farm.{{ i }}", password: x}
      admin_password: "{{ env('MINER_ADMIN_PASSWORD') }}"
{% endfor %}
state:                # optional
  path: .fleetform/state.json
"""


def test_valid_manifest(tmp_path: Path) -> None:
    manifest = load(tmp_path, VALID)
    (device,) = manifest.devices
    assert device.name == "miner-1" and device.provider == "antminer"
    assert device.labels == {}
    assert device.connection.host == "10.0.0.11"  # type: ignore[attr-defined]
    assert device.connection.port == 80  # type: ignore[attr-defined]
    settings = device.settings
    assert settings.admin_password.get_secret_value() == ADMIN_SECRET  # type: ignore[attr-defined]
    assert settings.pools[0].worker == "farm.m1"  # type: ignore[attr-defined]
    assert device.sensitive_paths == frozenset({"admin_password"})
    assert device.location == SourceLocation(str(tmp_path / "fleet.yaml"), 2, 5, 2)
    assert device.locations["pools[0].url"].line == 9
    assert device.locations["admin_password"] == SourceLocation(
        str(tmp_path / "fleet.yaml"), 12, 23, 12)
    assert set(device.locations) == {
        "pools", "pools[0]", "pools[0].url", "pools[0].worker", "pools[0].password",
        "admin_password",
    }
    assert manifest.state_path is None and manifest.variables == {}
    assert manifest.path == tmp_path / "fleet.yaml"


def test_farm_template(tmp_path: Path) -> None:
    manifest = load(tmp_path, FARM)
    assert [d.name for d in manifest.devices] == ["miner-000", "miner-001", "miner-002"]
    assert manifest.state_path == ".fleetform/state.json"
    assert manifest.variables == {"farm_size": 3, "rack": "r1"}
    third = manifest.devices[2]
    assert third.labels == {"rack": "r1"}
    assert third.connection.credentials.password.get_secret_value() == (  # type: ignore[attr-defined]
        BOOT_SECRET)
    assert third.location is not None and third.location.template_line == 7
    assert third.locations["pools[0].worker"].template_line == 15
    assert third.locations["admin_password"].template_line == 16


def test_secrets_stay_out_of_rendered_text(tmp_path: Path) -> None:
    manifest = load(tmp_path, FARM)
    for secret in ENV.values():
        assert secret not in manifest.rendered
    assert "${env:MINER_ADMIN_PASSWORD}" in manifest.rendered
    assert "\x1e" not in manifest.rendered and "\x1f" not in manifest.rendered
    assert "miner-002" in manifest.rendered


def test_var_overrides_manifest_variable(tmp_path: Path) -> None:
    name, value = parse_var_assignment("farm_size=5")
    manifest = load(tmp_path, FARM, variables={name: value})
    assert len(manifest.devices) == 5
    assert manifest.variables["farm_size"] == 5


def test_var_file_and_precedence(tmp_path: Path) -> None:
    first = write(tmp_path, "farm_size: 2\nrack: r7\n", "site.yaml")
    second = write(tmp_path, "farm_size: 4\n", "more.yaml")
    manifest = load(tmp_path, FARM, var_files=[first])
    assert len(manifest.devices) == 2 and manifest.devices[0].labels == {"rack": "r7"}
    manifest = load(tmp_path, FARM, var_files=[first, second])
    assert len(manifest.devices) == 4
    manifest = load(tmp_path, FARM, var_files=[first, second], variables={"farm_size": 1})
    assert len(manifest.devices) == 1
    assert manifest.variables == {"farm_size": 1, "rack": "r7"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count=200", ("count", 200)),
        ("ratio=0.5", ("ratio", 0.5)),
        ("flag=true", ("flag", True)),
        ("name=miner", ("name", "miner")),
        ("quoted=\"007\"", ("quoted", "007")),
        ("empty=", ("empty", "")),
        ("eq=a=b", ("eq", "a=b")),
        ("seq=[1, 2]", ("seq", "[1, 2]")),
        ("url=stratum+tcp://p:1", ("url", "stratum+tcp://p:1")),
    ],
)
def test_parse_var_assignment(text: str, expected: tuple[str, object]) -> None:
    assert parse_var_assignment(text) == expected


def test_pool_password_from_env_is_sensitive(tmp_path: Path) -> None:
    text = VALID.replace("password: x", 'password: "${env:POOL_PASSWORD}"')
    (device,) = load(tmp_path, text).devices
    assert device.sensitive_paths == frozenset({"admin_password", "pools[0].password"})
    assert device.settings.pools[0].password == POOL_SECRET  # type: ignore[attr-defined]


def test_literal_escape_and_env_default(tmp_path: Path) -> None:
    text = VALID.replace("worker: farm.m1", 'worker: "$${env:NOT_A_SECRET}"').replace(
        '"${env:MINER_ADMIN_PASSWORD}"', "\"{{ env('UNSET_VARIABLE', 'fallback1') }}\"")
    (device,) = load(tmp_path, text).devices
    assert device.settings.pools[0].worker == "${env:NOT_A_SECRET}"  # type: ignore[attr-defined]
    assert device.settings.admin_password == SecretStr("fallback1")  # type: ignore[attr-defined]
    assert device.sensitive_paths == frozenset()


def test_empty_and_null_devices(tmp_path: Path) -> None:
    assert load(tmp_path, "devices: []\n").devices == ()
    assert load(tmp_path, "devices:\n").devices == ()


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    text = """\
        devices:
          - name: a
            provider: antminer
            connection: &conn {host: 10.0.0.1, timeout: 3}
            settings:
              pools: &pools
                - {url: "p.example.com:3333", worker: w}
              network: {mode: dhcp, hostname: a}
          - name: b
            provider: antminer
            connection:
              <<: *conn
              host: 10.0.0.2
            settings: {pools: *pools}
        """
    first, second = load(tmp_path, text).devices
    assert second.connection.timeout == 3  # type: ignore[attr-defined]
    assert second.settings.pools == first.settings.pools  # type: ignore[attr-defined]
    assert isinstance(first.settings.network, DhcpNetwork)  # type: ignore[attr-defined]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.yaml"
    path.write_bytes(VALID.replace("\n", "\r\n").encode())
    (device,) = load_manifest(path, environ=ENV, providers=PROVIDERS).devices
    assert device.locations["admin_password"].line == 12


def test_two_hundred_devices(tmp_path: Path) -> None:
    started = time.perf_counter()
    text = FARM.replace("127.0.1.{{ i + 1 }}", "10.{{ i // 250 }}.0.{{ i % 250 + 1 }}")
    manifest = load(tmp_path, text, variables={"farm_size": 200})
    elapsed = time.perf_counter() - started
    assert len(manifest.devices) == 200
    assert manifest.devices[199].locations["pools[0].url"].template_line == 15
    print(f"200 devices loaded in {elapsed:.3f}s")


def test_builtin_providers_are_used_by_default(tmp_path: Path) -> None:
    try:
        from fleetform.providers import builtin_providers

        builtin_providers()
    except ImportError:
        pytest.skip("the antminer provider class is not available yet")
    manifest = load_manifest(write(tmp_path, VALID), environ=ENV)
    assert manifest.devices[0].provider == "antminer"
