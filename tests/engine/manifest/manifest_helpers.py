"""Shared helpers for the manifest loader tests.

Why a plain module (not a conftest): the test tree has no ``__init__`` files,
so a uniquely named helper module is the simplest thing both to import and to
keep apart from other test directories' fixtures.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from fleetform.errors import ManifestError, ManifestProblem
from fleetform.manifest import Manifest, ProviderModels, load_manifest
from fleetform.provider import SettingSpec
from fleetform.providers.antminer.models import AntminerConnection, AntminerSettings

ADMIN_SECRET = "Adm1n-S3cret-value"
BOOT_SECRET = "B00t-S3cret-value"
POOL_SECRET = "P00l-S3cret-value"

ENV = {
    "MINER_ADMIN_PASSWORD": ADMIN_SECRET,
    "MINER_BOOTSTRAP_PASSWORD": BOOT_SECRET,
    "POOL_PASSWORD": POOL_SECRET,
}

ANTMINER = ProviderModels(
    name="antminer",
    connection_model=AntminerConnection,
    settings_model=AntminerSettings,
    settings_specs={
        "pools": SettingSpec("pools", sensitive_fields=frozenset({"[].password"}), order=10),
        "admin_password": SettingSpec("admin_password", sensitive=True, order=20),
        "network": SettingSpec("network", disruptive=True, order=90),
    },
    connection_sensitive=frozenset({"credentials.password"}),
)
PROVIDERS: dict[str, ProviderModels] = {"antminer": ANTMINER}

# A valid single-device manifest; line numbers below are relied on by tests.
VALID = """\
devices:
  - name: miner-1
    provider: antminer
    connection:
      host: 10.0.0.11
      credentials: {username: root, password: "${env:MINER_BOOTSTRAP_PASSWORD}"}
    settings:
      pools:
        - url: pool.example.com:3333
          worker: farm.m1
          password: x
      admin_password: "${env:MINER_ADMIN_PASSWORD}"
"""


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> Path:
    """Write ``text`` (dedented) to ``tmp_path / name``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, *, env: Mapping[str, str] = ENV,
         variables: Mapping[str, Any] | None = None, var_files: Sequence[Path] = ()) -> Manifest:
    """Load ``text`` as a manifest with the antminer models."""
    return load_manifest(write(tmp_path, text), variables=variables, var_files=var_files,
                         environ=env, providers=PROVIDERS)


def problems(tmp_path: Path, text: str, **kwargs: Any) -> list[ManifestProblem]:
    """The problems loading ``text`` reports (it must fail with ManifestError)."""
    with pytest.raises(ManifestError) as info:
        load(tmp_path, text, **kwargs)
    rendered = str(info.value)
    assert "Traceback" not in rendered
    assert "pydantic" not in rendered.lower()
    assert "errors.pydantic.dev" not in rendered
    for secret in ENV.values():
        assert secret not in rendered
    return info.value.problems


def one_problem(tmp_path: Path, text: str, **kwargs: Any) -> ManifestProblem:
    """The single problem loading ``text`` reports."""
    found = problems(tmp_path, text, **kwargs)
    assert len(found) == 1, "\n".join(str(p) for p in found)
    return found[0]
