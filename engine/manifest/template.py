"""Jinja stage: template variables, sandboxed rendering and the line map.

Why: a farm of 200 miners is one loop, not 200 copies, so manifests are Jinja
templates. But an error found later in the YAML must still name the template
line the user has to edit; :class:`LineMarkerExtension` threads invisible line
markers through the rendering so every rendered line maps back to its
template line.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, safe_range
from ruamel.yaml import YAML

from fleetform.errors import ManifestError, ManifestProblem, SourceLocation
from fleetform.manifest.yamlsource import SourceMap, parse_yaml

MARK_START = "\x1e"
MARK_END = "\x1f"
_MARK = re.compile("\x1e(\\d+)\x1f")
_LEADING_MARKS = re.compile("(?:\x1e(\\d+)\x1f)+")
_TEMPLATE_NAME = "<fleetform-manifest>"
_VARIABLES_LINE = re.compile(r"variables:(\s|#|$)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_SEQUENCE = 1_000_000


@dataclass(frozen=True)
class RenderedText:
    """Rendered manifest text and, per rendered line, the template line it came from.

    Why: the YAML stage reports rendered lines; ``line_map[i]`` is the template
    line of rendered line ``i + 1``.
    """

    text: str
    line_map: tuple[int, ...]


class LineMarkerExtension(Extension):
    """Marks every line of literal template text with its template line number.

    Why: Jinja keeps no link from output back to source. Rewriting each
    ``data`` token to carry ``\\x1e<line>\\x1f`` at its start and after every
    newline makes the output self-describing; :func:`strip_markers` removes
    the markers and keeps the mapping.
    """

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        """Insert a marker at the start of each data token and after each newline."""
        for token in stream:
            if token.type != "data":
                yield token
                continue
            pieces = token.value.split("\n")
            marked = "\n".join(
                f"{MARK_START}{token.lineno + offset}{MARK_END}{piece}"
                for offset, piece in enumerate(pieces)
            )
            yield Token(token.lineno, "data", marked)


def strip_markers(marked: str) -> RenderedText:
    """Remove line markers, recording each output line's template line.

    Why: a line takes the last marker before its first real character (literal
    text that follows a loop tag), else its first marker (a line starting with
    ``{{ expr }}`` output), else it inherits the line above (the 2nd+ line of
    a multi-line ``{{ }}`` output).
    """
    lines = marked.split("\n")
    line_map: list[int] = []
    previous = 1
    for line in lines:
        if MARK_START in line:
            lead = _LEADING_MARKS.match(line)
            if lead is not None:
                previous = int(_MARK.findall(lead.group(0))[-1])
            else:
                first = _MARK.search(line)
                if first is not None:
                    previous = int(first.group(1))
        line_map.append(previous)
    return RenderedText(_MARK.sub("", marked), tuple(line_map))


class _Sandbox(SandboxedEnvironment):
    """Sandbox that also refuses gigantic ``**`` and sequence ``*`` results."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse operations that would hang or exhaust memory."""
        if operator == "**" and isinstance(right, int) and abs(right) > 4096:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and (
                    len(seq) * count > _MAX_SEQUENCE
                ):
                    raise SecurityError("repetition result too large")
        return super().call_binop(context, operator, left, right)


def make_environment(environ: Mapping[str, str]) -> SandboxedEnvironment:
    """The Jinja environment manifests are rendered with.

    Why sandboxed and strict: a manifest is data that may come from a shared
    repository; it must not reach Python internals, and a typo in a variable
    name must fail instead of rendering as an empty string.
    """
    env = _Sandbox(
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        extensions=[LineMarkerExtension],
    )

    def secret_env(name: str, default: Any = None) -> Any:
        """``env('NAME')`` renders the reference ``${env:NAME}``, never the value."""
        _require_defined(name, default)
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"env() needs an environment variable name, got {name!r}")
        if default is not None and name not in environ:
            return default
        return f"${{env:{name}}}"

    env.globals["env"] = secret_env
    env.globals["range"] = _range
    return env


def _require_defined(*args: Any) -> None:
    """Raise the undefined-variable error for the first undefined argument."""
    for arg in args:
        if isinstance(arg, Undefined):
            arg._fail_with_undefined_error()


def _range(*args: Any) -> range:
    """The sandbox's bounded ``range`` that names an undefined bound."""
    _require_defined(*args)
    return safe_range(*args)


def _template_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_message(exc: Exception) -> str:
    if isinstance(exc, UndefinedError):
        match = re.match(r"'([^']+)' is undefined$", str(exc.message))
        if match:
            name = match.group(1)
            return (f"undefined template variable '{name}'; define it under variables:, "
                    f"in a --var-file or with --var {name}=...")
        return f"undefined value: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"not allowed in a manifest template: {exc}"
    if isinstance(exc, TemplateError):
        return f"template error: {exc.message or type(exc).__name__}"
    return f"template error: {type(exc).__name__}: {exc}"


def render_template(
    source: str, *, file: str, variables: Mapping[str, Any], environ: Mapping[str, str]
) -> RenderedText:
    """Render ``source`` with ``variables``; errors name the template line.

    Why: the single entry to Jinja so every syntax or runtime failure becomes
    a :class:`ManifestError` at ``file:line`` instead of a traceback.
    """
    for number, text in enumerate(source.split("\n"), start=1):
        for bad in (MARK_START, MARK_END):
            if bad in text:
                raise ManifestError([ManifestProblem(
                    SourceLocation(file, number, text.index(bad) + 1, number),
                    "control character in manifest text (\\x1e or \\x1f)",
                )])
    env = make_environment(environ)
    try:
        code = env.compile(source, filename=_TEMPLATE_NAME)
        template = env.template_class.from_code(env, code, env.make_globals(None))
    except TemplateSyntaxError as exc:
        at = exc.lineno or 1
        raise ManifestError([ManifestProblem(
            SourceLocation(file, at, 1, at), f"template syntax error: {exc.message}"
        )]) from None
    except Exception as exc:  # compiler limits (deep nesting) on hostile input
        raise ManifestError([ManifestProblem(
            SourceLocation(file, 1, 1, 1), f"template error: {type(exc).__name__}"
        )]) from None
    try:
        marked = template.render(dict(variables))
    except Exception as exc:
        line = _template_line(exc.__traceback__)
        if isinstance(exc, TemplateSyntaxError) and exc.lineno:
            line = exc.lineno
        location = SourceLocation(file, line, 1, line) if line else None
        raise ManifestError([ManifestProblem(location, _render_message(exc))]) from None
    return strip_markers(marked)


def extract_variables(source: str, file: str) -> dict[str, Any]:
    """Parse the top-level ``variables:`` block before rendering.

    Why: the variables are the template's defaults, so they must be known
    before Jinja runs; the block is cut out textually (from ``variables:`` at
    column 0 to the next column-0 line that is not a comment) and must be
    plain YAML.
    """
    lines = source.split("\n")
    start = next((i for i, text in enumerate(lines) if _VARIABLES_LINE.match(text)), None)
    if start is None:
        return {}
    end = start + 1
    while end < len(lines):
        text = lines[end]
        if text and not text[0].isspace() and not text.startswith("#"):
            break
        end += 1
    for number in range(start, end):
        for opener in ("{{", "{%", "{#"):
            if opener in lines[number]:
                raise ManifestError([ManifestProblem(
                    SourceLocation(file, number + 1, lines[number].index(opener) + 1, number + 1),
                    f"the variables: block must be plain YAML (found '{opener}'); "
                    "Jinja is rendered after the variables are read",
                    field="variables",
                )])
    source_map = SourceMap(file, line_offset=start)
    document = parse_yaml("\n".join(lines[start:end]) + "\n", source_map)
    block = document.data.get("variables") if isinstance(document.data, dict) else None
    return _as_variables(block, source_map.at(1, 1), "variables:")


def _as_variables(data: Any, where: SourceLocation, what: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ManifestError([ManifestProblem(
            where, f"{what} must be a mapping of name: value (got {type(data).__name__})"
        )])
    return dict(data)


def load_var_files(paths: Sequence[Path]) -> dict[str, Any]:
    """Merge ``--var-file`` YAML mappings, later files winning.

    Why: per-site values (pool URLs, farm size) live beside a shared manifest.
    """
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else (
                "not UTF-8 text"
            )
            raise ManifestError([ManifestProblem(
                None, f"cannot read variables file {path}: {reason}"
            )]) from None
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        document = parse_yaml(text, SourceMap(str(path)))
        merged.update(_as_variables(document.data, SourceMap(str(path)).at(1, 1),
                                    "a variables file"))
    return merged


def parse_var_assignment(text: str) -> tuple[str, Any]:
    """Split ``--var NAME=VALUE``; VALUE is read as a YAML scalar.

    Why: ``count=200`` must be the integer 200 so ``range(count)`` works, while
    anything that is not a plain scalar stays the literal string typed.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not _IDENTIFIER.fullmatch(name):
        raise ManifestError([ManifestProblem(
            None, f"--var expects NAME=VALUE with NAME a template variable name, got {text!r}"
        )])
    if raw.strip() == "":
        return name, raw
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = YAML(typ="safe", pure=True).load(raw)
    except Exception:
        return name, raw
    if value is None or isinstance(value, (str, int, float, bool)):
        return name, value
    return name, raw
