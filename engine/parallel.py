"""Run one function per device on a bounded thread pool.

Why: device management planes are slow and I/O bound; a thread pool with a
parallelism cap (``--parallelism``) overlaps the waiting without flooding the
network. Results come back in input order so output is deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_parallel(
    items: Sequence[T],
    work: Callable[[T], R],
    parallelism: int,
    cancel: threading.Event | None = None,
) -> list[R]:
    """Apply ``work`` to every item with at most ``parallelism`` in flight.

    ``work`` must not raise: per-device failures are data (see DeviceFailure),
    so one device can never abort the others. On the first Ctrl-C, ``cancel``
    is set and the function keeps waiting: running steps finish and record
    state, queued devices stop at their first step check. A second Ctrl-C
    propagates.
    """
    if not items:
        return []
    workers = max(1, min(parallelism, len(items)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleetform")
    try:
        futures: list[Future[R]] = [pool.submit(work, item) for item in items]
        try:
            wait(futures)
        except KeyboardInterrupt:
            if cancel is None:
                raise
            cancel.set()
            wait(futures)
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
