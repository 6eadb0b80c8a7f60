"""A generated organisation doing committee work, for the tests of views/directives.py,
views/tasks.py, views/polls.py and views/warnings.py: directives to the whole subtree, to a level
and to listed units, answered on time, late or never (by genesis cells and by cells created
later, which the directives issued before them do not address), directives amended (due dates
moved) and withdrawn; resolutions whose tasks are reported on (in progress, blocked, done on
time and late), amended and withdrawn; polls with ballots replaced and closed. Blocks are a day
apart; the ledger decides what is accepted and the tests count only that.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ledger.blocks import BlockProposal
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from tests.ledger.factory import CELLS, DAY, T0, Org, make_org
from views import Views

__all__ = ["CommitteeWorld", "build_committee_world", "DISTRICTS"]

DISTRICTS = ["central/p1/k1", "central/p1/k2", "central/p2/k1"]
ROOT = "sec-central"


@dataclass
class CommitteeWorld:
    org: Org
    ledger: Ledger
    views: Views
    rng: random.Random
    clock: int = T0
    directives: list = field(default_factory=list)   # envelopes
    resolutions: list = field(default_factory=list)
    polls: list = field(default_factory=list)
    new_cells: list = field(default_factory=list)
    n: int = 0

    def apply(self, envelopes: list) -> None:
        self.clock += DAY
        ledger = self.ledger
        ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash, timestamp=self.clock,
                                         proposer="n1", term=1, envelopes=tuple(e.to_bytes() for e in envelopes)))

    def _next(self) -> int:
        self.n += 1
        return self.n

    # -- documents --

    def directive(self):
        rng, org = self.rng, self.org
        issuer = rng.choice(["central", "central/p1", "central/p2"] + DISTRICTS)
        scope = rng.choice(["subtree", "subtree", "level", "units"])
        addressed = {"scope": scope}
        if scope == "level":
            addressed["kind"] = rng.choice(["cell", "committee"])
        elif scope == "units":
            below = [c for c in CELLS + DISTRICTS + self.new_cells if c.startswith(issuer + "/")]
            addressed["units"] = sorted(rng.sample(below, min(len(below), rng.randrange(1, 4))))
        env = org.envelope("directive", issuer, {
            "number": f"{self._next()}-CT", "title": "Về việc triển khai", "text": "Chỉ thị.",
            "issued_at": self.clock, "addressed": addressed, "ack_due": self.clock + rng.randrange(1, 6) * DAY,
            "report_due": self.clock + rng.randrange(6, 20) * DAY}, [ROOT])
        self.directives.append(env)
        return env

    def answer(self):
        rng, org = self.rng, self.org
        if not self.directives:
            return self.directive()
        d = rng.choice(self.directives)
        below = [u for u in CELLS + DISTRICTS + self.new_cells if u.startswith(d.doc.org + "/")]
        unit = rng.choice(below) if below and rng.random() < 0.9 else rng.choice(CELLS + DISTRICTS)
        roll = rng.random()
        signers = [org.officer(unit)]  # a new cell has no officer of its own: its answers are refused
        if roll < 0.5:
            return org.directive_ack(d, unit, signers=signers)
        return org.directive_report(d, unit, final=roll < 0.75, signers=signers)

    def amend_directive(self):
        rng, org = self.rng, self.org
        if not self.directives:
            return self.directive()
        d = rng.choice(self.directives)
        if rng.random() < 0.2:
            return org.amendment(d, action="withdraw", signers=[ROOT])
        body = dict(d.doc.body, ack_due=d.doc.body["ack_due"] + rng.choice([-2, 3, 10]) * DAY)
        body["report_due"] = max(body["report_due"], body["ack_due"])
        body["issued_at"] = min(body["issued_at"], body["ack_due"])
        return org.envelope("amendment", d.doc.org, {"target": d.doc_id, "action": "amend", "reason": "gia hạn",
                                                     "body": body}, [ROOT], refs=[d.doc_id])

    def resolution(self):
        rng, org = self.rng, self.org
        unit = rng.choice(CELLS + DISTRICTS)
        tasks = [{"owner": org.officer(unit), "due": self.clock + rng.randrange(-5, 25) * DAY,
                  "description": f"nhiệm vụ {i}"} for i in range(rng.randrange(1, 4))]
        env = org.envelope("resolution", unit, {
            "number": f"{self._next()}/NQ", "title": "Nghị quyết", "text": "…", "adopted_at": self.clock,
            "tally": {"for": 3, "against": 0, "abstain": 0, "eligible": 5}, "tasks": tasks}, [ROOT])
        self.resolutions.append(env)
        return env

    def task_report(self):
        rng, org = self.rng, self.org
        if not self.resolutions:
            return self.resolution()
        res = rng.choice(self.resolutions)
        task = rng.randrange(len(res.doc.body["tasks"]) + 1)  # sometimes past the end: refused
        status = rng.choice(["in_progress", "blocked", "done", "done"])
        return org.envelope("task_report", res.doc.org, {"resolution": res.doc_id, "task": task, "status": status,
                                                         "text": "báo cáo"}, [ROOT], refs=[res.doc_id])

    def amend_resolution(self):
        rng, org = self.rng, self.org
        if not self.resolutions:
            return self.resolution()
        res = rng.choice(self.resolutions)
        if rng.random() < 0.2:
            return org.amendment(res, action="withdraw", signers=[ROOT])
        tasks = [dict(t, due=t["due"] + rng.choice([-3, 0, 7]) * DAY) for t in res.doc.body["tasks"]]
        tasks.append({"owner": ROOT, "due": self.clock + 9 * DAY, "description": "bổ sung"})
        return org.envelope("amendment", res.doc.org, {"target": res.doc_id, "action": "amend", "reason": "bổ sung",
                                                       "body": dict(res.doc.body, tasks=tasks)}, [ROOT],
                            refs=[res.doc_id])

    def new_cell(self):
        path = f"{self.rng.choice(DISTRICTS)}/n{self._next()}"
        self.new_cells.append(path)
        return self.org.envelope("org_unit", "central", {"action": "create", "path": path, "name": f"Chi bộ {path}",
                                                         "kind": "cell"}, [ROOT])

    def close_cell(self):
        if not self.new_cells:
            return self.new_cell()
        path = self.rng.choice(self.new_cells)
        return self.org.envelope("org_unit", "central", {"action": "close", "path": path}, [ROOT])

    def poll(self):
        org = self.org
        cell = self.rng.choice(CELLS)
        env = org.poll(cell, closes_at=self.clock + self.rng.randrange(3, 9) * DAY, signers=[ROOT])
        self.polls.append(env)
        return env

    def ballot(self):
        rng, org = self.rng, self.org
        if not self.polls:
            return self.poll()
        p = rng.choice(self.polls[-2:])  # the newest: most likely still open
        voter = rng.choice([org.plain(p.doc.org, i) for i in (1, 2, 3)] + [org.secretary(p.doc.org)])
        return org.ballot(p, voter, rng.choice(["for", "against", "abstain"]))

    def close(self):
        if not self.polls:
            return self.poll()
        return self.org.poll_close(self.rng.choice(self.polls), signers=[ROOT])

    def random_document(self):
        kinds = ["directive", "answer", "amend_directive", "resolution", "task_report", "amend_resolution",
                 "new_cell", "close_cell", "poll", "ballot", "close"]
        weights = [6, 30, 3, 8, 14, 3, 3, 1, 3, 20, 2]
        return getattr(self, self.rng.choices(kinds, weights)[0])()


def build_committee_world(seed: int, *, blocks: int = 30, per_block: int = 12, store=None) -> CommitteeWorld:
    org = make_org(seed % 5)
    views = Views()
    ledger = Ledger(store if store is not None else MemoryStore(), org.genesis, observers=[views])
    world = CommitteeWorld(org=org, ledger=ledger, views=views, rng=random.Random(seed))
    for _ in range(blocks):
        world.apply([world.random_document() for _ in range(per_block)])
    return world
