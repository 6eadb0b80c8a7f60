"""Body schemas of every document type, as data.

Kept apart from the checking code (ledger/documents.py) so the shapes can be
read in one place -- by people, by the README and by tests. A schema is an
``Obj``: its fields, each with a spec and whether it is required. Specs:

- ``"str"`` any string, ``"name"`` a non-empty string,
- ``"member"`` a member id, ``"path"`` an org path, ``"doc_id"`` 64 lowercase hex,
- ``"time"`` unix milliseconds, a signed int within ``ledger.timefmt.MIN_MS ..
  MAX_MS`` (years 0001 to 9999, so dates before 1970 are fine),
- ``"count"`` an int ``0 .. MAX_COUNT``, ``"bool"``,
- ``"key32"`` exactly 32 bytes, ``"any_map"`` any canonical map,
- ``Enum(values)``, ``ListOf(spec)``, ``Obj(fields)``, ``Nullable(spec)``.

Unknown fields are rejected (and named). Rules that tie fields together
(a tally's sum, ``to_org`` iff a transfer, per-action fields) live in
ledger/documents.py next to the code that checks them.

Times are integers (unix ms): the canonical encoding has no floats and no
date type. People type them as ISO 8601 (``ledger/timefmt.py`` reads and
writes them; ``client/docinput.py`` turns the time fields of a body, found
through these schemas, into unix ms).

Besides the shapes, this module holds the facts about types that other
modules act on, as data:

- :data:`RECORD_KEYS`: the identity of a real-world act. One record per act:
  the registry accepts one document per key (``"org"`` is ``doc.org``, other
  names are body fields), and refuses a second with ``duplicate_record``.
- :data:`AMENDABLE` and :data:`KEPT_ON_AMEND`: which types an ``amendment``
  may replace or withdraw, and which fields a replacement must keep (its
  record key, and these).
- :data:`REF_FIELDS`: types whose ``doc.refs`` must be exactly
  ``[body[field]]`` (the document they answer or correct), so the
  ``referenced_by`` index finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Enum", "ListOf", "Obj", "Nullable", "BODY_SCHEMAS", "CONFIDENTIAL_SCHEMA", "CONFIDENTIAL_TYPES",
    "MEMBER_CHANGES", "ROLES", "SEVERITIES", "MEETING_KINDS", "MEETING_MODES", "NODE_ROLES", "MAX_COUNT",
    "PROFILE_KINDS", "AMENDMENT_ACTIONS", "DIRECTIVE_SCOPES", "TASK_STATUSES", "POLL_ELIGIBLE",
    "RECORD_KEYS", "AMENDABLE", "KEPT_ON_AMEND", "REF_FIELDS", "MEMBER_STATUSES", "ACTIVE_STATUSES",
]


@dataclass(frozen=True, slots=True)
class Enum:
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    item: object


@dataclass(frozen=True, slots=True)
class Nullable:
    spec: object


@dataclass(frozen=True, slots=True)
class Obj:
    fields: dict  # name -> (spec, required: bool)


MEETING_KINDS = ("regular", "thematic", "extraordinary")
MEETING_MODES = ("in_person", "online", "hybrid")
MEMBER_CHANGES = (
    "admitted", "made_full", "transferred", "award", "warning", "reprimand",
    "dismissal", "expelled", "suspended", "reinstated", "resigned", "deceased",
)
MEMBER_STATUSES = ("probationary", "full", "suspended", "expelled", "resigned", "deceased")
ACTIVE_STATUSES = frozenset({"probationary", "full"})  # who may sign, vote and hold roles
SEVERITIES = ("info", "minor", "major", "critical")
ROLES = ("secretary", "deputy_secretary", "chair", "inspector", "committee_member")
NODE_ROLES = ("voter", "learner")
PROFILE_KINDS = ("training", "education", "political_theory", "professional", "language", "other")
AMENDMENT_ACTIONS = ("amend", "withdraw")
DIRECTIVE_SCOPES = ("subtree", "level", "units")
TASK_STATUSES = ("in_progress", "done", "blocked")
POLL_ELIGIBLE = ("active", "full")  # active: probationary and full members; full: full members only
MAX_COUNT = 2**32 - 1  # a head count; sums over any number of documents stay far below 2^64

R, O = True, False  # required, optional

MINUTES = Obj({
    "meeting_id": ("name", R),
    "kind": (Enum(MEETING_KINDS), R),
    "held_at": ("time", R),
    "scheduled_for": (Nullable("time"), O),
    "mode": (Enum(MEETING_MODES), R),
    "chair": ("member", R),
    "secretary": ("member", R),
    "attendees": (ListOf(Obj({"member": ("member", R), "present": ("bool", R), "reason": ("str", O)})), R),
    "agenda": (ListOf("str"), R),
    "opinions": (ListOf(Obj({"member": ("member", R), "topic": ("str", R), "summary": ("str", R)})), R),
    "votes": (ListOf(Obj({"motion": ("str", R), "for": ("count", R), "against": ("count", R),
                          "abstain": ("count", R),
                          "poll": ("doc_id", O)})), R),  # a closed poll: its tally must be these counts
    "decisions": (ListOf("str"), R),
    "text": ("str", R),
})

RESOLUTION = Obj({
    "number": ("name", R),
    "title": ("name", R),
    "text": ("str", R),
    "adopted_at": ("time", R),
    "minutes": (Nullable("doc_id"), O),
    "tally": (Obj({"for": ("count", R), "against": ("count", R), "abstain": ("count", R),
                   "eligible": ("count", R)}), R),
    "tasks": (ListOf(Obj({"owner": ("member", R), "due": ("time", R), "description": ("str", R)})), R),
})

MEMBER_STATUS = Obj({
    "member": ("member", R),
    "change": (Enum(MEMBER_CHANGES), R),
    "effective_at": ("time", R),
    "reason": ("str", R),
    "to_org": ("path", O),       # required iff change == transferred
    "public_key": ("key32", O),  # only with change == admitted
    "name": ("str", O),
})

INSPECTION_FINDING = Obj({
    "inspection_id": ("name", R),
    "subject": (Obj({"unit": ("path", O), "member": ("member", O)}), R),  # exactly one of them
    "finding": ("str", R),
    "severity": (Enum(SEVERITIES), R),
    "recommendations": (ListOf("str"), R),
})

ORG_UNIT = Obj({
    "action": (Enum(("create", "close")), R),
    "path": ("path", R),
    "name": ("name", O),  # required for create
    "kind": ("name", O),  # required for create
})

ROLE = Obj({
    "action": (Enum(("grant", "revoke")), R),
    "member": ("member", R),
    "role": (Enum(ROLES), R),
    "unit": ("path", R),
})

MEMBER_KEY = Obj({
    "action": (Enum(("add", "revoke")), R),
    "member": ("member", R),
    "public_key": ("key32", R),
})

NODE = Obj({
    "action": (Enum(("add", "remove")), R),
    "node_id": ("member", R),
    "public_key": ("key32", O),  # add: required
    "peer_addr": ("name", O),    # add: required
    "role": (Enum(NODE_ROLES), O),  # add: required
})

PROFILE_ENTRY = Obj({
    "member": ("member", R),
    "kind": (Enum(PROFILE_KINDS), R),
    "title": ("name", R),           # "Trung cấp lý luận chính trị", "IELTS 6.5", ...
    "institution": ("str", O),
    "started_at": ("time", O),
    "completed_at": ("time", O),    # not before started_at
    "result": ("str", O),           # grade, certificate number, ...
    "note": ("str", O),
})

AMENDMENT = Obj({
    "target": ("doc_id", R),        # the original record (never an amendment); doc.refs == [target]
    "action": (Enum(AMENDMENT_ACTIONS), R),
    "reason": ("name", R),
    "body": ("any_map", O),         # amend: required, a full replacement body of the original's type
})

DIRECTIVE = Obj({
    "number": ("name", R),          # "05-CT/TU"
    "title": ("name", R),
    "text": ("str", R),
    "issued_at": ("time", R),
    "addressed": (Obj({
        "scope": (Enum(DIRECTIVE_SCOPES), R),
        "kind": ("name", O),        # scope level: the unit kind addressed ("cell", "committee", ...)
        "units": (ListOf("path"), O),  # scope units: the units addressed
    }), R),
    "ack_due": ("time", R),         # issued_at <= ack_due <= report_due
    "report_due": ("time", R),
})

DIRECTIVE_ACK = Obj({
    "directive": ("doc_id", R),     # doc.refs == [directive]; doc.org is the acknowledging unit
    "note": ("str", O),
})

DIRECTIVE_REPORT = Obj({
    "directive": ("doc_id", R),     # doc.refs == [directive]; doc.org is the reporting unit
    "final": ("bool", R),           # progress reports (false) until one final report (true)
    "text": ("str", R),
})

TASK_REPORT = Obj({
    "resolution": ("doc_id", R),    # the original resolution; doc.refs == [resolution]
    "task": ("count", R),           # index into the resolution's (current) tasks
    "status": (Enum(TASK_STATUSES), R),
    "text": ("str", R),
})

POLL = Obj({
    "poll_id": ("name", R),
    "motion": ("name", R),
    "options": (ListOf("name"), R),  # at least two, distinct
    "closes_at": ("time", R),       # after the block that opens it
    "quorum": (Obj({"num": ("count", R), "den": ("count", R), "strict": ("bool", R)}), R),
    "eligible": (Enum(POLL_ELIGIBLE), R),  # which members of doc.org itself may vote
    "text": ("str", O),
})

BALLOT = Obj({
    "poll": ("doc_id", R),          # doc.refs == [poll]; the one signer is the voter
    "choice": ("name", R),          # one of the poll's options
})

POLL_CLOSE = Obj({
    "poll": ("doc_id", R),          # doc.refs == [poll]
    "note": ("str", O),
})

BODY_SCHEMAS = {
    "minutes": MINUTES,
    "resolution": RESOLUTION,
    "member_status": MEMBER_STATUS,
    "inspection_finding": INSPECTION_FINDING,
    "org_unit": ORG_UNIT,
    "role": ROLE,
    "member_key": MEMBER_KEY,
    "node": NODE,
    "profile_entry": PROFILE_ENTRY,
    "amendment": AMENDMENT,
    "directive": DIRECTIVE,
    "directive_ack": DIRECTIVE_ACK,
    "directive_report": DIRECTIVE_REPORT,
    "task_report": TASK_REPORT,
    "poll": POLL,
    "ballot": BALLOT,
    "poll_close": POLL_CLOSE,
}

# type -> the fields that identify the act ("org" is doc.org, other names body fields).
RECORD_KEYS = {
    "minutes": ("org", "meeting_id"),
    "resolution": ("org", "number"),
    "inspection_finding": ("inspection_id", "subject"),
    "directive": ("org", "number"),
    "poll": ("org", "poll_id"),
}
AMENDABLE = ("minutes", "resolution", "inspection_finding", "profile_entry", "directive")
# Fields a replacement body must keep besides its record key.
KEPT_ON_AMEND = {"profile_entry": ("member",), "directive": ("addressed",)}
REF_FIELDS = {"amendment": "target", "directive_ack": "directive", "directive_report": "directive",
              "task_report": "resolution", "ballot": "poll", "poll_close": "poll"}

CONFIDENTIAL_TYPES = frozenset({"minutes", "resolution", "inspection_finding"})
CONFIDENTIAL_SCHEMA = Obj({
    "confidential": ("bool", R),  # must be true
    "commitment": ("key32", R),   # salted sha256 of the sealed body
    "recipients": (ListOf("member"), R),
    "meta": ("any_map", R),
})
