"""Orchestration: file → Jinja → YAML → secrets → provider models → :class:`Manifest`.

Why: one function the CLI calls; every failure on the way is collected as a
located :class:`ManifestProblem` (all devices, sorted by line) and raised as
one :class:`ManifestError`, so the user fixes everything in one pass and never
sees a traceback or a pydantic dump.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fleetform.device import DeviceSpec
from fleetform.errors import ManifestError, ManifestProblem, SourceLocation
from fleetform.manifest.gitops import (
    IgnoreRule,
    StateConfig,
    parse_device_drift,
    parse_drift_block,
    parse_state_block,
)
from fleetform.manifest.schema import (
    DEVICE_KEYS,
    DEVICE_NAME_PATTERN,
    TOP_LEVEL_KEYS,
    ProviderModels,
    allowed_keys,
    provider_models_from,
    resolve_loc,
    union_choices,
)
from fleetform.manifest.secretref import (
    REDACTED,
    SecretResolution,
    collect_sensitive_values,
    has_reference,
    is_sensitive,
    resolve_secrets,
    scrub,
)
from fleetform.manifest.template import extract_variables, load_var_files, render_template
from fleetform.manifest.yamlsource import Path as FieldPath
from fleetform.manifest.yamlsource import (
    SourceMap,
    YamlDocument,
    format_path,
    gc_paused,
    parse_yaml,
)

_NAME = re.compile(DEVICE_NAME_PATTERN[1:-1])
_NAME_RULE = ("must start with a letter or digit and contain only letters, digits, "
              "'_', '.' and '-' (at most 64 characters)")


@dataclass(frozen=True)
class Manifest:
    """A loaded, fully validated manifest.

    Why: the planner and the CLI need devices, effective variables, the state
    configuration (``state``: path or Postgres backend) and the drift ignore
    rules (top-level and per device, in ``drift_ignore``); ``rendered``
    (secret references still unresolved, so no secret in it) lets
    ``fleetform render`` show what the template produced.
    """

    path: Path
    devices: tuple[DeviceSpec, ...]
    variables: dict[str, Any]
    state_path: str | None
    rendered: str
    state: StateConfig = field(default_factory=StateConfig)
    drift_ignore: tuple[IgnoreRule, ...] = ()


def load_manifest(
    path: Path,
    *,
    variables: Mapping[str, Any] | None = None,
    var_files: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
    providers: Mapping[str, ProviderModels] | None = None,
) -> Manifest:
    """Load and validate the manifest at ``path``.

    Variable precedence, lowest first: the manifest's ``variables:`` block,
    ``var_files`` in order, ``variables`` (``--var``, already typed by
    :func:`parse_var_assignment`; values are used as given). Secrets come from
    ``environ`` (default ``os.environ``).

    Why: the one entry point, so every caller gets the same checks and the
    same located errors.
    """
    file = str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else (
            "not UTF-8 text"
        )
        raise ManifestError([ManifestProblem(None, f"cannot read manifest {file}: {reason}")]
                            ) from None
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    environment = os.environ if environ is None else environ
    if providers is None:
        from fleetform.providers import builtin_providers

        providers = provider_models_from(builtin_providers())
    merged = {**extract_variables(source, file), **load_var_files(var_files),
              **dict(variables or {})}
    rendered = render_template(source, file=file, variables=merged, environ=environment)
    with gc_paused():
        document = parse_yaml(rendered.text, SourceMap(file, rendered.line_map))
        loader = _Validator(document, providers, environment)
        devices, state_path = loader.run()
    if loader.problems:
        raise ManifestError(sorted(loader.problems, key=_sort_key))
    return Manifest(path, tuple(devices), merged, state_path, rendered.text,
                    state=loader.state, drift_ignore=tuple(loader.rules))


def _sort_key(problem: ManifestProblem) -> tuple[int, int]:
    location = problem.location
    return (location.line, location.column) if location else (0, 0)


@dataclass
class _Validator:
    """Walks the parsed document, collecting problems and building devices."""

    doc: YamlDocument
    providers: Mapping[str, ProviderModels]
    environ: Mapping[str, str]
    problems: list[ManifestProblem] = field(default_factory=list)
    state: StateConfig = field(default_factory=StateConfig)
    rules: list[IgnoreRule] = field(default_factory=list)
    sensitive: dict[str, frozenset[str]] = field(default_factory=dict)

    def _sensitive(self, provider: str) -> frozenset[str]:
        """A provider's secret settings paths, computed once per load.

        Why: walking the settings model for ``SecretStr`` fields costs ~0.2 ms;
        per device that was 40% of loading a 10,000-device manifest.
        """
        found = self.sensitive.get(provider)
        if found is None:
            found = self.sensitive[provider] = self.providers[provider].settings_sensitive
        return found

    def add(self, path: FieldPath, message: str, *, key: bool = False,
            device: str | None = None) -> None:
        self.problems.append(ManifestProblem(
            self.doc.locate(path, key=key), message, format_path(path) or None, device))

    def run(self) -> tuple[list[DeviceSpec], str | None]:
        data = self.doc.data
        if not isinstance(data, dict):
            self.add((), "a manifest must be a mapping with a 'devices:' list "
                         "(plus optional 'variables:' and 'state:')")
            return [], None
        allowed = ", ".join(TOP_LEVEL_KEYS)
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                self.add((key,), f"unknown top-level key '{key}'; allowed: {allowed}", key=True)
        if data.get("variables") is not None and not isinstance(data["variables"], dict):
            self.add(("variables",), "variables must be a mapping of name: value")
        self.state = parse_state_block(data.get("state"), self.add, self.environ)
        state_path = self.state.path
        self.rules = parse_drift_block(data.get("drift"), self.add)
        devices = data.get("devices")
        if "devices" not in data:
            self.add((), "'devices' is required: a list of devices (it may be empty: devices: [])")
            return [], state_path
        if devices is None:
            return [], state_path
        if not isinstance(devices, list):
            self.add(("devices",), "devices must be a list of devices (items start with '- ')")
            return [], state_path
        return self._devices(devices), state_path

    def _devices(self, items: list[Any]) -> list[DeviceSpec]:
        specs: list[DeviceSpec] = []
        names: dict[str, SourceLocation] = {}
        addresses: dict[tuple[str, Any], tuple[str, SourceLocation]] = {}
        for index, item in enumerate(items):
            base: FieldPath = ("devices", index)
            if not isinstance(item, dict):
                self.add(base, "each device must be a mapping with name:, provider:, "
                               "connection: and settings:")
                continue
            name = self._name(item, base)
            if name is not None:
                here = self.doc.locate((*base, "name"))
                if name in names:
                    first = names[name]
                    where = f"line {first.line}" + (
                        f" (template line {first.template_line})"
                        if first.template_line not in (None, first.line) else "")
                    self.add((*base, "name"), f"duplicate device name '{name}'; "
                             f"first defined at {where}", device=name)
                else:
                    names[name] = here
            spec = self._device(item, base, name)
            if spec is None:
                continue
            host, port = getattr(spec.connection, "host", None), getattr(spec.connection, "port",
                                                                          None)
            if isinstance(host, str):
                address = (host.lower(), port)
                if address in addresses:
                    other, where_first = addresses[address]
                    shown = f"{host}:{port}" if port is not None else host
                    self.add((*base, "connection", "host"), f"same address {shown} as device "
                             f"'{other}' (line {where_first.line}); one machine would be "
                             "configured twice", device=name)
                    continue
                addresses[address] = (spec.name, self.doc.locate((*base, "connection", "host")))
            specs.append(spec)
        return specs

    def _name(self, item: dict[str, Any], base: FieldPath) -> str | None:
        name = item.get("name")
        if "name" not in item:
            self.add(base, "'name' is required: a unique device name", key=True)
        elif not isinstance(name, str):
            self.add((*base, "name"), f"name must be a string that {_NAME_RULE}; "
                     f"got {name!r} (quote it)")
        elif has_reference(name):
            self.add((*base, "name"), "secret references are only allowed under connection: "
                     "and settings:")
        elif not _NAME.fullmatch(name):
            self.add((*base, "name"), f"name {_NAME_RULE}; got {name!r}")
        else:
            return name
        return None

    def _device(self, item: dict[str, Any], base: FieldPath, name: str | None,
                ) -> DeviceSpec | None:
        allowed = ", ".join(DEVICE_KEYS)
        for key in item:
            if key not in DEVICE_KEYS:
                self.add((*base, key), f"unknown device key '{key}'; allowed: {allowed}",
                         key=True, device=name)
        labels = self._labels(item.get("labels"), base, name)
        rule = parse_device_drift(item.get("drift"), base, name, self.add)
        if rule is not None:
            self.rules.append(rule)
        provider = item.get("provider")
        registered = ", ".join(sorted(self.providers)) or "(none)"
        if "provider" not in item:
            self.add(base, f"'provider' is required; one of: {registered}", key=True, device=name)
            return None
        if not isinstance(provider, str) or provider not in self.providers:
            self.add((*base, "provider"), f"unknown provider {provider!r}; "
                     f"registered providers: {registered}", device=name)
            return None
        models = self.providers[provider]
        checked = len(self.problems)
        connection_res = self._secrets(item.get("connection"), (*base, "connection"), name)
        settings_res = self._secrets(item.get("settings"), (*base, "settings"), name)
        secrets = (connection_res.values | settings_res.values
                   | collect_sensitive_values(connection_res.data, models.connection_sensitive)
                   | collect_sensitive_values(settings_res.data, self._sensitive(provider)))
        connection = self._validate(models.connection_model, connection_res, models
                                    .connection_sensitive, (*base, "connection"), name, secrets)
        settings = self._validate(models.settings_model, settings_res, self._sensitive(provider),
                                  (*base, "settings"), name, secrets)
        if connection is None or settings is None or name is None or labels is None or (
            len(self.problems) > checked
        ):
            return None
        return DeviceSpec(
            name=name, provider=provider, connection=connection, settings=settings,
            labels=labels,
            sensitive_paths=frozenset(format_path(p) for p in settings_res.resolved),
            location=self.doc.locate(base),
            locations=self._locations((*base, "settings")),
        )

    def _labels(self, labels: Any, base: FieldPath, name: str | None) -> dict[str, str] | None:
        if labels is None:
            return {}
        if not isinstance(labels, dict):
            self.add((*base, "labels"), "labels must be a mapping of string: string",
                     device=name)
            return None
        for key, value in labels.items():
            if not isinstance(value, str):
                self.add((*base, "labels", key), f"label values must be strings; got {value!r} "
                         f"(quote it: {key}: \"{value}\")", device=name)
                return None
            if has_reference(value):
                self.add((*base, "labels", key), "secret references are only allowed under "
                         "connection: and settings:", device=name)
                return None
        return dict(labels)

    def _secrets(self, raw: Any, base: FieldPath, name: str | None) -> SecretResolution:
        resolution = resolve_secrets({} if raw is None else raw, self.environ)
        for issue in resolution.issues:
            self.add((*base, *issue.path), issue.message, device=name)
        return resolution

    def _validate(self, model: type[BaseModel], resolution: SecretResolution,
                  patterns: frozenset[str], base: FieldPath, name: str | None,
                  secrets: set[str]) -> BaseModel | None:
        try:
            return model.model_validate(resolution.data)
        except ValidationError as exc:
            skip = {issue.path for issue in resolution.issues}
            for path, message, key in explain_validation_error(
                exc, model, resolution.data, patterns, resolution.resolved, secrets
            ):
                if any(path[: len(s)] == s for s in skip):
                    continue  # the unresolved reference is already reported
                self.add((*base, *path), message, key=key, device=name)
            return None

    def _locations(self, base: FieldPath) -> dict[str, SourceLocation]:
        size = len(base)
        return {format_path(path[size:]): self.doc.locate(path)
                for path in self.doc.positions_under(base)}


_EXPECTED = {
    "int": "an integer", "float": "a number", "decimal": "a number", "string": "a string",
    "bool": "true or false", "list": "a list", "tuple": "a list", "set": "a list",
    "dict": "a mapping", "model": "a mapping", "model_attributes": "a mapping",
    "ip_v4_address": "an IPv4 address such as 192.168.1.10", "ip_any_address": "an IP address",
    "url": "a URL", "none_required": "nothing (null)", "bytes": "text", "date": "a date",
    "datetime": "a date and time", "uuid": "a UUID", "enum": "one of the allowed values",
}
_SUFFIXES = ("_type", "_parsing_size", "_parsing", "_from_float")
_COMPARE = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
            "less_than_equal": "<="}
_PREFIXES = ("Value error, ", "Assertion failed, ")


def _show(value: Any, sensitive: bool) -> str:
    """A value as it may appear in a message: redacted, summarized or quoted."""
    if sensitive:
        return REDACTED
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(kind: str) -> str | None:
    for suffix in _SUFFIXES:
        if kind.endswith(suffix):
            return _EXPECTED.get(kind[: -len(suffix)])
    return _EXPECTED.get(kind)


def _describe(err: Any, model: type[BaseModel], path: FieldPath, data: Any,
              sensitive: bool) -> tuple[FieldPath, str, bool]:
    """Plain-words message (and path, key-flag) for one pydantic error entry."""
    kind, ctx, given = err["type"], err.get("ctx") or {}, err.get("input")
    got = f" (got {_show(given, sensitive)})"
    leaf = str(path[-1]) if path else "value"
    if kind == "missing":
        return path, f"required field '{leaf}' is missing", True
    if kind == "extra_forbidden":
        parent = resolve_loc(model, path[:-1])[1]
        allowed = f"; allowed: {', '.join(allowed_keys(parent))}" if parent else ""
        return path, f"unknown field '{leaf}'{allowed}", True
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag, tags = union_choices(model, path)
        choices = ", ".join(tags)
        if kind == "union_tag_not_found":
            return (*path, tag), f"{tag} is required (one of: {choices})", True
        return (*path, tag), f"{tag} must be one of: {choices}" + (
            f" (got {_show(ctx.get('tag'), sensitive)})"), False
    if kind in ("too_long", "too_short", "string_too_long", "string_too_short"):
        most = kind.endswith("too_long")
        bound = "at most" if most else "at least"
        limit = ctx.get("max_length" if most else "min_length")
        if ctx.get("field_type") == "List":
            count = ctx.get("actual_length")
            noun = leaf if path and isinstance(path[-1], str) else "items"
            return path, f"{bound} {limit} {noun} (got {count})", False
        if not most and limit == 1:
            return path, "must not be empty", False
        length = "" if sensitive or not isinstance(given, str) else f" (got {len(given)})"
        return path, f"must be {bound} {limit} characters{length}", False
    if kind in ("literal_error", "enum"):
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return path, f"must be one of: {', '.join(options)}" + got, False
    if kind in _COMPARE:
        limit = next(iter(ctx.values()), "?")
        return path, f"must be {_COMPARE[kind]} {limit}" + got, False
    if kind in ("value_error", "assertion_error"):
        message = str(err["msg"])
        for prefix in _PREFIXES:
            message = message.removeprefix(prefix)
        word = message.split(" ", 1)[0]
        node = _at(data, path)
        if isinstance(node, dict) and word in node:
            path = (*path, word)  # a model check that names one of its fields
        return path, message, False
    expected = _expected(kind)
    if expected == "a mapping" and path:
        tag, tags = union_choices(model, path)
        if tags:
            expected = f"a mapping with {tag}: one of {', '.join(tags)}"
    if expected is not None:
        return path, f"expected {expected}" + got, False
    return path, str(err["msg"]), False


def _at(data: Any, path: FieldPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def explain_validation_error(
    exc: ValidationError, model: type[BaseModel], data: Any, patterns: frozenset[str],
    concrete: set[FieldPath], secrets: set[str],
) -> list[tuple[FieldPath, str, bool]]:
    """Translate pydantic's errors into ``(path, message, point_at_key)`` triples.

    Why: users get the field path as written in YAML (union tags dropped), a
    message in plain words saying what is allowed, and never a sensitive value:
    inputs at sensitive paths are shown as ``REDACTED`` and any known secret
    text is scrubbed from validator messages.
    """
    result = []
    for err in exc.errors(include_url=False):
        path = resolve_loc(model, err["loc"])[0]
        sensitive = is_sensitive(path, patterns, concrete)
        where, message, key = _describe(err, model, path, data, sensitive)
        result.append((where, scrub(message, secrets), key))
    return result
