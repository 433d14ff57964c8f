"""Unit tests: ONVIF auth maths, SOAP envelopes and faults, time zones, manifest models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from fleetform.errors import AuthError, DeviceRejected, ProtocolError
from fleetform.providers.onvif import mapping
from fleetform.providers.onvif.auth import ClockSkew, UsernameToken, password_digest
from fleetform.providers.onvif.models import (
    MAIN_RESOLUTIONS_5MP,
    TURRETCAM_VARIANTS,
    TurretCamSettings,
)
from fleetform.providers.onvif.soap import (
    NS,
    TDS,
    SoapFault,
    build_envelope,
    build_fault,
    fault_error,
    node,
    parse_envelope,
    parse_xml,
    q,
)
from fleetform.providers.onvif.timezones import UnknownTimeZone, posix_tz


def test_password_digest_matches_the_published_test_vector() -> None:
    assert password_digest(b"0123456789abcdef", "2026-01-01T00:00:00Z", "secret") == (
        "AHdjPQqhLugJUej2bfmGQqPj3Vo=")


def test_username_token_header_carries_digest_nonce_and_zulu_created() -> None:
    moment = datetime(2026, 1, 1, 2, 0, tzinfo=UTC) + timedelta(hours=-2)
    token = UsernameToken.create("admin", "secret", moment, nonce=b"0123456789abcdef")
    assert token.created == "2026-01-01T00:00:00Z"
    header = token.header()
    assert header.findtext("wsse:UsernameToken/wsse:Password", None, NS) == (
        "AHdjPQqhLugJUej2bfmGQqPj3Vo=")
    assert header.findtext("wsse:UsernameToken/wsse:Nonce", None, NS) == (
        "MDEyMzQ1Njc4OWFiY2RlZg==")


def test_clock_skew_shifts_created_to_the_camera_clock() -> None:
    skew = ClockSkew()
    ours = datetime(2026, 1, 1, tzinfo=UTC)
    skew.measure(ours + timedelta(hours=3), local_utc=ours)
    assert skew.camera_now(ours) == ours + timedelta(hours=3)


def test_envelope_round_trip_keeps_foreign_namespaces() -> None:
    body = node(q(TDS, "SetHostname"), children=[node(q(TDS, "Name"), "cam<1>&")])
    body.append(node("{urn:vendor}Extra", "x"))
    parsed = parse_envelope(build_envelope(body)).body
    assert parsed.findtext("tds:Name", None, NS) == "cam<1>&"
    assert parsed.find("{urn:vendor}Extra") is not None


def test_fault_parsing_reads_the_subcode_chain_and_reason() -> None:
    data = build_fault("Sender", ["ter:InvalidArgVal", "ter:ConfigModify"], "bitrate too high")
    with pytest.raises(SoapFault) as caught:
        parse_envelope(data)
    fault = caught.value
    assert (fault.code, fault.subcodes, fault.reason) == (
        "Sender", ("InvalidArgVal", "ConfigModify"), "bitrate too high")


@pytest.mark.parametrize(("subcodes", "error"), [
    (["ter:InvalidArgVal"], DeviceRejected),
    (["ter:InvalidArgVal", "ter:ConfigModify"], DeviceRejected),
    (["ter:Action", "ter:MaxMasks"], DeviceRejected),
    (["ter:NotAuthorized"], AuthError),
    (["ter:ActionNotSupported"], DeviceRejected),
    (["ter:Weird"], ProtocolError),
])
def test_faults_map_to_typed_errors_naming_the_setting(subcodes: list[str],
                                                       error: type[Exception]) -> None:
    with pytest.raises(SoapFault) as caught:
        parse_envelope(build_fault("Sender", subcodes, "because"))
    mapped = fault_error(caught.value, "set video.main (SetVideoEncoderConfiguration)")
    assert isinstance(mapped, error)
    assert "set video.main" in str(mapped)
    assert "because" in str(mapped)


@pytest.mark.parametrize("document", [
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>',
    b'<!DOCTYPE a SYSTEM "http://example.invalid/evil.dtd"><a/>',
    b"<a>&undefined;</a>",
    b"<a><b></a>",
])
def test_xml_with_doctype_entities_or_errors_is_refused(document: bytes) -> None:
    with pytest.raises(ValueError):
        parse_xml(document)


@pytest.mark.parametrize(("zone", "posix"), [
    ("Europe/Kyiv", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("UTC", "UTC0"),
    ("America/New_York", "EST5EDT,M3.2.0,M11.1.0"),
    ("Asia/Kolkata", "IST-5:30"),
])
def test_iana_names_convert_to_the_tzif_posix_footer(zone: str, posix: str) -> None:
    assert posix_tz(zone) == posix


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "Europe/"])
def test_unknown_or_unsafe_zone_names_are_refused(zone: str) -> None:
    with pytest.raises(UnknownTimeZone):
        posix_tz(zone)


def _problem(settings: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        TurretCamSettings.model_validate(settings)
    return str(caught.value)


def test_resolutions_come_from_the_manual_tables() -> None:
    assert "3840x2160" not in MAIN_RESOLUTIONS_5MP
    assert TURRETCAM_VARIANTS["TurretCam (8 Mp/4 mm)"].main.resolutions[-1] == "3840x2160"
    ok = TurretCamSettings.model_validate(
        {"video": {"main": {"resolution": "2560 \u00d7 1440"}, "sub": {"resolution": "720x576"}}})
    assert ok.video is not None and ok.video.main is not None
    assert ok.video.main.resolution == "2560x1440"
    assert "not a TurretCam substream resolution" in _problem(
        {"video": {"sub": {"resolution": "1920x1080"}}})
    assert "1280x720" in _problem({"video": {"main": {"resolution": "1280x720"}}})


@pytest.mark.parametrize(("key", "value"), [("fps", 2), ("fps", 26), ("gop", 0), ("gop", 251),
                                            ("quality", 101)])
def test_stream_ranges_follow_the_manual(key: str, value: int) -> None:
    _problem({"video": {"main": {key: value}}})


def test_osd_name_allows_24_latin_or_12_cyrillic_characters() -> None:
    TurretCamSettings.model_validate({"osd": {"name": "A" * 24}})
    TurretCamSettings.model_validate({"osd": {"name": "Камера" * 2}})
    assert "24 Latin" in _problem({"osd": {"name": "A" * 25}})
    assert "12 Cyrillic" in _problem({"osd": {"name": "Камера вхід"  + "ц" * 2}})


def test_at_most_four_privacy_zones_inside_the_frame() -> None:
    zone = {"x": 0.1, "y": 0.1, "width": 0.2, "height": 0.2}
    TurretCamSettings.model_validate({"privacy_zones": [zone] * 4})
    assert "at most 4" in _problem({"privacy_zones": [zone] * 5})
    assert "inside the frame" in _problem(
        {"privacy_zones": [{"x": 0.9, "y": 0, "width": 0.2, "height": 0.1}]})


@pytest.mark.parametrize("settings", [
    {"anti_flicker": "50Hz"},
    {"archive_depth": 30},
    {"image": {"ir_intensity": 5}},
    {"image": {"exposure_compensation": 1}},
    {"notifications": {"human": True}},
])
def test_app_only_settings_are_rejected_with_the_reason(settings: dict[str, Any]) -> None:
    assert "managed only in the Ajax app" in _problem(settings)


def test_mask_geometry_round_trips_between_manifest_and_onvif() -> None:
    zone = {"x": 0.1, "y": 0.25, "width": 0.3, "height": 0.5}
    mask = mapping.new_mask("VSC", zone)
    assert mapping.zone_of(mask) == zone
    points = mapping.polygon_points(zone)
    assert points[0] == pytest.approx((-0.8, 0.5))
    assert points[2] == pytest.approx((-0.2, -0.5))


def test_simulated_camera_rejects_replayed_nonces_and_skewed_tokens() -> None:
    from fleetform.providers.onvif.sim_auth import TokenVerifier
    from fleetform.providers.onvif.soap import ENV

    verifier = TokenVerifier("admin", "secret", window=30)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    header = node(q(ENV, "Header"), children=[
        UsernameToken.create("admin", "secret", now, nonce=b"n-1").header()])
    assert verifier.verify(header, now) is None
    assert verifier.verify(header, now) == "nonce replayed"
    late = node(q(ENV, "Header"), children=[
        UsernameToken.create("admin", "secret", now - timedelta(hours=2), nonce=b"n-2").header()])
    assert "clock window" in (verifier.verify(late, now) or "")
    wrong = node(q(ENV, "Header"), children=[
        UsernameToken.create("admin", "nope", now, nonce=b"n-3").header()])
    assert verifier.verify(wrong, now) == "wrong username or password"


def test_simulated_digest_rejects_a_replayed_nonce_count() -> None:
    import hashlib
    import re

    from fleetform.providers.onvif.sim_auth import REALM, DigestVerifier

    verifier = DigestVerifier("admin", "secret")
    nonce = re.search(r'nonce="([^"]+)"', verifier.challenge())
    assert nonce is not None

    def header(nc: str) -> str:
        def h(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # noqa: S324
        ha1, ha2 = h(f"admin:{REALM}:secret"), h("POST:/onvif/device_service")
        response = h(f"{ha1}:{nonce.group(1)}:{nc}:c1:auth:{ha2}")
        return (f'Digest username="admin", realm="{REALM}", nonce="{nonce.group(1)}", '
                f'uri="/onvif/device_service", response="{response}", qop=auth, nc={nc}, '
                'cnonce="c1"')

    assert verifier.verify(header("00000001"), "POST") == "ok"
    assert verifier.verify(header("00000002"), "POST") == "ok"
    assert verifier.verify(header("00000002"), "POST") == "bad"
