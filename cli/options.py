"""Option definitions shared by several commands.

Why: ``--var``, ``--state``, ``--parallelism`` and friends must mean the same
thing, with the same help text, on every command that takes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fleetform.planner import RunOptions


@dataclass(frozen=True)
class GlobalOptions:
    """Options given before the command name (``fleetform --no-color plan``)."""

    no_color: bool = False


ManifestArg = Annotated[
    Path,
    typer.Argument(
        help="Manifest file (YAML, rendered through Jinja2 first).",
        exists=True, dir_okay=False, readable=True,
    ),
]
VarOpt = Annotated[
    list[str],
    typer.Option(
        "--var", help="Set a template variable: --var farm_size=200 (repeatable; wins over files)."
    ),
]
VarFileOpt = Annotated[
    list[Path],
    typer.Option(
        "--var-file", help="YAML file of template variables (repeatable; later files win).",
        exists=True, dir_okay=False,
    ),
]
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="FLEETFORM_STATE",
        help="State file path. Default: the manifest's state.path, else .fleetform/state.json.",
    ),
]
ParallelismOpt = Annotated[
    int,
    typer.Option(
        "--parallelism", min=1, max=1000,
        help="How many devices to work on at once. Device management planes are slow; "
        "10 is safe for miners on one switch.",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", min=1, help="Per-device time budget in seconds for the whole operation."
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one versioned JSON document instead of text.")
]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="Plain text output.")]
LockTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--lock-timeout", min=0,
        help="Seconds to wait for another run's state lock before failing (0: fail at once).",
    ),
]
TargetOpt = Annotated[
    list[str],
    typer.Option(
        "--target",
        help="Only these devices: a name, a glob ('s9-*') or label=value (repeatable).",
    ),
]
ExcludeOpt = Annotated[
    list[str],
    typer.Option(
        "--exclude",
        help="Leave these devices out: a name, a glob or label=value (repeatable).",
    ),
]
VerifyPresetsOpt = Annotated[
    bool,
    typer.Option(
        "--verify-presets",
        help="PTZ cameras: recall each declared preset, read the position back and return "
        "the camera where it was (moves the cameras, so it is opt-in).",
    ),
]


def run_options(
    parallelism: int, timeout: float, *, verify_presets: bool = False
) -> RunOptions:
    """The engine's RunOptions from the common command-line options.

    Why one builder: every command passes the same knobs the same way, and
    provider-specific flags (``verify_presets``) travel in ``provider_options``.
    """
    from fleetform.planner import RunOptions

    return RunOptions(
        parallelism=parallelism,
        timeout=timeout,
        provider_options={"verify_presets": True} if verify_presets else {},
    )
