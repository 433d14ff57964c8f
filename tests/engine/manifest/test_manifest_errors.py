"""Bad manifests: each must give ONE clear, located message and no traceback.

Why: the manifest is the product's user interface; every mistake a user can
make must name the file, line, column, field path and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from manifest_helpers import ADMIN_SECRET, BOOT_SECRET, POOL_SECRET, one_problem, problems

DEVICE_HEAD = """\
devices:
  - name: miner-1
    provider: antminer
    connection:
      host: 10.0.0.11
"""

# (id, manifest, line, column or None, field, device, substrings of the message)
CASES: list[tuple[str, str, int, int | None, str | None, str | None, tuple[str, ...]]] = [
    (
        "bad-indentation",
        "devices:\n  - name: a\n     provider: antminer\n",
        3, 14, None, None, ("mapping values are not allowed here", "indentation"),
    ),
    (
        "tab-indentation",
        "devices:\n\t- name: a\n",
        2, 1, None, None, ("tab character in indentation",),
    ),
    (
        "unclosed-quote",
        "devices:\n  - name: 'miner-1\n    provider: antminer\n",
        2, 11, None, None, ("unclosed quote",),
    ),
    (
        "bad-jinja-syntax",
        "devices:\n{% for i in range(3) %}\n  - name: m{{ i }}\n",
        3, None, None, None, ("template syntax error", "'endfor'", "'for'"),
    ),
    (
        "bad-jinja-expression",
        "devices: []\n# {{ 1 + }}\nstate: {}\n",
        2, None, None, None, ("template syntax error", "unexpected 'end of print statement'"),
    ),
    (
        "undefined-jinja-variable",
        "devices:\n{% for i in range(farm_size) %}\n  - name: m{{ i }}\n{% endfor %}\n",
        2, None, None, None, ("undefined template variable 'farm_size'", "--var farm_size="),
    ),
    (
        "unknown-top-level-key",
        "devices: []\nstatus: {path: x}\n",
        2, 1, "status", None,
        ("unknown top-level key 'status'", "allowed: devices, drift, state, variables"),
    ),
    (
        "unknown-device-key",
        DEVICE_HEAD + "    setings: {}\n",
        6, 5, "devices[0].setings", "miner-1",
        ("unknown device key 'setings'",
         "allowed: connection, drift, labels, name, provider, settings"),
    ),
    (
        "unknown-settings-field",
        DEVICE_HEAD + "    settings:\n      fan_speed: 80\n",
        7, 7, "devices[0].settings.fan_speed", "miner-1",
        ("unknown field 'fan_speed'", "allowed: admin_password, network, pools"),
    ),
    (
        "wrong-type-port",
        DEVICE_HEAD + '      port: "eighty"\n',
        6, 13, "devices[0].connection.port", "miner-1", ("expected an integer", "got 'eighty'"),
    ),
    (
        "four-pools",
        DEVICE_HEAD + "    settings:\n      pools:\n"
        + "".join(f"        - {{url: p{i}.example.com:3333, worker: w{i}}}\n" for i in range(4)),
        8, 9, "devices[0].settings.pools", "miner-1", ("at most 3 pools (got 4)",),
    ),
    (
        "bad-pool-url",
        DEVICE_HEAD + "    settings:\n      pools:\n"
        "        - {url: 'pool.example.com', worker: w}\n",
        8, 17, "devices[0].settings.pools[0].url", "miner-1", ("must be a stratum URL",),
    ),
    (
        "pool-worker-with-space",
        DEVICE_HEAD + "    settings:\n      pools:\n"
        "        - {url: 'pool.example.com:3333', worker: 'farm m1'}\n",
        8, 50, "devices[0].settings.pools[0].worker", "miner-1", ("contains ' '", "allowed:"),
    ),
    (
        "pool-password-with-ampersand",
        DEVICE_HEAD + "    settings:\n      pools:\n"
        "        - {url: 'pool.example.com:3333', worker: w, password: 'Sup3r&Secret'}\n",
        8, 63, "devices[0].settings.pools[0].password", "miner-1", ("contains '&'",),
    ),
    (
        "duplicate-device-names",
        DEVICE_HEAD + "  - name: miner-1\n    provider: antminer\n"
        "    connection: {host: 10.0.0.12}\n",
        6, 11, "devices[1].name", "miner-1",
        ("duplicate device name 'miner-1'", "first defined at line 2"),
    ),
    (
        "missing-env-secret",
        DEVICE_HEAD + "    settings:\n      admin_password: ${env:NOT_EXPORTED}\n",
        7, 23, "devices[0].settings.admin_password", "miner-1",
        ("environment variable NOT_EXPORTED is not set", "export NOT_EXPORTED"),
    ),
    (
        "unknown-provider",
        "devices:\n  - name: cam-1\n    provider: axis\n    connection: {host: 10.0.0.9}\n",
        3, 15, "devices[0].provider", "cam-1",
        ("unknown provider 'axis'", "registered providers: antminer"),
    ),
    (
        "missing-name",
        "devices:\n  - provider: antminer\n    connection: {host: 10.0.0.9}\n",
        2, 5, "devices[0]", None, ("'name' is required",),
    ),
    (
        "bad-device-name",
        "devices:\n  - name: 'miner 1'\n    provider: antminer\n    connection: {host: 10.0.0.9}\n",
        2, 11, "devices[0].name", None, ("must start with a letter or digit", "got 'miner 1'"),
    ),
    (
        "static-network-without-gateway",
        DEVICE_HEAD + "    settings:\n      network:\n        mode: static\n"
        "        ip: 10.0.0.50\n        netmask: 255.255.255.0\n        dns: [1.1.1.1]\n",
        7, 7, "devices[0].settings.network.gateway", "miner-1",
        ("required field 'gateway' is missing",),
    ),
    (
        "gateway-outside-subnet",
        DEVICE_HEAD + "    settings:\n      network:\n        mode: static\n"
        "        ip: 10.0.0.50\n        netmask: 255.255.255.0\n        gateway: 10.0.1.1\n"
        "        dns: [1.1.1.1]\n",
        11, 18, "devices[0].settings.network.gateway", "miner-1",
        ("gateway 10.0.1.1 is not inside 10.0.0.0/24",),
    ),
    (
        "bad-netmask",
        DEVICE_HEAD + "    settings:\n      network:\n        mode: static\n"
        "        ip: 10.0.0.50\n        netmask: 255.0.255.0\n        gateway: 10.0.0.1\n"
        "        dns: [1.1.1.1]\n",
        10, 18, "devices[0].settings.network.netmask", "miner-1",
        ("255.0.255.0 is not a contiguous netmask",),
    ),
    (
        "bad-network-mode",
        DEVICE_HEAD + "    settings:\n      network: {mode: manual}\n",
        7, 23, "devices[0].settings.network.mode", "miner-1",
        ("mode must be one of: dhcp, static", "got 'manual'"),
    ),
    (
        "duplicate-host",
        DEVICE_HEAD + "  - name: miner-2\n    provider: antminer\n"
        "    connection: {host: 10.0.0.11}\n",
        8, 24, "devices[1].connection.host", "miner-2",
        ("same address 10.0.0.11:80 as device 'miner-1' (line 5)", "configured twice"),
    ),
    (
        "variables-with-jinja",
        "variables:\n  size: {{ 3 }}\ndevices: []\n",
        2, 9, "variables", None, ("variables: block must be plain YAML",),
    ),
    (
        "duplicate-yaml-key",
        DEVICE_HEAD + "      host: 10.0.0.12\n",
        6, 7, None, None, ("duplicate key 'host'", "starts at line 5"),
    ),
    (
        "custom-yaml-tag",
        DEVICE_HEAD + "    labels: !secret {rack: r1}\n",
        6, 13, None, None, ("unsupported YAML tag !secret",),
    ),
    (
        "malformed-secret-reference",
        DEVICE_HEAD + "    settings:\n      admin_password: ${env:bad-name}\n",
        7, 23, "devices[0].settings.admin_password", "miner-1",
        ("malformed secret reference",),
    ),
    (
        "label-not-a-string",
        DEVICE_HEAD + "    labels: {rack: 1}\n",
        6, 20, "devices[0].labels.rack", "miner-1", ("label values must be strings",),
    ),
    (
        "devices-missing",
        "state: {path: s.json}\n",
        1, 1, None, None, ("'devices' is required",),
    ),
    (
        "port-out-of-range",
        DEVICE_HEAD + "      port: 70000\n",
        6, 13, "devices[0].connection.port", "miner-1", ("must be <= 65535", "got 70000"),
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "field", "device", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_manifest_gives_one_located_message(
    tmp_path: Path, text: str, line: int, column: int | None, field: str | None,
    device: str | None, expected: tuple[str, ...],
) -> None:
    problem = one_problem(tmp_path, text)
    assert problem.location is not None
    assert problem.location.file == str(tmp_path / "fleet.yaml")
    assert (problem.location.line, problem.field, problem.device) == (line, field, device), problem
    if column is not None:
        assert problem.location.column == column, problem
    for fragment in expected:
        assert fragment in problem.message, problem
    assert str(problem).startswith(f"{tmp_path / 'fleet.yaml'}:{line}:")


def test_case_count() -> None:
    assert len(CASES) >= 18


def test_loop_device_names_device_and_template_line(tmp_path: Path) -> None:
    text = """\
        variables:
          count: 3
        devices:
        {% for i in range(count) %}
          - name: miner-{{ i }}
            provider: antminer
            connection:
              host: 10.0.1.{{ i + 1 }}
              port: {{ 80 if i != 2 else "http" }}
        {% endfor %}
        """
    problem = one_problem(tmp_path, text)
    assert problem.device == "miner-2"
    assert problem.field == "devices[2].connection.port"
    assert problem.location is not None
    assert problem.location.template_line == 9
    assert problem.location.line == 18  # rendered line: 3 + 3 devices x 5 lines
    assert "expected an integer" in problem.message
    assert "miner-2" in str(problem) and "template line 9" in str(problem)


def test_all_problems_are_collected_and_sorted(tmp_path: Path) -> None:
    text = DEVICE_HEAD + "      port: x\n    settings: {fan: 1}\n" + (
        "  - name: miner-2\n    provider: nope\n"
    )
    found = problems(tmp_path, text)
    lines = [p.location.line for p in found if p.location]
    assert lines == sorted(lines) and len(found) == 3
    assert {p.device for p in found} == {"miner-1", "miner-2"}


def test_runtime_template_error_names_line(tmp_path: Path) -> None:
    text = "devices: []\nx: {{ 1 // 0 }}\n"
    problem = one_problem(tmp_path, text)
    assert problem.location is not None and problem.location.line == 2
    assert "ZeroDivisionError" in problem.message


def test_sandbox_blocks_python_internals(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, "devices: []\nx: {{ ''.__class__.__mro__ }}\n")
    assert problem.location is not None and problem.location.line == 2


def test_unreadable_manifest(tmp_path: Path) -> None:
    from fleetform.errors import ManifestError
    from fleetform.manifest import load_manifest

    with pytest.raises(ManifestError, match="cannot read manifest"):
        load_manifest(tmp_path / "missing.yaml", providers={})


@pytest.mark.parametrize(
    ("settings", "secret"),
    [
        ("admin_password: 5", None),
        ("admin_password: 'has space ${env:MINER_ADMIN_PASSWORD}'", ADMIN_SECRET),
        ("pools: [{url: 'p.example.com:1', worker: w, password: 'Sup3r&Secret'}]",
         "Sup3r&Secret"),
        ("pools: [{url: 'p.example.com:1', worker: w, password: ['${env:POOL_PASSWORD}']}]",
         POOL_SECRET),
    ],
)
def test_sensitive_values_are_never_echoed(tmp_path: Path, settings: str,
                                           secret: str | None) -> None:
    text = DEVICE_HEAD + (
        '      credentials: {password: "${env:MINER_BOOTSTRAP_PASSWORD}", extra: 1}\n'
        f"    settings:\n      {settings}\n"
    )
    found = problems(tmp_path, text)
    joined = "\n".join(str(p) for p in found)
    assert BOOT_SECRET not in joined
    if secret is not None:
        assert secret not in joined
    assert "Sup3r" not in joined


def test_connection_password_type_error_is_redacted(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, DEVICE_HEAD + "      credentials: {password: 123456}\n")
    assert problem.field == "devices[0].connection.credentials.password"
    assert "123456" not in problem.message and "REDACTED" in problem.message


def test_var_errors(tmp_path: Path) -> None:
    from fleetform.errors import ManifestError
    from fleetform.manifest import parse_var_assignment

    for bad in ("novalue", "=3", "bad-name=3", " =x"):
        with pytest.raises(ManifestError, match="--var expects NAME=VALUE"):
            parse_var_assignment(bad)
    var_file = tmp_path / "vars.yaml"
    var_file.write_text("- a\n- b\n", encoding="utf-8")
    found = problems(tmp_path, "devices: []\n", var_files=[var_file])
    assert "a variables file must be a mapping" in found[0].message
    assert found[0].location is not None and found[0].location.file == str(var_file)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1\n", encoding="utf-8")
    found = problems(tmp_path, "devices: []\n", var_files=[broken])
    assert found[0].location is not None and found[0].location.file == str(broken)


def test_errors_in_variables_block_use_file_lines(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, "# c\nvariables:\n  a: [1\n  b: 2\ndevices: []\n")
    assert problem.location is not None and problem.location.line in (4, 5)
