"""Server-side authentication of the simulated camera: HTTP Digest and UsernameToken.

Why its own module: the checks a camera makes (nonce replay, a clock window on
``Created``, Digest nonce counts) are what the client's fallback and skew
correction are tested against, so they are written out plainly here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime

from fleetform.providers.onvif.auth import PASSWORD_DIGEST, parse_created, password_digest
from fleetform.providers.onvif.soap import NS, text_of

REALM = "TurretCam"
NONCE_LIFETIME = 300.0
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class DigestVerifier:
    """RFC 2617/7616 Digest with qop=auth: issues nonces, rejects replayed nonce counts."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._nonces: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def challenge(self, stale: bool = False) -> str:
        """A fresh ``WWW-Authenticate`` value."""
        nonce = binascii.hexlify(os.urandom(16)).decode()
        with self._lock:
            now = time.monotonic()
            self._nonces = {n: v for n, v in self._nonces.items()
                            if now - v[0] < NONCE_LIFETIME}
            self._nonces[nonce] = (now, 0)
        text = f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'
        return text + (", stale=true" if stale else "")

    def verify(self, header: str, method: str) -> str:
        """``ok``, ``stale`` (unknown/expired nonce) or ``bad`` for an Authorization header."""
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM.finditer(header[len("Digest "):])}
        hasher = _HASHES.get(params.get("algorithm", "MD5").upper())
        nonce, nc_text = params.get("nonce", ""), params.get("nc", "")
        if hasher is None or params.get("qop") != "auth" or not nc_text:
            return "bad"
        with self._lock:
            issued = self._nonces.get(nonce)
            if issued is None or time.monotonic() - issued[0] > NONCE_LIFETIME:
                return "stale"
            count = int(nc_text, 16)
            if count <= issued[1]:
                return "bad"  # replayed nonce count
            self._nonces[nonce] = (issued[0], count)

        def h(text: str) -> str:
            return hasher(text.encode()).hexdigest()

        ha1 = h(f"{self.username}:{REALM}:{self.password}")
        ha2 = h(f"{method}:{params.get('uri', '')}")
        expected = h(f"{ha1}:{nonce}:{nc_text}:{params.get('cnonce', '')}:auth:{ha2}")
        good = params.get("username") == self.username and params.get("realm") == REALM
        return "ok" if good and hmac.compare_digest(expected, params.get("response", "")) else "bad"


class TokenVerifier:
    """WS-Security UsernameToken PasswordDigest with a clock window and nonce replay check."""

    def __init__(self, username: str, password: str, window: float) -> None:
        self.username = username
        self.password = password
        self.window = window
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def verify(self, header: ET.Element | None, camera_now: datetime) -> str | None:
        """``None`` if the token is valid, else why it is refused."""
        token = header.find("wsse:Security/wsse:UsernameToken", NS) if header is not None else None
        if token is None:
            return "no UsernameToken"
        password = token.find("wsse:Password", NS)
        if password is None or password.get("Type", PASSWORD_DIGEST) != PASSWORD_DIGEST:
            return "only PasswordDigest is accepted"
        try:
            nonce = base64.b64decode(text_of(token, "wsse:Nonce") or "", validate=True)
            created_text = text_of(token, "wsu:Created") or ""
            created = parse_created(created_text)
        except (ValueError, binascii.Error):
            return "malformed Nonce or Created"
        if abs((created - camera_now).total_seconds()) > self.window:
            return f"Created {created_text} is outside the camera's clock window"
        expected = password_digest(nonce, created_text, self.password)
        if text_of(token, "wsse:Username") != self.username or not hmac.compare_digest(
                expected, (password.text or "").strip()):
            return "wrong username or password"
        with self._lock:
            now = time.monotonic()
            self._seen = {n: t for n, t in self._seen.items() if now - t < 2 * self.window}
            if nonce in self._seen:
                return "nonce replayed"
            self._seen[nonce] = now
        return None
