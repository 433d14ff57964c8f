"""Benchmark: plan (and apply, re-plan) across many simulated TurretCams over ONVIF.

Why: a plan's cost on cameras is round trips; this starts N simulated cameras
on loopback (one process, one HTTP server thread each, ephemeral ports),
plans a manifest that manages every ONVIF-reachable setting except the
network, and reports wall time and SOAP requests per camera as the cameras
counted them (401 Digest challenges included), per phase.

    python benchmarks/onvif_plan.py                     # 50 cameras, parallelism 10
    python benchmarks/onvif_plan.py --cameras 100 --parallelism 20 --json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fleetform.applier import apply_fleet
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.planner import RunOptions, plan_fleet
from fleetform.providers.onvif.provider import TurretCamProvider
from fleetform.providers.onvif.sim_state import CameraConfig
from fleetform.providers.onvif.simulator import CameraSimulator, SimulatedCamera
from fleetform.state import LocalStateBackend

SETTINGS: dict[str, Any] = {
    "video": {"main": {"codec": "H.265", "resolution": "2560x1440", "fps": 15,
                       "rate_control": "VBR", "bitrate": 4096, "gop": 30, "quality": 70},
              "sub": {"codec": "H.264", "resolution": "720x576", "fps": 10}},
    "image": {"brightness": 55, "contrast": 50, "rotation": 0, "day_night": "auto",
              "wdr": {"enabled": True, "level": 2}},
    "osd": {"name": "Bench camera", "timestamp": True},
    "privacy_zones": [{"x": 0.1, "y": 0.1, "width": 0.2, "height": 0.2}],
    "time_zone": "Europe/Kyiv",
    "ntp": ["pool.ntp.org"],
}


def _requests(cameras: list[SimulatedCamera], since: list[int]) -> tuple[float, dict[str, float]]:
    """Requests per camera since the ``since`` marks, and per operation."""
    total = 0
    per_op: collections.Counter[str] = collections.Counter()
    for camera, mark in zip(cameras, since, strict=True):
        entries = camera.log[mark:]
        total += len(entries)
        per_op.update(e.operation for e in entries)
    count = len(cameras)
    return total / count, {op: n / count for op, n in sorted(per_op.items())}


def main() -> int:
    """Run the benchmark and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fleetform-onvif-bench-"))
    seconds: dict[str, float] = {}
    per_camera: dict[str, float] = {}
    breakdown: dict[str, dict[str, float]] = {}
    with CameraSimulator() as simulator:
        start = time.perf_counter()
        cameras = [simulator.add(CameraConfig(
            name=f"cam-{i + 1:03d}", host=f"127.202.{i // 250}.{i % 250 + 1}", port=0,
            password="bench-pw", model="TurretCam (8 Mp/2.8 mm)" if i % 2 else
            "TurretCam (5 Mp/2.8 mm)")) for i in range(args.cameras)]
        seconds["simulator start"] = time.perf_counter() - start
        devices = [{"name": c.config.name, "provider": "turretcam",
                    "connection": {"host": c.host, "port": c.port, "password": "bench-pw"},
                    "settings": SETTINGS} for c in cameras]
        manifest_path = workdir / "cameras.yaml"
        manifest_path.write_text(json.dumps({"devices": devices}), encoding="utf-8")
        manifest = load_manifest(manifest_path,
                                 providers=provider_models_from({"turretcam": TurretCamProvider}))
        backend = LocalStateBackend(workdir / "state.json")
        options = RunOptions(parallelism=args.parallelism, timeout=120)

        def phase(label: str, work: Any) -> Any:
            marks = [len(c.log) for c in cameras]
            began = time.perf_counter()
            result = work()
            seconds[label] = time.perf_counter() - began
            per_camera[label], breakdown[label] = _requests(cameras, marks)
            return result

        provider = TurretCamProvider()
        planned = phase("plan (fresh cameras)", lambda: plan_fleet(
            manifest.devices, {"turretcam": provider}, backend.read(),
            manifest=str(manifest_path), options=options))
        with backend.lock("apply", 0):
            report = phase("apply", lambda: apply_fleet(
                planned, manifest.devices, {"turretcam": provider}, backend, backend.read(),
                options=options))
        provider.close()
        fresh = TurretCamProvider()
        replanned = phase("re-plan (new process view, no changes)", lambda: plan_fleet(
            manifest.devices, {"turretcam": fresh}, backend.read(),
            manifest=str(manifest_path), options=options))
        fresh.close()
    ok = report.ok and not replanned.plan.has_changes and not replanned.plan.failed
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "cameras": args.cameras, "parallelism": args.parallelism, "converged": ok,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "soap_requests_per_camera": {k: round(v, 2) for k, v in per_camera.items()},
        "plan_requests_by_operation": {k: round(v, 2) for k, v in
                                       breakdown["plan (fresh cameras)"].items()},
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"fleetform ONVIF plan benchmark — {summary['machine']}")
        print(f"{args.cameras} simulated TurretCams, parallelism {args.parallelism}\n")
        for label, value in seconds.items():
            extra = (f"   {per_camera[label]:6.2f} SOAP requests/camera"
                     if label in per_camera else "")
            print(f"  {label:<42} {value:8.3f} s{extra}")
        print("\n  plan requests per camera by operation:")
        for op, count in summary["plan_requests_by_operation"].items():
            print(f"    {op:<40} {count:5.2f}")
        print(f"\n  converged: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
