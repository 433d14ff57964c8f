"""Ctrl-C during an apply: let running steps finish, then exit 130.

Why: a step interrupted half-way leaves a device in an unknown state that
state does not record; stopping at step boundaries keeps "state records
exactly what happened". The first SIGINT only sets the run's cancel event
(every device stops before its next step and is reported as interrupted);
a second SIGINT stops at once, as people expect from pressing it twice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

INTERRUPTED_EXIT_CODE = 130
"""The shell convention for "terminated by SIGINT" (128 + 2), documented in the README."""

_NOTICE = (
    b"\nInterrupt received: letting running steps finish and recording them; devices not "
    b"yet started stop now. Press Ctrl-C again to stop at once.\n"
)


@contextlib.contextmanager
def finish_running_steps_on_sigint(cancel: threading.Event) -> Iterator[None]:
    """For the block, the first SIGINT sets ``cancel`` instead of raising.

    Why a handler rather than catching KeyboardInterrupt: the exception can
    land anywhere in the main thread (rendering, a lock wait, the pool's own
    bookkeeping); an event set from a handler interrupts nothing. The handler
    writes with ``os.write`` because ``print`` is not re-entrant in a signal
    handler. Outside the main thread (an embedding application) nothing is
    installed and Ctrl-C behaves as usual.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        with contextlib.suppress(OSError):
            os.write(2, _NOTICE)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
