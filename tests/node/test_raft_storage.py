"""node/raft_storage.py: the LogStorage contract (over both storages), persistence, SIGKILL durability.

The contract tests use only what ``consensus.MemoryLogStorage`` and
``LevelDBLogStorage`` share (etcd's storage_test.go cases: term, entries with
a size limit, last/first index, compact, create/apply snapshot, append with
truncation), run over both, so both are held to the same behaviour.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consensus import ConfState, Entry, EntryType, HardState, MemoryLogStorage, Snapshot, SnapshotMetadata
from consensus.errors import LogCompacted, LogUnavailable, RaftInvariantError, SnapshotOutOfDate
from node.raft_storage import LevelDBLogStorage

CONF = ConfState(voters=("n1", "n2", "n3"), learners=())
REPO = Path(__file__).resolve().parents[2]


def entry(index: int, term: int, data: bytes = b"") -> Entry:
    return Entry(term=term, index=index, type=EntryType.NORMAL, data=data)


@pytest.fixture(params=["leveldb", "memory"])
def make_storage(request, tmp_path):
    """A factory: storage holding entries at indexes 3, 4, 5 (terms 3, 4, 5) after compacting up to 3."""
    opened = []

    def make():
        if request.param == "memory":
            storage = MemoryLogStorage(CONF)
        else:
            storage = LevelDBLogStorage(str(tmp_path / f"raft{len(opened)}"), CONF)
            opened.append(storage)
        storage.append([entry(1, 1), entry(2, 2), entry(3, 3, b"three"), entry(4, 4, b"four"), entry(5, 5, b"five")])
        storage.compact(3)
        return storage

    yield make
    for storage in opened:
        storage.close()


# ----------------------------------------------------------- contract


def test_term(make_storage):
    storage = make_storage()
    with pytest.raises(LogCompacted):
        storage.term(2)
    assert [storage.term(i) for i in (3, 4, 5)] == [3, 4, 5]
    with pytest.raises(LogUnavailable):
        storage.term(6)


def test_first_and_last_index(make_storage):
    storage = make_storage()
    assert (storage.first_index(), storage.last_index()) == (4, 5)
    storage.append([entry(6, 5)])
    assert storage.last_index() == 6
    storage.compact(4)
    assert storage.first_index() == 5


def test_entries_respects_bounds_and_size_limit(make_storage):
    storage = make_storage()
    storage.append([entry(6, 6, b"six")])
    with pytest.raises(LogCompacted):
        storage.entries(2, 6)
    with pytest.raises(LogCompacted):
        storage.entries(3, 4)
    assert [e.index for e in storage.entries(4, 5)] == [4]
    assert [e.index for e in storage.entries(4, 7)] == [4, 5, 6]
    assert storage.entries(4, 7)[1] == entry(5, 5, b"five")
    # A limit smaller than the first entry still returns that entry (etcd limitSize).
    assert [e.index for e in storage.entries(4, 7, max_bytes=0)] == [4]
    assert [e.index for e in storage.entries(4, 7, max_bytes=len(b"four") + len(b"five"))] == [4, 5]
    assert [e.index for e in storage.entries(4, 7, max_bytes=len(b"four") + len(b"five") - 1)] == [4]
    with pytest.raises(LogUnavailable):
        storage.entries(4, 8)


def test_compact(make_storage):
    storage = make_storage()
    with pytest.raises(LogCompacted):
        storage.compact(2)
    with pytest.raises(LogCompacted):
        storage.compact(3)
    storage.compact(4)
    assert storage.term(4) == 4 and storage.first_index() == 5
    assert [e.index for e in storage.entries(5, 6)] == [5]


def test_create_snapshot(make_storage):
    storage = make_storage()
    snapshot = storage.create_snapshot(4, CONF, b"state at 4")
    assert snapshot.metadata.index == 4 and snapshot.metadata.term == 4 and snapshot.data == b"state at 4"
    assert storage.snapshot() == snapshot
    assert storage.last_index() == 5  # creating a snapshot compacts nothing
    with pytest.raises(SnapshotOutOfDate):
        storage.create_snapshot(3, CONF, b"older")


def test_apply_snapshot_replaces_the_log(make_storage):
    storage = make_storage()
    newer_conf = ConfState(voters=("n1", "n2", "n3", "n4"), learners=("n5",))
    snapshot = Snapshot(metadata=SnapshotMetadata(index=10, term=7, conf_state=newer_conf), data=b"far ahead")
    storage.apply_snapshot(snapshot)
    assert (storage.first_index(), storage.last_index(), storage.term(10)) == (11, 10, 7)
    assert storage.snapshot() == snapshot
    assert storage.initial_state()[1] == newer_conf
    with pytest.raises(SnapshotOutOfDate):
        storage.apply_snapshot(Snapshot(metadata=SnapshotMetadata(index=9, term=7, conf_state=CONF), data=b""))
    storage.append([entry(11, 7)])
    assert storage.last_index() == 11


@pytest.mark.parametrize(
    "new, expected",
    [
        # etcd TestStorageAppend: overwrite the whole log, truncate a suffix, ignore compacted, extend.
        ([entry(4, 4), entry(5, 5)], [(4, 4), (5, 5)]),
        ([entry(4, 4), entry(5, 6), entry(6, 6)], [(4, 4), (5, 6), (6, 6)]),
        ([entry(4, 4), entry(5, 5), entry(6, 5)], [(4, 4), (5, 5), (6, 5)]),
        ([entry(2, 3), entry(3, 3), entry(4, 5)], [(4, 5)]),  # below the offset: ignored
        ([entry(4, 5)], [(4, 5)]),  # truncates 5
        ([entry(6, 5)], [(4, 4), (5, 5), (6, 5)]),
    ],
)
def test_append_truncates_a_conflicting_suffix(make_storage, new, expected):
    storage = make_storage()
    storage.append(new)
    got = [(e.index, e.term) for e in storage.entries(storage.first_index(), storage.last_index() + 1)]
    assert got == expected
    assert [storage.term(i) for i, _ in expected] == [t for _, t in expected]


def test_hard_state_and_initial_conf_state(make_storage):
    storage = make_storage()
    hard_state, conf_state = storage.initial_state()
    assert conf_state == CONF
    storage.set_hard_state(HardState(term=5, vote="n2", commit=4))
    assert storage.initial_state()[0] == HardState(term=5, vote="n2", commit=4)


# ----------------------------------------------------- leveldb only


def test_everything_survives_reopen(tmp_path):
    path = str(tmp_path / "raft")
    storage = LevelDBLogStorage(path, CONF)
    storage.save(HardState(term=2, vote="n1", commit=3), [entry(i, 1 + i // 3, bytes([i]) * i) for i in range(1, 8)])
    storage.save(HardState(term=3, vote="n3", commit=5), [entry(6, 3, b"new six")])  # truncates 7
    storage.create_snapshot(4, CONF, b"applied to 4")
    storage.compact(3)
    storage.close()
    reopened = LevelDBLogStorage(path, ConfState(voters=("ignored",)))
    try:
        assert reopened.initial_state() == (HardState(term=3, vote="n3", commit=5), CONF)
        assert (reopened.first_index(), reopened.last_index()) == (4, 6)
        assert reopened.term(3) == 2  # the offset's term, after compaction
        assert reopened.entries(4, 7) == [entry(4, 2, bytes([4]) * 4), entry(5, 2, bytes([5]) * 5), entry(6, 3, b"new six")]
        assert reopened.snapshot().metadata.index == 4 and reopened.snapshot().data == b"applied to 4"
        with pytest.raises(LogUnavailable):
            reopened.term(7)
    finally:
        reopened.close()


def test_save_is_one_batch(tmp_path):
    storage = LevelDBLogStorage(str(tmp_path / "raft"), CONF)
    try:
        writes = []
        original = storage.store.write
        storage.store.write = lambda changes: (writes.append(dict(changes)), original(changes))[1]
        snapshot = Snapshot(metadata=SnapshotMetadata(index=5, term=2, conf_state=CONF), data=b"s")
        storage.save(HardState(term=2, vote="n1", commit=5), [entry(6, 2), entry(7, 2)], snapshot)
        assert len(writes) == 1
        assert (storage.first_index(), storage.last_index(), storage.hard_state.commit) == (6, 7, 5)
    finally:
        storage.close()


def test_entry_cache_serves_reads_and_is_evicted(tmp_path):
    storage = LevelDBLogStorage(str(tmp_path / "raft"), CONF, entry_cache_bytes=1000)
    try:
        storage.append([entry(i, 1, bytes(300)) for i in range(1, 11)])
        assert len(storage._cache) == 3  # 3 x 300 bytes fit in 1000
        assert storage.entries(1, 11) == [entry(i, 1, bytes(300)) for i in range(1, 11)]  # disk then cache
        storage.append([entry(9, 2, b"x")])  # truncating drops cached 9 and 10
        assert storage.entries(8, 10) == [entry(8, 1, bytes(300)), entry(9, 2, b"x")]
    finally:
        storage.close()


def test_a_gap_is_a_broken_invariant(tmp_path):
    storage = LevelDBLogStorage(str(tmp_path / "raft"), CONF)
    try:
        storage.append([entry(1, 1)])
        with pytest.raises(RaftInvariantError):
            storage.append([entry(3, 1)])
        assert storage.last_index() == 1
    finally:
        storage.close()


# --------------------------------------------------------- SIGKILL


def batch_plan(batch: int, last: int) -> tuple[int, int]:
    """(first index, count) written by `batch` when the log ends at `last`: every 4th overwrites a suffix."""
    if batch % 4 == 0 and last >= 3:
        return last - 2, 5
    return last + 1, 1 + (batch * 7) % 5


def entry_data(index: int, term: int) -> bytes:
    return hashlib.sha256(f"{index}/{term}".encode()).digest() * (1 + (index * 13) % 40)


def model(batches: int) -> dict[int, int]:
    """index -> term after `batches` saves."""
    terms: dict[int, int] = {}
    for batch in range(1, batches + 1):
        first, count = batch_plan(batch, len(terms))
        for index in list(terms):
            if index >= first:
                del terms[index]
        for index in range(first, first + count):
            terms[index] = batch
    return terms


def child_main(path: str) -> None:
    """Run by the crash test in a subprocess: save batches forever, printing "acked N" after each."""
    storage = LevelDBLogStorage(path, CONF)
    batch = storage.hard_state.term
    print("ready", flush=True)
    while True:
        batch += 1
        first, count = batch_plan(batch, storage.last_index())
        entries = [entry(i, batch, entry_data(i, batch)) for i in range(first, first + count)]
        storage.save(HardState(term=batch, vote="n1", commit=max(0, first - 1)), entries)
        print(f"acked {batch}", flush=True)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_at_random_moments_loses_no_acknowledged_save(tmp_path):
    path = str(tmp_path / "raft")
    rng = random.Random(20240611)
    acked = 0
    kills = 0
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); from tests.node.test_raft_storage import child_main; child_main(sys.argv[1])"
    while kills < 32:
        child = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, cwd=REPO, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            target = rng.randint(0, 12)
            for _ in range(target):
                line = child.stdout.readline()
                assert line.startswith("acked "), line
                acked = max(acked, int(line.split()[1]))
            time.sleep(rng.uniform(0, 0.02))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            rest, _ = child.communicate()
        kills += 1
        for line in rest.splitlines():
            if line.startswith("acked "):
                acked = max(acked, int(line.split()[1]))
        storage = LevelDBLogStorage(path, CONF)
        try:
            saved = storage.hard_state.term
            # Every acknowledged save is there; at most the one in flight beyond it.
            assert acked <= saved <= acked + 1, (kills, acked, saved)
            expected = model(saved)
            assert (storage.first_index(), storage.last_index()) == (1, len(expected))
            got = storage.entries(1, storage.last_index() + 1)
            assert [(e.index, e.term) for e in got] == sorted(expected.items())
            assert all(e.data == entry_data(e.index, e.term) for e in got)
        finally:
            storage.close()
        acked = saved
    assert acked > 30


# ------------------------------------------------ with the real Raft core


def test_a_single_voter_raft_node_runs_on_it_and_restarts_from_it(tmp_path):
    """The Ready loop of docs/node-runtime.md over LevelDBLogStorage, then a restart from disk."""
    import random

    from consensus import Config, RawNode, Role

    path = str(tmp_path / "raft")
    applied: list[bytes] = []

    def drive(node, storage) -> None:
        while node.has_ready():
            rd = node.ready()
            storage.save(rd.hard_state, rd.entries, rd.snapshot)
            applied.extend(e.data for e in rd.committed_entries if e.type is EntryType.NORMAL and e.data)
            node.advance(rd)

    def start(applied_index: int):
        storage = LevelDBLogStorage(path, ConfState(voters=("n1",)))
        node = RawNode(Config(node_id="n1", rng=random.Random(7), applied=applied_index), storage)
        node.campaign()
        drive(node, storage)
        assert node.status().role is Role.LEADER
        return node, storage

    node, storage = start(0)
    for data in (b"a", b"b"):
        node.propose(data)
        drive(node, storage)
    first_term = storage.hard_state.term
    storage.close()

    node, storage = start(storage.hard_state.commit)
    try:
        node.propose(b"c")
        drive(node, storage)
        assert applied == [b"a", b"b", b"c"]  # nothing applied twice, nothing lost
        assert storage.hard_state.term > first_term and storage.hard_state.vote == "n1"
        assert storage.hard_state.commit == storage.last_index()
    finally:
        storage.close()
