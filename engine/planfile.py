"""Saved plan files: ``fleetform plan --out site.plan`` and ``fleetform apply site.plan``.

Why: in a GitOps pipeline the plan a reviewer approved on the pull request
must be exactly what runs on merge. The file holds the plan model plus what
it was computed from, so apply can refuse it when anything moved:

- the manifest path and the effective template variables (apply reloads the
  manifest with them, for the secret values, which the file never holds);
- the state backend, serial and lineage;
- per device: identity, fingerprint of the live read, connection and
  desired settings with every secret replaced by ``(sensitive)``, and a
  salted PBKDF2 hash of each secret (salt per plan file), so apply can tell
  that a secret in the environment changed without the file revealing it.

Format: one JSON object, ``type: fleetform-plan-file``, integer
``format_version`` (see ``schemas/planfile.schema.json``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetform import __version__
from fleetform.device import DeviceSpec
from fleetform.diff import SecretMatcher
from fleetform.errors import PlanError
from fleetform.plan import Action, Change, DeviceFailure, DevicePlan, Plan, to_plain
from fleetform.planner import unwrap
from fleetform.provider import Provider
from fleetform.secrets import hash_secret, new_salt

PLANFILE_TYPE = "fleetform-plan-file"
PLANFILE_FORMAT_VERSION = 1
SENSITIVE = "(sensitive)"


@dataclass(frozen=True)
class DeviceSeal:
    """What one device looked like when planned, without any secret in clear."""

    name: str
    provider: str
    fingerprint: str | None
    identity: dict[str, str]
    connection: dict[str, Any]
    desired: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON view stored in the plan file."""
        return {"provider": self.provider, "fingerprint": self.fingerprint,
                "identity": dict(self.identity), "connection": self.connection,
                "desired": self.desired, "secrets": dict(sorted(self.secrets.items()))}


@dataclass(frozen=True)
class SavedPlan:
    """A plan file in memory: the plan plus the seals apply checks it against."""

    plan: Plan
    manifest_path: str
    variables: dict[str, Any]
    state_backend: str
    salt: str
    seals: Mapping[str, DeviceSeal]
    fleetform_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        """The whole plan file document."""
        return {
            "type": PLANFILE_TYPE,
            "format_version": PLANFILE_FORMAT_VERSION,
            "fleetform_version": self.fleetform_version,
            "created_at": self.plan.created_at,
            "manifest": {"path": self.manifest_path, "variables": to_plain(self.variables)},
            "state": {"backend": self.state_backend, "serial": self.plan.state_serial,
                      "lineage": self.plan.state_lineage},
            "targets": list(self.plan.targets),
            "excludes": list(self.plan.excludes),
            "salt": self.salt,
            "devices": {name: seal.to_json() for name, seal in sorted(self.seals.items())},
            "plan": self.plan.to_json(),
        }


def split_secrets(value: Any, path: str, is_secret: SecretMatcher,
                  found: dict[str, str]) -> Any:
    """``value`` with secret leaves replaced by ``(sensitive)``; secrets go into ``found``."""
    if path and is_secret(path):
        composite = isinstance(value, (Mapping, list))
        found[path] = (json.dumps(to_plain(value), sort_keys=True) if composite
                       else "" if value is None else str(value))
        return SENSITIVE
    if isinstance(value, Mapping):
        return {str(k): split_secrets(v, f"{path}.{k}" if path else str(k), is_secret, found)
                for k, v in value.items()}
    if isinstance(value, list):
        return [split_secrets(v, f"{path}[{i}]", is_secret, found) for i, v in enumerate(value)]
    return to_plain(value)


def seal_device(device: DeviceSpec, provider: Provider, plan: DevicePlan, salt: str
                ) -> DeviceSeal:
    """Record one planned device: desired settings, connection, secret hashes."""
    matcher = SecretMatcher(provider.settings_specs, device.sensitive_paths)
    secrets: dict[str, str] = {}
    desired = split_secrets(unwrap(device.desired()), "", matcher, secrets)
    connection = device.connection.model_dump(mode="json")
    conn_secrets: dict[str, str] = {}
    plain_connection = split_secrets(unwrap(device.connection.model_dump(mode="python")), "",
                                     _connection_matcher(connection), conn_secrets)
    hashed = {f"settings.{p}": hash_secret(v, salt) for p, v in secrets.items()}
    hashed.update({f"connection.{p}": hash_secret(v, salt) for p, v in conn_secrets.items()})
    return DeviceSeal(device.name, device.provider, plan.fingerprint, dict(plan.identity),
                      plain_connection, desired, hashed)


def _connection_matcher(dumped: Mapping[str, Any]) -> SecretMatcher:
    """Secret connection paths: those pydantic dumps as ``**********`` (``SecretStr``)."""
    paths: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif value == "**********":
            paths.append(path)

    walk(dumped, "")
    return SecretMatcher({}, paths)


def build_saved_plan(plan: Plan, devices: Mapping[str, DeviceSpec],
                     providers: Mapping[str, Provider], *, manifest_path: str,
                     variables: Mapping[str, Any], state_backend: str) -> SavedPlan:
    """Seal every planned device; refuses a plan in which a device failed."""
    if plan.failed:
        names = ", ".join(d.name for d in plan.failed)
        raise PlanError(
            f"not saving a plan in which device(s) failed to plan ({names}): apply would "
            "skip them silently. Fix them, or leave them out with --exclude, and plan again"
        )
    salt = new_salt()
    seals = {d.name: seal_device(devices[d.name], providers[d.provider], d, salt)
             for d in plan.devices}
    return SavedPlan(plan, manifest_path, dict(variables), state_backend, salt, seals)


def write_plan_file(saved: SavedPlan, path: Path) -> None:
    """Write the plan file atomically, mode 0600 (it holds secret hashes)."""
    data = (json.dumps(saved.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
            + "\n").encode("utf-8")
    directory = path.parent if str(path.parent) else Path()
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
        Path(temp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise


def is_plan_file(path: Path) -> bool:
    """True if ``path`` holds a plan file (JSON with the plan-file type), not a manifest."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not text.lstrip().startswith("{"):
        return False
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("type") == PLANFILE_TYPE


def read_plan_file(path: Path) -> SavedPlan:
    """Load and check a plan file; every problem is a :class:`PlanError` naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"cannot read plan file {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != PLANFILE_TYPE:
        raise PlanError(f"{path} is not a fleetform plan file")
    version = doc.get("format_version")
    if version != PLANFILE_FORMAT_VERSION:
        raise PlanError(f"plan file {path} has format version {version!r}; this fleetform "
                        f"({__version__}) reads version {PLANFILE_FORMAT_VERSION}: plan again")
    try:
        plan = plan_from_json(doc["plan"])
        seals = {name: DeviceSeal(name, str(s["provider"]), s.get("fingerprint"),
                                  dict(s["identity"]), dict(s["connection"]),
                                  dict(s["desired"]), dict(s.get("secrets", {})))
                 for name, s in doc["devices"].items()}
        return SavedPlan(plan, str(doc["manifest"]["path"]), dict(doc["manifest"]["variables"]),
                         str(doc["state"]["backend"]), str(doc["salt"]), seals,
                         str(doc.get("fleetform_version", "?")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanError(f"plan file {path} is damaged ({type(exc).__name__}: {exc}): "
                        "plan again") from exc


def plan_from_json(doc: Mapping[str, Any]) -> Plan:
    """Rebuild a :class:`Plan` from its ``type: plan`` JSON document."""
    devices = []
    for item in doc["devices"]:
        failure = item.get("failure")
        devices.append(DevicePlan(
            name=str(item["name"]), provider=str(item["provider"]),
            address=str(item["address"]),
            changes=tuple(Change(path=str(c["path"]), action=Action(c["action"]),
                                 before=c.get("before"), after=c.get("after"),
                                 sensitive=bool(c.get("sensitive")),
                                 disruptive=bool(c.get("disruptive")), reason=c.get("reason"))
                          for c in item["changes"]),
            identity={str(k): str(v) for k, v in item.get("identity", {}).items()},
            fingerprint=item.get("fingerprint"),
            failure=DeviceFailure(str(failure["kind"]), str(failure["message"]),
                                  failure.get("step")) if failure else None,
            warnings=tuple(item.get("warnings", ())),
        ))
    return Plan(devices=tuple(devices), manifest=str(doc["manifest"]),
                state_serial=int(doc["state"]["serial"]),
                state_lineage=str(doc["state"]["lineage"]), created_at=str(doc["created_at"]),
                targets=tuple(doc.get("targets", ())), excludes=tuple(doc.get("excludes", ())))
