"""Committee work on the ledger (issue 10 items 1-3, the ledger part;
ledger/registry_committee.py): directives and each unit's answers, task
reports on resolutions, open-ballot polls with a roll fixed at opening and a
tally computed on close, and minutes that must carry a poll's tally."""

from __future__ import annotations

import hashlib

import pytest

from client.cli_audit import ChainAuditor
from ledger.errors import DuplicateRecord, InvalidInput, NotPermitted, Rejected
from ledger.ledger import Ledger
from ledger.registry import Registry
from ledger.registry_committee import roll_fingerprint
from ledger.store import MemoryStore
from tests.ledger.factory import CELLS, DAY, T0
from tests.ledger.ledger_builder import accept_all, drive, statuses

CELL = CELLS[0]  # central/p1/k1/s1
K1 = "central/p1/k1"


@pytest.fixture
def ledger(org_ledger):
    return org_ledger


def block(ledger, *envelopes, at=None):
    return statuses(ledger, envelopes, timestamp=at)


def accepted(ledger, *envelopes, at=None):
    accept_all(ledger, envelopes, timestamp=at)


def refused(ledger, env, error=Rejected, match=None, at=None):
    """Refused at admission (with `error`, at the next block's time) and, applied in a block,
    rejected with its code."""
    if at is None:
        at = ledger.head().timestamp + 1000 if ledger.head() else T0
    with pytest.raises(error, match=match) as info:
        ledger.check_submission(env.to_bytes(), at_ms=at)
    [(status, reason)] = block(ledger, env, at=at)
    assert status == "rejected" and reason.startswith(info.value.code + ": "), reason
    return info.value


def reg(ledger):
    return Registry(ledger.store)


# -- directives ----------------------------------------------------------------------


def test_a_directive_is_issued_by_an_officer_to_units_below_it(org, ledger):
    refused(ledger, org.directive(K1, signers=[org.plain(CELL)]), NotPermitted)
    refused(ledger, org.directive(K1, signers=[org.secretary(CELL)]), NotPermitted)  # a lower officer
    for units, match in (([K1], "not below the issuing unit"), (["central/p1/k2/s1"], "not below"),
                         ([f"{K1}/s9"], "no unit")):
        refused(ledger, org.directive(K1, addressed={"scope": "units", "units": units}), match=match)
    accepted(ledger, org.directive(K1, signers=[org.deputy("central/p1")]),
             org.directive(K1, addressed={"scope": "units", "units": [CELL]}))
    number = org.directive(K1).doc.body["number"]
    accepted(ledger, org.directive(K1, number="77-CT/HU"))
    err = refused(ledger, org.directive(K1, number="77-CT/HU"), DuplicateRecord)
    assert err.field == "body.number"
    with pytest.raises(InvalidInput) as info:
        org.directive(K1, addressed={"scope": "level"})
    assert info.value.field == "body.addressed.kind"
    with pytest.raises(InvalidInput) as info:
        org.directive(K1, ack_due=T0 - 1)
    assert info.value.field == "body.ack_due" and number


def test_each_addressed_unit_acknowledges_once_by_its_own_officer(org, ledger):
    directive = org.directive(K1, addressed={"scope": "units", "units": [CELL]})
    accepted(ledger, directive)
    refused(ledger, org.directive_ack(directive, CELLS[1]), match="does not address 'central/p1/k1/s2'")
    refused(ledger, org.directive_ack(directive, CELL, signers=[org.plain(CELL, 2)]), NotPermitted)
    # exactly that unit: the committee above cannot acknowledge for the cell
    refused(ledger, org.directive_ack(directive, CELL, signers=[org.secretary(K1)]), NotPermitted)
    ack = org.directive_ack(directive, CELL, signers=[org.deputy(CELL)], note="Đã nhận")
    accepted(ledger, ack)
    err = refused(ledger, org.directive_ack(directive, CELL), DuplicateRecord)
    assert err.field == "body.directive" and err.existing == ack.doc_id
    answers = reg(ledger).directive_answers(directive.doc_id)
    assert list(answers) == [CELL] and answers[CELL]["ack"] == ack.doc_id and answers[CELL]["final"] is None
    assert ack.doc_id in [d["doc_id"] for d in ledger.documents_by("ref", directive.doc_id, limit=None)]


def test_levels_and_units_created_after_the_directive(org, ledger):
    level = org.directive("central/p1", addressed={"scope": "level", "kind": "cell"})
    accepted(ledger, level)
    accepted(ledger, org.org_unit("create", f"{K1}/s9"))  # a cell created after the directive
    created_at = ledger.head().timestamp
    registry = reg(ledger)
    assert registry.addresses(level.doc_id, CELL) and not registry.addresses(level.doc_id, K1)
    assert not registry.addresses(level.doc_id, f"{K1}/s9") and not registry.addresses(level.doc_id, "central/p2/k1/s1")
    refused(ledger, org.directive_ack(level, K1), match="does not address")  # a committee, not a cell
    accepted(ledger, org.directive_ack(level, CELL), org.directive_ack(level, "central/p1/k2/s2"))
    later = org.directive("central/p1")  # the whole subtree, issued after s9 exists
    accepted(ledger, later)
    assert reg(ledger).addresses(later.doc_id, f"{K1}/s9") and reg(ledger).addresses(later.doc_id, K1)
    assert not reg(ledger).addresses(later.doc_id, "central/p1")  # never the issuer itself
    assert reg(ledger).unit(f"{K1}/s9")["created_at"] == created_at


def test_reports_follow_the_acknowledgement_and_end_with_one_final(org, ledger):
    directive = org.directive(K1)
    accepted(ledger, directive)
    refused(ledger, org.directive_report(directive, CELL), match="acknowledge it first")
    accepted(ledger, org.directive_ack(directive, CELL))
    accepted(ledger, org.directive_report(directive, CELL), org.directive_report(directive, CELL, text="Tiếp tục"))
    final = org.directive_report(directive, CELL, final=True)
    accepted(ledger, final)
    final_at = ledger.head().timestamp
    err = refused(ledger, org.directive_report(directive, CELL, final=True, text="again"), DuplicateRecord)
    assert err.field == "body.final" and err.existing == final.doc_id
    refused(ledger, org.directive_report(directive, CELL, text="more"), match="nothing more is filed")
    state = reg(ledger).directive_answers(directive.doc_id)[CELL]
    assert state["reports"] == 3 and state["final"] == final.doc_id and state["final_at"] == final_at


def test_a_withdrawn_directive_takes_no_answers(org, ledger):
    directive = org.directive(K1)
    accepted(ledger, directive, org.directive_ack(directive, CELL))
    accepted(ledger, org.amendment(directive, action="withdraw"))
    refused(ledger, org.directive_ack(directive, CELLS[1]), match="was withdrawn")
    refused(ledger, org.directive_report(directive, CELL), match="was withdrawn")
    refused(ledger, org.directive_ack(org.resolution(CELL), CELL), match="no directive")


# -- resolution tasks -----------------------------------------------------------------


def _resolution(org, **body):
    owner = org.plain(CELL, 2)
    tasks = [{"owner": owner, "due": T0 + 30 * DAY, "description": "Tổ chức học tập"},
             {"owner": org.secretary(CELL), "due": T0 + 60 * DAY, "description": "Báo cáo kết quả"}]
    return org.resolution(CELL, tasks=tasks, **body), owner


def test_task_reports_by_the_owner_or_an_officer_until_done(org, ledger):
    resolution, owner = _resolution(org)
    accepted(ledger, resolution)
    accepted(ledger, org.task_report(resolution, task=0, signers=[owner]),
             org.task_report(resolution, task=0, status="blocked", signers=[org.deputy(CELL)]),
             org.task_report(resolution, task=1, signers=[org.secretary("central/p1")]))
    err = refused(ledger, org.task_report(resolution, task=0, signers=[org.plain(CELL, 3)]), NotPermitted)
    assert f"signed by its owner ({owner})" in err.message
    refused(ledger, org.task_report(resolution, task=1, signers=[owner]), NotPermitted)  # not that task's owner
    refused(ledger, org.task_report(resolution, task=2, signers=[owner]), match="has 2 task")
    done = org.task_report(resolution, task=0, status="done", signers=[owner])
    accepted(ledger, done)
    refused(ledger, org.task_report(resolution, task=0, signers=[owner]), match="is done")
    tasks = reg(ledger).tasks(resolution.doc_id)
    assert [(t["owner"], t["status"], t["reports"]) for t in tasks] == [(owner, "done", 3),
                                                                         (org.secretary(CELL), "in_progress", 1)]
    assert tasks[0]["last"] == done.doc_id


def test_tasks_of_an_amended_withdrawn_or_confidential_resolution(org, ledger):
    resolution, owner = _resolution(org)
    accepted(ledger, resolution, org.task_report(resolution, task=0, signers=[owner]))
    body = resolution.doc.body
    keep_none = org.amendment(resolution, tasks=[])
    err = refused(ledger, keep_none, match="body.body.tasks")
    assert "first 1 task(s) have progress reports" in err.message
    new_owner = org.plain(CELL, 3)
    moved = [dict(body["tasks"][0], owner=new_owner)]  # task 1 had no report: it may go
    accepted(ledger, org.amendment(resolution, tasks=moved))
    assert [(t["owner"], t["status"]) for t in reg(ledger).tasks(resolution.doc_id)] == [(new_owner, "in_progress")]
    accepted(ledger, org.task_report(resolution, task=0, signers=[new_owner]))
    refused(ledger, org.task_report(resolution, task=1, signers=[owner]), match="has 1 task")
    accepted(ledger, org.amendment(resolution, action="withdraw"))
    refused(ledger, org.task_report(resolution, task=0, signers=[new_owner]), match="was withdrawn")
    secret = {"confidential": True, "commitment": bytes(32), "recipients": [org.secretary(CELL)], "meta": {}}
    hidden = org.envelope("resolution", CELL, secret, [org.secretary(CELL)])
    accepted(ledger, hidden)
    report = org.envelope("task_report", CELL, {"resolution": hidden.doc_id, "task": 0, "status": "done",
                                                "text": "x"}, [org.secretary(CELL)], refs=[hidden.doc_id])
    refused(ledger, report, match="is confidential")


# -- polls -------------------------------------------------------------------------------


def _roll(org, cell=CELL, full_only=False):
    return sorted(m for m, u in org.member_unit.items() if u == cell and (not full_only or not m.endswith("-1")))


def test_a_poll_fixes_its_roll_when_it_opens(org, ledger):
    refused(ledger, org.poll(CELL, signers=[org.plain(CELL, 2)]), NotPermitted)
    refused(ledger, org.poll(CELL, closes_at=T0 - 1), match="body.closes_at")
    poll = org.poll(CELL)
    full = org.poll(CELL, eligible="full", signers=[org.secretary(K1)])
    accepted(ledger, poll, full)
    info = reg(ledger).poll(poll.doc_id)
    roll = _roll(org)
    assert reg(ledger).poll_roll(poll.doc_id) == roll and info["roll_size"] == len(roll) == 5
    assert info["roll_fingerprint"] == hashlib.sha256("\n".join(roll).encode()).hexdigest() == roll_fingerprint(roll)
    assert info["status"] == "open" and info["tally"] is None and info["opened_by"] == [org.secretary(CELL)]
    assert reg(ledger).poll_roll(full.doc_id) == _roll(org, full_only=True)  # m-...-1 is probationary
    refused(ledger, org.poll(CELL, poll_id=poll.doc.body["poll_id"]), DuplicateRecord)
    # admitted after the poll opened: not on its roll
    accepted(ledger, org.member_status("late", "admitted", org=CELL))
    org.member_unit["late"] = CELL
    accepted(ledger, org.member_status("late", "made_full"))
    refused(ledger, org.ballot(poll, "late"), NotPermitted, match="not on the roll")
    refused(ledger, org.ballot(full, org.plain(CELL, 1)), NotPermitted, match="not on the roll")
    refused(ledger, org.ballot(poll, org.plain(CELLS[1], 2)), NotPermitted, match="not on the roll")


def test_ballots_replace_until_the_poll_closes_and_the_tally_is_computed(org, ledger):
    poll = org.poll(CELL, quorum={"num": 1, "den": 2, "strict": True})
    accepted(ledger, poll)
    voters = _roll(org)
    accepted(ledger, org.ballot(poll, voters[0], "for"), org.ballot(poll, voters[1], "against"),
             org.ballot(poll, voters[2], "for"))
    accepted(ledger, org.ballot(poll, voters[1], "for"))  # a later ballot replaces the earlier
    refused(ledger, org.ballot(poll, voters[3], "maybe"), match="expected one of for, against, abstain")
    refused(ledger, org.ballot(poll, voters[3], signers=[voters[3], voters[4]]), NotPermitted, match="voter alone")
    refused(ledger, org.ballot(poll, voters[3], org=CELLS[1]), match="belongs to")
    assert reg(ledger).ballots(poll.doc_id)[voters[1]]["choice"] == "for"
    close = org.poll_close(poll)
    accepted(ledger, close)
    tally = reg(ledger).poll(poll.doc_id)["tally"]
    assert tally == {"counts": {"for": 3, "against": 0, "abstain": 0}, "cast": 3, "eligible": 5, "quorum_met": True,
                     "closed_at": ledger.head().timestamp, "close": close.doc_id, "early": True}
    refused(ledger, org.ballot(poll, voters[3]), match="is closed")
    err = refused(ledger, org.poll_close(poll), DuplicateRecord)
    assert err.existing == close.doc_id


def test_quorum_and_who_may_close(org, ledger):
    strict = org.poll(CELL, quorum={"num": 3, "den": 5, "strict": True})
    loose = org.poll(CELL, quorum={"num": 3, "den": 5, "strict": False})
    accepted(ledger, strict, loose)
    voters = _roll(org)
    accepted(ledger, *[org.ballot(p, v) for p in (strict, loose) for v in voters[:3]])  # 3 of 5: 3/5 exactly
    # early: only the opener or a chair; a secretary of the unit above is neither
    refused(ledger, org.poll_close(strict, signers=[org.secretary(K1)]), NotPermitted, match="before closes_at")
    accepted(ledger, org.role("grant", org.plain(CELL, 3), "chair", CELL))
    accepted(ledger, org.poll_close(strict, signers=[org.plain(CELL, 3)]))
    closes_at = loose.doc.body["closes_at"]
    refused(ledger, org.ballot(loose, voters[4]), match="took ballots until", at=closes_at)
    accepted(ledger, org.poll_close(loose, signers=[org.secretary(K1)]), at=closes_at + 1000)
    assert reg(ledger).poll(strict.doc_id)["tally"]["quorum_met"] is False  # 3 * 5 > 3 * 5 is false
    loose_tally = reg(ledger).poll(loose.doc_id)["tally"]
    assert loose_tally["quorum_met"] is True and loose_tally["early"] is False


def test_minutes_that_name_a_poll_carry_its_tally(org, ledger):
    poll = org.poll(CELL, motion="Thông qua kế hoạch")
    yes_no = org.poll(CELL, options=["Nguyễn Văn A", "Trần Thị B"])
    accepted(ledger, poll, yes_no)
    voters = _roll(org)
    accepted(ledger, org.ballot(poll, voters[0]), org.ballot(poll, voters[1]), org.ballot(poll, voters[2], "abstain"))

    def minutes(**vote):
        item = {"motion": "Thông qua kế hoạch", "for": 2, "against": 0, "abstain": 1, "poll": poll.doc_id} | vote
        return org.minutes(CELL, votes=[item])

    refused(ledger, minutes(), match="still open")
    accepted(ledger, org.poll_close(poll), org.poll_close(yes_no))
    refused(ledger, minutes(**{"for": 3}), match=r"body.votes\[0\].for: the poll's tally has 2")
    refused(ledger, minutes(motion="Khác"), match="expected the poll's motion")
    refused(ledger, minutes(poll=yes_no.doc_id, motion=yes_no.doc.body["motion"]), match="cannot carry")
    refused(ledger, org.minutes(CELLS[1], votes=[{"motion": "Thông qua kế hoạch", "for": 2, "against": 0,
                                                  "abstain": 1, "poll": poll.doc_id}]), match="belongs to")
    refused(ledger, minutes(poll="ab" * 32), match="no poll")
    good = minutes()
    accepted(ledger, good)
    refused(ledger, org.amendment(good, votes=[dict(good.doc.body["votes"][0], against=1)]), match="tally has 0")
    with pytest.raises(InvalidInput, match="duplicate poll"):
        org.minutes(CELL, votes=[good.doc.body["votes"][0]] * 2)


# -- replay -----------------------------------------------------------------------------------


def test_committee_work_replays_to_the_same_state_and_statuses(org):
    """Two ledgers fed the same blocks reach the same registry state hash, and `minutebook audit`'s
    replay re-derives every status (accepted and rejected) from genesis."""
    poll = org.poll(CELL)
    directive = org.directive(K1)
    resolution, owner = _resolution(org)
    voters = _roll(org)
    blocks = [
        [poll, directive, resolution, org.directive_report(directive, CELL)],  # a report before the ack
        [org.ballot(poll, voters[0]), org.ballot(poll, voters[0], "against"), org.directive_ack(directive, CELL),
         org.directive_ack(directive, CELL), org.task_report(resolution, signers=[owner])],
        [org.poll_close(poll), org.ballot(poll, voters[1]), org.amendment(resolution, action="withdraw")],
    ]
    ledgers = [Ledger(MemoryStore(), org.genesis) for _ in range(2)]
    served = []
    for envelopes in blocks:
        for ledger in ledgers:
            drive(ledger, [e.to_bytes() for e in envelopes])
        served.append((ledgers[0].block(ledgers[0].height), list(ledgers[0].proposal(ledgers[0].height).envelopes)))
    assert reg(ledgers[0]).state_hash() == reg(ledgers[1]).state_hash()
    statuses = [d["status"] for block_json, _ in served for d in block_json["documents"]]
    assert statuses.count("rejected") == 3  # the early report, the second ack, the ballot after closing
    auditor = ChainAuditor("replay", org.genesis)
    for block_json, envelopes in served:
        assert auditor.check(block_json, envelopes, is_tip=True) is None
    tally = reg(ledgers[0]).poll(poll.doc_id)["tally"]
    assert tally["counts"]["against"] == 1 and tally["cast"] == 1
