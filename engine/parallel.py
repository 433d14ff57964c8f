"""Run one function per device on a bounded thread pool, with per-group limits.

Why: device management planes are slow and I/O bound; a thread pool with a
parallelism cap (``--parallelism``) overlaps the waiting without flooding the
network. Some device families need a lower cap of their own (a camera's
embedded web server answers a few clients at a time, a serial daisy chain is
one wire): a provider says so with a ``max_parallel`` class attribute and the
run's options may override it per provider. Devices of a family at its cap
wait in the queue while devices of other families keep every worker busy.
Results come back in input order so output is deterministic.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def provider_limits(providers: Mapping[str, Any],
                    overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """Per-provider device caps: each provider's ``max_parallel``, then ``overrides``.

    Why a class attribute read with ``getattr``: it is optional metadata, like
    ``SettingSpec``; providers that do not declare it share the global cap.
    """
    limits: dict[str, int] = {}
    for name, provider in providers.items():
        value = getattr(provider, "max_parallel", None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            limits[name] = value
    for name, value in (overrides or {}).items():
        if value < 1:
            raise ValueError(f"parallelism for provider '{name}' must be at least 1, got {value}")
        limits[name] = value
    return limits


def map_parallel(
    items: Sequence[T],
    work: Callable[[T], R],
    parallelism: int,
    cancel: threading.Event | None = None,
    *,
    group: Callable[[T], Hashable] | None = None,
    limits: Mapping[Any, int] | None = None,
) -> list[R]:
    """Apply ``work`` to every item with at most ``parallelism`` in flight.

    With ``group`` and ``limits``, at most ``limits[g]`` items of group ``g``
    run at once (groups without a limit share only the global cap); items
    start in input order, except that an item of a group at its cap lets
    later items of other groups go first.

    ``work`` must not raise: per-device failures are data (see DeviceFailure),
    so one device can never abort the others. On the first Ctrl-C, ``cancel``
    is set and the function keeps going: running steps finish and record
    state, queued devices stop at their first step check. A second Ctrl-C
    propagates.
    """
    if not items:
        return []
    workers = max(1, min(parallelism, len(items)))
    caps: dict[Hashable, int] = dict(limits or {})
    queues: dict[Hashable, collections.deque[int]] = {}
    for index, item in enumerate(items):
        queues.setdefault(group(item) if group else None, collections.deque()).append(index)
    active: collections.Counter[Hashable] = collections.Counter()
    running: dict[Future[R], tuple[Hashable, int]] = {}
    results: dict[int, R] = {}
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleetform")
    try:
        while queues or running:
            while len(running) < workers:
                chosen = _next_group(queues, active, caps)
                if chosen is None:
                    break
                key = chosen[0]
                index = queues[key].popleft()
                if not queues[key]:
                    del queues[key]
                active[key] += 1
                running[pool.submit(work, items[index])] = (key, index)
            try:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                if cancel is None or interrupted:
                    raise
                cancel.set()
                interrupted = True
                continue
            for future in done:
                key, index = running.pop(future)
                active[key] -= 1
                results[index] = future.result()
        return [results[index] for index in range(len(items))]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _next_group(queues: Mapping[Hashable, collections.deque[int]],
                active: Mapping[Hashable, int], caps: Mapping[Hashable, int],
                ) -> tuple[Hashable] | None:
    """``(group,)`` whose next item comes first in input order among groups below their cap."""
    best: Hashable | None = None
    best_index = -1
    for key, queue in queues.items():
        cap = caps.get(key)
        if cap is not None and active.get(key, 0) >= cap:
            continue
        if best_index < 0 or queue[0] < best_index:
            best, best_index = key, queue[0]
    return (best,) if best_index >= 0 else None
