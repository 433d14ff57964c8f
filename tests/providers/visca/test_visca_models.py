"""Manifest models and the model support matrix (data from the seed's notes)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fleetform.provider import Provider
from fleetform.providers.visca.matrix import MODELS, models_supporting, supports
from fleetform.providers.visca.models import AverConnection, AverSettings
from fleetform.providers.visca.provider import AverProvider


def settings(**values: Any) -> AverSettings:
    return AverSettings.model_validate(values)


def test_provider_satisfies_protocol() -> None:
    assert isinstance(AverProvider(), Provider)
    assert AverProvider.name == "aver"
    orders = {k: v.order for k, v in AverProvider.settings_specs.items()}
    assert orders["power"] < orders["focus_mode"] < orders["presets"] < orders["tracking"]


@pytest.mark.parametrize(("model", "command", "transport", "expected"), [
    ("CAM520 Pro3", "Power_Status_Inq", "serial", True),
    ("CAM520 Pro3", "Power_Status_Inq", "udp", False),       # "overIP 不支援"
    ("FONE700", "Power_Status_Inq", "udp", True),
    ("CAM520 Pro2", "Color_Gain", "serial", True),
    ("CAM520 Pro2", "Color_Gain", "udp", False),             # "(over IP)"
    ("VC520 Pro3", "Focus_Far", None, False),
    ("CAM520 Pro2", "PT_Pos_Inq", None, False),
    ("CAM520", "CAM_Profile_Save", None, True),
    ("CAM520 Pro", "CAM_Profile_Save", None, False),
    ("VB342+", "CAM_Track_Audio_Frame", None, True),
    ("CAM570", "CAM_Track_Audio_Frame", None, False),
    ("CAM540", "Power_On", None, True),
])
def test_matrix(model: str, command: str, transport: str | None, expected: bool) -> None:
    assert supports(model, command, transport) is expected


def test_matrix_lists_models_in_catalogue_order() -> None:
    assert models_supporting(("CAM_PIP_Set_USB",)) == ["CAM550", "CAM570"]
    assert len(models_supporting(("Power_On",))) == len(MODELS)


def test_model_is_required_and_not_dumped() -> None:
    with pytest.raises(ValidationError, match="model"):
        AverSettings.model_validate({"power": "on"})
    assert settings(model="CAM540", power="on").model_dump(exclude_none=True) == {"power": "on"}


def test_preset_keys_normalised_and_checked() -> None:
    parsed = settings(model="CAM540", presets={1: {"pan": 1, "tilt": 2, "zoom": 3},
                                               "0x10": {"pan": 0, "tilt": 0, "zoom": 0}})
    assert set(parsed.presets or {}) == {"1", "16"}
    with pytest.raises(ValidationError, match="out of range 0-127"):
        settings(model="CAM540", presets={128: {"pan": 0, "tilt": 0, "zoom": 0}})
    with pytest.raises(ValidationError, match="declared twice"):
        settings(model="CAM540", presets={1: {"pan": 0, "tilt": 0, "zoom": 0},
                                          "01": {"pan": 0, "tilt": 0, "zoom": 0}})
    with pytest.raises(ValidationError, match="less than or equal to 32767"):
        settings(model="CAM540", presets={1: {"pan": 40000, "tilt": 0, "zoom": 0}})


@pytest.mark.parametrize(("model", "values", "fragment"), [
    ("CAM520 Pro", {"audio": {"mute": True}}, "audio.mute is not supported by CAM520 Pro"),
    ("VB342+", {"audio": {"volume": 3}}, "models that support it: VC520 Pro3, VB342 Pro, VB350"),
    ("CAM520 Pro2", {"exposure_mode": "auto"}, "needs AE_Auto_Mode"),
    ("CAM550", {"tracking": {"start_position": 2}}, "tracking.start_position"),
    ("VB342+", {"backlight": "on", "wdr": "on"}, "declare only one"),
    ("CAM540", {"tracking": {"start_position": 10}}, "preset 0-9 or 'center'"),
])
def test_settings_rejected_with_helpful_message(model: str, values: dict[str, Any],
                                                fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("+", r"\+")):
        settings(model=model, **values)


def test_connection_validation() -> None:
    udp = AverConnection.model_validate({"transport": "udp", "host": "127.0.0.1"})
    assert udp.port == 52381 and udp.endpoint == "127.0.0.1:52381"
    serial = AverConnection.model_validate({"port": "/dev/ttyUSB0", "address": 7})
    assert serial.endpoint == "/dev/ttyUSB0#7" and serial.baud == 9600
    for bad, fragment in [
        ({"transport": "udp"}, "needs 'host'"),
        ({"transport": "udp", "host": "h", "address": 2}, "always VISCA address 1"),
        ({"transport": "serial"}, "needs 'port'"),
        ({"port": "/dev/x", "address": 8}, "out of range 1-7"),
        ({"port": "/dev/x", "baud": 19200}, "115200"),
        ({"port": "/dev/x", "host": "h"}, "'host' is for transport udp"),
    ]:
        with pytest.raises(ValidationError, match=fragment):
            AverConnection.model_validate(bad)
    assert AverConnection.model_validate(
        {"transport": "pelco-d", "port": "/dev/x", "address": 200}).address == 200
