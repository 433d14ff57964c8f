"""Salted hashes of secrets, for change detection without storing them.

Why: state must notice that a write-only secret (an admin password) changed in
the manifest, yet a state file is often committed, shared or backed up, so it
stores ``pbkdf2-sha256$<iterations>$<salt>$<digest>`` and never the value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

_ITERATIONS = 120_000
_SCHEME = "pbkdf2-sha256"


def new_salt() -> str:
    """A fresh random salt, URL-safe base64 text."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode("ascii").rstrip("=")


@lru_cache(maxsize=4096)
def _digest(secret: str, salt: str, iterations: int) -> str:
    raw = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt.encode("ascii"), iterations)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def hash_secret(secret: str, salt: str | None = None) -> str:
    """Hash ``secret`` with ``salt`` (a new one if omitted) in the stored format.

    Why cached: a farm often shares one password under one state salt, and
    PBKDF2 is slow on purpose; the cache keeps plans of thousands fast.
    """
    salt = salt or new_salt()
    return f"{_SCHEME}${_ITERATIONS}${salt}${_digest(secret, salt, _ITERATIONS)}"


def secret_matches(secret: str, stored: str) -> bool:
    """True if ``secret`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != _SCHEME or not iterations.isdigit():
        return False
    return hmac.compare_digest(_digest(secret, salt, int(iterations)), digest)


def is_secret_hash(value: object) -> bool:
    """True if ``value`` looks like a stored secret hash (for redacting views)."""
    return isinstance(value, str) and value.startswith(_SCHEME + "$")
