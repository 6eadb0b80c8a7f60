"""A 100,000-document ledger over LevelDBStore (blocks of 500, each with one
envelope the registry refuses in its middle, which is no leaf), then ~200
sampled receipts verified offline with client.verify."""

from __future__ import annotations

import random

import pytest

from client.verify import verify_receipt
from ledger.ledger import Ledger
from ledger.store import LevelDBStore
from tests.ledger.ledger_builder import certify, drive, sample_world

DOCS = 100_000
BLOCK = 500


@pytest.mark.slow
def test_100k_documents_then_sampled_receipts_verify(tmp_path):
    world = sample_world()
    rng = random.Random(100_000)
    store = LevelDBStore(str(tmp_path / "db"))
    try:
        ledger = Ledger(store, world.genesis)
        accepted = rejected = 0
        for start in range(0, DOCS, BLOCK):
            envelopes = [world.make_doc(i, 1 + (i & 1)) for i in range(start, min(DOCS, start + BLOCK))]
            if start == 0:
                envelopes[: len(world.envelopes)] = world.envelopes  # every type at least once
            envelopes.insert(BLOCK // 2, world.make_rejected(start))
            block = drive(ledger, envelopes)
            accepted += sum(d.status == "accepted" for d in block.documents)
            rejected += sum(d.leaf_index is None for d in block.documents)
        assert ledger.head().log_size == DOCS and accepted == DOCS and rejected == DOCS // BLOCK
        heights = rng.sample(range(1, ledger.height + 1), 40)
        for h in heights:
            certify(ledger, h, ["n1", "n3"])
        sampled = 0
        for h in heights:
            documents = [d for d in ledger.block(h)["documents"] if d["status"] == "accepted"]
            for entry in rng.sample(documents, 5):
                receipt = ledger.receipt(entry["doc_id"])
                assert verify_receipt(receipt, world.genesis).leaf_index == entry["leaf_index"]
                sampled += 1
        assert sampled == 200
    finally:
        store.close()
