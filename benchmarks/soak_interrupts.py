"""Soak: interrupt applies across a simulated farm, round after round.

Why: CI runs four kill points (tests/interrupt); this runs as many as you
like with the same harness and the same checks — after every SIGINT or
SIGKILL the state file parses and records only changes that happened, the
lock is free (``fleetform state unlock`` agrees), SIGINT exits 130 naming
the interrupted devices, and a re-run converges with a clean plan.

    python benchmarks/soak_interrupts.py --rounds 100              # 50 miners, seed 6
    python benchmarks/soak_interrupts.py --rounds 500 --seed 7 --miners 100 --restart-delay 0.5

Kill points are seeded and counted in apply progress lines, so
``--seed S --rounds N`` replays the same points. Exit code 1 if any round
found a problem (each is printed with its round and kill point).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interrupt"))

from interrupt_harness import kill_points, start_farm


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print one line per round plus a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="kill points (one per round)")
    parser.add_argument("--miners", type=int, default=50)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--restart-delay", type=float, default=0.2,
                        help="simulated bmminer restart after a pool change, seconds")
    parser.add_argument("--subnet", default=f"127.{200 + os.getpid() % 50}.77",
                        help="loopback /24 prefix for the miners")
    args = parser.parse_args(argv)
    points = kill_points(args.seed, args.rounds, args.miners)
    counts = {"SIGINT": 0, "SIGKILL": 0, "finished first": 0, "problems": 0}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fleetform-soak-") as directory:
        farm = start_farm(Path(directory), args.miners, args.subnet,
                          restart_delay=args.restart_delay, parallelism=args.parallelism)
        try:
            for number, point in enumerate(points):
                farm.round = number
                outcome = farm.interrupt(point)
                problems = outcome.problems + farm.converge()
                key = point.signal.name if outcome.signalled else "finished first"
                counts[key] += 1
                counts["problems"] += len(problems)
                print(f"round {number:4d}: {point!s:<34} exit {outcome.returncode:4d}  "
                      f"{'OK' if not problems else 'PROBLEMS'}", flush=True)
                for problem in problems:
                    print(f"    {problem}", flush=True)
        finally:
            farm.simulator.stop()
    elapsed = time.perf_counter() - started
    print(f"\n{args.rounds} round(s) on {args.miners} miners in {elapsed:.0f}s (seed {args.seed}): "
          f"{counts['SIGINT']} SIGINT, {counts['SIGKILL']} SIGKILL, "
          f"{counts['finished first']} finished before the signal; "
          f"{counts['problems']} problem(s).")
    return 1 if counts["problems"] else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
