"""Read the pools of every simulated miner: fleetform's RPC client against pyasic's.

Why: pyasic is the established Python library for ASIC fleets; reading pools
(one RPC ``pools`` per miner, parsed) is the operation both do, so the same
miners, the same concurrency and the same injected latency make the two
comparable. pyasic is a dev-only dependency of the benchmarks
(``benchmarks/requirements.txt``); without it that half is skipped.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Sequence
from typing import Any

from fleetform.device import Deadline
from fleetform.errors import DeviceError
from fleetform.parallel import map_parallel
from fleetform.providers.antminer.codec import parse_rpc_pools
from fleetform.providers.antminer.transport import MinerRpc

Pools = list[tuple[str, str]]


def fleetform_pools(hosts: Sequence[str], port: int, parallelism: int,
                    ) -> tuple[float, list[Pools | None]]:
    """Wall time and (url, user) pools per miner, through fleetform's RPC client and pool."""

    def read(host: str) -> Pools | None:
        try:
            reply = MinerRpc(host, port, 10.0).command("pools", Deadline(30.0))
        except DeviceError:
            return None
        return [(p["url"], p["user"]) for p in parse_rpc_pools(reply["pools"])]

    started = time.perf_counter()
    result = map_parallel(list(hosts), read, parallelism)
    return time.perf_counter() - started, result


def pyasic_available() -> str | None:
    """pyasic's version if it can be imported, else None."""
    try:
        module = importlib.import_module("pyasic")
    except ImportError:
        return None
    version = getattr(module, "__version__", None)
    if version is None:
        from importlib.metadata import version as installed

        version = installed("pyasic")
    return str(version)


def pyasic_pools(hosts: Sequence[str], concurrency: int) -> tuple[float, list[Pools | None]]:
    """Wall time and pools per miner through pyasic (``BMMinerS9(ip).get_pools()``).

    Why the class and not ``get_miner``: detection probes several ports and
    APIs first; constructing the S9 handler directly leaves exactly one RPC
    ``pools`` per miner, the same work fleetform does.
    """
    s9: Any = importlib.import_module("pyasic.miners.antminer.bmminer.X9.S9").BMMinerS9

    async def read_all() -> list[Pools | None]:
        gate = asyncio.Semaphore(concurrency)

        async def read(host: str) -> Pools | None:
            async with gate:
                try:
                    pools = await s9(host).get_pools()
                except Exception:  # pyasic raises its own errors; count as not read
                    return None
            return [(str(p.url), str(p.user)) for p in pools] if pools else None

        return list(await asyncio.gather(*(read(h) for h in hosts)))

    started = time.perf_counter()
    result = asyncio.run(read_all())
    return time.perf_counter() - started, result
