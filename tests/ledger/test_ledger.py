"""The ledger state machine: apply_block over MemoryStore and LevelDBStore,
accepted / rejected / duplicate documents, determinism across ledgers, the
certificate rule with voter changes, and the queries."""

from __future__ import annotations

import msgpack
import pytest

from client.verify import verify_receipt
from ledger.blocks import BlockProposal
from ledger.errors import AlreadyCommitted, CorruptionError, InvalidInput, NotFound, ProofFailed, Rejected
from ledger.encoding import decode_canonical
from ledger.jsonfmt import b64d
from ledger.keys import BLOCK_DOMAIN, sign
from ledger.ledger import BlockOutOfOrder, Ledger
from ledger.merkle import leaf_hash, root, verify_inclusion
from ledger.store import LevelDBStore, MemoryStore
from tests.ledger.ledger_builder import NODE_SEEDS, certify, drive, sample_world


@pytest.fixture(scope="module")
def world():
    return sample_world()


def test_apply_block_accepts_rejects_and_flags_duplicates(make_store, world):
    ledger = Ledger(make_store(), world.genesis)
    assert ledger.height == 0 and ledger.head() is None
    good = world.envelopes
    block = drive(ledger, [*good, world.make_rejected(1), good[0], b"\x93junk"])
    statuses = [d.status for d in block.documents]
    assert statuses == ["accepted"] * len(good) + ["rejected"] * 3
    rejected, duplicate, junk = block.documents[len(good):]
    assert rejected.reason.startswith("rejected: ")
    assert duplicate.doc_id == block.documents[0].doc_id and duplicate.reason.startswith("duplicate: ")
    assert junk.doc_id is None and junk.reason.startswith("not_canonical: ")
    # only accepted envelopes are leaves; tx_root still covers every envelope
    envs = [*good, world.make_rejected(1), good[0], b"\x93junk"]
    assert [d.leaf_index for d in block.documents] == [*range(len(good)), None, None, None]
    assert block.header.log_size == len(good)
    assert block.header.tx_root == root([leaf_hash(e) for e in envs])
    assert block.header.log_root == root([leaf_hash(e) for e in good])  # first block: the log is its accepted
    # a later duplicate is rejected too, and the original's record is untouched
    block2 = drive(ledger, [good[1]])
    assert block2.documents[0].status == "rejected" and f"at leaf {1}" in block2.documents[0].reason
    assert block2.documents[0].leaf_index is None and block2.header.log_size == len(good)
    assert ledger.document(block.documents[1].doc_id)["leaf_index"] == 1
    assert ledger.block(1)["documents"] == [d.to_json() for d in block.documents]


def test_one_write_batch_per_block():
    world = sample_world()
    store = MemoryStore()
    ledger = Ledger(store, world.genesis)
    before = store.writes
    drive(ledger, world.envelopes)
    assert store.writes == before + 1


def test_two_ledgers_applying_the_same_proposals_agree(tmp_path, world):
    a = Ledger(MemoryStore(), world.genesis)
    b = Ledger(LevelDBStore(str(tmp_path / "b")), world.genesis)
    proposals = []
    for chunk in (world.envelopes[:3], [world.make_rejected(2), *world.envelopes[3:]], [], [world.envelopes[0]]):
        p = BlockProposal(height=a.height + 1, prev_hash=a.head_hash, timestamp=10 + a.height, proposer="n2",
                          term=3, envelopes=tuple(chunk))
        proposals.append(p)
        block_a = a.apply_block(p)
        block_b = b.apply_block(BlockProposal.from_bytes(p.to_bytes()))
        assert block_a == block_b
    assert a.head().block_hash == b.head().block_hash
    for h in range(1, a.height + 1):
        assert a.block(h) == b.block(h)
        assert a.proposal(h) == proposals[h - 1]


def test_leveldb_ledger_reopens_and_continues(tmp_path, world):
    path = str(tmp_path / "db")
    store = LevelDBStore(path)
    ledger = Ledger(store, world.genesis)
    drive(ledger, world.envelopes[:2])
    ledger.apply_block(BlockProposal(height=2, prev_hash=ledger.head_hash, timestamp=ledger.head().timestamp + 5, proposer="n1", term=1,
                                     envelopes=(world.envelopes[2],)), raft_index=17)
    head = ledger.head()
    store.close()
    store = LevelDBStore(path, check_on_open=[b"h"])
    again = Ledger(store, world.genesis)
    assert again.height == 2 and again.head() == head and again.raft_applied == 17
    drive(again, world.envelopes[3:])
    assert again.height == 3
    store.close()


def test_other_genesis_is_refused(world):
    store = MemoryStore()
    Ledger(store, world.genesis)
    other = {**world.genesis, "chain_id": "other"}
    with pytest.raises(InvalidInput):
        Ledger(store, other)


def test_out_of_order_proposal_is_a_broken_invariant(world):
    ledger = Ledger(MemoryStore(), world.genesis)
    gap = BlockProposal(height=2, prev_hash=ledger.head_hash, timestamp=1, proposer="n1", term=1, envelopes=())
    fork = BlockProposal(height=1, prev_hash=bytes(32), timestamp=1, proposer="n1", term=1, envelopes=())
    for p in (gap, fork):
        assert not ledger.is_next(p)
        with pytest.raises(BlockOutOfOrder) as info:
            ledger.apply_block(p)
        assert isinstance(info.value, CorruptionError)
    assert ledger.height == 0


def test_block_signatures_and_certificate(world):
    ledger = Ledger(MemoryStore(), world.genesis)
    block = drive(ledger, world.envelopes)
    h = block.header.hash
    assert not ledger.is_certified(1)
    assert not ledger.add_block_signature(1, "n9", sign(b"\x09" * 32, BLOCK_DOMAIN, h))  # not a voter
    assert not ledger.add_block_signature(1, "n1", sign(NODE_SEEDS["n2"], BLOCK_DOMAIN, h))  # wrong key
    assert not ledger.add_block_signature(1, "n1", sign(NODE_SEEDS["n1"], BLOCK_DOMAIN, h.hex().encode()))
    assert ledger.add_block_signature(1, "n1", sign(NODE_SEEDS["n1"], BLOCK_DOMAIN, h))
    assert not ledger.is_certified(1)
    assert ledger.add_block_signature(1, "n3", sign(NODE_SEEDS["n3"], BLOCK_DOMAIN, h))
    assert ledger.is_certified(1)
    assert [s.node for s in ledger.certificate(1)] == ["n1", "n3"]
    assert ledger.tree_head(certified=True)["height"] == 1
    with pytest.raises(NotFound):
        ledger.add_block_signature(2, "n1", sign(NODE_SEEDS["n1"], BLOCK_DOMAIN, h))


def test_voter_changes_follow_node_documents(world):
    """Block 2 removes n3 and adds n4, n5: blocks <= 2 are certified by the
    genesis voters; block 3 on by n1, n2, n4, n5. A receipt from block 3 carries
    the node documents as membership, and verifies only with them."""
    ledger = Ledger(MemoryStore(), world.genesis)
    drive(ledger, world.envelopes[:2])
    certify(ledger, 1, ["n1", "n2"])
    changes = [world.make_node_doc("remove", "n3"), world.make_node_doc("add", "n4", created_at=5001),
               world.make_node_doc("add", "n5", created_at=5002), world.make_node_doc("add", "n6", "learner", 5003)]
    block2 = drive(ledger, changes)
    assert [d.status for d in block2.documents] == ["accepted"] * 4
    assert sorted(ledger.voters_at(2)) == ["n1", "n2", "n3"]
    assert sorted(ledger.voters_at(3)) == ["n1", "n2", "n4", "n5"]
    certify(ledger, 2, ["n2", "n3"])
    assert ledger.is_certified(2)
    block3 = drive(ledger, world.envelopes[2:])
    assert not ledger.add_block_signature(3, "n3", sign(NODE_SEEDS["n3"], BLOCK_DOMAIN, block3.header.hash))
    certify(ledger, 3, ["n1", "n4"])
    assert not ledger.is_certified(3)  # 2 of 4 is not a strict majority
    certify(ledger, 3, ["n5"])
    assert ledger.is_certified(3)
    assert sorted(ledger.voters_at(10)) == ["n1", "n2", "n4", "n5"]

    early = ledger.receipt(block2.documents[0].doc_id)
    assert "membership" not in early
    verify_receipt(early, world.genesis)
    receipt = ledger.receipt(block3.documents[0].doc_id)
    assert [m["doc_id"] for m in receipt["membership"]] == [d.doc_id for d in block2.documents]
    assert verify_receipt(receipt, world.genesis).voters == ("n1", "n2", "n4", "n5")
    without = {k: v for k, v in receipt.items() if k != "membership"}
    with pytest.raises(ProofFailed) as info:
        verify_receipt(without, world.genesis)
    assert info.value.check == "certificate"
    partial = {**receipt, "membership": receipt["membership"][:1]}
    with pytest.raises(ProofFailed) as info:
        verify_receipt(partial, world.genesis)
    assert info.value.check == "certificate"
    forged = {**receipt, "membership": [{**receipt["membership"][1], "leaf_index": 0}]}
    with pytest.raises(ProofFailed) as info:
        verify_receipt(forged, world.genesis)
    assert info.value.check == "membership"


def test_receipt_and_queries(world):
    ledger = Ledger(MemoryStore(), world.genesis)
    b1 = drive(ledger, [*world.envelopes[:3], world.make_rejected(5)])
    b2 = drive(ledger, world.envelopes[3:])
    doc_id = b1.documents[1].doc_id
    receipt = ledger.receipt(doc_id)
    assert list(receipt) == ["doc_id", "envelope", "leaf_index", "inclusion_proof", "block"]
    assert receipt["block"]["height"] == 1
    header = b1.header
    verify_inclusion(leaf_hash(b64d(receipt["envelope"])), 1, header.log_size,
                     [bytes.fromhex(h) for h in receipt["inclusion_proof"]], header.log_root)
    with pytest.raises(Rejected):
        ledger.receipt(b1.documents[3].doc_id)
    with pytest.raises(NotFound):
        ledger.receipt("ab" * 32)
    with pytest.raises(InvalidInput):
        ledger.document("xyz")
    doc = ledger.document(doc_id)
    assert doc["status"] == "accepted" and doc["height"] == 1 and doc["leaf_index"] == 1
    assert ledger.document(b1.documents[3].doc_id)["status"] == "rejected"
    with pytest.raises(AlreadyCommitted) as info:
        ledger.check_submission(world.envelopes[0])
    assert info.value.receipt == ledger.receipt(b1.documents[0].doc_id)
    with pytest.raises(Rejected):
        ledger.check_submission(world.make_rejected(9))
    assert ledger.check_submission(world.make_doc(1)).doc_id
    proof = ledger.consistency_proof(b1.header.log_size, b2.header.log_size)
    assert proof["first"] == 3 and proof["second"] == b2.header.log_size  # the rejected one is no leaf
    with pytest.raises(InvalidInput):
        ledger.consistency_proof(0, 3)
    with pytest.raises(InvalidInput):
        ledger.consistency_proof(3, 99)
    tree_head = ledger.tree_head()
    assert tree_head["height"] == 2 and tree_head["log_size"] == b2.header.log_size
    assert ledger.tree_head(certified=True)["height"] == 0
    with pytest.raises(NotFound):
        ledger.block(3)


def test_documents_by_unit_member_type(world):
    ledger = Ledger(MemoryStore(), world.genesis)
    block = drive(ledger, [*world.envelopes, world.make_rejected(3)])
    accepted = [d.doc_id for d in block.documents if d.status == "accepted"]
    by_unit = [d["doc_id"] for d in ledger.documents_by("unit", "root", limit=None)]
    assert sorted(by_unit) == sorted(accepted)
    created = [d["doc"]["created_at"] for d in ledger.documents_by("unit", "root", limit=None)]
    assert created == sorted(created)
    assert len(list(ledger.documents_by("unit", "root", limit=2))) == 2
    newest = list(ledger.documents_by("unit", "root", reverse=True, limit=1))[0]
    assert newest["doc"]["created_at"] == max(created)
    window = list(ledger.documents_by("unit", "root", since_ms=created[1], until_ms=created[2], limit=None))
    assert [d["doc"]["created_at"] for d in window] == created[1:3]
    types = {d["doc"]["type"] for d in ledger.documents_by("unit", "root", limit=None)}
    for t in types:
        assert all(d["doc"]["type"] == t for d in ledger.documents_by("type", t, limit=None))
    signer = decode_canonical(b64d(ledger.document(accepted[0])["envelope"]))["sigs"][0]["signer"]
    assert accepted[0] in [d["doc_id"] for d in ledger.documents_by("member", signer, limit=None)]
    assert list(ledger.documents_by("member", "nobody")) == []
    with pytest.raises(InvalidInput):
        list(ledger.documents_by("colour", "red"))


def test_an_envelope_admitted_here_is_not_verified_again_when_its_block_applies(world, monkeypatch):
    """Each node verifies each signature once: the leader's admission keeps the envelope it
    decoded and verified, and applying takes it by its bytes. A node that did not admit it
    (a follower) verifies at apply; the registry rules run again either way."""
    import ledger.documents as documents

    calls = []
    real = documents.verify
    monkeypatch.setattr(documents, "verify", lambda *a: calls.append(a) or real(*a))
    two = [world.make_doc(i, 2) for i in range(3)]
    leader, follower = Ledger(MemoryStore(), world.genesis), Ledger(MemoryStore(), world.genesis)
    for envelope in two:
        leader.check_submission(envelope)
    assert len(calls) == 6
    drive(leader, two)
    assert len(calls) == 6  # none again on the leader
    drive(follower, two)
    assert len(calls) == 12  # the follower verifies each once
    assert leader.head() == follower.head()
    # the registry rules still run on apply: the same admitted envelope twice in one block is accepted once
    third = world.make_doc(10, 2)
    leader.check_submission(third)
    block = drive(leader, [third, third])
    assert [d.status for d in block.documents] == ["accepted", "rejected"]


def _resigned(org, envelope, change) -> bytes:
    """`envelope` with its doc changed by `change(doc_obj)` and signed again by the same signers,
    sorted and packed with nothing checked: a well-signed document no schema has looked at."""
    import copy

    from ledger.encoding import canonical_of_checked
    from ledger.keys import DOC_DOMAIN

    obj = copy.deepcopy(envelope.to_obj())
    change(obj["doc"])
    doc_bytes = canonical_of_checked(obj["doc"])
    obj["sigs"] = [dict(s, sig=sign(org.seeds[s["signer"]], DOC_DOMAIN, doc_bytes)) for s in obj["sigs"]]
    return canonical_of_checked(obj)


def test_certified_fast_path_makes_what_the_full_path_makes(monkeypatch):
    """A certified block applied on the fast path (no canonical proof, no body schema, no
    signature checks for what it accepts) ends exactly as on the source: same header, same
    statuses and reasons, same registry state. Documents the voters refused -- bodies no schema
    would pass, that make the registry rules raise or refuse them, a non-canonical encoding, a
    duplicate -- are judged again the full way, and only they. A refused document the unchecked
    rules would accept (a body with a decomposed string) makes another header: the block is
    refused on the fast path, writes nothing, and the full path applies it."""
    import unicodedata

    from ledger.documents import Envelope
    from ledger.registry import Registry
    from tests.ledger.factory import make_org

    org = make_org(6)
    cell = "central/p1/k1/s1"
    genesis = org.genesis
    seeds = org.node_seeds
    source, fresh = Ledger(MemoryStore(), genesis), Ledger(MemoryStore(), genesis)
    valid = [org.minutes(cell) for _ in range(4)]
    base = org.minutes(cell)
    hostile = [
        _resigned(org, base, lambda d: d["body"].update(chair=5)),              # a number where a member goes
        _resigned(org, base, lambda d: d["body"].update(chair=["x"])),          # a list there
        _resigned(org, base, lambda d: d["body"].pop("chair")),                 # missing: the rules raise KeyError
        _resigned(org, base, lambda d: d.update(body=[1, 2])),                  # no map at all
        msgpack.packb(valid[0].to_obj(), use_bin_type=True),                    # keys unsorted: not canonical
        valid[1].to_bytes(),                                                    # a duplicate in the block
        org.minutes(cell, chair=org.plain(cell), signers=[org.officer(cell, "secretary")]).to_bytes(),
    ]
    block_a = [valid[0].to_bytes(), valid[1].to_bytes(), *hostile, valid[2].to_bytes()]
    block_b = [valid[3].to_bytes(),
               _resigned(org, base, lambda d: d["body"].update(text=unicodedata.normalize("NFD", "Việt Nam")))]
    for envelopes in (block_a, block_b):
        drive(source, envelopes)
        certify(source, source.height, ["n1", "n2"], seeds)
    a, b = source.block_object(1), source.block_object(2)
    assert [d.status for d in a.documents] == ["accepted"] * 2 + ["rejected"] * len(hostile) + ["accepted"]
    assert [d.status for d in b.documents] == ["accepted", "rejected"]

    full_decodes = []
    real = Envelope.from_bytes.__func__
    monkeypatch.setattr(Envelope, "from_bytes", classmethod(lambda cls, data: full_decodes.append(data) or
                                                            real(cls, data)))
    fresh.apply_block(source.proposal(1), certified=(source.header(1), source.certificate(1)))
    assert fresh.head() == source.header(1)
    assert fresh.block(1)["documents"] == source.block(1)["documents"]  # reasons too
    assert sorted(full_decodes) == sorted(hostile)  # only the refused ones were judged the full way
    with pytest.raises(InvalidInput) as refused:
        fresh.apply_block(source.proposal(2), certified=(source.header(2), source.certificate(2)))
    assert refused.value.field == "header" and fresh.height == 1
    fresh.apply_block(source.proposal(2), vouch=lambda header: None)
    assert fresh.head() == source.head() and fresh.block(2)["documents"] == source.block(2)["documents"]
    assert Registry(fresh.store).state_hash() == Registry(source.store).state_hash()
