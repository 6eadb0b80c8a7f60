"""Times in documents people write: the one reader every input shares (YAML
and JSON for ``minutebook submit``, JSONL, CSV and XLSX rows for ``import``).

The ledger keeps every time as unix milliseconds; people write ISO 8601. So
a document's time fields -- found through the body schemas
(ledger/schemas.py: a ``"time"`` spec, alone, nullable, in a list or in a
nested object) -- are read with :func:`ledger.timefmt.parse_time`:
``2026-09-01``, ``2026-09-01T19:00``, ``2026-09-01T19:00+07:00``, unix ms,
or the ``date`` / ``datetime`` a YAML loader makes of an unquoted
timestamp. A time without an offset is read in the display zone (``tz``:
``--tz``, ``$MINUTEBOOK_TZ``, default ``Asia/Ho_Chi_Minh``), never as UTC.
A bad time is an :class:`~ledger.errors.InvalidInput` naming the field
(``body.tasks[1].due: not a time: ...``).

Where no schema says what a value is (a confidential body's ``meta``, the
replacement body of an ``amendment`` whose target's type is not known here),
a ``date`` or ``datetime`` object is still a time (YAML said so) and becomes
unix ms in the display zone; strings stay strings. A ``date`` or
``datetime`` where the schema expects something else (YAML reading an
unquoted ``2026-09-01`` in an agenda item) is refused, naming the field:
quote it to keep it as text.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any
from zoneinfo import ZoneInfo

from ledger.errors import InvalidInput
from ledger.schemas import BODY_SCHEMAS, Enum, ListOf, Nullable, Obj
from ledger.timefmt import parse_time, zone

__all__ = ["read_time", "normalise_times", "normalise_document"]

_DATES = (_dt.date, _dt.datetime)  # datetime is a date; both listed for the reader


def read_time(value: Any, path: str, tz: str | ZoneInfo | None = None) -> Any:
    """One time field's value: text or a ``date`` / ``datetime`` as unix ms (module doc; an
    InvalidInput naming `path` if it is no time); anything else as it is, for the ledger to
    judge (unix ms are already ints). The import's cells come here too, after their own rules
    (client/import_templates.py: an Excel day number is no date)."""
    if isinstance(value, (str, *_DATES)):
        return parse_time(value, path, tz=tz)
    return value


def normalise_times(doc_type: str, body: Any, tz: str | ZoneInfo | None = None, *, path: str = "body",
                    amended_type: str | None = None) -> Any:
    """`body` with its time fields as unix ms (module doc). An unknown type
    or a body that is no map comes back as it is, for the ledger to name
    what is wrong. `amended_type`: for an ``amendment``, the type of its
    target, whose schema then reads ``body.body``."""
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    schema = BODY_SCHEMAS.get(doc_type) if isinstance(doc_type, str) else None
    if schema is None or not isinstance(body, dict):
        return _schemaless(body, path, zone_info)
    if "confidential" in body:
        return _schemaless(body, path, zone_info)
    out = _walk(schema, body, path, zone_info)
    if doc_type == "amendment" and isinstance(out.get("body"), dict):
        inner = body["body"]
        out["body"] = (normalise_times(amended_type, inner, zone_info, path=f"{path}.body")
                       if amended_type in BODY_SCHEMAS else _schemaless(inner, f"{path}.body", zone_info))
    return out


def normalise_document(doc: Any, tz: str | ZoneInfo | None = None, *, amended_type: str | None = None) -> Any:
    """A document ``{type, org, body, refs?, created_at?, meta?, ...}`` with
    its body's times (and ``created_at``; in ``meta``, YAML dates) as unix ms."""
    if not isinstance(doc, dict):
        return doc
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    out = dict(doc)
    if "body" in out:
        out["body"] = normalise_times(out.get("type"), out["body"], zone_info, amended_type=amended_type)
    if "created_at" in out and isinstance(out["created_at"], (str, *_DATES)):
        out["created_at"] = parse_time(out["created_at"], "created_at", tz=zone_info)
    if "meta" in out:  # a confidential document's public facts (`submit --confidential`): no schema
        out["meta"] = _schemaless(out["meta"], "meta", zone_info)
    for key in out:
        if key not in ("body", "created_at", "meta"):
            _refuse_dates(out[key], key)
    return out


def _walk(spec: Any, value: Any, path: str, tz: ZoneInfo) -> Any:
    if spec == "time":
        return read_time(value, path, tz)
    if spec == "any_map":
        return _schemaless(value, path, tz)
    cls = type(spec)
    if cls is Nullable:
        return None if value is None else _walk(spec.spec, value, path, tz)
    if cls is Obj and isinstance(value, dict):
        fields = spec.fields
        return {k: _walk(fields[k][0], v, f"{path}.{k}", tz) if k in fields else _refuse_dates(v, f"{path}.{k}")
                for k, v in value.items()}
    if cls is ListOf and isinstance(value, list):
        return [_walk(spec.item, v, f"{path}[{i}]", tz) for i, v in enumerate(value)]
    if cls is Enum or isinstance(spec, str) or cls in (Obj, ListOf):
        return _refuse_dates(value, path)
    raise AssertionError(f"unknown spec {spec!r}")  # pragma: no cover - a bad schema is a programming error


def _refuse_dates(value: Any, path: str) -> Any:
    """`value`, unless a date or time sits where no time is expected."""
    if isinstance(value, _DATES):
        raise InvalidInput(path, f"read as a date or time ({value.isoformat()}), but this field is not a time; "
                                 f"quote it to keep it as text")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_dates(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_dates(v, f"{path}[{i}]")
    return value


def _schemaless(value: Any, path: str, tz: ZoneInfo) -> Any:
    if isinstance(value, _DATES):
        return parse_time(value, path, tz=tz)
    if isinstance(value, dict):
        return {k: _schemaless(v, f"{path}.{k}", tz) for k, v in value.items()}
    if isinstance(value, list):
        return [_schemaless(v, f"{path}[{i}]", tz) for i, v in enumerate(value)]
    return value
