"""What every view agrees on about a record: its date, the unit it concerns, its summary.

Written once here so that stats, lists and timelines put a record in the
same month and the same unit:

- **the record's own date** (:func:`record_date`): ``held_at`` of minutes,
  ``adopted_at`` of a resolution, ``effective_at`` of a status change,
  ``completed_at`` (else ``started_at``) of a profile entry, else the
  document's ``created_at``. A confidential body (only a commitment on the
  ledger) is dated by ``created_at``. Times are clamped to
  ``ledger.timefmt.MIN_MS..MAX_MS``.
- **the unit a record concerns** (:func:`concerned_unit`, kept as the fact
  ``unit`` so that a correction keeps it): a status change, the member's unit
  before the change (``admitted``: ``doc.org``, the new member's unit); a
  finding, its subject unit, or the unit of its subject member when it was
  recorded; a profile entry, the member's unit then; anything else,
  ``doc.org``. A unit's figures and its document list count exactly the
  records that concern it.
- **amendable types** (:data:`AMENDABLE`): the views keep a current version
  for these; an ``amendment`` of anything else changes nothing in the views.
"""

from __future__ import annotations

from typing import Any

from ledger.schemas import AMENDABLE as _AMENDABLE_TYPES

from .keys import clamp
from .projection import Facts, Record

__all__ = ["AMENDABLE", "record_date", "concerned_unit", "summary", "is_confidential", "carried_facts",
           "members_named"]

AMENDABLE = frozenset(_AMENDABLE_TYPES)  # ledger/schemas.py: the types an amendment may correct

_DATE_FIELDS = {
    "minutes": ("held_at",),
    "resolution": ("adopted_at",),
    "member_status": ("effective_at",),
    "profile_entry": ("completed_at", "started_at"),
}

# The facts a new version inherits from the one it replaces (the rest are computed afresh).
_CARRIED = ("unit",)


def is_confidential(record: Record) -> bool:
    return record.body.get("confidential") is True


def record_date(record: Record) -> int:
    if not is_confidential(record):
        for name in _DATE_FIELDS.get(record.type, ()):
            value = record.body.get(name)
            if type(value) is int:
                return clamp(value, record.created_at)
    return clamp(record.created_at, 0)


def concerned_unit(w, record: Record, facts: Facts) -> str:
    """The unit `record` concerns (module docstring), fixed when first counted."""
    return facts.get("unit", lambda: _concerned_unit(w, record))


def _concerned_unit(w, record: Record) -> str:
    from .members import member_unit

    body = record.body
    if is_confidential(record):
        return record.org
    if record.type == "member_status" and body.get("change") != "admitted":
        return member_unit(w, body.get("member")) or record.org
    if record.type == "profile_entry":
        return member_unit(w, body.get("member")) or record.org
    if record.type == "inspection_finding":
        subject = body.get("subject")
        if isinstance(subject, dict):
            if isinstance(subject.get("unit"), str):
                return subject["unit"]
            return member_unit(w, subject.get("member")) or record.org
    return record.org


def carried_facts(facts: dict) -> dict:
    return {name: facts[name] for name in _CARRIED if name in facts}


def summary(record: Record) -> dict:
    """The few fields a list shows for a record (no text, no attendees)."""
    body = record.body
    if is_confidential(record):
        return {"confidential": True}
    return {name: body[name] for name in _SUMMARY_FIELDS.get(record.type, ()) if name in body}


_SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "minutes": ("meeting_id", "kind", "held_at"),
    "resolution": ("number", "title", "adopted_at"),
    "member_status": ("member", "change", "effective_at", "to_org"),
    "inspection_finding": ("inspection_id", "severity", "subject"),
    "profile_entry": ("member", "kind", "title"),
    "org_unit": ("action", "path", "name"),
    "role": ("action", "member", "role", "unit"),
    "member_key": ("action", "member"),
    "node": ("action", "node_id", "role"),
}


def members_named(record: Record) -> dict[str, str]:
    """Member id -> how `record` involves them (signer, subject, owner, chair, secretary),
    for a member's document list. Attendees are in the member's timeline instead."""
    out: dict[str, str] = {}

    def add(member: Any, how: str) -> None:
        if isinstance(member, str) and member not in out:
            out[member] = how

    body = record.body
    if not is_confidential(record):
        add(body.get("member"), "subject")
        subject = body.get("subject")
        if isinstance(subject, dict):
            add(subject.get("member"), "subject")
        if record.type == "minutes":
            add(body.get("chair"), "chair")
            add(body.get("secretary"), "secretary")
        for task in body.get("tasks") or ():
            if isinstance(task, dict):
                add(task.get("owner"), "task_owner")
    for signer in record.signers:
        add(signer, "signer")
    return out
