"""Helpers for the ledger, receipt and verifier tests: a sample world (genesis,
node keys, signed envelopes of every type) and a ledger driver that applies
blocks and certifies them like the node runtime does."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.blocks import Block, BlockProposal
from ledger.keys import BLOCK_DOMAIN, public_key, sign
from ledger.ledger import Ledger

NODE_SEEDS = {f"n{i}": bytes([0xA0 + i]) * 32 for i in range(1, 7)}


@dataclass
class World:
    genesis: dict
    node_seeds: dict[str, bytes]
    envelopes: list[bytes]  # accepted in this order, every type
    make_node_doc: "object" = None  # (action, node_id, role, created_at) -> envelope bytes
    make_rejected: "object" = None  # (i) -> a well-formed envelope the registry refuses
    make_doc: "object" = None  # (i, signers: 1 | 2) -> an accepted envelope


def drive(ledger: Ledger, envelopes, *, timestamp: int | None = None, proposer: str = "n1", term: int = 1) -> Block:
    """Apply one block of `envelopes` on top of the head."""
    head = ledger.head()
    ts = timestamp if timestamp is not None else (head.timestamp + 1000 if head else 1_700_000_000_000)
    proposal = BlockProposal(
        height=ledger.height + 1, prev_hash=ledger.head_hash, timestamp=ts, proposer=proposer, term=term,
        envelopes=tuple(envelopes),
    )
    return ledger.apply_block(proposal)


def certify(ledger: Ledger, height: int, nodes, seeds: dict[str, bytes] = NODE_SEEDS) -> None:
    block_hash = ledger.header(height).hash
    for node in nodes:
        assert ledger.add_block_signature(height, node, sign(seeds[node], BLOCK_DOMAIN, block_hash))


def node_public_key(node: str) -> bytes:
    return public_key(NODE_SEEDS[node])


# TEMPORARY: built on the throwaway shim until tests/ledger/factory.py lands.
def sample_world() -> World:
    import os
    from ledger.documents import Document, make_envelope
    from ledger.jsonfmt import b64e
    seeds = {f"m{i}": bytes([i]) * 32 for i in range(1, 4)}
    genesis = {
        "chain_id": "t", "created_at": 0, "units": [],
        "members": [{"member_id": m, "public_key": b64e(public_key(s))} for m, s in seeds.items()],
        "nodes": [{"node_id": n, "public_key": b64e(node_public_key(n)), "peer_addr": "x", "role": "voter"}
                  for n in ("n1", "n2", "n3")],
    }
    envs = []
    for i, t in enumerate(["minutes", "resolution", "member_status", "inspection_finding", "org_unit", "role"]):
        signers = [("m1", seeds["m1"]), ("m2", seeds["m2"])] if i % 2 == 0 else [("m1", seeds["m1"])]
        envs.append(make_envelope(Document(1, t, "root", {"i": i}, (), 1000 + i, bytes(16)), signers).to_bytes())
    def make_doc(i, signers=2):
        who = [("m1", seeds["m1"]), ("m2", seeds["m2"])][:signers]
        return make_envelope(Document(1, "minutes", "root", {"i": i}, (), 2000 + i, os.urandom(16)), who).to_bytes()

    def make_rejected(i):
        return make_envelope(Document(1, "minutes", "root", {"i": i, "reject": True}, (), 3000 + i, bytes(16)),
                             [("m1", seeds["m1"])]).to_bytes()

    def make_node_doc(action, node_id, role="voter", created_at=5000):
        body = {"action": action, "node_id": node_id}
        if action == "add":
            body.update(public_key=node_public_key(node_id), peer_addr="x", role=role)
        return make_envelope(Document(1, "node", "root", body, (), created_at, bytes(16)),
                             [("m1", seeds["m1"])]).to_bytes()

    return World(genesis=genesis, node_seeds=NODE_SEEDS, envelopes=envs, make_node_doc=make_node_doc,
                 make_rejected=make_rejected, make_doc=make_doc)
