"""Salted hashes for write-only secrets in state."""

from __future__ import annotations

from fleetform.secrets import hash_secret, is_secret_hash, new_salt, secret_matches


def test_hash_matches_only_the_same_secret_and_hides_it() -> None:
    salt = new_salt()
    stored = hash_secret("correct horse", salt)
    assert is_secret_hash(stored)
    assert "correct horse" not in stored and salt in stored
    assert secret_matches("correct horse", stored)
    assert not secret_matches("wrong horse", stored)


def test_salt_changes_the_hash() -> None:
    assert hash_secret("pw", new_salt()) != hash_secret("pw", new_salt())


def test_garbage_never_matches() -> None:
    assert not secret_matches("pw", "not-a-hash")
    assert not secret_matches("pw", "md5$1$x$y")
