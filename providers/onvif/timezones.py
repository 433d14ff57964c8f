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
import zoneinfo
from pathlib import Path

SYSTEM_ZONEINFO = (Path("/usr/share/zoneinfo"), Path("/usr/lib/zoneinfo"),
                   Path("/usr/share/lib/zoneinfo"))
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


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


def _canonical(roots: tuple[Path, ...]) -> set[str]:
    """Zone names listed in ``zone1970.tab`` (empty when no root has it)."""
    for root in roots:
        table = root / "zone1970.tab"
        if table.is_file():
            lines = table.read_text(encoding="utf-8").splitlines()
            return {line.split("\t")[2] for line in lines
                    if line and not line.startswith("#") and line.count("\t") >= 2}
    return set()


def zones_with_rule(posix: str, roots: tuple[Path, ...] = SYSTEM_ZONEINFO) -> list[str]:
    """Every IANA zone whose POSIX TZ string is ``posix``, canonical zones first.

    Why: a camera holds only the POSIX rule, which many zones share
    (``EET-2EEST,M3.5.0/3,M10.5.0/4`` is Athens, Helsinki, Kyiv, ...); an import
    must still write a zone name the manifest accepts. Canonical names (those
    in ``zone1970.tab``, and ``UTC``, which that table leaves out) come before
    links and legacy names; within each group the order is alphabetical, so the
    choice is deterministic.
    """
    canonical = _canonical(roots)
    found = []
    for name in zoneinfo.available_timezones():
        if name in _NOT_ZONES:
            continue
        try:
            if posix_tz(name, roots) == posix:
                found.append(name)
        except UnknownTimeZone:
            continue
    return sorted(found, key=lambda name: (name != "UTC", name not in canonical, name))
