"""UTC time helpers shared by the archive modules.

Three textual forms are used:

* ``iso_z(dt)``: the project's public form, ISO 8601 in UTC with a ``Z`` suffix, seconds precision
  unless the time has a fraction, then microseconds (``2026-11-27T11:22:33Z``,
  ``2026-11-27T11:22:33.250000Z``). Records and the catalog's results use it.
* ``sortable_z(dt)``: always six fraction digits, so that strings sort like the times they encode.
  The catalog stores this form and compares it in SQL.
* ``warc_date(dt)``: the WARC-Date form (same as ``iso_z``; WARC/1.1 allows the fraction).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["iso_z", "parse_iso", "sortable_z", "timestamp14", "utc_now", "warc_date"]

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(
            f"naive datetime {dt.isoformat()!r}: pass an aware datetime (e.g. datetime.now(UTC))"
        )
    return dt.astimezone(UTC)


def iso_z(dt: datetime) -> str:
    """``2026-11-27T11:22:33Z`` (microseconds only when non-zero). ``dt`` must be aware."""
    dt = _require_aware(dt)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def sortable_z(dt: datetime) -> str:
    """``2026-11-27T11:22:33.000000Z``: fixed width, so text order equals time order."""
    return _require_aware(dt).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def warc_date(dt: datetime) -> str:
    """A WARC-Date value (WARC/1.1: fraction of a second allowed)."""
    return iso_z(dt)


def timestamp14(dt: datetime) -> str:
    """``20261127112233``: the 14-digit form used in file names and CDX."""
    return _require_aware(dt).strftime("%Y%m%d%H%M%S")


def parse_iso(value: str | datetime) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime.

    A value without an offset is taken as UTC. A bare date means midnight UTC. Raises ``ValueError``
    naming the value when it is not ISO 8601.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    text = value.strip()
    m = _ISO_RE.match(text)
    if not m:
        raise ValueError(f"not an ISO 8601 date-time: {value!r} (expected e.g. 2026-11-27T11:22:33Z)")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    iso = f"{year}-{month}-{day}T{hour or '00'}:{minute or '00'}:{second or '00'}"
    if tz is None or tz in ("Z", "z"):
        tz_text = "+00:00"
    elif ":" in tz:
        tz_text = tz
    else:
        tz_text = f"{tz[:3]}:{tz[3:]}"
    try:
        parsed = datetime.fromisoformat(iso + tz_text)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {value!r}: {exc}") from exc
    return parsed.replace(microsecond=micro).astimezone(UTC)
