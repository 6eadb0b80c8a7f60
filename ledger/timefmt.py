"""Times as people write them and as the ledger keeps them.

The ledger keeps every time as an integer of **unix milliseconds** (the
canonical encoding has no floats and no date type), signed so that dates
before 1970 can be recorded: a member admitted in 1965 is
``-157766400000``-ish, not an error. Bounds are those of a calendar date
with a four-digit year: from ``0001-01-01T00:00:00Z`` (:data:`MIN_MS`) to
``9999-12-31T23:59:59.999Z`` (:data:`MAX_MS`); anything outside is an
:class:`~ledger.errors.InvalidInput` naming the field.

Wherever a person types a time (CLI options, YAML/JSON/CSV input, API query
parameters) :func:`parse_time` accepts, besides unix ms:

- an ISO 8601 date, ``2026-09-01`` (midnight at the start of that day in the
  display zone);
- an ISO 8601 date and time, ``2026-09-01T19:00``, ``2026-09-01 19:00:30``,
  ``2026-09-01T19:00+07:00``, ``2026-09-01T12:00:00Z``; without an offset
  it is read in the display zone;
- a ``datetime.date`` or ``datetime.datetime`` (what a YAML loader makes of
  an unquoted timestamp); a naive one is read in the display zone.

The **display zone** is an IANA zone name, ``Asia/Ho_Chi_Minh`` (UTC+7) by
default (:data:`DEFAULT_ZONE`); a node's config and the CLI's ``--tz`` /
``$MINUTEBOOK_TZ`` change it. :func:`format_time` writes a time back in
that zone with its offset, so what a user reads is what they would type.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

__all__ = ["MIN_MS", "MAX_MS", "DEFAULT_ZONE", "DAY_MS", "zone", "default_zone_name", "check_time", "parse_time",
           "format_time", "format_date", "month_of", "month_start", "next_month"]

DAY_MS = 86_400_000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
MIN_MS = -62_135_596_800_000          # 0001-01-01T00:00:00Z
MAX_MS = 253_402_300_799_999          # 9999-12-31T23:59:59.999Z
DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
_INT = re.compile(r"^[+-]?[0-9]{1,20}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def zone(name: str | None = None) -> ZoneInfo:
    """The IANA zone `name` (default: ``$MINUTEBOOK_TZ`` or :data:`DEFAULT_ZONE`,
    read at each call)."""
    return _zone(name or default_zone_name())


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        shown = name if len(name) <= 64 else name[:61] + "..."
        raise InvalidInput("tz", f"unknown time zone {shown!r} (expected an IANA name such as {DEFAULT_ZONE})") \
            from None


def default_zone_name() -> str:
    return os.environ.get("MINUTEBOOK_TZ") or DEFAULT_ZONE


def check_time(value: object, field: str) -> int:
    """`value` if it is an int of unix ms within the bounds, else InvalidInput naming `field`."""
    if type(value) is not int:
        raise InvalidInput(field, f"expected unix milliseconds (an integer) or an ISO 8601 date, got {value!r}")
    if not MIN_MS <= value <= MAX_MS:
        raise InvalidInput(field, f"time {value} is out of range (years 0001 to 9999: {MIN_MS} .. {MAX_MS} unix ms)")
    return value


def _from_datetime(value: _dt.datetime, tz: ZoneInfo, field: str) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    delta = value - _EPOCH
    return check_time((delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000, field)


def parse_time(value: object, field: str = "time", *, tz: str | ZoneInfo | None = None) -> int:
    """Unix ms from what a person typed (module doc); InvalidInput names `field` otherwise."""
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    if isinstance(value, bool):
        raise InvalidInput(field, f"expected a time, got {value!r}")
    if isinstance(value, int):
        return check_time(value, field)
    if isinstance(value, _dt.datetime):
        return _from_datetime(value, zone_info, field)
    if isinstance(value, _dt.date):
        return _from_datetime(_dt.datetime(value.year, value.month, value.day), zone_info, field)
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected unix milliseconds or an ISO 8601 date, got {type(value).__name__}")
    text = value.strip()
    if _INT.match(text):
        return check_time(int(text), field)
    try:
        if _DATE.match(text):
            d = _dt.date.fromisoformat(text)
            return _from_datetime(_dt.datetime(d.year, d.month, d.day), zone_info, field)
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        return _from_datetime(_dt.datetime.fromisoformat(text), zone_info, field)
    except ValueError:
        raise InvalidInput(field, f"not a time: {value!r} (expected unix ms, 2026-09-01, 2026-09-01T19:00 or "
                                  f"2026-09-01T19:00+07:00)") from None


def _to_datetime(ms: int, tz: str | ZoneInfo | None) -> _dt.datetime:
    """`ms` in the zone; in UTC where the zone's local time would leave years
    0001..9999 (within hours of MIN_MS or MAX_MS), so every bounded time formats,
    and formats alike on every node."""
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    utc = _EPOCH + _dt.timedelta(milliseconds=check_time(ms, "time"))
    try:
        return utc.astimezone(zone_info)
    except OverflowError:
        return utc


def format_time(ms: int, tz: str | ZoneInfo | None = None, *, seconds: bool = False) -> str:
    """``2026-09-01T19:00+07:00`` (with ``:SS`` if `seconds`) in the display zone."""
    return _to_datetime(ms, tz).isoformat(timespec="seconds" if seconds else "minutes")


def format_date(ms: int, tz: str | ZoneInfo | None = None) -> str:
    """``2026-09-01``: the calendar day of `ms` in the display zone."""
    return _to_datetime(ms, tz).date().isoformat()


def month_of(ms: int, tz: str | ZoneInfo | None = None) -> str:
    """``2026-09``: the calendar month of `ms` in the display zone (the key of monthly figures)."""
    d = _to_datetime(ms, tz)
    return f"{d.year:04d}-{d.month:02d}"


def month_start(month: str, tz: str | ZoneInfo | None = None) -> int:
    """Unix ms of the first instant of ``YYYY-MM`` in the display zone."""
    if not re.match(r"^[0-9]{4}-[0-9]{2}$", str(month)):
        raise InvalidInput("month", f"expected YYYY-MM, got {month!r}")
    year, mon = int(month[:4]), int(month[5:])
    if not 1 <= mon <= 12 or year < 1:
        raise InvalidInput("month", f"expected YYYY-MM, got {month!r}")
    return parse_time(f"{year:04d}-{mon:02d}-01", "month", tz=tz)


def next_month(month: str) -> str:
    """The month after ``YYYY-MM``."""
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}"
