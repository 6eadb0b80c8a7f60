"""Who may read what: scopes by role and unit, as data (README "Who reads what").

Theory of operation
-------------------
Every request has a caller (node/auth.py): nobody (the public), a member
(by an RFC 9421 signature or a page session) or a node (by its node key).
:func:`scope_for` turns the caller into a :class:`Scope` from the registry
at this moment: the member's own id and unit, and for each role the member
holds, the unit whose **subtree** it reaches and the **classes** of records
it reads there (:data:`ROLE_READS`). Every route then asks the scope one of
a few questions -- :meth:`Scope.reads` (a unit and a class),
:func:`can_read_document`, :func:`can_read_member` -- and answers 403
``out_of_scope`` (naming the scope) or filters its answer; it never pads an
answer with other units' data.

Two classes of records:

- ``records``: minutes, resolutions, units, roles, keys, member profiles and
  their non-disciplinary status changes, meeting statistics, and the
  metadata of confidential documents (their bodies are only a commitment;
  the sealed bodies go to their recipients alone, node/routes/documents.py);
- ``sensitive``: inspection findings and disciplinary status changes
  (:data:`DISCIPLINE`).

The table (the same as README's):

| caller | reads |
|---|---|
| the public (no key) | integrity without content: tree heads, checkpoints, consistency proofs, inclusion proofs by leaf hash, blocks (ids and statuses; rejection reasons cut to their code), health, status; and the document types a deployment opens (``access.public_types``) |
| any active member | their own profile (with their own discipline), the documents about them (not findings), and their own unit's non-confidential records |
| secretary, deputy_secretary, chair, committee_member of U | ``records`` of U and every unit below it |
| inspector of U | ``records`` and ``sensitive`` of U and every unit below it |
| a recipient of a confidential document | that document (metadata) and their own sealed box of it |
| a node key (operator, auditor) | everything; block envelopes; metrics |

An inspector of the root unit reads every record of both classes, so it may
also fetch block envelopes (``minutebook audit --key``); sealed bodies stay
with their recipients whoever asks. A document concerns the units in
:func:`concerns` (its ``org``, and the unit of the member or subject it is
about); a scope that reaches any of them reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ledger.schemas import ROLES

__all__ = [
    "RECORDS", "SENSITIVE", "DISCIPLINE", "ROLE_READS", "Scope", "scope_for", "record_class", "concerns",
    "can_read_document", "can_read_member", "filter_history", "timeline_visible", "timeline_withheld", "redact_stats",
    "redact_block",
    "is_under",
]

RECORDS = "records"
SENSITIVE = "sensitive"
# Status changes that are discipline (or undo it): read with findings, by inspectors.
DISCIPLINE = frozenset({"warning", "reprimand", "dismissal", "expelled", "suspended", "reinstated"})

# role -> the classes it reads in the subtree of the unit where it is held.
ROLE_READS: dict[str, frozenset[str]] = {
    "secretary": frozenset({RECORDS}),
    "deputy_secretary": frozenset({RECORDS}),
    "chair": frozenset({RECORDS}),
    "committee_member": frozenset({RECORDS}),
    "inspector": frozenset({RECORDS, SENSITIVE}),
}
assert set(ROLE_READS) == set(ROLES), "every role has a row in the scope table"


def is_under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


@dataclass(frozen=True, slots=True)
class Scope:
    """What one caller reads (module doc). ``reach`` is ((unit, classes), ...)
    sorted by unit; ``everything`` is a node key's."""

    who: str  # "the public", "member m0012", "node n1"
    member: str | None = None
    own_unit: str | None = None
    reach: tuple[tuple[str, frozenset], ...] = ()
    everything: bool = False
    root: str = ""
    public_types: frozenset = field(default_factory=frozenset)

    @property
    def authenticated(self) -> bool:
        return self.member is not None or self.everything

    def reads(self, unit: str, cls: str = RECORDS) -> bool:
        """Whether the scope reads records of class `cls` of `unit`."""
        if self.everything:
            return True
        return any(cls in classes and is_under(unit, top) for top, classes in self.reach)

    @property
    def reads_all(self) -> bool:
        """Every record of both classes: a node key, or an inspector of the root."""
        return self.everything or (bool(self.root) and self.reads(self.root, RECORDS)
                                   and self.reads(self.root, SENSITIVE))

    @property
    def home(self) -> str | None:
        """Where the web pages start for this caller: the root for a scope that reads everything,
        else the highest unit its roles reach, else its own unit; None for the public."""
        if self.everything:
            return self.root or None
        if self.reach:
            return min((unit for unit, _ in self.reach), key=lambda u: (u.count("/"), u))
        return self.own_unit

    def describe(self) -> str:
        if self.everything:
            return f"{self.who}: everything"
        if self.member is None:
            extra = f"; documents of type {', '.join(sorted(self.public_types))}" if self.public_types else ""
            return f"{self.who}: integrity proofs, blocks, health and status{extra}"
        parts = [f"own profile and the records of {self.own_unit}"]
        for unit, classes in self.reach:
            what = "records and findings/discipline" if SENSITIVE in classes else "records"
            parts.append(f"{what} of {unit} and below")
        return f"{self.who}: " + "; ".join(parts)


def scope_for(caller: Any, registry: Any, public_types: Iterable[str] = ()) -> Scope:
    """The scope of `caller` (node/auth.py's Caller, or None for the public) now."""
    public = frozenset(public_types)
    if caller is None:
        return Scope(who="the public", public_types=public)
    root = registry.root()
    if caller.kind == "node":
        return Scope(who=f"node {caller.id}", everything=True, root=root, public_types=public)
    member = registry.member(caller.id) or {}
    reach: dict[str, set] = {}
    for held in member.get("roles", []):
        reach.setdefault(held["unit"], set()).update(ROLE_READS.get(held["role"], ()))
    return Scope(who=f"member {caller.id}", member=caller.id, own_unit=member.get("unit"),
                 reach=tuple((unit, frozenset(classes)) for unit, classes in sorted(reach.items())),
                 root=root, public_types=public)


# -- documents -------------------------------------------------------------------


def record_class(doc: dict) -> str:
    """``sensitive`` for findings and disciplinary status changes, else ``records``."""
    kind = doc.get("type")
    body = doc.get("body") if isinstance(doc.get("body"), dict) else {}
    if kind == "inspection_finding" or (kind == "member_status" and body.get("change") in DISCIPLINE):
        return SENSITIVE
    return RECORDS


def _unit_of(registry: Any, member_id: Any) -> str | None:
    if not isinstance(member_id, str):
        return None
    member = registry.member(member_id)
    return member.get("unit") if member else None


def concerns(doc: dict, registry: Any) -> tuple[tuple[str, ...], str | None]:
    """The units a document concerns and the member it is about (if any):
    its ``org``; for a status change, key or role, the member's unit (and a
    transfer's ``to_org``, a role's ``unit``); for a finding, its subject's
    unit; for a unit document, that unit."""
    body = doc.get("body") if isinstance(doc.get("body"), dict) else {}
    units = [str(doc.get("org", ""))]
    subject = None
    kind = doc.get("type")
    if kind in ("member_status", "member_key", "role"):
        subject = body.get("member") if isinstance(body.get("member"), str) else None
        units.append(_unit_of(registry, subject) or "")
        for key in ("to_org", "unit"):
            if isinstance(body.get(key), str):
                units.append(body[key])
    elif kind == "inspection_finding":
        about = body.get("subject") if isinstance(body.get("subject"), dict) else {}
        if isinstance(about.get("unit"), str):
            units.append(about["unit"])
        if isinstance(about.get("member"), str):
            subject = about["member"]
            units.append(_unit_of(registry, subject) or "")
    elif kind == "org_unit" and isinstance(body.get("path"), str):
        units.append(body["path"])
    return tuple(u for u in dict.fromkeys(units) if u), subject


def can_read_document(scope: Scope, doc: dict, registry: Any) -> bool:
    """Whether `scope` reads the document `doc` (its decoded ``doc`` object)."""
    if scope.everything:
        return True
    body = doc.get("body") if isinstance(doc.get("body"), dict) else {}
    confidential = body.get("confidential") is True
    cls = record_class(doc)
    if confidential and scope.member is not None and scope.member in (body.get("recipients") or []):
        return True
    if not confidential and cls == RECORDS and doc.get("type") in scope.public_types:
        return True
    if scope.member is None:
        return False
    units, subject = concerns(doc, registry)
    if any(scope.reads(unit, cls) for unit in units):
        return True
    if subject == scope.member and doc.get("type") != "inspection_finding":
        return True  # the member's own records, their own discipline included
    return cls == RECORDS and not confidential and scope.own_unit in units


# -- members, stats, blocks -------------------------------------------------------------


def can_read_member(scope: Scope, member_id: str, unit: str | None) -> bool:
    """A profile: the member themself, or a scope reaching the member's unit."""
    return scope.everything or member_id == scope.member or (unit is not None and scope.reads(unit, RECORDS))


def filter_history(scope: Scope, member_id: str, unit: str | None, history: list[dict]) -> list[dict]:
    """A profile's status history without the discipline the scope may not read."""
    if scope.everything or member_id == scope.member:
        return history
    return [h for h in history
            if h.get("change") not in DISCIPLINE
            or any(scope.reads(u, SENSITIVE) for u in (unit, h.get("org")) if isinstance(u, str))]


def timeline_visible(scope: Scope, member_id: str, unit: str | None, entry: dict) -> bool:
    """Whether `scope` (already reading the profile of `member_id`) sees a timeline entry
    (views/timeline.py): findings and disciplinary status changes need ``sensitive`` at the
    member's unit or the entry's, except the member's own discipline (not findings)."""
    if scope.everything:
        return True
    kind = entry.get("kind")
    if kind not in ("status", "finding") or (kind == "status" and entry.get("change") not in DISCIPLINE):
        return True
    if kind == "status" and member_id == scope.member:
        return True
    return any(scope.reads(u, SENSITIVE) for u in (unit, entry.get("org")) if isinstance(u, str))


def timeline_withheld(scope: Scope, member_id: str, unit: str | None) -> list[str]:
    """What `scope` does not see of `member_id`'s timeline: [] (all of it), or some of
    ``discipline`` and ``findings`` (named in the answer's ``withheld``)."""
    if scope.everything or (unit is not None and scope.reads(unit, SENSITIVE)):
        return []
    return ["findings"] if member_id == scope.member else ["discipline", "findings"]


def redact_stats(scope: Scope, path: str, stats: dict) -> dict:
    """Statistics without findings and discipline counts unless the scope reads
    ``sensitive`` at `path`; what was withheld is named in ``withheld``."""
    if scope.reads(path, SENSITIVE):
        return stats

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                if key == "inspection_findings":
                    continue
                if key == "member_status_changes" and isinstance(value, dict):
                    out[key] = {k: v for k, v in value.items() if k not in DISCIPLINE}
                else:
                    out[key] = strip(value)
            return out
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    out = strip(stats)
    out["withheld"] = ["inspection_findings", "member_status_changes of " + ", ".join(sorted(DISCIPLINE))]
    return out


def redact_block(scope: Scope, block: dict) -> dict:
    """A Block object as `scope` may see it: rejection reasons name members,
    units and field values, so unless the scope reads everything a reason is
    cut to its error code (the part before ``": "``). Ids, statuses, the header
    and the certificate are unchanged (module doc)."""
    if scope.reads_all or not any("reason" in d for d in block.get("documents", ())):
        return block
    documents = [dict(d, reason=d["reason"].split(":", 1)[0]) if "reason" in d else d for d in block["documents"]]
    return dict(block, documents=documents)
