"""A member's timeline: every status change, profile entry, attendance, opinion and
finding about them, each linked to its document, in date order.

Entries (JSON as the API serves them; ``date`` is the record's own date,
``views/records.py``)::

    {kind: "status", date, change, org, reason?, to_org?, doc_id}
    {kind: "profile", date, entry, title, institution?, result?, started_at?, completed_at?, doc_id}
    {kind: "attendance", date, org, meeting_id, meeting_kind, present, reason?, doc_id}
    {kind: "opinion", date, org, meeting_id, topic, summary, doc_id}
    {kind: "finding", date, org, inspection_id, severity, doc_id}

``doc_id`` is the current version of the record (an amendment's id once the
record is amended) and ``record_id`` the original's, present when they
differ. A withdrawn record leaves the timeline.

Storage
-------
Most entries come from minutes, one per attendee, and most attendees are on
the roll of the unit that met. Those are kept once per minutes, not once per
attendee: ``w/tm/`` holds, under the unit and the meeting's date, the
meeting's fields and each roll member's entries. A member's timeline is
then their own keys (``w/tl/``: status changes, profile entries, findings,
and what they said or did at meetings of units whose roll they were not on,
``views.members.guests``) merged with the meetings of every unit whose roll
they were ever on, from the first date they were (``views.members.active_units``:
a unit's meetings before that never list them as a roll member). Which of
the two holds an attendee is decided when the minutes apply and kept as the
fact ``guests``, so a correction takes back exactly what was written. A
block writes one key per meeting instead of one per attendee; a page of a
timeline reads a meeting per entry (cached in no way, and bounded by the
page's scan budget).

Every entry sorts by ``<t8 date><be8 leaf><be2 n>`` (n numbers a record's
entries: attendees in list order, then opinions), which is also its cursor.

Keys::

    w/tl/<member>\\0<t8><be8 leaf><be2 n>   canonical entry (``doc`` and ``rec`` as 32 raw bytes)
    w/tm/<unit>\\0<t8><be8 leaf>            {o: org, m: meeting_id, k: meeting kind, d: doc (32 B),
                                            r?: record id, e: {member: [[n, 0, present, reason] |
                                            [n, 1, topic, summary], ...]}}: a meeting's roll members'
                                            entries (reason nil when none)
"""

from __future__ import annotations

import heapq
import struct
from typing import Callable, Iterator

from ledger.genesis import Genesis

from .keys import be8, key_time, name_key, pack, time_key
from .members import active_units, guests
from .paging import cursor_after, page_of
from .projection import Facts, Record, Writer, decode
from .records import concerned_unit, is_confidential, record_date

__all__ = ["TimelineView", "member_timeline", "member_entries", "entry_json"]

P_TIMELINE = b"w/tl/"
P_MEETINGS = b"w/tm/"
_be2 = struct.Struct(">H").pack
_WIDTH = 18
_KINDS = frozenset({"member_status", "profile_entry", "minutes", "inspection_finding"})  # those with entries
_ATTENDANCE, _OPINION = 0, 1


def _own_entries(record: Record, tail: dict) -> list[tuple[str, dict]]:
    """(member, entry) pairs of a record other than minutes; each entry ends with `tail`'s fields."""
    body = record.body
    out: list[tuple[str, dict]] = []
    if record.type == "member_status" and isinstance(body.get("member"), str):
        entry = {"kind": "status", "change": body.get("change"), "org": record.org, "reason": body.get("reason")}
        if isinstance(body.get("to_org"), str):
            entry["to_org"] = body["to_org"]
        out.append((body["member"], entry))
    elif record.type == "profile_entry" and isinstance(body.get("member"), str):
        entry = {"kind": "profile", "entry": body.get("kind"), "title": body.get("title")}
        for name in ("institution", "result", "started_at", "completed_at"):
            if name in body:
                entry[name] = body[name]
        out.append((body["member"], entry))
    elif record.type == "inspection_finding":
        subject = body.get("subject")
        if isinstance(subject, dict) and isinstance(subject.get("member"), str):
            out.append((subject["member"], {"kind": "finding", "org": record.org,
                                            "inspection_id": body.get("inspection_id"),
                                            "severity": body.get("severity")}))
    for _, entry in out:
        entry.update(tail)
    return out


def _meeting_entries(record: Record) -> list[tuple[str, list]]:
    """(member, [kind, a, b]) of a minutes: attendees in list order, then opinions."""
    body = record.body
    out: list[tuple[str, list]] = []
    for a in body.get("attendees") or ():
        if type(a) is dict and type(a.get("member")) is str:
            reason = a.get("reason")
            out.append((a["member"], [_ATTENDANCE, a.get("present") is True, reason if type(reason) is str else None]))
    for o in body.get("opinions") or ():
        if type(o) is dict and type(o.get("member")) is str:
            out.append((o["member"], [_OPINION, o.get("topic"), o.get("summary")]))
    return out


def _meeting_entry(meeting: dict, date: int, n: int, kind: int, a, b) -> dict:
    """One entry of a meeting, in the stored form of a ``w/tl/`` entry."""
    if kind == _ATTENDANCE:
        entry = {"kind": "attendance", "org": meeting["o"], "meeting_id": meeting["m"], "meeting_kind": meeting["k"],
                 "present": a}
        if b is not None:
            entry["reason"] = b
    else:
        entry = {"kind": "opinion", "org": meeting["o"], "meeting_id": meeting["m"], "topic": a, "summary": b}
    entry["date"], entry["doc"] = date, meeting["d"]
    if "r" in meeting:
        entry["rec"] = meeting["r"]
    return entry


class TimelineView:
    name = "timeline"
    version = 2

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type not in _KINDS or is_confidential(record):
            return
        date = record_date(record)
        doc = bytes.fromhex(record.doc_id)
        rec = bytes.fromhex(record.record_id) if record.record_id != record.doc_id else None
        suffix = b"\0" + time_key(date) + be8(record.leaf)
        if record.type != "minutes":
            tail = {"date": date, "doc": doc} if rec is None else {"date": date, "doc": doc, "rec": rec}
            for n, (member, entry) in enumerate(_own_entries(record, tail)):
                key = P_TIMELINE + member.encode() + suffix + _be2(n)
                if sign < 0:
                    w.delete(key)
                else:
                    w.put(key, pack(entry))
            return
        off_roll = set(guests(w, record, facts))
        body = record.body
        meeting = {"o": record.org, "m": body.get("meeting_id"), "k": body.get("kind"), "d": doc}
        if rec is not None:
            meeting["r"] = rec
        on_roll: dict[str, list] = {}
        for n, (member, (kind, a, b)) in enumerate(_meeting_entries(record)):
            if member not in off_roll:
                on_roll.setdefault(member, []).append([n, kind, a, b])
                continue
            key = P_TIMELINE + member.encode() + suffix + _be2(n)
            if sign < 0:
                w.delete(key)
            else:
                w.put(key, pack(_meeting_entry(meeting, date, n, kind, a, b)))
        key = P_MEETINGS + concerned_unit(w, record, facts).encode() + suffix
        if sign < 0:
            w.delete(key)
        elif on_roll:
            meeting["e"] = on_roll
            w.put(key, pack(meeting))


def entry_json(entry: dict) -> dict:
    """A stored entry as the API shows it: ``doc_id`` (and ``record_id``) as hex."""
    out = {k: v for k, v in entry.items() if k not in ("doc", "rec")}
    out["doc_id"] = entry["doc"].hex()
    if "rec" in entry:
        out["record_id"] = entry["rec"].hex()
    return out


def _own(r, member_id: str, after: bytes | None) -> Iterator[tuple[bytes, dict]]:
    prefix = name_key(P_TIMELINE, member_id)
    start = prefix if after is None else prefix + after + b"\0"
    for key, value in r.scan(prefix, start=start):
        yield key[len(prefix):], decode(value)


def _meetings(r, unit: str, member_id: str, since: int, after: bytes | None) -> Iterator[tuple[bytes, dict]]:
    """The member's entries in the meetings of `unit` from `since` (a roll member's)."""
    prefix = name_key(P_MEETINGS, unit)
    low = time_key(since)
    start = prefix + (low if after is None or after[:16] < low else after[:16])
    for key, value in r.scan(prefix, start=start):
        suffix16 = key[len(prefix):]
        meeting = decode(value)
        mine = meeting["e"].get(member_id)
        if mine is None:
            continue
        date = key_time(suffix16[:8])
        for n, kind, a, b in mine:
            suffix = suffix16 + _be2(n)
            if after is None or suffix > after:
                yield suffix, _meeting_entry(meeting, date, n, kind, a, b)


def member_timeline(r, member_id: str, *, cursor: str | None = None, limit: int = 100,
                    keep: Callable[[dict], bool] | None = None) -> dict:
    """``{entries, next_cursor}``: the member's timeline from the start (or `cursor`) on; with
    `keep`, only the entries (as served) it accepts: a caller's scope."""
    after = cursor_after(cursor, _WIDTH)
    result = page_of(member_entries(r, member_id, after), after=after, limit=limit,
                     keep=None if keep is None else (lambda _, entry: keep(entry_json(entry))))
    return {"entries": [entry_json(e) for _, e in result.items], "next_cursor": result.next_cursor}


def member_entries(r, member_id: str, after: bytes | None = None) -> Iterator[tuple[bytes, dict]]:
    """(sort suffix, stored entry) of every entry of the member's timeline after `after`, in
    order: their own keys merged with the meetings of every unit whose roll they were on (for a
    view that reads a timeline while applying, through its Writer)."""
    sources = [_own(r, member_id, after)]
    sources += [_meetings(r, unit, member_id, since, after) for unit, since in sorted(active_units(r, member_id).items())]
    return heapq.merge(*sources, key=_suffix_of)


def _suffix_of(item: tuple[bytes, dict]) -> bytes:
    return item[0]
