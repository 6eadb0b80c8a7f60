"""Meeting figures per unit and calendar month, rolled up the hierarchy.

Definitions (the only place they are written; the README and the pages point here)
----------------------------------------------------------------------------------
Every figure counts **records** (current versions: an amendment replaces a
record's contribution, a withdrawal removes it) in the unit they concern
(``views/records.py``), in the calendar month of their own date, in the
**chain's time zone** (genesis ``time_zone``, default Asia/Ho_Chi_Minh), so
every node buckets alike.

- **meetings held**: minutes, by ``kind`` (regular, thematic,
  extraordinary). **On time**: held no later than :data:`SCHEDULE_GRACE_MS`
  after ``scheduled_for``; **late** otherwise; **unscheduled**: minutes with
  no ``scheduled_for``. **units with a regular meeting**: per month, the units
  that held at least one regular meeting (over several months, the sum of
  those unit-months).
- **attendance against the roll**: over the meetings, (attendees marked
  present who were on the unit's roll on the meeting date) / (the roll's
  size on that date). The roll is the unit's *active* members on the meeting
  date (``views/members.py`` says what "on the date" means). Guests and
  members of other units count in neither.
- **attendance against the list**: attendees marked present / attendees
  listed in the minutes. Minutes that leave roll members out of their list
  are counted (``minutes_leaving_out_roll_members``), and so are the roll
  members left out (``roll_members_left_out``): a list of 2 of a cell's 14
  members shows 2/2 against the list and 2/14 against the roll, flagged.
- **vote participation**: ballots cast (for + against + abstain, over every
  vote of the minutes) / eligible ballots (the roll on the meeting date, once
  per vote).
- **opinions per meeting**: opinions recorded / meetings held.
- **resolutions adopted**: resolutions by ``adopted_at``.
- **inspection findings by severity**: by the unit of their subject (the
  subject member's unit when the finding was recorded), dated ``created_at``.
- **member status changes by change**: by ``effective_at``, in the member's
  unit before the change (``admitted``: the unit admitted into).
- **confidential** records (only a commitment on the ledger) are counted by
  type and ``created_at``, nothing more: their content is not on the ledger.
- **overdue**: a unit is overdue at R = min(until, now) when it was not
  closed by R and its **last regular meeting** at or before R is older than
  :data:`OVERDUE_AFTER_MS` before R, or it has none and was created more than
  :data:`OVERDUE_AFTER_MS` before R (genesis units: always). The last regular
  meeting (or none) is given with it. **Cells** (units with no open sub-unit
  now) are listed apart from **committees**. (A unit is "created" when the
  block holding its ``org_unit`` document applied, so a unit recorded today
  with older minutes digitised into it is judged by those minutes.)

Rolled up: a unit's figures are its own records' plus every unit's below it;
the ``children`` rows of an answer (one per sub-unit, rolled up, and one for
the unit's own records) add up to the header, figure by figure.

The API returns raw counts and raw ratios (``num / den``, no rounding; null
when ``den`` is 0); the CLI and the pages format them with one rule,
``client/display.py`` (and its twin in the web pages, web/js/i18n.js).

Storage and cost
----------------
Counters are kept per (unit, month) twice: the unit's own records
(``w/co/``) and those of the units below it (``w/cb/``, its subtree without
itself, updated for each ancestor of a record's unit). A unit's subtree is
the two added up, so a cell, which has nothing below it, is one counter per
month. A block's records are summed per (unit, month) first and added to the
ancestors once (and a unit's place in the overdue index moves once per
block), so a block's cost grows with the units and months it touches, not
with its records times the levels above them.

A unit's answer reads two counters per month for itself and for each child
(own and below), the unit counts of each child (``views/units.py``), and,
for the overdue figures, the subtree's units ordered by their last regular
meeting (``w/od/``): only those that met too long ago or never, plus those
whose last meeting is after R (for a period ending in the past; each is
then looked up). Its cost grows with children and months (and overdue
units), never with documents.

Keys::

    w/co/<unit>\\0<YYYY-MM>          {figure: count}: the unit's own records
    w/cb/<unit>\\0<YYYY-MM>          the same over the units below it (absent for a cell)
    w/rm/<unit>\\0<t8><be8 leaf>     b"": a regular meeting of the unit, by held_at
    w/lr/<unit>                     int | nil: its last regular meeting (max held_at), nil: none yet
    w/od/<ancestor>\\0<last><unit>   b"": every unit under each ancestor (itself included) by its
                                    last regular meeting; <last> is 0x00 for none, else 0x01 + t8
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from ledger.errors import InvalidInput, NotFound
from ledger.genesis import Genesis
from ledger.registry import ancestors
from ledger.schemas import MEMBER_CHANGES, MEETING_KINDS, SEVERITIES
from ledger.timefmt import DAY_MS, MAX_MS, month_of, month_start, next_month

from .keys import TIME_KEY_MAX, be8, key_time, name_key, time_key
from .members import guests, roll_on
from .projection import Facts, Reader, Record, Writer, decode
from .records import concerned_unit, is_confidential, record_date
from .units import children_of, is_cell, subtree_counts, unit_record

__all__ = ["StatsView", "unit_stats", "month_range", "default_period", "SCHEDULE_GRACE_MS", "OVERDUE_AFTER_MS", "MAX_MONTHS",
           "DEFAULT_MONTHS", "figures"]

SCHEDULE_GRACE_MS = 7 * DAY_MS
OVERDUE_AFTER_MS = 31 * DAY_MS
MAX_MONTHS = 120          # a longer period is refused (400, field since)
DEFAULT_MONTHS = 6        # the default period: this month and the five before it
OVERDUE_LISTED = 500      # overdue units listed per kind in an answer (all are counted)

P_OWN = b"w/co/"
P_BELOW = b"w/cb/"
P_REGULAR = b"w/rm/"
P_LAST_REGULAR = b"w/lr/"
P_OVERDUE = b"w/od/"


# -- applying ---------------------------------------------------------------------------------


class StatsView:
    name = "stats"
    version = 3

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        for u in genesis.units:  # no unit has met before block 1
            _set_last_regular(w, u["path"], None, None, new_unit=True)

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type == "org_unit" and sign > 0 and record.body.get("action") == "create":
            path = record.body.get("path")
            if isinstance(path, str) and w.get(P_LAST_REGULAR + path.encode()) is None:
                _set_last_regular(w, path, None, None, new_unit=True)
            return
        counts = self._counts(w, record, facts)
        if counts is None:
            return
        unit = concerned_unit(w, record, facts)
        date = record_date(record)
        month = month_of(date, w.zone)
        if record.type == "minutes" and not is_confidential(record) and record.body.get("kind") == "regular":
            self._regular_index(w, unit, date, record.leaf, sign)  # (m.units_met: _roll_up)
        deltas = {name: sign * value for name, value in counts.items() if value}
        w.count(name_key(P_OWN, unit) + month.encode(), deltas)
        # The ancestors' counters of what lies below them take the same deltas: summed per
        # (unit, month) over the batch first, then added up the tree once (_roll_up).
        pending = w.batch_state("stats.below", dict, _roll_up)
        total = pending.get((unit, month))
        if total is None:
            pending[(unit, month)] = deltas
        else:
            for name, value in deltas.items():
                total[name] = total.get(name, 0) + value

    @staticmethod
    def _counts(w: Writer, record: Record, facts: Facts) -> dict[str, int] | None:
        body = record.body
        if is_confidential(record):
            return {f"x.{record.type}": 1} if record.type in ("minutes", "resolution", "inspection_finding") else None
        if record.type == "minutes":
            return _minutes_counts(w, record, facts)
        if record.type == "resolution":
            return {"r.adopted": 1}
        if record.type == "inspection_finding":
            severity = body.get("severity")
            return {f"f.{severity}": 1} if severity in SEVERITIES else None
        if record.type == "member_status":
            change = body.get("change")
            return {f"c.{change}": 1} if change in MEMBER_CHANGES else None
        return None

    @staticmethod
    def _regular_index(w: Writer, unit: str, held: int, leaf: int, sign: int) -> None:
        prefix = name_key(P_REGULAR, unit)
        last = w.get_obj(P_LAST_REGULAR + unit.encode())
        if sign > 0:
            w.put(prefix + time_key(held) + be8(leaf), b"")
            if last is None or held > last:
                _set_last_regular(w, unit, last, held)
            return
        w.delete(prefix + time_key(held) + be8(leaf))
        latest = next(iter(w.scan(prefix, reverse=True, limit=1)), None)
        _set_last_regular(w, unit, last, None if latest is None else key_time(latest[0][len(prefix):len(prefix) + 8]))


def _overdue_key(above: str, unit: str, last: int | None) -> bytes:
    return name_key(P_OVERDUE, above) + (b"\0" if last is None else b"\1" + time_key(last)) + unit.encode()


_NEW = object()  # a unit with no last-regular record before this batch


def _set_last_regular(w: Writer, unit: str, old: int | None, new: int | None, *, new_unit: bool = False) -> None:
    """Record `unit`'s last regular meeting (None: none); its place in every ancestor's overdue
    index moves once, when the batch drains (_move_overdue), from where it was before the batch."""
    w.put_obj(P_LAST_REGULAR + unit.encode(), new)
    moved = w.batch_state("stats.overdue", dict, _move_overdue)
    if unit not in moved:
        moved[unit] = _NEW if new_unit else old


def _move_overdue(w: Writer, moved: dict) -> None:
    for unit, old in moved.items():
        new = w.get_obj(P_LAST_REGULAR + unit.encode())
        if old is not _NEW and old == new:
            continue
        for above in ancestors(unit):
            if old is not _NEW:
                w.delete(_overdue_key(above, unit, old))
            w.put(_overdue_key(above, unit, new), b"")


def _roll_up(w: Writer, pending: dict) -> None:
    """Add the batch's deltas per (unit, month) to the counters below each ancestor; and count
    the unit among those with a regular meeting in the month when the batch gave it its first
    (or took its last): the counter as committed before the batch, plus the batch's meetings."""
    count = w.count
    for (unit, month), deltas in pending.items():
        tail = b"\0" + month.encode()
        regular = deltas.get("m.regular")
        if regular:
            own = P_OWN + unit.encode() + tail
            before = (w.read(own) or {}).get("m.regular", 0)
            met = (before + regular > 0) - (before > 0)
            if met:
                deltas["m.units_met"] = met
                count(own, {"m.units_met": met})
        for above in ancestors(unit)[1:]:
            count(P_BELOW + above.encode() + tail, deltas)


def _minutes_counts(w: Writer, record: Record, facts: Facts) -> dict[str, int]:
    body = record.body
    unit = concerned_unit(w, record, facts)
    held = record_date(record)
    attendees = [a for a in body.get("attendees") or () if isinstance(a, dict) and isinstance(a.get("member"), str)]
    roll = facts.get("roll", lambda: roll_on(w, unit, held))
    off_roll = set(guests(w, record, facts))
    roll_present = roll_listed = 0
    for a in attendees:
        if a["member"] not in off_roll:
            roll_listed += 1
            roll_present += a.get("present") is True
    counts = {"m.held": 1, "a.roll": roll, "a.roll_present": roll_present,
              "a.listed": len(attendees), "a.listed_present": sum(1 for a in attendees if a.get("present") is True),
              "o.total": len(body.get("opinions") or ())}
    kind = body.get("kind")
    if kind in MEETING_KINDS:
        counts[f"m.{kind}"] = 1
    scheduled = body.get("scheduled_for")
    if type(scheduled) is not int:
        counts["m.unscheduled"] = 1
    elif held <= scheduled + SCHEDULE_GRACE_MS:
        counts["m.on_time"] = 1
    else:
        counts["m.late"] = 1
    left_out = max(0, roll - roll_listed)
    counts["a.unlisted"] = left_out
    counts["a.incomplete"] = 1 if left_out else 0
    votes = [v for v in body.get("votes") or () if isinstance(v, dict)]
    counts["v.motions"] = len(votes)
    counts["v.ballots"] = sum(_count(v.get(k)) for v in votes for k in ("for", "against", "abstain"))
    counts["v.eligible"] = roll * len(votes)
    return counts


def _count(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


# -- figures ----------------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def figures(c: Counter | dict) -> dict:
    """The figures of one row (or one month) from its counter map (module docstring)."""
    g = c.get
    held = g("m.held", 0)
    return {
        "meetings": {"held": held, **{kind: g(f"m.{kind}", 0) for kind in MEETING_KINDS},
                     "on_time": g("m.on_time", 0), "late": g("m.late", 0), "unscheduled": g("m.unscheduled", 0),
                     "units_with_regular_meeting": g("m.units_met", 0)},
        "attendance": {
            "roll": {"present": g("a.roll_present", 0), "members": g("a.roll", 0),
                     "rate": _ratio(g("a.roll_present", 0), g("a.roll", 0))},
            "listed": {"present": g("a.listed_present", 0), "listed": g("a.listed", 0),
                       "rate": _ratio(g("a.listed_present", 0), g("a.listed", 0))},
            "minutes_leaving_out_roll_members": g("a.incomplete", 0),
            "roll_members_left_out": g("a.unlisted", 0),
        },
        "opinions": {"total": g("o.total", 0), "per_meeting": _ratio(g("o.total", 0), held)},
        "votes": {"motions": g("v.motions", 0), "ballots": g("v.ballots", 0), "eligible": g("v.eligible", 0),
                  "participation": _ratio(g("v.ballots", 0), g("v.eligible", 0))},
        "resolutions": {"adopted": g("r.adopted", 0)},
        "inspection_findings": {s: g(f"f.{s}", 0) for s in SEVERITIES},
        "member_status_changes": {ch: g(f"c.{ch}", 0) for ch in MEMBER_CHANGES},
        "confidential": {t: g(f"x.{t}", 0) for t in ("minutes", "resolution", "inspection_finding")},
    }


# -- querying ---------------------------------------------------------------------------------


def month_range(since: int, until: int, tz) -> list[str]:
    """The calendar months (in `tz`) from the one holding `since` to the one holding `until`."""
    if since > until:
        raise InvalidInput("since", f"requires since <= until, got {since} > {until}")
    first, last = month_of(since, tz), month_of(until, tz)
    months = [first]
    while months[-1] != last:
        months.append(next_month(months[-1]))
        if len(months) > MAX_MONTHS:
            raise InvalidInput("since", f"at most {MAX_MONTHS} months at once; ask for a shorter period")
    return months


def default_period(now: int, until: int | None, since: int | None, tz) -> tuple[int, int]:
    """(since, until): `until` defaults to now, `since` to the start of the month
    DEFAULT_MONTHS - 1 before until's (so the default is whole months, the current one included)."""
    until = now if until is None else until
    if since is None:
        month = month_of(until, tz)
        index = int(month[:4]) * 12 + int(month[5:]) - 1 - (DEFAULT_MONTHS - 1)
        index = max(index, 12)  # not before year 0001
        since = month_start(f"{index // 12:04d}-{index % 12 + 1:02d}", tz)
    return since, until


def _monthly(r: Reader, prefix: bytes, unit: str, months: list[str]) -> Iterator[tuple[str, dict]]:
    start = name_key(prefix, unit)
    last = months[-1].encode()
    for key, value in r.scan(start, start=start + months[0].encode()):
        month = key[len(start):]
        if month > last:
            return
        yield month.decode(), decode(value)


def _subtree_months(r: Reader, unit: str, months: list[str]) -> dict[str, Counter]:
    """Month -> the counts of `unit`'s subtree (its own and those below it), months with any."""
    out: dict[str, Counter] = {}
    for prefix in (P_OWN, P_BELOW):
        for month, counts in _monthly(r, prefix, unit, months):
            out.setdefault(month, Counter()).update(counts)
    return out


def _total(r: Reader, prefix: bytes, unit: str, months: list[str]) -> Counter:
    total: Counter = Counter()
    for _, counts in _monthly(r, prefix, unit, months):
        total.update(counts)
    return total


def _last_regular(r: Reader, unit: str, stored: int | None, at: int) -> int | None:
    """The unit's last regular meeting held at or before `at`."""
    if stored is None or stored <= at:
        return stored
    prefix = name_key(P_REGULAR, unit)
    for key, _ in r.scan(prefix, start=prefix + time_key(at) + TIME_KEY_MAX, reverse=True, limit=1):
        return key_time(key[len(prefix):len(prefix) + 8])
    return None


def _overdue_units(r: Reader, path: str, as_of: int) -> list[tuple[str, int | None]]:
    """(unit, last regular meeting at or before as_of, or None) of the units of `path`'s subtree
    that had none in the OVERDUE_AFTER_MS up to `as_of`, before the open/new checks."""
    prefix = name_key(P_OVERDUE, path)
    threshold = as_of - OVERDUE_AFTER_MS
    found: list[tuple[str, int | None]] = []
    for key, _ in r.scan(prefix):  # never met, then by last regular meeting, oldest first
        rest = key[len(prefix):]
        if rest[:1] == b"\0":
            found.append((rest[1:].decode(), None))
            continue
        if key_time(rest[1:9]) >= threshold:
            break
        found.append((rest[9:].decode(), key_time(rest[1:9])))
    # Units whose last regular meeting is after as_of (a period ending in the past): their last
    # one at or before as_of decides.
    after = prefix + b"\1" + time_key(min(as_of, MAX_MS - 1) + 1)
    for key, _ in r.scan(prefix, start=after):
        rest = key[len(prefix):]
        unit = rest[9:].decode()
        last = _last_regular(r, unit, key_time(rest[1:9]), as_of)
        if last is None or last < threshold:
            found.append((unit, last))
    return found


def _row_of(unit: str, path: str) -> str:
    """The row of `path`'s answer that `unit` (in its subtree) falls in: the child holding it, or `path`."""
    if unit == path:
        return path
    end = unit.find("/", len(path) + 1)
    return unit if end < 0 else unit[:end]


def unit_stats(r: Reader, path: str, *, since: int, until: int, now: int, by_month: bool = False) -> dict:
    """The stats answer for `path` (README "Stats"; definitions in the module docstring)."""
    own_unit = unit_record(r, path)
    if own_unit is None:
        raise NotFound(f"org unit {path!r}")
    months = month_range(since, until, r.zone)
    as_of = min(until, now)
    rows: dict[str, dict] = {path: {"path": path, "name": own_unit["name"], "kind": own_unit["kind"], "own": True}}
    unit_counts: dict[str, Counter] = {path: Counter()}
    if own_unit["closed"] is None:
        unit_counts[path].update({"total": 1, "cells" if is_cell(own_unit) else "committees": 1})
    for child in children_of(r, path):
        unit = unit_record(r, child) or {}
        rows[child] = {"path": child, "name": unit.get("name"), "kind": unit.get("kind"), "own": False,
                       **({"closed": unit["closed"]} if unit.get("closed") is not None else {})}
        unit_counts[child] = Counter(subtree_counts(r, child))
    overdue = {"cells": [], "committees": []}
    overdue_counts = {row: Counter() for row in rows}
    for unit_path, last in _overdue_units(r, path, as_of):
        unit = unit_record(r, unit_path)
        if unit is None or (unit["closed"] is not None and unit["closed"] <= as_of):
            continue
        if last is None and unit["opened"] > as_of - OVERDUE_AFTER_MS:
            continue  # new (or not yet made at as_of) and never met: not overdue yet
        kind = "cells" if is_cell(unit) else "committees"
        overdue[kind].append({"path": unit_path, "name": unit["name"], "last_regular_meeting": last})
        overdue_counts[_row_of(unit_path, path)][kind] += 1
    header_months = _subtree_months(r, path, months)
    header: Counter = Counter()
    for counts in header_months.values():
        header.update(counts)
    children = []
    for row_path, row in rows.items():
        if row["own"]:
            counts = _total(r, P_OWN, row_path, months)
        else:
            counts = sum(_subtree_months(r, row_path, months).values(), Counter())
        children.append({**row, **_shaped(counts, unit_counts[row_path], overdue_counts[row_path])})
    answer = {
        "unit": path, "name": own_unit["name"], "kind": own_unit["kind"],
        "since": since, "until": until, "as_of": as_of,
        "months": {"first": months[0], "last": months[-1], "count": len(months)},
        "time_zone": r.zone_name, "height": r.height,
        "definitions": {"schedule_grace_ms": SCHEDULE_GRACE_MS, "overdue_after_ms": OVERDUE_AFTER_MS},
        **_shaped(header, sum(unit_counts.values(), Counter()), sum(overdue_counts.values(), Counter())),
        "overdue_units": {kind: _oldest_first(items)[:OVERDUE_LISTED] for kind, items in overdue.items()},
        "children": children,
    }
    if by_month:
        answer["series"] = [{"month": m, **figures(header_months.get(m, {}))} for m in months]
    return answer


def _shaped(counts: Counter, units: Counter, overdue: Counter) -> dict:
    return {"units": {k: units.get(k, 0) for k in ("total", "cells", "committees")},
            "overdue": {k: overdue.get(k, 0) for k in ("cells", "committees")}, **figures(counts)}


def _oldest_first(items: Iterable[dict]) -> list[dict]:
    return sorted(items, key=lambda e: (e["last_regular_meeting"] is not None, e["last_regular_meeting"] or 0,
                                        e["path"]))
