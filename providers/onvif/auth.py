"""ONVIF authentication maths, without I/O: WS-Security UsernameToken and clock skew.

Why sans-I/O: the digest formula and the time arithmetic are where interop
bugs hide (a ``+00:00`` instead of ``Z``, a nonce hashed as Base64 text instead
of bytes); as pure functions they are checked against the published test
vector and shared by the client and the simulator. HTTP Digest (RFC 2617) is
left to ``requests.auth.HTTPDigestAuth``; :func:`http_digest` only builds it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests.auth

from fleetform.providers.onvif.soap import WSSE, WSU, child, q

# A URI naming the digest scheme, not a password.
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"  # noqa: S105
    "#PasswordDigest"
)
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
    "#Base64Binary"
)


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """``Base64(SHA1(nonce + Created + password))`` as WS-Security defines it.

    ``nonce`` is the raw bytes (the header carries their Base64); ``created``
    is the exact text of the ``wsu:Created`` element.
    """
    digest = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8"))  # noqa: S324
    return base64.b64encode(digest.digest()).decode("ascii")


def format_created(moment: datetime) -> str:
    """``2026-01-01T00:00:00Z``: UTC, whole seconds, ``Z`` (some cameras reject ``+00:00``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_created(text: str) -> datetime:
    """Parse a ``wsu:Created`` value (``Z`` or numeric offset, optional fraction)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class UsernameToken:
    """The values of one WS-Security UsernameToken (one per request: nonces are single-use)."""

    username: str
    digest: str
    nonce: bytes
    created: str

    @classmethod
    def create(cls, username: str, password: str, now: datetime,
               nonce: bytes | None = None) -> UsernameToken:
        """A fresh token for a request sent at ``now`` (already corrected for clock skew)."""
        raw = nonce if nonce is not None else os.urandom(16)
        created = format_created(now)
        return cls(username, password_digest(raw, created, password), raw, created)

    def header(self) -> ET.Element:
        """The ``wsse:Security`` header block carrying this token."""
        security = ET.Element(q(WSSE, "Security"))
        token = child(security, q(WSSE, "UsernameToken"))
        child(token, q(WSSE, "Username"), self.username)
        child(token, q(WSSE, "Password"), self.digest, {"Type": PASSWORD_DIGEST})
        child(token, q(WSSE, "Nonce"), base64.b64encode(self.nonce).decode("ascii"),
              {"EncodingType": BASE64_BINARY})
        child(token, q(WSU, "Created"), self.created)
        return security


@dataclass
class ClockSkew:
    """How far the camera's clock is ahead of ours.

    Why: a camera checks ``wsu:Created`` against its own clock (typically a
    few minutes' window); cameras without NTP drift by hours. The offset is
    measured from the unauthenticated ``GetSystemDateAndTime``.
    """

    offset: timedelta = timedelta(0)

    def measure(self, camera_utc: datetime, local_utc: datetime | None = None) -> None:
        """Record the offset between the camera's UTC clock and ours."""
        mine = local_utc or datetime.now(UTC)
        self.offset = camera_utc.astimezone(UTC) - mine

    def camera_now(self, local_utc: datetime | None = None) -> datetime:
        """Our clock, shifted to what the camera believes the time is."""
        return (local_utc or datetime.now(UTC)) + self.offset


def http_digest(username: str, password: str) -> requests.auth.HTTPDigestAuth:
    """RFC 2617 Digest auth for a requests session (MD5; the camera picks via its challenge)."""
    return requests.auth.HTTPDigestAuth(username, password)
