"""Benchmark: plan and apply 1,000 miners + 100 TurretCams + 14 AVer PTZ cameras.

Why: fleetform must be fast at fleet scale, and "fast" means close to what
the network allows. Every simulated device answers after an injected
per-request latency (default 20 ms), so the least time any tool can take for
a phase is requests x latency / parallelism. The benchmark runs the real
engine in this process against simulators in a child process (see
fleet_sim.py), counts requests as they leave (HTTP incl. 401 challenges, RPC
connections, VISCA commands counted by the cameras) and prints each phase's
time beside that bound. It also reads the pools of all miners with fleetform
and with pyasic (if installed), times ``fleetform --help`` and the load of
the manifest, and reports peak memory (``ru_maxrss``, this process and the
simulators').

    python benchmarks/fleet.py                           # defaults: 20 ms, parallelism 10
    python benchmarks/fleet.py --parallelism 50 --provider-parallelism turretcam=10
    python benchmarks/fleet.py --sweep 10,25,50,100      # in-sync plan at several parallelisms
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet_counting import Counter, CountingBackend
from fleet_pools import fleetform_pools, pyasic_available, pyasic_pools
from fleet_sim import CAMERA_NET, MINER_NET, RPC_PORT, FleetSpec, SimulatorProcess, write_manifest
from manifest_scale import run as manifest_scale

from fleetform.applier import apply_fleet
from fleetform.manifest import load_manifest
from fleetform.parallel import provider_limits
from fleetform.planner import RunOptions, plan_fleet
from fleetform.providers import builtin_providers
from fleetform.state import LocalStateBackend
from fleetform.views.human import render_plan
from fleetform.views.jsonview import dumps

FAMILIES = {MINER_NET: "antminer", CAMERA_NET: "turretcam"}


def maxrss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cli_startup(runs: int = 5) -> float:
    """Median wall time of ``fleetform --help`` in a fresh interpreter."""
    script = Path(sys.executable).with_name("fleetform")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fleetform.cli.main"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*command, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Phases:
    """Runs the engine phases, recording time, requests, bound and memory for each."""

    def __init__(self, args: argparse.Namespace, sims: SimulatorProcess, counter: Counter,
                 devices: dict[str, int]) -> None:
        self.args, self.sims, self.counter, self.devices = args, sims, counter, devices
        self.rows: list[dict[str, Any]] = []

    def run(self, label: str, parallelism: int, caps: dict[str, int],
            work: Callable[[], Any], device_waits: float = 0.0) -> Any:
        """Time ``work``; record its requests per device and the lower bound."""
        self.counter.reset()
        before = self.sims.stats()
        cpu = _cpu_seconds()
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu
        after = self.sims.stats()
        requests = self.counter.by_family()
        requests["aver"] = after["visca_commands"] - before["visca_commands"]
        latency = self.args.latency + self.args.jitter / 2
        total = sum(requests.values())
        bound = total * latency / parallelism
        for family, count in requests.items():  # a capped family cannot go faster
            cap = min(parallelism, caps.get(family, parallelism))
            bound = max(bound, count * latency / cap)
        chains = self.devices.get("aver", 0) // 7
        if chains:  # one serial line carries one command at a time
            bound = max(bound, requests["aver"] / chains * latency)
        bound += device_waits
        self.rows.append({
            "phase": label, "parallelism": parallelism, "seconds": round(seconds, 3),
            "requests_per_device": {f: round(requests.get(f, 0) / n, 2)
                                    for f, n in self.devices.items()},
            "lower_bound_s": round(bound, 3), "ratio": round(seconds / bound, 2) if bound else None,
            "simulator_cpu_share": round((after["cpu_s"] - before["cpu_s"]) / seconds, 2),
            "fleetform_cpu_share": round(cpu / seconds, 2),
            "fleetform_maxrss_mib": round(maxrss_mib(), 1),
        })
        return result


def main() -> int:
    """Run the benchmark; print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--miners", type=int, default=1000)
    parser.add_argument("--turretcams", type=int, default=100)
    parser.add_argument("--chains", type=int, default=2, help="7-camera VISCA daisy chains")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this much more")
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--provider-parallelism", action="append", default=[],
                        metavar="PROVIDER=N", help="per-provider cap (repeatable)")
    parser.add_argument("--restart-delay", type=float, default=0.5,
                        help="simulated bmminer restart after a pool change (real: 30-120 s)")
    parser.add_argument("--network-delay", type=float, default=0.1)
    parser.add_argument("--sweep", default="", help="parallelisms for extra in-sync plans")
    parser.add_argument("--manifest-devices", type=int, default=10_000)
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    caps = {k: int(v) for k, v in (item.split("=", 1) for item in args.provider_parallelism)}

    workdir = Path(tempfile.mkdtemp(prefix="fleetform-fleet-bench-"))
    os.environ.setdefault("BENCH_ADMIN_PASSWORD", "bench-Admin-pw1")
    os.environ.setdefault("BENCH_CAMERA_PASSWORD", "bench-Camera-pw1")
    os.environ["FLEETFORM_SIM_DIR"] = str(workdir / "sim")
    path, variables = write_manifest(workdir, args.miners, args.turretcams, args.chains)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    manifest = load_manifest(path, variables=variables)
    seconds["manifest load + validate"] = time.perf_counter() - started
    devices: dict[str, int] = {}
    for device in manifest.devices:
        devices[device.provider] = devices.get(device.provider, 0) + 1
    spec = FleetSpec(path, variables, args.latency, args.jitter, args.restart_delay,
                     args.network_delay)
    sims = SimulatorProcess(spec)
    seconds["simulators start (child process)"] = sims.start_seconds
    counter = Counter(FAMILIES)
    phases = Phases(args, sims, counter, devices)
    summary: dict[str, Any] = {}
    try:
        with counter.installed():
            providers = {name: cls() for name, cls in builtin_providers().items()}
            limits = provider_limits(providers, caps)
            backend = CountingBackend(LocalStateBackend(workdir / "state.json"))
            options = RunOptions(parallelism=args.parallelism, timeout=900,
                                 provider_parallelism=caps)
            planned = phases.run("plan (fresh devices)", args.parallelism, limits,
                                 lambda: plan_fleet(manifest.devices, providers, backend.read(),
                                                    manifest=str(path), options=options))
            started = time.perf_counter()
            render_plan(planned.plan)
            seconds["plan render (text)"] = time.perf_counter() - started
            started = time.perf_counter()
            dumps(planned.plan.to_json())
            seconds["plan render (JSON)"] = time.perf_counter() - started
            converged = not planned.plan.failed
            if not args.skip_apply:
                waits = devices.get("antminer", 0) * (args.restart_delay + args.network_delay)
                with backend.lock("apply", 0):
                    report = phases.run(
                        "apply", args.parallelism, limits, lambda: apply_fleet(
                            planned, manifest.devices, providers, backend, backend.read(),
                            options=options),
                        device_waits=waits / min(args.parallelism, limits.get(
                            "antminer", args.parallelism)))
                summary["state_writes"] = backend.writes
                summary["apply_failures"] = [
                    f"{d.name}: {d.failure}" for d in report.devices if d.failure][:10]
                replanned = phases.run(
                    "re-plan (no changes)", args.parallelism, limits,
                    lambda: plan_fleet(manifest.devices, providers, backend.read(),
                                       manifest=str(path), options=options))
                converged = report.ok and not replanned.plan.has_changes and not (
                    replanned.plan.failed)
            for value in filter(None, (int(v) for v in args.sweep.split(",") if v.strip())):
                sweep_options = RunOptions(parallelism=value, timeout=900,
                                           provider_parallelism=caps)
                phases.run(f"in-sync plan, parallelism {value}", value, limits,
                           lambda o=sweep_options: plan_fleet(  # type: ignore[misc]
                               manifest.devices, providers, backend.read(),
                               manifest=str(path), options=o))
            for provider in providers.values():
                provider.close()
        hosts = [str(d.connection.model_dump()["host"]) for d in manifest.devices
                 if d.provider == "antminer"]
        ff_seconds, ff_pools = fleetform_pools(hosts, RPC_PORT, args.parallelism)
        summary["pools_read"] = {"fleetform_s": round(ff_seconds, 3),
                                 "fleetform_ok": sum(p is not None for p in ff_pools),
                                 "lower_bound_s": round(len(hosts) * args.latency
                                                        / args.parallelism, 3)}
        version = pyasic_available()
        if version is None:
            summary["pools_read"]["pyasic"] = (
                "skipped: pyasic is not importable (pip install -r benchmarks/requirements.txt)")
        else:
            py_seconds, py_pools = pyasic_pools(hosts, args.parallelism)
            summary["pools_read"].update({
                "pyasic_version": version, "pyasic_s": round(py_seconds, 3),
                "pyasic_ok": sum(p is not None for p in py_pools),
                "pyasic_over_fleetform": round(py_seconds / ff_seconds, 2)})
        sim_stats = sims.stats()
    finally:
        sims.stop()
    seconds["CLI start-up (fleetform --help, median of 5)"] = cli_startup()
    scale = manifest_scale(args.manifest_devices, with_ruamel=False) if (
        args.manifest_devices) else {}
    summary.update({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}, {platform.system()}",
        "devices": devices, "latency_s": args.latency, "jitter_s": args.jitter,
        "parallelism": args.parallelism, "provider_parallelism": caps,
        "restart_delay_s": args.restart_delay, "converged": converged,
        "phases": phases.rows, "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "manifest_scale": {"devices": args.manifest_devices,
                           **{k: round(v, 3) for k, v in scale.items()}},
        "fleetform_maxrss_mib": round(maxrss_mib(), 1),
        "simulators": {k: round(v, 1) for k, v in sim_stats.items()},
    })
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0 if converged else 1


def render(summary: dict[str, Any]) -> str:
    """The human table."""
    devices = summary["devices"]
    lines = [f"fleetform fleet benchmark — {summary['machine']}",
             f"{', '.join(f'{n} {f}' for f, n in devices.items())}; latency "
             f"{summary['latency_s'] * 1000:g} ms/request (+ jitter {summary['jitter_s'] * 1000:g}"
             f" ms), parallelism {summary['parallelism']} {summary['provider_parallelism'] or ''}",
             "", f"  {'phase':<30} {'measured':>9} {'bound':>8} {'ratio':>6}  requests/device "
             f"({'/'.join(devices)})  CPU ff/sim  RSS MiB"]
    for row in summary["phases"]:
        per = "/".join(f"{v:g}" for v in row["requests_per_device"].values())
        lines.append(f"  {row['phase']:<30} {row['seconds']:8.2f}s {row['lower_bound_s']:7.2f}s "
                     f"{row['ratio']:6.2f}  {per:<28} {row['fleetform_cpu_share']:4.0%}/"
                     f"{row['simulator_cpu_share']:<4.0%}  "
                     f"{row['fleetform_maxrss_mib']:7.0f}")
    pools = summary["pools_read"]
    lines += ["", f"  read pools of {devices.get('antminer', 0)} miners: fleetform "
                  f"{pools['fleetform_s']:.2f}s ({pools['fleetform_ok']} ok), bound "
                  f"{pools['lower_bound_s']:.2f}s"]
    if "pyasic_s" in pools:
        lines.append(f"  pyasic {pools['pyasic_version']}: {pools['pyasic_s']:.2f}s "
                     f"({pools['pyasic_ok']} ok) = {pools['pyasic_over_fleetform']:.2f}x fleetform")
    else:
        lines.append(f"  pyasic: {pools['pyasic']}")
    lines.append("")
    for label, value in summary["seconds"].items():
        lines.append(f"  {label:<48} {value:8.3f} s")
    scale = summary["manifest_scale"]
    for label, value in scale.items():
        if label != "devices":
            lines.append(f"  {scale['devices']} devices: {label:<38} {value:8.3f}")
    lines += ["", f"  state writes during apply: {summary.get('state_writes', '-')}",
              f"  peak RSS: fleetform {summary['fleetform_maxrss_mib']:.0f} MiB, simulators "
              f"{summary['simulators']['maxrss_mib']:.0f} MiB "
              f"({summary['simulators']['threads']:.0f} threads)",
              f"  converged: {summary['converged']}"]
    if summary.get("apply_failures"):
        lines += ["  failures:", *(f"    {f}" for f in summary["apply_failures"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
