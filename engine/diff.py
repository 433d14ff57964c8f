"""Generic diff of desired settings against live values.

Why: every provider needs the same rules (what counts as managed, how lists
and secrets are treated); writing them once keeps plans consistent across
device families and keeps secrets out of every Change.

Rules:
- A mapping key absent from the desired side is unmanaged: never a change.
- A list is managed as a whole: extra live entries become ``delete`` changes.
- A path is secret if its setting is sensitive, it matches a sensitive field
  pattern (``pools[].password``), or its value came from a secret reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from fleetform.plan import Action, Change, to_plain
from fleetform.provider import Opaque, SettingSpec

_INDEX = re.compile(r"\[\d+\]")


def pattern_of(path: str) -> str:
    """Replace list indexes by ``[]`` so ``pools[2].password`` matches ``pools[].password``."""
    return _INDEX.sub("[]", path)


class SecretMatcher:
    """Decides whether a setting path holds a secret.

    Why: sensitivity comes from three places (the provider's spec, sub-field
    patterns, and ``${env:...}`` references in the manifest); one object
    answers for all three so no caller can forget one.
    """

    def __init__(self, specs: Mapping[str, SettingSpec], secret_paths: Iterable[str] = ()) -> None:
        self._whole = {name for name, spec in specs.items() if spec.sensitive}
        self._patterns = {
            pattern_of(f"{name}{sub}" if sub.startswith("[") else f"{name}.{sub}")
            for name, spec in specs.items()
            for sub in spec.sensitive_fields
        }
        self._paths = {pattern_of(p) for p in secret_paths}
        self._exact = set(secret_paths)

    def __call__(self, path: str) -> bool:
        head = path.split(".", 1)[0].split("[", 1)[0]
        if head in self._whole or path in self._exact:
            return True
        generic = pattern_of(path)
        return generic in self._patterns or any(
            generic == p or generic.startswith(p + ".") or generic.startswith(p + "[")
            for p in self._paths
        )


def same_value(desired: Any, live: Any) -> bool:
    """True if two leaf values mean the same thing.

    Why: live values come from devices and from state (JSON), desired ones
    from pydantic models; ``IPv4Address("1.2.3.4")`` and ``"1.2.3.4"`` are the
    same setting. Secrets compare by their real value (never by the mask
    ``SecretStr`` prints), and an :class:`Opaque` never equals anything.
    """
    if isinstance(desired, Opaque) or isinstance(live, Opaque):
        return False
    if isinstance(desired, SecretStr):
        desired = desired.get_secret_value()
    if isinstance(live, SecretStr):
        live = live.get_secret_value()
    if desired == live:
        return True
    return bool(to_plain(desired) == to_plain(live))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def diff_value(
    path: str,
    desired: Any,
    live: Any,
    *,
    is_secret: SecretMatcher,
    disruptive: bool = False,
) -> list[Change]:
    """All changes needed to turn ``live`` into ``desired`` below ``path``."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        changes: list[Change] = []
        for key, want in desired.items():
            changes += diff_value(
                _join(path, str(key)), want, live.get(key),
                is_secret=is_secret, disruptive=disruptive,
            )
        return changes
    if isinstance(desired, list) and isinstance(live, list):
        changes = []
        for index, want in enumerate(desired):
            have = live[index] if index < len(live) else None
            changes += diff_value(
                f"{path}[{index}]", want, have, is_secret=is_secret, disruptive=disruptive
            )
        for index in range(len(desired), len(live)):
            changes += _deletions(f"{path}[{index}]", live[index], is_secret, disruptive)
        return changes
    if same_value(desired, live):
        return []
    if live is None:
        if isinstance(desired, Mapping):
            # Expand so each leaf is its own (create) change with its own sensitivity.
            return diff_value(path, desired, {}, is_secret=is_secret, disruptive=disruptive)
        return [_change(path, Action.CREATE, None, desired, is_secret, disruptive)]
    return [_change(path, Action.UPDATE, live, desired, is_secret, disruptive)]


def _deletions(path: str, live: Any, is_secret: SecretMatcher, disruptive: bool) -> list[Change]:
    """Delete changes for a removed entry, one per leaf so non-secret parts stay visible."""
    if live is None:
        return []
    if isinstance(live, Mapping):
        return [
            change
            for key, value in live.items()
            for change in _deletions(_join(path, str(key)), value, is_secret, disruptive)
        ]
    return [_change(path, Action.DELETE, live, None, is_secret, disruptive)]


def _change(
    path: str, action: Action, before: Any, after: Any, is_secret: SecretMatcher, disruptive: bool
) -> Change:
    secret = is_secret(path) or _contains_secret(path, after, is_secret) or _contains_secret(
        path, before, is_secret
    )
    return Change(
        path=path,
        action=action,
        before=None if isinstance(before, Opaque) else before,
        after=after,
        sensitive=secret,
        disruptive=disruptive,
    )


def _contains_secret(path: str, value: Any, is_secret: SecretMatcher) -> bool:
    """True if a composite value has a secret anywhere below it."""
    if isinstance(value, Mapping):
        return any(
            is_secret(_join(path, str(k))) or _contains_secret(_join(path, str(k)), v, is_secret)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(
            is_secret(f"{path}[{i}]") or _contains_secret(f"{path}[{i}]", v, is_secret)
            for i, v in enumerate(value)
        )
    return False


def diff_settings(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    specs: Mapping[str, SettingSpec],
    *,
    secret_paths: Iterable[str] = (),
) -> list[Change]:
    """Diff every managed top-level setting, ordered by the specs' apply order."""
    is_secret = SecretMatcher(specs, secret_paths)
    changes: list[Change] = []
    ordered = sorted(desired, key=lambda name: (specs[name].order if name in specs else 1000, name))
    for name in ordered:
        spec = specs.get(name)
        changes += diff_value(
            name, desired[name], live.get(name),
            is_secret=is_secret, disruptive=bool(spec and spec.disruptive),
        )
    return changes


def redact(value: Any, path: str, is_secret: SecretMatcher) -> Any:
    """A copy of ``value`` with every secret leaf replaced by ``"(sensitive)"``.

    Why: fingerprints, logs and views need the shape of live data without the
    pool passwords a miner hands out in clear.
    """
    if path and is_secret(path):
        return "(sensitive)"
    if isinstance(value, Mapping):
        return {k: redact(v, _join(path, str(k)), is_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, f"{path}[{i}]", is_secret) for i, v in enumerate(value)]
    if isinstance(value, Opaque):
        return "(unknown)"
    return value


def overlay(base: Any, top: Any) -> Any:
    """``top`` over ``base``: mappings merge key by key, anything else replaces.

    Why here: import and refresh-only both lay what a device reports over what
    state tracked; one merge rule keeps them agreeing.
    """
    if isinstance(base, Mapping) and isinstance(top, Mapping):
        merged = dict(base)
        for key, value in top.items():
            merged[key] = overlay(base.get(key), value)
        return merged
    return top
