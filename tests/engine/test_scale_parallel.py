"""Per-provider parallel limits: honoured by the runner, by plan and by apply."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from scale_fakes import CappedMemoryProvider, Gauge, MemoryProvider, memory_devices

from fleetform.applier import apply_fleet
from fleetform.parallel import map_parallel, provider_limits
from fleetform.planner import RunOptions, plan_fleet
from fleetform.state import LocalStateBackend, State


def test_results_keep_input_order_and_the_global_cap_holds() -> None:
    gauge = Gauge()

    def work(item: int) -> int:
        with gauge:
            threading.Event().wait(0.001)
        return item * 2

    assert map_parallel(list(range(40)), work, 4) == [i * 2 for i in range(40)]
    assert 1 <= gauge.peak <= 4


def test_a_group_at_its_cap_waits_while_other_groups_keep_the_workers_busy() -> None:
    gauges = {"slow": Gauge(), "fast": Gauge()}
    fast_together = threading.Barrier(2, timeout=20)
    release = threading.Event()
    items = [("slow", i) for i in range(4)] + [("fast", i) for i in range(2)]

    def work(item: tuple[str, int]) -> str:
        group, _ = item
        with gauges[group]:
            if group == "fast":
                # Both fast items must run at once: the capped slow group queued
                # ahead of them must not hold the free workers.
                fast_together.wait()
                release.set()
            else:
                release.wait(20)
        return group

    result = map_parallel(items, work, 3, group=lambda item: item[0], limits={"slow": 1})
    assert result == [group for group, _ in items]
    assert gauges["slow"].peak == 1
    assert gauges["fast"].peak == 2
    assert not fast_together.broken


def test_provider_limits_come_from_max_parallel_and_overrides_win() -> None:
    providers = {"memory": MemoryProvider(), "capped": CappedMemoryProvider()}
    assert provider_limits(providers) == {"capped": 2}
    assert provider_limits(providers, {"capped": 5, "memory": 3}) == {"capped": 5, "memory": 3}
    with pytest.raises(ValueError, match="at least 1"):
        provider_limits(providers, {"memory": 0})


def test_plan_and_apply_honour_a_providers_max_parallel(tmp_path: Path) -> None:
    store: dict[str, dict[str, object]] = {}
    capped, free = CappedMemoryProvider(store), MemoryProvider(store)
    providers = {"capped": capped, "memory": free}
    devices = memory_devices(12, "capped", "cap") + memory_devices(12, "memory", "mem")
    options = RunOptions(parallelism=8, timeout=30)
    planned = plan_fleet(devices, providers, State.empty(), manifest="m", options=options)
    assert not planned.plan.failed
    assert capped.gauge.peak <= 2
    backend = LocalStateBackend(tmp_path / "state.json")
    with backend.lock("apply", 0):
        report = apply_fleet(planned, devices, providers, backend, backend.read(),
                             options=options)
    assert report.ok
    assert all(store[d.name] == {"colour": "blue", "label": d.settings.model_dump()["label"]}
               for d in devices)


def test_run_options_override_a_providers_cap() -> None:
    release = threading.Event()
    capped = CappedMemoryProvider(pause=release)
    devices = memory_devices(6, "capped", "cap")
    timer = threading.Timer(0.2, release.set)
    timer.start()
    try:
        planned = plan_fleet(devices, {"capped": capped}, State.empty(), manifest="m",
                             options=RunOptions(parallelism=6, timeout=30,
                                                provider_parallelism={"capped": 1}))
    finally:
        timer.cancel()
        release.set()
    assert not planned.plan.failed
    assert capped.gauge.peak == 1
