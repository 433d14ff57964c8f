"""Drive plan/apply through the real engine for the fault suites, and read state back.

Why shared: every family's fault test asks the same questions: did the device
complete or fail naming its step, does the state *file* record only what
happened, does a second apply (fault cleared) converge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleetform.applier import ApplyReport, DeviceOutcome, apply_fleet
from fleetform.manifest import load_manifest, provider_models_from
from fleetform.plan import DeviceFailure
from fleetform.planner import PlannedFleet, RunOptions, plan_fleet
from fleetform.provider import Provider
from fleetform.state import LocalStateBackend


class Engine:
    """One manifest, one provider, one local state file: plan and apply like the CLI does."""

    def __init__(self, tmp_path: Path, family: str, provider_class: type[Any],
                 devices: list[dict[str, Any]], *, timeout: float = 30.0) -> None:
        self.tmp_path = tmp_path
        self.family = family
        self.provider_class = provider_class
        self.provider: Provider = provider_class()
        self.timeout = timeout
        self.state_path = tmp_path / "state" / "state.json"
        self.backend = LocalStateBackend(self.state_path)
        self.path = tmp_path / f"{family}.json"
        self.path.write_text(json.dumps({"devices": devices}, ensure_ascii=False),
                             encoding="utf-8")
        self.devices = load_manifest(
            self.path, providers=provider_models_from({family: provider_class})).devices

    def options(self) -> RunOptions:
        """Run options of every plan and apply here (the per-device time budget)."""
        return RunOptions(parallelism=4, timeout=self.timeout)

    def plan(self) -> PlannedFleet:
        """Read and plan every device."""
        return plan_fleet(self.devices, {self.family: self.provider}, self.backend.read(),
                          manifest=str(self.path), options=self.options())

    def apply(self, planned: PlannedFleet | None = None) -> ApplyReport:
        """Apply ``planned`` (or a fresh plan) under the state lock."""
        planned = planned or self.plan()
        with self.backend.lock("apply", 0):
            return apply_fleet(planned, self.devices, {self.family: self.provider},
                               self.backend, self.backend.read(), options=self.options())

    def restart_provider(self) -> None:
        """A new fleetform run: fresh sessions and sockets, as a second CLI call has."""
        self.provider.close()
        self.provider = self.provider_class()

    def converge(self) -> ApplyReport:
        """Apply, then check that a new plan has nothing left to do."""
        report = self.apply()
        assert report.ok, [(d.name, d.failure) for d in report.devices]
        again = self.plan()
        assert not again.plan.failed, [d.failure for d in again.plan.devices]
        assert not again.plan.has_changes, [d.changes for d in again.plan.devices]
        return report

    def state_file(self) -> dict[str, Any]:
        """The state file as written on disk (``{}`` when none was written)."""
        if not self.state_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return data

    def record(self, name: str) -> dict[str, Any] | None:
        """One device's record in the state file."""
        found: dict[str, Any] | None = self.state_file().get("devices", {}).get(name)
        return found

    def tracked(self, name: str) -> dict[str, Any]:
        """What the state file tracks for ``name`` (write-only settings)."""
        record = self.record(name)
        return dict(record.get("tracked", {})) if record else {}

    def close(self) -> None:
        """Release the provider's sessions."""
        self.provider.close()


def outcome(report: ApplyReport, name: str) -> DeviceOutcome:
    """The apply outcome of device ``name``."""
    (found,) = [d for d in report.devices if d.name == name]
    return found


def failed_at(report: ApplyReport, name: str, step: str) -> DeviceFailure:
    """Assert ``name`` failed at ``step`` with a message naming the device; return the failure."""
    result = outcome(report, name)
    assert result.status == "failed", (result.status, result.failure)
    assert result.failure is not None and result.failure.step == step, result.failure
    return result.failure


def plan_failed_at(planned: PlannedFleet, name: str, step: str) -> DeviceFailure:
    """Assert planning ``name`` failed at ``step``; return the failure."""
    (device,) = [d for d in planned.plan.devices if d.name == name]
    assert device.failure is not None and device.failure.step == step, device.failure
    return device.failure
