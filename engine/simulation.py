"""Run device simulators for every device of a manifest.

Why: the simulators are a product feature (users test manifests in CI with no
hardware); ``fleetform simulate`` and ``fleetform demo`` start them through
this one interface, whatever the device family.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fleetform.device import DeviceSpec
from fleetform.errors import FleetformError

if TYPE_CHECKING:  # faults imports SimulatorError from here
    from fleetform.faults import FaultMap


class SimulatorError(FleetformError):
    """A simulator could not start (address not on loopback, port taken, ...)."""


@dataclass(frozen=True)
class SimulationOptions:
    """Knobs that make simulated devices faster or slower than real ones.

    Why: real miners take 30-120 s to restart after a pool change; a demo or
    a CI job wants the same behaviour in a fraction of a second.
    """

    restart_delay: float = 0.5
    network_delay: float = 0.2
    latency: float = 0.0
    """Seconds added before every reply (a slow management network), per request."""
    jitter: float = 0.0
    """Up to this many seconds more, uniformly random, per request."""


@dataclass(frozen=True)
class Endpoint:
    """Where one simulated device listens, for display."""

    device: str
    provider: str
    description: str


class RunningSimulation(Protocol):
    """Simulators started for a set of devices; stop them when done."""

    @property
    def endpoints(self) -> list[Endpoint]:
        """Where each simulated device listens."""
        ...

    def stop(self) -> None:
        """Stop every simulated device."""
        ...

    def set_faults(self, faults: FaultMap) -> None:
        """Set fault knobs per device: ``{device: {knob: value}}`` (see engine/faults.py)."""
        ...


SimulatorStarter = Callable[[Sequence[DeviceSpec], SimulationOptions], RunningSimulation]


def require_loopback(device: DeviceSpec, host: str) -> None:
    """Simulators only bind loopback addresses; say so clearly otherwise."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise SimulatorError(
            f"device '{device.name}': simulators listen on loopback addresses only "
            f"(127.0.0.0/8), but connection.host is '{host}'. Use e.g. 127.0.1.1 in a "
            "manifest meant for 'fleetform simulate'."
        )


class Simulation:
    """All simulators for one manifest, across providers."""

    def __init__(
        self, parts: dict[str, RunningSimulation], providers: dict[str, str] | None = None
    ) -> None:
        self._parts = parts
        self._providers = providers or {}

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every simulated device's endpoint."""
        return [e for part in self._parts.values() for e in part.endpoints]

    def stop(self) -> None:
        """Stop all simulators."""
        for part in self._parts.values():
            part.stop()

    def set_faults(self, faults: FaultMap) -> None:
        """Route each device's fault knobs to the simulator of its family.

        Why: ``fleetform simulate --fault DEVICE:KNOB=VALUE`` names devices,
        not families; each family checks and converts its own knobs.
        """
        unknown = sorted(set(faults) - set(self._providers))
        if unknown:
            raise SimulatorError(
                f"--fault names unknown device(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self._providers))}"
            )
        for provider, part in self._parts.items():
            mine = {d: k for d, k in faults.items() if self._providers[d] == provider}
            if mine:
                part.set_faults(mine)


def start_simulation(
    devices: Sequence[DeviceSpec],
    starters: dict[str, SimulatorStarter],
    options: SimulationOptions | None = None,
) -> Simulation:
    """Start simulators for every device, grouped by provider."""
    options = options or SimulationOptions()
    parts: dict[str, RunningSimulation] = {}
    try:
        for provider in sorted({d.provider for d in devices}):
            starter = starters.get(provider)
            if starter is None:
                raise SimulatorError(f"no simulator for provider '{provider}'")
            parts[provider] = starter([d for d in devices if d.provider == provider], options)
    except BaseException:
        Simulation(parts).stop()
        raise
    return Simulation(parts, {d.name: d.provider for d in devices})
