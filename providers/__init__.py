"""Device families fleetform can manage, one sub-package each.

Why an explicit function instead of a class-level registry: the set of
providers is visible in one place, import order cannot change it, and tests can
build an engine with any subset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetform.provider import Provider
    from fleetform.simulation import SimulatorStarter


def builtin_providers() -> dict[str, type[Provider]]:
    """Map provider name (the manifest's ``provider:``) to its class."""
    from fleetform.providers.antminer.provider import AntminerProvider
    from fleetform.providers.onvif.provider import TurretCamProvider
    from fleetform.providers.visca.provider import AverProvider

    return {
        provider.name: provider
        for provider in (AntminerProvider, AverProvider, TurretCamProvider)
    }


def builtin_simulators() -> dict[str, SimulatorStarter]:
    """Map provider name to the function that starts its simulators."""
    from fleetform.providers.antminer.simhost import start_miners
    from fleetform.providers.onvif.simhost import start_cameras as start_turretcams
    from fleetform.providers.visca.simhost import start_cameras as start_aver_cameras

    return {"antminer": start_miners, "aver": start_aver_cameras, "turretcam": start_turretcams}
