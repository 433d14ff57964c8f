"""``fleetform simulate``: serve simulated devices for every device of a manifest.

Why: users test manifests in CI (or on a laptop) with no hardware: run the
simulators in one terminal and plan/apply against them from another.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from fleetform.cli.context import load_workspace, make_console
from fleetform.cli.options import GlobalOptions, ManifestArg, VarFileOpt, VarOpt


def simulate(
    ctx: typer.Context,
    manifest: ManifestArg,
    var: VarOpt = [],  # noqa: B006
    var_file: VarFileOpt = [],  # noqa: B006
    restart_delay: Annotated[
        float,
        typer.Option(
            "--restart-delay", min=0,
            help="Seconds a simulated miner's bmminer stays down after a pool change "
            "(real S9: 30-120 s).",
        ),
    ] = 0.5,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0, help="Stop after this many seconds (default: Ctrl-C)."),
    ] = None,
    fault: Annotated[
        list[str],
        typer.Option(
            "--fault",
            help="Inject a fault: DEVICE:KNOB=VALUE, e.g. s9-0001:drop_rate=0.2 or "
            "cam:not_executable_next=3 (repeatable; README lists the knobs per family).",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Run a simulator for every device in MANIFEST until interrupted.

    Each device is served at its connection host and ports (loopback
    addresses only, e.g. 127.0.1.1), with factory settings and the manifest's
    bootstrap credentials. Change a simulated device behind fleetform's back
    through its own API (e.g. curl --digest to the miner's CGI) to see drift.
    """
    from fleetform.faults import parse_faults
    from fleetform.providers import builtin_simulators
    from fleetform.simulation import SimulationOptions, start_simulation

    options: GlobalOptions = ctx.obj or GlobalOptions()
    console = make_console(no_color=options.no_color)
    workspace = load_workspace(manifest, variables=var, var_files=var_file)
    faults = parse_faults(fault)
    simulation = start_simulation(
        workspace.manifest.devices, builtin_simulators(),
        SimulationOptions(restart_delay=restart_delay),
    )
    try:
        simulation.set_faults(faults)
        console.print(f"Simulating {len(simulation.endpoints)} device(s) from {manifest}:")
        for endpoint in simulation.endpoints:
            console.print(f"  {endpoint.device:<20} {endpoint.provider:<10} {endpoint.description}")
        console.print(
            f"\nReady. In another terminal: fleetform plan {manifest}\nPress Ctrl-C to stop."
        )
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        console.print("\nStopping simulators.")
    finally:
        simulation.stop()
