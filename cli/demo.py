"""``fleetform demo``: plan → apply → plan → drift, on simulated miners.

Why: the first thing a newcomer runs. It needs no hardware and no setup: it
starts simulated Antminer S9 Hydro miners on loopback, writes a Jinja-looped
manifest into a temporary directory and runs the real commands against them,
explaining each step. It exits 0 only if every step behaved as documented.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.rule import Rule

from fleetform.cli.context import make_console
from fleetform.cli.options import GlobalOptions, NoColorOpt
from fleetform.errors import FleetformError

if TYPE_CHECKING:  # imported when the demo runs: `fleetform --help` stays quick
    from rich.console import Console

    from fleetform.providers.antminer.simulator import SimulatedMiner

_MANIFEST = """\
# A Jinja2-looped farm: {{ miners }} miners, one manifest entry in the template.
variables:
  miners: {count}
  pool: stratum+tcp://pool.example.com:3333
devices:
{{% for i in range(miners) %}}
  - name: miner-{{{{ "%02d" % (i + 1) }}}}
    provider: antminer
    labels: {{rack: demo}}
    connection:
      host: {{{{ hosts[i] }}}}
      port: {{{{ http_ports[i] }}}}
      rpc_port: {{{{ rpc_ports[i] }}}}
    settings:
      pools:
        - url: "{{{{ pool }}}}"
          worker: "farm.miner{{{{ i + 1 }}}}"
        - url: stratum+tcp://backup.example.com:3333
          worker: "farm.miner{{{{ i + 1 }}}}"
      admin_password: "${{env:DEMO_MINER_PASSWORD}}"
      network:
        mode: dhcp
        hostname: "miner-{{{{ '%02d' % (i + 1) }}}}"
{{% endfor %}}
"""


def _run(console: Console, title: str, args: Sequence[str], expected: int) -> bool:
    """Run one fleetform command in-process, show it, and check its exit code."""
    from fleetform.cli.main import app

    console.print(Rule(title))
    console.print(f"[bold]$ fleetform {' '.join(args)}[/bold]\n")
    try:
        code = app(list(args), standalone_mode=False)
    except FleetformError as exc:
        console.print(f"[red]Error: {exc}[/red]")
        code = 1
    code = code if isinstance(code, int) else 0
    verdict = "as expected" if code == expected else f"UNEXPECTED (wanted {expected})"
    console.print(f"\n[dim]exit code {code}: {verdict}[/dim]\n")
    return code == expected


def _drift(miner: SimulatedMiner, password: str) -> None:
    """Change pool 1 through the miner's own web CGI, as a person would."""
    base = f"http://{miner.host}:{miner.http_port}/cgi-bin"
    import requests

    from fleetform.providers.antminer.codec import build_miner_conf_form, parse_miner_conf

    auth = requests.auth.HTTPDigestAuth("root", password)
    conf = parse_miner_conf(requests.get(f"{base}/get_miner_conf.cgi", auth=auth, timeout=10).text)
    pools = [{k: str(p.get(k, "")) for k in ("url", "user", "pass")} for p in conf.get("pools", [])]
    pools[0]["url"] = "stratum+tcp://rogue-pool.example.net:3333"
    body = build_miner_conf_form(pools, conf)
    reply = requests.post(f"{base}/set_miner_conf.cgi", data=body, auth=auth, timeout=30,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    reply.raise_for_status()


def demo(
    ctx: typer.Context,
    miners: Annotated[int, typer.Option("--miners", min=1, max=50, help="How many miners.")] = 3,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temporary directory (manifest, state).")
    ] = False,
    no_color: NoColorOpt = False,
    cameras: Annotated[
        bool,
        typer.Option("--cameras/--no-cameras", help="Also run the camera chapter (VISCA, ONVIF)."),
    ] = True,
) -> None:
    """Watch fleetform plan, apply and detect drift on simulated devices (no hardware).

    Starts simulated Antminer S9 Hydro miners on loopback, then runs:
    plan (changes) → apply → plan (no changes) → someone changes a pool on one
    miner behind fleetform's back → plan shows the drift with exit code 2.
    Then the same story for an AVer PTZ camera on a simulated RS-232 line and
    an Ajax TurretCam over ONVIF (skip with --no-cameras).
    """
    from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator

    options: GlobalOptions = ctx.obj or GlobalOptions()
    plain = no_color or options.no_color
    console = make_console(no_color=plain)
    workdir = Path(tempfile.mkdtemp(prefix="fleetform-demo-"))
    password = "demo-" + secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
    os.environ["DEMO_MINER_PASSWORD"] = password
    subnet = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
    simulator = MinerSimulator()
    ok = True
    try:
        simulator.start()
        sims = [
            simulator.add(MinerConfig(
                name=f"miner-{i + 1:02d}", host=f"{subnet}.{i + 1}", http_port=0, rpc_port=0,
                restart_delay=0.4, network_delay=0.2,
            ))
            for i in range(miners)
        ]
        manifest = workdir / "farm.yaml"
        manifest.write_text(textwrap.dedent(_MANIFEST.format(count=miners)), encoding="utf-8")
        var_file = workdir / "addresses.yaml"
        var_file.write_text(
            "# Where the simulated miners listen (ports chosen by the OS).\n"
            f"hosts: {json.dumps([s.host for s in sims])}\n"
            f"http_ports: {json.dumps([s.http_port for s in sims])}\n"
            f"rpc_ports: {json.dumps([s.rpc_port for s in sims])}\n",
            encoding="utf-8",
        )
        common = ["--state", str(workdir / "state.json"), "--var-file", str(var_file)]
        if plain:
            common.append("--no-color")
        console.print(
            f"[bold]fleetform demo[/bold]: {miners} simulated Antminer S9 Hydro miners on "
            f"{subnet}.1-{miners}, factory settings (login root/root, stock pools).\n"
            f"Manifest: {manifest}  (a Jinja loop; the admin password comes from "
            "${env:DEMO_MINER_PASSWORD} and is never shown)\n"
        )
        ok &= _run(console, "1. Plan: what would change on the fresh miners?",
                   ["plan", str(manifest), *common, "--detailed-exitcode"], 2)
        ok &= _run(console, "2. Apply: push pools, rotate the password, set hostnames; verify each",
                   ["apply", str(manifest), *common, "--auto-approve"], 0)
        ok &= _run(console, "3. Plan again: the farm matches the manifest",
                   ["plan", str(manifest), *common, "--detailed-exitcode"], 0)
        console.print(Rule("4. Drift: someone edits miner-02 by hand"))
        console.print(
            "A colleague logs into miner-02's web UI and points pool 1 at "
            "rogue-pool.example.net\n"
            "(an HTTP POST to set_miner_conf.cgi, behind fleetform's back).\n"
        )
        _drift(sims[1 % miners], password)
        ok &= _run(console, "5. Plan detects the drift (exit code 2 for a cron/CI job)",
                   ["plan", str(manifest), *common, "--detailed-exitcode"], 2)
        if cameras:
            from fleetform.cli.demo_cameras import camera_chapter

            camera_common = ["--state", str(workdir / "cameras-state.json")]
            if plain:
                camera_common.append("--no-color")
            ok &= camera_chapter(
                console, workdir, camera_common,
                lambda title, args, expected: _run(console, title, args, expected),
            )
    finally:
        simulator.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print(Rule("Done"))
    if ok:
        console.print(
            "Every step behaved as expected. Next: read README.md, try "
            "'fleetform simulate examples/lab.yaml' and plan against it from another terminal."
        )
    else:
        console.print("[bold red]Some step did not behave as expected (see above).[/bold red]")
        raise typer.Exit(1)
