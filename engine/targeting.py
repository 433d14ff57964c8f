"""Device selection: ``--target`` / ``--exclude`` by name, glob or ``label=value``.

Why one module: the same selector syntax is used on the command line (plan,
apply, drift, status) and inside the manifest (drift ignore rules name the
devices they cover), so a person learns it once.

Syntax of one selector:

- ``miner-007``: exactly that device name;
- ``s9-*`` / ``rack?-[ab]``: a shell glob over device names (``fnmatch``);
- ``rack=r1`` / ``site=ams-*``: devices whose label ``rack`` matches the value
  (the value may be a glob too).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleetform.device import DeviceSpec
from fleetform.errors import FleetformError

_LABEL_KEY = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_GLOB_CHARS = frozenset("*?[")


class SelectorError(FleetformError):
    """A selector is malformed, or a ``--target`` matches no device.

    Why its own class: a mistyped target must stop the run before any device
    is read (Terraform users learned the hard way that a silently empty target
    set looks exactly like "no changes").
    """


@dataclass(frozen=True)
class Selector:
    """One parsed selector: a name pattern, or a label key with a value pattern."""

    text: str
    label: str | None
    pattern: str

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse ``name``, ``glob`` or ``label=value``; raise :class:`SelectorError` if bad."""
        raw = text.strip()
        if not raw:
            raise SelectorError("an empty device selector; use a name, a glob or label=value")
        if "=" in raw:
            key, _, value = raw.partition("=")
            key, value = key.strip(), value.strip()
            if not key or not _LABEL_KEY.match(key) or not value:
                raise SelectorError(
                    f"bad selector {text!r}: a label selector is key=value, e.g. rack=r1"
                )
            return cls(raw, key, value)
        return cls(raw, None, raw)

    @property
    def is_exact_name(self) -> bool:
        """True for a plain device name (no glob characters, no label)."""
        return self.label is None and not (_GLOB_CHARS & set(self.pattern))

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        """True if a device with ``name`` and ``labels`` is selected."""
        if self.label is None:
            return fnmatch.fnmatchcase(name, self.pattern)
        value = labels.get(self.label)
        return value is not None and fnmatch.fnmatchcase(value, self.pattern)


def parse_all(texts: Iterable[str]) -> tuple[Selector, ...]:
    """Parse several selectors (``--target a --target b``)."""
    return tuple(Selector.parse(text) for text in texts)


def matches_any(selectors: Sequence[Selector], device: DeviceSpec) -> bool:
    """True if any selector selects ``device``."""
    return any(s.matches(device.name, device.labels) for s in selectors)


@dataclass(frozen=True)
class Targeting:
    """The ``--target`` and ``--exclude`` selectors of one run.

    Why a value object: the plan records it (a targeted plan says so in its
    output and in its saved file) and apply of a saved plan re-applies it.
    """

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """True when the run does not cover the whole manifest."""
        return bool(self.targets or self.excludes)

    def describe(self) -> str:
        """One line for humans: ``only a, rack=r1; excluding b``."""
        parts = []
        if self.targets:
            parts.append("only " + ", ".join(self.targets))
        if self.excludes:
            parts.append("excluding " + ", ".join(self.excludes))
        return "; ".join(parts) or "all devices"

    def select(self, devices: Sequence[DeviceSpec]) -> tuple[DeviceSpec, ...]:
        """The devices this targeting keeps, in manifest order.

        Raises :class:`SelectorError` if a ``--target`` selector matches no
        device at all (a typo must not look like an empty plan).
        """
        targets, excludes = parse_all(self.targets), parse_all(self.excludes)
        for selector in targets:
            if not any(selector.matches(d.name, d.labels) for d in devices):
                known = ", ".join(d.name for d in devices[:10])
                more = ", ..." if len(devices) > 10 else ""
                raise SelectorError(
                    f"--target {selector.text!r} matches no device in the manifest "
                    f"(devices: {known}{more})"
                )
        return tuple(
            d for d in devices
            if (not targets or matches_any(targets, d)) and not matches_any(excludes, d)
        )
