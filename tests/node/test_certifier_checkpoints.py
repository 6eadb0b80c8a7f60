"""node/certifier.py carries checkpoint signatures: in the block_sig frame,
from the early buffer, and by anti-entropy (sig_request / block_sigs); a
checkpoint signature that does not verify is dropped without costing the
block signature beside it; an older peer's frame without one still counts.
Like block signatures, checkpoint signatures are left alone once the
certifier is closed (the node is stopping), and a write of them the disk
refuses goes to ``on_write_error`` (the runtime stops the node) and stores
nothing."""

from __future__ import annotations

import errno

import pytest

from ledger.checkpoint import CheckpointLog
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from node.certifier import Certifier
from node.metrics import Metrics
from tests.ledger.ledger_builder import NODE_SEEDS, drive, sample_world
from tests.node.service_double import FullDisk


class Peer:
    def __init__(self, node_id: str, world) -> None:
        self.ledger = Ledger(FullDisk(), world.genesis)
        self.checkpoints = CheckpointLog(self.ledger)
        self.sent: list[tuple[str | None, dict]] = []
        self.write_errors: list[OSError] = []
        self.certifier = Certifier(node_id, NODE_SEEDS[node_id], self.ledger, Metrics(node_id),
                                   lambda frame: self.sent.append((None, frame)),
                                   lambda peer, frame: self.sent.append((peer, frame)),
                                   checkpoints=self.checkpoints, on_write_error=self.write_errors.append)

    def apply(self, envelopes) -> None:
        self.certifier.on_applied(drive(self.ledger, envelopes, timestamp=1_700_000_000_000 + self.ledger.height))


@pytest.fixture()
def peers():
    world = sample_world()
    return world, {n: Peer(n, world) for n in ("n1", "n2", "n3")}


def test_the_block_sig_frame_carries_the_checkpoint_signature(peers):
    world, p = peers
    for peer in p.values():
        peer.apply(world.envelopes)
    frame = p["n1"].sent[0][1]
    assert frame["kind"] == "block_sig" and len(frame["checkpoint_sig"]) == 64
    p["n2"].certifier.on_block_sig("n1", frame)
    assert set(p["n2"].checkpoints.signatures(1)) == {"n1", "n2"}
    assert p["n2"].checkpoints.is_signed(1) and p["n2"].ledger.is_certified(1)


def test_signatures_that_arrive_early_are_kept_until_the_block_applies(peers):
    world, p = peers
    p["n1"].apply(world.envelopes)
    p["n2"].certifier.on_block_sig("n1", p["n1"].sent[0][1])  # n2 has not applied block 1 yet
    assert p["n2"].ledger.height == 0
    p["n2"].apply(world.envelopes)
    assert set(p["n2"].checkpoints.signatures(1)) == {"n1", "n2"}


def test_a_bad_checkpoint_signature_is_dropped_and_the_block_signature_kept(peers):
    world, p = peers
    for peer in p.values():
        peer.apply(world.envelopes)
    frame = dict(p["n1"].sent[0][1])
    frame["checkpoint_sig"] = bytes(64)
    p["n2"].certifier.on_block_sig("n1", frame)
    assert set(p["n2"].checkpoints.signatures(1)) == {"n2"}
    assert {s.node for s in p["n2"].ledger.certificate(1)} == {"n1", "n2"}
    older = {k: v for k, v in p["n3"].sent[0][1].items() if k != "checkpoint_sig"}  # a peer of an older version
    p["n2"].certifier.on_block_sig("n3", older)
    assert {s.node for s in p["n2"].ledger.certificate(1)} == {"n1", "n2", "n3"}
    p["n2"].certifier.on_block_sig("n1", dict(frame, checkpoint_sig="not bytes"))
    assert p["n2"].certifier.metrics.bad_frames_total.labels("block_sig")._value.get() == 1


def test_anti_entropy_fills_missing_checkpoint_signatures(peers):
    world, p = peers
    for peer in p.values():
        peer.apply(world.envelopes)
        peer.sent.clear()
    # n2 never heard n1 or n3: its height 1 is incomplete and it asks
    request = p["n2"].certifier.sync_request()
    assert request == {"kind": "sig_request", "heights": [1]}
    p["n1"].certifier.on_sig_request("n2", request)
    peer, answer = p["n1"].sent[-1]
    assert peer == "n2" and answer["kind"] == "block_sigs" and answer["checkpoint_items"][0][:2] == [1, "n1"]
    p["n2"].certifier.on_block_sigs("n1", answer)
    assert set(p["n2"].checkpoints.signatures(1)) == {"n1", "n2"}
    # still incomplete without n3's; once n3 answers too it is complete
    assert p["n2"].certifier.sync_request() is not None
    p["n3"].certifier.on_sig_request("n2", request)
    p["n2"].certifier.on_block_sigs("n3", p["n3"].sent[-1][1])
    assert set(p["n2"].checkpoints.signatures(1)) == {"n1", "n2", "n3"}
    assert p["n2"].certifier.sync_request() is None


def test_a_closed_certifier_stores_no_checkpoint_signature(peers):
    world, p = peers
    for peer in p.values():
        peer.apply(world.envelopes)
    request = p["n2"].certifier.sync_request()
    p["n1"].certifier.on_sig_request("n2", request)
    answer = p["n1"].sent[-1][1]
    n2 = p["n2"]
    n2.certifier.close()
    writes = n2.ledger.store.writes
    n2.certifier.on_block_sig("n1", p["n1"].sent[0][1])
    n2.certifier.on_block_sigs("n1", answer)
    n2.certifier.on_applied(drive(n2.ledger, [world.make_doc(1, 1)], timestamp=1_700_000_000_100))
    assert n2.ledger.store.writes == writes + 1  # the block itself, nothing of the certifier
    assert set(n2.checkpoints.signatures(1)) == {"n2"} and n2.checkpoints.signatures(2) == {}


@pytest.mark.parametrize("how", ["block_sig frame", "anti-entropy"])
def test_a_checkpoint_signature_the_disk_refuses_stops_the_node_and_stores_nothing(peers, how):
    world, p = peers
    for peer in p.values():
        peer.apply(world.envelopes)
    n2 = p["n2"]
    n2.ledger.store.full = True
    if how == "block_sig frame":  # the block signature and the checkpoint signature in their one batch
        n2.certifier.on_block_sig("n1", p["n1"].sent[0][1])
    else:  # a checkpoint signature alone
        p["n1"].certifier.on_sig_request("n2", {"kind": "sig_request", "heights": [1]})
        answer = dict(p["n1"].sent[-1][1], items=[])
        n2.certifier.on_block_sigs("n1", answer)
    assert [e.errno for e in n2.write_errors] == [errno.ENOSPC]
    n2.ledger.store.full = False
    assert set(n2.checkpoints.signatures(1)) == {"n2"} and {s.node for s in n2.ledger.certificate(1)} == {"n2"}


def test_a_restarted_voter_signs_the_checkpoints_it_missed(peers):
    world, p = peers
    n1 = p["n1"]
    block = drive(n1.ledger, world.envelopes)  # applied, then "crashed" before signing
    assert n1.checkpoints.signatures(block.height) == {}
    n1.certifier.resign_missing(range(1, 2))
    assert set(n1.checkpoints.signatures(1)) == {"n1"}


def test_catch_up_carries_the_checkpoint_signatures_in_one_batch_per_block():
    """A node that catches up by fetched blocks gets every voter's checkpoint line with them;
    a forged one is dropped; the item of an older peer without them still applies."""
    from node.catchup import CatchUp, SnapshotTarget
    from tests.ledger.ledger_builder import drive_certified

    world = sample_world()
    source = Ledger(MemoryStore(), world.genesis)
    source_log = CheckpointLog(source)
    drive_certified(source, world.envelopes, source_log)
    drive_certified(source, [world.make_doc(1, 1)], source_log)
    sent = []
    server = CatchUp(source, Metrics("n1"), send=lambda peer, frame: sent.append(frame), peers=lambda: [],
                     apply_fetched=None, checkpoints=source_log)
    server.on_fetch_blocks("n4", {"from_height": 1, "limit": 2})
    items = sent[-1]["items"]
    assert [len(item["checkpoint"]) for item in items] == [3, 3]

    fresh = Ledger(MemoryStore(), world.genesis)
    fresh_log = CheckpointLog(fresh)
    client = CatchUp(fresh, Metrics("n4"), send=lambda *a: None, peers=lambda: [],
                     apply_fetched=lambda proposal, certificate, vouch, certified=None: fresh.apply_block(
                         proposal, vouch=vouch, certified=certified),
                     checkpoints=fresh_log)
    client.target = SnapshotTarget(2, source.header(2).hash, 99)
    first = dict(items[0], checkpoint=[["n2", bytes(64)]] + items[0]["checkpoint"][:1])  # a forged line, n1's
    older = {k: v for k, v in items[1].items() if k != "checkpoint"}
    writes = fresh.store.writes
    assert client._apply_reply("n1", {"items": [first, older]})
    assert fresh.height == 2 and set(fresh_log.signatures(1)) == {"n1"} and fresh_log.signatures(2) == {}
    assert fresh.store.writes - writes == 3  # block 1, its checkpoint lines in one batch, block 2
