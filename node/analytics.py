"""Read-side views for the API: a member's history, an org unit, and meeting
analytics rolled up the hierarchy (DESIGN.md "What users should be able to see").

Everything here reads the ledger's indexes (``Ledger.documents_by``) and the
registry; nothing is stored, so every node answers the same from the same
blocks. Definitions, so that a committee office can read the numbers:

- **meetings held**: accepted ``minutes`` whose ``held_at`` falls in
  [since, until]. A meeting is **on schedule** when it was held no later than
  ``SCHEDULE_GRACE_MS`` after its ``scheduled_for``, **late** otherwise;
  minutes without ``scheduled_for`` count as **unscheduled**.
- **overdue units**: units in the subtree with no *regular* meeting held in
  the ``OVERDUE_AFTER_MS`` before ``until`` (closed units are skipped).
- **attendance rate**: attendees marked present / attendees listed.
- **opinions per meeting**: opinions recorded / meetings held.
- **vote participation**: (for + against + abstain) / attendees present, summed
  over every vote of every meeting.
- **inspection findings by severity**: findings whose subject unit (or the
  unit of the member they concern, else their ``org``) lies in the subtree.
- **member status changes**: ``member_status`` documents by change, for
  members whose unit at the time (the document's ``org``) lies in the subtree.

Each number is computed per unit and summed up the tree, so a parent's totals
are the sum of its own documents and its children's totals.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable

from ledger.errors import InvalidInput, NotFound

__all__ = ["member_history", "org_view", "org_stats", "SCHEDULE_GRACE_MS", "OVERDUE_AFTER_MS"]

DAY_MS = 86_400_000
SCHEDULE_GRACE_MS = 7 * DAY_MS
OVERDUE_AFTER_MS = 31 * DAY_MS
DEFAULT_PERIOD_MS = 183 * DAY_MS
MAX_UNITS = 20_000  # a stats request over more units than this is refused (ask for a lower unit)
SEVERITIES = ("info", "minor", "major", "critical")


def _registry(ledger: Any) -> Any:
    from ledger.registry import Registry

    return Registry(ledger.store)


def _path_of(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("path") or item.get("unit") or "")
    return str(item)


def _check_path(path: str) -> str:
    path = path.strip("/")
    if not path:
        raise InvalidInput("path", "expected an org unit path, e.g. 'central/p1/c1'")
    return path


def _in_subtree(org: str, root: str) -> bool:
    return org == root or org.startswith(root + "/")


# -- members -----------------------------------------------------------------


def member_history(ledger: Any, member_id: str) -> dict:
    """``{member, history: [status change…], documents: n}``; NotFound if unknown."""
    registry = _registry(ledger)
    profile = registry.member(member_id)
    if profile is None:
        raise NotFound(f"member {member_id!r}")
    history = []
    documents = 0
    for item in ledger.documents_by("member", member_id, limit=None):
        documents += 1
        doc = item["doc"]
        body = doc.get("body") or {}
        if doc.get("type") != "member_status" or body.get("member") != member_id:
            continue
        entry = {
            "doc_id": item["doc_id"],
            "height": item["height"],
            "change": body.get("change"),
            "effective_at": body.get("effective_at"),
            "org": doc.get("org"),
            "reason": body.get("reason"),
        }
        if body.get("to_org"):
            entry["to_org"] = body["to_org"]
        history.append(entry)
    history.sort(key=lambda e: (e["effective_at"] or 0, e["height"]))
    return {"member": _jsonable(profile), "history": history, "documents": documents}


# -- units -------------------------------------------------------------------


def _subtree(registry: Any, root: str) -> list[str]:
    """Paths of `root` and every unit below it, parents before children."""
    out = [root]
    i = 0
    while i < len(out):
        for child in registry.children(out[i]):
            out.append(_path_of(child))
            if len(out) > MAX_UNITS:
                raise InvalidInput("path", f"more than {MAX_UNITS} units below {root!r}; ask for a lower unit")
        i += 1
    return out


def org_view(ledger: Any, path: str) -> dict:
    """``{unit, children: [{path, name, kind}], members}``; NotFound if unknown."""
    path = _check_path(path)
    registry = _registry(ledger)
    unit = registry.unit(path)
    if unit is None:
        raise NotFound(f"org unit {path!r}")
    children = []
    for child in registry.children(path):
        child_path = _path_of(child)
        info = child if isinstance(child, dict) else (registry.unit(child_path) or {"path": child_path})
        children.append(_jsonable(info))
    return {"unit": _jsonable(unit), "children": children, "members": len(list(registry.members_of(path)))}


@dataclass
class _Tally:
    meetings: int = 0
    regular: int = 0
    on_schedule: int = 0
    late: int = 0
    unscheduled: int = 0
    present: int = 0
    listed: int = 0
    opinions: int = 0
    votes: int = 0
    ballots: int = 0
    voters_present: int = 0
    findings: dict = field(default_factory=lambda: {s: 0 for s in SEVERITIES})
    changes: dict = field(default_factory=dict)
    overdue_units: list = field(default_factory=list)
    units: int = 0

    def add(self, other: "_Tally") -> None:
        for name in ("meetings", "regular", "on_schedule", "late", "unscheduled", "present", "listed", "opinions",
                     "votes", "ballots", "voters_present", "units"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.findings.items():
            self.findings[k] = self.findings.get(k, 0) + v
        for k, v in other.changes.items():
            self.changes[k] = self.changes.get(k, 0) + v
        self.overdue_units.extend(other.overdue_units)

    def to_json(self) -> dict:
        return {
            "units": self.units,
            "meetings": {"held": self.meetings, "regular": self.regular, "on_schedule": self.on_schedule,
                         "late": self.late, "unscheduled": self.unscheduled},
            "overdue_units": sorted(self.overdue_units),
            "attendance": {"present": self.present, "listed": self.listed, "rate": _ratio(self.present, self.listed)},
            "opinions": {"total": self.opinions, "per_meeting": _ratio(self.opinions, self.meetings)},
            "votes": {"motions": self.votes, "ballots": self.ballots, "present": self.voters_present,
                      "participation": _ratio(self.ballots, self.voters_present)},
            "inspection_findings": dict(self.findings),
            "member_status_changes": dict(sorted(self.changes.items())),
        }


def _ratio(a: int, b: int) -> float | None:
    """Rounded to 4 places; None when there is nothing to divide by (JSON null, not NaN)."""
    return round(a / b, 4) if b else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _count_minutes(tally: _Tally, body: dict) -> None:
    tally.meetings += 1
    if body.get("kind") == "regular":
        tally.regular += 1
    held, scheduled = body.get("held_at"), body.get("scheduled_for")
    if isinstance(scheduled, int) and isinstance(held, int):
        if held <= scheduled + SCHEDULE_GRACE_MS:
            tally.on_schedule += 1
        else:
            tally.late += 1
    else:
        tally.unscheduled += 1
    attendees = body.get("attendees") or []
    present = sum(1 for a in attendees if isinstance(a, dict) and a.get("present") is True)
    tally.present += present
    tally.listed += len(attendees)
    tally.opinions += len(body.get("opinions") or [])
    for vote in body.get("votes") or []:
        if not isinstance(vote, dict):
            continue
        tally.votes += 1
        tally.ballots += _int(vote.get("for")) + _int(vote.get("against")) + _int(vote.get("abstain"))
        tally.voters_present += present


def _finding_unit(registry: Any, doc: dict) -> str:
    body = doc.get("body") or {}
    subject = body.get("subject")
    if isinstance(subject, dict):
        if isinstance(subject.get("unit"), str):
            return subject["unit"]
        if isinstance(subject.get("member"), str):
            member = registry.member(subject["member"]) or {}
            if isinstance(member.get("unit"), str):
                return member["unit"]
    if isinstance(subject, str):
        if registry.unit(subject) is not None:
            return subject
        member = registry.member(subject) or {}
        if isinstance(member.get("unit"), str):
            return member["unit"]
    for key in ("subject_unit", "unit"):
        if isinstance(body.get(key), str):
            return body[key]
    return str(doc.get("org", ""))


_CACHE_ENTRIES = 64
_cache: "weakref.WeakKeyDictionary[Any, OrderedDict]" = weakref.WeakKeyDictionary()


def org_stats(ledger: Any, path: str, *, since_ms: int | None = None, until_ms: int | None = None,
              now_ms: int | None = None) -> dict:
    """Meeting analytics for `path` and its subtree (module doc has the definitions).

    Answers are cached per ledger height (a default `until` is rounded down to
    the minute so that repeated requests share an entry)."""
    path = _check_path(path)
    if until_ms is None:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        until_ms = now - now % 60_000
    since = since_ms if since_ms is not None else until_ms - DEFAULT_PERIOD_MS
    if since > until_ms:
        raise InvalidInput("since", f"requires since <= until, got {since} > {until_ms}")
    key = (path, since, until_ms, ledger.height)
    try:
        entries = _cache.setdefault(ledger, OrderedDict())
    except TypeError:  # a ledger that cannot be weakly referenced: no cache
        entries = OrderedDict()
    if key in entries:
        entries.move_to_end(key)
        return entries[key]
    result = _compute_stats(ledger, path, since, until_ms)
    entries[key] = result
    while len(entries) > _CACHE_ENTRIES:
        entries.popitem(last=False)
    return result


def _compute_stats(ledger: Any, path: str, since: int, until: int) -> dict:
    registry = _registry(ledger)
    if registry.unit(path) is None:
        raise NotFound(f"org unit {path!r}")
    units = _subtree(registry, path)
    own: dict[str, _Tally] = {}
    for unit_path in units:
        tally = own[unit_path] = _Tally(units=1)
        info = registry.unit(unit_path) or {}
        last_regular = None
        for item in ledger.documents_by("unit", unit_path, limit=None):
            doc = item["doc"]
            body = doc.get("body") or {}
            kind = doc.get("type")
            if kind == "minutes":
                held = body.get("held_at")
                if isinstance(held, int) and body.get("kind") == "regular" and held <= until:
                    last_regular = held if last_regular is None else max(last_regular, held)
                if isinstance(held, int) and since <= held <= until:
                    _count_minutes(tally, body)
            elif kind == "member_status":
                at = body.get("effective_at")
                if isinstance(at, int) and since <= at <= until:
                    change = str(body.get("change"))
                    tally.changes[change] = tally.changes.get(change, 0) + 1
        open_unit = not (isinstance(info, dict) and (info.get("closed") or info.get("status") == "closed"))
        if open_unit and (last_regular is None or last_regular < until - OVERDUE_AFTER_MS):
            tally.overdue_units.append(unit_path)
    # Findings are filed by an ancestor unit about a subject below it: look at
    # every finding and keep those whose subject lies in the subtree.
    for item in ledger.documents_by("type", "inspection_finding", limit=None):
        doc = item["doc"]
        if not since <= _int(doc.get("created_at")) <= until:
            continue
        subject_unit = _finding_unit(registry, doc)
        target = _deepest_owner(subject_unit, own)
        if target is not None:
            severity = str((doc.get("body") or {}).get("severity", "info"))
            own[target].findings[severity] = own[target].findings.get(severity, 0) + 1
    # Roll up: children before parents (reverse of the breadth-first order).
    rolled: dict[str, _Tally] = {}
    for unit_path in reversed(units):
        total = _Tally(units=0)
        total.add(own[unit_path])
        for child in registry.children(unit_path):
            child_path = _path_of(child)
            if child_path in rolled:
                total.add(rolled[child_path])
        rolled[unit_path] = total
    info = registry.unit(path) or {}
    children = []
    for child in registry.children(path):
        child_path = _path_of(child)
        child_info = registry.unit(child_path) or {}
        children.append({"path": child_path, "name": child_info.get("name"), **rolled[child_path].to_json()})
    return {
        "unit": path,
        "name": info.get("name") if isinstance(info, dict) else None,
        "since": since,
        "until": until,
        "height": ledger.height,
        "definitions": {"schedule_grace_ms": SCHEDULE_GRACE_MS, "overdue_after_ms": OVERDUE_AFTER_MS},
        "own": own[path].to_json(),
        **rolled[path].to_json(),
        "children": children,
    }


def _deepest_owner(unit: str, own: dict) -> str | None:
    """The unit itself if in the subtree, else its nearest listed ancestor, else None."""
    candidate = unit
    while candidate:
        if candidate in own:
            return candidate
        candidate = candidate.rpartition("/")[0]
    return None


def _jsonable(value: Any) -> Any:
    from ledger.jsonfmt import b64e

    if isinstance(value, (bytes, bytearray)):
        return b64e(bytes(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items: Iterable = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    return value
