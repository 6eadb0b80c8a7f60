"""ledger/merkle_log.py: MerkleLog over MemoryStore against the RFC 9162
reference (tests/ledger/test_merkle.py), batches of random sizes, proofs at
earlier sizes, and a read-counting view that shows every call is O(log n)."""

from __future__ import annotations

import math
import random

import pytest

from ledger.errors import CorruptionError, InvalidInput
from ledger.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from ledger.merkle_log import MerkleLog
from ledger.store import MemoryStore, Overlay

from .test_merkle import DATA, ref_mth, ref_path, ref_proof


class CountingView:
    """An Overlay wrapper that counts reads and writes."""

    def __init__(self, view) -> None:
        self.view = view
        self.reads = 0
        self.writes = 0

    def get(self, key):
        self.reads += 1
        return self.view.get(key)

    def put(self, key, value):
        self.writes += 1
        self.view.put(key, value)


def build(sizes: list[int], prefix: bytes = b"m/") -> tuple[MerkleLog, MemoryStore]:
    store = MemoryStore()
    total = 0
    for batch in sizes:
        overlay = Overlay(store)
        log = MerkleLog(overlay, prefix)
        first = log.append(DATA[total : total + batch])
        assert first == total
        overlay.commit()  # one block = one batch
        total += batch
    return MerkleLog(Overlay(store), prefix), store


def test_empty_log():
    log = MerkleLog(Overlay(MemoryStore()))
    assert log.size == 0
    assert log.root() == EMPTY_ROOT
    assert log.append([]) == 0
    assert log.consistency_proof(0, 0) == []
    with pytest.raises(InvalidInput):
        log.inclusion_proof(0, 0)
    with pytest.raises(InvalidInput):
        log.leaf_hash_at(0)


@pytest.mark.parametrize("seed", range(6))
def test_random_batches_match_reference_at_every_earlier_size(seed):
    rng = random.Random(seed)
    sizes = []
    while sum(sizes) < 700:
        sizes.append(rng.choice([1, 1, 2, 3, 7, 16, 31, 64, 100]))
    log, _ = build(sizes)
    n = sum(sizes)
    assert log.size == n
    boundaries = [sum(sizes[: i + 1]) for i in range(len(sizes))]
    for size in boundaries:  # receipts are against a block's earlier log size
        root_hash = log.root(size)
        assert root_hash == ref_mth(0, size)
        for index in rng.sample(range(size), min(size, 8)):
            proof = log.inclusion_proof(index, size)
            assert proof == ref_path(index, 0, size)
            verify_inclusion(log.leaf_hash_at(index), index, size, proof, root_hash)
        for m in rng.sample(range(1, size + 1), min(size, 5)):
            proof = log.consistency_proof(m, size)
            assert proof == ref_proof(m, size)
            verify_consistency(m, size, log.root(m), root_hash, proof)


def test_one_leaf_at_a_time_equals_one_big_batch():
    one_by_one, store_a = build([1] * 300)
    at_once, store_b = build([300])
    assert store_a._data == store_b._data
    assert one_by_one.root() == at_once.root() == ref_mth(0, 300)


def test_storage_is_one_record_per_leaf_holding_each_complete_node_once():
    n = 1000
    _, store = build([n])
    records = list(store.scan(b"m/h"))
    assert [k for k, _ in records] == [b"m/h" + i.to_bytes(8, "big") for i in range(n)]
    for i, (_, value) in enumerate(records):
        trailing_ones = (~i & (i + 1)).bit_length() - 1
        assert len(value) == 32 * (1 + trailing_ones)
    assert sum(len(v) for _, v in records) == 32 * (2 * n - bin(n).count("1"))
    assert [k for k, _ in store.scan(b"m/")] == [k for k, _ in records] + [b"m/size"]


def test_prefixes_keep_logs_apart():
    store = MemoryStore()
    overlay = Overlay(store)
    a, b = MerkleLog(overlay, b"a/"), MerkleLog(overlay, b"b/")
    a.append(DATA[:10])
    b.append(DATA[:3])
    assert a.root() == ref_mth(0, 10) and b.root() == ref_mth(0, 3)


def test_bad_arguments_are_invalid_input():
    log, _ = build([10])
    for call in (
        lambda: log.inclusion_proof(10, 10),
        lambda: log.inclusion_proof(0, 11),  # beyond the log
        lambda: log.root(11),
        lambda: log.root(-1),
        lambda: log.consistency_proof(5, 11),
        lambda: log.consistency_proof(6, 5),
        lambda: log.append_leaf_hashes([b"short"]),
    ):
        with pytest.raises(InvalidInput):
            call()


def test_missing_node_is_corruption_not_a_wrong_answer():
    log, store = build([16])
    key = log._key(1, 3)
    store.write({key: None})
    with pytest.raises(CorruptionError):
        log.inclusion_proof(4, 16)
    store.write({log._key(4, 0): None})  # the right border that append extends
    with pytest.raises(CorruptionError):
        log.append([b"x"])


def test_reads_are_logarithmic_at_a_million_leaves():
    """Roots, proofs and appends read O(log n) nodes, at any earlier size too."""
    n = 1_000_000
    store = MemoryStore()
    overlay = Overlay(store)
    log = MerkleLog(overlay)
    hashes = [leaf_hash(b"%d" % i) for i in range(n)]
    for lo in range(0, n, 250_000):
        log.append_leaf_hashes(hashes[lo : lo + 250_000])
    overlay.commit()

    counting = CountingView(Overlay(store))
    log = MerkleLog(counting)
    rng = random.Random(7)
    bound = 4 * math.ceil(math.log2(n)) + 4
    for _ in range(300):
        size = rng.choice([n, rng.randrange(1, n + 1)])
        index = rng.randrange(size)
        m = rng.randrange(1, size + 1)

        counting.reads = 0
        root_hash = log.root(size)
        assert counting.reads <= bound

        counting.reads = 0
        proof = log.inclusion_proof(index, size)
        assert counting.reads <= bound
        verify_inclusion(hashes[index], index, size, proof, root_hash)

        counting.reads = 0
        proof = log.consistency_proof(m, size)
        assert counting.reads <= bound
        counting.reads = 0
        root_m = log.root(m)
        verify_consistency(m, size, root_m, root_hash, proof)

    counting.reads = counting.writes = 0
    log.append([b"one more"] * 3)
    assert counting.reads <= bound
    assert counting.writes == 3 + 1  # one record per leaf, and the size
