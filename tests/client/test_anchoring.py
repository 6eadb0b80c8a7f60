"""The anchoring chain end to end over HTTP: a lower ledger pushes its
checkpoint to a witness that is a node of the higher ledger; an officer of
the higher committee anchors it (client/anchoring.py, `minutebook anchor`);
an auditor at the centre verifies a cell's receipt through receipt ->
consistency proof -> the anchor's receipt -> the higher genesis
(`verify_anchored`, `minutebook verify --anchor`), and every link altered
fails, named."""

from __future__ import annotations

import copy
import json
import time

import pytest
from click.testing import CliRunner

from client.anchoring import AnchorSkipped, anchor_once
from client.cli import main
from client.sdk import Client
from client.verify import verify_anchored, verify_receipt
from ledger.errors import ProofFailed
from ledger.jsonfmt import b64d, b64e
from ledger.keys import KeyFile, generate_seed, public_key, write_key_file
from ledger.store import MemoryStore
from node.checkpoint_pusher import CheckpointPusher
from node.config import WitnessedLog, WitnessTarget
from node.witness import Witness
from tests.ledger.factory import make_org
from tests.ledger.ledger_builder import NODE_SEEDS, sample_world
from tests.node.service_double import ServiceDouble, serve
from tests.node.test_checkpoints_api import push
from tests.node.witness_double import WitnessNode

LOWER_VOTERS = {n: NODE_SEEDS[n] for n in ("n1", "n2", "n3")}


class Federation:
    """A lower ledger (the sample world) and a higher one (the factory's central
    organisation) whose node is the lower ledger's witness."""

    def __init__(self) -> None:
        self.world = sample_world()
        self.lower = ServiceDouble(self.world.genesis, LOWER_VOTERS)
        self.lower.apply(self.world.envelopes)
        for i in range(1, 4):  # (the world holds minutes 0 already)
            self.lower.apply([self.world.make_doc(i, 2)])
        self.org = make_org(5)
        self.higher_genesis = dict(self.org.genesis, anchor_interval_ms=0)
        lower_keys = tuple(self.lower.checkpoints.voter_keys(1).values())
        self.witness = Witness("minutebook/central/witness/w1", generate_seed(),
                               [WitnessedLog(origin=self.lower.checkpoints.origin, keys=lower_keys, signatures=2)],
                               MemoryStore())
        # Its clock is the real one: anchor_once signs the anchor's created_at now, and a leader
        # refuses a document created more than the clock bound ahead of its own clock.
        self.higher = WitnessNode(self.witness, self.higher_genesis, self.org.node_seeds,
                                  start_ms=int(time.time() * 1000))
        inspector = self.org.inspector("central")
        self.officer = KeyFile(id_field="member_id", id=inspector, public_key=public_key(self.org.seeds[inspector]),
                               seed=self.org.seeds[inspector])

    def push(self, witness_url: str) -> None:
        push(CheckpointPusher(self.lower.checkpoints, [WitnessTarget(url=witness_url, keys=(self.witness.key,))],
                              interval=1))

    def anchor(self, lower_url: str, higher_url: str, **kwargs) -> dict:
        with Client(lower_url) as lower, Client(higher_url) as witness, Client(higher_url) as higher:
            return anchor_once(lower=lower, witness=witness, higher=higher, officer=self.officer, **kwargs)

    def doc_receipt(self, index: int) -> dict:
        """The receipt of the lower ledger's accepted document at leaf `index`."""
        ledger = self.lower.ledger
        for height in range(1, ledger.height + 1):
            for d in ledger.block(height)["documents"]:
                if d["leaf_index"] == index:
                    return ledger.receipt(d["doc_id"])
        raise AssertionError(index)


@pytest.fixture()
def fed():
    f = Federation()
    with serve(f.lower) as lower_url, serve(f.higher) as higher_url:
        f.push(higher_url)
        f.urls = (lower_url, higher_url)
        yield f


def chain(fed: Federation, leaf: int = 4):
    result = fed.anchor(*fed.urls)
    anchor_receipt = result["receipt"]
    receipt = fed.doc_receipt(leaf)
    m = receipt["block"]["header_fields"]["log_size"]
    n = fed.lower.ledger.head().log_size
    proof = fed.lower.ledger.consistency_proof(m, n) if m < n else None
    return receipt, proof, anchor_receipt


def test_a_cell_receipt_verifies_through_the_anchor_chain(fed):
    receipt, proof, anchor_receipt = chain(fed)
    assert verify_receipt(anchor_receipt, fed.higher_genesis).doc_type == "anchor"
    result = verify_anchored(receipt, fed.world.genesis, anchor_receipt, fed.higher_genesis, proof)
    assert result.receipt.position == "before" and result.anchor.org == "central"
    assert result.receipt.pinned_size == fed.lower.ledger.head().log_size
    with Client(fed.urls[1]) as higher:
        assert higher.anchor(fed.lower.checkpoints.origin)["doc_id"] == result.anchor.doc_id


def _flip_b64(text: str, i: int) -> str:
    raw = bytearray(b64d(text))
    raw[i] ^= 1
    return b64e(bytes(raw))


def test_altering_any_link_fails_and_names_it(fed):
    receipt, proof, anchor_receipt = chain(fed)
    lower, higher = fed.world.genesis, fed.higher_genesis

    def fails(check, r=receipt, p=proof, a=anchor_receipt, g=lower, h=higher):
        with pytest.raises(ProofFailed) as info:
            verify_anchored(r, g, a, h, p)
        assert info.value.check == check, str(info.value)
        return info.value

    # the cell's receipt
    fails("doc_id", r=dict(receipt, doc_id="0" * 64))
    fails("inclusion", r=dict(receipt, inclusion_proof=receipt["inclusion_proof"][::-1]))
    # the consistency proof
    fails("consistency", p=dict(proof, proof=["00" * 32] + proof["proof"][1:]))
    fails("consistency", p=None)
    # the anchor's receipt
    broken = copy.deepcopy(anchor_receipt)
    broken["block"]["certificate"] = broken["block"]["certificate"][:1]
    assert "certificate" in fails("anchor_receipt", a=broken).message
    fails("anchor_receipt", a=dict(anchor_receipt, envelope=_flip_b64(anchor_receipt["envelope"], 40)))
    # another higher genesis, another lower genesis
    other_nodes = [dict(n, public_key=b64e(public_key(bytes([i + 1]) * 32))) for i, n in enumerate(higher["nodes"])]
    fails("anchor_receipt", h=dict(higher, nodes=other_nodes))
    fails("anchor_document", g=dict(lower, chain_id="another-province"))
    # a document of the higher ledger that is no anchor
    fails("anchor_document", a=_other_document(fed))
    # a receipt newer than the anchored checkpoint
    fed.lower.apply([fed.world.make_doc(9, 1)])
    newer = fed.lower.ledger.receipt(fed.lower.ledger.block(fed.lower.ledger.height)["documents"][0]["doc_id"])
    n = verify_anchored(receipt, lower, anchor_receipt, higher, proof).receipt.pinned_size
    fails("consistency", r=newer, p=fed.lower.ledger.consistency_proof(n, fed.lower.ledger.head().log_size))


def _other_document(fed: Federation) -> dict:
    """An accepted document of the higher ledger that is not an anchor."""
    org = fed.org
    env = org.minutes("central/p1/k1/s1")
    fed.higher.apply([env.to_bytes()])
    return fed.higher.ledger.receipt(env.doc_id)


def test_a_forged_anchor_checkpoint_is_refused_by_the_higher_ledger(fed):
    """The anchor body is checked on decoding, by the SDK and by the higher ledger alike: a
    checkpoint the listed witness did not cosign is refused, naming the field."""
    import httpx

    from client.sdk import sign_document
    from ledger.encoding import canonical
    from ledger.errors import InvalidInput
    from ledger.keys import DOC_DOMAIN, sign

    note = fed.lower.checkpoints.note(fed.lower.ledger.height, cosigned=False).decode()  # voters' lines only
    body = {"origin": fed.lower.checkpoints.origin, "checkpoint": note,
            "keys": [k.text for k in fed.lower.checkpoints.voter_keys(1).values()],
            "witnesses": [fed.witness.key.text], "proof": []}
    with pytest.raises(InvalidInput, match="no cosignature from witness"):
        sign_document({"type": "anchor", "org": "central", "body": body}, [fed.officer])
    doc = {"v": 1, "type": "anchor", "org": "central", "body": body, "refs": [], "created_at": 1,
           "nonce": bytes(16)}
    sig = sign(fed.officer.seed, DOC_DOMAIN, canonical(doc))
    envelope = canonical({"doc": doc, "sigs": [{"key": fed.officer.public_key, "sig": sig,
                                                "signer": fed.officer.id}]})
    response = httpx.post(fed.urls[1] + "/v1/documents", content=envelope,
                          headers={"content-type": "application/msgpack"})
    assert response.status_code == 400 and response.json()["field"] == "body.checkpoint", response.text
    assert fed.higher.ledger.height == 0


def test_anchors_follow_the_lower_ledger_with_consistency_proofs(fed):
    first = fed.anchor(*fed.urls)
    with pytest.raises(AnchorSkipped):
        fed.anchor(*fed.urls)
    for i in range(10, 14):
        fed.lower.apply([fed.world.make_doc(i, 1)])
    fed.push(fed.urls[1])
    second = fed.anchor(*fed.urls)
    assert second["doc_id"] != first["doc_id"]
    body = _anchor_body(second["receipt"])
    assert body["proof"] and len(body["proof"][0]) == 32
    receipt = fed.doc_receipt(2)
    m, n = receipt["block"]["header_fields"]["log_size"], fed.lower.ledger.head().log_size
    verify_anchored(receipt, fed.world.genesis, second["receipt"], fed.higher_genesis,
                    fed.lower.ledger.consistency_proof(m, n))


def _anchor_body(receipt: dict) -> dict:
    from ledger.documents import Envelope
    return Envelope.from_bytes(b64d(receipt["envelope"])).doc.body


def test_cli_anchor_then_verify_from_the_centre(tmp_path, fed):
    lower_url, higher_url = fed.urls
    key = tmp_path / "officer.json"
    write_key_file(key, id_field="member_id", id=fed.officer.id, seed=fed.officer.seed)
    runner = CliRunner()
    result = runner.invoke(main, ["anchor", "--ledger", lower_url, "--witness", higher_url, "--node", higher_url,
                                  "--key", str(key)])
    assert result.exit_code == 0, result.output
    (tmp_path / "anchor.json").write_text(result.output, encoding="utf-8")
    again = runner.invoke(main, ["anchor", "--ledger", lower_url, "--witness", higher_url, "--node", higher_url,
                                 "--key", str(key)])
    assert again.exit_code == 1 and "nothing new to anchor" in again.output
    receipt = fed.doc_receipt(3)
    files = {"receipt.json": receipt, "lower.json": fed.world.genesis, "higher.json": fed.higher_genesis}
    for name, obj in files.items():
        (tmp_path / name).write_text(json.dumps(obj), encoding="utf-8")
    args = ["verify", str(tmp_path / "receipt.json"), "--genesis", str(tmp_path / "lower.json"),
            "--anchor", str(tmp_path / "anchor.json"), "--anchor-genesis", str(tmp_path / "higher.json")]
    ok = runner.invoke(main, args + ["--node", lower_url])
    assert ok.exit_code == 0 and "anchored by" in ok.output, ok.output
    no_proof = runner.invoke(main, args)
    assert no_proof.exit_code == 1 and no_proof.output.startswith("FAILED consistency:")
    no_genesis = runner.invoke(main, args[:-2])
    assert no_genesis.exit_code == 2 and "--anchor-genesis" in no_genesis.output
