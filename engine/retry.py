"""Bounded retries with backoff, for the few device operations that are safe to repeat.

Why one helper: every provider meets the same hostile network (a dropped
connection, a lost UDP datagram, a camera busy for a moment) and must answer
it the same way: try again a *bounded* number of times, waiting longer each
time (exponential backoff with random jitter, so a fleet does not retry in
lock-step), never past the device's :class:`~fleetform.device.Deadline`, and
only when the caller says the operation is idempotent. Which operations are
idempotent is each provider's knowledge (a table next to its protocol); how
to retry is this module's.

A retried failure that still fails is re-raised, with the number of attempts
added to its message, so the user sees that fleetform did try again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fleetform.device import Deadline
from fleetform.errors import DeviceError, GarbledReply, TransportError

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    """True for failures that may pass by themselves: no answer, dropped link, garbage.

    Why not every :class:`DeviceError`: an authentication failure repeated
    can lock an account, and a rejected value will be rejected again.
    """
    return isinstance(error, TransportError | GarbledReply)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to repeat one operation.

    ``attempts`` counts the first try (``1`` means never retry); the wait
    before retry *n* (1-based) is ``base_delay * 2**(n-1)`` capped at
    ``max_delay``, plus up to ``jitter`` seconds chosen at random.
    """

    attempts: int = 3
    base_delay: float = 0.1
    max_delay: float = 2.0
    jitter: float = 0.05

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(self.max_delay, self.base_delay * 2.0 ** max(0, retry - 1))
        if self.jitter <= 0:
            return base
        spread = rng.uniform(0.0, self.jitter) if rng is not None else random.uniform(
            0.0, self.jitter)
        return base + spread


#: Reads and idempotent writes of a management plane (HTTP, SOAP): a few tries.
DEFAULT_POLICY = RetryPolicy()
#: Never repeat (writes whose effect is not idempotent).
NO_RETRY = RetryPolicy(attempts=1)

RetryHook = Callable[[int, Exception, float], None]


def retry_call(
    action: Callable[[], T],
    *,
    deadline: Deadline | None,
    policy: RetryPolicy = DEFAULT_POLICY,
    retryable: Callable[[Exception], bool] = is_transient,
    on_retry: RetryHook | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``action``; on a ``retryable`` error, wait and run it again, within bounds.

    Stops at ``policy.attempts`` tries, or earlier when the wait would not
    fit in ``deadline`` or the run was interrupted; then re-raises the last
    error (a :class:`DeviceError` gets "(gave up after N attempts)" appended
    when it was tried more than once). ``on_retry(attempt, error, delay)``
    is called before each wait, for progress messages and tests.
    """
    attempt = 1
    while True:
        try:
            return action()
        except Exception as exc:
            wait = policy.delay(attempt, rng)
            out_of_time = deadline is not None and (
                deadline.remaining() <= wait or deadline.cancelled()
            )
            if not retryable(exc) or attempt >= policy.attempts or out_of_time:
                _note_attempts(exc, attempt)
                raise
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            sleep(wait)
            attempt += 1


def _note_attempts(error: Exception, attempts: int) -> None:
    """Add the number of attempts to ``error``'s message (DeviceErrors tried more than once)."""
    if attempts > 1 and isinstance(error, DeviceError):
        error.message = f"{error.message} (gave up after {attempts} attempts)"
        error.args = (error.message,)
