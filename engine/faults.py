"""Fault knobs of simulated devices: one shape and one parser for every device family.

Why: each simulator has its own failure modes (a miner that answers late, a
camera that garbles serial bytes), but users and CI set them the same way,
per device, as ``{device name: {knob: value}}``; ``fleetform simulate
--fault DEVICE:KNOB=VALUE`` produces exactly that mapping with
:func:`parse_faults`. Each family declares its knobs as a dataclass whose
field defaults give the types (bool, int, float, str); :func:`coerce_knobs`
checks names and converts values (strings from a command line included) so
a typo is an error naming the known knobs, never silently ignored.

Every family's ``simhost`` exposes ``set_faults(running, faults)`` taking
that mapping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from fleetform.simulation import SimulatorError

FaultMap = Mapping[str, Mapping[str, object]]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_fault(text: str) -> tuple[str, str, str]:
    """Split ``DEVICE:KNOB=VALUE`` into its three parts (value still text)."""
    device, colon, rest = text.partition(":")
    knob, equals, value = rest.partition("=")
    if not (colon and equals and device.strip() and knob.strip()):
        raise SimulatorError(f"fault {text!r} must look like DEVICE:KNOB=VALUE "
                             "(e.g. miner-001:drop_next=2)")
    return device.strip(), knob.strip(), value.strip()


def parse_faults(texts: Iterable[str]) -> dict[str, dict[str, object]]:
    """``["m1:offline=true", "m1:http_latency=0.5"]`` → ``{"m1": {"offline": "true", ...}}``."""
    out: dict[str, dict[str, object]] = {}
    for text in texts:
        device, knob, value = parse_fault(text)
        out.setdefault(device, {})[knob] = value
    return out


def knob_types(schema: type[Any]) -> dict[str, type[Any]]:
    """Knob name → type, from the defaults of a fault dataclass."""
    return {f.name: type(f.default) for f in dataclasses.fields(schema)
            if f.default is not dataclasses.MISSING and not f.name.startswith("_")}


def coerce_knobs(schema: type[Any], knobs: Mapping[str, object], *,
                 device: str) -> dict[str, Any]:
    """Check knob names against ``schema`` and convert each value to the knob's type."""
    types = knob_types(schema)
    out: dict[str, Any] = {}
    for name, value in knobs.items():
        kind = types.get(name)
        if kind is None:
            raise SimulatorError(f"device '{device}': unknown fault knob {name!r}; known: "
                                 f"{', '.join(sorted(types))}")
        out[name] = _convert(kind, value, f"device '{device}': fault knob {name!r}")
    return out


def _convert(kind: type[Any], value: object, what: str) -> Any:
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise SimulatorError(f"{what} needs true or false, not {value!r}")
        try:
            return kind(float(text)) if kind is int and "." in text else kind(text)
        except ValueError:
            raise SimulatorError(f"{what} needs a {kind.__name__}, not {value!r}") from None
    if kind is bool and not isinstance(value, bool):
        raise SimulatorError(f"{what} needs true or false, not {value!r}")
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise SimulatorError(f"{what} needs a {kind.__name__}, not {value!r}")
    if kind is str and not isinstance(value, str):
        raise SimulatorError(f"{what} needs text, not {value!r}")
    return kind(value)


def unknown_devices(faults: FaultMap, known: Iterable[str]) -> None:
    """Refuse faults for devices this simulator does not run."""
    missing = sorted(set(faults) - set(known))
    if missing:
        raise SimulatorError(f"no simulated device named {', '.join(map(repr, missing))}")
