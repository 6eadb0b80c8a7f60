"""Blocks: canonical proposal and header bytes, the Block JSON object, and the
certificate rule (a strict majority of the voters before the block signed
BLOCK_DOMAIN + the 32 raw bytes of the block hash)."""

from __future__ import annotations

import hashlib
import json

import msgpack
import pytest

from ledger.blocks import (
    ACCEPTED,
    REJECTED,
    Block,
    BlockProposal,
    BlockSignature,
    DocumentStatus,
    Header,
    TreeHead,
    check_certificate,
    quorum_size,
)
from ledger.encoding import canonical
from ledger.errors import InvalidInput, NotCanonical, ProofFailed
from ledger.jsonfmt import b64d
from ledger.keys import BLOCK_DOMAIN, public_key, sign

H1 = bytes(range(32))
H2 = bytes(range(32, 64))
H3 = bytes(range(64, 96))


def make_header(**changes) -> Header:
    fields = dict(height=3, prev_hash=H1, timestamp=1_700_000_000_000, proposer="n1", term=2,
                  tx_root=H2, log_size=10, log_root=H3)
    fields.update(changes)
    return Header(**fields)


def make_proposal(**changes) -> BlockProposal:
    fields = dict(height=1, prev_hash=H1, timestamp=5, proposer="n1", term=1, envelopes=(b"a", b"bc"))
    fields.update(changes)
    return BlockProposal(**fields)


def test_proposal_round_trips_through_canonical_bytes():
    p = make_proposal()
    data = p.to_bytes()
    assert BlockProposal.from_bytes(data) == p
    assert data == canonical({"envelopes": [b"a", b"bc"], "height": 1, "prev_hash": H1, "proposer": "n1",
                              "term": 1, "timestamp": 5})


def test_proposal_rejects_non_canonical_and_unknown_keys():
    obj = {"height": 1, "envelopes": [], "prev_hash": H1, "proposer": "n1", "term": 1, "timestamp": 5}
    unsorted = msgpack.packb(obj, use_bin_type=True)  # insertion order, not sorted
    with pytest.raises(NotCanonical):
        BlockProposal.from_bytes(unsorted)
    with pytest.raises(InvalidInput, match="extra"):
        BlockProposal.from_bytes(canonical({**obj, "extra": 1}))


@pytest.mark.parametrize(
    "field, value",
    [("height", 0), ("prev_hash", b"short"), ("timestamp", -1), ("proposer", ""), ("term", True),
     ("envelopes", [b"a"]), ("envelopes", ("text",))],
)
def test_proposal_checks_itself(field, value):
    with pytest.raises(InvalidInput) as info:
        make_proposal(**{field: value})
    assert info.value.field.startswith(field)


def test_block_hash_is_sha256_of_the_canonical_header():
    h = make_header()
    assert h.canonical == canonical(h.to_obj())
    assert h.hash == hashlib.sha256(h.canonical).digest()
    assert h.block_hash == h.hash.hex()
    assert Header.from_bytes(h.canonical) == h
    assert sorted(msgpack.unpackb(h.canonical)) == sorted(
        ["height", "prev_hash", "timestamp", "proposer", "term", "tx_root", "log_size", "log_root"])


def test_header_fields_use_lowercase_hex_for_hashes():
    h = make_header()
    fields = h.fields_json()
    assert fields == {"height": 3, "prev_hash": H1.hex(), "timestamp": 1_700_000_000_000, "proposer": "n1",
                      "term": 2, "tx_root": H2.hex(), "log_size": 10, "log_root": H3.hex()}
    assert Header.from_fields_json(fields) == h
    with pytest.raises(InvalidInput):
        Header.from_fields_json({**fields, "tx_root": H2.hex().upper()})


def test_any_header_change_changes_the_hash():
    base = make_header()
    for change in [dict(height=4), dict(prev_hash=H2), dict(timestamp=1), dict(proposer="n2"), dict(term=3),
                   dict(tx_root=H1), dict(log_size=11), dict(log_root=H1)]:
        assert make_header(**change).block_hash != base.block_hash, change


def test_block_json_is_the_design_format():
    h = make_header()
    block = Block(
        header=h,
        documents=(DocumentStatus(doc_id="ab" * 32, leaf_index=8, status=ACCEPTED),
                   DocumentStatus(doc_id="cd" * 32, leaf_index=None, status=REJECTED, reason="rejected: no")),
        certificate=(BlockSignature(node="n2", sig=b"\x02" * 64), BlockSignature(node="n1", sig=b"\x01" * 64)),
    )
    obj = block.to_json()
    assert list(obj) == ["height", "header", "header_fields", "block_hash", "certificate", "documents"]
    assert b64d(obj["header"]) == h.canonical and "=" not in obj["header"]
    assert obj["block_hash"] == h.block_hash
    assert [c["node"] for c in obj["certificate"]] == ["n1", "n2"]
    assert b64d(obj["certificate"][0]["sig"]) == b"\x01" * 64
    assert obj["documents"] == [
        {"doc_id": "ab" * 32, "leaf_index": 8, "status": "accepted"},
        {"doc_id": "cd" * 32, "leaf_index": None, "status": "rejected", "reason": "rejected: no"},
    ]
    assert '"leaf_index": null' in json.dumps(obj["documents"][1])
    assert [DocumentStatus.from_json(d) for d in obj["documents"]] == list(block.documents)


def test_tree_head_json():
    h = make_header()
    sth = TreeHead.of(h).to_json()
    assert sth == {"log_size": 10, "log_root": H3.hex(), "height": 3, "block_hash": h.block_hash,
                   "timestamp": 1_700_000_000_000, "certificate": []}


def test_status_reason_exactly_when_rejected():
    with pytest.raises(InvalidInput) as info:
        DocumentStatus(doc_id=None, leaf_index=None, status=REJECTED)
    assert info.value.field == "reason"
    with pytest.raises(InvalidInput):
        DocumentStatus(doc_id=None, leaf_index=0, status=ACCEPTED, reason="x")
    with pytest.raises(InvalidInput):
        DocumentStatus(doc_id=None, leaf_index=0, status="pending")


def test_leaf_index_is_null_exactly_when_rejected():
    """Only accepted envelopes are leaves of the document log."""
    assert DocumentStatus(doc_id=None, leaf_index=None, status=REJECTED, reason="x").leaf_index is None
    with pytest.raises(InvalidInput) as info:
        DocumentStatus(doc_id=None, leaf_index=0, status=REJECTED, reason="x")
    assert info.value.field == "leaf_index"
    for bad in (None, -1, True, "3"):
        with pytest.raises(InvalidInput) as info:
            DocumentStatus(doc_id=None, leaf_index=bad, status=ACCEPTED)
        assert info.value.field == "leaf_index"


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"doc_id": "ab" * 32, "leaf_index": None, "status": "accepted"}, "block.documents[2].leaf_index"),
        ({"doc_id": "ab" * 32, "leaf_index": 4, "status": "rejected", "reason": "r"}, "block.documents[2].leaf_index"),
        ({"doc_id": "ab" * 32, "leaf_index": "4", "status": "accepted"}, "block.documents[2].leaf_index"),
        ({"doc_id": "ab" * 32, "status": "accepted"}, "block.documents[2].leaf_index"),
        ({"doc_id": "AB" * 32, "leaf_index": 4, "status": "accepted"}, "block.documents[2].doc_id"),
        ({"doc_id": "ab" * 32 + "\n", "leaf_index": 4, "status": "accepted"}, "block.documents[2].doc_id"),
        ({"doc_id": "ab" * 32, "leaf_index": None, "status": "maybe"}, "block.documents[2].status"),
        ({"doc_id": "ab" * 32, "leaf_index": None, "status": "rejected"}, "block.documents[2].reason"),
        ({"doc_id": "ab" * 32, "leaf_index": 4, "status": "accepted", "reason": "r"}, "block.documents[2].reason"),
        (["ab" * 32, 4, "accepted"], "block.documents[2]"),
    ],
)
def test_status_from_json_names_the_bad_field(entry, field):
    with pytest.raises(InvalidInput) as info:
        DocumentStatus.from_json(entry, "block.documents[2]")
    assert info.value.field == field, str(info.value)


def test_status_from_json_accepts_null_leaf_for_rejected():
    entry = {"doc_id": None, "leaf_index": None, "status": "rejected", "reason": "not_canonical: x"}
    assert DocumentStatus.from_json(entry).to_json() == entry


# -- certificates -------------------------------------------------------------

SEEDS = {f"n{i}": bytes([i]) * 32 for i in range(1, 6)}
VOTERS3 = {n: public_key(SEEDS[n]) for n in ("n1", "n2", "n3")}
BLOCK_HASH = make_header().hash


def sig_of(node: str, message: bytes = BLOCK_HASH) -> BlockSignature:
    return BlockSignature(node=node, sig=sign(SEEDS[node], BLOCK_DOMAIN, message))


def test_quorum_is_a_strict_majority():
    assert [quorum_size(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]


def test_majority_certifies():
    assert check_certificate(BLOCK_HASH, [sig_of("n3"), sig_of("n1")], VOTERS3) == ["n1", "n3"]


def test_minority_does_not_certify():
    with pytest.raises(ProofFailed) as info:
        check_certificate(BLOCK_HASH, [sig_of("n1")], VOTERS3)
    assert info.value.check == "certificate"


def test_duplicate_signer_counts_once():
    with pytest.raises(ProofFailed, match="1 of 3"):
        check_certificate(BLOCK_HASH, [sig_of("n1"), sig_of("n1")], VOTERS3)


def test_non_voters_are_ignored():
    with pytest.raises(ProofFailed, match="1 of 3"):
        check_certificate(BLOCK_HASH, [sig_of("n1"), sig_of("n4"), sig_of("n5")], VOTERS3)


def test_bad_signature_of_a_voter_fails():
    bad = BlockSignature(node="n2", sig=sig_of("n1").sig)
    with pytest.raises(ProofFailed, match="n2 does not verify"):
        check_certificate(BLOCK_HASH, [sig_of("n1"), sig_of("n3"), bad], VOTERS3)


def test_signature_is_over_the_raw_hash_bytes_not_hex():
    hex_signed = [BlockSignature(node=n, sig=sign(SEEDS[n], BLOCK_DOMAIN, BLOCK_HASH.hex().encode()))
                  for n in VOTERS3]
    with pytest.raises(ProofFailed):
        check_certificate(BLOCK_HASH, hex_signed, VOTERS3)
    other_domain = [BlockSignature(node=n, sig=sign(SEEDS[n], b"minutebook/doc/v1\0", BLOCK_HASH)) for n in VOTERS3]
    with pytest.raises(ProofFailed):
        check_certificate(BLOCK_HASH, other_domain, VOTERS3)
