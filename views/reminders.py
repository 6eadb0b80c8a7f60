"""Reminders: what a committee office has due or late in its subtree, from the other views (no
state of its own).

- **minutes not filed for the month**: open units of the subtree whose last
  regular meeting is before the start of the current calendar month (chain's
  zone), with that meeting's date (null: none yet), oldest first; units
  created this month are left out;
- **directives to acknowledge / report on**: directives of the unit or of
  a unit above it that units of the subtree have still to acknowledge (or to
  report on), with how many and the due dates (views/directives.py);
- **tasks due this week**: tasks of the subtree not done whose due date lies
  in the next :data:`WEEK_MS`, and, apart, those already past due
  (views/tasks.py).

A cron job mails ``minutebook due PATH --json`` (one JSON object) or the table.
"""

from __future__ import annotations

from ledger.errors import NotFound
from ledger.timefmt import DAY_MS, month_of, month_start

from .keys import key_time, name_key
from .units import is_cell, unit_record

__all__ = ["due_items", "WEEK_MS", "LISTED"]

WEEK_MS = 7 * DAY_MS
LISTED = 500  # items of each list in an answer (each list says how many there are in all when cut)


def _minutes_not_filed(r, path: str, now: int) -> list[dict]:
    from .stats import P_OVERDUE

    start = month_start(month_of(now, r.zone), r.zone)
    prefix = name_key(P_OVERDUE, path)
    out = []
    for key, _ in r.scan(prefix):  # never met, then by last regular meeting, oldest first
        rest = key[len(prefix):]
        if rest[:1] == b"\0":
            unit, last = rest[1:].decode(), None
        else:
            last = key_time(rest[1:9])
            if last >= start:
                break
            unit = rest[9:].decode()
        record = unit_record(r, unit)
        if record is None or record["closed"] is not None or (last is None and record["opened"] >= start):
            continue
        out.append({"unit": unit, "name": record["name"], "cell": is_cell(record), "last_regular_meeting": last})
        if len(out) >= LISTED:
            break
    return out


def due_items(r, path: str, *, now: int) -> dict:
    """``{unit, as_of, month, minutes_not_filed, directives, tasks_due, tasks_late}`` (module docstring)."""
    from .directives import directives_to_answer
    from .tasks import tasks_due

    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    return {
        "unit": path, "as_of": now, "month": month_of(now, r.zone),
        "minutes_not_filed": _minutes_not_filed(r, path, now),
        "directives": directives_to_answer(r, path, as_of=now),
        "tasks_due": tasks_due(r, path, since=now, until=now + WEEK_MS, limit=LISTED, as_of=now),
        "tasks_late": tasks_due(r, path, until=now - 1, limit=LISTED, as_of=now),
        "height": r.height,
    }
