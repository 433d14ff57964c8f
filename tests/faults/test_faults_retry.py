"""The shared retry helper: bounded, backing off, deadline-aware, only for retryable errors."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from fleetform.device import Deadline
from fleetform.errors import AuthError, DeviceTimeout, DeviceUnreachable, GarbledReply
from fleetform.retry import RetryPolicy, is_transient, retry_call


def flaky(failures: list[Exception]) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def action() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"

    return calls, action


def test_retries_transient_errors_with_capped_exponential_backoff() -> None:
    waits: list[float] = []
    calls, action = flaky([DeviceTimeout("t"), DeviceUnreachable("u"), GarbledReply("g"),
                           DeviceTimeout("t")])
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=0.3, jitter=0.0)
    assert retry_call(action, deadline=None, policy=policy, sleep=waits.append) == "done"
    assert len(calls) == 5 and waits == [0.1, 0.2, 0.3, 0.3]


def test_gives_up_after_the_attempts_and_says_so() -> None:
    waits: list[float] = []
    calls, action = flaky([DeviceTimeout("no answer")] * 10)
    with pytest.raises(DeviceTimeout, match=r"no answer \(gave up after 3 attempts\)"):
        retry_call(action, deadline=None, policy=RetryPolicy(attempts=3), sleep=waits.append)
    assert len(calls) == 3 and len(waits) == 2


def test_never_retries_what_is_not_retryable() -> None:
    calls, action = flaky([AuthError("wrong password")])
    with pytest.raises(AuthError, match=r"^wrong password$"):
        retry_call(action, deadline=None, sleep=lambda _s: None)
    assert len(calls) == 1
    assert not is_transient(AuthError("x")) and is_transient(DeviceTimeout("x"))


def test_stops_when_the_wait_would_not_fit_in_the_deadline() -> None:
    calls, action = flaky([DeviceTimeout("t")] * 10)
    with pytest.raises(DeviceTimeout):
        retry_call(action, deadline=Deadline(0.05),
                   policy=RetryPolicy(attempts=10, base_delay=1.0), sleep=lambda _s: None)
    assert len(calls) == 1


def test_jitter_stays_within_its_bound() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, jitter=0.05)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        base = min(1.0, 0.1 * 2 ** (n - 1))
        assert base <= delay <= base + 0.05
