"""IANA time zone names → POSIX TZ strings, as ONVIF ``SetSystemDateAndTime`` wants them.

Why from the TZif file: ONVIF carries the zone as a POSIX TZ string
(``EET-2EEST,M3.5.0/3,M10.5.0/4``); every TZif v2+ file ends with exactly that
string as its footer, so reading the last line is the authoritative
conversion, with no hand-kept table to go stale. The system zoneinfo database
is used when present, else the ``tzdata`` package if it is installed.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

SYSTEM_ZONEINFO = (Path("/usr/share/zoneinfo"), Path("/usr/lib/zoneinfo"),
                   Path("/usr/share/lib/zoneinfo"))
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


class UnknownTimeZone(ValueError):
    """The name is not an IANA zone this machine knows, or its file has no POSIX footer."""


def _tzif_bytes(name: str, roots: tuple[Path, ...]) -> bytes:
    for root in roots:
        path = root / name
        if path.is_file():
            return path.read_bytes()
    try:
        package = importlib.resources.files("tzdata").joinpath("zoneinfo", *name.split("/"))
        if package.is_file():
            return package.read_bytes()
    except ModuleNotFoundError:
        pass
    raise UnknownTimeZone(
        f"'{name}' is not a known IANA time zone (e.g. Europe/Kyiv, America/New_York, UTC)"
    )


def posix_tz(name: str, roots: tuple[Path, ...] = SYSTEM_ZONEINFO) -> str:
    """The POSIX TZ string for IANA zone ``name`` (``Europe/Kyiv`` → ``EET-2EEST,...``)."""
    if not _NAME.match(name) or ".." in name:
        raise UnknownTimeZone(f"'{name}' is not an IANA time zone name (e.g. Europe/Kyiv)")
    data = _tzif_bytes(name, roots)
    if not data.startswith(b"TZif"):
        raise UnknownTimeZone(f"'{name}' is not a TZif zone file")
    if data[4:5] not in (b"2", b"3", b"4"):
        raise UnknownTimeZone(f"the zone file for '{name}' is TZif version 1 (no POSIX footer)")
    start = data.rfind(b"\n", 0, len(data) - 1)
    text = data[start + 1:-1].decode("ascii", errors="replace") if data.endswith(b"\n") else ""
    if start < 0 or not text or not text.isprintable():
        raise UnknownTimeZone(f"the zone file for '{name}' has no POSIX TZ footer")
    return text
