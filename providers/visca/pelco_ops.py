"""Pelco-D / Pelco-P cameras: what fleetform can and cannot do without replies.

Why separate: Pelco never answers, so nothing is readable, every setting is
tracked, and only settings with a Pelco command can be applied: power (the
cmd1 camera on/off bits) and tracking on/off (AVer's extended Track ON/OFF).
Pelco has no absolute positioning, so a preset's pan/tilt/zoom cannot be set
through it: such a plan is refused with a message saying to use VISCA.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetform.device import DeviceSpec
from fleetform.errors import DeviceRejected
from fleetform.plan import Change
from fleetform.provider import ApplyRequest, ApplyResponse, ReadResponse
from fleetform.providers.visca import pelco
from fleetform.providers.visca.models import AverConnection
from fleetform.providers.visca.transport import PelcoSerial

PELCO_SETTINGS = ("power", "tracking")
TRACK_MODES = {"auto": "track_on", "off": "track_off"}


def read(device: DeviceSpec, connection: AverConnection) -> ReadResponse:
    """Nothing can be read: an empty live view and a warning that says why."""
    return ReadResponse(
        address=connection.endpoint, identity={}, live={},
        facts={"transport": connection.transport, "observed": {}},
        warnings=(f"{connection.transport} cameras never reply: fleetform cannot read "
                  f"'{device.name}' and tracks every setting from state",),
    )


def plan_warnings(device: DeviceSpec, changes: Sequence[Change]) -> tuple[str, ...]:
    """Warn at plan time about changes Pelco cannot carry out."""
    blocked = sorted({c.setting for c in changes} - set(PELCO_SETTINGS))
    if not blocked:
        return ()
    return (f"'{device.name}' uses Pelco, which can only set {', '.join(PELCO_SETTINGS)}; "
            f"applying {', '.join(blocked)} will fail (use transport serial/udp for VISCA)",)


def apply(link: PelcoSerial, request: ApplyRequest) -> ApplyResponse:
    """Send the Pelco frames for power or tracking; anything else is refused."""
    connection = request.device.connection
    assert isinstance(connection, AverConnection)
    variant: pelco.Variant = "pelco-d" if connection.transport == "pelco-d" else "pelco-p"
    desired: Any = request.device.desired()[request.setting]
    address, deadline = connection.address, request.deadline
    if request.setting == "power":
        frame = pelco.power(variant, address, "on" if desired == "on" else "off")
        link.send(frame, deadline, "power")
        return ApplyResponse(observed=desired)
    if request.setting == "tracking" and set(desired) <= {"mode"}:
        command = TRACK_MODES.get(desired.get("mode", ""))
        if command is None:
            raise DeviceRejected(
                f"Pelco can only turn tracking on (mode auto) or off, not {desired.get('mode')!r}"
            )
        link.send(pelco.extended(variant, address, command), deadline, "tracking")
        return ApplyResponse(observed=desired)
    raise DeviceRejected(
        f"{request.setting} cannot be set over {connection.transport}: Pelco only has "
        f"power, tracking on/off and store-current-position presets (no absolute "
        f"pan/tilt/zoom); use transport serial or udp (VISCA)"
    )
