"""The offline verifier: a good receipt passes; a receipt tampered in any
field fails, naming the check that caught it (client/verify.py lists them)."""

from __future__ import annotations

import copy
import hashlib
import json

import msgpack
import pytest
from click.testing import CliRunner

from client.cli import main
from client.verify import verify_consistency_proof, verify_receipt
from ledger.blocks import BlockSignature, Header
from ledger.encoding import canonical, decode_canonical
from ledger.errors import ProofFailed
from ledger.jsonfmt import b64d, b64e
from ledger.keys import BLOCK_DOMAIN, sign
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from tests.ledger.ledger_builder import NODE_SEEDS, certify, drive, sample_world


@pytest.fixture(scope="module")
def world():
    return sample_world()


@pytest.fixture(scope="module")
def chain(world):
    """Block 1: every sample document; block 2: one more; both certified by
    exactly a majority (n1, n2) of the genesis voters n1..n3, so that any
    certificate entry tampered with leaves a minority."""
    ledger = Ledger(MemoryStore(), world.genesis)
    drive(ledger, world.envelopes[:-1])
    drive(ledger, world.envelopes[-1:])
    for h in (1, 2):
        certify(ledger, h, ["n1", "n2"])
    return ledger


@pytest.fixture(scope="module")
def good(chain, world):
    block = chain.block(1)
    # a two-signature document in the middle of the block
    for entry in block["documents"][1:]:
        receipt = chain.receipt(entry["doc_id"])
        if len(decode_canonical(b64d(receipt["envelope"]))["sigs"]) >= 2:
            return receipt
    pytest.fail("the sample world has no two-signature document")


@pytest.fixture(scope="module")
def good_v1(chain, good):
    """The same receipt in the earlier format: its block carries the status list of every
    envelope (the whole Block object). Such receipts were handed out and must still verify."""
    return dict(copy.deepcopy(good), block=chain.block(good["block"]["height"]))


def test_receipts_carry_no_status_list_and_old_ones_still_verify(good, good_v1, world):
    assert "documents" not in good["block"] and good_v1["block"]["documents"]
    assert verify_receipt(good_v1, world.genesis) == verify_receipt(good, world.genesis)
    assert len(json.dumps(good)) < len(json.dumps(good_v1))


def fails(receipt, genesis, check):
    with pytest.raises(ProofFailed) as info:
        verify_receipt(receipt, genesis)
    assert info.value.check == check, str(info.value)
    return info.value


def tampered(receipt, mutate):
    r = copy.deepcopy(receipt)
    mutate(r)
    return r


def flip_hex(text: str, bit: int) -> str:
    raw = bytearray(bytes.fromhex(text))
    raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def flip_b64(text: str, byte: int) -> str:
    raw = bytearray(b64d(text))
    raw[byte] ^= 0x01
    return b64e(bytes(raw))


def test_good_receipt_verifies(good, world):
    result = verify_receipt(good, world.genesis)
    assert result.doc_id == good["doc_id"]
    assert result.height == 1
    assert result.certified_by == ("n1", "n2")
    assert result.voters == ("n1", "n2", "n3")
    assert result.leaf_index == good["leaf_index"]


def test_every_sample_document_has_a_verifying_receipt(chain, world):
    for h in (1, 2):
        for entry in chain.block(h)["documents"]:
            assert entry["status"] == "accepted", entry
            verify_receipt(chain.receipt(entry["doc_id"]), world.genesis)


# -- the receipt's own fields ---------------------------------------------------

@pytest.mark.parametrize("key", ["doc_id", "envelope", "leaf_index", "inclusion_proof", "block"])
def test_missing_field_fails_shape(good, world, key):
    fails(tampered(good, lambda r: r.pop(key)), world.genesis, "shape")


@pytest.mark.parametrize(
    "key, value",
    [("doc_id", "AB" * 32), ("doc_id", 5), ("envelope", "not base64!"), ("leaf_index", -1), ("leaf_index", "3"),
     ("inclusion_proof", "00"), ("inclusion_proof", ["zz"]), ("block", [])],
)
def test_wrong_type_fails_shape(good, world, key, value):
    fails(tampered(good, lambda r: r.__setitem__(key, value)), world.genesis, "shape")


def test_other_doc_id_fails_doc_id(good, world):
    fails(tampered(good, lambda r: r.__setitem__("doc_id", "ab" * 32)), world.genesis, "doc_id")


def test_every_envelope_byte_flipped_fails(good, world):
    """Each byte of the envelope flipped: it no longer decodes, or it is
    another document, or its signatures fail, or (a signer's name is not
    signed) it is not the leaf the log holds."""
    size = len(b64d(good["envelope"]))
    for i in range(size):
        with pytest.raises(ProofFailed) as info:
            verify_receipt(tampered(good, lambda r: r.__setitem__("envelope", flip_b64(r["envelope"], i))),
                           world.genesis)
        assert info.value.check in ("envelope", "doc_id", "signatures", "inclusion"), (i, str(info.value))


def _resigned(receipt, change):
    obj = decode_canonical(b64d(receipt["envelope"]))
    change(obj)
    return tampered(receipt, lambda r: r.__setitem__("envelope", b64e(canonical(obj))))


def test_flipped_signature_fails_signatures(good, world):
    for i in range(len(decode_canonical(b64d(good["envelope"]))["sigs"])):
        def change(obj, i=i):
            sig = bytearray(obj["sigs"][i]["sig"])
            sig[10] ^= 0x40
            obj["sigs"][i]["sig"] = bytes(sig)
        fails(_resigned(good, change), world.genesis, "signatures")


def test_non_canonical_envelope_fails_envelope(good, world):
    obj = decode_canonical(b64d(good["envelope"]))
    unsorted = msgpack.packb({"sigs": obj["sigs"], "doc": obj["doc"]}, use_bin_type=True)
    fails(tampered(good, lambda r: r.__setitem__("envelope", b64e(unsorted))), world.genesis, "envelope")


def test_another_documents_envelope_fails_doc_id(chain, good, world):
    other = chain.receipt(chain.block(2)["documents"][0]["doc_id"])
    fails(tampered(good, lambda r: r.__setitem__("envelope", other["envelope"])), world.genesis, "doc_id")


@pytest.mark.parametrize("delta", [-1, 1])
def test_leaf_index_off_by_one_fails_inclusion_or_document_status(good, good_v1, world, delta):
    fails(tampered(good, lambda r: r.__setitem__("leaf_index", r["leaf_index"] + delta)), world.genesis, "inclusion")
    fails(tampered(good_v1, lambda r: r.__setitem__("leaf_index", r["leaf_index"] + delta)), world.genesis,
          "document_status")


def test_every_proof_bit_flipped_fails_inclusion(good, world):
    assert good["inclusion_proof"]
    for i, h in enumerate(good["inclusion_proof"]):
        for bit in range(256):
            r = copy.deepcopy(good)
            r["inclusion_proof"][i] = flip_hex(h, bit)
            fails(r, world.genesis, "inclusion")


def test_proof_truncated_extended_or_reordered_fails_inclusion(good, world):
    fails(tampered(good, lambda r: r["inclusion_proof"].pop()), world.genesis, "inclusion")
    fails(tampered(good, lambda r: r["inclusion_proof"].append("00" * 32)), world.genesis, "inclusion")
    if len(good["inclusion_proof"]) > 1:
        fails(tampered(good, lambda r: r["inclusion_proof"].reverse()), world.genesis, "inclusion")


# -- the block ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["height", "header", "header_fields", "block_hash", "certificate"])
def test_missing_block_field_fails_shape(good, good_v1, world, key):
    fails(tampered(good, lambda r: r["block"].pop(key)), world.genesis, "shape")
    fails(tampered(good_v1, lambda r: r["block"].pop(key)), world.genesis, "shape")


def test_an_old_receipt_without_its_status_list_is_a_receipt_of_today(good_v1, world):
    assert verify_receipt(tampered(good_v1, lambda r: r["block"].pop("documents")), world.genesis)
    fails(tampered(good_v1, lambda r: r["block"].__setitem__("documents", {})), world.genesis, "shape")


def test_block_height_changed_fails_header_fields(good, world):
    for h in (0, 2):
        fails(tampered(good, lambda r: r["block"].__setitem__("height", h)), world.genesis, "header_fields")


def test_every_header_byte_flipped_fails_block_hash(good, world):
    for i in range(len(b64d(good["block"]["header"]))):
        fails(tampered(good, lambda r: r["block"].__setitem__("header", flip_b64(r["block"]["header"], i))),
              world.genesis, "block_hash")


def test_block_hash_changed_fails_block_hash(good, world):
    for bit in (0, 100, 255):
        fails(tampered(good, lambda r: r["block"].__setitem__("block_hash", flip_hex(r["block"]["block_hash"], bit))),
              world.genesis, "block_hash")


@pytest.mark.parametrize("key", ["height", "prev_hash", "timestamp", "proposer", "term", "tx_root", "log_size",
                                 "log_root"])
def test_every_header_field_changed_fails_header_fields(good, world, key):
    def change(r):
        fields = r["block"]["header_fields"]
        value = fields[key]
        if isinstance(value, int):
            fields[key] = value + 1
        elif key == "proposer":
            fields[key] = value + "x"
        else:
            fields[key] = flip_hex(value, 7)
    fails(tampered(good, change), world.genesis, "header_fields")


def test_header_fields_extra_or_missing_key_fails(good, world):
    fails(tampered(good, lambda r: r["block"]["header_fields"].__setitem__("extra", 1)), world.genesis,
          "header_fields")
    fails(tampered(good, lambda r: r["block"]["header_fields"].pop("term")), world.genesis, "header_fields")
    fails(tampered(good, lambda r: r["block"]["header_fields"].__setitem__(
        "log_root", r["block"]["header_fields"]["log_root"].upper())), world.genesis, "header_fields")


def _forge_header(receipt, **changes):
    """A consistent forgery: a new header with hash and fields to match. Only
    the certificate can catch it."""
    header = Header.from_bytes(b64d(receipt["block"]["header"]))
    obj = header.to_obj()
    obj.update(changes)
    forged = Header(**obj)
    def change(r):
        r["block"]["header"] = b64e(forged.canonical)
        r["block"]["block_hash"] = forged.block_hash
        r["block"]["header_fields"] = forged.fields_json()
    return tampered(receipt, change)


def test_consistently_forged_header_fails_certificate(good, world):
    fails(_forge_header(good, timestamp=1), world.genesis, "certificate")
    fails(_forge_header(good, proposer="evil"), world.genesis, "certificate")


def test_every_certificate_entry_tampered_fails_certificate(good, world):
    cert = good["block"]["certificate"]
    assert [c["node"] for c in cert] == ["n1", "n2"]
    for i in range(len(cert)):
        for byte in (0, 31, 63):
            fails(tampered(good, lambda r: r["block"]["certificate"][i].__setitem__(
                "sig", flip_b64(r["block"]["certificate"][i]["sig"], byte))), world.genesis, "certificate")
        for node in ("n3", "n9"):  # another voter; a non-voter
            fails(tampered(good, lambda r: r["block"]["certificate"][i].__setitem__("node", node)), world.genesis,
                  "certificate")
        fails(tampered(good, lambda r: r["block"]["certificate"].pop(i)), world.genesis, "certificate")


def test_certificate_entry_malformed_fails_shape(good, world):
    fails(tampered(good, lambda r: r["block"]["certificate"][0].__setitem__("sig", "AAAA")), world.genesis, "shape")
    fails(tampered(good, lambda r: r["block"]["certificate"][0].__setitem__("extra", 1)), world.genesis, "shape")


def _cert_entry(node: str, seed: bytes, block_hash_hex: str) -> dict:
    return BlockSignature(node=node, sig=sign(seed, BLOCK_DOMAIN, bytes.fromhex(block_hash_hex))).to_json()


def test_certificate_from_non_voters_fails(good, world):
    def change(r):
        r["block"]["certificate"] = [_cert_entry(n, NODE_SEEDS[n], r["block"]["block_hash"]) for n in ("n4", "n5")]
    fails(tampered(good, change), world.genesis, "certificate")


def test_minority_certificate_fails(good, world):
    fails(tampered(good, lambda r: r["block"].__setitem__("certificate", r["block"]["certificate"][:1])),
          world.genesis, "certificate")
    fails(tampered(good, lambda r: r["block"].__setitem__("certificate", [])), world.genesis, "certificate")


def test_duplicate_signer_counts_once(good, world):
    def change(r):
        r["block"]["certificate"] = [r["block"]["certificate"][0]] * 2
    fails(tampered(good, change), world.genesis, "certificate")


def test_full_certificate_and_extra_non_voter_pass(good, world):
    def change(r):
        r["block"]["certificate"].append(_cert_entry("n3", NODE_SEEDS["n3"], r["block"]["block_hash"]))
        r["block"]["certificate"].append(_cert_entry("n9", b"\x09" * 32, r["block"]["block_hash"]))
    assert verify_receipt(tampered(good, change), world.genesis).certified_by == ("n1", "n2", "n3")


def test_signature_over_hex_hash_does_not_count(good, world):
    def change(r):
        r["block"]["certificate"] = [
            BlockSignature(node=n, sig=sign(NODE_SEEDS[n], BLOCK_DOMAIN, r["block"]["block_hash"].encode())).to_json()
            for n in ("n1", "n2", "n3")
        ]
    fails(tampered(good, change), world.genesis, "certificate")


def test_block_from_another_height_fails(chain, good, world):
    fails(tampered(good, lambda r: r.__setitem__("block", chain.block(2))), world.genesis, "document_status")
    other = {k: v for k, v in chain.block(2).items() if k != "documents"}
    fails(tampered(good, lambda r: r.__setitem__("block", other)), world.genesis, "inclusion")


def _own_entry(r):
    return next(d for d in r["block"]["documents"] if d["doc_id"] == r["doc_id"])


def test_documents_entry_tampered_fails_document_status(good_v1, world):
    good = good_v1
    def rejected(r):
        entry = _own_entry(r)
        entry["status"] = "rejected"
        entry["reason"] = "rejected: forged"
        entry["leaf_index"] = None
    error = fails(tampered(good, rejected), world.genesis, "document_status")
    assert "leaves" in str(error)  # the accepted entries no longer end at log_size - 1
    fails(tampered(good, lambda r: _own_entry(r).__setitem__("doc_id", "ab" * 32)), world.genesis, "document_status")
    fails(tampered(good, lambda r: _own_entry(r).__setitem__("leaf_index", r["leaf_index"] + 1)), world.genesis,
          "document_status")
    fails(tampered(good, lambda r: r["block"]["documents"].remove(_own_entry(r))), world.genesis, "document_status")
    fails(tampered(good, lambda r: r["block"]["documents"].pop()), world.genesis, "document_status")


def test_documents_entry_malformed_fails_shape(good_v1, world):
    good = good_v1
    fails(tampered(good, lambda r: _own_entry(r).__setitem__("status", "maybe")), world.genesis, "shape")
    fails(tampered(good, lambda r: _own_entry(r).__setitem__("reason", "why")), world.genesis, "shape")
    error = fails(tampered(good, lambda r: _own_entry(r).__setitem__("leaf_index", None)), world.genesis, "shape")
    assert "leaf_index" in str(error)

    def rejected_with_a_leaf(r):
        _own_entry(r).update(status="rejected", reason="rejected: forged")
    error = fails(tampered(good, rejected_with_a_leaf), world.genesis, "shape")
    assert "leaf_index: expected null" in str(error)


# -- a block with rejected envelopes: only accepted ones are leaves -------------------

@pytest.fixture(scope="module")
def mixed_chain(world):
    """Block 1: two accepted, one refused by the registry (m3 reinstated while
    full), two accepted; block 2: one accepted, refused again. Certified by n1, n2."""
    ledger = Ledger(MemoryStore(), world.genesis)
    g = world.envelopes
    drive(ledger, [g[0], g[1], world.make_rejected(1), g[2], g[3]])
    drive(ledger, [g[4], world.make_rejected(1)])
    for h in (1, 2):
        certify(ledger, h, ["n1", "n2"])
    return ledger


def _forged_receipt(chain, world, height: int, leaf: int, *, fix_statuses: bool) -> dict:
    """What a lying node can serve for the rejected document of block `height`:
    its real envelope, at `leaf` with the real audit path of that leaf, the
    real certified header, and `block.documents` rewritten to call it accepted
    (with `fix_statuses`, consistently: the document really at `leaf` is
    called rejected instead, so the statuses alone look right)."""
    refused = world.make_rejected(1)
    block = chain.block(height)
    size = block["header_fields"]["log_size"]
    documents = block["documents"]
    own = next(d for d in documents if d["status"] == "rejected")
    own.update(status="accepted", leaf_index=leaf)
    own.pop("reason")
    if fix_statuses:
        for d in documents:
            if d is not own and d["leaf_index"] == leaf:
                d.update(status="rejected", leaf_index=None, reason="rejected: forged")
        order = {id(d): (d["leaf_index"] if d["leaf_index"] is not None else -1) for d in documents}
        accepted = sorted((d for d in documents if d["status"] == "accepted"), key=lambda d: order[id(d)])
        rest = [d for d in documents if d["status"] != "accepted"]
        block["documents"] = rest + accepted
    return {"doc_id": own["doc_id"], "envelope": b64e(refused), "leaf_index": leaf,
            "inclusion_proof": [h.hex() for h in chain._log.inclusion_proof(leaf, size)], "block": block}


def test_mixed_block_receipts_verify(mixed_chain, world):
    for h in (1, 2):
        block = mixed_chain.block(h)
        for entry in block["documents"]:
            if entry["status"] == "accepted":
                assert verify_receipt(mixed_chain.receipt(entry["doc_id"]), world.genesis).leaf_index == \
                    entry["leaf_index"]
            else:
                assert entry["leaf_index"] is None


@pytest.mark.parametrize("height", [1, 2])
def test_forged_receipt_for_a_rejected_document_fails_inclusion(mixed_chain, world, height):
    """Statuses are not covered by the certificate, so a liar can rewrite them
    at will; but the rejected envelope is no leaf of the certified log, so no
    leaf index makes its inclusion proof reach log_root."""
    size = mixed_chain.header(height).log_size
    first = {1: 0, 2: 4}[height]  # the block's accepted leaves are first..size-1
    assert size == {1: 4, 2: 5}[height]
    for leaf in range(size):
        forged = _forged_receipt(mixed_chain, world, height, leaf, fix_statuses=True)
        with pytest.raises(ProofFailed) as info:
            verify_receipt(forged, world.genesis)
        # within this block the statuses can be made wholly consistent, so only the inclusion
        # proof can tell; for an earlier leaf the rewritten statuses may give themselves away first
        if leaf >= first:
            assert info.value.check == "inclusion", (leaf, str(info.value))
        else:
            assert info.value.check in ("inclusion", "document_status"), (leaf, str(info.value))


@pytest.mark.parametrize("height", [1, 2])
def test_forged_receipt_of_today_for_a_rejected_document_fails_inclusion(mixed_chain, world, height):
    """Without a status list there is nothing to rewrite: the rejected envelope is no leaf, so
    at every leaf index of the certified log its inclusion proof fails."""
    for leaf in range(mixed_chain.header(height).log_size):
        forged = _forged_receipt(mixed_chain, world, height, leaf, fix_statuses=False)
        forged["block"].pop("documents")
        fails(forged, world.genesis, "inclusion")


def test_forged_receipt_with_only_the_status_flipped_fails(mixed_chain, world):
    for leaf in range(4):
        fails(_forged_receipt(mixed_chain, world, 1, leaf, fix_statuses=False), world.genesis, "document_status")
    # left as served (rejected, leaf_index null), the block says why
    forged = _forged_receipt(mixed_chain, world, 1, 2, fix_statuses=True)
    forged["block"] = mixed_chain.block(1)
    error = fails(forged, world.genesis, "document_status")
    assert "was rejected: rejected: body.change" in str(error)


def test_other_genesis_fails(good, world):
    other = copy.deepcopy(world.genesis)
    for node in other["nodes"]:
        node["public_key"] = b64e(hashlib.sha256(node["node_id"].encode()).digest())
    fails(good, other, "certificate")
    fails(good, {"nodes": "x"}, "genesis")


# -- consistency proofs -------------------------------------------------------------

def test_consistency_proof_verifies_and_fails_when_tampered(chain):
    first = chain.header(1)
    second = chain.header(2)
    proof = chain.consistency_proof(first.log_size, second.log_size)
    assert list(proof) == ["first", "second", "proof"]
    verify_consistency_proof(proof, first.log_root, second.log_root.hex())
    for i, h in enumerate(proof["proof"]):
        bad = copy.deepcopy(proof)
        bad["proof"][i] = flip_hex(h, 3)
        with pytest.raises(ProofFailed) as info:
            verify_consistency_proof(bad, first.log_root, second.log_root)
        assert info.value.check == "consistency"
    with pytest.raises(ProofFailed) as info:
        verify_consistency_proof({"first": 1}, first.log_root, second.log_root)
    assert info.value.check == "shape"


# -- the CLI ---------------------------------------------------------------------------

def _write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def test_cli_verify_good_receipt(tmp_path, good, world):
    g = _write(tmp_path, "genesis.json", world.genesis)
    r = _write(tmp_path, "receipt.json", good)
    result = CliRunner().invoke(main, ["verify", r, "--genesis", g])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK {good['doc_id']}")
    result = CliRunner().invoke(main, ["verify", r, "--genesis", g, "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["ok"] is True


def test_cli_verify_tampered_receipt(tmp_path, good, world):
    g = _write(tmp_path, "genesis.json", world.genesis)
    r = _write(tmp_path, "receipt.json", tampered(good, lambda r: r["block"].__setitem__(
        "certificate", r["block"]["certificate"][:1])))
    result = CliRunner().invoke(main, ["verify", r, "--genesis", g])
    assert result.exit_code == 1
    assert result.output.startswith("FAILED certificate: 1 of 3 voters signed")
    result = CliRunner().invoke(main, ["verify", r, "--genesis", g, "--json"])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["ok"] is False and out["check"] == "certificate"


def test_cli_verify_unreadable_files_exit_2(tmp_path, world):
    g = _write(tmp_path, "genesis.json", world.genesis)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert CliRunner().invoke(main, ["verify", str(bad), "--genesis", g]).exit_code == 2
    assert CliRunner().invoke(main, ["verify", str(tmp_path / "missing.json"), "--genesis", g]).exit_code == 2
    assert CliRunner().invoke(main, ["verify", g]).exit_code == 2  # --genesis is required
    help_text = CliRunner().invoke(main, ["verify", "--help"]).output
    assert "Example" in help_text and "--genesis" in help_text
