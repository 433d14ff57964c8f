"""Logging set-up with secret redaction.

Why: debug logs end up in CI artefacts and bug reports; every secret value
fleetform knows about (from the manifest) is replaced by ``(sensitive)`` in
every log record, whatever a library or a provider chose to log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

REDACTED = "(sensitive)"


class RedactingFilter(logging.Filter):
    """Replaces known secret strings in log messages and arguments."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secrets: Iterable[str]) -> None:
        """Register more secret values (ignores very short ones to keep logs readable)."""
        self._secrets.update(s for s in secrets if s and len(s) >= 3)

    def scrub(self, text: str) -> str:
        """``text`` with every registered secret replaced."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if self._secrets:
            record.msg = self.scrub(record.getMessage())
            record.args = None
        return True


_FILTER = RedactingFilter()


def configure_logging(level: str) -> None:
    """Send fleetform's logs to stderr at ``level`` through the redacting filter."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_FILTER)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def redacting_filter() -> RedactingFilter:
    """The process-wide filter, so loaders can register the secrets they resolve."""
    return _FILTER


def secret_strings(
    model: BaseModel, is_secret: Callable[[str], bool] = lambda _p: False
) -> list[str]:
    """Every ``SecretStr`` value in a model, plus plain strings at secret paths."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}" if path else name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif isinstance(value, str) and is_secret(path):
            found.append(value)

    walk(model, "")
    return found
