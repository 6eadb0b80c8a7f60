"""`minutebook poll verify` (client/recount.py): a poll recounted from receipts alone over the
HTTP API, and the failures the issue lists -- a tampered ballot, a ballot dropped from the list,
a ballot from a member not on the roll -- each named."""

from __future__ import annotations

import copy

import pytest

from client.recount import RecountFailed, recount
from ledger.jsonfmt import b64d, b64e
from ledger.registry_committee import CommitteeRules
from node.api import create_app
from tests.ledger.factory import CELLS, DAY, T0, make_org
from tests.node.service_double import ServiceDouble, key_file, signed_client

CELL = CELLS[0]


def _world(monkeypatch=None):
    org = make_org(4)
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=T0)
    poll = org.poll(CELL, closes_at=T0 + 30 * DAY)
    service.apply([poll.to_bytes()])
    voters = [org.plain(CELL, 1), org.plain(CELL, 2), org.plain(CELL, 3), org.secretary(CELL)]
    service.apply([org.ballot(poll, voters[0], "for").to_bytes(), org.ballot(poll, voters[1], "against").to_bytes()])
    service.apply([org.ballot(poll, voters[1], "for").to_bytes(),  # replaces the earlier one
                   org.ballot(poll, voters[2], "abstain").to_bytes()])
    service.apply([org.poll_close(poll).to_bytes()])
    client = signed_client(create_app(service), key_file("n1", org.node_seeds["n1"], node=True))
    return org, service, client, poll


def _fetch(client, poll_id):
    state = client.get(f"/v1/polls/{poll_id}").json()
    ballots = client.get(f"/v1/polls/{poll_id}/ballots").json()["items"]
    receipts = {b["doc_id"]: client.get(f"/v1/documents/{b['doc_id']}/receipt").json() for b in ballots}
    poll_receipt = client.get(f"/v1/documents/{poll_id}/receipt").json()
    close_receipt = client.get(f"/v1/documents/{state['close']['doc_id']}/receipt").json()
    return state, ballots, receipts, poll_receipt, close_receipt


@pytest.fixture(scope="module")
def world():
    return _world()


def test_a_poll_recounts_from_its_receipts(world):
    org, service, client, poll = world
    state, ballots, receipts, poll_receipt, close_receipt = _fetch(client, poll.doc_id)
    result = recount(poll.doc_id, state, poll_receipt, close_receipt, ballots, receipts, org.genesis)
    assert result.counts == {"for": 2, "against": 0, "abstain": 1} == state["tally"]["counts"]
    assert (result.cast, result.eligible, result.ballots, result.superseded) == (3, 5, 4, 1)
    assert result.quorum_met is True


def test_a_tampered_ballot_fails(world):
    org, _, client, poll = world
    state, ballots, receipts, poll_receipt, close_receipt = _fetch(client, poll.doc_id)
    victim = ballots[0]["doc_id"]
    forged = copy.deepcopy(receipts)
    raw = bytearray(b64d(forged[victim]["envelope"]))
    raw[raw.find(b"for")] ^= 0x01  # one byte of the choice
    forged[victim]["envelope"] = b64e(bytes(raw))
    with pytest.raises(RecountFailed) as info:
        recount(poll.doc_id, state, poll_receipt, close_receipt, ballots, forged, org.genesis)
    assert info.value.check == "ballot" and victim in info.value.message


def test_a_ballot_dropped_from_the_list_fails(world):
    org, _, client, poll = world
    state, ballots, receipts, poll_receipt, close_receipt = _fetch(client, poll.doc_id)
    kept = [b for b in ballots if b["choice"] != "abstain"]
    with pytest.raises(RecountFailed) as info:
        recount(poll.doc_id, state, poll_receipt, close_receipt, kept, receipts, org.genesis)
    assert info.value.check == "complete" and "missing from the list" in info.value.message


def test_a_ballot_from_a_member_not_on_the_roll_fails(monkeypatch):
    """A node whose registry let a non-eligible member's ballot in (its roll check off): the
    recount finds the voter is not on the roll the fingerprint fixes."""
    real = CommitteeRules._do_ballot

    def lax(self, p, doc, body, signers, at_ms):
        from ledger.registry_committee import _raw

        key = b"r/pe/" + _raw(body["poll"]) + signers[0].encode()
        if p.get(key) is None:
            p.put(b"r/pb/" + _raw(body["poll"]) + signers[0].encode(),
                  {"ballot": doc.doc_id, "choice": body["choice"], "at": at_ms})
            return
        real(self, p, doc, body, signers, at_ms)

    org = make_org(4)
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=T0)
    poll = org.poll(CELL, closes_at=T0 + 30 * DAY)
    service.apply([poll.to_bytes()])
    monkeypatch.setattr(CommitteeRules, "_do_ballot", lax)
    outsider = org.plain(CELLS[1], 1)
    service.apply([org.ballot(poll, org.plain(CELL, 2), "for").to_bytes(),
                   org.ballot(poll, outsider, "for", org=CELL).to_bytes()])
    monkeypatch.setattr(CommitteeRules, "_do_ballot", real)
    service.apply([org.poll_close(poll).to_bytes()])
    client = signed_client(create_app(service), key_file("n1", org.node_seeds["n1"], node=True))
    state, ballots, receipts, poll_receipt, close_receipt = _fetch(client, poll.doc_id)
    assert outsider in {b["voter"] for b in ballots}
    with pytest.raises(RecountFailed) as info:
        recount(poll.doc_id, state, poll_receipt, close_receipt, ballots, receipts, org.genesis)
    assert info.value.check == "eligible" and outsider in info.value.message


def test_a_roll_that_does_not_match_its_fingerprint_fails(world):
    org, _, client, poll = world
    state, ballots, receipts, poll_receipt, close_receipt = _fetch(client, poll.doc_id)
    state = dict(state, roll=state["roll"] + ["m-extra"])
    with pytest.raises(RecountFailed) as info:
        recount(poll.doc_id, state, poll_receipt, close_receipt, ballots, receipts, org.genesis)
    assert info.value.check == "roll"


def test_poll_routes_refuse_bad_input_and_unknown_polls(world):
    _, _, client, poll = world
    bad = client.get("/v1/polls/not-an-id")
    assert bad.status_code == 400 and bad.json()["field"] == "doc_id"
    assert client.get("/v1/polls/" + "0" * 64).status_code == 404
    assert client.get(f"/v1/polls/{poll.doc_id}/ballots?cursor=zz").json()["field"] == "cursor"
