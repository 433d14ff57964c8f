"""The VISCA error replies, one exception class per error code.

Why: each code means something different to a person ("buffer full" is
retryable, "syntax error" means the model lacks the command), so each is its
own class with a plain-words message; every class is also a fleetform
DeviceRejected or ProtocolError so the engine reports it correctly.
"""

from __future__ import annotations

from typing import ClassVar

from fleetform.errors import DeviceRejected, ProtocolError

# --- errors --------------------------------------------------------------------------


class ViscaError(Exception):
    """Mixin for every VISCA error reply; ``code`` is the byte the camera sent.

    Why a mixin: the concrete classes also derive from fleetform's
    DeviceRejected or ProtocolError, so the engine reports them correctly,
    while callers can still catch "any VISCA error".
    """

    code: int
    meaning: ClassVar[str] = "the camera reported an error"

    def __init__(self, message: str, *, code: int = 0) -> None:
        self.code = code
        super().__init__(message)


class ProtocolViscaError(ViscaError, ProtocolError):
    """An error code this codec does not know."""


class MessageLengthError(ViscaError, ProtocolError):
    """Error 01: the packet length was wrong (a framing bug or line noise)."""

    meaning = "the camera says the message length is wrong (error 01): framing or line noise"


class SyntaxErrorReply(ViscaError, DeviceRejected):
    """Error 02: the camera does not understand the command (model lacks it?)."""

    meaning = (
        "the camera does not understand this command (syntax error 02); "
        "this model or firmware probably does not support it"
    )


class BufferFull(ViscaError, DeviceRejected):
    """Error 03: both command sockets are busy."""

    meaning = "the camera's command buffer is full (error 03): both sockets are busy"


class CommandCancelled(ViscaError, DeviceRejected):
    """Error 04: the command was cancelled (by a Cancel or IF_Clear)."""

    meaning = "the command was cancelled on the camera (error 04)"


class NoSocket(ViscaError, ProtocolError):
    """Error 05: the addressed socket holds no command."""

    meaning = "the camera has no command in that socket (error 05)"


class NotExecutable(ViscaError, DeviceRejected):
    """Error 41: the command cannot run now (power transition, standby, ...)."""

    meaning = (
        "the camera cannot execute this command right now (error 41), "
        "e.g. it is powering on/off or in standby"
    )


ERRORS: dict[int, type[ViscaError]] = {
    0x01: MessageLengthError,
    0x02: SyntaxErrorReply,
    0x03: BufferFull,
    0x04: CommandCancelled,
    0x05: NoSocket,
    0x41: NotExecutable,
}
