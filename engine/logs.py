"""Logging set-up with secret redaction.

Why: debug logs end up in CI artefacts and bug reports; every secret value
fleetform knows about (from the manifest) is replaced by ``(sensitive)`` in
every log record, whatever a library or a provider chose to log.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic is imported on use: the CLI's --help does not need it
    from pydantic import BaseModel

REDACTED = "(sensitive)"
_EXCEPTION_FORMATTER = logging.Formatter()


def spellings(secret: str) -> set[str]:
    """The ways a secret can appear in a log line: as is, URL/form-encoded, JSON-escaped.

    Why: libraries log URLs (urllib3 logs every request line, query included)
    and JSON bodies, where a password with ``!`` or ``/`` no longer reads as
    itself.
    """
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret),
            urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]}


class RedactingFilter(logging.Filter):
    """Replaces known secret strings in log messages, exception text and stacks."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._ordered: list[str] = []

    def add(self, secrets: Iterable[str]) -> None:
        """Register more secret values (ignores very short ones to keep logs readable)."""
        for secret in secrets:
            if secret and len(secret) >= 3:
                self._secrets.update(spellings(secret))
        # Longest first, so a secret containing another is replaced whole.
        self._ordered = sorted(self._secrets, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every registered secret replaced."""
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it.

        The exception text is formatted here and cached on the record
        (``exc_text``, which formatters use as is), because an exception
        message (a URL, a device's reply) can hold a secret too.
        """
        if self._secrets:
            record.msg = self.scrub(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.scrub(record.exc_text)
            if record.stack_info:
                record.stack_info = self.scrub(record.stack_info)
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
    from pydantic import BaseModel, SecretStr

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
