"""Trust anchors (client/verify.py): the forged-receipt case of the outside
review, and a pinned checkpoint that catches it.

The ledger: genesis voters n1, n2, n3; node documents add n4, n5, n6 and then
remove n1, n2, n3, each in its own block; documents follow, certified by n4..n6.
The forger holds the keys of n1 and n2, removed voters. It builds a block
that extends the real log with a document the ledger never accepted, signs
it with n1 and n2, and leaves ``membership`` out of the receipt. A verifier
that knows only genesis takes n1..n3 for the voters and accepts it; one that
pins a checkpoint signed after the removal refuses it."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from client.cli import main
from client.verify import pin_checkpoint, verify_receipt, verify_receipt_pinned
from ledger.blocks import BlockSignature
from ledger.checkpoint import CheckpointLog
from ledger.errors import ProofFailed
from ledger.keys import BLOCK_DOMAIN, generate_seed, public_key, sign
from ledger.ledger import Ledger
from ledger.signed_note import SIG_COSIGNATURE_V1, Note, VerifierKey, cosign_note
from ledger.store import MemoryStore
from tests.ledger.ledger_builder import NODE_SEEDS, drive, drive_certified, sample_world


def build(world, *, extra_docs: int = 3) -> tuple[Ledger, CheckpointLog, dict[str, int]]:
    """The ledger of the module docstring; returns it, its checkpoints and named heights."""
    ledger = Ledger(MemoryStore(), world.genesis)
    cps = CheckpointLog(ledger)
    heights = {}
    drive_certified(ledger, world.envelopes, cps)
    heights["before_changes"] = ledger.height
    for i, (action, node) in enumerate([("add", "n4"), ("add", "n5"), ("add", "n6"),
                                        ("remove", "n1"), ("remove", "n2"), ("remove", "n3")]):
        drive_certified(ledger, [world.make_node_doc(action, node, created_at=5000 + i)], cps)
    assert sorted(ledger.voters_at(ledger.height + 1)) == ["n4", "n5", "n6"]
    for i in range(1, extra_docs + 1):  # (the world holds resolution 0 already)
        drive_certified(ledger, [world.make_doc(i, 1)], cps)
    heights["pin"] = ledger.height
    return ledger, cps, heights


def doc_at(ledger: Ledger, height: int) -> str:
    return next(d["doc_id"] for d in ledger.block(height)["documents"] if d["status"] == "accepted")


def forge_extension(world, ledger: Ledger) -> tuple[dict, Ledger]:
    """A receipt for a document the ledger never accepted, in a block that
    extends the real log, certified by the removed voters n1 and n2, without
    membership. Returns it and the forger's copy of the ledger (whose
    consistency proofs are honest about the forged log)."""
    copy_ledger = Ledger(MemoryStore(), world.genesis)
    for h in range(1, ledger.height + 1):
        copy_ledger.apply_block(ledger.proposal(h))
    forged_doc = world.make_doc(99, 2)
    drive(copy_ledger, [forged_doc])
    receipt = copy_ledger.receipt(doc_at(copy_ledger, copy_ledger.height))
    receipt.pop("membership", None)
    block_hash = bytes.fromhex(receipt["block"]["block_hash"])
    receipt["block"]["certificate"] = [BlockSignature(node=n, sig=sign(NODE_SEEDS[n], BLOCK_DOMAIN, block_hash))
                                       .to_json() for n in ("n1", "n2")]
    return receipt, copy_ledger


@pytest.fixture(scope="module")
def world():
    return sample_world()


@pytest.fixture(scope="module")
def chain(world):
    return build(world)


@pytest.fixture(scope="module")
def pin(chain, world):
    ledger, cps, heights = chain
    keys = [k.text for k in cps.voter_keys(heights["pin"]).values()]
    return cps.note(heights["pin"]).decode(), keys


def test_the_forged_receipt_passes_a_genesis_only_verifier(chain, world):
    ledger, _, _ = chain
    forged, _ = forge_extension(world, ledger)
    verified = verify_receipt(forged, world.genesis)
    assert verified.certified_by == ("n1", "n2") and verified.voters == ("n1", "n2", "n3")


def test_the_forged_receipt_fails_a_verifier_that_pins_a_later_checkpoint(chain, world, pin):
    ledger, _, heights = chain
    forged, forger = forge_extension(world, ledger)
    anchor = pin_checkpoint(pin[0], pin[1], world.genesis)
    m, n = forged["block"]["header_fields"]["log_size"], anchor.checkpoint.size
    assert m == n + 1
    proof = forger.consistency_proof(n, m)  # an honest proof: the forged log does extend the real one
    with pytest.raises(ProofFailed) as info:
        verify_receipt_pinned(forged, world.genesis, anchor, proof)
    assert info.value.check == "pinned_voters", str(info.value)
    # putting the real membership back does not help: the real voters at the pin never certified it
    forged_with_membership = copy.deepcopy(forged)
    forged_with_membership["membership"] = ledger.receipt(doc_at(ledger, heights["pin"]))["membership"]
    with pytest.raises(ProofFailed) as info:
        verify_receipt_pinned(forged_with_membership, world.genesis, anchor, proof)
    assert info.value.check == "certificate"


def test_a_forged_log_that_does_not_extend_the_pin_fails_consistency(world, chain, pin):
    """The removed voters' own fork from before the node changes: its log is not the pinned one's."""
    ledger, _, heights = chain
    fork = Ledger(MemoryStore(), world.genesis)
    drive_certified(fork, world.envelopes)
    for i in range(50, 60):
        drive_certified(fork, [world.make_doc(i, 2)])  # still certified by genesis voters in the fork
    anchor = pin_checkpoint(pin[0], pin[1], world.genesis)
    for height in (2, fork.height):
        receipt = fork.receipt(doc_at(fork, height))
        verify_receipt(receipt, world.genesis)  # fine from genesis alone
        m, n = receipt["block"]["header_fields"]["log_size"], anchor.checkpoint.size
        proof = (ledger if m <= n else fork).consistency_proof(min(m, n), max(m, n)) if m != n else None
        with pytest.raises(ProofFailed) as info:
            verify_receipt_pinned(receipt, world.genesis, anchor, proof)
        assert info.value.check == "consistency", str(info.value)


def test_real_receipts_before_at_and_after_the_pin_verify(world):
    ledger, cps, heights = build(world)
    anchor = pin_checkpoint(cps.note(heights["pin"]), [k.text for k in cps.voter_keys(heights["pin"]).values()],
                            world.genesis)
    n = anchor.checkpoint.size
    drive_certified(ledger, [world.make_doc(7, 2)], cps)  # a block after the pin
    cases = {"before": heights["before_changes"], "at": heights["pin"], "after": ledger.height}
    for position, height in cases.items():
        receipt = ledger.receipt(doc_at(ledger, height))
        m = receipt["block"]["header_fields"]["log_size"]
        proof = None if m == n else ledger.consistency_proof(min(m, n), max(m, n))
        assert verify_receipt_pinned(receipt, world.genesis, anchor, proof).position == position


def test_the_voters_just_before_or_after_the_pinned_block_are_both_its_voters(world):
    """A block that holds a node document: its checkpoint is signed by the voters before it; a later
    block with the same log (all rejected) is signed by the voters after it. Either pins."""
    ledger = Ledger(MemoryStore(), world.genesis)
    cps = CheckpointLog(ledger)
    drive_certified(ledger, world.envelopes, cps)
    drive_certified(ledger, [world.make_node_doc("add", "n4")], cps)  # voters n1..n3 sign this block
    pinned_height = ledger.height
    drive_certified(ledger, [world.make_rejected(1)], cps)  # same log; voters n1..n4 sign
    assert cps.checkpoint(pinned_height) == cps.checkpoint(ledger.height)
    drive_certified(ledger, [world.make_doc(1, 1)], cps)
    receipt = ledger.receipt(doc_at(ledger, ledger.height))
    for height in (pinned_height, pinned_height + 1):
        keys = [k.text for k in cps.voter_keys(height).values()]
        anchor = pin_checkpoint(cps.note(height), keys, world.genesis)
        m, n = receipt["block"]["header_fields"]["log_size"], anchor.checkpoint.size
        assert verify_receipt_pinned(receipt, world.genesis, anchor, ledger.consistency_proof(n, m)).position == "after"


def test_a_bad_pin_or_proof_is_named(chain, world, pin):
    ledger, cps, heights = chain
    note, keys = pin
    genesis_keys = [k.text for k in cps.voter_keys(1).values()]  # n1..n3: not who signed the pin
    for bad_keys, match in ((genesis_keys, "no signature from a trusted key"), ([], "no checkpoint keys"),
                            (["nonsense"], "checkpoint key 1"), (keys + keys[:1], "listed twice"),
                            ([VerifierKey.of("other", public_key(NODE_SEEDS["n4"])).text], "not a key of this")):
        with pytest.raises(ProofFailed, match=match) as info:
            pin_checkpoint(note, bad_keys, world.genesis)
        assert info.value.check == "pin"
    other_genesis = dict(world.genesis, chain_id="another")
    with pytest.raises(ProofFailed, match="origin") as info:
        pin_checkpoint(note, keys, other_genesis)
    assert info.value.check == "pin"
    seed = generate_seed()
    witness = VerifierKey.of("central/witness/1", public_key(seed), SIG_COSIGNATURE_V1)
    with pytest.raises(ProofFailed, match="no cosignature from witness"):
        pin_checkpoint(note, keys, world.genesis, witness_keys=[witness.text])
    parsed = Note.parse(note)
    cosigned = Note(text=parsed.text, signatures=(*parsed.signatures, cosign_note(parsed.text, witness.name, seed, 9)))
    assert pin_checkpoint(cosigned.to_bytes(), keys, world.genesis, witness_keys=[witness.text]).cosigners == (
        witness.text,)

    anchor = pin_checkpoint(note, keys, world.genesis)
    receipt = ledger.receipt(doc_at(ledger, heights["before_changes"]))
    m, n = receipt["block"]["header_fields"]["log_size"], anchor.checkpoint.size
    good = ledger.consistency_proof(m, n)
    for proof, match in ((None, "a consistency proof between"), (dict(good, first=m + 1), "not"),
                         (dict(good, proof=good["proof"][:-1]), "not one log"),
                         (dict(good, proof=["00" * 32] + good["proof"][1:]), "not one log")):
        with pytest.raises(ProofFailed, match=match) as info:
            verify_receipt_pinned(receipt, world.genesis, anchor, proof)
        assert info.value.check == "consistency"


def test_cli_verify_with_a_pinned_checkpoint(tmp_path, chain, world, pin):
    ledger, _, _ = chain
    forged, forger = forge_extension(world, ledger)
    note, keys = pin
    files = {"forged.json": json.dumps(forged), "genesis.json": json.dumps(world.genesis), "pin.txt": note,
             "keys.txt": "\n".join(keys) + "\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    n = int(note.split("\n")[1])
    (tmp_path / "proof.json").write_text(json.dumps(forger.consistency_proof(n, n + 1)), encoding="utf-8")
    runner = CliRunner()
    base = ["verify", str(tmp_path / "forged.json"), "--genesis", str(tmp_path / "genesis.json")]
    assert runner.invoke(main, base).exit_code == 0  # genesis only: the forgery passes
    pinned = base + ["--checkpoint", str(tmp_path / "pin.txt"), "--checkpoint-keys", str(tmp_path / "keys.txt"),
                     "--consistency", str(tmp_path / "proof.json")]
    result = runner.invoke(main, pinned)
    assert result.exit_code == 1 and result.output.startswith("FAILED pinned_voters:"), result.output
    as_json = json.loads(runner.invoke(main, pinned + ["--json"]).output)
    assert as_json == {"ok": False, "check": "pinned_voters", "message": as_json["message"]}
    # a real receipt passes with the same pin and says where it stands
    real = ledger.receipt(doc_at(ledger, ledger.height))
    (tmp_path / "real.json").write_text(json.dumps(real), encoding="utf-8")
    ok = runner.invoke(main, ["verify", str(tmp_path / "real.json"), "--genesis", str(tmp_path / "genesis.json"),
                              "--checkpoint", str(tmp_path / "pin.txt"), "--checkpoint-keys",
                              str(tmp_path / "keys.txt")])
    assert ok.exit_code == 0 and "at the pinned checkpoint" in ok.output, ok.output
    missing = runner.invoke(main, base + ["--checkpoint", str(tmp_path / "pin.txt")])
    assert missing.exit_code == 2 and "--checkpoint-keys" in missing.output
