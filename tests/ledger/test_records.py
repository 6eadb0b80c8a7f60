"""One record per real-world act, amendments that keep history, member
profile entries (issue 7 items 1 and 4; ledger/registry_records.py), through
real blocks of a real Ledger so the statuses are what every node computes."""

from __future__ import annotations

import copy

import pytest

from ledger.documents import Envelope
from ledger.errors import DuplicateRecord, InvalidInput, NotPermitted, Rejected
from ledger.ledger import Ledger
from ledger.registry import Registry
from tests.ledger.factory import CELLS, DAY, T0
from tests.ledger.ledger_builder import accept_all, statuses

CELL = CELLS[0]  # central/p1/k1/s1
OTHER = CELLS[1]  # central/p1/k1/s2


@pytest.fixture
def ledger(org_ledger):
    return org_ledger


def block(ledger: Ledger, *envelopes: Envelope) -> list[tuple[str, str | None]]:
    return statuses(ledger, envelopes)


def accepted(ledger: Ledger, *envelopes: Envelope) -> None:
    accept_all(ledger, envelopes)


def refused_on_check(ledger: Ledger, env: Envelope, error=Rejected, match: str | None = None):
    with pytest.raises(error, match=match) as info:
        ledger.check_submission(env.to_bytes())
    return info.value


def registry(ledger: Ledger) -> Registry:
    return Registry(ledger.store)


# -- one record per act ------------------------------------------------------------


def test_the_same_meeting_recorded_twice_is_one_record(org, ledger):
    """Issue 7 fault 1: two minutes of one meeting (same org, same meeting_id; another nonce and
    created_at, as a secretary's second submission makes) were both accepted and both counted."""
    first = org.minutes(CELL, meeting_id=f"{CELL}/2026-06")
    again = org.minutes(CELL, meeting_id=f"{CELL}/2026-06", text="Biên bản (gửi lại)")
    assert first.doc_id != again.doc_id
    accepted(ledger, first)
    err = refused_on_check(ledger, again, DuplicateRecord)
    assert (err.http_status, err.code, err.field, err.existing) == (409, "duplicate_record", "body.meeting_id",
                                                                   first.doc_id)
    assert err.to_dict() == {"error": "duplicate_record", "message": err.message, "field": "body.meeting_id",
                             "existing": first.doc_id}
    [(status, reason)] = block(ledger, again)  # as a block holds it: rejected, identically on every node
    assert status == "rejected" and reason.startswith("duplicate_record: body.meeting_id: ")
    assert first.doc_id in reason
    assert registry(ledger).record_holder("minutes", CELL, f"{CELL}/2026-06") == first.doc_id
    # one block holding both: the first stands
    a = org.minutes(CELL, meeting_id=f"{CELL}/2026-07")
    b = org.minutes(CELL, meeting_id=f"{CELL}/2026-07", text="again")
    assert [s for s, _ in block(ledger, a, b)] == ["accepted", "rejected"]
    # the same meeting id in another unit is another meeting
    accepted(ledger, org.minutes(OTHER, meeting_id=f"{CELL}/2026-06"))


def test_one_resolution_per_number_of_a_unit(org, ledger):
    """Issue 7 fault 1: two resolutions 99/NQ-S1 of one cell were both accepted."""
    first = org.resolution(CELL, number="99/NQ-S1")
    accepted(ledger, first)
    err = refused_on_check(ledger, org.resolution(CELL, number="99/NQ-S1", title="Khác"), DuplicateRecord)
    assert err.field == "body.number" and err.existing == first.doc_id and "amendment" in err.message
    [(status, reason)] = block(ledger, org.resolution(CELL, number="99/NQ-S1", title="Khác"))
    assert status == "rejected" and reason.startswith("duplicate_record: body.number")
    accepted(ledger, org.resolution(OTHER, number="99/NQ-S1"))


def test_one_finding_per_inspection_and_subject(org, ledger):
    first = org.finding("central/p1", unit=CELL, inspection_id="KT-7")
    accepted(ledger, first)
    err = refused_on_check(ledger, org.finding("central/p1/k1", unit=CELL, inspection_id="KT-7"), DuplicateRecord)
    assert err.field == "body.inspection_id" and err.existing == first.doc_id  # whoever files it, wherever
    accepted(ledger, org.finding("central/p1", unit=OTHER, inspection_id="KT-7"),  # another subject
             org.finding("central/p1", member=org.plain(CELL), inspection_id="KT-7"),
             org.finding("central/p1", unit=CELL, inspection_id="KT-8"))
    assert [s for s, _ in block(ledger, org.finding("central/p1", member=org.plain(CELL), inspection_id="KT-7"))] \
        == ["rejected"]


def test_confidential_records_have_no_public_key(org, ledger):
    body = {"confidential": True, "commitment": bytes(32), "recipients": [org.secretary(CELL)], "meta": {}}
    accepted(ledger, org.envelope("minutes", CELL, body, [org.secretary(CELL)]),
             org.envelope("minutes", CELL, dict(body, commitment=bytes([1]) * 32), [org.secretary(CELL)]))


# -- amendments --------------------------------------------------------------------


def test_an_amendment_replaces_the_record_and_keeps_its_history(org, ledger):
    original = org.minutes(CELL)
    accepted(ledger, original)
    fix = org.amendment(original, text="Biên bản đã sửa.")
    accepted(ledger, fix)
    again = org.amendment(original, text="Biên bản sửa lần hai.", reason="second correction")
    accepted(ledger, again)
    doc = ledger.document(original.doc_id)
    assert doc["status"] == "accepted" and doc["current"] == again.doc_id
    assert doc["versions"] == [{"doc_id": original.doc_id, "action": "original", "height": 1},
                               {"doc_id": fix.doc_id, "action": "amend", "height": 2},
                               {"doc_id": again.doc_id, "action": "amend", "height": 3}]
    assert ledger.receipt(original.doc_id)["doc_id"] == original.doc_id  # the original stays in the log
    refs = [d["doc_id"] for d in ledger.documents_by("ref", original.doc_id, limit=None)]
    assert refs == [fix.doc_id, again.doc_id]
    assert registry(ledger).amended_record(fix.doc_id) == original.doc_id
    assert "current" not in ledger.document(fix.doc_id)  # an amendment is no record itself
    record = registry(ledger).record(original.doc_id)
    assert record["current"] == again.doc_id and not record["withdrawn"] and record["type"] == "minutes"


def test_amended_minutes_are_signed_by_the_replacements_chair_and_secretary(org, ledger):
    original = org.minutes(CELL)
    accepted(ledger, original)
    new_chair = org.secretary("central/p1/k1")  # an officer of an ancestor may chair
    wrong = org.amendment(original, chair=new_chair, signers=sorted(original.signers))
    refused_on_check(ledger, wrong, NotPermitted, match="body.chair")
    assert block(ledger, wrong)[0][1].startswith("not_permitted: minutes must be signed by body.chair")
    accepted(ledger, org.amendment(original, chair=new_chair))


def test_an_amendment_keeps_what_identifies_the_act(org, ledger):
    minutes, resolution = org.minutes(CELL), org.resolution(CELL)
    finding = org.finding("central/p1", unit=CELL)
    profile = org.profile_entry(org.plain(CELL))
    directive = org.directive("central/p1/k1")
    accepted(ledger, minutes, resolution, finding, profile, directive)
    cases = [
        (org.amendment(minutes, meeting_id="other"), "body.body.meeting_id"),
        (org.amendment(resolution, number="1/NQ-other"), "body.body.number"),
        (org.amendment(finding, inspection_id="KT-other"), "body.body.inspection_id"),
        (org.amendment(finding, subject={"unit": OTHER}), "body.body.subject"),
        (org.amendment(profile, member=org.plain(CELL, 3)), "body.body.member"),
        (org.amendment(directive, addressed={"scope": "level", "kind": "cell"}), "body.body.addressed"),
    ]
    for env, field in cases:
        err = refused_on_check(ledger, env)
        assert err.message.startswith(f"{field}: an amendment keeps the record's"), err.message
        assert block(ledger, env)[0][0] == "rejected"
    accepted(ledger, org.amendment(finding, severity="major"), org.amendment(profile, result="Giỏi"),
             org.amendment(directive, report_due=T0 + 60 * DAY))


def test_the_replacement_body_is_checked_against_the_originals_schema(org, ledger):
    original = org.minutes(CELL)
    accepted(ledger, original)
    body = copy.deepcopy(original.doc.body)
    body["votes"][0]["for"] = -1
    with pytest.raises(InvalidInput) as info:
        ledger.check_submission(org.amendment(original, body=body).to_bytes())
    assert info.value.field == "body.body.votes[0].for" and "expected int >= 0" in info.value.rule
    body = dict(original.doc.body, colour="red")
    [(status, reason)] = block(ledger, org.amendment(original, body=body))
    assert status == "rejected" and reason == "invalid_input: body.body: unknown field(s): colour"
    for action, extra in (("withdraw", {"body": original.doc.body}), ("amend", {})):
        with pytest.raises(InvalidInput, match="body.body: required iff action is amend"):
            org.envelope("amendment", CELL, {"target": original.doc_id, "action": action, "reason": "r"} | extra,
                         sorted(original.signers), refs=[original.doc_id])


def test_withdrawal(org, ledger):
    original = org.minutes(CELL)
    accepted(ledger, original, org.amendment(original, text="sửa"))
    by_plain = org.amendment(original, action="withdraw", signers=[org.plain(CELL, 2)])
    refused_on_check(ledger, by_plain, NotPermitted)
    withdrawal = org.amendment(original, action="withdraw", reason="ghi nhầm cuộc họp")
    accepted(ledger, withdrawal)
    doc = ledger.document(original.doc_id)
    assert doc["current"] is None and [v["action"] for v in doc["versions"]] == ["original", "amend", "withdraw"]
    assert registry(ledger).record(original.doc_id)["withdrawn"]
    for env in (org.amendment(original, text="again"), org.amendment(original, action="withdraw")):
        err = refused_on_check(ledger, env, match="was withdrawn by")
        assert withdrawal.doc_id in err.message
    # the act keeps its one history: a new record of the same meeting is still a duplicate
    refused_on_check(ledger, org.minutes(CELL, meeting_id=original.doc.body["meeting_id"]), DuplicateRecord)


def test_what_cannot_be_amended(org, ledger):
    minutes = org.minutes(CELL)
    status = org.member_status(org.plain(CELL, 2), "award")
    rejected_one = org.resolution(CELL, signers=[org.plain(CELL, 2)])
    accepted(ledger, minutes, status)
    assert block(ledger, rejected_one)[0][0] == "rejected"
    fix = org.amendment(minutes, text="fixed")
    accepted(ledger, fix)
    err = refused_on_check(ledger, org.amendment(fix, action="withdraw", signers=sorted(minutes.signers)))
    assert f"is an amendment (of {minutes.doc_id})" in err.message
    for target in (status, rejected_one):
        refused_on_check(ledger, org.amendment(target, text="x"), match="no record .* to amend")
    other_org = org.amendment(minutes, text="y", org="central/p1/k1", signers=sorted(minutes.signers))
    refused_on_check(ledger, other_org, match="belongs to its record's unit")
    with pytest.raises(InvalidInput) as info:  # refs must name the target, and only it
        org.amendment(minutes, text="z", refs=[])
    assert info.value.field == "doc.refs"


def test_confidential_and_public_forms_are_kept(org, ledger):
    public = org.minutes(CELL)
    secret = {"confidential": True, "commitment": bytes(32), "recipients": [org.secretary(CELL)], "meta": {}}
    hidden = org.envelope("minutes", CELL, secret, [org.secretary(CELL)])
    accepted(ledger, public, hidden)
    refused_on_check(ledger, org.amendment(public, body=secret), InvalidInput, match="replacement must be public")
    refused_on_check(ledger, org.amendment(hidden, body=public.doc.body, signers=sorted(public.signers)),
                     InvalidInput, match="must be confidential")
    accepted(ledger, org.amendment(hidden, body=dict(secret, commitment=bytes([7]) * 32)))


def test_a_withdrawal_needs_the_current_versions_signers(org, ledger):
    original = org.minutes(CELL)
    new_chair = org.secretary("central/p1/k1")
    amended = org.amendment(original, chair=new_chair)
    accepted(ledger, original, amended)
    refused_on_check(ledger, org.amendment(original, action="withdraw", signers=sorted(original.signers)),
                     NotPermitted, match="body.chair")
    accepted(ledger, org.amendment(original, action="withdraw", signers=sorted(amended.signers)))


# -- profile entries ------------------------------------------------------------------


def test_profile_entries(org, ledger):
    member = org.plain(CELL, 2)
    entry = org.profile_entry(member, kind="political_theory")
    accepted(ledger, entry, org.profile_entry(member, kind="language", title="Tiếng Anh B1",
                                              signers=[org.deputy("central/p1")]))  # an ancestor's officer
    assert entry.doc_id in [d["doc_id"] for d in ledger.documents_by("member", member, limit=None)]
    refused_on_check(ledger, org.profile_entry(member, signers=[org.plain(CELL, 3)]), NotPermitted)
    refused_on_check(ledger, org.profile_entry(member, signers=[org.secretary(OTHER)]), NotPermitted)
    refused_on_check(ledger, org.profile_entry(member, org=OTHER, signers=[org.secretary("central/p1/k1")]),
                     match="not 'central/p1/k1/s2' or below")
    org.member_unit["ghost"] = CELL
    refused_on_check(ledger, org.profile_entry("ghost"), match="body.member: no member 'ghost'")
    with pytest.raises(InvalidInput) as info:
        org.profile_entry(member, started_at=T0, completed_at=T0 - DAY)
    assert info.value.field == "body.completed_at"
    with pytest.raises(InvalidInput) as info:
        org.profile_entry(member, kind="hobby")
    assert info.value.field == "body.kind"
    accepted(ledger, org.profile_entry(member, institution=None, started_at=None, completed_at=None, result=None))


def test_after_a_transfer_the_new_units_officers_correct_a_profile_entry(org, ledger):
    member = org.plain(CELL, 2)
    entry = org.profile_entry(member)
    accepted(ledger, entry, org.member_status(member, "transferred", to_org=OTHER))
    refused_on_check(ledger, org.amendment(entry, result="Giỏi", signers=[org.secretary(CELL)]), NotPermitted)
    accepted(ledger, org.amendment(entry, result="Giỏi", signers=[org.secretary(OTHER)]))
