"""What provider models allow: the JSON Schema of a manifest and model introspection.

Why: the pydantic models of each provider are the single source of what a
manifest may say. From them this module derives the editor-facing JSON Schema
(``schemas/manifest.schema.json``, for yaml-language-server completion) and
answers the loader's questions when it explains an error: which keys a mapping
allows, which tags a discriminated union accepts, which fields are secrets.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.json_schema import models_json_schema

from fleetform.manifest.gitops import BACKENDS, PATH_PATTERN
from fleetform.manifest.secretref import sensitive_patterns
from fleetform.provider import SettingSpec

SCHEMA_ID = "urn:fleetform:schema:manifest"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
DEVICE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
TOP_LEVEL_KEYS = ("devices", "drift", "state", "variables")
DEVICE_KEYS = ("connection", "drift", "labels", "name", "provider", "settings")


@dataclass(frozen=True)
class ProviderModels:
    """The parts of a provider the manifest loader needs: its name and models.

    Why: loading and validating a manifest needs only the pydantic models and
    the setting specs, not the device-talking code; this small record keeps
    the loader independent of provider implementations (and testable alone).
    ``connection_sensitive`` lists connection paths never to be shown
    (``credentials.password``).
    """

    name: str
    connection_model: type[BaseModel]
    settings_model: type[BaseModel]
    settings_specs: Mapping[str, SettingSpec]
    connection_sensitive: frozenset[str] = frozenset()
    description: str = ""

    @property
    def settings_sensitive(self) -> frozenset[str]:
        """Normalized settings paths that are secret (specs plus ``SecretStr`` fields)."""
        return sensitive_patterns(self.settings_specs) | secret_paths(self.settings_model)


def provider_models_from(providers: Mapping[str, Any]) -> dict[str, ProviderModels]:
    """Build the loader's view of providers from ``builtin_providers()``.

    Why: providers expose ``name``, ``connection_model``, ``settings_model``
    and ``settings_specs`` as class attributes (the ``Provider`` protocol);
    connection secrets are every ``SecretStr`` field of the connection model.
    """
    result: dict[str, ProviderModels] = {}
    for key, provider in providers.items():
        connection_model = provider.connection_model
        result[key] = ProviderModels(
            name=key,
            connection_model=connection_model,
            settings_model=provider.settings_model,
            settings_specs=dict(provider.settings_specs),
            connection_sensitive=secret_paths(connection_model),
            description=(provider.__doc__ or "").strip().split("\n")[0],
        )
    return result


def _members(annotation: Any) -> list[Any]:
    """Union members of ``annotation`` with ``Annotated`` and ``None`` removed."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    if annotation is type(None):
        return []
    return [annotation]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def secret_paths(model: type[BaseModel], prefix: str = "", seen: frozenset[type] = frozenset(),
                 ) -> frozenset[str]:
    """Normalized paths of every ``SecretStr``/``SecretBytes`` field under ``model``."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        for member in _members(info.annotation):
            suffix = ""
            while typing.get_origin(member) in (list, tuple, set, frozenset):
                member, suffix = (_members(typing.get_args(member)[0]) or [None])[0], suffix + "[]"
            if isinstance(member, type) and issubclass(member, (SecretStr, SecretBytes)):
                found.add(path + suffix)
            elif _is_model(member) and member not in seen:
                found |= secret_paths(member, path + suffix, seen | {model})
    return frozenset(found)


def _tags(model: type[BaseModel], discriminator: str) -> list[str]:
    info = model.model_fields.get(discriminator)
    if info is None or typing.get_origin(info.annotation) is not typing.Literal:
        return []
    return [str(arg) for arg in typing.get_args(info.annotation)]


def _step(candidates: list[Any], part: str | int) -> list[Any]:
    found: list[Any] = []
    for candidate in candidates:
        for member in _members(candidate):
            origin = typing.get_origin(member)
            if isinstance(part, str) and _is_model(member) and part in member.model_fields:
                found.append(member.model_fields[part].annotation)
            elif isinstance(part, int) and origin in (list, tuple, set, frozenset):
                found.append(typing.get_args(member)[0])
            elif isinstance(part, str) and origin is dict:
                found.append(typing.get_args(member)[1])
    return found


def resolve_loc(model: type[BaseModel], loc: Sequence[str | int]
                ) -> tuple[tuple[str | int, ...], type[BaseModel] | None]:
    """Turn a pydantic error ``loc`` into a data path and the model standing there.

    Why: pydantic inserts union tags into ``loc`` (``network.static.gateway``);
    the user's YAML has no such level, so tags are dropped from the path.
    """
    path: list[str | int] = []
    candidates: list[Any] = [model]
    for part in loc:
        following = _step(candidates, part)
        if following:
            path.append(part)
            candidates = following
            continue
        tagged = [m for c in candidates for m in _members(c) if _is_model(m) and (
            m.__name__ == part or any(part in _tags(m, f) for f in m.model_fields))]
        if tagged and isinstance(part, str):
            candidates = tagged
            continue
        path.append(part)
        candidates = []
    models = [m for c in candidates for m in _members(c) if _is_model(m)]
    return tuple(path), (models[0] if len(models) == 1 else None)


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a mapping validated by ``model`` may hold, sorted."""
    return sorted(info.alias or name for name, info in model.model_fields.items())


def union_choices(model: type[BaseModel], path: Sequence[str | int]) -> tuple[str, list[str]]:
    """Discriminator name and sorted allowed tags of the union field at ``path``.

    Why: "mode must be one of: dhcp, static" needs both, and pydantic's
    ``union_tag_not_found`` error carries neither list.
    """
    parent = resolve_loc(model, path[:-1])[1] if path else None
    info = parent.model_fields.get(str(path[-1])) if parent is not None and path else None
    if info is None:
        return "", []
    discriminator = ""
    stack: list[Any] = [info.annotation]
    while stack:
        current = stack.pop()
        for meta in getattr(current, "__metadata__", ()):
            if isinstance(getattr(meta, "discriminator", None), str):
                discriminator = meta.discriminator
        stack.extend(typing.get_args(current) if typing.get_origin(current) in (
            typing.Union, types.UnionType, typing.Annotated) else ())
    if isinstance(info.discriminator, str):
        discriminator = info.discriminator
    tags = sorted({t for m in _members(info.annotation) if _is_model(m)
                   for t in _tags(m, discriminator)})
    return discriminator, tags


def _drop_secret_defaults(node: Any) -> None:
    """Remove pydantic's ``**********`` defaults of write-only (secret) fields."""
    if isinstance(node, dict):
        if node.get("writeOnly") is True or node.get("format") == "password":
            node.pop("default", None)
        for value in node.values():
            _drop_secret_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_secret_defaults(value)


def _device_schema(models: ProviderModels, refs: Mapping[str, Any]) -> dict[str, Any]:
    needs_connection = any(f.is_required() for f in models.connection_model.model_fields.values())
    return {
        "type": "object",
        "title": f"{models.name} device",
        "description": models.description or f"A device managed by the {models.name} provider.",
        "properties": {
            "name": {"type": "string", "pattern": DEVICE_NAME_PATTERN,
                     "description": "Unique device name (used in plans, state and output)."},
            "provider": {"const": models.name, "description": "Device family."},
            "labels": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Free-form string labels for selecting devices."},
            "connection": refs["connection"],
            "settings": refs["settings"],
            "drift": {"$ref": "#/$defs/fleetform.deviceDrift"},
        },
        "required": ["name", "provider", *(["connection"] if needs_connection else [])],
        "additionalProperties": False,
    }


_PATH_ITEMS = {
    "type": "array", "minItems": 1,
    "items": {"type": "string", "pattern": PATH_PATTERN.pattern},
    "description": "Setting paths: 'network.hostname', 'pools[*].password' ('[*]' any list "
    "entry, '*' a glob within a name); a path covers everything below it.",
}
_SELECTORS = {
    "description": "Device selectors as for --target: a name, a glob ('s9-*') or label=value.",
    "oneOf": [{"type": "string", "minLength": 1},
              {"type": "array", "items": {"type": "string", "minLength": 1}}],
}
_DRIFT_DEFS: dict[str, Any] = {
    "fleetform.drift": {
        "type": "object", "additionalProperties": False,
        "description": "Known, accepted drift that 'fleetform drift' reports as ignored "
        "(plan and apply still correct it).",
        "properties": {"ignore": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["paths"],
            "properties": {"devices": _SELECTORS, "paths": _PATH_ITEMS,
                           "reason": {"type": "string"}},
        }}},
    },
    "fleetform.deviceDrift": {
        "type": "object", "additionalProperties": False,
        "description": "Accepted drift on this device only (see the top-level drift block).",
        "properties": {"ignore": _PATH_ITEMS, "reason": {"type": "string"}},
    },
}
_STATE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "description": "Where state is kept: a local file (path) or a shared Postgres workspace.",
    "properties": {
        "path": {"type": "string", "minLength": 1, "description": "Path of the state file."},
        "backend": {"enum": list(BACKENDS), "description": "local (default) or postgres."},
        "dsn": {"type": "string", "minLength": 1, "description": "libpq connection string "
                "or URL for postgres, without a password (PGPASSWORD or ${env:NAME})."},
        "workspace": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                      "description": "State workspace name (postgres; default 'default')."},
    },
}


def manifest_json_schema(providers: Mapping[str, ProviderModels]) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a manifest for the given providers.

    Why: editors validate and complete manifests from it; generating it from
    the pydantic models means it can never disagree with the loader.
    """
    defs: dict[str, Any] = {}
    variants: list[dict[str, Any]] = []
    for name in sorted(providers):
        models = providers[name]
        refs, top = models_json_schema(
            [(models.connection_model, "validation"), (models.settings_model, "validation")],
            ref_template=f"#/$defs/{name}.{{model}}",
        )
        for key, value in top.get("$defs", {}).items():
            defs[f"{name}.{key}"] = value
        defs[f"{name}.device"] = _device_schema(models, {
            "connection": refs[(models.connection_model, "validation")],
            "settings": refs[(models.settings_model, "validation")],
        })
        variants.append({"$ref": f"#/$defs/{name}.device"})
    _drop_secret_defaults(defs)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "fleetform manifest",
        "description": "Desired state of a fleet of devices. The file is a Jinja2 template "
        "rendered before validation; secrets are referenced as ${env:NAME}.",
        "type": "object",
        "required": ["devices"],
        "additionalProperties": False,
        "properties": {
            "variables": {"type": ["object", "null"], "description": "Default values of "
                          "template variables (plain YAML, no Jinja)."},
            "devices": {"type": "array", "description": "The managed devices.",
                        "items": {"oneOf": variants} if variants else False},
            "state": _STATE_SCHEMA,
            "drift": {"$ref": "#/$defs/fleetform.drift"},
        },
        "$defs": {**defs, **_DRIFT_DEFS},
    }


def render_schema_text(providers: Mapping[str, ProviderModels]) -> str:
    """The schema as the exact text stored in ``schemas/manifest.schema.json``.

    Why: sorted keys and a fixed indent make the file deterministic, so a test
    can compare the committed file with what the models generate.
    """
    return json.dumps(manifest_json_schema(providers), indent=2, sort_keys=True) + "\n"
