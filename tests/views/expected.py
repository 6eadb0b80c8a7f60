"""Figures counted straight from the raw accepted documents, by the definitions in
views/stats.py's docstring, written again here without the views' code: no keys, no
step functions, no counters; a plain replay in log order with lists and loops.

Used by the tests to check every figure the views serve.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ledger.timefmt import MIN_MS, month_of

GRACE = 7 * 86_400_000
OVERDUE = 31 * 86_400_000
ACTIVE = ("probationary", "full")
AMENDABLE = ("minutes", "resolution", "inspection_finding", "profile_entry")
SEVERITIES = ("info", "minor", "major", "critical")


def _date(doc) -> int:
    body = doc.body
    if body.get("confidential") is True:
        return doc.created_at
    name = {"minutes": "held_at", "resolution": "adopted_at", "member_status": "effective_at"}.get(doc.type)
    if doc.type == "profile_entry":
        name = "completed_at" if "completed_at" in body else "started_at" if "started_at" in body else None
    return body[name] if name and name in body else doc.created_at


@dataclass(frozen=True)
class _Doc:
    """An amendment's replacement, as a document of the original's type."""

    type: str
    org: str
    body: dict
    created_at: int


def _names(doc, signers: tuple) -> dict:
    """How a record names members (signer, subject, chair, secretary, task owner), first role wins."""
    out: dict = {}
    body = doc.body
    for member, how in ((body.get("member"), "subject"),
                        ((body.get("subject") or {}).get("member") if isinstance(body.get("subject"), dict) else None,
                         "subject"),
                        (body.get("chair") if doc.type == "minutes" else None, "chair"),
                        (body.get("secretary") if doc.type == "minutes" else None, "secretary"),
                        *((t.get("owner"), "task_owner") for t in body.get("tasks") or ()),
                        *((s, "signer") for s in signers)):
        if isinstance(member, str) and member not in out:
            out[member] = how
    return out


@dataclass
class Contribution:
    unit: str
    month: str
    counts: Counter
    date: int
    regular: bool = False


@dataclass
class Expected:
    """Replays `accepted` (tests/views/world.py's Accepted, in log order) over `genesis`."""

    genesis: dict
    accepted: list
    zone: str = "Asia/Ho_Chi_Minh"
    units: dict = field(default_factory=dict)        # path -> {opened, closed, name}
    state: dict = field(default_factory=dict)        # member -> (unit, status) now
    events: dict = field(default_factory=dict)       # member -> [(t, order, unit, status)]
    records: dict = field(default_factory=dict)      # record id -> Contribution (current version)
    entries: dict = field(default_factory=dict)      # record id -> [(member, (date, leaf, n, entry))]
    listed: dict = field(default_factory=dict)       # record id -> (unit, type, date, leaf, doc_id, names)
    versions: dict = field(default_factory=dict)     # record id -> (type, org, unit, leaf, created_at), amendable
    prior: dict = field(default_factory=dict)        # suspended member -> status to restore

    def __post_init__(self) -> None:
        for u in self.genesis["units"]:
            self.units[u["path"]] = {"opened": MIN_MS, "closed": None, "name": u["name"]}
        for m in self.genesis["members"]:
            self.state[m["member_id"]] = (m["unit"], m["status"])
            self.events[m["member_id"]] = [(MIN_MS, -1, m["unit"], m["status"])]
        for order, a in enumerate(self.accepted):
            self._one(order, a)

    # -- the organisation on a date --

    def on(self, member: str, t: int):
        """The member's (unit, status) on date t: the latest event at or before t."""
        events = [e for e in self.events.get(member, []) if e[0] <= t]
        if not events:
            return None
        t_, order, unit, status = max(events)
        return unit, status

    def roll(self, unit: str, t: int) -> list[str]:
        """The unit's active members on date t."""
        out = []
        for member in self.events:
            state = self.on(member, t)
            if state is not None and state[0] == unit and state[1] in ACTIVE:
                out.append(member)
        return sorted(out)

    def children_open(self, path: str) -> int:
        return sum(1 for p, u in self.units.items() if p.rpartition("/")[0] == path and u["closed"] is None)

    # -- the replay --

    def _one(self, order: int, a) -> None:
        doc = a.doc
        body = doc.body
        if doc.type == "org_unit" and body["action"] == "create":
            self.units[body["path"]] = {"opened": a.block_time, "closed": None, "name": body.get("name")}
        if doc.type == "amendment":
            self._amendment(a)
            return
        unit = doc.org
        if doc.type == "member_status":
            member, change = body["member"], body["change"]
            if change != "admitted":
                unit = self.state[member][0]
            self._status(order, member, change, body, doc.org)
        elif doc.type == "inspection_finding":
            subject = body["subject"]
            unit = subject["unit"] if "unit" in subject else self.state[subject["member"]][0]
        elif doc.type == "profile_entry":
            unit = self.state[body["member"]][0]
        if doc.type in AMENDABLE:
            self.versions[a.doc_id] = (doc.type, doc.org, unit, a.leaf, doc.created_at)
        self._count(a.doc_id, a.doc_id, doc, unit, a.leaf, a.signers)

    def _count(self, record_id: str, doc_id: str, doc, unit: str, leaf: int, signers: tuple) -> None:
        """Count one version of a record (the original, or an amendment's replacement in `doc`)."""
        body = doc.body
        counts = self._counts(doc, unit)
        date = _date(doc)
        if counts is not None:
            self.records[record_id] = Contribution(unit, month_of(date, self.zone), counts, date,
                                                   doc.type == "minutes" and body.get("kind") == "regular")
        extra = {} if record_id == doc_id else {"record_id": record_id}
        self.entries[record_id] = [(member, (date, leaf, n, dict(entry, date=date, doc_id=doc_id, **extra)))
                                   for n, (member, entry) in enumerate(self._entries(doc))]
        self.listed[record_id] = (unit, doc.type, date, leaf, doc_id, _names(doc, signers))

    def _amendment(self, a) -> None:
        body = a.doc.body
        target = body["target"]
        if target not in self.versions or target not in self.listed:
            return
        doc_type, org, unit, leaf, created_at = self.versions[target]
        for table in (self.records, self.entries, self.listed):
            table.pop(target, None)
        if body["action"] == "amend":
            replacement = _Doc(doc_type, org, body["body"], created_at)
            self._count(target, a.doc_id, replacement, unit, leaf, a.signers)

    def timeline(self, member: str) -> list[dict]:
        mine = [item for entries in self.entries.values() for m, item in entries if m == member]
        return [entry for *_, entry in sorted(mine, key=lambda x: x[:3])]

    def _status(self, order: int, member: str, change: str, body: dict, org: str) -> None:
        before = self.state.get(member)
        if change == "admitted":
            after = (org, "probationary")
        else:
            unit, status = before
            after = {"made_full": (unit, "full"), "transferred": (body.get("to_org"), status),
                     "suspended": (unit, "suspended"), "expelled": (unit, "expelled"),
                     "resigned": (unit, "resigned"), "deceased": (unit, "deceased")}.get(change, before)
            if change == "suspended":
                self.prior[member] = status
            if change == "reinstated":
                after = (unit, self.prior.pop(member, "full"))
        self.state[member] = after
        if after != before:
            self.events.setdefault(member, []).append((body["effective_at"], order, after[0], after[1]))

    def _counts(self, doc, unit: str) -> Counter | None:
        body = doc.body
        c = Counter()
        if doc.type == "minutes":
            held = body["held_at"]
            roll = self.roll(unit, held)
            attendees = body["attendees"]
            c["held"] += 1
            c[body["kind"]] += 1
            if body.get("scheduled_for") is None:
                c["unscheduled"] += 1
            elif held <= body["scheduled_for"] + GRACE:
                c["on_time"] += 1
            else:
                c["late"] += 1
            on_roll = [x for x in attendees if x["member"] in roll]
            c["roll"] += len(roll)
            c["roll_present"] += sum(1 for x in on_roll if x["present"])
            c["listed"] += len(attendees)
            c["listed_present"] += sum(1 for x in attendees if x["present"])
            left_out = len(roll) - len(on_roll)
            c["left_out"] += left_out
            c["incomplete"] += 1 if left_out else 0
            c["opinions"] += len(body["opinions"])
            c["motions"] += len(body["votes"])
            c["ballots"] += sum(v["for"] + v["against"] + v["abstain"] for v in body["votes"])
            c["eligible"] += len(roll) * len(body["votes"])
            return c
        if doc.type == "resolution":
            return Counter(adopted=1)
        if doc.type == "inspection_finding":
            return Counter({"f." + body["severity"]: 1})
        if doc.type == "member_status":
            return Counter({"c." + body["change"]: 1})
        return None

    @staticmethod
    def _entries(doc) -> list:
        body = doc.body
        if doc.type == "profile_entry":
            e = {"kind": "profile", "entry": body["kind"], "title": body["title"]}
            e.update({k: body[k] for k in ("institution", "result", "started_at", "completed_at") if k in body})
            return [(body["member"], e)]
        if doc.type == "member_status":
            e = {"kind": "status", "change": body["change"], "org": doc.org, "reason": body["reason"]}
            if "to_org" in body:
                e["to_org"] = body["to_org"]
            return [(body["member"], e)]
        if doc.type == "minutes":
            out = []
            for x in body["attendees"]:
                e = {"kind": "attendance", "org": doc.org, "meeting_id": body["meeting_id"],
                     "meeting_kind": body["kind"], "present": x["present"]}
                if "reason" in x:
                    e["reason"] = x["reason"]
                out.append((x["member"], e))
            for o in body["opinions"]:
                out.append((o["member"], {"kind": "opinion", "org": doc.org, "meeting_id": body["meeting_id"],
                                          "topic": o["topic"], "summary": o["summary"]}))
            return out
        if doc.type == "inspection_finding" and "member" in body["subject"]:
            return [(body["subject"]["member"], {"kind": "finding", "org": doc.org,
                                                 "inspection_id": body["inspection_id"],
                                                 "severity": body["severity"]})]
        return []

    # -- questions --

    def in_subtree(self, unit: str, top: str) -> bool:
        return unit == top or unit.startswith(top + "/")

    def counts(self, top: str, months: list[str], *, own: bool = False) -> Counter:
        total = Counter()
        for c in self.records.values():
            if c.month in months and (c.unit == top if own else self.in_subtree(c.unit, top)):
                total.update(c.counts)
        return total

    def units_met(self, top: str, months: list[str], *, own: bool = False) -> int:
        met = {(c.unit, c.month) for c in self.records.values() if c.regular and c.month in months
               and (c.unit == top if own else self.in_subtree(c.unit, top))}
        return len(met)

    def last_regular(self, unit: str, at: int) -> int | None:
        dates = [c.date for c in self.records.values() if c.regular and c.unit == unit and c.date <= at]
        return max(dates) if dates else None

    def overdue(self, top: str, at: int) -> dict[str, list[tuple[str, int | None]]]:
        out = {"cells": [], "committees": []}
        for path, u in sorted(self.units.items()):
            if not self.in_subtree(path, top) or (u["closed"] is not None and u["closed"] <= at):
                continue
            last = self.last_regular(path, at)
            if last is None and u["opened"] > at - OVERDUE:
                continue
            if last is None or last < at - OVERDUE:
                out["cells" if self.children_open(path) == 0 else "committees"].append((path, last))
        return out
