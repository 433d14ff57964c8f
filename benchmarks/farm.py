"""Benchmark: plan and apply a Jinja-generated farm of simulated S9 miners.

Why: speed is measured here, not asserted in tests. The script starts N
simulated miners on loopback (one simulator process, ephemeral ports), renders
a Jinja-looped manifest for them, and times each phase of the real engine:
manifest load + validation, plan on fresh miners, plan rendering, apply
(pools, password, hostname — each verified), and a clean re-plan. It also
counts HTTP requests and RPC connections per device.

    python benchmarks/farm.py                      # 200 miners, parallelism 10
    python benchmarks/farm.py --miners 500 --parallelism 50 --restart-delay 1
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from fleetform.applier import apply_fleet
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.planner import RunOptions, plan_fleet
from fleetform.providers import builtin_providers
from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator
from fleetform.state import LocalStateBackend
from fleetform.views.human import render_plan
from fleetform.views.jsonview import dumps

TEMPLATE = """\
devices:
{% for i in range(hosts | length) %}
  - name: s9-{{ "%04d" % (i + 1) }}
    provider: antminer
    labels: {rack: "r{{ i % 10 }}"}
    connection: {host: "{{ hosts[i] }}", port: {{ http_ports[i] }}, rpc_port: {{ rpc_ports[i] }}}
    settings:
      pools:
        - {url: "stratum+tcp://stratum.example.com:3333", worker: "farm.{{ i + 1 }}"}
        - {url: "stratum+tcp://backup.example.com:443", worker: "farm.{{ i + 1 }}"}
      admin_password: "${env:BENCH_ADMIN_PASSWORD}"
      network: {mode: dhcp, hostname: "s9-{{ '%04d' % (i + 1) }}"}
{% endfor %}
"""


class RequestCounter:
    """Counts HTTP requests and TCP connections (RPC) made by this process, per host."""

    def __init__(self) -> None:
        self.http: collections.Counter[str] = collections.Counter()
        self.tcp: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap requests' adapter and socket.create_connection while the block runs."""
        adapter_send = requests.adapters.HTTPAdapter.send
        create_connection = socket.create_connection
        counter = self

        def send(self: requests.adapters.HTTPAdapter, request: Any, *a: Any, **k: Any) -> Any:
            host = requests.utils.urlparse(request.url).hostname or "?"
            with counter._lock:
                counter.http[host] += 1
            return adapter_send(self, request, *a, **k)

        def connect(address: Any, *a: Any, **k: Any) -> socket.socket:
            with counter._lock:
                counter.tcp[str(address[0])] += 1
            return create_connection(address, *a, **k)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        socket.create_connection = connect  # type: ignore[assignment]
        try:
            yield
        finally:
            requests.adapters.HTTPAdapter.send = adapter_send  # type: ignore[method-assign]
            socket.create_connection = create_connection

    def reset(self) -> tuple[int, int]:
        """Return and clear the totals (http, tcp)."""
        with self._lock:
            totals = (sum(self.http.values()), sum(self.tcp.values()))
            self.http.clear()
            self.tcp.clear()
        return totals


def timed(label: str, results: dict[str, float], work: Callable[[], Any]) -> Any:
    """Run ``work``, record its wall time under ``label``."""
    start = time.perf_counter()
    value = work()
    results[label] = time.perf_counter() - start
    return value


def main() -> int:
    """Run the benchmark and print a table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miners", type=int, default=200)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--restart-delay", type=float, default=0.5,
                        help="simulated bmminer restart after a pool change (real: 30-120 s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_ADMIN_PASSWORD", "bench-Admin-pw1")

    results: dict[str, float] = {}
    counts: dict[str, float] = {}
    counter = RequestCounter()
    workdir = Path(tempfile.mkdtemp(prefix="fleetform-bench-"))
    with MinerSimulator() as simulator, counter.installed():
        sims = timed("simulator start", results, lambda: [
            simulator.add(MinerConfig(
                name=f"s9-{i + 1:04d}", host=f"127.201.{i // 250}.{i % 250 + 1}",
                http_port=0, rpc_port=0, restart_delay=args.restart_delay, network_delay=0.1,
            ))
            for i in range(args.miners)
        ])
        manifest_path = workdir / "farm.yaml"
        manifest_path.write_text(TEMPLATE, encoding="utf-8")
        var_file = workdir / "vars.yaml"
        var_file.write_text(json.dumps({
            "hosts": [s.host for s in sims],
            "http_ports": [s.http_port for s in sims],
            "rpc_ports": [s.rpc_port for s in sims],
        }), encoding="utf-8")
        classes = builtin_providers()
        manifest = timed("manifest load + validate", results, lambda: load_manifest(
            manifest_path, var_files=[var_file], providers=provider_models_from(classes)
        ))
        providers = {name: cls() for name, cls in classes.items()}
        backend = LocalStateBackend(workdir / "state.json")
        options = RunOptions(parallelism=args.parallelism, timeout=600)
        state = backend.read()
        counter.reset()
        planned = timed("plan (fresh miners)", results, lambda: plan_fleet(
            manifest.devices, providers, state, manifest=str(manifest_path), options=options
        ))
        http, tcp = counter.reset()
        counts["plan: HTTP requests / device"] = http / args.miners
        counts["plan: RPC connections / device"] = tcp / args.miners
        timed("plan render (text)", results, lambda: render_plan(planned.plan).plain)
        timed("plan render (JSON)", results, lambda: dumps(planned.plan.to_json()))
        with backend.lock("apply", 0):
            report = timed("apply", results, lambda: apply_fleet(
                planned, manifest.devices, providers, backend, state, options=options
            ))
        http, tcp = counter.reset()
        counts["apply: HTTP requests / device"] = http / args.miners
        counts["apply: RPC connections / device"] = tcp / args.miners
        replanned = timed("re-plan (no changes)", results, lambda: plan_fleet(
            manifest.devices, providers, backend.read(), manifest=str(manifest_path),
            options=options,
        ))
        for provider in providers.values():
            provider.close()
    ok = report.ok and not replanned.plan.has_changes and not replanned.plan.failed
    summary = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "miners": args.miners, "parallelism": args.parallelism,
        "restart_delay_s": args.restart_delay, "converged": ok,
        "seconds": {k: round(v, 3) for k, v in results.items()},
        "per_device": {k: round(v, 2) for k, v in counts.items()},
        "apply_lower_bound_s": round(
            args.miners / args.parallelism * args.restart_delay, 2
        ),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"fleetform farm benchmark — {summary['machine']}")
        print(f"{args.miners} simulated S9 miners, parallelism {args.parallelism}, "
              f"bmminer restart {args.restart_delay}s\n")
        for label, seconds in results.items():
            print(f"  {label:<32} {seconds:8.3f} s")
        for label, value in counts.items():
            print(f"  {label:<32} {value:8.2f}")
        print(f"\n  apply lower bound (restart waits only): {summary['apply_lower_bound_s']} s")
        print(f"  converged: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
