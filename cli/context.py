"""Shared plumbing for commands: consoles, manifest + providers + state loading.

Why: every command that touches devices needs the same three things loaded
the same way (and the same secrets registered for log redaction); doing it
once here keeps the commands short and consistent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    # The engine is imported when a command runs, not when the CLI starts:
    # `fleetform --help` must not pay for pydantic, Jinja and every provider.
    from fleetform.device import DeviceSpec
    from fleetform.manifest import Manifest
    from fleetform.provider import Provider
    from fleetform.state import StateBackend
    from fleetform.targeting import Targeting

DEFAULT_STATE_PATH = Path(".fleetform/state.json")


def make_console(*, no_color: bool, stderr: bool = False) -> Console:
    """A console honouring ``--no-color`` and the ``NO_COLOR`` convention."""
    color = not no_color and "NO_COLOR" not in os.environ
    return Console(
        stderr=stderr,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=True,
    )


@dataclass
class Workspace:
    """A loaded manifest with its providers, state backend and selected devices.

    Why: the unit every device command works on; ``devices`` are the ones the
    run's ``--target``/``--exclude`` selected (all by default); ``close``
    releases the providers' and the backend's connections.
    """

    manifest: Manifest
    providers: dict[str, Provider]
    backend: StateBackend
    targeting: Targeting = field(default_factory=lambda: _targeting())
    devices: tuple[DeviceSpec, ...] = ()

    def close(self) -> None:
        """Close every provider's connections and the state backend's."""
        from fleetform.state.config import close_backend

        for provider in self.providers.values():
            provider.close()
        close_backend(self.backend)


def state_path_for(manifest: Manifest | None, explicit: Path | None) -> Path:
    """``--state`` wins, then the manifest's ``state.path`` (relative to it), then the default."""
    if explicit is not None:
        return explicit
    if manifest is not None and manifest.state_path:
        declared = Path(manifest.state_path)
        return declared if declared.is_absolute() else manifest.path.parent / declared
    return DEFAULT_STATE_PATH


def load_workspace(
    manifest_path: Path,
    *,
    variables: Sequence[str] = (),
    var_files: Sequence[Path] = (),
    state: Path | None = None,
    targeting: Targeting | None = None,
    typed_variables: dict[str, Any] | None = None,
) -> Workspace:
    """Load and validate the manifest, build providers and the state backend.

    ``typed_variables`` (a saved plan's variables) win over ``variables``.
    """
    from fleetform.manifest import load_manifest, parse_var_assignment, provider_models_from

    classes = builtin_providers()
    assignments = dict(parse_var_assignment(text) for text in variables)
    assignments.update(typed_variables or {})
    manifest = load_manifest(
        manifest_path,
        variables=assignments,
        var_files=list(var_files),
        providers=provider_models_from(classes),
    )
    providers: dict[str, Provider] = {name: cls() for name, cls in classes.items()}
    register_secrets(manifest, providers)
    targeting = targeting or _targeting()
    selected = targeting.select(manifest.devices)
    return Workspace(manifest, providers, backend_for(manifest, state), targeting, selected)


def backend_for(manifest: Manifest | None, explicit: Path | None) -> StateBackend:
    """The state backend: ``--state``, then env vars, then the manifest (see state.config)."""
    from fleetform.state.config import choose_backend

    return choose_backend(manifest.state if manifest else None,
                          manifest.path.parent if manifest else None, explicit, os.environ)


def register_secrets(manifest: Manifest, providers: dict[str, Provider]) -> None:
    """Tell the log filter every secret value the manifest holds."""
    from fleetform.diff import SecretMatcher
    from fleetform.logs import redacting_filter, secret_strings

    found: list[str] = []
    for device in manifest.devices:
        provider = providers[device.provider]
        matcher = SecretMatcher(provider.settings_specs, device.sensitive_paths)
        found += secret_strings(device.settings, matcher)
        found += secret_strings(device.connection)
    redacting_filter().add(found)


def stdin_is_interactive() -> bool:
    """True when a person can answer a prompt."""
    return sys.stdin is not None and sys.stdin.isatty()


def _targeting() -> Targeting:
    """Every device (no --target/--exclude), imported on first use."""
    from fleetform.targeting import Targeting

    return Targeting()


def builtin_providers() -> dict[str, type[Provider]]:
    """The registered provider classes, imported on first use (a seam tests replace)."""
    from fleetform.providers import builtin_providers as registered

    return dict(registered())
