"""Drift reports: text for people, JUnit XML for CI dashboards, Markdown for comments.

Why four renderings of one :class:`~fleetform.drift.DriftReport`: a cron job
mails the text, a CI server shows JUnit (one test case per device, drift as a
failure), a PR or chat bot posts the Markdown, and tools parse the JSON. All
read the same model, so they cannot disagree; none can show a secret because
sensitive changes carry no values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from rich.text import Text

from fleetform.drift import DeviceDrift, DriftReport
from fleetform.plan import Action, Change
from fleetform.views.human import format_value
from fleetform.views.jsonview import dumps

FORMATS = ("text", "json", "junit", "markdown")


def change_text(change: Change) -> str:
    """``path: before -> after`` with secrets as ``(sensitive)``."""
    if change.sensitive:
        return f"{change.path}: (sensitive) differs"
    if change.action is Action.CREATE:
        return f"{change.path}: not set on the device, manifest wants {format_value(change.after)}"
    if change.action is Action.DELETE:
        return f"{change.path}: {format_value(change.before)} on the device, not in the manifest"
    return (f"{change.path}: device has {format_value(change.before)}, "
            f"manifest wants {format_value(change.after)}")


def _verdict(report: DriftReport) -> str:
    totals = report.summary()
    return (f"{totals['drifted']} of {totals['devices']} device(s) drifted "
            f"({totals['changes']} difference(s)), {totals['ignored']} ignored by rules, "
            f"{totals['errors']} could not be checked")


def render_text(report: DriftReport) -> Text:
    """The drift report as a person reads it in a terminal or a cron mail."""
    out = Text()
    if report.targeting.active:
        out.append(f"Targeted drift check ({report.targeting.describe()}).\n\n", style="yellow")
    styles = {"in_sync": "green", "drifted": "bold yellow", "error": "bold red"}
    for device in report.devices:
        out.append(f"  {device.status:<8} ", style=styles[device.status])
        out.append(device.name, style="bold")
        out.append(f"  {device.provider} @ {device.address}\n")
        if device.failure is not None:
            out.append(f"      failed at {device.failure.step or 'read'}: "
                       f"{device.failure.message}\n", style="red")
        for change in device.drifted:
            out.append(f"      ~ {change_text(change)}\n")
        for item in device.ignored:
            why = f" ({item.rule.reason})" if item.rule.reason else ""
            out.append(f"      ignored: {change_text(item.change)} [{item.rule.source}: "
                       f"{item.pattern}]{why}\n", style="dim")
        for warning in device.warnings:
            out.append(f"      warning: {warning}\n", style="yellow")
    code = report.exit_code
    label = {0: "No drift", 2: "Drift detected", 1: "Drift check failed"}[code]
    out.append(f"\n{label}: {_verdict(report)}.\n",
               style={0: "bold green", 2: "bold yellow", 1: "bold red"}[code])
    return out


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def render_markdown(report: DriftReport) -> str:
    """A Markdown comment for a pull request or a chat channel."""
    code = report.exit_code
    icon = {0: ":white_check_mark:", 2: ":warning:", 1: ":x:"}[code]
    title = {0: "No drift", 2: "Drift detected", 1: "Drift check failed"}[code]
    lines = [f"### {icon} fleetform drift: {title}", "", f"{_verdict(report)}.", ""]
    if report.targeting.active:
        lines += [f"> Targeted check: {_md_escape(report.targeting.describe())}", ""]
    lines += ["| device | provider | status | details |", "|---|---|---|---|"]
    for device in report.devices:
        details = _device_details(device)
        lines.append(f"| `{device.name}` | {device.provider} | {device.status} | "
                     f"{_md_escape(details) or '-'} |")
    ignored = [(d.name, i) for d in report.devices for i in d.ignored]
    if ignored:
        lines += ["", "<details><summary>Ignored by rules "
                  f"({len(ignored)})</summary>", ""]
        for name, item in ignored:
            why = f" — {item.rule.reason}" if item.rule.reason else ""
            lines.append(f"- `{name}` {_md_escape(change_text(item.change))} "
                         f"(`{item.rule.source}`: `{item.pattern}`){_md_escape(why)}")
        lines += ["", "</details>"]
    lines += ["", f"<sub>manifest `{report.manifest}`, checked {report.created_at}</sub>", ""]
    return "\n".join(lines)


def _device_details(device: DeviceDrift) -> str:
    if device.failure is not None:
        return f"failed at {device.failure.step or 'read'}: {device.failure.message}"
    return "; ".join(change_text(c) for c in device.drifted)


def render_junit(report: DriftReport) -> str:
    """JUnit XML: one test case per device; drift is a failure, a read error an error."""
    totals = report.summary()
    suites = ET.Element("testsuites", name="fleetform drift")
    suite = ET.SubElement(
        suites, "testsuite", name=f"drift {report.manifest}", tests=str(totals["devices"]),
        failures=str(totals["drifted"]), errors=str(totals["errors"]), skipped="0",
        timestamp=report.created_at,
    )
    for device in report.devices:
        case = ET.SubElement(suite, "testcase", classname=f"fleetform.drift.{device.provider}",
                             name=device.name)
        if device.failure is not None:
            error = ET.SubElement(case, "error", type=device.failure.kind,
                                  message=f"{device.failure.step or 'read'}: "
                                          f"{device.failure.message}")
            error.text = str(device.failure)
        elif device.drifted:
            failure = ET.SubElement(case, "failure", type="drift",
                                    message=f"{len(device.drifted)} setting(s) drifted")
            failure.text = "\n".join(change_text(c) for c in device.drifted)
        if device.ignored:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"ignored by {i.rule.source} ({i.pattern}): "
                                 f"{change_text(i.change)}" for i in device.ignored)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") \
        + "\n"


def render_json(report: DriftReport) -> str:
    """The ``type: drift`` JSON document."""
    return dumps(report.to_json()) + "\n"


RENDERERS: Mapping[str, Callable[[DriftReport], str]] = {
    "json": render_json,
    "junit": render_junit,
    "markdown": render_markdown,
    "text": lambda report: render_text(report).plain,
}
"""Plain-string renderers by ``--format`` name (``text`` without colour, for files)."""
