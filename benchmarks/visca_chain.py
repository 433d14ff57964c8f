"""Benchmark: apply 10 presets to each of 7 daisy-chained AVer cameras on one 9600-baud line.

Why: a daisy chain shares one slow wire, so the question is how close
fleetform gets to what the wire allows. The simulated line charges 10 bit
times per byte at the baud rate in each direction (8N1), so the figures
reflect wire time, not pty speed. The script runs the real engine in-process
(plan, apply, re-plan) and compares the apply time with two references:

- sequential reference (the simple formula): every byte of the apply in both
  directions x 10 / baud, plus every command's completion delay and movement,
  as if one command at a time ran on the whole line;
- lower bound: fleetform holds the line only from a command to its ACK and
  waits for completions off the line, so moves on different cameras overlap;
  nothing can beat max(busiest wire direction, busiest camera's own wire time
  + completion time).

    python benchmarks/visca_chain.py
    python benchmarks/visca_chain.py --baud 115200 --presets 20 --pt-speed 5000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from fleetform.applier import apply_fleet
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.planner import RunOptions, plan_fleet
from fleetform.providers.visca.provider import AverProvider
from fleetform.providers.visca.sim_camera import CameraConfig
from fleetform.providers.visca.simulator import CameraSimulator
from fleetform.state import LocalStateBackend

CAMERAS = 7


def manifest_text(path: str, baud: int, presets: int) -> str:
    """A manifest with CAMERAS cameras on one line, ``presets`` presets each."""
    devices = []
    for address in range(1, CAMERAS + 1):
        table = {str(n): {"pan": (n * 700 + address * 50) % 4000 - 2000,
                          "tilt": (n * 130) % 600 - 300, "zoom": (n * 1500) % 0x4000}
                 for n in range(1, presets + 1)}
        devices.append({
            "name": f"cam{address}", "provider": "aver",
            "connection": {"transport": "serial", "port": path, "baud": baud,
                           "address": address, "timeout": 2.0, "move_timeout": 30},
            "settings": {"model": "CAM520 Pro", "presets": table},
        })
    return json.dumps({"devices": devices}, indent=1)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baud", type=int, default=9600, choices=(2400, 4800, 9600, 115200))
    parser.add_argument("--presets", type=int, default=10)
    parser.add_argument("--pt-speed", type=float, default=20000.0,
                        help="simulated pan/tilt/zoom speed, VISCA units per second")
    parser.add_argument("--completion-delay", type=float, default=0.02,
                        help="simulated per-command completion delay, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fleetform-visca-bench-"))
    with CameraSimulator() as sim:
        line = sim.add_line("bench", [
            CameraConfig(f"cam{a}", address=a, pt_speed=args.pt_speed, zoom_speed=args.pt_speed,
                         completion_delay=args.completion_delay)
            for a in range(1, CAMERAS + 1)
        ], baud=args.baud, byte_timing=True)
        path = workdir / "chain.yaml"
        path.write_text(manifest_text(line.path, args.baud, args.presets), encoding="utf-8")
        manifest = load_manifest(path, providers=provider_models_from({"aver": AverProvider}))
        provider = AverProvider()
        providers = {"aver": provider}
        backend = LocalStateBackend(workdir / "state.json")
        options = RunOptions(parallelism=CAMERAS, timeout=600)
        try:
            started = time.perf_counter()
            planned = plan_fleet(manifest.devices, providers, backend.read(),
                                 manifest=str(path), options=options)
            plan_s = time.perf_counter() - started
            cams = [sim.camera(f"cam{a}") for a in range(1, CAMERAS + 1)]
            in0, out0 = line.bytes_in, line.bytes_out
            busy0 = [c.busy_seconds for c in cams]
            seen0 = [c.commands_seen for c in cams]
            started = time.perf_counter()
            report = apply_fleet(planned, manifest.devices, providers, backend, backend.read(),
                                 options=options)
            apply_s = time.perf_counter() - started
            host_to_cam, cam_to_host = line.bytes_in - in0, line.bytes_out - out0
            busy = [c.busy_seconds - b for c, b in zip(cams, busy0, strict=True)]
            commands = sum(c.commands_seen - s for c, s in zip(cams, seen0, strict=True))
            replanned = plan_fleet(manifest.devices, providers, backend.read(),
                                   manifest=str(path), options=options)
        finally:
            provider.close()
    wire = (host_to_cam + cam_to_host) * 10 / args.baud
    sequential = wire + sum(busy)
    per_camera_wire = (host_to_cam + cam_to_host) / CAMERAS * 10 / args.baud
    lower = max(max(host_to_cam, cam_to_host) * 10 / args.baud, max(busy) + per_camera_wire)
    ok = report.ok and not replanned.plan.has_changes
    summary = {
        "machine": (f"{platform.machine()}, {os.cpu_count()} cores, "
                    f"Python {platform.python_version()}"),
        "cameras": CAMERAS, "presets_per_camera": args.presets, "baud": args.baud,
        "commands": commands, "bytes_host_to_camera": host_to_cam,
        "bytes_camera_to_host": cam_to_host, "plan_s": round(plan_s, 3),
        "apply_s": round(apply_s, 3), "wire_time_s": round(wire, 3),
        "completion_and_moves_s": round(sum(busy), 3),
        "sequential_reference_s": round(sequential, 3), "lower_bound_s": round(lower, 3),
        "apply_over_lower_bound": round(apply_s / lower, 2),
        "apply_over_sequential_reference": round(apply_s / sequential, 2), "converged": ok,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"fleetform VISCA daisy-chain benchmark — {summary['machine']}")
        print(f"{CAMERAS} cameras x {args.presets} presets on one simulated {args.baud}-baud line "
              f"(10 bits/byte)\n")
        print(f"  plan (fresh cameras)                 {plan_s:8.3f} s")
        print(f"  apply                                {apply_s:8.3f} s")
        print(f"  commands sent during apply           {commands:8d}")
        print(f"  bytes host->camera / camera->host    {host_to_cam:5d} / {cam_to_host}")
        print(f"  wire time (both directions)          {wire:8.3f} s")
        print(f"  completion delays + movement         {sum(busy):8.3f} s")
        print(f"  sequential reference (wire + compl.) {sequential:8.3f} s   "
              f"ratio {apply_s / sequential:.2f}")
        print(f"  lower bound (overlapped completions) {lower:8.3f} s   "
              f"ratio {apply_s / lower:.2f}")
        print(f"  converged (re-plan shows no changes): {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
