"""Secrets audit: no secret in any output, file or log, across every provider and command.

A mixed fleet (two S9 miners, an AVer CAM570 over VISCA/UDP, a TurretCam
over ONVIF) is driven through the real CLI at ``--log-level debug`` in text
and JSON modes: validate, plan (and a saved plan), show (the plan in text,
JSON and Markdown; the state), apply (the saved plan, then ``--json``, then
text), status, drift (text, JSON, JUnit, Markdown files), refresh-only,
state list/show and import (from the manifest and from addresses, with a
literal password on the command line). The secrets are the miners' admin
password, pool password and bootstrap login, and the ONVIF password (AVer
cameras have none: VISCA has no authentication), each with characters that
URL encoding changes. After every command stdout, stderr and every log
record are scanned for every spelling of every secret (raw, URL/form
encoded, JSON/HTML escaped, base64), and at the end every file the run
wrote: state and its backup, the lock note, plan files, drift reports and
imported manifests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from audit_fleet import SECRETS, AuditFleet, RecordCollector, audit_fleet, find_secrets
from conftest import next_subnet

from fleetform.logs import REDACTED, RedactingFilter


@pytest.fixture
def fleet(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditFleet]:  # type: ignore[no-untyped-def]
    """The running fleet, with its secrets in the environment."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    with audit_fleet(tmp_path, next_subnet()) as running:
        yield running


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> RecordCollector:
    """Every record the CLI's logging emits, collected beside its own stderr handler.

    The CLI replaces the root handlers when it configures logging, so the
    collector is added right after, with the same redacting filter the CLI's
    handler has: what it sees is what any log destination would receive.
    """
    from fleetform import logs

    collector = RecordCollector()
    original = logs.configure_logging

    def configure(level: str) -> None:
        original(level)
        collector.addFilter(logs.redacting_filter())
        logging.getLogger().addHandler(collector)

    monkeypatch.setattr("fleetform.cli.main.configure_logging", configure)
    return collector


class Auditor:
    """Runs commands and records where a secret showed up."""

    def __init__(self, cli, records: RecordCollector) -> None:  # type: ignore[no-untyped-def]
        self.cli = cli
        self.records = records
        self.leaks: list[str] = []
        self.ran: list[str] = []

    def run(self, *args: str, expect: tuple[int, ...] = (0,)) -> str:
        """Run ``fleetform --log-level debug ARGS``; check its exit code and scan everything."""
        start = len(self.records.lines)
        result = self.cli("--log-level", "debug", *args)
        label = " ".join(a for a in args if not a.startswith("/"))
        self.ran.append(label)
        assert result.code in expect, f"{label}: exit {result.code}\n{result.all[-3000:]}"
        assert "Traceback" not in result.all, f"{label}:\n{result.all[-3000:]}"
        for where, text in (("stdout", result.out), ("stderr", result.err),
                            ("log records", "\n".join(self.records.lines[start:]))):
            self.leaks += [f"{label}: {where}: {hit}" for hit in find_secrets(text)]
        return result.out


def test_no_secret_in_any_output_file_or_log(fleet: AuditFleet, cli, records) -> None:  # type: ignore[no-untyped-def]
    audit = Auditor(cli, records)
    manifest, common = str(fleet.manifest), fleet.common()
    plan_file = str(fleet.workdir / "site.plan")

    audit.run("validate", manifest, "--var-file", common[1])
    audit.run("validate", manifest, "--var-file", common[1], "--json")
    audit.run("plan", manifest, *common)
    planned = json.loads(audit.run("plan", manifest, *common, "--json"))
    assert {d["name"] for d in planned["devices"]} == {"miner-1", "miner-2", "ptz-1", "turret-1"}
    assert any(c["sensitive"] for d in planned["devices"] for c in d["changes"])
    audit.run("plan", manifest, *common, "--out", plan_file)
    audit.run("show", plan_file, "--no-color")
    audit.run("show", plan_file, "--json")
    audit.run("show", plan_file, "--format", "markdown")
    # Import reads with the connection block only: before the admin password rotates.
    imported = fleet.workdir / "imported"
    imported.mkdir()
    audit.run("import", manifest, *common[:4], "-o", str(imported / "from-manifest.yaml"))
    audit.run("import", manifest, *common[:4])  # to stdout
    audit.run("apply", plan_file, "--state", str(fleet.state), "--no-color")
    audit.run("plan", manifest, *common, "--detailed-exitcode")  # converged
    audit.run("status", manifest, *common)
    audit.run("status", manifest, *common, "--json")
    audit.run("show", "--state", str(fleet.state), "--no-color")
    audit.run("show", "--state", str(fleet.state), "--json")
    audit.run("state", "list", "--state", str(fleet.state))
    audit.run("state", "show", "--state", str(fleet.state))

    # Behind fleetform's back: a pool on a miner, the PTZ's power, the TurretCam's image.
    fleet.miners[0].set_pools([{"url": "stratum+tcp://rogue.example.net:3333",
                                "user": "someone", "pass": "x"}])
    assert fleet.aver is not None and fleet.turret is not None
    fleet.aver.simulator.camera("ptz-1").set_power("standby")
    fleet.turret.simulator.camera("turret-1").mutate(
        lambda state: setattr(state.imaging, "brightness", 80.0))  # type: ignore[attr-defined]
    reports = fleet.workdir / "reports"
    reports.mkdir()
    audit.run("drift", manifest, *common, expect=(2,))
    audit.run("drift", manifest, *common, "--format", "json", expect=(2,))
    audit.run("drift", manifest, *common, "--format", "junit", "-o", str(reports / "d.xml"),
              "--format", "markdown", "-o", str(reports / "d.md"),
              "--format", "json", "-o", str(reports / "d.json"),
              "--format", "text", "-o", str(reports / "d.txt"), expect=(2,))
    audit.run("apply", manifest, *common, "--json", "--auto-approve")
    audit.run("apply", manifest, *common, "--refresh-only", "--json", "--auto-approve")

    fleet.miners[1].set_pools([{"url": "stratum+tcp://rogue.example.net:3333",
                                "user": "someone", "pass": "x"}])
    audit.run("apply", manifest, *common, "--auto-approve")  # text mode
    audit.run("plan", manifest, *common, "--detailed-exitcode")

    miner = fleet.miners[0]
    # A literal password on the command line must come out as an ${env:} reference.
    audit.run("import", "--provider", "antminer", "--address", f"{miner.host}:{miner.http_port}",
              "--connection", f"rpc_port={miner.rpc_port}",
              "--connection", f"credentials.password={SECRETS['AUDIT_ADMIN_PASSWORD']}",
              "--state", str(fleet.state), "-o", str(imported / "from-address.yaml"))
    audit.run("import", "--provider", "turretcam",
              "--address", fleet.turret_address,
              "--connection", "password=${env:AUDIT_ONVIF_PASSWORD}", "--state",
              str(fleet.state))  # to stdout

    written = []
    for path in fleet.written_files():
        if path.name == "fleet.yaml":
            continue  # the input manifest (it holds only ${env:} references anyway)
        written.append(path.relative_to(fleet.workdir).as_posix())
        text = path.read_bytes().decode("utf-8", errors="replace")
        audit.leaks += [f"file {path.name}: {hit}" for hit in find_secrets(text)]
    assert {"state/state.json", "state/state.json.backup", "site.plan", "reports/d.xml",
            "reports/d.md", "reports/d.json", "imported/from-manifest.yaml",
            "imported/from-address.yaml"} <= set(written), written
    assert "${env:" in (imported / "from-address.yaml").read_text()
    print(f"\nsecrets audit: {len(audit.ran)} command(s), {len(written)} file(s), "
          f"{len(records.lines)} log record(s), {len(SECRETS)} secret(s) scanned")
    assert not audit.leaks, "\n".join(audit.leaks)


def test_the_log_filter_redacts_exception_text_and_stacks() -> None:
    """A secret inside a logged exception or stack is redacted like one in the message."""
    secret = SECRETS["AUDIT_ONVIF_PASSWORD"]
    redactor = RedactingFilter()
    redactor.add([secret])
    collector = RecordCollector()
    collector.addFilter(redactor)
    logger = logging.getLogger("fleetform.audit-test")
    logger.addHandler(collector)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"login failed for admin:{secret}@camera")
        except ValueError:
            logger.exception("reading %s failed", "turret-1", stack_info=True)
        logger.debug("password=%s", secret)
    finally:
        logger.removeHandler(collector)
        logger.propagate = True
    text = "\n".join(collector.lines)
    assert secret not in text and REDACTED in text
    assert "ValueError" in text and "turret-1" in text


def test_the_scanner_finds_every_spelling() -> None:
    """The audit is only as good as its scanner: encoded secrets are found too."""
    secret = SECRETS["AUDIT_ADMIN_PASSWORD"]
    for form in ("GET /cgi-bin/passwd.cgi?new=Aud1t%21Admin%23Secret~q7",
                 '{"password": "' + secret + '"}', "QXVkMXQhQWRtaW4jU2VjcmV0fnE3"):
        assert find_secrets(form), form
    assert not find_secrets("password: (sensitive)")
