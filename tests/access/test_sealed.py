"""Confidential bodies end to end (ledger/sealing.py): sealed to each
recipient's registered key, kept beside the ledger (never a leaf), served
to recipients only, opened and proved against the commitment; a tampered or
transplanted box fails that proof; catch-up carries the boxes, audit replay
of the bare envelopes reaches the same block."""

from __future__ import annotations

import msgpack
import pytest

from client.sdk import open_sealed, sign_confidential
from ledger.errors import ProofFailed
from ledger.jsonfmt import b64d
from ledger.keys import public_key
from ledger.ledger import Ledger
from ledger.sealing import envelope_of, split_submission
from ledger.store import MemoryStore
from tests.node.service_double import key_file

from .conftest import build_world

SECRET = "Kỷ luật đồng chí X: nội dung mật"
RECIPIENTS = ["m0012", "m0020"]
SECRETARY = "m0010"


def _minutes(world, label):
    unit = "central/p1/k1/s1"
    body = {"meeting_id": f"{unit}/mat-{label}", "kind": "extraordinary", "held_at": world.service._clock,
            "mode": "in_person", "chair": SECRETARY, "secretary": "m0011",
            "attendees": [{"member": SECRETARY, "present": True}], "agenda": ["Kỷ luật"], "opinions": [],
            "votes": [], "decisions": [SECRET], "text": SECRET}
    return world.org._doc(f"sealed/{label}", "minutes", unit, body, world.service._clock), body


def _submit(world, label, recipients=RECIPIENTS):
    doc, body = _minutes(world, label)
    keys = {m: [public_key(world.org.seed_of(m))] for m in recipients}
    data = sign_confidential(doc, [(SECRETARY, world.org.seed_of(SECRETARY))], keys,
                             meta={"kind": "extraordinary", "held_at": body["held_at"]})
    r = world.client(None).post("/v1/documents?wait=committed", content=data,
                                headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 200, r.text
    return r.json()["doc_id"], body, data


@pytest.fixture(scope="module")
def sealed_world():
    world = build_world()
    doc_id, body, data = _submit(world, "one")
    return world, doc_id, body, data


def test_recipients_open_the_body_and_it_matches_the_commitment(sealed_world):
    world, doc_id, body, _ = sealed_world
    for member in RECIPIENTS:
        client = world.client(member)
        document = client.get(f"/v1/documents/{doc_id}").json()
        boxes = client.get(f"/v1/documents/{doc_id}/sealed").json()["boxes"]
        assert [b["recipient"] for b in boxes] == [member]
        assert open_sealed(document, boxes, key_file(member, world.org.seed_of(member))) == body


def test_the_body_is_on_no_answer_but_the_recipients_boxes(sealed_world):
    world, doc_id, _, _ = sealed_world
    node = world.client("n1")
    for path in (f"/v1/documents/{doc_id}", f"/v1/documents/{doc_id}/receipt", "/v1/blocks/"
                 f"{world.service.ledger.document(doc_id)['height']}/envelopes"):
        text = node.get(path).text
        assert node.get(path).status_code == 200 and SECRET not in text and "Kỷ luật" not in text, path
    doc = node.get(f"/v1/documents/{doc_id}").json()["doc"]
    assert doc["body"]["confidential"] is True and doc["body"]["recipients"] == RECIPIENTS
    assert doc["body"]["meta"]["kind"] == "extraordinary"


def test_metadata_for_the_scope_the_box_for_recipients_only(sealed_world):
    world, doc_id, _, _ = sealed_world
    for who in (SECRETARY, "m0007", "n1"):  # the signer, the committee's secretary, a node key
        assert world.client(who).get(f"/v1/documents/{doc_id}").status_code == 200
        r = world.client(who).get(f"/v1/documents/{doc_id}/sealed")
        assert r.status_code == 403 and r.json()["error"] == "out_of_scope", who
    # a plain member of the same unit does not read confidential metadata unless a recipient
    assert world.client("m0013").get(f"/v1/documents/{doc_id}").status_code == 403
    assert world.client(None).get(f"/v1/documents/{doc_id}/sealed").status_code == 401


def test_a_tampered_box_fails_the_commitment_check(sealed_world):
    world, doc_id, body, _ = sealed_world
    member = RECIPIENTS[0]
    key = key_file(member, world.org.seed_of(member))
    document = world.client(member).get(f"/v1/documents/{doc_id}").json()
    box = world.client(member).get(f"/v1/documents/{doc_id}/sealed").json()["boxes"][0]
    raw = bytearray(b64d(box["box"], "box"))
    raw[-1] ^= 1
    from ledger.jsonfmt import b64e

    with pytest.raises(ProofFailed) as failed:
        open_sealed(document, [dict(box, box=b64e(bytes(raw)))], key)
    assert failed.value.check == "sealed_box"
    # a genuine box of another document, for the same recipient and key: opens, but misses the commitment
    other_id, _, _ = _submit(world, "two")
    other_box = world.client(member).get(f"/v1/documents/{other_id}/sealed").json()["boxes"]
    with pytest.raises(ProofFailed) as failed:
        open_sealed(document, other_box, key)
    assert failed.value.check == "commitment"
    assert open_sealed(document, [box], key) == body  # the untouched box still opens


def test_boxes_for_strangers_or_unregistered_keys_are_refused_at_submission(sealed_world):
    world, _, _, _ = sealed_world
    doc, _ = _minutes(world, "bad")
    signer = [(SECRETARY, world.org.seed_of(SECRETARY))]
    good = {"m0012": [public_key(world.org.seed_of("m0012"))]}
    data = sign_confidential(doc, signer, good)
    envelope, boxes = split_submission(data)
    from ledger.sealing import SealedBox, submission_bytes

    stranger = SealedBox(recipient="m0099", key=boxes[0].key, box=boxes[0].box)
    r = world.client(None).post("/v1/documents", content=submission_bytes(envelope, [stranger]),
                                headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 400 and r.json()["field"] == "sealed[0].recipient"
    wrong_key = SealedBox(recipient="m0012", key=public_key(bytes(32)), box=boxes[0].box)
    r = world.client(None).post("/v1/documents", content=submission_bytes(envelope, [wrong_key]),
                                headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 400 and r.json()["field"] == "sealed[0].key"


def test_catch_up_carries_the_boxes_and_audit_replay_reaches_the_same_blocks(sealed_world):
    world, doc_id, _, data = sealed_world
    ledger = world.service.ledger
    height = ledger.document(doc_id)["height"]
    proposal = ledger.proposal(height)
    assert data in proposal.envelopes  # the submission, boxes and all, as proposed
    caught_up, replayed = Ledger(MemoryStore(), world.genesis), Ledger(MemoryStore(), world.genesis)
    for h in range(1, ledger.height + 1):
        p = ledger.proposal(h)
        assert caught_up.apply_block(p).header.hash == ledger.header(h).hash
        bare = type(p)(height=p.height, prev_hash=p.prev_hash, timestamp=p.timestamp, proposer=p.proposer,
                       term=p.term, envelopes=tuple(envelope_of(e) for e in p.envelopes))
        assert replayed.apply_block(bare).header.hash == ledger.header(h).hash
    assert [b.to_obj() for b in caught_up.sealed(doc_id)] == [b.to_obj() for b in ledger.sealed(doc_id)]
    assert replayed.sealed(doc_id) == [] and replayed.document(doc_id)["status"] == "accepted"


def test_malformed_boxes_in_a_proposal_are_dropped_not_decisive(sealed_world):
    world, _, _, _ = sealed_world
    doc, _ = _minutes(world, "malformed")
    data = sign_confidential(doc, [(SECRETARY, world.org.seed_of(SECRETARY))],
                             {"m0012": [public_key(world.org.seed_of("m0012"))]})
    obj = msgpack.unpackb(data, raw=False)
    obj["sealed"][0]["recipient"] = "m0099"  # a faulty leader proposes a box for a stranger
    world.service.apply([msgpack.packb(dict(sorted(obj.items())), use_bin_type=True)])
    status = world.service.ledger.block(world.service.ledger.height)["documents"][0]
    assert status["status"] == "accepted" and world.service.ledger.sealed(status["doc_id"]) == []
