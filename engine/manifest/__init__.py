"""Manifest loading: Jinja2 → YAML → secrets → pydantic, with located errors.

Why a package of small stages: each stage (template, YAML, secret references,
validation, schema) has one job and one way to fail, and every failure becomes
a :class:`fleetform.errors.ManifestError` that names file, line, column, field
path and device, never a traceback.
"""

from fleetform.manifest.loader import Manifest, load_manifest
from fleetform.manifest.schema import (
    ProviderModels,
    manifest_json_schema,
    provider_models_from,
    render_schema_text,
)
from fleetform.manifest.template import parse_var_assignment

__all__ = [
    "Manifest",
    "ProviderModels",
    "load_manifest",
    "manifest_json_schema",
    "parse_var_assignment",
    "provider_models_from",
    "render_schema_text",
]
