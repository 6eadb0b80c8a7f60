"""Corrections keep history, and the views show the current version: an amendment replaces a
record's contribution to every figure, list and timeline; a withdrawal removes it; the
original stays in the log."""

from __future__ import annotations

import pytest

from ledger.blocks import BlockProposal
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from tests.ledger.factory import DAY, T0, make_org
from views import Views, member_timeline, unit_documents, unit_stats
from views.projection import K_HEIGHT, K_TRAIL_HEIGHT

from .test_rebuild import view_keys

CELL = "central/p1/k1/s1"
SECRETARY = "sec-central"


class Chain:
    def __init__(self) -> None:
        self.org = make_org(5)
        self.views = Views()
        self.ledger = Ledger(MemoryStore(), self.org.genesis, observers=[self.views])
        self.clock = T0

    def apply(self, *envelopes) -> list[str]:
        self.clock += DAY
        block = self.ledger.apply_block(BlockProposal(
            height=self.ledger.height + 1, prev_hash=self.ledger.head_hash, timestamp=self.clock, proposer="n1",
            term=1, envelopes=tuple(e.to_bytes() for e in envelopes)))
        return [d.reason or d.status for d in block.documents]

    def stats(self, month_of: int) -> dict:
        with self.views.reader() as r:
            return unit_stats(r, CELL, since=month_of, until=month_of, now=self.clock)

    def timeline(self, member: str) -> list[dict]:
        with self.views.reader() as r:
            return member_timeline(r, member, limit=500)["entries"]

    def documents(self) -> list[dict]:
        with self.views.reader() as r:
            return unit_documents(r, CELL, limit=500)["items"]


def _minutes(org, held: int, present: dict) -> object:
    body = {"meeting_id": f"{CELL}/1", "kind": "regular", "held_at": held, "scheduled_for": held,
            "mode": "in_person", "chair": SECRETARY, "secretary": SECRETARY,
            "attendees": [{"member": m, "present": p} for m, p in present.items()], "agenda": [],
            "opinions": [{"member": m, "topic": "t", "summary": "s"} for m, p in present.items() if p][:1],
            "votes": [], "decisions": [], "text": "Biên bản."}
    return org.envelope("minutes", CELL, body, [SECRETARY], created_at=T0)


def _amend(org, target, body=None, action="amend"):
    b = {"target": target.doc_id, "action": action, "reason": "đính chính"}
    if body is not None:
        b["body"] = body
    return org.envelope("amendment", target.doc.org, b, [SECRETARY], refs=[target.doc_id])


@pytest.fixture
def chain():
    return Chain()


def test_an_amendment_replaces_the_figures_the_lists_and_the_timeline(chain):
    org = chain.org
    members = sorted(m for m, u in org.member_unit.items() if u == CELL)
    june, august = T0 - 200 * DAY, T0 - 140 * DAY
    original = _minutes(org, june, {m: i != 0 for i, m in enumerate(members)})
    assert chain.apply(original) == ["accepted"]
    before = chain.stats(june)
    assert (before["meetings"]["regular"], before["attendance"]["roll"]["present"]) == (1, len(members) - 1)
    replacement = dict(original.doc.body, kind="thematic", held_at=august,
                       attendees=[{"member": m, "present": i < 2} for i, m in enumerate(members)],
                       opinions=[{"member": members[0], "topic": "t", "summary": "s"}])
    amendment = _amend(org, original, replacement)
    assert chain.apply(amendment) == ["accepted"]
    moved_from, moved_to = chain.stats(june), chain.stats(august)
    assert moved_from["meetings"]["held"] == 0 and moved_from["attendance"]["roll"]["members"] == 0
    assert moved_to["meetings"] == {"held": 1, "regular": 0, "thematic": 1, "extraordinary": 0, "on_time": 0,
                                    "late": 1, "unscheduled": 0, "units_with_regular_meeting": 0}
    assert moved_to["attendance"]["roll"]["present"] == 2 and moved_to["opinions"]["total"] == 1
    [item] = chain.documents()
    assert (item["doc_id"], item["record_id"], item["date"]) == (amendment.doc_id, original.doc_id, august)
    entries = chain.timeline(members[1])
    assert [(e["kind"], e["present"], e["doc_id"], e["record_id"]) for e in entries] == [
        ("attendance", True, amendment.doc_id, original.doc_id)]
    assert [e["kind"] for e in chain.timeline(members[0])] == ["attendance", "opinion"]


def test_a_withdrawal_removes_the_record_and_nothing_amends_it_again(chain):
    org = chain.org
    members = sorted(m for m, u in org.member_unit.items() if u == CELL)
    held = T0 - 100 * DAY
    original = _minutes(org, held, {m: True for m in members})
    chain.apply(original)
    empty = view_keys(chain.ledger.store)
    withdrawal = _amend(org, original, action="withdraw")
    assert chain.apply(withdrawal) == ["accepted"]
    s = chain.stats(held)
    assert s["meetings"]["held"] == 0 and s["attendance"]["roll"] == {"present": 0, "members": 0, "rate": None}
    assert chain.documents() == [] and chain.timeline(members[0]) == []
    with chain.views.reader() as r:
        overdue = unit_stats(r, CELL, since=held, until=held + 60 * DAY, now=held + 60 * DAY)["overdue_units"]
    assert overdue["cells"] == [{"path": CELL, "name": f"Cell {CELL.replace('/', '.')}", "last_regular_meeting": None}]
    after = view_keys(chain.ledger.store)
    late = _amend(org, original, dict(original.doc.body, text="again"))
    [reason] = chain.apply(late)
    assert "withdrawn" in reason
    heights = (K_HEIGHT, K_TRAIL_HEIGHT)
    assert {k: v for k, v in view_keys(chain.ledger.store).items() if k not in heights} == \
        {k: v for k, v in after.items() if k not in heights}
    assert set(empty) - set(after)  # the record's keys went away


def test_views_with_amendments_rebuild_to_the_same_bytes(chain):
    org = chain.org
    members = sorted(m for m, u in org.member_unit.items() if u == CELL)
    first = _minutes(org, T0 - 50 * DAY, {m: True for m in members})
    chain.apply(first)
    second = _amend(org, first, dict(first.doc.body, held_at=T0 - 10 * DAY))
    chain.apply(second)
    third = _amend(org, first, dict(first.doc.body, kind="extraordinary"))
    chain.apply(third)
    incremental = view_keys(chain.ledger.store)
    chain.views.rebuild()
    assert view_keys(chain.ledger.store) == incremental
