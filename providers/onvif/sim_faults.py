"""Fault knobs of the simulated TurretCam: a slow, lossy, rebooting or grumpy camera.

Why a dataclass of plain knobs: ``CameraSimulator.set_faults`` and
``fleetform simulate --fault DEVICE:KNOB=VALUE`` set them by name (see
:mod:`fleetform.faults`); counted knobs (``*_next``, ``reboot_after``)
count down as they strike and, when ``target`` is set, count only requests
whose ONVIF operation name contains it (``SetImagingSettings``, ``Set``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Strike = Literal["drop", "empty", "auth_fail", "fault", "reboot"]


@dataclass
class Faults:
    """Per-camera fault knobs, changed while the camera runs."""

    latency: float = 0.0  # seconds before every reply
    jitter: float = 0.0  # up to this many seconds more per reply, at random
    offline: bool = False  # every request: connection closed without an answer
    drop_next: int = 0  # the next N requests: closed unanswered and NOT processed
    drop_rate: float = 0.0  # chance any request is closed unanswered, not processed
    empty_next: int = 0  # the next N requests: "200 OK" with an empty body, not processed
    auth_fail_next: int = 0  # the next N requests: 401 with a fresh challenge, whatever the login
    fault_next: int = 0  # the next N requests: a SOAP fault ter:<fault_subcode>, not processed
    fault_subcode: str = "InvalidArgVal"  # the subcode fault_next answers with
    reboot_after: int = 0  # the Nth request from now reboots the camera: lost, no answer
    reboot_seconds: float = 0.5  # how long a reboot keeps the camera off the network
    ignore_sets: bool = False  # accept every Set, change nothing (same as camera.ignore_sets)
    target: str = ""  # counted knobs count only operations whose name contains this

    def strike(self, operation: str, rng: random.Random, needs_auth: bool) -> Strike | None:
        """The fault that hits a request for ``operation`` now, counting it down.

        ``auth_fail_next`` counts only operations that need a login (ONVIF
        serves GetSystemDateAndTime and GetServices without one).
        """
        if self.offline:
            return "drop"
        if self.target in operation:
            if self.reboot_after > 0:
                self.reboot_after -= 1
                if self.reboot_after == 0:
                    return "reboot"
            counted: tuple[Strike, ...] = ("drop", "empty", "auth_fail", "fault")
            for kind in counted:
                if kind == "auth_fail" and not needs_auth:
                    continue
                left: int = getattr(self, f"{kind}_next")
                if left > 0:
                    setattr(self, f"{kind}_next", left - 1)
                    return kind
        if self.drop_rate > 0 and rng.random() < self.drop_rate:
            return "drop"
        return None

    def delay(self, rng: random.Random) -> float:
        """Seconds to hold the next reply (latency plus jitter)."""
        return self.latency + (rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0)
