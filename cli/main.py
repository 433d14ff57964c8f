"""``fleetform`` commands: validate, plan, apply, show, status, schema, simulate, demo.

Why: the CLI is the product's front door; each command loads the workspace,
calls the engine and renders one view. Every :class:`FleetformError` becomes
one clear message and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fleetform import __version__
from fleetform.cli import info, operations
from fleetform.cli.options import GlobalOptions
from fleetform.errors import FleetformError, ManifestError
from fleetform.logs import configure_logging

app = typer.Typer(
    name="fleetform",
    help=(
        "Declarative infrastructure-as-code for physical devices.\n\n"
        "Declare the desired state of miners and cameras in a YAML manifest; fleetform "
        "reads each live device, plans the difference, applies it, verifies it and "
        "records state.\n\nStart with: fleetform demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fleetform {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Plain text output (also: NO_COLOR env var).")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            envvar="FLEETFORM_LOG_LEVEL",
            help="Log level for stderr logs: debug, info, warning, error. Secrets are redacted.",
        ),
    ] = "warning",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Declarative infrastructure-as-code for physical devices."""
    configure_logging(log_level)
    ctx.obj = GlobalOptions(no_color=no_color)


operations.register(app)
info.register(app)


def run() -> None:
    """Console-script entry point: typer handles usage errors, we handle ours.

    Every :class:`FleetformError` becomes one clear message and exit code 1;
    a bad manifest lists each problem with file:line:column.
    """
    try:
        app()
    except ManifestError as exc:
        count = len(exc.problems)
        print(f"Error: the manifest is not valid ({count} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {_printable(str(problem))}", file=sys.stderr)
        sys.exit(1)
    except FleetformError as exc:
        print(f"Error: {_printable(str(exc))}", file=sys.stderr)
        sys.exit(1)


def _printable(text: str) -> str:
    """``text`` as stderr can encode it, so printing an error never raises.

    Why: a lone surrogate (from a ``"\\ud800"`` escape in YAML, or undecodable
    bytes on the command line) cannot be written as UTF-8; it is shown as an
    escape instead of ending the run with a traceback.
    """
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding, "replace")


if __name__ == "__main__":  # pragma: no cover
    run()

