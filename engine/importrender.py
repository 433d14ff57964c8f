"""Rendering for ``fleetform import``: secret references and the commented YAML text.

Why separate from the import flow: what a device's manifest entry *says* is
decided in :mod:`fleetform.importer`; how secrets become ``${env:NAME}``
references and how entries become deterministic, commented YAML is decided
here, and tested through the same output.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from fleetform.diff import SecretMatcher, pattern_of
from fleetform.plan import to_plain


@dataclass
class SecretReferences:
    """Assigns ``${env:NAME}`` references: one variable per (pattern, value)."""

    prefix: str
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)

    def reference(self, path: str, value: str, device: str) -> str:
        """The reference for ``value`` at ``path``, remembering that ``device`` uses it."""
        key = (pattern_of(path), value)
        if key not in self.names:
            base = f"{self.prefix}_{pattern_of(path)}".upper()
            base = re.sub(r"[^A-Z0-9]+", "_", base).strip("_")
            name, count = base, 1
            while name in self.names.values():
                count += 1
                name = f"{base}_{count}"
            self.names[key] = name
        name = self.names[key]
        self.users.setdefault(name, [])
        if device not in self.users[name]:
            self.users[name].append(device)
        return f"${{env:{name}}}"


def with_references(value: Any, path: str, is_secret: SecretMatcher,
                    secrets: SecretReferences, device: str) -> Any:
    """``value`` with every secret leaf replaced by its ``${env:NAME}`` reference."""
    if path and is_secret(path) and not isinstance(value, (Mapping, list)):
        if isinstance(value, str) and "${env:" in value:
            return value  # already a reference (a connection block from a manifest)
        return secrets.reference(path, "" if value is None else str(value), device)
    if isinstance(value, Mapping):
        return {k: with_references(v, f"{path}.{k}" if path else str(k), is_secret, secrets,
                                   device) for k, v in value.items()}
    if isinstance(value, list):
        return [with_references(v, f"{path}[{i}]", is_secret, secrets, device)
                for i, v in enumerate(value)]
    return to_plain(value)


def yaml_dumper() -> YAML:
    """The round-trip dumper: block style, two-space indents, no line wrapping."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def device_block(entry: dict[str, Any], comments: Sequence[str]) -> str:
    """One ``devices:`` list item, preceded by its comment lines."""
    stream = io.StringIO()
    yaml_dumper().dump(entry, stream)
    lines = stream.getvalue().splitlines()
    body = "".join(("  - " if index == 0 else "    ") + line + "\n"
                   for index, line in enumerate(lines))
    notes = "".join(f"  # {c}\n" for c in comments)
    return notes + body


def document(blocks: Sequence[str], variables: Mapping[str, tuple[str, ...]],
              header: str) -> str:
    """The whole manifest: header (with the variables to export), then the device blocks."""
    lines = ["# fleetform manifest written by 'fleetform import'."]
    if header:
        lines.append(f"# {header}")
    lines.append("# Settings left out are not managed; add them to manage them.")
    if variables:
        lines.append("# Secrets are not written here. Export these before planning:")
        for name, users in variables.items():
            shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5
                                             else "")
            lines.append(f"#   {name}  (used by {shown})")
    return "\n".join(lines) + "\ndevices:\n" + "\n".join(blocks)
