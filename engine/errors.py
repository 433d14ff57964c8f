"""The one exception tree of fleetform.

Every failure a user can cause or meet is a subclass of :class:`FleetformError`,
so the CLI can turn any of them into one clear line (never a traceback) and
library exceptions (``requests``, ``socket``, ``ruamel``) are mapped at the edge
with ``raise ... from``::

    FleetformError
    ├── ManifestError            bad YAML / Jinja / schema; carries file, line, column
    ├── StateError               unreadable or incompatible state file
    │   └── LockError            another run holds the state lock
    ├── PlanError                a saved plan cannot be used (stale, corrupt)
    └── DeviceError              anything that went wrong talking to one device
        ├── TransportError       could not move bytes
        │   ├── DeviceTimeout    no answer within the deadline
        │   └── DeviceUnreachable connection refused / no route
        ├── AuthError            the device refused our credentials
        ├── ProtocolError        the device answered something we cannot parse
        │   └── GarbledReply     an empty, truncated or garbled reply (worth a retry)
        ├── DeviceRejected       the device understood and refused a value
        ├── IdentityMismatch     a different device answers at the recorded address
        ├── VerificationError    a write was accepted but reading back disagrees
        └── Interrupted          the user interrupted the run before this step
"""

from __future__ import annotations

from dataclasses import dataclass


class FleetformError(Exception):
    """Root of every error fleetform raises on purpose.

    Why: one root lets the CLI catch exactly our errors and render them as a
    single line, while genuine bugs still surface as tracebacks.
    """


@dataclass(frozen=True)
class SourceLocation:
    """Where in a manifest a value came from.

    Why: every manifest error must name file, line and column; for values that a
    Jinja loop generated, ``template_line`` points at the template line that
    produced it, which is where the user has to edit.
    """

    file: str
    line: int
    column: int
    template_line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ManifestError(FleetformError):
    """A manifest that cannot be loaded: bad YAML, bad Jinja, failed validation.

    Why: carries a list of located problems so ``validate`` can show them all at
    once instead of making the user fix one error per run.
    """

    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class ManifestProblem:
    """One located mistake in a manifest.

    Why: keeps the file/line/column, field path, device and the "what is
    allowed" text separate so both the human and the JSON views can use them.
    """

    location: SourceLocation | None
    message: str
    field: str | None = None
    device: str | None = None

    def __str__(self) -> str:
        # Lead with the template line (what the user edits); the rendered line
        # differs only for text a Jinja loop or include produced.
        location = self.location
        generated = (
            location is not None
            and location.template_line is not None
            and location.template_line != location.line
        )
        if location is None:
            where = "<manifest>"
        elif generated:
            where = f"{location.file}:{location.template_line}:{location.column}"
        else:
            where = str(location)
        parts = [where]
        if self.device:
            parts.append(f"device '{self.device}'")
        if self.field:
            parts.append(self.field)
        text = ": ".join(parts) + f": {self.message}"
        if generated and location is not None:
            text += f" (template line {location.template_line}, rendered line {location.line})"
        return text


class StateError(FleetformError):
    """The state file is unreadable, of an unknown format, or cannot be written.

    Why: state is the record of what fleetform did; a problem with it must stop
    the run before any device is touched.
    """


class LockError(StateError):
    """Another fleetform run holds the state lock.

    Why: two applies interleaving would corrupt state; the message names the
    holder (pid, host, user, operation, since) so the user can decide.
    """


class PlanError(FleetformError):
    """A saved plan is corrupt or stale and will not be applied.

    Why: applying a plan computed against a different reality is how the wrong
    device gets configured.
    """


class DeviceError(FleetformError):
    """Something went wrong with one device.

    Why: a device failure must fail that device alone, naming the device and
    the step, while the others carry on; the engine catches this class per device.
    """

    def __init__(self, message: str, *, device: str | None = None, step: str | None = None) -> None:
        self.message = message
        self.device = device
        self.step = step
        super().__init__(message)

    def with_context(self, *, device: str | None = None, step: str | None = None) -> DeviceError:
        """Fill in device/step if the raiser did not know them.

        Why: transports know neither; the engine adds them as the error passes.
        """
        if self.device is None and device is not None:
            self.device = device
        if self.step is None and step is not None:
            self.step = step
        return self

    def __str__(self) -> str:
        prefix = ""
        if self.device:
            prefix += f"{self.device}: "
        if self.step:
            prefix += f"{self.step}: "
        return prefix + self.message


class TransportError(DeviceError):
    """Bytes could not be moved to or from the device.

    Why: distinguishes "the network failed" from "the device said no", which
    tells the user whether to check cables or values.
    """


class DeviceTimeout(TransportError):
    """The device did not answer within the deadline."""


class DeviceUnreachable(TransportError):
    """The device refused the connection or there is no route to it."""


class AuthError(DeviceError):
    """The device refused the credentials fleetform presented."""


class ProtocolError(DeviceError):
    """The device answered something fleetform cannot interpret."""


class GarbledReply(ProtocolError):
    """The device answered, but with an empty, truncated or garbled reply.

    Why its own class: unlike a reply fleetform does not understand (a
    different firmware, a protocol mismatch), a garbled reply is a fault of
    the line or of a busy device, and repeating an idempotent request is the
    right response.
    """


class DeviceRejected(DeviceError):
    """The device understood a write and refused the value."""


class IdentityMismatch(DeviceError):
    """The device at the address is not the one recorded in state.

    Why: refusing here is what stops fleetform configuring the wrong machine
    after an IP address was reassigned.
    """


class VerificationError(DeviceError):
    """A write was accepted but reading the device back shows a different value."""


class Interrupted(DeviceError):
    """The run was interrupted (Ctrl-C) before this step started.

    Why: steps already running finish and are recorded; steps not yet started
    are skipped and reported, so state stays consistent and a re-run converges.
    """
