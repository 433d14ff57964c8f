"""Secret references (``${env:NAME}``) and which field paths are sensitive.

Why: secrets must never be written into a manifest, the rendered text, a plan
or an error message. Manifests carry references; they are resolved only after
YAML parsing, on the parsed values, so each secret's path is known (and marked
sensitive) and its location can be reported when the variable is missing.
``$${env:NAME}`` is the escape for a literal ``${env:NAME}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetform.manifest.yamlsource import Path
from fleetform.provider import SettingSpec

_REFERENCE = re.compile(r"(\$?)\$\{env:([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REDACTED = "REDACTED"
_MIN_SCRUB = 4  # shorter secrets ("x") would mangle every message they occur in


@dataclass(frozen=True)
class SecretIssue:
    """A reference that cannot be resolved, at ``path`` (relative to the walk root)."""

    path: Path
    message: str


@dataclass
class SecretResolution:
    """Result of resolving references in one subtree.

    Why: the loader needs the resolved data, the paths that now hold secrets
    (for ``DeviceSpec.sensitive_paths`` and redaction), the secret values (to
    scrub them from any message) and the issues to report.
    """

    data: Any
    resolved: set[Path] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    issues: list[SecretIssue] = field(default_factory=list)


def has_reference(value: Any) -> bool:
    """True if ``value`` is a string holding a ``${env:...}`` reference (not escaped)."""
    if not isinstance(value, str):
        return False
    return any(not match.group(1) for match in _REFERENCE.finditer(value))


def resolve_secrets(data: Any, environ: Mapping[str, str]) -> SecretResolution:
    """Replace every ``${env:NAME}`` in the strings of ``data`` by its value.

    Why: see the module docstring; an unset variable becomes an issue naming
    the variable to export (its value is never part of any message) and the
    reference text is left in place.
    """
    result = SecretResolution(data=None)
    result.data = _walk(data, (), environ, result)
    return result


def _walk(value: Any, path: Path, environ: Mapping[str, str], out: SecretResolution) -> Any:
    if isinstance(value, dict):
        return {key: _walk(item, (*path, key), environ, out) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, index), environ, out) for index, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    secret = False
    failed = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal secret, failed
        if match.group(1):
            return match.group(0)[1:]
        name = match.group(2)
        if not _NAME.fullmatch(name):
            out.issues.append(SecretIssue(path, (
                f"malformed secret reference ${{env:{name}}}: the name must be letters, "
                "digits and '_' (write $${env:...} for a literal)"
            )))
            failed = True
            return match.group(0)
        if name not in environ:
            out.issues.append(SecretIssue(path, (
                f"environment variable {name} is not set; export {name} before running "
                f"fleetform (referenced as ${{env:{name}}})"
            )))
            failed = True
            return match.group(0)
        secret = True
        resolved = environ[name]
        if len(resolved) >= _MIN_SCRUB:
            out.values.add(resolved)
        return resolved

    text = _REFERENCE.sub(substitute, value)
    if secret or failed:
        out.resolved.add(path)
    return text


def sensitive_patterns(specs: Mapping[str, SettingSpec]) -> frozenset[str]:
    """Normalized paths (``pools[].password``) declared sensitive by setting specs.

    Why: a provider declares secrets once, by setting; messages about any
    index of a list of pools must treat each pool's password the same way.
    """
    patterns: set[str] = set()
    for name, spec in specs.items():
        if spec.sensitive:
            patterns.add(name)
        for sub in spec.sensitive_fields:
            patterns.add(name + sub if sub.startswith("[") else f"{name}.{sub.lstrip('.')}")
    return frozenset(patterns)


def normalize(path: Path) -> str:
    """``('pools', 0, 'password')`` → ``pools[].password`` (indexes erased)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += "[]"
        else:
            text += f".{part}" if text else part
    return text


def is_sensitive(path: Path, patterns: Iterable[str], concrete: Iterable[Path] = ()) -> bool:
    """True if ``path`` is, or lies under, a sensitive pattern or a resolved secret.

    Why: one predicate decides whether a value may be shown in a message.
    """
    if any(path[: len(secret)] == secret for secret in concrete):
        return True
    text = normalize(path)
    for pattern in patterns:
        if text == pattern or (
            text.startswith(pattern) and text[len(pattern)] in ".["
        ):
            return True
    return False


def collect_sensitive_values(data: Any, patterns: Iterable[str], path: Path = ()) -> set[str]:
    """Every string at a sensitive path in ``data`` (long enough to scrub safely).

    Why: provider validators may quote the value they reject; scrubbing the
    literal secrets from each message is the last line of defence.
    """
    found: set[str] = set()
    pattern_list = list(patterns)
    if isinstance(data, dict):
        for key, item in data.items():
            found |= collect_sensitive_values(item, pattern_list, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found |= collect_sensitive_values(item, pattern_list, (*path, index))
    elif isinstance(data, str) and len(data) >= _MIN_SCRUB and is_sensitive(path, pattern_list):
        found.add(data)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret value occurring in ``text`` by ``REDACTED``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text
