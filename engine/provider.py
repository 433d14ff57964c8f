"""The provider protocol: how the engine talks to a device family.

Why: one request-in, response-out contract (after OpenTofu's
``providers.Interface``) that every device family implements and a test checks,
so the engine never grows vendor ``if`` chains and protocol details stay inside
``providers/<family>/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from fleetform.device import Deadline, DeviceSpec
from fleetform.errors import DeviceError
from fleetform.plan import Change

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class SettingSpec:
    """What the engine must know about one top-level setting of a provider.

    - ``readable``: the device reports its live value; otherwise it is
      write-only and its last applied value is tracked in state.
    - ``sensitive``: the whole value is secret; ``sensitive_fields`` names
      secret sub-fields (``[].password`` for a list of pools).
    - ``disruptive``: applying it restarts the device or moves its address.
    - ``order``: apply steps run in ascending order (network comes last).
    """

    name: str
    readable: bool = True
    sensitive: bool = False
    sensitive_fields: frozenset[str] = frozenset()
    disruptive: bool = False
    order: int = 100
    description: str = ""


class Opaque:
    """A live value known only to differ from the desired one.

    Why: some settings can be probed but not read (a password can be tried, not
    fetched). The diff treats an ``Opaque`` as unequal to anything, so a change
    is planned without any value being invented or shown.
    """

    def __init__(self, note: str = "differs") -> None:
        self.note = note

    def __repr__(self) -> str:
        return f"Opaque({self.note!r})"

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class DeviceRecord:
    """What state remembers about a device between runs.

    Why: identity detects a swapped machine; ``address`` finds a device after it
    moved; ``tracked`` holds write-only settings (secrets only as salted hashes).
    """

    name: str
    provider: str
    address: str
    identity: dict[str, str] = field(default_factory=dict)
    tracked: dict[str, Any] = field(default_factory=dict)
    updated_at: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class ReadRequest:
    """Read one device's live state.

    ``options`` carries provider-specific run flags from the CLI (for example
    ``verify_presets`` for PTZ cameras, whose presets can only be verified by
    moving the camera); providers ignore keys they do not know.
    """

    device: DeviceSpec
    record: DeviceRecord | None
    deadline: Deadline
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadResponse:
    """One device's live state.

    ``live`` uses the shape of the provider's settings model and may hold
    secrets (a miner returns pool passwords in clear); it lives in memory only.
    ``address`` is where the device actually answered.
    """

    address: str
    identity: dict[str, str]
    live: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanRequest:
    """Compute the changes for one device from its manifest entry and live read."""

    device: DeviceSpec
    read: ReadResponse
    record: DeviceRecord | None


@dataclass(frozen=True)
class PlanResponse:
    """The changes one device needs, in no particular order."""

    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = ()


ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class ApplyRequest:
    """Apply one step (one top-level setting) to one device and verify it.

    ``read`` is the live state the plan was computed from; the provider uses
    it to re-send fields it does not manage (the miner blanks fields not sent).
    """

    device: DeviceSpec
    setting: str
    changes: tuple[Change, ...]
    read: ReadResponse
    record: DeviceRecord | None
    deadline: Deadline
    progress: ProgressCallback = field(default=lambda _message: None)


@dataclass(frozen=True)
class ApplyResponse:
    """The outcome of one step, after the provider verified it on the device.

    ``observed`` is the setting read back from the device (the engine diffs it
    against the manifest once more); ``tracked`` is what state should remember
    for a write-only setting; ``address`` is set when the device moved.
    """

    observed: Any = None
    tracked: Any = None
    address: str | None = None


@dataclass(frozen=True)
class StatusRequest:
    """Ask a device for its live health."""

    device: DeviceSpec
    record: DeviceRecord | None
    deadline: Deadline


@dataclass(frozen=True)
class StatusResponse:
    """Live health of one device: figures to show and warnings to raise.

    ``metrics`` is structured data for JSON consumers; ``summary`` is the one
    line a person reads in ``fleetform status`` (the provider knows which
    figures matter for its devices).
    """

    address: str
    metrics: dict[str, Any]
    warnings: tuple[str, ...] = ()
    healthy: bool = True
    summary: str = ""


@runtime_checkable
class Provider(Protocol):
    """A device family: its models, its settings and its four verbs.

    Why: expressed as a ``typing.Protocol`` so mypy and a conformance test check
    every provider against it, rather than relying on convention.
    """

    name: str
    connection_model: type[BaseModel]
    settings_model: type[BaseModel]
    settings_specs: Mapping[str, SettingSpec]

    def read(self, request: ReadRequest) -> ReadResponse:
        """Read identity and every readable setting from the live device."""
        ...

    def plan(self, request: PlanRequest) -> PlanResponse:
        """Diff the manifest against the live read (and state for write-only settings)."""
        ...

    def apply(self, request: ApplyRequest) -> ApplyResponse:
        """Push one setting, wait for the device to settle and read it back."""
        ...

    def status(self, request: StatusRequest) -> StatusResponse:
        """Report live health (hash rate, temperatures, ...) without changing anything."""
        ...

    def close(self) -> None:
        """Release connections held for the run."""
        ...


@contextlib.contextmanager
def device_step(device: DeviceSpec, step: str) -> Iterator[None]:
    """Name the device and the step on any :class:`DeviceError` leaving the block.

    Why: transports know neither; every provider verb runs inside this, so
    each failure the user sees says which device failed at which step.
    """
    try:
        yield
    except DeviceError as exc:
        exc.with_context(device=device.name, step=step)
        raise


def model_part(
    device: DeviceSpec, part: Literal["connection", "settings"], model: type[ModelT]
) -> ModelT:
    """The device's connection or settings as the provider's own model class.

    Why: ``DeviceSpec`` holds them as ``BaseModel``; a provider narrows the
    type once here instead of repeating an isinstance check per model.
    """
    value = getattr(device, part)
    if not isinstance(value, model):
        raise TypeError(f"{device.name}: {part} is not a {model.__name__}")
    return value
