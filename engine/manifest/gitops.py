"""The manifest's GitOps blocks: drift ignore rules and the state backend.

Why a module of its own: these blocks are engine configuration, not device
settings, so they are validated here (with the same located, plain-words
problems as the rest of the manifest) and kept out of the provider models.

Drift ignore rules (``fleetform drift`` only; plan and apply still show and
correct the difference)::

    drift:
      ignore:
        - devices: ["s9-*", "rack=r2"]     # selectors, as --target; omitted: every device
          paths: ["network.hostname"]
          reason: hostnames are set by the DHCP server
    devices:
      - name: s9-001
        drift:
          ignore: ["pools[*].password"]    # this device only
          reason: pool passwords rotate nightly

State backend::

    state: {backend: postgres, dsn: "postgresql://fleetform@db/fleetform", workspace: prod}
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetform.manifest.secretref import has_reference, resolve_secrets
from fleetform.targeting import Selector, SelectorError

Add = Callable[..., None]
"""The loader's ``add(path, message, key=..., device=...)`` problem collector."""

BACKENDS = ("local", "postgres")
STATE_KEYS = ("backend", "dsn", "path", "workspace")
DRIFT_KEYS = ("ignore",)
RULE_KEYS = ("devices", "paths", "reason")
DEVICE_DRIFT_KEYS = ("ignore", "reason")
_SEGMENT = r"[A-Za-z0-9_*?\-]+(?:\[(?:\d+|\*)\])*"
PATH_PATTERN = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")
_TOKEN = re.compile(r"\[(\d+|\*)\]|([^.\[\]]+)")
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_URL_PASSWORD = re.compile(r"^[a-z]+://[^/@:?]*:(?P<pw>[^@/?]*)@")
_KV_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*(?P<pw>'[^']*'|\S+)")
PATH_RULE = ("a setting path like 'network.hostname' or 'pools[*].password' "
             "('[*]' any list entry, '*' glob within a name; a path also covers "
             "everything below it)")


def _tokens(path: str) -> list[str]:
    return [f"[{index}]" if index else name for index, name in _TOKEN.findall(path)]


def path_covers(pattern: str, path: str) -> bool:
    """True if the ignore ``pattern`` covers the change ``path`` (or a parent of it).

    Why token-wise: ``pools[*].password`` must cover ``pools[2].password`` but
    not ``pools_backup[0].password``, and ``network`` covers ``network.dns[1]``.
    """
    want, have = _tokens(pattern), _tokens(path)
    if len(want) > len(have):
        return False
    for pat, tok in zip(want, have, strict=False):
        if pat.startswith("[") != tok.startswith("["):
            return False
        if pat == "[*]":
            continue
        if pat.startswith("["):
            if pat != tok:
                return False
        elif not fnmatch.fnmatchcase(tok, pat):
            return False
    return True


@dataclass(frozen=True)
class IgnoreRule:
    """Accepted drift: setting paths to leave out of drift alarms on some devices.

    ``devices`` holds selectors (name, glob, ``label=value``); empty means
    every device. ``source`` says where the rule was declared, for reports.
    """

    paths: tuple[str, ...]
    devices: tuple[str, ...] = ()
    reason: str | None = None
    source: str = "drift.ignore"

    def applies_to(self, name: str, labels: Mapping[str, str]) -> bool:
        """True if this rule covers the device."""
        if not self.devices:
            return True
        return any(Selector.parse(s).matches(name, dict(labels)) for s in self.devices)

    def covers(self, path: str) -> str | None:
        """The first pattern covering ``path``, or ``None``."""
        return next((p for p in self.paths if path_covers(p, path)), None)


@dataclass(frozen=True)
class StateConfig:
    """Where state lives, as the manifest declares it (all optional).

    ``dsn`` has ``${env:...}`` references resolved (it may hold a password
    that way; never print it, use :func:`fleetform.state.config.safe_dsn`).
    """

    backend: str | None = None
    path: str | None = None
    dsn: str | None = None
    workspace: str | None = None


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _check_paths(value: Any, where: tuple[Any, ...], add: Add, device: str | None
                 ) -> tuple[str, ...] | None:
    paths = _strings(value)
    if paths is None or not paths:
        add(where, f"must be a non-empty list of setting paths, each {PATH_RULE}", device=device)
        return None
    bad = [p for p in paths if not PATH_PATTERN.match(p)]
    if bad:
        add(where, f"bad path {bad[0]!r}: expected {PATH_RULE}", device=device)
        return None
    return tuple(paths)


def _check_reason(value: Any, where: tuple[Any, ...], add: Add, device: str | None
                  ) -> str | None:
    if value is not None and not isinstance(value, str):
        add(where, "reason must be a string (why this drift is accepted)", device=device)
    return value if isinstance(value, str) else None


def parse_drift_block(block: Any, add: Add) -> list[IgnoreRule]:
    """Validate the top-level ``drift:`` block into rules, reporting problems via ``add``."""
    if block is None:
        return []
    if not isinstance(block, dict):
        add(("drift",), "drift must be a mapping like {ignore: [{devices: 's9-*', "
                        "paths: ['network.hostname']}]}")
        return []
    for key in block:
        if key not in DRIFT_KEYS:
            add(("drift", key), f"unknown key '{key}' in drift; allowed: "
                f"{', '.join(DRIFT_KEYS)}", key=True)
    items = block.get("ignore")
    if items is None:
        return []
    if not isinstance(items, list):
        add(("drift", "ignore"), "drift.ignore must be a list of rules "
                                 "({devices, paths, reason})")
        return []
    rules = []
    for index, item in enumerate(items):
        rule = _parse_rule(item, ("drift", "ignore", index), add)
        if rule is not None:
            rules.append(rule)
    return rules


def _parse_rule(item: Any, where: tuple[Any, ...], add: Add) -> IgnoreRule | None:
    if not isinstance(item, dict):
        add(where, "each drift.ignore rule is a mapping {devices: [selectors], "
                   "paths: [setting paths], reason: text}")
        return None
    for key in item:
        if key not in RULE_KEYS:
            add((*where, key), f"unknown key '{key}' in a drift rule; allowed: "
                f"{', '.join(RULE_KEYS)}", key=True)
    devices: list[str] = []
    if item.get("devices") is not None:
        found = _strings(item["devices"])
        if found is None:
            add((*where, "devices"), "devices must be a selector or a list of selectors "
                "(name, glob like 's9-*', or label=value)")
            return None
        for text in found:
            try:
                Selector.parse(text)
            except SelectorError as exc:
                add((*where, "devices"), str(exc))
                return None
        devices = found
    if "paths" not in item:
        add(where, "'paths' is required in a drift rule", key=True)
        return None
    paths = _check_paths(item["paths"], (*where, "paths"), add, None)
    reason = _check_reason(item.get("reason"), (*where, "reason"), add, None)
    if paths is None:
        return None
    source = "drift.ignore[" + str(where[-1]) + "]"
    return IgnoreRule(paths=paths, devices=tuple(devices), reason=reason, source=source)


def parse_device_drift(block: Any, base: tuple[Any, ...], name: str | None, add: Add
                       ) -> IgnoreRule | None:
    """Validate a device's ``drift: {ignore: [...], reason: ...}`` into a rule for it."""
    if block is None or name is None:
        return None
    where = (*base, "drift")
    if not isinstance(block, dict):
        add(where, "drift must be a mapping like {ignore: ['network.hostname']}", device=name)
        return None
    for key in block:
        if key not in DEVICE_DRIFT_KEYS:
            add((*where, key), f"unknown key '{key}' in drift; allowed: "
                f"{', '.join(DEVICE_DRIFT_KEYS)}", key=True, device=name)
    if block.get("ignore") is None:
        return None
    paths = _check_paths(block["ignore"], (*where, "ignore"), add, name)
    reason = _check_reason(block.get("reason"), (*where, "reason"), add, name)
    if paths is None:
        return None
    return IgnoreRule(paths=paths, devices=(name,), reason=reason, source=f"{name}.drift")


def parse_state_block(state: Any, add: Add, environ: Mapping[str, str]) -> StateConfig:
    """Validate ``state:`` (path / backend / dsn / workspace) into a :class:`StateConfig`."""
    if state is None:
        return StateConfig()
    if not isinstance(state, dict):
        add(("state",), "state must be a mapping like {path: .fleetform/state.json} or "
                        "{backend: postgres, dsn: ..., workspace: ...}")
        return StateConfig()
    for key in state:
        if key not in STATE_KEYS:
            add(("state", key), f"unknown key '{key}' in state; allowed: "
                f"{', '.join(STATE_KEYS)}", key=True)
    values: dict[str, str | None] = {}
    for key in STATE_KEYS:
        value = state.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            add(("state", key), f"state.{key} must be a non-empty string")
            value = None
        values[key] = value
    backend = values["backend"]
    if backend is not None and backend not in BACKENDS:
        add(("state", "backend"), f"state.backend must be one of: {', '.join(BACKENDS)}")
        backend = None
    workspace = values["workspace"]
    if workspace is not None and not _WORKSPACE.match(workspace):
        add(("state", "workspace"), "state.workspace must start with a letter or digit and "
            "contain only letters, digits, '_', '.' and '-' (at most 64 characters)")
        workspace = None
    for key in ("path", "backend", "workspace"):
        if values[key] is not None and has_reference(values[key]):
            add(("state", key), "secret references are only allowed in state.dsn")
            return StateConfig()
    dsn = _check_dsn(values["dsn"], add, environ)
    return StateConfig(backend=backend, path=values["path"], dsn=dsn, workspace=workspace)


def _check_dsn(dsn: str | None, add: Add, environ: Mapping[str, str]) -> str | None:
    if dsn is None:
        return None
    for pattern in (_URL_PASSWORD, _KV_PASSWORD):
        found = pattern.search(dsn)
        if found and found.group("pw") and not has_reference(found.group("pw")):
            add(("state", "dsn"), "state.dsn must not contain a password: set PGPASSWORD "
                "(or ~/.pgpass) in the environment, or write the password as ${env:NAME}")
            return None
    resolution = resolve_secrets(dsn, environ)
    for issue in resolution.issues:
        add(("state", "dsn"), issue.message)
    return None if resolution.issues else str(resolution.data)
