"""``fleetform drift``: a read-only drift check for cron jobs and CI.

Why its own command (not ``plan --detailed-exitcode``): it can never write
(no applier is imported here, providers are wrapped read-only), it honours
the manifest's ignore rules for accepted drift, and it writes reports a
machine reads: JSON, JUnit XML, Markdown. Exit codes: 0 no drift, 2 drift,
1 error (a device could not be checked, a bad manifest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleetform.cli.context import load_workspace, make_console
from fleetform.cli.options import (
    ExcludeOpt,
    GlobalOptions,
    ManifestArg,
    NoColorOpt,
    ParallelismOpt,
    StateOpt,
    TargetOpt,
    TimeoutOpt,
    VarFileOpt,
    VarOpt,
    VerifyPresetsOpt,
    run_options,
)
from fleetform.errors import FleetformError


def drift(
    ctx: typer.Context,
    manifest: ManifestArg,
    var: VarOpt = [],  # noqa: B006
    var_file: VarFileOpt = [],  # noqa: B006
    state: StateOpt = None,
    parallelism: ParallelismOpt = 10,
    timeout: TimeoutOpt = 120.0,
    target: TargetOpt = [],  # noqa: B006
    exclude: ExcludeOpt = [],  # noqa: B006
    report_format: Annotated[
        list[str],
        typer.Option("--format", help="Report format: text, json, junit or markdown "
                     "(repeatable, paired in order with --output)."),
    ] = [],  # noqa: B006
    output: Annotated[
        list[Path],
        typer.Option("--output", "-o", dir_okay=False,
                     help="Write the report to this file (a text summary still goes to stdout); "
                     "repeat --format/--output for several reports from one check."),
    ] = [],  # noqa: B006
    no_color: NoColorOpt = False,
    verify_presets: VerifyPresetsOpt = False,
) -> None:
    """Check every device against the manifest without changing anything.

    Exit code 0: no drift (or only drift that the manifest's drift.ignore rules
    accept); 2: drift; 1: a device could not be checked or the manifest is bad.
    Reports: --format text|json|junit|markdown, to stdout or --output FILE;
    several at once with --format junit -o drift.xml --format markdown -o drift.md.
    """
    from fleetform.cli.progress import progress_for
    from fleetform.drift import detect_drift
    from fleetform.targeting import Targeting
    from fleetform.views.drift import FORMATS, RENDERERS, render_text

    formats = report_format or ["text"]
    for name in formats:
        if name not in FORMATS:
            raise FleetformError(f"--format {name!r} is not one of: {', '.join(FORMATS)}")
    if output and len(output) != len(formats):
        raise FleetformError("give one --output per --format (or no --output: print one "
                             "report to stdout)")
    if not output and len(formats) > 1:
        raise FleetformError("several --format need one --output each")
    options: GlobalOptions = ctx.obj or GlobalOptions()
    plain = no_color or options.no_color
    out, err = make_console(no_color=plain), make_console(no_color=plain, stderr=True)
    workspace = load_workspace(manifest, variables=var, var_files=var_file, state=state,
                               targeting=Targeting(tuple(target), tuple(exclude)))
    try:
        current = workspace.backend.read()
        quiet = formats != ["text"] and not output
        with progress_for(err, len(workspace.devices), "checking", enabled=not quiet,
                          verbose=False) as sink:
            report = detect_drift(
                workspace.devices, workspace.providers, current,
                manifest=str(workspace.manifest.path), rules=workspace.manifest.drift_ignore,
                options=run_options(parallelism, timeout, verify_presets=verify_presets),
                events=sink,
                targeting=workspace.targeting,
            )
    finally:
        workspace.close()
    if output:
        out.print(render_text(report), end="")
        for name, path in zip(formats, output, strict=True):
            path.write_text(RENDERERS[name](report), encoding="utf-8")
            out.print(f"Wrote the {name} report to {path}.")
    elif formats == ["text"]:
        out.print(render_text(report), end="")
    else:
        typer.echo(RENDERERS[formats[0]](report), nl=False)
    raise typer.Exit(report.exit_code)
