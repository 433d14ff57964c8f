"""Every built-in provider satisfies the Provider protocol and its own rules.

Why: the protocol is a typing.Protocol, so this test (with mypy) is what keeps
providers honest: specs name real settings, disruptive settings apply last,
secrets are declared, and the simulator starter exists.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from fleetform.provider import Provider, SettingSpec
from fleetform.providers import builtin_providers, builtin_simulators

PROVIDERS = sorted(builtin_providers().items())


@pytest.mark.parametrize(("name", "cls"), PROVIDERS)
def test_provider_matches_the_protocol(name: str, cls: type[Provider]) -> None:
    provider = cls()
    assert isinstance(provider, Provider)
    assert provider.name == name
    assert issubclass(provider.connection_model, BaseModel)
    assert issubclass(provider.settings_model, BaseModel)
    provider.close()


@pytest.mark.parametrize(("name", "cls"), PROVIDERS)
def test_setting_specs_describe_real_settings(name: str, cls: type[Provider]) -> None:
    fields = set(cls.settings_model.model_fields)
    specs = cls.settings_specs
    assert specs, name
    for setting, spec in specs.items():
        assert isinstance(spec, SettingSpec) and spec.name == setting
        assert setting in fields, f"{name}: spec for unknown setting {setting}"
    disruptive = [s.order for s in specs.values() if s.disruptive]
    gentle = [s.order for s in specs.values() if not s.disruptive]
    if disruptive and gentle:
        assert min(disruptive) > max(gentle), f"{name}: disruptive settings must apply last"


@pytest.mark.parametrize(("name", "cls"), PROVIDERS)
def test_every_provider_has_a_simulator(name: str, cls: type[Provider]) -> None:
    assert name in builtin_simulators()
