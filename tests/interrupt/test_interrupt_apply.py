"""SIGINT and SIGKILL at seeded points of an apply across 50 simulated miners.

Each test runs rounds on one farm: every round changes pools, rotates the
admin password and renames every miner; an apply subprocess is interrupted
at a kill point, the harness checks the state file, the lock and (SIGINT)
the report and exit code 130, then a re-run must converge and a plan show
no changes. See ``interrupt_harness`` for the checks and
``benchmarks/soak_interrupts.py --rounds N`` for the long soak.

The seed comes from ``FLEETFORM_INTERRUPT_SEED`` (default 6) so a failing
point can be replayed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import next_subnet
from interrupt_harness import InterruptFarm, KillPoint, kill_points, start_farm

MINERS = 50
SEED = int(os.environ.get("FLEETFORM_INTERRUPT_SEED", "6"))


@pytest.fixture
def interrupt_farm(tmp_path: Path) -> Iterator[InterruptFarm]:
    """50 simulated miners (bmminer restarts in 0.2 s) and a Jinja manifest for them."""
    farm = start_farm(tmp_path, MINERS, next_subnet(), restart_delay=0.2)
    try:
        yield farm
    finally:
        farm.simulator.stop()


def _rounds(farm: InterruptFarm, points: list[KillPoint]) -> None:
    report: list[str] = []
    for number, point in enumerate(points):
        farm.round = number
        outcome = farm.interrupt(point)
        problems = outcome.problems + farm.converge()
        report.append(f"round {number}: {point}: "
                      f"{'signalled' if outcome.signalled else 'finished first'}, "
                      f"exit {outcome.returncode}, {len(problems)} problem(s)")
        print(report[-1])
        assert not problems, "\n".join(report + problems)


def test_sigint_lets_running_steps_finish_exits_130_and_rerun_converges(
    interrupt_farm: InterruptFarm,
) -> None:
    _rounds(interrupt_farm,
            kill_points(SEED, 2, MINERS, (signal.SIGINT,), planning_first=True))


def test_sigkill_leaves_valid_state_a_free_lock_and_rerun_converges(
    interrupt_farm: InterruptFarm,
) -> None:
    _rounds(interrupt_farm,
            kill_points(SEED + 1, 2, MINERS, (signal.SIGKILL,), planning_first=True))


def test_kill_points_are_reproducible_and_spread() -> None:
    points = kill_points(42, 200, MINERS)
    assert points == kill_points(42, 200, MINERS)
    steps = {p.after_steps for p in points}
    assert min(steps) == 0 and max(steps) > MINERS * 2
    assert {p.signal for p in points} == {signal.SIGINT, signal.SIGKILL}
