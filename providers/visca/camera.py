"""What fleetform does to one camera, in VISCA terms, over any transport.

Why a layer between provider and transport: the provider speaks settings
(power, presets, tracking); the transport speaks packets. :class:`Camera`
turns one into the other, checks the model matrix before sending (a command
the model lacks is refused here with the names of the models that have it),
and decides what may be sent again:

- ``41``/``03`` mean the camera did not run the command: every command is
  retried (:data:`BUSY_ATTEMPTS`, backoff 0.1 s → 0.5 s), bounded.
- A lost or garbled reply (timeout; error ``01`` from line noise) leaves
  fleetform not knowing whether the command ran. Inquiries and *absolute*
  commands (power on/off, modes, PT_Direct/Zoom_Direct, CAM_set/recall) end
  in the same state however often they run, so they are sent again
  (:data:`LOST_REPLY`). Relative commands (volume up/down, toggles,
  continuous moves, triggers; :data:`REPEAT_UNSAFE`) are not: the step fails
  and names the command, and the next apply re-reads and goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fleetform.device import Deadline
from fleetform.errors import DeviceRejected, DeviceTimeout
from fleetform.providers.visca import codec
from fleetform.providers.visca.matrix import support, supports
from fleetform.providers.visca.transport import ViscaLink, retry_busy
from fleetform.providers.visca.viscaerrors import MessageLengthError
from fleetform.retry import RetryPolicy, is_transient, retry_call

BUSY_ATTEMPTS = 25
BUSY_PAUSE = 0.1
#: A lost reply to a repeatable command or inquiry: three tries in all.
LOST_REPLY = RetryPolicy(attempts=3, base_delay=0.1, max_delay=1.0, jitter=0.05)
#: Commands whose effect depends on the camera's state: running one twice does it twice.
REPEAT_UNSAFE: frozenset[str] = frozenset({
    "ADO_Volume_Up", "ADO_Volume_Down", "ADO_Mute_Trigger", "PT_Menu", "PT_Calibration",
    "PT_Up", "PT_Down", "PT_Left", "PT_Right", "PT_UpLeft", "PT_UpRight", "PT_DownLeft",
    "PT_DownRight", "Zoom_Tele", "Zoom_Wide", "Focus_Far", "Focus_Near",
    "Focus_OnePush_Trigger", "WB_One_Push_Trigger", "WB_Rgain_Up", "WB_Rgain_Down",
    "WB_Bgain_Up", "WB_Bgain_Down", "AE_Gain_Up", "AE_Gain_Down", "ExpComp_Up", "ExpComp_Down",
    "Shutter_Up", "Shutter_Down", "Iris_Up", "Iris_Down", "Bright_Up", "Bright_Down",
    "CAM_Track_Trigger", "CAM_Enter", "Power_Reset",
})


def lost_reply(error: Exception) -> bool:
    """No usable answer: a timeout, a dropped link, or error 01 (a garbled packet)."""
    return is_transient(error) or isinstance(error, MessageLengthError)


@dataclass(frozen=True)
class Position:
    """Pan, tilt and zoom in VISCA units."""

    pan: int
    tilt: int
    zoom: int

    def close_to(self, other: Position, tolerance: int) -> bool:
        """True if every axis differs by at most ``tolerance`` units."""
        return (abs(self.pan - other.pan) <= tolerance and abs(self.tilt - other.tilt) <= tolerance
                and abs(self.zoom - other.zoom) <= tolerance)


class Camera:
    """One VISCA camera: its link, model, transport kind and chain address."""

    def __init__(self, link: ViscaLink, model: str, transport: str, address: int) -> None:
        self.link = link
        self.model = model
        self.transport = transport
        self.address = 1 if transport == "udp" else address

    def can(self, name: str) -> bool:
        """True if this model accepts ``name`` over this transport (per the matrix)."""
        return supports(self.model, name, self.transport)

    def _packet(self, name: str, args: dict[str, int]) -> bytes:
        if not self.can(name):
            allowed = ", ".join(support(name).models(self.transport)) or "no model"
            raise DeviceRejected(
                f"{self.model} does not support {name} over {self.transport}; "
                f"models that do: {allowed}"
            )
        try:
            return codec.encode(name, self.address, **args)
        except codec.ArgumentOutOfRange as exc:
            raise DeviceRejected(str(exc)) from exc

    def command(self, name: str, deadline: Deadline, *, wait: bool = True, **args: int) -> None:
        """Send a command, waiting out 41/03 (bounded), and for completion when ``wait``.

        A lost reply is retried only for commands outside :data:`REPEAT_UNSAFE`.
        """
        packet = self._packet(name, args)

        def attempt() -> None:
            retry_busy(lambda: self.link.command(name, packet, deadline, wait=wait), deadline,
                       attempts=BUSY_ATTEMPTS, pause=BUSY_PAUSE, step=name)

        if name in REPEAT_UNSAFE:
            attempt()
        else:
            retry_call(attempt, deadline=deadline, policy=LOST_REPLY, retryable=lost_reply)

    def inquire(self, name: str, deadline: Deadline) -> bytes:
        """Send an inquiry and return its data bytes (inquiries are always repeatable)."""
        packet = self._packet(name, {})

        def attempt() -> bytes:
            return retry_busy(lambda: self.link.inquire(name, packet, deadline), deadline,
                              attempts=BUSY_ATTEMPTS, pause=BUSY_PAUSE, step=name)

        return retry_call(attempt, deadline=deadline, policy=LOST_REPLY, retryable=lost_reply)

    # --- reads ------------------------------------------------------------------------

    def version(self, deadline: Deadline) -> codec.VersionInfo | None:
        """Version_Inq, or ``None`` where the model lacks it."""
        if not self.can("Version_Inq"):
            return None
        return codec.decode_version(self.inquire("Version_Inq", deadline))

    def power(self, deadline: Deadline) -> str | None:
        """``on``/``standby`` from Power_Status_Inq, or ``None`` where unsupported."""
        if not self.can("Power_Status_Inq"):
            return None
        return codec.decode_power(self.inquire("Power_Status_Inq", deadline))

    def position(self, deadline: Deadline) -> Position | None:
        """PT_Pos_Inq + Zoom_Pos_Inq, or ``None`` where the model lacks them."""
        if not (self.can("PT_Pos_Inq") and self.can("Zoom_Pos_Inq")):
            return None
        pan, tilt = codec.decode_pt_position(self.inquire("PT_Pos_Inq", deadline))
        zoom = codec.decode_zoom_position(self.inquire("Zoom_Pos_Inq", deadline))
        return Position(pan, tilt, zoom)

    def audio(self, deadline: Deadline) -> dict[str, Any]:
        """Mute and volume where the model answers those inquiries."""
        out: dict[str, Any] = {}
        if self.can("Ado_Mute_Inq"):
            out["mute"] = codec.decode_mute(self.inquire("Ado_Mute_Inq", deadline))
        if self.can("Ado_Volume_Inq"):
            out["volume"] = codec.decode_volume(self.inquire("Ado_Volume_Inq", deadline))
        return out

    # --- writes -----------------------------------------------------------------------

    def set_power(self, state: str, deadline: Deadline, settle: float) -> str | None:
        """Power on/standby, then poll Power_Status_Inq (where possible) until it shows."""
        self.command("Power_On" if state == "on" else "Power_Off", deadline)
        if not self.can("Power_Status_Inq"):
            return None
        waited = Deadline(settle)
        while True:
            live = self.power(deadline)
            if live == state:
                return live
            if waited.remaining() <= 0:
                return live
            deadline.check("power")
            time.sleep(min(0.1, deadline.remaining()))

    def go_to(self, target: Position, deadline: Deadline) -> None:
        """PT_Direct then Zoom_Direct, each waited to completion."""
        self.command("PT_Direct", deadline, pan=target.pan, tilt=target.tilt)
        self.command("Zoom_Direct", deadline, zoom=target.zoom)

    def store_preset(self, number: int, target: Position, deadline: Deadline) -> None:
        """Move to ``target``, wait for completion, then CAM_set ``number``."""
        self.go_to(target, deadline)
        self.command("CAM_set", deadline, preset=number)

    def measure_preset(self, number: int, deadline: Deadline) -> Position:
        """CAM_recall ``number``, wait for completion, read where the camera went."""
        self.command("CAM_recall", deadline, preset=number)
        where = self.position(deadline)
        if where is None:
            raise DeviceTimeout(f"{self.model} cannot report its position (no PT_Pos_Inq)")
        return where

    def set_volume(self, volume: int, deadline: Deadline) -> int:
        """Step ADO_Volume_Up/Down from the reported volume to ``volume`` (bounded)."""
        for _ in range(12):
            live = codec.decode_volume(self.inquire("Ado_Volume_Inq", deadline))
            if live == volume:
                return live
            self.command("ADO_Volume_Up" if live < volume else "ADO_Volume_Down", deadline)
        return codec.decode_volume(self.inquire("Ado_Volume_Inq", deadline))
