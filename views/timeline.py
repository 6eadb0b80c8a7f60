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

Keys::

    w/tl/<member>\\0<t8><be8 leaf><be2 n>   canonical entry (``doc`` and ``rec`` as 32 raw bytes);
                                            n numbers a record's entries for one member
"""

from __future__ import annotations

import struct
from typing import Callable

from ledger.genesis import Genesis

from .keys import name_key, time_key, be8
from .paging import page
from .projection import Facts, Record, Writer
from .records import is_confidential, record_date

__all__ = ["TimelineView", "member_timeline", "entry_json"]

P_TIMELINE = b"w/tl/"
_be2 = struct.Struct(">H").pack
_WIDTH = 18


def _entries(record: Record) -> list[tuple[str, dict]]:
    """(member, entry) pairs of `record`, in a fixed order."""
    body = record.body
    if is_confidential(record):
        return []
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
    elif record.type == "minutes":
        common = {"org": record.org, "meeting_id": body.get("meeting_id")}
        for a in body.get("attendees") or ():
            if isinstance(a, dict) and isinstance(a.get("member"), str):
                entry = {"kind": "attendance", **common, "meeting_kind": body.get("kind"),
                         "present": a.get("present") is True}
                if isinstance(a.get("reason"), str):
                    entry["reason"] = a["reason"]
                out.append((a["member"], entry))
        for o in body.get("opinions") or ():
            if isinstance(o, dict) and isinstance(o.get("member"), str):
                out.append((o["member"], {"kind": "opinion", **common, "topic": o.get("topic"),
                                          "summary": o.get("summary")}))
    elif record.type == "inspection_finding":
        subject = body.get("subject")
        if isinstance(subject, dict) and isinstance(subject.get("member"), str):
            out.append((subject["member"], {"kind": "finding", "org": record.org,
                                            "inspection_id": body.get("inspection_id"),
                                            "severity": body.get("severity")}))
    return out


class TimelineView:
    name = "timeline"
    version = 1

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        entries = _entries(record)
        if not entries:
            return
        date = record_date(record)
        suffix = time_key(date) + be8(record.leaf)
        doc = bytes.fromhex(record.doc_id)
        for n, (member, entry) in enumerate(entries):
            key = name_key(P_TIMELINE, member) + suffix + _be2(n)
            if sign < 0:
                w.delete(key)
                continue
            entry = dict(entry, date=date, doc=doc)
            if record.record_id != record.doc_id:
                entry["rec"] = bytes.fromhex(record.record_id)
            w.put_obj(key, entry)


def entry_json(entry: dict) -> dict:
    """A stored entry as the API shows it: ``doc_id`` (and ``record_id``) as hex."""
    out = {k: v for k, v in entry.items() if k not in ("doc", "rec")}
    out["doc_id"] = entry["doc"].hex()
    if "rec" in entry:
        out["record_id"] = entry["rec"].hex()
    return out


def member_timeline(r, member_id: str, *, cursor: str | None = None, limit: int = 100,
                    keep: Callable[[dict], bool] | None = None) -> dict:
    """``{entries, next_cursor}``: the member's timeline from the start (or `cursor`) on; with
    `keep`, only the entries (as served) it accepts: a caller's scope."""
    result = page(r, name_key(P_TIMELINE, member_id), width=_WIDTH, cursor=cursor, limit=limit,
                  keep=None if keep is None else (lambda _, entry: keep(entry_json(entry))))
    return {"entries": [entry_json(e) for _, e in result.items], "next_cursor": result.next_cursor}
