"""Counting for the fleet benchmark: requests as they leave, and state writes.

Why client-side: the bound is about what fleetform sends. Every HTTP request
(401 challenges included) passes ``requests``' adapter, every miner RPC
``socket.create_connection``; each is attributed to a device family by the
address prefix the benchmark gave that family.
"""

from __future__ import annotations

import collections
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests

from fleetform.state import State, StateBackend
from fleetform.state.model import LockInfo


class Counter:
    """Counts requests per device family while :meth:`installed` is active."""

    def __init__(self, families: Mapping[str, str]) -> None:
        self._families = dict(families)
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def _family(self, host: str) -> str:
        for prefix, family in self._families.items():
            if host.startswith(prefix + "."):
                return family
        return "other"

    def _add(self, host: str) -> None:
        family = self._family(host)
        with self._lock:
            self._counts[family] += 1

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap requests' adapter and socket.create_connection while the block runs."""
        adapter_send = requests.adapters.HTTPAdapter.send
        create_connection = socket.create_connection
        counter = self

        def send(self: requests.adapters.HTTPAdapter, request: Any, *a: Any, **k: Any) -> Any:
            counter._add(urlsplit(request.url).hostname or "?")
            return adapter_send(self, request, *a, **k)

        def connect(address: Any, *a: Any, **k: Any) -> socket.socket:
            counter._add(str(address[0]))
            return create_connection(address, *a, **k)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        socket.create_connection = connect  # type: ignore[assignment]
        try:
            yield
        finally:
            requests.adapters.HTTPAdapter.send = adapter_send  # type: ignore[method-assign]
            socket.create_connection = create_connection

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts.clear()

    def by_family(self) -> dict[str, int]:
        """Requests per family since the last reset."""
        with self._lock:
            return dict(self._counts)


class CountingBackend:
    """A state backend that counts the writes it passes on (how much apply coalesced)."""

    def __init__(self, inner: StateBackend) -> None:
        self._inner = inner
        self.writes = 0

    def read(self) -> State:
        """Delegate."""
        return self._inner.read()

    def write(self, state: State) -> State:
        """Delegate and count."""
        self.writes += 1
        return self._inner.write(state)

    def lock(self, operation: str, timeout: float) -> AbstractContextManager[LockInfo]:
        """Delegate."""
        return self._inner.lock(operation, timeout)

    def describe(self) -> str:
        """Delegate."""
        return self._inner.describe()
