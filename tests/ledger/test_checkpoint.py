"""C2SP checkpoints (c2sp.org/tlog-checkpoint): the text format against the
spec's example and transparency-dev/witness's vectors, the origin rule, and a
ledger's checkpoints signed by its voters and cosigned by a witness, read back
the way an outside tool reads them (line by line, Ed25519 from ``cryptography``)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.checkpoint import Checkpoint, CheckpointLog, checkpoint_origin, verify_checkpoint
from ledger.errors import InvalidInput, MalformedNote, ProofFailed
from ledger.genesis import Genesis
from ledger.keys import public_key
from ledger.ledger import Ledger
from ledger.merkle import EMPTY_ROOT, verify_consistency
from ledger.signed_note import SIG_COSIGNATURE_V1, Note, VerifierKey, b64std, cosign_note
from ledger.store import MemoryStore
from tests.ledger.ledger_builder import NODE_SEEDS, certify, drive, sample_world
from tests.ledger.test_signed_note import SPEC_COSIGNED, SUMDB_VKEY

# transparency-dev/witness witness/witness_test.go: a log "monkeys", two checkpoints and the proof joining them
MONKEYS_VKEY = "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT"
MONKEYS_5 = ("monkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n— monkeys 202fftzGl3LVoqjXfwCFZZXs8I+5G22+Ek2K"
             "0AOyBuSJ/8/CZawNF+6fNlTKOCd622pbzJNkkJFWuw9DbicZCkEx9AY=\n")
MONKEYS_8 = ("monkeys\n8\nV8K9aklZ4EPB+RMOk1/8VsJUdFZR77GDtZUQq84vSbo=\n\n— monkeys 202ffoUEboiQYpHzICeaFmoy3RNviHTpAxYr"
             "q/eO4QQVQMvu9UebKBMX2MJC76NLthZaKsnKbCA8GxrjePZhvDCH7Ag=\n")
MONKEYS_PROOF_5_8 = [bytes.fromhex(h) for h in (
    "b9e1d62618f7fee8034e4c5010f727ab24d8e4705cb296c374bf2025a87a10d2",
    "aac66cd7a79ce4012d80762fe8eec3a77f22d1ca4145c3f4cee022e7efcd599d",
    "89d0f753f66a290c483b39cd5e9eafb12021293395fad3d4a2ad053cfbcfdc9e",
    "29e40bb79c966f4c6fe96aff6f30acfce5f3e8d84c02215175d6e018a5dee833")]

SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_the_specs_example_text_round_trips():
    cp = Checkpoint.from_text(SPEC_TEXT)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.text == SPEC_TEXT
    ext = Checkpoint.from_text(SPEC_TEXT + "extension one\nx\n")
    assert ext.extensions == ("extension one", "x") and ext.text == SPEC_TEXT + "extension one\nx\n"


def test_the_specs_example_is_a_sum_golang_org_checkpoint_with_its_origin_renamed():
    """The tlog-checkpoint example's signature is sum.golang.org's (key ID 033de0ae) over the same
    size and root with origin "go.sum database tree": our checkpoint reader verifies it there; under
    the spec's renamed origin and key name the (name, key ID) pair is no known key."""
    spec_note = SPEC_COSIGNED.split("— witness")[0]  # the tlog-checkpoint example: the log's line only
    assert spec_note.startswith(SPEC_TEXT + "\n— example.com/behind-the-sofa Az3grl")
    sig = Note.parse(spec_note).signatures[0]
    sumdb = VerifierKey.from_text(SUMDB_VKEY)
    go_sum = Note(text=SPEC_TEXT.replace("example.com/behind-the-sofa", "go.sum database tree"),
                  signatures=(replace(sig, name="sum.golang.org"),))
    verified = verify_checkpoint(go_sum.to_bytes(), [sumdb], origin="go.sum database tree")
    assert (verified.checkpoint.size, b64std(verified.checkpoint.root_hash)) == (
        20852163, "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    renamed = VerifierKey.of("example.com/behind-the-sofa", sumdb.public_key)
    assert renamed.key_id != sig.key_id
    with pytest.raises(ProofFailed, match="no signature from a trusted key"):
        verify_checkpoint(spec_note, [renamed])


def test_an_empty_tree_is_size_zero():
    cp = Checkpoint(origin="o", size=0, root_hash=EMPTY_ROOT)
    assert cp.text == "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert Checkpoint.from_text(cp.text) == cp


@pytest.mark.parametrize("text, field", [
    ("o\n1\n", "checkpoint"),
    ("\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "checkpoint.origin"),
    ("o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "checkpoint.size"),
    ("o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "checkpoint.size"),
    ("o\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "checkpoint.size"),
    ("o\n١\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "checkpoint.size"),  # a non-ASCII digit
    ("o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "checkpoint.size"),
    ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "checkpoint.root_hash"),  # no padding
    ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n", "checkpoint.root_hash"),  # 30 bytes
    ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\nx\n", "checkpoint.extensions[0]"),
    ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "checkpoint"),
])
def test_malformed_checkpoint_texts_name_the_line(text, field):
    with pytest.raises(MalformedNote) as info:
        Checkpoint.from_text(text)
    assert info.value.field == field


def test_witness_vectors_verify_and_are_joined_by_our_consistency_check():
    key = VerifierKey.from_text(MONKEYS_VKEY)
    five = verify_checkpoint(MONKEYS_5, [key], origin="monkeys")
    eight = verify_checkpoint(MONKEYS_8, [key], origin="monkeys")
    assert (five.checkpoint.size, eight.checkpoint.size) == (5, 8)
    verify_consistency(5, 8, five.checkpoint.root_hash, eight.checkpoint.root_hash, MONKEYS_PROOF_5_8)
    with pytest.raises(ProofFailed, match="origin"):
        verify_checkpoint(MONKEYS_5, [key], origin="bananas")


def test_verify_checkpoint_counts_signers_and_requires_the_witnesses():
    key = VerifierKey.from_text(MONKEYS_VKEY)
    with pytest.raises(ProofFailed, match="1 of 2 log keys signed; 2 are required"):
        verify_checkpoint(MONKEYS_5, [key, VerifierKey.of("monkeys", public_key(bytes(32)))])
    seed = bytes([7]) * 32
    witness = VerifierKey.of("w.example/1", public_key(seed), SIG_COSIGNATURE_V1)
    with pytest.raises(ProofFailed, match="no cosignature from witness"):
        verify_checkpoint(MONKEYS_5, [key], witnesses=[witness])
    note = Note.parse(MONKEYS_5)
    cosigned = Note(text=note.text, signatures=(*note.signatures, cosign_note(note.text, "w.example/1", seed, 10)))
    assert verify_checkpoint(cosigned.to_bytes(), [key], witnesses=[witness]).cosigners == (witness,)


def test_origin_is_the_escaped_chain_id_and_the_genesis_hash():
    world = sample_world()
    genesis = Genesis.from_json(world.genesis)
    assert checkpoint_origin(genesis) == f"minutebook/{genesis.chain_id}/{genesis.genesis_hash.hex()[:16]}"
    other = Genesis.from_json(dict(world.genesis, chain_id="Tỉnh ủy 50%+1\u3000x"))
    origin = checkpoint_origin(other)
    assert origin.startswith("minutebook/Tỉnh%20ủy%2050%25%2B1%E3%80%80x/")
    VerifierKey.of(origin, bytes(32))  # a valid key name


# -- a ledger's checkpoints -------------------------------------------------------------------------


@pytest.fixture()
def ledger_and_log():
    world = sample_world()
    ledger = Ledger(MemoryStore(), world.genesis)
    drive(ledger, world.envelopes[:3])
    drive(ledger, world.envelopes[3:])
    for h in (1, 2):
        certify(ledger, h, ["n1", "n2"])
    return ledger, CheckpointLog(ledger)


def sign_all(log: CheckpointLog, height: int, nodes) -> None:
    for node in nodes:
        assert log.add_signature(height, node, log.sign(height, NODE_SEEDS[node]))


def test_checkpoint_of_a_block_is_its_log_size_and_root(ledger_and_log):
    ledger, log = ledger_and_log
    header = ledger.header(2)
    assert log.checkpoint(2).text == f"{log.origin}\n{header.log_size}\n{base64.b64encode(header.log_root).decode()}\n"


def test_only_voters_valid_signatures_of_that_height_are_kept(ledger_and_log):
    ledger, log = ledger_and_log
    sig = log.sign(2, NODE_SEEDS["n1"])
    assert not log.add_signature(2, "n2", sig)  # n1's signature claimed by n2
    assert not log.add_signature(1, "n1", sig)  # another height's text
    assert not log.add_signature(2, "n6", log.sign(2, NODE_SEEDS["n6"]))  # not a voter
    assert not log.add_signature(2, "n1", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert log.signatures(2) == {}
    assert log.add_signature(2, "n1", sig) and log.signatures(2) == {"n1": sig}


def test_a_signed_checkpoint_is_read_by_an_outside_tool(ledger_and_log):
    ledger, log = ledger_and_log
    sign_all(log, 2, ["n1"])
    assert not log.is_signed(2) and log.latest_signed() == 0
    sign_all(log, 2, ["n3"])
    assert log.is_signed(2) and log.latest_signed() == 2
    note = log.note(2).decode()
    # what a tool written apart from this code does: split at the blank line, read three lines, check each line
    text, sigs = note.split("\n\n")
    origin, size, root = text.split("\n")
    assert (origin, int(size), base64.b64decode(root)) == (log.origin, ledger.header(2).log_size,
                                                           ledger.header(2).log_root)
    lines = sigs.rstrip("\n").split("\n")
    assert len(lines) == 2
    for line, node in zip(lines, ["n1", "n3"]):
        dash, name, b64 = line.split(" ")
        assert dash == "\u2014" and name == log.origin
        raw = base64.b64decode(b64)
        pk = public_key(NODE_SEEDS[node])
        assert raw[:4] == VerifierKey.of(log.origin, pk).key_id.to_bytes(4, "big")
        Ed25519PublicKey.from_public_bytes(pk).verify(raw[4:], (text + "\n").encode())
    keys = list(log.voter_keys(2).values())
    verified = verify_checkpoint(note, keys, origin=log.origin)
    assert len(verified.signers) == 2


def test_kept_cosignatures_are_served_beside_the_voters_lines(ledger_and_log):
    ledger, log = ledger_and_log
    sign_all(log, 2, ["n1", "n2"])
    cp = log.checkpoint(2)
    seed = bytes([9]) * 32
    witness = VerifierKey.of("central/witness/n1", public_key(seed), SIG_COSIGNATURE_V1)
    good = cosign_note(cp.text, witness.name, seed, 1_800_000_000)
    other = cosign_note(log.checkpoint(1).text, witness.name, seed, 1_800_000_000)
    assert not log.add_cosignature(cp.size, cp.root_hash, other, witness)  # over another tree
    assert not log.add_cosignature(cp.size, cp.root_hash, good, VerifierKey.of("x", public_key(seed),
                                                                              SIG_COSIGNATURE_V1))
    assert log.add_cosignature(cp.size, cp.root_hash, good, witness)
    assert log.cosignatures(cp.size) == [good]
    verified = verify_checkpoint(log.note(2), log.voter_keys(2).values(), witnesses=[witness])
    assert verified.cosigners == (witness,)


def test_a_cosignature_whose_key_id_holds_a_zero_byte_is_served_under_its_own_name(ledger_and_log):
    """Fault: the stored cosignature's key is name, NUL, key ID; reading it split at the last NUL,
    so a key ID with a zero byte (about 1 witness key in 64) put a NUL and part of the ID into the
    served name, and /checkpoint gave a note no reader accepts."""
    ledger, log = ledger_and_log
    sign_all(log, 2, ["n1", "n2"])
    cp = log.checkpoint(2)
    seed = bytes([9]) * 32
    witness = next(w for w in (VerifierKey.of(f"central/witness/n{i}", public_key(seed), SIG_COSIGNATURE_V1)
                               for i in range(10_000)) if 0 in w.key_id.to_bytes(4, "big"))
    good = cosign_note(cp.text, witness.name, seed, 1_800_000_000)
    assert log.add_cosignature(cp.size, cp.root_hash, good, witness)
    assert log.cosignatures(cp.size) == [good]
    verified = verify_checkpoint(log.note(2), log.voter_keys(2).values(), witnesses=[witness])
    assert verified.cosigners == (witness,)


def test_a_block_without_signatures_has_no_note(ledger_and_log):
    _, log = ledger_and_log
    with pytest.raises(ProofFailed):
        log.note(1)
    with pytest.raises(InvalidInput):
        Checkpoint(origin="o", size=-1, root_hash=EMPTY_ROOT)
