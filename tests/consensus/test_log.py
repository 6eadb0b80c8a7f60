"""RaftLog: the unstable tail, the Ready hand-off, and the invariants that crash rather than corrupt."""

from __future__ import annotations

import random

import pytest

from consensus import AppendEntries, ConfState, Config, Entry, RawNode
from consensus.errors import LogCompacted, RaftInvariantError
from consensus.log import RaftLog
from tests.consensus.netfixture import Net, make_storage

CONF = ConfState(voters=("n1", "n2", "n3"))


def entries(*pairs):
    return [Entry(term=t, index=i, data=b"%d" % i) for i, t in pairs]


def test_reads_span_storage_and_the_unstable_tail():
    log = RaftLog(make_storage(CONF, [1, 1, 2]))
    log.append(entries((4, 2), (5, 3)))
    assert [e.index for e in log.entries(2, 6)] == [2, 3, 4, 5]
    # stored entries carry b"i/t" (3 bytes), the unstable ones b"i" (1 byte)
    assert [e.index for e in log.entries(2, 6, max_bytes=6)] == [2, 3]
    assert [e.index for e in log.entries(3, 6, max_bytes=4)] == [3, 4]   # crosses into unstable
    assert [e.index for e in log.entries(2, 6, max_bytes=0)] == [2]      # always at least one
    assert log.term(5) == 3 and log.last_index() == 5 and log.last_term() == 3


def test_truncating_the_unstable_tail_and_storage():
    log = RaftLog(make_storage(CONF, [1, 1, 2]))
    log.append(entries((4, 2), (5, 2)))
    log.append(entries((3, 3)))  # replaces stored 3 and unstable 4, 5
    assert [(e.index, e.term) for e in log.entries(1, log.last_index() + 1)] == [(1, 1), (2, 1), (3, 3)]
    snap, handed = log.take_unstable()
    assert snap is None and [(e.index, e.term) for e in handed] == [(3, 3)]


def test_overwriting_a_committed_entry_is_a_broken_invariant():
    log = RaftLog(make_storage(CONF, [1, 1, 2], commit=3))
    with pytest.raises(RaftInvariantError):
        log.append(entries((3, 4)))
    with pytest.raises(RaftInvariantError):
        log.maybe_append(1, 1, 3, entries((2, 5)))


def test_commit_past_the_log_is_a_broken_invariant():
    log = RaftLog(make_storage(CONF, [1]))
    with pytest.raises(RaftInvariantError):
        log.commit_to(5)


def test_compacted_reads_raise():
    storage = make_storage(CONF, [1, 1, 2, 2])
    storage.compact(2)
    log = RaftLog(storage)
    assert log.term(2) == 1 and log.first_index() == 3
    with pytest.raises(LogCompacted):
        log.entries(2, 4)


def test_a_second_ready_before_advance_does_not_repeat_entries():
    net = Net()
    net.elect("n1")
    node = net["n1"]
    node.propose(b"a")
    first = node.ready()
    node.propose(b"b")
    second = node.ready()
    assert [e.data for e in first.entries] == [b"a"] and [e.data for e in second.entries] == [b"b"]
    assert not set(map(id, first.committed_entries)) & set(map(id, second.committed_entries))


def test_committed_entries_are_handed_out_in_bounded_batches():
    storage = make_storage(CONF, [1] * 10, commit=10)
    node = RawNode(Config(node_id="n1", rng=random.Random(1), max_committed_bytes_per_ready=3), storage)
    batches = []
    while node.has_ready():
        rd = node.ready()
        batches.append([e.index for e in rd.committed_entries])
        node.advance(rd)
    assert [i for batch in batches for i in batch] == list(range(1, 11))
    assert max(len(batch) for batch in batches) <= 3 and len(batches) >= 4


def test_restart_hands_out_entries_after_applied_only():
    storage = make_storage(CONF, [1] * 6, commit=5)
    node = RawNode(Config(node_id="n1", rng=random.Random(1), applied=3), storage)
    assert [e.index for e in node.ready().committed_entries] == [4, 5]


def test_stale_leader_message_cannot_lower_commit_or_truncate_committed():
    storage = make_storage(CONF, [1, 1, 1], term=2, commit=3)
    node = RawNode(Config(node_id="n1", rng=random.Random(1)), storage)
    node.step(AppendEntries(term=2, src="n2", dst="n1", prev_index=1, prev_term=1,
                            entries=tuple(entries((2, 1))), commit=1))
    assert node.status().commit == 3
    assert storage.last_index() == 3
