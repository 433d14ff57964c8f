"""Benchmark: load, validate and render the plan of a 10,000-device manifest.

Why: at fleet scale the manifest must never be what a run waits for. This
times each stage of the real loader on a Jinja-looped farm (render, YAML with
node positions, validation into provider models) plus rendering a plan that
changes every device, in text and JSON. For reference it also times the YAML
stage through ruamel's round-trip loader alone (what the loader used before
the libyaml fast path), on the same rendered text.

    python benchmarks/manifest_scale.py                # 10,000 miners
    python benchmarks/manifest_scale.py --devices 2000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fleetform.diff import diff_settings
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.manifest.template import render_template
from fleetform.manifest.yamlsource import SourceMap, gc_paused, parse_yaml
from fleetform.plan import DevicePlan, Plan
from fleetform.planner import unwrap
from fleetform.providers import builtin_providers
from fleetform.views.human import render_plan
from fleetform.views.jsonview import dumps

T = TypeVar("T")

TEMPLATE = """\
devices:
{% for i in range(count) %}
  - name: s9-{{ "%05d" % (i + 1) }}
    provider: antminer
    labels: {rack: "r{{ i % 40 }}", row: "{{ i // 400 }}"}
    connection:
      host: "10.{{ i // 62500 }}.{{ (i // 250) % 250 }}.{{ i % 250 + 1 }}"
      credentials: {username: root, password: root}   # factory login
    settings:
      pools:
        - url: stratum+tcp://stratum.example.com:3333
          worker: farm.{{ i + 1 }}
        - url: stratum+tcp://backup.example.com:443
          worker: farm.{{ i + 1 }}
      admin_password: ${env:BENCH_ADMIN_PASSWORD}
      network: {mode: dhcp, hostname: "s9-{{ '%05d' % (i + 1) }}"}
{% endfor %}
"""


def timed(results: dict[str, float], label: str, work: Callable[[], T]) -> T:
    """Run ``work`` and record its wall time."""
    start = time.perf_counter()
    value = work()
    results[label] = time.perf_counter() - start
    return value


def ruamel_load(text: str) -> Any:
    """The YAML stage as it was: ruamel's round-trip loader on the whole text."""
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)


def run(devices: int, *, with_ruamel: bool = True) -> dict[str, float]:
    """Time each stage for ``devices`` miners; return seconds per label."""
    os.environ.setdefault("BENCH_ADMIN_PASSWORD", "bench-Admin-pw1")
    workdir = Path(tempfile.mkdtemp(prefix="fleetform-manifest-bench-"))
    path = workdir / "farm.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    classes = builtin_providers()
    models = provider_models_from(classes)
    results: dict[str, float] = {}
    rendered = timed(results, "Jinja render", lambda: render_template(
        TEMPLATE, file=str(path), variables={"count": devices}, environ=os.environ))
    with gc_paused():
        timed(results, "YAML parse with positions (libyaml fast path)",
              lambda: parse_yaml(rendered.text, SourceMap(str(path), rendered.line_map)))
    if with_ruamel:
        with gc_paused():
            timed(results, "YAML parse, ruamel round-trip only (before)",
                  lambda: ruamel_load(rendered.text))
    manifest = timed(results, "load + validate (whole loader)", lambda: load_manifest(
        path, variables={"count": devices}, providers=models))
    specs = {name: cls.settings_specs for name, cls in classes.items()}
    plans = tuple(
        DevicePlan(name=d.name, provider=d.provider, address=str(d.connection.model_dump()["host"]),
                   changes=tuple(diff_settings(unwrap(d.desired()), {}, specs[d.provider],
                                               secret_paths=d.sensitive_paths)))
        for d in manifest.devices)
    plan = Plan(devices=plans, manifest=str(path), state_serial=0, state_lineage="bench",
                created_at="2026-01-01T00:00:00Z")
    text = timed(results, "plan render (text)", lambda: render_plan(plan).plain)
    timed(results, "plan render (JSON)", lambda: dumps(plan.to_json()))
    results["plan text size (MiB)"] = len(text.encode()) / 2**20
    return results


def main() -> int:
    """Run and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--no-ruamel", action="store_true",
                        help="skip the (slow) ruamel reference timing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.devices, with_ruamel=not args.no_ruamel)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        print(json.dumps({"machine": machine, "devices": args.devices,
                          "seconds": {k: round(v, 3) for k, v in results.items()}}, indent=2))
        return 0
    print(f"fleetform manifest scale benchmark — {machine}\n{args.devices} devices\n")
    for label, value in results.items():
        unit = "" if "size" in label else " s"
        per = "" if "size" in label else f"   {value / args.devices * 1000:6.3f} ms/device"
        print(f"  {label:<48} {value:8.3f}{unit}{per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
