"""ledger/merkle.py against a reference written straight from RFC 9162 §2.1,
the published RFC 6962 test vectors (transparency-dev/merkle
``testonly/constants.go``, ``proof/verify_test.go``, ``rfc6962/rfc6962_test.go``),
and corrupted-proof probes in the shape of merkle ``testdata/inclusion/*/``."""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from ledger import merkle
from ledger.errors import InvalidInput, MinutebookError, ProofFailed, RootMismatch
from ledger.merkle import (
    EMPTY_ROOT,
    NodeId,
    consistency_nodes,
    inclusion_nodes,
    leaf_hash,
    node_hash,
    range_nodes,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle_log import MerkleLog, completing_leaf
from ledger.store import MemoryStore, Overlay

# --------------------------------------------------------------------------
# The reference: RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH), §2.1.4.1 (PROOF),
# over D = DATA[lo:hi], memoised on (lo, hi) and nothing else.

DATA = [b"leaf %d" % i for i in range(6000)]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@lru_cache(maxsize=None)
def ref_mth(lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + DATA[lo])
    k = _k(n)
    return _sha256(b"\x01" + ref_mth(lo, lo + k) + ref_mth(lo + k, hi))


def ref_path(m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, lo, lo + k) + [ref_mth(lo + k, hi)]
    return ref_path(m - k, lo + k, hi) + [ref_mth(lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if b else [ref_mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, lo, lo + k, b) + [ref_mth(lo + k, hi)]
    return ref_subproof(m - k, lo + k, hi, False) + [ref_mth(lo, lo + k)]


def ref_proof(m: int, n: int) -> list[bytes]:
    return ref_subproof(m, 0, n, True)


def ref_node(node: NodeId) -> bytes:
    return ref_mth(*node.coverage())


def fast_inclusion(index: int, size: int) -> list[bytes]:
    nodes = inclusion_nodes(index, size)
    return nodes.rehash([ref_node(n) for n in nodes.ids])


def fast_consistency(m: int, n: int) -> list[bytes]:
    nodes = consistency_nodes(m, n)
    return nodes.rehash([ref_node(x) for x in nodes.ids])


# --------------------------------------------------------------------------
# Published vectors.


def hd(s: str) -> bytes:
    return bytes.fromhex(s)


VECTOR_LEAVES = [hd(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                 "606162636465666768696a6b6c6d6e6f"]]
VECTOR_ROOTS = [hd(x) for x in [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
# (leaf index, tree size, audit path) from proof/verify_test.go (1-based leaves there).
VECTOR_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
VECTOR_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
SOME_HASH = hd("abacaba000000000000000000000000000000000000000000060061e00123456")


def vector_log() -> MerkleLog:
    log = MerkleLog(Overlay(MemoryStore()))
    log.append(VECTOR_LEAVES)
    return log


def test_hashes_match_rfc6962_vectors():
    assert EMPTY_ROOT == hd("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert leaf_hash(b"") == hd("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == hd("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456") == hd("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


def test_roots_of_sizes_0_to_8_match_vectors():
    hashes = [leaf_hash(x) for x in VECTOR_LEAVES]
    log = vector_log()
    for size, expected in enumerate(VECTOR_ROOTS):
        assert root(hashes[:size]) == expected
        assert log.root(size) == expected


@pytest.mark.parametrize("index,size,path", VECTOR_INCLUSION)
def test_inclusion_vectors(index, size, path):
    path = [hd(x) for x in path]
    log = vector_log()
    assert log.inclusion_proof(index, size) == path
    verify_inclusion(leaf_hash(VECTOR_LEAVES[index]), index, size, path, VECTOR_ROOTS[size])


@pytest.mark.parametrize("m,n,path", VECTOR_CONSISTENCY)
def test_consistency_vectors(m, n, path):
    path = [hd(x) for x in path]
    log = vector_log()
    assert log.consistency_proof(m, n) == path
    verify_consistency(m, n, VECTOR_ROOTS[m], VECTOR_ROOTS[n], path)


# --------------------------------------------------------------------------
# Fast code against the reference.


def test_root_matches_reference_for_every_size_up_to_300():
    hashes = [leaf_hash(d) for d in DATA[:300]]
    for size in range(0, 301):
        assert root(hashes[:size]) == ref_mth(0, size), size


def test_range_nodes_cover_exactly_the_range():
    for begin in range(0, 70):
        for end in range(begin, 70):
            covered = []
            for node in range_nodes(begin, end):
                lo, hi = node.coverage()
                covered.extend(range(lo, hi))
            assert covered == list(range(begin, end))


def test_inclusion_matches_reference_for_every_index_of_every_size_up_to_300():
    for size in range(1, 301):
        root_hash = ref_mth(0, size)
        for index in range(size):
            expected = ref_path(index, 0, size)
            proof = fast_inclusion(index, size)
            assert proof == expected, (index, size)
            verify_inclusion(ref_mth(index, index + 1), index, size, proof, root_hash)


def _consistency_pairs():
    pairs = [(m, n) for n in range(1, 65) for m in range(0, n + 1)]
    rng = random.Random(9162)
    for _ in range(1500):
        n = rng.randrange(65, 301)
        pairs.append((rng.randrange(0, n + 1), n))
    return pairs


def test_consistency_matches_reference_for_all_m_le_n_up_to_64_and_sampled_to_300():
    for m, n in _consistency_pairs():
        proof = fast_consistency(m, n)
        expected = [] if m == 0 else ref_proof(m, n)
        assert proof == expected, (m, n)
        verify_consistency(m, n, ref_mth(0, m), ref_mth(0, n), proof)


def test_proof_nodes_are_complete_subtrees_of_the_tree():
    """Every id a proof asks for must be a stored (complete) node, and at most one ephemeral range."""
    for size in range(1, 130):
        for index in range(size):
            nodes = inclusion_nodes(index, size)
            assert all(n.coverage()[1] <= size for n in nodes.ids)
            assert 0 <= nodes.begin <= nodes.end <= len(nodes.ids)
        for m in range(1, size + 1):
            nodes = consistency_nodes(m, size)
            assert all(n.coverage()[1] <= size for n in nodes.ids)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_merkle_log_matches_reference_at_random_sizes(data):
    size = data.draw(st.integers(1, 5000), label="size")
    log = MerkleLog(Overlay(MemoryStore()))
    appended = 0
    while appended < size:
        batch = data.draw(st.integers(1, max(1, size // 3)), label="batch")
        batch = min(batch, size - appended)
        log.append(DATA[appended : appended + batch])
        appended += batch
    assert log.size == size
    assert log.root() == ref_mth(0, size)
    for _ in range(5):
        earlier = data.draw(st.integers(1, size), label="earlier")
        index = data.draw(st.integers(0, earlier - 1), label="index")
        assert log.root(earlier) == ref_mth(0, earlier)
        assert log.inclusion_proof(index, earlier) == ref_path(index, 0, earlier)
        m = data.draw(st.integers(1, earlier), label="m")
        assert log.consistency_proof(m, earlier) == ref_proof(m, earlier)
        assert log.leaf_hash_at(index) == ref_mth(index, index + 1)


def test_each_node_is_in_the_record_of_the_leaf_that_completed_it():
    log = MerkleLog(Overlay(MemoryStore()))
    log.append(DATA[:100])
    for level in range(7):
        for index in range(100 >> level):
            node = NodeId(level, index)
            leaf = completing_leaf(level, index)
            assert node.coverage()[1] == leaf + 1
            record = log.view.get(log._key(level, index))
            assert record[32 * level : 32 * level + 32] == ref_node(node)


# --------------------------------------------------------------------------
# Preconditions.


@pytest.mark.parametrize("index,size", [(0, 0), (1, 1), (5, 3), (-1, 4), (0, -1)])
def test_inclusion_nodes_precondition(index, size):
    with pytest.raises(InvalidInput):
        inclusion_nodes(index, size)
    with pytest.raises(InvalidInput):
        verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


@pytest.mark.parametrize("m,n", [(2, 1), (-1, 3), (1, -1)])
def test_consistency_nodes_precondition(m, n):
    with pytest.raises(InvalidInput):
        consistency_nodes(m, n)
    with pytest.raises(InvalidInput):
        verify_consistency(m, n, SOME_HASH, SOME_HASH, [])


def test_node_id_rejects_nonsense():
    with pytest.raises(InvalidInput):
        NodeId(-1, 0)
    with pytest.raises(InvalidInput):
        NodeId(0, -1)
    assert NodeId(2, 3).coverage() == (12, 16)
    assert NodeId(2, 3).parent == NodeId(3, 1) and NodeId(2, 3).sibling == NodeId(2, 2)


def test_trivial_consistency():
    verify_consistency(0, 5, EMPTY_ROOT, ref_mth(0, 5), [])
    verify_consistency(5, 5, ref_mth(0, 5), ref_mth(0, 5), [])
    with pytest.raises(RootMismatch):
        verify_consistency(5, 5, ref_mth(0, 5), ref_mth(0, 4), [])
    with pytest.raises(RootMismatch):
        verify_consistency(0, 5, SOME_HASH, ref_mth(0, 5), [])
    with pytest.raises(ProofFailed):
        verify_consistency(5, 5, ref_mth(0, 5), ref_mth(0, 5), [SOME_HASH])
    with pytest.raises(ProofFailed):
        verify_consistency(3, 5, ref_mth(0, 3), ref_mth(0, 5), [])


# --------------------------------------------------------------------------
# Probes (merkle testdata/inclusion/*/ and testdata/consistency/*/): each
# corruption of a good proof must fail with a typed error.


def _bit_flips(proof, every_bit: bool, rng: random.Random):
    for i, h in enumerate(proof):
        bits = range(256) if every_bit else [rng.randrange(256)]
        for bit in bits:
            wrong = bytearray(h)
            wrong[bit // 8] ^= 1 << (bit % 8)
            yield f"proof[{i}] bit {bit}", proof[:i] + [bytes(wrong)] + proof[i + 1 :]


def inclusion_probes(index, size, proof, root_hash, leaf, every_bit, rng):
    # Not size +- 1: an audit path does not bind the size by itself (leaf 0
    # has the same path in trees of 7 and 8 leaves); the signed root does.
    yield "index - 1", index - 1, size, root_hash, leaf, proof
    yield "index + 1", index + 1, size, root_hash, leaf, proof
    yield "index ^ 2", index ^ 2, size, root_hash, leaf, proof
    yield "size * 2", index, size * 2, root_hash, leaf, proof
    yield "size / 2", index, size // 2, root_hash, leaf, proof
    yield "wrong leaf", index, size, root_hash, leaf_hash(b"WrongLeaf"), proof
    yield "short leaf", index, size, root_hash, b"WrongLeaf", proof
    yield "empty root", index, size, EMPTY_ROOT, leaf, proof
    yield "random root", index, size, SOME_HASH, leaf, proof
    yield "short root", index, size, b"WrongRoot", leaf, proof
    yield "trailing garbage", index, size, root_hash, leaf, proof + [b""]
    yield "trailing root", index, size, root_hash, leaf, proof + [root_hash]
    yield "preceding garbage", index, size, root_hash, leaf, [b""] + proof
    yield "preceding root", index, size, root_hash, leaf, [root_hash] + proof
    for desc, wrong in _bit_flips(proof, every_bit, rng):
        yield desc, index, size, root_hash, leaf, wrong
    if proof:
        yield "truncated", index, size, root_hash, leaf, proof[:-1]
        if len(proof) > 1:
            yield "inserted", index, size, root_hash, leaf, [proof[0], SOME_HASH] + proof[1:]
        yield "reversed", index, size, root_hash, leaf, proof[::-1] if len(proof) > 1 else [SOME_HASH]


def check_inclusion_probes(index, size, every_bit=False, rng=None):
    rng = rng or random.Random(index * 7919 + size)
    root_hash = ref_mth(0, size)
    leaf = ref_mth(index, index + 1)
    proof = ref_path(index, 0, size)
    verify_inclusion(leaf, index, size, proof, root_hash)  # happy path
    assert root_from_inclusion_proof(leaf, index, size, proof) == root_hash
    for other in {0, size - 1, (index + 1) % size} - {index}:
        with pytest.raises(RootMismatch):  # leaf hash swapped for another leaf's
            verify_inclusion(ref_mth(other, other + 1), index, size, proof, root_hash)
    for desc, i, s, r, lf, p in inclusion_probes(index, size, proof, root_hash, leaf, every_bit, rng):
        if (i, s, r, lf, p) == (index, size, root_hash, leaf, proof):
            continue  # e.g. index ^ 2 == index when it cannot change anything
        if 0 <= i < s and (i, s) != (index, size) and p == ref_path(i, 0, s) and lf == ref_mth(i, i + 1) \
                and r == ref_mth(0, s):
            continue  # the probe happens to be another valid proof
        with pytest.raises(MinutebookError) as info:
            verify_inclusion(lf, i, s, p, r)
        assert isinstance(info.value, (ProofFailed, InvalidInput)), desc


@pytest.mark.parametrize("index,size,path", VECTOR_INCLUSION)
def test_inclusion_probes_on_vectors_every_bit(index, size, path):
    # these use the vector leaves, not DATA: rebuild the probes around them
    proof = [hd(x) for x in path]
    root_hash = VECTOR_ROOTS[size]
    leaf = leaf_hash(VECTOR_LEAVES[index])
    verify_inclusion(leaf, index, size, proof, root_hash)
    rng = random.Random(1)
    for desc, i, s, r, lf, p in inclusion_probes(index, size, proof, root_hash, leaf, True, rng):
        if (i, s, r, lf, p) == (index, size, root_hash, leaf, proof):
            continue
        with pytest.raises((ProofFailed, InvalidInput)):
            verify_inclusion(lf, i, s, p, r)


def test_inclusion_probes_for_every_index_of_sizes_up_to_40():
    for size in range(1, 41):
        for index in range(size):
            check_inclusion_probes(index, size)


def consistency_probes(m, n, root_m, root_n, proof, every_bit, rng):
    yield "m - 1", m - 1, n, root_m, root_n, proof
    yield "m + 1", m + 1, n, root_m, root_n, proof
    yield "m ^ 2", m ^ 2, n, root_m, root_n, proof
    yield "n * 2", m, n * 2, root_m, root_n, proof
    yield "n / 2", m, n // 2, root_m, root_n, proof
    yield "wrong root_m", m, n, SOME_HASH, root_n, proof
    yield "wrong root_n", m, n, root_m, SOME_HASH, proof
    yield "short root_m", m, n, b"WrongRoot", root_n, proof
    yield "swapped roots", m, n, root_n, root_m, proof
    yield "empty proof", m, n, root_m, root_n, []
    yield "trailing garbage", m, n, root_m, root_n, proof + [b""]
    yield "trailing root_m", m, n, root_m, root_n, proof + [root_m]
    yield "trailing root_n", m, n, root_m, root_n, proof + [root_n]
    yield "preceding garbage", m, n, root_m, root_n, [b""] + proof
    yield "preceding root_m", m, n, root_m, root_n, [root_m] + proof
    yield "preceding root_n", m, n, root_m, root_n, [root_n] + proof
    yield "preceding proof[0]", m, n, root_m, root_n, proof[:1] + proof
    yield "truncated", m, n, root_m, root_n, proof[:-1]
    for desc, wrong in _bit_flips(proof, every_bit, rng):
        yield desc, m, n, root_m, root_n, wrong


def check_consistency_probes(m, n, every_bit=False, proof=None, roots=None):
    rng = random.Random(m * 7919 + n)
    root_m, root_n = roots or (ref_mth(0, m), ref_mth(0, n))
    proof = ref_proof(m, n) if proof is None else proof
    verify_consistency(m, n, root_m, root_n, proof)
    for desc, a, b, ra, rb, p in consistency_probes(m, n, root_m, root_n, proof, every_bit, rng):
        if roots is None and 0 <= a <= b and p == (ref_proof(a, b) if a else []) \
                and ra == ref_mth(0, a) and rb == ref_mth(0, b):
            continue  # the probe happens to be another valid proof (e.g. 1 -> 2 with m + 1)
        with pytest.raises((ProofFailed, InvalidInput)):
            verify_consistency(a, b, ra, rb, p)


@pytest.mark.parametrize("m,n,path", [v for v in VECTOR_CONSISTENCY if v[2]])
def test_consistency_probes_on_vectors_every_bit(m, n, path):
    check_consistency_probes(m, n, True, [hd(x) for x in path], (VECTOR_ROOTS[m], VECTOR_ROOTS[n]))


def test_consistency_probes_for_all_pairs_up_to_40():
    for n in range(2, 41):
        for m in range(1, n):
            check_consistency_probes(m, n)


def test_public_names_are_exported():
    for name in merkle.__all__:
        assert hasattr(merkle, name), name
