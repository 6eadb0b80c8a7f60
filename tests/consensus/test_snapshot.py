"""Snapshots and chunked InstallSnapshot (Raft §7, Figure 13)."""

from __future__ import annotations

import random

from consensus import (AppendEntriesResponse, Config, InstallSnapshot, InstallSnapshotResponse, RawNode, Role,
                       Snapshot, SnapshotMetadata)
from tests.consensus.netfixture import Net, drain

DATA = bytes(range(256)) * 4  # 1 KiB of state


def far_behind(chunk: int = 100) -> Net:
    """n3 missed 20 entries and the leader compacted them behind a snapshot at 15."""
    net = Net(snapshot_chunk_bytes=chunk)
    net.elect("n1")
    net.isolate("n3")
    for i in range(20):
        net["n1"].propose(b"e%d" % i)
    net.stabilise()
    leader = net.members["n1"]
    leader.storage.create_snapshot(15, leader.node.status().conf_state, DATA)
    leader.storage.compact(15)
    return net


def test_snapshot_is_sent_in_chunks_and_installed():
    net = far_behind(chunk=100)
    net.heal()
    net.tick(3)
    chunks = [m for m in net.delivered if isinstance(m, InstallSnapshot) and m.dst == "n3"]
    assert len(chunks) == 11 and [m.offset for m in chunks] == list(range(0, 1100, 100))
    assert [m.done for m in chunks] == [False] * 10 + [True]
    follower = net.members["n3"]
    assert follower.snapshots_installed == 1 and follower.storage.snapshot().data == DATA
    assert follower.storage.first_index() == 16
    assert net.data("n3") == [b"e%d" % i for i in range(14, 20)]
    assert net["n1"].status().progress["n3"] == (21, 22, "replicate")


def test_a_lost_chunk_is_resent():
    net = far_behind(chunk=100)
    net.heal()
    lost = []

    def drop_once(msg):
        if isinstance(msg, InstallSnapshot) and msg.offset == 300 and not lost:
            lost.append(msg)
            return True
        return False

    net.drop = drop_once
    net.tick(30)
    assert lost and net.members["n3"].storage.snapshot().data == DATA
    assert net["n3"].status().commit == 21
    offsets = [m.offset for m in net.delivered if isinstance(m, InstallSnapshot)]
    assert offsets == [0, 100, 200] + list(range(300, 1100, 100))  # resumed at the lost chunk, not from 0


def test_out_of_order_chunk_is_answered_with_the_offset_held():
    storage_net = Net()
    member = storage_net.members["n2"]
    meta = SnapshotMetadata(index=5, term=1, conf_state=storage_net.conf)
    member.node.step(InstallSnapshot(term=1, src="n1", dst="n2", metadata=meta, offset=0, data=b"abc", done=False))
    member.node.step(InstallSnapshot(term=1, src="n1", dst="n2", metadata=meta, offset=9, data=b"zzz", done=True))
    replies = [m for m in drain(member.node, member.storage) if isinstance(m, InstallSnapshotResponse)]
    assert [(m.index, m.offset) for m in replies] == [(5, 3), (5, 3)]
    assert member.storage.snapshot().metadata.index == 0  # nothing installed from a gap


def test_snapshot_older_than_the_commit_index_is_acknowledged_without_transfer():
    net = Net()
    net.elect("n1")
    for i in range(5):
        net["n1"].propose(b"%d" % i)
    net.stabilise()
    member = net.members["n2"]
    meta = SnapshotMetadata(index=3, term=1, conf_state=net.conf)
    member.node.step(InstallSnapshot(term=1, src="n1", dst="n2", metadata=meta, offset=0, data=b"old", done=False))
    (reply,) = drain(member.node, member.storage)
    assert isinstance(reply, AppendEntriesResponse) and reply.success and reply.match_index == 6


def test_restart_from_a_snapshot():
    """After installing a snapshot a node restarts from its storage: log offset and conf from the snapshot."""
    net = far_behind()
    net.heal()
    net.tick(3)
    member = net.members["n3"]
    applied = member.node.status().applied
    restarted = RawNode(Config(node_id="n3", rng=random.Random(3), applied=applied), member.storage)
    status = restarted.status()
    assert (status.commit, status.applied, status.role) == (21, 21, Role.FOLLOWER)
    assert status.conf_state == net.conf
    assert not [e for e in restarted.ready().committed_entries]


def test_report_snapshot_failure_retries():
    net = far_behind()
    net.heal()
    net.drop = lambda msg: isinstance(msg, InstallSnapshot)
    net.tick(1)
    assert net["n1"].status().progress["n3"][2] == "snapshot"
    net["n1"].report_snapshot("n3", False)
    assert net["n1"].status().progress["n3"][2] == "probe"
    net.drop = None
    net.tick(3)
    assert net.members["n3"].storage.snapshot().data == DATA


def test_new_learner_is_brought_up_by_snapshot():
    from consensus import ConfChange, ConfChangeType
    net = Net()
    net.elect("n1")
    for i in range(10):
        net["n1"].propose(b"%d" % i)
    net.stabilise()
    leader = net.members["n1"]
    leader.storage.create_snapshot(11, net.conf, b"state@11")
    leader.storage.compact(11)
    net.add("n4", net.conf)
    net["n1"].propose_conf_change(ConfChange(type=ConfChangeType.ADD_LEARNER, node_id="n4"))
    net.stabilise()
    net.tick(2)
    assert net.members["n4"].storage.snapshot().data == b"state@11"
    assert net["n4"].status().commit == net["n1"].status().commit


def test_storage_snapshot_round_trip():
    from consensus import MemoryLogStorage
    storage = MemoryLogStorage(Net().conf)
    snap = Snapshot(metadata=SnapshotMetadata(index=4, term=2, conf_state=Net().conf), data=b"s")
    storage.apply_snapshot(snap)
    assert storage.snapshot() == snap and storage.first_index() == 5 and storage.term(4) == 2
