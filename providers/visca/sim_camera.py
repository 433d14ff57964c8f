"""One simulated AVer camera: what it does with a VISCA or Pelco packet, and when.

Why time-based and thread-free: a camera is a state machine that, given a
packet and the current time, returns the replies it will send and *when*
(ACK now, completion after the move). The line or UDP thread that owns the
camera schedules those sends, so one thread can serve a whole daisy chain
and movement takes realistic, speed-based time without a thread per camera.

Behaviour follows the seed and protocols.md §2: two command sockets (a third
command while both are busy gets ``60 03``), ``41`` during power transitions
and in standby, ``02`` for commands this model lacks (per the matrix), presets
stored with ``CAM_set`` and recalled with ``CAM_recall``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetform.providers.visca import codec, pelco
from fleetform.providers.visca.commands import ROWS
from fleetform.providers.visca.matrix import LIMITS, MODELS, supports

Protocol = Literal["visca", "pelco-d", "pelco-p"]

#: Simulator-only identity numbers (AVer publishes no vendor/model ids).
SIM_VENDOR_ID = 0x0520
SIM_MODEL_IDS = {model: 0x0100 + index for index, model in enumerate(MODELS)}

#: Command -> (state key, value) for commands that just set a mode.
MODE_EFFECTS: dict[str, tuple[str, Any]] = {
    "Focus_Auto_Mode": ("focus_mode", "auto"), "Focus_Manual_Mode": ("focus_mode", "manual"),
    "WB_Auto_Mode": ("white_balance", "auto"), "WB_One_Push_Mode": ("white_balance", "one_push"),
    "WB_Manual_Mode": ("white_balance", "manual"), "AE_Auto_Mode": ("exposure_mode", "auto"),
    "Backlight_On": ("backlight_wdr", "on"), "Backlight_Off": ("backlight_wdr", "off"),
    "CAM_Track_Disable": ("tracking", "off"), "CAM_Track_Auto": ("tracking", "auto"),
    "CAM_Track_Manual": ("tracking", "manual"), "CAM_Track_Audio_Tracking": ("tracking", "audio"),
    "CAM_Track_Audio_Frame": ("tracking", "audio_frame"),
    "CAM_Track_Audio_Preset": ("tracking", "audio_preset"),
    "CAM_Track_Presentation": ("tracking", "presentation"),
    "CAM_Track_Preset": ("tracking", "preset"),
    "CAM_Track_Smart_Composition": ("tracking", "smart_composition"),
    "CAM_Track_Gesture_On": ("gesture", True), "CAM_Track_Gesture_Off": ("gesture", False),
    "ADO_Mute_On": ("mute", True), "ADO_Mute_Off": ("mute", False),
    "ADO_Tracking_On": ("audio_tracking", True), "ADO_Tracking_Off": ("audio_tracking", False),
}
#: Command -> (state key, argument name) for commands that store an argument.
ARG_EFFECTS: dict[str, tuple[str, str]] = {
    "CAM_Track_Set_Start_Position": ("start_position", "position"),
    "CAM_Track_Source": ("track_source", "source"),
    "CAM_PIP_Set_USB": ("pip_usb", "layout"), "CAM_PIP_Set_HDMI": ("pip_hdmi", "layout"),
    "Color_Gain": ("color_gain", "gain"), "Color_Hue": ("color_hue", "hue"),
}
_ALIASES = {row.name: [r.name for r in ROWS if r.template == row.template] for row in ROWS}


@dataclass
class Faults:
    """Failure knobs, changeable while the camera runs (``CameraSimulator.set_faults``).

    Counted knobs (``*_next``, ``reboot_after``) count down as they strike.
    """

    offline: bool = False  # answer nothing at all
    latency: float = 0.0  # seconds added before every reply
    jitter: float = 0.0  # up to this many seconds more per packet, at random
    garble_rate: float = 0.0  # chance of line noise before a reply (a reader can resync)
    garble_next: int = 0  # the next N replies get line noise before them
    corrupt_rate: float = 0.0  # chance a reply is mangled beyond recognition (it is lost)
    corrupt_next: int = 0  # the next N replies are mangled beyond recognition
    drop_rate: float = 0.0  # UDP: chance an incoming datagram is lost
    drop_next: int = 0  # UDP: the next N incoming datagrams are lost
    drop_replies_next: int = 0  # UDP: the next N outgoing datagrams are lost
    not_executable_next: int = 0  # the next N commands answer error 41, not executed
    buffer_full_next: int = 0  # the next N commands answer error 03, not executed
    reboot_after: int = 0  # the Nth command from now reboots the camera: lost, no reply
    reboot_seconds: float = 0.3  # how long a reboot keeps the camera silent


@dataclass
class CameraConfig:
    """A simulated camera: its model, address and how fast it moves."""

    name: str
    model: str = "CAM520 Pro"
    address: int = 1
    protocol: Protocol = "visca"
    pt_speed: float = 40000.0
    zoom_speed: float = 40000.0
    completion_delay: float = 0.01
    power_transition: float = 0.2
    version: int = 0x0102
    host: str | None = None
    port: int = 52381
    sequence_mode: Literal["echo", "strict", "zero"] = "echo"
    faults: Faults = field(default_factory=Faults)
    seed: int = 0


@dataclass
class _Motion:
    start: float = 0.0
    end: float = 0.0
    origin: tuple[int, ...] = ()
    target: tuple[int, ...] = ()

    def at(self, now: float) -> tuple[int, ...]:
        if now >= self.end or self.end <= self.start:
            return self.target
        share = (now - self.start) / (self.end - self.start)
        pairs = zip(self.origin, self.target, strict=True)
        return tuple(round(a + (b - a) * share) for a, b in pairs)


class SimCamera:
    """The state and behaviour of one simulated camera (thread-safe)."""

    def __init__(self, config: CameraConfig) -> None:
        if config.model not in MODELS:
            raise ValueError(f"unknown model {config.model!r}; known: {', '.join(MODELS)}")
        self.config = config
        self.name = config.name
        self.address = config.address
        self.faults = config.faults
        self.lock = threading.Lock()
        self.rng = random.Random(config.seed)
        self.power = "on"
        self.transition_until = 0.0
        self.pt = _Motion(target=(0, 0), origin=(0, 0))
        self.zoom = _Motion(target=(0,), origin=(0,))
        self.presets: dict[int, tuple[int, int, int]] = {}
        self.modes: dict[str, Any] = {"volume": 5, "mute": False, "tracking": "off"}
        self.busy_until = [0.0, 0.0]
        self.commands_seen = 0
        self.busy_seconds = 0.0  # completion delays + movement, summed over commands
        self.received: list[str] = []  # names of the VISCA packets understood, retries counted
        self.down_until = 0.0  # rebooting (fault injection) until this time
        self.reboots = 0

    # --- the Python API (change the camera behind fleetform's back) -------------------

    def set_preset(self, number: int, pan: int, tilt: int, zoom: int) -> None:
        """Store a preset directly, as someone with the remote control would."""
        with self.lock:
            self.presets[number] = (pan, tilt, zoom)

    def set_power(self, state: Literal["on", "standby"]) -> None:
        """Switch power instantly (someone pressed the remote's power button)."""
        with self.lock:
            self.power = state
            self.transition_until = 0.0

    def move_to(self, pan: int, tilt: int, zoom: int) -> None:
        """Put the lens somewhere else instantly."""
        with self.lock:
            self.pt = _Motion(target=(pan, tilt), origin=(pan, tilt))
            self.zoom = _Motion(target=(zoom,), origin=(zoom,))

    def position(self, now: float) -> tuple[int, int, int]:
        """Pan, tilt, zoom at ``now`` (interpolated while moving)."""
        with self.lock:
            return self._position(now)

    def snapshot(self, now: float) -> dict[str, Any]:
        """Everything the camera holds, for tests and ``fleetform simulate`` users."""
        with self.lock:
            pan, tilt, zoom = self._position(now)
            return {"power": self._power_state(now), "pan": pan, "tilt": tilt, "zoom": zoom,
                    "presets": dict(self.presets), **self.modes}

    # --- internals --------------------------------------------------------------------

    def _position(self, now: float) -> tuple[int, int, int]:
        pan, tilt = self.pt.at(now)
        (zoom,) = self.zoom.at(now)
        return pan, tilt, zoom

    def _power_state(self, now: float) -> str:
        if self.transition_until and now >= self.transition_until:
            self.transition_until = 0.0
        return self.power if not self.transition_until else (
            "standby" if self.power == "on" else "on")

    def _move(self, now: float, pan: int | None, tilt: int | None, zoom: int | None) -> float:
        cur_pan, cur_tilt, cur_zoom = self._position(now)
        new_pt = (cur_pan if pan is None else pan, cur_tilt if tilt is None else tilt)
        new_zoom = cur_zoom if zoom is None else zoom
        pt_time = max(abs(new_pt[0] - cur_pan), abs(new_pt[1] - cur_tilt)) / self.config.pt_speed
        zoom_time = abs(new_zoom - cur_zoom) / self.config.zoom_speed
        self.pt = _Motion(now, now + pt_time, (cur_pan, cur_tilt), new_pt)
        self.zoom = _Motion(now, now + zoom_time, (cur_zoom,), (new_zoom,))
        return max(pt_time, zoom_time)

    def _stop(self, now: float) -> None:
        pan, tilt, zoom = self._position(now)
        self.pt = _Motion(target=(pan, tilt), origin=(pan, tilt))
        self.zoom = _Motion(target=(zoom,), origin=(zoom,))

    def _supported(self, name: str, transport: str) -> bool:
        return any(supports(self.config.model, alias, transport) for alias in _ALIASES[name])

    def _strikes(self, counter: str, rate: str = "") -> bool:
        """Whether the counted knob ``counter`` (or the chance ``rate``) strikes now."""
        left = getattr(self.faults, counter)
        if left > 0:
            setattr(self.faults, counter, left - 1)
            return True
        chance = getattr(self.faults, rate) if rate else 0.0
        return bool(chance) and self.rng.random() < chance

    def _garble(self, frame: bytes) -> bytes:
        if self._strikes("corrupt_next", "corrupt_rate"):
            # Every byte lost its high bit: no header, no terminator a reader could use.
            return bytes(b & 0x7F for b in frame)
        if not self._strikes("garble_next", "garble_rate"):
            return frame
        noise = bytes(self.rng.randrange(0x00, 0x80) for _ in range(3))
        return noise + frame

    def _reboot(self, now: float) -> None:
        """Power cycle: silent for ``reboot_seconds``, then on, idle and still."""
        self.reboots += 1
        self.down_until = now + self.faults.reboot_seconds
        self.power, self.transition_until = "on", 0.0
        self.busy_until = [0.0, 0.0]
        self._stop(now)

    # --- VISCA ------------------------------------------------------------------------

    def handle_visca(self, packet: bytes, now: float, transport: str = "serial",
                     ) -> list[tuple[float, bytes]]:
        """Replies to one packet as ``(when, bytes)``; empty when offline."""
        with self.lock:
            if self.faults.offline or now < self.down_until:
                return []
            self.commands_seen += 1
            replies = self._visca(packet, now, transport)
            delay = self.faults.latency + (
                self.rng.uniform(0, self.faults.jitter) if self.faults.jitter > 0 else 0.0)
            return [(when + delay, self._garble(data)) for when, data in replies]

    def _visca(self, packet: bytes, now: float, transport: str) -> list[tuple[float, bytes]]:
        address = self.address
        if len(packet) < 3 or len(packet) > codec.MAX_PACKET:
            return [(now, codec.error(address, 0, 0x01))]
        parsed = codec.parse_command(packet)
        if parsed is None or not codec.args_valid(parsed):
            return [(now, codec.error(address, 0, 0x02))]
        name = parsed.row.name
        self.received.append(name)
        if not self._supported(name, transport):
            return [(now, codec.error(address, 0, 0x02))]
        if parsed.row.inquiry:
            return [(now, codec.answer(address, self._inquiry(name, now)))]
        if self.faults.reboot_after > 0:
            self.faults.reboot_after -= 1
            if self.faults.reboot_after == 0:
                self._reboot(now)
                return []
        if self._strikes("not_executable_next"):
            return [(now, codec.error(address, 1, 0x41))]
        if self._strikes("buffer_full_next"):
            return [(now, codec.error(address, 0, 0x03))]
        if name == "IF_Clear":
            self.busy_until = [0.0, 0.0]
            return [(now, codec.answer(address, b""))]
        power = self._power_state(now)
        waking = name in ("Power_On", "Power_Reset")
        if self.transition_until or (power == "standby" and not waking):
            return [(now, codec.error(address, 1, 0x41))]
        free = [i for i, until in enumerate(self.busy_until) if until <= now]
        if not free:
            return [(now, codec.error(address, 0, 0x03))]
        socket = free[0] + 1
        duration = self._execute(name, parsed.args, now)
        done = now + self.config.completion_delay + duration
        self.busy_seconds += done - now
        self.busy_until[socket - 1] = done
        return [(now, codec.ack(address, socket)), (done, codec.completion(address, socket))]

    def _execute(self, name: str, args: dict[str, int], now: float) -> float:
        """Carry out a command; return how long it takes beyond the base delay."""
        limits = LIMITS[self.config.model]
        if name in ("Power_On", "Power_Off", "Power_Reset"):
            target = "standby" if name == "Power_Off" else "on"
            if target == self.power and name != "Power_Reset":
                return 0.0
            self.power = target
            self.transition_until = now + self.config.power_transition
            return self.config.power_transition
        if name == "PT_Direct":
            return self._move(now, args["pan"], args["tilt"], None)
        if name == "Zoom_Direct":
            return self._move(now, None, None, args["zoom"])
        if name == "CAM_set":
            self.presets[args["preset"]] = self._position(now)
            return 0.0
        if name == "CAM_recall":
            stored = self.presets.get(args["preset"])
            return self._move(now, *stored) if stored else 0.0
        if name in ("PT_Stop", "Zoom_Stop"):
            self._stop(now)
            return 0.0
        if name.startswith("PT_") and "pan_speed" in args:
            return self._continuous(now, name, limits.pan, limits.tilt)
        if name in ("Zoom_Tele", "Zoom_Wide"):
            self._move(now, None, None, limits.zoom[1] if name == "Zoom_Tele" else limits.zoom[0])
            return 0.0
        if name in ("ADO_Volume_Up", "ADO_Volume_Down"):
            step = 1 if name.endswith("Up") else -1
            self.modes["volume"] = min(10, max(0, self.modes["volume"] + step))
        elif name == "ADO_Mute_Trigger":
            self.modes["mute"] = not self.modes["mute"]
        elif name in MODE_EFFECTS:
            key, value = MODE_EFFECTS[name]
            self.modes[key] = value
        elif name in ARG_EFFECTS:
            key, arg = ARG_EFFECTS[name]
            self.modes[key] = args[arg]
        return 0.0

    def _continuous(self, now: float, name: str, pan_range: tuple[int, int],
                    tilt_range: tuple[int, int]) -> float:
        pan_dir = {"Left": -1, "Right": 1}
        tilt_dir = {"Up": 1, "Down": -1}
        direction = name[3:]
        pan = next((v for k, v in pan_dir.items() if k in direction), 0)
        tilt = next((v for k, v in tilt_dir.items() if k in direction), 0)
        self._move(now, pan_range[pan > 0] if pan else None, tilt_range[tilt > 0] if tilt else None,
                   None)
        return 0.0  # continuous moves complete at once and run until PT_Stop

    def _inquiry(self, name: str, now: float) -> bytes:
        pan, tilt, zoom = self._position(now)
        if name == "Version_Inq":
            model = SIM_MODEL_IDS[self.config.model]
            return (SIM_VENDOR_ID.to_bytes(2, "big") + model.to_bytes(2, "big")
                    + self.config.version.to_bytes(2, "big") + b"\x02")
        if name == "PT_Pos_Inq":
            return codec.int_to_nibbles(pan, True) + codec.int_to_nibbles(tilt, True)
        if name == "Zoom_Pos_Inq":
            return codec.int_to_nibbles(zoom, False)
        if name == "Power_Status_Inq":
            return bytes((2 if self._power_state(now) == "on" else 3,))
        if name == "Ado_Mute_Inq":
            return bytes((1 if self.modes["mute"] else 2,))
        return bytes((self.modes["volume"],))  # Ado_Volume_Inq

    # --- Pelco ------------------------------------------------------------------------

    def handle_pelco(self, message: pelco.PelcoFrame, now: float) -> None:
        """Act on one Pelco frame addressed to this camera (Pelco never replies)."""
        with self.lock:
            if self.faults.offline:
                return
            self.commands_seen += 1
            limits = LIMITS[self.config.model]
            name = message.extended_name
            if name is not None:
                self._pelco_extended(name, message.data2, now)
                return
            power_bits = pelco.POWER_CMD1[message.variant]
            if message.cmd1 == power_bits["on"]:
                self.power = "on"
            elif message.cmd1 == power_bits["off"]:
                self.power = "standby"
            if self.power != "on":
                return
            bits = message.cmd2
            pan = 1 if bits & pelco.PAN_RIGHT else -1 if bits & pelco.PAN_LEFT else 0
            tilt = 1 if bits & pelco.TILT_UP else -1 if bits & pelco.TILT_DOWN else 0
            zoom = 1 if bits & pelco.ZOOM_TELE else -1 if bits & pelco.ZOOM_WIDE else 0
            if not (pan or tilt or zoom):
                self._stop(now)
                return
            self._move(now, limits.pan[pan > 0] if pan else None,
                       limits.tilt[tilt > 0] if tilt else None,
                       limits.zoom[zoom > 0] if zoom else None)

    def _pelco_extended(self, name: str, value: int, now: float) -> None:
        if self.power != "on":
            return
        if name == "set_preset":
            self.presets[value] = self._position(now)
        elif name == "goto_preset" and value in self.presets:
            self._move(now, *self.presets[value])
        elif name in ("track_on", "track_off"):
            self.modes["tracking"] = "auto" if name == "track_on" else "off"
        else:
            self.modes[f"pelco_{name}"] = value
