"""Start simulated miners for the antminer devices of a manifest.

Why: bridges the generic ``fleetform simulate`` / ``demo`` runner to the
miner simulator: each device gets a simulated S9 at its manifest address and
ports, logging in with the manifest's bootstrap credentials.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetform.device import DeviceSpec
from fleetform.faults import FaultMap
from fleetform.providers.antminer.models import AntminerConnection
from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator
from fleetform.simulation import Endpoint, SimulationOptions, require_loopback


class RunningMiners:
    """The miner simulator process-part started for a manifest."""

    def __init__(self, simulator: MinerSimulator, names: list[str]) -> None:
        self.simulator = simulator
        self._names = names

    @property
    def endpoints(self) -> list[Endpoint]:
        """Where each simulated miner listens (its current address)."""
        out = []
        for name in self._names:
            miner = self.simulator.miner(name)
            out.append(Endpoint(
                device=name,
                provider="antminer",
                description=(
                    f"http://{miner.host}:{miner.http_port}  rpc {miner.host}:{miner.rpc_port}"
                ),
            ))
        return out

    def stop(self) -> None:
        """Stop the simulator and every miner in it."""
        self.simulator.stop()

    def set_faults(self, faults: FaultMap) -> None:
        """Set fault knobs per miner (``{name: {knob: value}}``)."""
        self.simulator.set_faults(faults)


def miner_config(device: DeviceSpec, options: SimulationOptions) -> MinerConfig:
    """The simulated miner for one manifest device (factory state, bootstrap login)."""
    connection = device.connection
    assert isinstance(connection, AntminerConnection)
    require_loopback(device, connection.host)
    return MinerConfig(
        name=device.name,
        host=connection.host,
        http_port=connection.port,
        rpc_port=connection.rpc_port,
        username=connection.credentials.username,
        password=connection.credentials.password.get_secret_value(),
        restart_delay=options.restart_delay,
        network_delay=options.network_delay,
        latency=options.latency,
        jitter=options.jitter,
    )


def start_miners(devices: Sequence[DeviceSpec], options: SimulationOptions) -> RunningMiners:
    """Start one simulator hosting every given miner."""
    simulator = MinerSimulator()
    simulator.start()
    try:
        for device in devices:
            simulator.add(miner_config(device, options))
    except BaseException:
        simulator.stop()
        raise
    return RunningMiners(simulator, [d.name for d in devices])
