"""Body schemas of every document type, as data.

Kept apart from the checking code (ledger/documents.py) so the shapes can be
read in one place -- by people, by the README and by tests. A schema is an
``Obj``: its fields, each with a spec and whether it is required. Specs:

- ``"str"`` any string, ``"name"`` a non-empty string,
- ``"member"`` a member id, ``"path"`` an org path, ``"doc_id"`` 64 lowercase hex,
- ``"time"`` unix milliseconds, signed (dates before 1970 are real), within years
  0001..9999 (``ledger.timefmt.MIN_MS .. MAX_MS``); ``"count"`` an int >= 0; ``"bool"``,
- ``"key32"`` exactly 32 bytes, ``"any_map"`` any canonical map,
- ``Enum(values)``, ``ListOf(spec)``, ``Obj(fields)``, ``Nullable(spec)``.

Unknown fields are rejected (and named). Rules that tie fields together
(a tally's sum, ``to_org`` iff a transfer, per-action fields) live in
ledger/documents.py next to the code that checks them.

Times are integers (unix ms): the canonical encoding has no floats and no
date type.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Enum", "ListOf", "Obj", "Nullable", "BODY_SCHEMAS", "CONFIDENTIAL_SCHEMA", "CONFIDENTIAL_TYPES",
    "MEMBER_CHANGES", "ROLES", "SEVERITIES", "MEETING_KINDS", "MEETING_MODES", "NODE_ROLES",
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
SEVERITIES = ("info", "minor", "major", "critical")
ROLES = ("secretary", "deputy_secretary", "chair", "inspector", "committee_member")
NODE_ROLES = ("voter", "learner")

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
                          "abstain": ("count", R)})), R),
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

BODY_SCHEMAS = {
    "minutes": MINUTES,
    "resolution": RESOLUTION,
    "member_status": MEMBER_STATUS,
    "inspection_finding": INSPECTION_FINDING,
    "org_unit": ORG_UNIT,
    "role": ROLE,
    "member_key": MEMBER_KEY,
    "node": NODE,
}

CONFIDENTIAL_TYPES = frozenset({"minutes", "resolution", "inspection_finding"})
CONFIDENTIAL_SCHEMA = Obj({
    "confidential": ("bool", R),  # must be true
    "commitment": ("key32", R),   # salted sha256 of the sealed body
    "recipients": (ListOf("member"), R),
    "meta": ("any_map", R),
})
