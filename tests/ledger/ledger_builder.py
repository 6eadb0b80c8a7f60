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


def statuses(ledger: Ledger, envelopes, *, timestamp: int | None = None) -> list[tuple[str, str | None]]:
    """Apply one block of Envelope objects; (status, reason) of each."""
    block = drive(ledger, [e.to_bytes() for e in envelopes], timestamp=timestamp)
    return [(d.status, d.reason) for d in block.documents]


def accept_all(ledger: Ledger, envelopes, *, timestamp: int | None = None) -> None:
    """Apply one block of Envelope objects, every one of which must be accepted."""
    result = statuses(ledger, envelopes, timestamp=timestamp)
    assert all(status == "accepted" for status, _ in result), result


def certify(ledger: Ledger, height: int, nodes, seeds: dict[str, bytes] = NODE_SEEDS) -> None:
    block_hash = ledger.header(height).hash
    for node in nodes:
        assert ledger.add_block_signature(height, node, sign(seeds[node], BLOCK_DOMAIN, block_hash))


def node_public_key(node: str) -> bytes:
    return public_key(NODE_SEEDS[node])


def sample_world() -> World:
    """Genesis with three members and three voters (n1..n3), six accepted envelopes of every
    kind, and makers for more (tests/ledger/factory.py builds them from real documents)."""
    from tests.ledger.factory import sample_world as factory_world

    w = factory_world(NODE_SEEDS)
    return World(genesis=w.genesis, node_seeds=w.node_seeds, envelopes=list(w.envelopes),
                 make_node_doc=w.make_node_doc, make_rejected=w.make_rejected, make_doc=w.make_doc)
