"""`minutebook audit` over blocks that mix accepted and rejected envelopes
(only accepted ones are leaves): a true chain passes; a rejected envelope
altered in the store, a status flipped in the served block JSON, or a block
with a rejected envelope dropped is reported at the right height and check."""

from __future__ import annotations

import copy

from client.cli_audit import ChainAuditor, audit_local
from ledger.ledger import Ledger
from ledger.store import LevelDBStore, MemoryStore
from tests.ledger.ledger_builder import certify, drive, sample_world


def _mixed_chain(store) -> tuple[dict, Ledger]:
    world = sample_world()
    ledger = Ledger(store, world.genesis)
    g = world.envelopes
    drive(ledger, [g[0], world.make_rejected(1), g[1], b"\x93junk"])
    drive(ledger, [world.make_rejected(2), g[2], g[0]])
    drive(ledger, [g[3], g[4], world.make_rejected(3)])
    for h in (1, 2, 3):
        certify(ledger, h, ["n1", "n2"])
    return world.genesis, ledger


def _replay(genesis: dict, blocks: list[dict], envelopes: list[list[bytes]]) -> ChainAuditor:
    auditor = ChainAuditor("n", genesis)
    for block, envs in zip(blocks, envelopes):
        if auditor.check(block, envs, is_tip=block["height"] == len(blocks)):
            break
    return auditor


def _served(ledger: Ledger) -> tuple[list[dict], list[list[bytes]]]:
    heights = range(1, ledger.height + 1)
    return [ledger.block(h) for h in heights], [list(ledger.proposal(h).envelopes) for h in heights]


def test_audit_passes_on_blocks_with_rejected_envelopes():
    genesis, ledger = _mixed_chain(MemoryStore())
    blocks, envelopes = _served(ledger)
    assert any(d["leaf_index"] is None for d in blocks[0]["documents"])
    auditor = _replay(genesis, blocks, envelopes)
    assert auditor.report.failure is None
    assert auditor.report.height == 3 and auditor.report.documents == 10


def test_audit_catches_a_flipped_status_a_moved_leaf_and_a_dropped_envelope():
    genesis, ledger = _mixed_chain(MemoryStore())
    blocks, envelopes = _served(ledger)

    flipped = copy.deepcopy(blocks)
    entry = flipped[1]["documents"][0]
    entry.update(status="accepted", leaf_index=2)
    entry.pop("reason")
    failure = _replay(genesis, flipped, envelopes).report.failure
    assert (failure.height, failure.check) == (2, "replay") and "document 0" in failure.message

    moved = copy.deepcopy(blocks)
    moved[2]["documents"][1]["leaf_index"] = 5
    failure = _replay(genesis, moved, envelopes).report.failure
    assert (failure.height, failure.check) == (3, "replay")

    dropped = copy.deepcopy(envelopes)
    del dropped[1][0]  # the rejected envelope: the log would not change, tx_root does
    failure = _replay(genesis, blocks, dropped).report.failure
    assert (failure.height, failure.check) == (2, "tx_root")


def test_audit_local_catches_a_rejected_envelope_altered_in_leveldb(tmp_path):
    path = tmp_path / "n1" / "ledger"
    path.mkdir(parents=True)
    store = LevelDBStore(str(path), create=True)
    genesis, _ = _mixed_chain(store)
    store.close()
    report = audit_local(str(tmp_path / "n1"), genesis)
    assert report.failure is None and report.height == 3
    store = LevelDBStore(str(path), create=False)
    # the rejected envelope of block 2, offset 0 (not a leaf; rewritten through the store, so its checksum holds)
    key = b"e/" + (2).to_bytes(8, "big") + (0).to_bytes(8, "big")
    value = store.get(key)
    assert value is not None
    store.write({key: value[:-1] + bytes([value[-1] ^ 1])})
    store.close()
    failure = audit_local(str(tmp_path / "n1"), genesis).failure
    assert (failure.height, failure.check) == (2, "tx_root"), failure
