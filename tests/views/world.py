"""A generated organisation for the view tests: random but valid-looking documents applied
block by block to a real Ledger fed to the views.

Built on tests/ledger/factory.py's organisation (a root, two provinces, three
districts, six cells, officers and plain members). A seeded random stream
writes minutes (partial lists, guests from other units, absences with
reasons, votes, opinions, every kind, late and unscheduled ones), status
changes dated out of order (admissions, made_full, transfers, suspensions,
reinstatements, awards, expulsions), findings about units and members,
resolutions and new cells. A shadow of the statuses keeps most documents
legal; the ledger decides, and tests count only what it accepted.

All officers' documents are signed by the root's secretary and inspector,
who hold their roles in every unit by inheritance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ledger.blocks import BlockProposal
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from tests.ledger.factory import CELLS, DAY, T0, Org, make_org
from views import Views

__all__ = ["World", "build_world", "Accepted", "DISTRICTS"]

DISTRICTS = ["central/p1/k1", "central/p1/k2", "central/p2/k1"]
ROOT_SECRETARY = "sec-central"
ROOT_INSPECTOR = "ins-central"


@dataclass(frozen=True)
class Accepted:
    height: int
    block_time: int
    leaf: int
    doc_id: str
    doc: object  # ledger.documents.Document
    signers: tuple


@dataclass
class World:
    org: Org
    ledger: Ledger
    views: Views
    rng: random.Random
    shadow: dict = field(default_factory=dict)  # member -> [unit, status]
    cells: list = field(default_factory=lambda: list(CELLS))
    counter: int = 0
    clock: int = T0
    made: list = field(default_factory=list)  # amendable records made so far (accepted or not)
    withdrawn: set = field(default_factory=set)

    # -- applying --

    def apply(self, envelopes: list) -> None:
        ledger = self.ledger
        self.clock += DAY
        proposal = BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash, timestamp=self.clock,
                                 proposer="n1", term=1, envelopes=tuple(e.to_bytes() for e in envelopes))
        ledger.apply_block(proposal)

    def accepted(self) -> list[Accepted]:
        out = []
        for h in range(1, self.ledger.height + 1):
            header = self.ledger.header(h)
            for d in self.ledger.accepted_documents(h):
                out.append(Accepted(h, header.timestamp, d.leaf_index, d.doc_id, d.envelope.doc,
                                    tuple(s.signer for s in d.envelope.sigs)))
        return out

    # -- documents --

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _date(self) -> int:
        if self.rng.random() < 0.03:  # digitised history: before 1970 too
            return -self.rng.randrange(20 * 365) * DAY - self.rng.randrange(DAY)
        return T0 - self.rng.randrange(400) * DAY - self.rng.randrange(DAY)

    def units(self) -> list[str]:
        return [u["path"] for u in self.org.genesis["units"]] + [c for c in self.cells if c not in CELLS]

    def members_of(self, unit: str, *, active_only: bool = True) -> list[str]:
        return sorted(m for m, (u, s) in self.shadow.items()
                      if u == unit and (not active_only or s in ("probationary", "full")))

    def minutes(self, unit: str | None = None):
        rng = self.rng
        unit = unit or rng.choice(self.units())
        n = self._next()
        roll = self.members_of(unit)
        listed = roll if rng.random() < 0.5 else rng.sample(roll, rng.randrange(len(roll) + 1)) if roll else []
        guests = [m for m in rng.sample(sorted(self.shadow), 2) if m not in listed] if rng.random() < 0.3 else []
        attendees = []
        for m in sorted(set(listed) | set(guests)):
            present = rng.random() < 0.8
            entry = {"member": m, "present": present}
            if not present and rng.random() < 0.6:
                entry["reason"] = rng.choice(["ốm", "công tác", "việc gia đình"])
            attendees.append(entry)
        present = sum(a["present"] for a in attendees)
        votes = []
        for i in range(rng.randrange(3)):
            cast = rng.randrange(present + 1)
            f = rng.randrange(cast + 1)
            a = rng.randrange(cast - f + 1)
            votes.append({"motion": f"biểu quyết {i}", "for": f, "against": a, "abstain": cast - f - a})
        speakers = [a["member"] for a in attendees if a["present"]]
        opinions = [{"member": rng.choice(speakers), "topic": f"chủ đề {i}", "summary": "đồng ý"}
                    for i in range(rng.randrange(4))] if speakers else []
        held = self._date()
        body = {"meeting_id": f"{unit}/{n}", "kind": rng.choices(["regular", "thematic", "extraordinary"],
                                                                 [7, 2, 1])[0],
                "held_at": held, "mode": "in_person", "chair": ROOT_SECRETARY, "secretary": ROOT_SECRETARY,
                "attendees": attendees, "agenda": ["kế hoạch"], "opinions": opinions, "votes": votes,
                "decisions": ["thông qua"], "text": f"Biên bản {n}"}
        if rng.random() < 0.8:
            body["scheduled_for"] = held - rng.randrange(12) * DAY
        return self.org.envelope("minutes", unit, body, [ROOT_SECRETARY], created_at=T0 + n)

    def status_change(self):
        rng = self.rng
        n = self._next()
        plain = sorted(m for m in self.shadow if m.startswith(("m-", "new-")))
        change = rng.choice(["admitted", "admitted", "made_full", "transferred", "suspended", "reinstated", "award",
                             "warning", "expelled", "resigned"])
        body = {"change": change, "effective_at": self._date(), "reason": f"lý do {n}"}
        if change == "admitted":
            unit = rng.choice(self.cells)
            member = f"new-{n}"
            body["member"] = member
            body["name"] = f"Đảng viên {n}"
            self.shadow[member] = [unit, "probationary"]
            return self.org.envelope("member_status", unit, body, [ROOT_SECRETARY], created_at=T0 + n)
        wanted = {"made_full": ("probationary",), "reinstated": ("suspended",)}.get(
            change, ("probationary", "full", "suspended") if change not in ("suspended",) else ("probationary", "full"))
        candidates = [m for m in plain if self.shadow[m][1] in wanted]
        if not candidates:
            return self.minutes()
        member = rng.choice(candidates)
        body["member"] = member
        unit, status = self.shadow[member]
        if change == "transferred":
            body["to_org"] = rng.choice([c for c in self.cells if c != unit])
            self.shadow[member] = [body["to_org"], status]
        elif change == "made_full":
            self.shadow[member] = [unit, "full"]
        elif change == "suspended":
            self.shadow[member] = [unit, "suspended"]
        elif change == "reinstated":
            self.shadow[member] = [unit, "full"]
        elif change in ("expelled", "resigned"):
            self.shadow[member] = [unit, change]
        return self.org.envelope("member_status", unit, body, [ROOT_SECRETARY], created_at=T0 + n)

    def finding(self):
        rng = self.rng
        n = self._next()
        if rng.random() < 0.5:
            subject = {"unit": rng.choice(self.units())}
        else:
            subject = {"member": rng.choice(sorted(self.shadow))}
        body = {"inspection_id": f"KT-{n}", "subject": subject, "finding": "chậm nộp biên bản",
                "severity": rng.choice(["info", "minor", "major", "critical"]), "recommendations": []}
        return self.org.envelope("inspection_finding", "central", body, [ROOT_INSPECTOR],
                                 created_at=T0 - rng.randrange(300) * DAY + n)

    def resolution(self):
        rng = self.rng
        n = self._next()
        unit = rng.choice(self.units())
        body = {"number": f"{n}/NQ", "title": "Nghị quyết", "text": "…", "adopted_at": self._date(),
                "tally": {"for": 3, "against": 0, "abstain": 0, "eligible": 5},
                "tasks": [{"owner": ROOT_SECRETARY, "due": T0, "description": "thực hiện"}]}
        return self.org.envelope("resolution", unit, body, [ROOT_SECRETARY], created_at=T0 + n)

    def new_cell(self):
        n = self._next()
        path = f"{self.rng.choice(DISTRICTS)}/n{n}"
        self.cells.append(path)
        return self.org.envelope("org_unit", "central", {"action": "create", "path": path, "name": f"Chi bộ {n}",
                                                         "kind": "cell"}, [ROOT_SECRETARY], created_at=T0 + n)

    def profile_entry(self):
        rng = self.rng
        n = self._next()
        member = rng.choice(sorted(m for m, (_, s) in self.shadow.items() if s in ("probationary", "full")))
        body = {"member": member, "kind": rng.choice(["training", "education", "language"]),
                "title": f"Khoá học {n}", "institution": "Trường Chính trị tỉnh"}
        if rng.random() < 0.7:
            body["started_at"] = self._date()
            if rng.random() < 0.7:
                body["completed_at"] = body["started_at"] + rng.randrange(1, 90) * DAY
        return self.org.envelope("profile_entry", self.shadow[member][0], body, [ROOT_SECRETARY], created_at=T0 + n)

    def amendment(self):
        """Amend (a changed body: attendance, kind, date, severity...) or withdraw a record made before."""
        rng = self.rng
        live = [e for e in self.made if e.doc_id not in self.withdrawn]
        if not live:
            return self.minutes()
        target = rng.choice(live)
        n = self._next()
        if rng.random() < 0.3:
            self.withdrawn.add(target.doc_id)
            body = {"target": target.doc_id, "action": "withdraw", "reason": f"nhầm {n}"}
        else:
            replacement = dict(target.doc.body)
            if target.doc.type == "minutes":
                replacement["attendees"] = [dict(a, present=not a["present"]) if rng.random() < 0.3 else a
                                            for a in replacement["attendees"] if rng.random() < 0.9]
                for a in replacement["attendees"]:
                    if a["present"]:
                        a.pop("reason", None)
                members = {a["member"] for a in replacement["attendees"] if a["present"]}
                replacement["opinions"] = [o for o in replacement["opinions"] if o["member"] in members]
                present = len(members)
                replacement["votes"] = [dict(v, **{"for": min(v["for"], present), "against": 0,
                                                   "abstain": 0}) for v in replacement["votes"]]
                replacement["kind"] = rng.choice(["regular", "thematic"])
                replacement["held_at"] = replacement["held_at"] + rng.choice([0, 20, -40]) * DAY
            elif target.doc.type == "resolution":
                replacement["adopted_at"] = self._date()
            elif target.doc.type == "inspection_finding":
                replacement["severity"] = rng.choice(["info", "minor", "major", "critical"])
            elif target.doc.type == "profile_entry":
                replacement["title"] = replacement["title"] + " (sửa)"
                replacement.pop("completed_at", None)
            body = {"target": target.doc_id, "action": "amend", "reason": f"đính chính {n}", "body": replacement}
        signer = ROOT_INSPECTOR if target.doc.type == "inspection_finding" else ROOT_SECRETARY
        return self.org.envelope("amendment", target.doc.org, body, [signer], refs=[target.doc_id],
                                 created_at=T0 + n)

    def random_document(self):
        kind = self.rng.choices(["minutes", "status", "finding", "resolution", "cell", "profile", "amendment"],
                                [50, 25, 8, 8, 3, 6, 8])[0]
        envelope = {"minutes": self.minutes, "status": self.status_change, "finding": self.finding,
                    "resolution": self.resolution, "cell": self.new_cell, "profile": self.profile_entry,
                    "amendment": self.amendment}[kind]()
        if envelope.doc.type in ("minutes", "resolution", "inspection_finding", "profile_entry"):
            self.made.append(envelope)
        return envelope


def build_world(seed: int, *, blocks: int = 10, per_block: int = 20, store=None, views: bool = True) -> World:
    org = make_org(seed % 7)
    observer = Views()
    ledger = Ledger(store if store is not None else MemoryStore(), org.genesis,
                    observers=[observer] if views else [])
    world = World(org=org, ledger=ledger, views=observer, rng=random.Random(seed))
    for m in org.genesis["members"]:
        world.shadow[m["member_id"]] = [m["unit"], m["status"]]
    for _ in range(blocks):
        world.apply([world.random_document() for _ in range(per_block)])
    return world
