"""A small, deterministic organisation and signed documents of every type, for
tests (seeded: the same seed gives the same keys, genesis and documents).

Shape: root ``central``; provinces ``central/p1`` and ``central/p2``;
committees ``central/p1/k1``, ``central/p1/k2``, ``central/p2/k1``; cells
``.../s1``, ``.../s2`` under each committee. Non-cell units have a secretary
(``sec-<unit>``), deputy (``dep-<unit>``) and inspector (``ins-<unit>``);
cells a secretary, a deputy and three plain members (``m-<unit>-<i>``), where
``<unit>`` is the path with ``/`` replaced by ``.``. Three voter nodes n1..n3.

Every builder returns a valid signed :class:`Envelope` by default; pass
``signers=[...]`` (member ids) or body overrides to make an invalid one.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from ledger.documents import Document, Envelope, make_envelope
from ledger.jsonfmt import b64e
from ledger.keys import public_key

__all__ = ["Org", "make_org", "UNITS", "CELLS", "tag", "SampleWorld", "sample_world"]

UNITS = [
    ("central", "Central Committee", "central"),
    ("central/p1", "Province One", "province"),
    ("central/p2", "Province Two", "province"),
    ("central/p1/k1", "District One", "committee"),
    ("central/p1/k2", "District Two", "committee"),
    ("central/p2/k1", "District Three", "committee"),
]
CELLS = [f"{k}/s{i}" for k in ("central/p1/k1", "central/p1/k2", "central/p2/k1") for i in (1, 2)]
T0 = 1_700_000_000_000
DAY = 86_400_000


def tag(unit: str) -> str:
    return unit.replace("/", ".")


@dataclass
class Org:
    seed: int
    genesis: dict
    seeds: dict[str, bytes]
    node_seeds: dict[str, bytes]
    member_unit: dict[str, str]
    counter: list = field(default_factory=lambda: [0])
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # -- helpers ---------------------------------------------------------------

    def secretary(self, unit: str) -> str:
        return f"sec-{tag(unit)}"

    def deputy(self, unit: str) -> str:
        return f"dep-{tag(unit)}"

    def inspector(self, unit: str) -> str:
        return f"ins-{tag(unit)}"

    def plain(self, cell: str, i: int = 1) -> str:
        return f"m-{tag(cell)}-{i}"

    def officer(self, unit: str, role: str = "secretary") -> str:
        """The nearest holder of `role` at or above `unit`."""
        path = unit
        while True:
            mid = {"secretary": self.secretary, "deputy_secretary": self.deputy, "inspector": self.inspector}[role](path)
            if mid in self.seeds:
                return mid
            path = path.rpartition("/")[0]

    def new_seed(self, member_id: str) -> bytes:
        s = hashlib.sha256(f"factory/{self.seed}/{member_id}".encode()).digest()
        self.seeds.setdefault(member_id, s)
        return s

    def _next(self) -> int:
        """A fresh number; thread-safe (the cluster load generators share one Org), so two
        documents never get one nonce and two records never get one identity by accident."""
        with self._lock:
            self.counter[0] += 1
            return self.counter[0]

    def envelope(self, type_: str, org: str, body: dict, signers, *, refs=(), created_at=None, nonce=None,
                 seeds: dict | None = None) -> Envelope:
        n = self._next()
        doc = Document(v=1, type=type_, org=org, body=body, refs=tuple(refs),
                       created_at=T0 + n if created_at is None else created_at,
                       nonce=hashlib.sha256(f"nonce/{self.seed}/{n}".encode()).digest()[:16] if nonce is None else nonce)
        seeds = seeds or {}
        return make_envelope(doc, [(s, seeds.get(s) or self.seeds[s]) for s in signers])

    # -- builders ----------------------------------------------------------------

    def minutes(self, org_path: str, *, chair=None, secretary=None, signers=None, **body) -> Envelope:
        chair = chair or self.officer(org_path, "deputy_secretary")
        secretary = secretary or self.officer(org_path, "secretary")
        attendees = [{"member": m, "present": i % 4 != 3} | ({} if i % 4 != 3 else {"reason": "sick"})
                     for i, m in enumerate(sorted(m for m, u in self.member_unit.items() if u == org_path))]
        b = {"meeting_id": f"{org_path}/{self._next()}", "kind": "regular", "held_at": T0 - DAY,
             "scheduled_for": T0 - DAY, "mode": "in_person", "chair": chair, "secretary": secretary,
             "attendees": attendees, "agenda": ["plan"], "opinions": [{"member": chair, "topic": "plan",
                                                                        "summary": "agree"}],
             "votes": [{"motion": "adopt", "for": 3, "against": 0, "abstain": 1}], "decisions": ["adopted"],
             "text": "Regular meeting."}
        b.update(body)
        return self.envelope("minutes", org_path, b, signers or sorted({chair, secretary}))

    def resolution(self, org_path: str, *, signers=None, **body) -> Envelope:
        b = {"number": f"{self._next()}/NQ", "title": "On the plan", "text": "Adopted.", "adopted_at": T0,
             "minutes": None, "tally": {"for": 3, "against": 0, "abstain": 1, "eligible": 5},
             "tasks": [{"owner": self.officer(org_path), "due": T0 + 30 * DAY, "description": "do it"}]}
        b.update(body)
        return self.envelope("resolution", org_path, b, signers or [self.officer(org_path)])

    def member_status(self, member: str, change: str, *, org=None, signers=None, **body) -> Envelope:
        unit = org or self.member_unit.get(member) or body.get("to_org")
        b = {"member": member, "change": change, "effective_at": T0, "reason": "because"}
        if change == "admitted":
            b["public_key"] = public_key(self.new_seed(member))
        b.update({k: v for k, v in body.items() if v is not None})
        if signers is None:
            signers = [self.officer(unit.rpartition("/")[0] or unit) if change == "transferred"
                       else self.officer(unit)]
        return self.envelope("member_status", unit, b, signers)

    def finding(self, org_path: str, *, unit=None, member=None, severity="minor", signers=None, **body) -> Envelope:
        subject = {"member": member} if member else {"unit": unit or org_path}
        b = {"inspection_id": f"KT-{self._next()}", "subject": subject, "finding": "late minutes",
             "severity": severity, "recommendations": ["hold meetings on time"]}
        b.update(body)
        return self.envelope("inspection_finding", org_path, b, signers or [self.officer(org_path, "inspector")])

    def org_unit(self, action: str, path: str, *, name="New unit", kind="cell", signers=None, org=None) -> Envelope:
        parent = path.rpartition("/")[0] or path
        b = {"action": action, "path": path}
        if action == "create":
            b.update(name=name, kind=kind)
        return self.envelope("org_unit", org or parent, b, signers or [self.officer(parent)])

    def role(self, action: str, member: str, role: str, unit: str, *, signers=None, org=None) -> Envelope:
        parent = unit.rpartition("/")[0] or unit
        b = {"action": action, "member": member, "role": role, "unit": unit}
        return self.envelope("role", org or unit, b, signers or [self.officer(parent)])

    def member_key(self, action: str, member: str, key: bytes, *, signers=None, org=None) -> Envelope:
        unit = org or self.member_unit[member]
        parent = self.member_unit[member].rpartition("/")[0] or self.member_unit[member]
        b = {"action": action, "member": member, "public_key": key}
        return self.envelope("member_key", unit, b, signers or [self.officer(parent)])

    def node(self, action: str, node_id: str, *, role="voter", signers=None, key=None, org="central") -> Envelope:
        b = {"action": action, "node_id": node_id}
        if action == "add":
            seed = self.node_seeds.setdefault(node_id, hashlib.sha256(f"node/{self.seed}/{node_id}".encode()).digest())
            b.update(public_key=key or public_key(seed), peer_addr=f"127.0.0.1:{7000 + len(self.node_seeds)}",
                     role=role)
        return self.envelope("node", org, b, signers or [self.secretary("central")])

    def profile_entry(self, member: str, *, kind="training", org=None, signers=None, **body) -> Envelope:
        unit = org or self.member_unit[member]
        b = {"member": member, "kind": kind, "title": "Sơ cấp lý luận chính trị", "institution": "Trường Chính trị",
             "started_at": T0 - 90 * DAY, "completed_at": T0 - 30 * DAY, "result": "Khá"}
        b.update({k: v for k, v in body.items() if v is not None})
        for k in [k for k, v in body.items() if v is None]:
            b.pop(k, None)
        return self.envelope("profile_entry", unit, b, signers or [self.officer(self.member_unit[member])])

    def amendment(self, target: Envelope, *, action="amend", body=None, reason="a correction", signers=None,
                  org=None, refs=None, **changes) -> Envelope:
        """Amend `target` (its body with `changes`, or `body`) or withdraw it; signed like the target."""
        b = {"target": target.doc_id, "action": action, "reason": reason}
        if action == "amend":
            b["body"] = body if body is not None else dict(target.doc.body, **changes)
        replacement = b.get("body") or target.doc.body
        if signers is None:
            signers = sorted({replacement["chair"], replacement["secretary"]}) if "chair" in replacement \
                else list(target.signers)
        return self.envelope("amendment", org or target.doc.org, b, signers,
                             refs=[target.doc_id] if refs is None else refs)

    def directive(self, org_path: str, *, addressed=None, signers=None, **body) -> Envelope:
        b = {"number": f"{self._next()}-CT", "title": "Về việc học tập nghị quyết", "text": "Chỉ thị.",
             "issued_at": T0, "addressed": addressed or {"scope": "subtree"}, "ack_due": T0 + 7 * DAY,
             "report_due": T0 + 30 * DAY}
        b.update(body)
        return self.envelope("directive", org_path, b, signers or [self.officer(org_path)])

    def _answer(self, type_: str, field_: str, target: Envelope, unit: str, signers, body: dict) -> Envelope:
        b = {field_: target.doc_id} | body
        return self.envelope(type_, unit, b, signers or [self.secretary(unit)], refs=[target.doc_id])

    def directive_ack(self, directive: Envelope, unit: str, *, signers=None, **body) -> Envelope:
        return self._answer("directive_ack", "directive", directive, unit, signers, body)

    def directive_report(self, directive: Envelope, unit: str, *, final=False, signers=None, **body) -> Envelope:
        return self._answer("directive_report", "directive", directive, unit, signers,
                            {"final": final, "text": "Đã triển khai."} | body)

    def task_report(self, resolution: Envelope, *, task=0, status="in_progress", signers=None, **body) -> Envelope:
        return self._answer("task_report", "resolution", resolution, resolution.doc.org,
                            signers or [resolution.doc.body["tasks"][task]["owner"]],
                            {"task": task, "status": status, "text": "Đang thực hiện."} | body)

    def poll(self, org_path: str, *, signers=None, **body) -> Envelope:
        b = {"poll_id": f"{org_path}/poll-{self._next()}", "motion": "Thông qua kế hoạch",
             "options": ["for", "against", "abstain"], "closes_at": T0 + 10 * DAY,
             "quorum": {"num": 1, "den": 2, "strict": True}, "eligible": "active"}
        b.update(body)
        return self.envelope("poll", org_path, b, signers or [self.secretary(org_path)])

    def ballot(self, poll: Envelope, voter: str, choice="for", *, signers=None, org=None) -> Envelope:
        return self.envelope("ballot", org or poll.doc.org, {"poll": poll.doc_id, "choice": choice},
                             signers or [voter], refs=[poll.doc_id])

    def poll_close(self, poll: Envelope, *, signers=None, **body) -> Envelope:
        return self._answer("poll_close", "poll", poll, poll.doc.org, signers or list(poll.signers), body)

    def every_type(self) -> list[Envelope]:
        """One valid envelope of each type, all applicable in this order to a fresh registry."""
        cell = CELLS[0]
        minutes, resolution = self.minutes(cell), self.resolution(cell)
        directive = self.directive("central/p1/k1")
        poll = self.poll(cell)
        return [
            minutes, resolution, self.member_status(self.plain(cell), "made_full"),
            self.finding("central/p1/k1", unit=cell), self.org_unit("create", "central/p2/k2"),
            self.role("grant", self.plain(cell, 2), "committee_member", cell),
            self.member_key("add", self.plain(cell, 3), public_key(self.new_seed("spare-key"))),
            self.node("add", "n4", role="learner"),
            self.profile_entry(self.plain(cell, 2)),
            self.amendment(minutes, text="Regular meeting (corrected)."),
            directive, self.directive_ack(directive, cell), self.directive_report(directive, cell, final=True),
            self.task_report(resolution),
            poll, self.ballot(poll, self.plain(cell, 2)), self.poll_close(poll),
        ]


def make_org(seed: int = 0) -> Org:
    def s(name: str) -> bytes:
        return hashlib.sha256(f"factory/{seed}/{name}".encode()).digest()

    seeds: dict[str, bytes] = {}
    members, member_unit = [], {}

    def add(mid: str, unit: str, roles: list, status: str = "full") -> None:
        seeds[mid] = s(mid)
        member_unit[mid] = unit
        members.append({"member_id": mid, "unit": unit, "status": status, "roles": roles,
                        "public_key": b64e(public_key(seeds[mid]))})

    for path, _, _ in UNITS:
        add(f"sec-{tag(path)}", path, ["secretary"])
        add(f"dep-{tag(path)}", path, ["deputy_secretary"])
        add(f"ins-{tag(path)}", path, [{"role": "inspector", "unit": path}])
    for cell in CELLS:
        add(f"sec-{tag(cell)}", cell, ["secretary"])
        add(f"dep-{tag(cell)}", cell, ["deputy_secretary"])
        for i in (1, 2, 3):
            add(f"m-{tag(cell)}-{i}", cell, [], "probationary" if i == 1 else "full")
    node_seeds = {f"n{i}": hashlib.sha256(f"node/{seed}/n{i}".encode()).digest() for i in (1, 2, 3)}
    genesis = {
        "chain_id": f"factory-{seed}", "created_at": T0 - 365 * DAY,
        "units": [{"path": p, "name": n, "kind": k} for p, n, k in UNITS]
        + [{"path": c, "name": f"Cell {tag(c)}", "kind": "cell"} for c in CELLS],
        "members": members,
        "nodes": [{"node_id": n, "public_key": b64e(public_key(sd)), "peer_addr": f"127.0.0.1:{7000 + i}",
                   "role": "voter"} for i, (n, sd) in enumerate(sorted(node_seeds.items()))],
    }
    return Org(seed=seed, genesis=genesis, seeds=seeds, node_seeds=node_seeds, member_unit=member_unit)


# -- a one-unit world for the ledger, receipt and verifier tests ---------------------------

SAMPLE_SEEDS = {f"m{i}": bytes([i]) * 32 for i in range(1, 4)}


@dataclass
class SampleWorld:
    """What tests/ledger/ledger_builder.py's ``World`` holds, built on the real
    documents: one unit ``root``; m1 secretary and inspector, m2 deputy, m3 a
    plain member; n1..n3 voters with `node_seeds`."""

    genesis: dict
    node_seeds: dict
    envelopes: list  # accepted in this order: org_unit, role, member_status, minutes, resolution, finding
    make_node_doc: object = None  # (action, node_id, role="voter", created_at=5000) -> envelope bytes
    make_rejected: object = None  # (i) -> well-formed envelope bytes the registry refuses
    make_doc: object = None  # (i, signers: 1 | 2) -> accepted envelope bytes


def sample_world(node_seeds: dict[str, bytes] | None = None) -> SampleWorld:
    import os

    node_seeds = node_seeds or {f"n{i}": bytes([0xA0 + i]) * 32 for i in range(1, 7)}
    seeds = SAMPLE_SEEDS
    roles = {"m1": ["secretary", "inspector"], "m2": ["deputy_secretary"], "m3": []}
    genesis = {
        "chain_id": "t", "created_at": 0, "units": [{"path": "root", "name": "Root", "kind": "central"}],
        "members": [{"member_id": m, "unit": "root", "status": "full", "roles": roles[m],
                     "public_key": b64e(public_key(s))} for m, s in seeds.items()],
        "nodes": [{"node_id": n, "public_key": b64e(public_key(node_seeds[n])), "peer_addr": "x", "role": "voter"}
                  for n in ("n1", "n2", "n3")],
    }

    def env(type_, body, signers, created_at, nonce=bytes(16)) -> bytes:
        doc = Document(v=1, type=type_, org="root", body=body, refs=(), created_at=created_at, nonce=nonce)
        return make_envelope(doc, [(s, seeds[s]) for s in signers]).to_bytes()

    def minutes_body(i):
        return {"meeting_id": f"root/{i}", "kind": "regular", "held_at": 500 + i, "mode": "online",
                "chair": "m2", "secretary": "m1",
                "attendees": [{"member": "m1", "present": True}, {"member": "m2", "present": True},
                              {"member": "m3", "present": False, "reason": "sick"}],
                "agenda": ["plan"], "opinions": [{"member": "m3", "topic": "plan", "summary": "agree"}],
                "votes": [{"motion": "adopt", "for": 2, "against": 0, "abstain": 0}], "decisions": ["adopted"],
                "text": f"meeting {i}"}

    def resolution_body(i, number=None):
        return {"number": number or f"{i}/NQ", "title": "On the plan", "text": "Adopted.", "adopted_at": 600 + i,
                "tally": {"for": 2, "against": 0, "abstain": 0, "eligible": 3},
                "tasks": [{"owner": "m1", "due": 10_000, "description": "do it"}]}

    envelopes = [
        env("org_unit", {"action": "create", "path": "root/a", "name": "A", "kind": "cell"}, ["m1"], 1000),
        env("role", {"action": "grant", "member": "m3", "role": "committee_member", "unit": "root"}, ["m1"], 1001),
        env("member_status", {"member": "m3", "change": "award", "effective_at": 900, "reason": "good work"},
            ["m1"], 1002),
        env("minutes", minutes_body(0), ["m1", "m2"], 1003),
        env("resolution", resolution_body(0), ["m1"], 1004),
        env("inspection_finding", {"inspection_id": "KT-1", "subject": {"unit": "root"}, "finding": "fine",
                                   "severity": "info", "recommendations": []}, ["m1"], 1005),
    ]

    def make_doc(i, signers=2):
        if signers == 2:
            return env("minutes", minutes_body(i), ["m1", "m2"], 2000 + i, os.urandom(16))
        return env("resolution", resolution_body(i), ["m1"], 2000 + i, os.urandom(16))

    def make_rejected(i):  # m3 is not suspended: Rejected on check and on apply
        return env("member_status", {"member": "m3", "change": "reinstated", "effective_at": i,
                                     "reason": f"rejected {i}"}, ["m1"], 3000 + i)

    def make_node_doc(action, node_id, role="voter", created_at=5000):
        body = {"action": action, "node_id": node_id}
        if action == "add":
            body.update(public_key=public_key(node_seeds[node_id]), peer_addr="x", role=role)
        return env("node", body, ["m1"], created_at)

    return SampleWorld(genesis=genesis, node_seeds=node_seeds, envelopes=envelopes, make_node_doc=make_node_doc,
                       make_rejected=make_rejected, make_doc=make_doc)
