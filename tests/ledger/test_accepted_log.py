"""Only accepted envelopes are leaves of the document log (ledger/blocks.py,
ledger/ledger.py "Theory of operation"): blocks mixing accepted and rejected
envelopes, the storage of rejected envelopes, the rebuilt proposal, the
header shown to a vouching check before anything is written, and a rejected
document accepted later."""

from __future__ import annotations

import json

import pytest

from client.verify import verify_receipt
from ledger.blocks import BlockProposal
from ledger.documents import Document, make_envelope
from ledger.errors import CorruptionError, Rejected
from ledger.jsonfmt import b64d
from ledger.ledger import BlockOutOfOrder, Ledger
from ledger.merkle import leaf_hash, root
from ledger.store import LevelDBStore, MemoryStore
from tests.ledger.factory import SAMPLE_SEEDS
from tests.ledger.ledger_builder import certify, drive, sample_world


@pytest.fixture(scope="module")
def world():
    return sample_world()


def suspension(created_at: int = 2999) -> bytes:
    """m3 suspended: after it, ``world.make_rejected(i)`` (m3 reinstated) is accepted."""
    doc = Document(v=1, type="member_status", org="root", refs=(), created_at=created_at, nonce=bytes(16),
                   body={"member": "m3", "change": "suspended", "effective_at": 1, "reason": "absent"})
    return make_envelope(doc, [("m1", SAMPLE_SEEDS["m1"])]).to_bytes()


def proposal_on(ledger: Ledger, envelopes, timestamp: int | None = None) -> BlockProposal:
    return BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                         timestamp=timestamp or 1_700_000_000_000 + ledger.height, proposer="n2", term=2,
                         envelopes=tuple(envelopes))


def mixed(world) -> list[bytes]:
    """Accepted, rejected by the registry, accepted, undecodable, duplicate, accepted."""
    g = world.envelopes
    return [g[0], world.make_rejected(1), g[1], b"\x93junk", g[0], g[2]]


def everything(store) -> dict:
    return dict(store.scan(b""))


def test_log_grows_by_the_accepted_envelopes_only(make_store, world):
    ledger = Ledger(make_store(), world.genesis)
    envs = mixed(world)
    p1 = proposal_on(ledger, envs)
    b1 = ledger.apply_block(p1)
    assert [d.status for d in b1.documents] == ["accepted", "rejected", "accepted", "rejected", "rejected",
                                                 "accepted"]
    assert [d.leaf_index for d in b1.documents] == [0, None, 1, None, None, 2]
    accepted = [envs[0], envs[2], envs[5]]
    assert b1.header.log_size == 3
    assert b1.header.log_root == root([leaf_hash(e) for e in accepted])
    assert b1.header.tx_root == root([leaf_hash(e) for e in envs])  # the rejected ones are committed to
    # the next block's leaves follow on from the accepted ones
    b2 = ledger.apply_block(proposal_on(ledger, [world.make_rejected(2), world.envelopes[3]]))
    assert [d.leaf_index for d in b2.documents] == [None, 3]
    assert b2.header.log_size == 4
    assert ledger.consistency_proof(3, 4)["second"] == 4
    # the Block JSON: null leaf_index for the rejected, as stored and served
    served = ledger.block(1)
    assert served["documents"] == [d.to_json() for d in b1.documents]
    assert json.loads(json.dumps(served))["documents"][1] == {
        "doc_id": b1.documents[1].doc_id, "leaf_index": None, "status": "rejected",
        "reason": b1.documents[1].reason}
    assert '"leaf_index": null' in json.dumps(served)
    # the proposal is rebuilt byte for byte, rejected envelopes in their places
    assert ledger.proposal(1).to_bytes() == p1.to_bytes()
    assert ledger.proposal(2).envelopes[0] == world.make_rejected(2)


def test_rejected_document_is_queryable_but_has_no_receipt(make_store, world):
    ledger = Ledger(make_store(), world.genesis)
    refused = world.make_rejected(1)
    block = drive(ledger, [world.envelopes[0], refused])
    status = block.documents[1]
    doc = ledger.document(status.doc_id)
    assert doc["status"] == "rejected" and doc["reason"] == status.reason
    assert doc["reason"].startswith("rejected: body.change: reinstated")
    assert doc["leaf_index"] is None and doc["height"] == 1
    assert b64d(doc["envelope"]) == refused and doc["doc"]["body"]["change"] == "reinstated"
    with pytest.raises(Rejected) as info:
        ledger.receipt(status.doc_id)
    assert status.reason in str(info.value)
    # a later rejection of the same document replaces the record (the latest rejection)
    drive(ledger, [world.envelopes[1], refused])
    assert ledger.document(status.doc_id)["height"] == 2


def test_rejected_then_accepted_later_gets_a_receipt_that_verifies(make_store, world):
    ledger = Ledger(make_store(), world.genesis)
    refused = world.make_rejected(7)
    b1 = drive(ledger, [world.envelopes[0], refused])
    doc_id = b1.documents[1].doc_id
    assert b1.documents[1].status == "rejected"
    b2 = drive(ledger, [suspension(), refused])
    assert [(d.status, d.leaf_index) for d in b2.documents] == [("accepted", 1), ("accepted", 2)]
    doc = ledger.document(doc_id)
    assert (doc["status"], doc["leaf_index"], doc["height"]) == ("accepted", 2, 2)
    certify(ledger, 2, ["n1", "n2"])
    receipt = ledger.receipt(doc_id)
    assert receipt["leaf_index"] == 2 and receipt["block"]["height"] == 2
    assert verify_receipt(receipt, world.genesis).leaf_index == 2
    # block 1 still says it was rejected there; a duplicate of the accepted one is now refused
    assert ledger.block(1)["documents"][1]["status"] == "rejected"
    b3 = drive(ledger, [refused])
    assert b3.documents[0].status == "rejected" and "already accepted at leaf 2" in b3.documents[0].reason
    assert ledger.document(doc_id)["leaf_index"] == 2


def test_leveldb_ledger_reopened_after_mixed_blocks_is_the_same(tmp_path, world):
    path = str(tmp_path / "db")
    store = LevelDBStore(path)
    ledger = Ledger(store, world.genesis)
    proposals = [proposal_on(ledger, mixed(world))]
    ledger.apply_block(proposals[-1])
    proposals.append(proposal_on(ledger, [world.make_rejected(3), suspension(), world.make_rejected(3)]))
    ledger.apply_block(proposals[-1])
    before = ([ledger.block(h) for h in (1, 2)], ledger.head_hash, ledger.tree_head())
    refused = ledger.block(1)["documents"][1]["doc_id"]
    doc_before = ledger.document(refused)
    store.close()
    store = LevelDBStore(path, check_on_open=[b"h"])
    again = Ledger(store, world.genesis)
    try:
        assert ([again.block(h) for h in (1, 2)], again.head_hash, again.tree_head()) == before
        assert [again.proposal(h).to_bytes() for h in (1, 2)] == [p.to_bytes() for p in proposals]
        assert again.document(refused) == doc_before
        block3 = drive(again, [world.envelopes[3], world.make_rejected(4)])
        assert block3.documents[0].leaf_index == before[2]["log_size"]
    finally:
        store.close()


def test_a_refused_vouch_writes_nothing_and_saw_the_header_apply_makes(world):
    """Catch-up validates a fetched block once: apply_block stages it, shows the header to
    `vouch` (the certificate check) and writes nothing if it raises. The header depends on
    the registry checks (which envelopes are leaves), so it cannot be predicted otherwise."""
    from ledger.errors import ProofFailed

    store = MemoryStore()
    ledger = Ledger(store, world.genesis)
    drive(ledger, world.envelopes[:2])
    # whether the second reinstatement is a leaf depends on the registry state the first block leaves
    proposal = proposal_on(ledger, [world.make_rejected(5), suspension(), world.make_rejected(5), b"junk"])
    snapshot, writes, head = everything(store), store.writes, ledger.head()
    seen = []

    def refuse(header):
        seen.append(header)
        raise ProofFailed("certificate", "no majority")

    for _ in range(2):  # nothing leaked into the next attempt either
        with pytest.raises(ProofFailed):
            ledger.apply_block(proposal, vouch=refuse)
    assert seen[0] == seen[1] and seen[0].log_size == 4
    assert everything(store) == snapshot and store.writes == writes
    assert (ledger.height, ledger.head()) == (1, head)
    block = ledger.apply_block(proposal, vouch=seen.append)
    assert [d.status for d in block.documents] == ["rejected", "accepted", "accepted", "rejected"]
    assert block.header == seen[0] == seen[-1] == ledger.header(2) and ledger.height == 2
    assert Ledger(store, world.genesis).head() == seen[0]
    with pytest.raises(BlockOutOfOrder):
        ledger.apply_block(proposal, vouch=seen.append)  # no longer extends the head


def test_two_ledgers_and_a_catch_up_replay_agree(tmp_path, world):
    a = Ledger(MemoryStore(), world.genesis)
    b = Ledger(LevelDBStore(str(tmp_path / "b")), world.genesis)
    chunks = [mixed(world), [world.make_rejected(6)], [], [suspension(), world.make_rejected(6), b"\xc1"],
              [world.envelopes[4], world.make_rejected(6)]]
    try:
        for chunk in chunks:
            p = proposal_on(a, chunk)
            assert a.apply_block(p) == b.apply_block(BlockProposal.from_bytes(p.to_bytes()))
        assert a.head_hash == b.head_hash and a.tree_head() == b.tree_head()
        # a third ledger fed the proposals a serves (node/catchup.py) ends at the same head
        c = Ledger(MemoryStore(), world.genesis)
        for h in range(1, a.height + 1):
            served = BlockProposal.from_bytes(a.proposal(h).to_bytes())
            assert c.apply_block(served).header == a.header(h)
            assert c.block(h) == a.block(h) == b.block(h)
    finally:
        b.store.close()


def test_membership_receipts_skip_the_rejected_envelopes(world):
    """The node documents before a block are those below its first *accepted*
    leaf; with rejected envelopes around them the receipt still verifies."""
    ledger = Ledger(MemoryStore(), world.genesis)
    drive(ledger, [world.envelopes[0], world.make_rejected(1)])
    certify(ledger, 1, ["n1", "n2"])
    changes = [world.make_rejected(2), world.make_node_doc("remove", "n3"),
               world.make_node_doc("add", "n4", created_at=5001), world.make_rejected(3)]
    drive(ledger, changes)
    certify(ledger, 2, ["n1", "n2"])
    block3 = drive(ledger, [world.make_rejected(4), world.envelopes[1], world.make_rejected(5)])
    certify(ledger, 3, ["n1", "n4"])
    receipt = ledger.receipt(block3.documents[1].doc_id)
    assert [m["leaf_index"] for m in receipt["membership"]] == [1, 2]
    assert verify_receipt(receipt, world.genesis).voters == ("n1", "n2", "n4")


def test_a_lost_rejected_envelope_is_corruption(world):
    store = MemoryStore()
    ledger = Ledger(store, world.genesis)
    drive(ledger, mixed(world))
    key = next(k for k, _ in store.scan(b"e/"))
    store.write({key: None})
    with pytest.raises(CorruptionError):
        ledger.proposal(1)


@pytest.mark.parametrize("version", [None, b"1", b"2", b"4"])
def test_a_store_of_another_layout_version_is_refused_on_open(world, version):
    """A store written before format versions (leaves for rejected envelopes too), or by another
    layout, is refused with a message saying what to do, rather than served wrongly."""
    store = MemoryStore()
    ledger = Ledger(store, world.genesis)
    drive(ledger, world.envelopes[:2])
    store.write({b"x/format": version})
    with pytest.raises(CorruptionError, match="format .* is not '3'.*empty data directory"):
        Ledger(store, world.genesis)
    store.write({b"x/format": b"3"})
    assert Ledger(store, world.genesis).height == 1
