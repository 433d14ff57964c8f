"""HTTP Digest (RFC 2617, MD5) for one miner, with the challenge kept between requests.

Why not ``requests.auth.HTTPDigestAuth``: it keeps the server's nonce in
thread-local storage and starts every new auth object (every login candidate)
with an unauthenticated request. fleetform drives one miner from whichever
pool thread runs it (plan on one thread, apply on another), so each phase paid
an extra 401 round trip, and the second login candidate paid one more. Here
the challenge belongs to the miner's session: a request is signed up front
with the last nonce; a 401 carrying a new challenge is answered once, unless
the nonce just came from the miner (then the password is simply wrong and a
second try would only cost a round trip). One device is driven by one thread
at a time, so no locking is needed.
"""

from __future__ import annotations

import hashlib
import os

from requests.utils import parse_dict_header

from fleetform.errors import ProtocolError


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - RFC 2617 mandates MD5


class DigestSession:
    """The last Digest challenge of one web server and the nonce count used with it."""

    def __init__(self) -> None:
        self.challenge: dict[str, str] | None = None
        self.fresh = False
        """True while the challenge came with the server's latest answer (cannot be stale)."""
        self._count = 0

    def learn(self, header: str) -> bool:
        """Remember the challenge of a 401's ``WWW-Authenticate``; False if it is not Digest."""
        scheme, _, params = header.strip().partition(" ")
        if scheme.lower() != "digest":
            return False
        parsed: dict[str, str | None] = parse_dict_header(params)  # type: ignore[no-untyped-call]
        challenge = {k.lower(): v for k, v in parsed.items() if v is not None}
        if "nonce" not in challenge or "realm" not in challenge:
            return False
        algorithm = challenge.get("algorithm", "MD5").upper()
        if algorithm != "MD5":
            raise ProtocolError(f"the web server asks for Digest {algorithm}; "
                                "an Antminer uses MD5")
        self.challenge, self.fresh, self._count = challenge, True, 0
        return True

    def answered(self) -> None:
        """The server answered something other than 401: the nonce may age from now on."""
        self.fresh = False

    def authorization(self, username: str, password: str, method: str, uri: str) -> str | None:
        """The ``Authorization`` header for one request, or None before any challenge."""
        challenge = self.challenge
        if challenge is None:
            return None
        realm, nonce = challenge["realm"], challenge["nonce"]
        ha1 = _md5(f"{username}:{realm}:{password}")
        ha2 = _md5(f"{method}:{uri}")
        fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"',
                  f'uri="{uri}"']
        qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._count += 1
            count = f"{self._count:08x}"
            cnonce = os.urandom(8).hex()
            response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
            fields += [f'response="{response}"', "qop=auth", f"nc={count}",
                       f'cnonce="{cnonce}"']
        elif qops:
            raise ProtocolError(f"the web server asks for Digest qop {', '.join(qops)}; "
                                "only 'auth' is supported")
        else:
            fields.append(f'response="{_md5(f"{ha1}:{nonce}:{ha2}")}"')
        if "algorithm" in challenge:
            fields.append(f"algorithm={challenge['algorithm']}")
        if "opaque" in challenge:
            fields.append(f'opaque="{challenge["opaque"]}"')
        return "Digest " + ", ".join(fields)
