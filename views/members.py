"""Members: who is where, with which status, now and on any past date; unit rolls.

Theory of operation
-------------------
The registry knows only the present. Figures need the past: attendance is
counted against the unit's **roll on the meeting date**, the members who
were *active* (probationary or full: ``ledger.registry.ACTIVE``) in the unit
then. So this view keeps, per member, a timeline of states keyed by
effective date, and per unit a roll that is a step function of time.

- A member's **state** after a status change is computed from the state
  before it by the registry's own rules (``ledger.registry.TRANSITIONS``:
  ``admitted`` enters ``doc.org`` as probationary, ``transferred`` moves to
  ``to_org``, ``suspended`` keeps the prior status to restore on
  ``reinstated``, terminal changes end membership), in the order documents
  apply, exactly as the registry does. Genesis members hold their genesis
  state from the start of time.
- Each status change that changes a member's unit or status is also an
  **event** on the member's timeline at its ``effective_at``. The state *on
  date T* is the state recorded by the latest event at or before T (events
  on one date in the order they applied). A change recorded late and dated
  back is placed at its date: the state on dates after it changes, up to
  the member's next event.
- A unit's **roll on date T** is the number of members whose state on T is
  (that unit, active). It is kept as one value per unit (``w/ro/``): a step
  function (breakpoints [t, count], each count valid from its t to the
  next), and the **roster**, for every member ever active in the unit, the
  dates they were (a sorted list of boundaries: active from the first to the
  second, from the third to the fourth..., and from the last on if their
  number is odd). So the roll on T, and whether each attendee of a meeting
  was on it, is one read (cached between blocks) and bisections, however
  many attendees a meeting lists. An event at date t changes the member's
  state on [t, next event) and so moves the rolls and rosters of the units
  involved over that interval.

"On the meeting date" is therefore: as the ledger knew the members' history
when the minutes were applied. A status change recorded later and dated
before an earlier meeting does not revise that meeting's figures (they were
computed, and are kept, as facts of the minutes); an amendment of the minutes
recounts them with what the ledger knows then.

Keys (``t8`` a time key, ``views/keys.py``)::

    w/mb/<id>                       {unit, status, prior?, name?, last: t, latest: [unit, status]}
                                    (state now, in apply order; `latest` is the state of the
                                    timeline's last event, at `last`, for the one-get fast path)
    w/mt/<id>\\0<t8><be8 seq>        canonical [unit, status]: the state from t (seq 0 genesis, else leaf + 1)
    w/ro/<unit>                     {roll: [[t, count], ...] by t: active members of the unit from t to the
                                    next t, roster: {id: [t, ...]}: when each was active in it (above)}
    w/ms/<unit>\\0<status>\\0<id>     b"": the unit's members by status now (for lists)
"""

from __future__ import annotations

import bisect

from ledger.genesis import Genesis
from ledger.registry import ACTIVE, TRANSITIONS
from ledger.timefmt import MIN_MS

from .keys import TIME_KEY_MAX, be8, key_time, name_key, time_key
from .projection import Facts, Record, Writer, decode
from .records import concerned_unit, record_date

__all__ = ["MembersView", "member_unit", "member_now", "state_on", "roll_on", "roll_and_roster", "on_roster", "guests",
           "active_units", "P_MEMBER", "P_BY_STATUS"]

P_MEMBER = b"w/mb/"
P_EVENTS = b"w/mt/"
P_ROLL = b"w/ro/"
P_BY_STATUS = b"w/ms/"


def member_now(r, member_id: object) -> dict | None:
    if not isinstance(member_id, str):
        return None
    return r.read(P_MEMBER + member_id.encode())


def member_unit(r, member_id: object) -> str | None:
    state = member_now(r, member_id)
    return None if state is None else state["unit"]


def state_on(r, member_id: str, t: int) -> tuple[str, str] | None:
    """(unit, status) of the member on date `t` (module docstring), or None."""
    now = r.read(P_MEMBER + member_id.encode())
    if now is None:
        return None
    if t >= now["last"]:
        unit, status = now["latest"]
        return unit, status
    prefix = name_key(P_EVENTS, member_id)
    for _, value in r.scan(prefix, start=prefix + time_key(t) + TIME_KEY_MAX, reverse=True, limit=1):
        unit, status = decode(value)
        return unit, status
    return None


def _first(point: list) -> int:
    return point[0]


_EMPTY = {"roll": (), "roster": {}}


def roll_and_roster(r, unit: str) -> dict:
    """``{roll, roster}`` of `unit` (module docstring), shared: read it, never change it."""
    return r.read(P_ROLL + unit.encode()) or _EMPTY


def roll_on(r, unit: str, t: int, value: dict | None = None) -> int:
    """Active members of `unit` on date `t` (`value`: its roll_and_roster, if read already)."""
    points = (value or roll_and_roster(r, unit))["roll"]
    i = bisect.bisect_right(points, t, key=_first) - 1
    return points[i][1] if i >= 0 else 0


def on_roster(spans: list | None, t: int) -> bool:
    """Whether a roster entry (sorted boundaries, module docstring) covers date `t`."""
    return spans is not None and bisect.bisect_right(spans, t) % 2 == 1


def guests(w, record: Record, facts: Facts) -> list[str]:
    """The members a minutes names (attendees, opinions) who were not on the roll of the unit it
    concerns on the meeting date (guests, members of other units, inactive members), sorted;
    kept as the fact ``guests`` so that a correction takes back exactly what was counted."""
    def compute() -> list[str]:
        body = record.body
        held = record_date(record)
        roster = roll_and_roster(w, concerned_unit(w, record, facts))["roster"]
        named = {a["member"] for a in body.get("attendees") or () if type(a) is dict and type(a.get("member")) is str}
        named.update(o["member"] for o in body.get("opinions") or ()
                     if type(o) is dict and type(o.get("member")) is str)
        return sorted(m for m in named if not on_roster(roster.get(m), held))

    return facts.get("guests", compute)


def active_units(r, member_id: str) -> dict[str, int]:
    """Unit -> the earliest date the member's timeline has them active in it: every unit whose
    roll the member was ever on, and from when (a bound: never later than any date they were)."""
    prefix = name_key(P_EVENTS, member_id)
    out: dict[str, int] = {}
    for key, value in r.scan(prefix):
        unit, status = decode(value)
        if status in ACTIVE and unit not in out:
            out[unit] = key_time(key[len(prefix):len(prefix) + 8])
    return out


def _set_span(spans: list, start: int, end: int | None, inside: bool) -> list:
    """`spans` (sorted boundaries) with [start, end) made all inside or all outside."""
    i = bisect.bisect_left(spans, start)
    out = spans[:i]
    if inside != (i % 2 == 1):
        out.append(start)
    if end is not None:
        k = bisect.bisect_right(spans, end)
        if (k % 2 == 1) != inside:
            out.append(end)
        out += spans[k:]
    return out


def _roll_add(w: Writer, unit: str, member: str, start: int, end: int | None, delta: int) -> None:
    """Add `delta` to `unit`'s roll over [start, end) (end None: from start on), and put (+1) or
    take (-1) `member` on or off its roster over it."""
    value = w.working(P_ROLL + unit.encode(), _new_roll, _sorted_roll)
    points, roster = value["roll"], value["roster"]
    spans = _set_span(roster.get(member, []), start, end, delta > 0)
    if spans:
        roster[member] = spans
    else:
        roster.pop(member, None)
    for t in (start, end):
        if t is None:
            continue
        i = bisect.bisect_left(points, t, key=_first)
        if i == len(points) or points[i][0] != t:
            points.insert(i, [t, points[i - 1][1] if i > 0 else 0])  # the count that held at t
    for point in points[bisect.bisect_left(points, start, key=_first):]:
        if end is not None and point[0] >= end:
            break
        point[1] += delta


def _new_roll() -> dict:
    return {"roll": [], "roster": {}}


def _sorted_roll(value: dict) -> dict:
    return {"roll": value["roll"], "roster": dict(sorted(value["roster"].items()))}


class MembersView:
    name = "members"
    version = 2

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        for m in genesis.members:
            mid, unit, status = m["member_id"], m["unit"], m["status"]
            state = {"unit": unit, "status": status, "last": MIN_MS, "latest": [unit, status]}
            if "name" in m:
                state["name"] = m["name"]
            w.put_obj(P_MEMBER + mid.encode(), state)
            w.put_obj(name_key(P_EVENTS, mid) + time_key(MIN_MS) + be8(0), [unit, status])
            w.put(name_key(P_BY_STATUS, unit, status) + mid.encode(), b"")
            if status in ACTIVE:
                _roll_add(w, unit, mid, MIN_MS, None, +1)

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type != "member_status" or sign < 0:  # status changes are not amendable
            return
        body = record.body
        mid, change = body.get("member"), body.get("change")
        if not isinstance(mid, str) or change not in TRANSITIONS:
            return
        key = P_MEMBER + mid.encode()
        before = w.read(key)  # shared: `after` is built afresh
        if change == "admitted":
            if before is not None:
                return  # the registry refuses a second admission
            after = {"unit": record.org, "status": TRANSITIONS[change][1]}
            if isinstance(body.get("name"), str):
                after["name"] = body["name"]
        else:
            if before is None:
                return
            after = {k: v for k, v in before.items() if k not in ("last", "latest")}
            result = TRANSITIONS[change][1]
            if change == "transferred" and isinstance(body.get("to_org"), str):
                after["unit"] = body["to_org"]
            elif change == "suspended":
                after["prior"] = before["status"]
            elif change == "reinstated":
                after["status"] = after.pop("prior", "full")
            if result is not None and change != "reinstated":
                after["status"] = result
        old = None if before is None else (before["unit"], before["status"])
        new = (after["unit"], after["status"])
        if old != new:
            if old is not None:
                w.delete(name_key(P_BY_STATUS, old[0], old[1]) + mid.encode())
            w.put(name_key(P_BY_STATUS, new[0], new[1]) + mid.encode(), b"")
            t = record_date(record)
            last, latest = self._event(w, mid, t, record.leaf + 1, new, before)
            after["last"], after["latest"] = last, latest
        else:
            after["last"], after["latest"] = before["last"], before["latest"]
        w.put_obj(key, after)

    @staticmethod
    def _event(w: Writer, mid: str, t: int, seq: int, state: tuple[str, str], now: dict | None) -> tuple[int, list]:
        """Put the event on the timeline and move the rolls; returns the timeline's (last, latest).
        `now` is the member's state before (None: no timeline yet)."""
        prefix = name_key(P_EVENTS, mid)
        key = prefix + time_key(t) + be8(seq)
        newest = now is None or t >= now["last"]  # then it sorts last (seq grows): nothing to look up
        if newest:
            previous, end = (None if now is None else now["latest"]), None
        else:
            before = next(iter(w.scan(prefix, start=key, reverse=True, limit=1)), None)
            following = next(iter(w.scan(prefix, start=key, limit=1)), None)
            previous = None if before is None else decode(before[1])
            end = None if following is None else key_time(following[0][len(prefix):len(prefix) + 8])
        w.put_obj(key, list(state))
        if end != t:  # (end == t cannot happen, seq grows; an empty interval would change no roll)
            if previous is not None and previous[1] in ACTIVE:
                _roll_add(w, previous[0], mid, t, end, -1)
            if state[1] in ACTIVE:
                _roll_add(w, state[0], mid, t, end, +1)
        return (t, list(state)) if newest else _latest(w, prefix)


def _latest(w: Writer, prefix: bytes) -> tuple[int, list]:
    key, value = next(iter(w.scan(prefix, reverse=True, limit=1)))
    return key_time(key[len(prefix):len(prefix) + 8]), decode(value)
