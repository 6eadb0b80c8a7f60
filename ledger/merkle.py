"""RFC 9162 Merkle trees: hashing, which nodes a proof needs, and checking proofs.

Pure functions over hashlib only: the offline verifier imports this module, and
nothing here ever sees a database (merkle_log.py answers "hash of node
(level, index)").

Theory of operation (modelled on transparency-dev/merkle ``proof/proof.go``,
``proof/verify.go`` and ``compact/nodes.go``):

- A node is ``NodeId(level, index)``; it covers leaves
  ``[index << level, (index + 1) << level)``. A node is *complete* in a tree of
  ``size`` leaves when its whole range lies below ``size``; a log stores exactly
  the complete nodes, and a complete node's hash never changes as the log grows.
- The RFC 9162 tree of ``size`` leaves is not perfect: along its right border
  it has *ephemeral* nodes, whose hashes cover an incomplete range. An
  inclusion or consistency proof needs at most one ephemeral node (the sibling
  of the point where the path from the proven node diverges from the path to
  the last leaf); its hash is rebuilt from the complete nodes covering its
  range. :class:`ProofNodes` lists the complete node ids to fetch, the slice of
  them to fold into the ephemeral node, and :meth:`ProofNodes.rehash` turns the
  fetched hashes into the proof, exactly as ``proof.go``'s ``Nodes.Rehash``.
- Verification follows the RFC 9162 algorithms step by step (§2.1.3.2 for
  inclusion, §2.1.4.2 for consistency), after an explicit length check so that
  a truncated or extended proof is named as such.

Errors: a call outside a function's stated precondition raises
``InvalidInput``; a proof that does not check out raises ``ProofFailed`` (wrong
shape) or ``RootMismatch`` (both roots, for the evidence).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import InvalidInput, ProofFailed, RootMismatch

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "root",
    "NodeId",
    "ProofNodes",
    "range_nodes",
    "inclusion_nodes",
    "consistency_nodes",
    "root_from_inclusion_proof",
    "root_from_inclusion",
    "verify_inclusion",
    "verify_consistency",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()
_MAX_SIZE = (1 << 63) - 1


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d0}) = HASH(0x00 || d0)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: HASH(0x01 || MTH(left) || MTH(right))."""
    return _sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the Merkle Tree Hash of a list of *leaf hashes*.

    Iterative (a compact range folded right to left), O(n) time, O(log n)
    memory. The empty tree hashes to SHA-256 of the empty string.
    """
    stack: list[tuple[int, bytes]] = []  # (level, hash); levels strictly decrease
    for h in leaf_hashes:
        level = 0
        while stack and stack[-1][0] == level:
            h = node_hash(stack.pop()[1], h)
            level += 1
        stack.append((level, h))
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass(frozen=True, slots=True, order=True)
class NodeId:
    """A node of the tree: `level` above the leaves, `index` from the left.

    Covers leaves ``[index << level, (index + 1) << level)`` (compact/nodes.go).
    """

    level: int
    index: int

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 63:
            raise InvalidInput("level", f"requires 0 <= level <= 63, got {self.level}")
        if self.index < 0:
            raise InvalidInput("index", f"requires index >= 0, got {self.index}")

    @property
    def parent(self) -> "NodeId":
        return NodeId(self.level + 1, self.index >> 1)

    @property
    def sibling(self) -> "NodeId":
        return NodeId(self.level, self.index ^ 1)

    def coverage(self) -> tuple[int, int]:
        """The [begin, end) range of leaves under this node."""
        return self.index << self.level, (self.index + 1) << self.level


@dataclass(frozen=True, slots=True)
class ProofNodes:
    """How to build a proof from stored complete-subtree hashes (proof.go `Nodes`).

    `ids` are complete nodes, to be fetched in this order. If
    ``begin < end``, ``ids[begin:end]`` cover the range of the one `ephemeral`
    node, listed from the lowest level up; :meth:`rehash` folds them into it.
    """

    ids: tuple[NodeId, ...]
    begin: int
    end: int
    ephemeral: NodeId | None

    def rehash(self, hashes: Sequence[bytes], hash_children: Callable[[bytes, bytes], bytes] = node_hash) -> list[bytes]:
        """The proof, given `hashes[i]` = hash of `ids[i]` (proof.go `Rehash`)."""
        if len(hashes) != len(self.ids):
            raise InvalidInput("hashes", f"got {len(hashes)} hashes for {len(self.ids)} node ids")
        if self.end - self.begin <= 1:
            return list(hashes)
        acc = hashes[self.begin]
        for h in hashes[self.begin + 1 : self.end]:
            acc = hash_children(h, acc)
        return [*hashes[: self.begin], acc, *hashes[self.end :]]


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_SIZE:
        raise InvalidInput(name, f"requires an int in 0..2**63-1, got {value!r}")


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The complete nodes that exactly cover leaves [begin, end), left to right.

    compact/nodes.go `RangeNodes`: along the left border lower levels first,
    then along the right border upper levels first. For ``begin == 0`` these
    are the subtrees of the binary decomposition of `end`, largest first.
    Requires 0 <= begin <= end.
    """
    _check_size("begin", begin)
    _check_size("end", end)
    if begin > end:
        raise InvalidInput("begin", f"requires begin <= end, got {begin} > {end}")
    if begin == end:
        return []
    if begin == 0:
        left, right = 0, end
    else:
        # Where the paths to leaves begin-1 and end diverge; only nodes strictly
        # below that point lie inside the range (compact/range.go `Decompose`).
        before = begin - 1
        split = (before ^ end).bit_length() - 1
        mask = (1 << split) - 1
        left, right = ~before & mask, end & mask
    ids = []
    position = begin
    while left:
        level = (left & -left).bit_length() - 1
        ids.append(NodeId(level, position >> level))
        position += 1 << level
        left &= left - 1
    while right:
        level = right.bit_length() - 1
        ids.append(NodeId(level, position >> level))
        position += 1 << level
        right ^= 1 << level
    return ids


def _nodes(index: int, level: int, size: int) -> ProofNodes:
    """Nodes proving node (level, index) is in the tree of `size` (proof.go `nodes`).

    The first id is the node itself (callers skip it). Then the siblings up to
    the `fork` where the paths to (level, index) and to leaf size-1 diverge;
    then the complete nodes right of the fork (the ephemeral node's range,
    lowest level first); then the complete nodes left of the fork, lowest first.
    """
    inner = (index ^ (size >> level)).bit_length() - 1
    fork = NodeId(level + inner, index >> inner)
    begin, end = fork.coverage()
    node = NodeId(level, index)
    ids = [node]
    while node.level < fork.level:
        ids.append(node.sibling)
        node = node.parent
    ephemeral_begin = len(ids)
    ids.extend(reversed(range_nodes(end, size)))
    ephemeral_end = len(ids)
    ids.extend(reversed(range_nodes(0, begin)))
    if ephemeral_begin >= ephemeral_end:
        ephemeral_begin = ephemeral_end = 0
    return ProofNodes(tuple(ids), ephemeral_begin, ephemeral_end, fork.sibling)


def _skip_first(nodes: ProofNodes) -> ProofNodes:
    begin, end = nodes.begin, nodes.end
    if begin < end:
        begin, end = begin - 1, end - 1
    return ProofNodes(nodes.ids[1:], begin, end, nodes.ephemeral)


def _shift_up(nodes: ProofNodes, levels: int) -> ProofNodes:
    return ProofNodes(
        tuple(NodeId(n.level + levels, n.index) for n in nodes.ids),
        nodes.begin,
        nodes.end,
        None if nodes.ephemeral is None else NodeId(nodes.ephemeral.level + levels, nodes.ephemeral.index),
    )


def inclusion_nodes(index: int, size: int) -> ProofNodes:
    """The nodes of the RFC 9162 §2.1.3.1 audit path PATH(index, D[size]).

    Requires 0 <= index < size.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise InvalidInput("index", f"requires 0 <= index < size, got index {index}, size {size}")
    return _skip_first(_nodes(index, 0, size))


def consistency_nodes(m: int, n: int) -> ProofNodes:
    """The nodes of the RFC 9162 §2.1.4.1 consistency proof PROOF(m, D[n]).

    Requires 0 <= m <= n; the proof is empty when m == 0 or m == n.
    """
    _check_size("m", m)
    _check_size("n", n)
    if m > n:
        raise InvalidInput("m", f"requires 0 <= m <= n, got m {m}, n {n}")
    if m == 0 or m == n:
        return ProofNodes((), 0, 0, None)
    # The largest complete subtree ending at m; the proof is its inclusion
    # proof in the tree of size n, preceded by itself unless it is the whole
    # old tree (m a power of two), which the verifier already holds.
    level = (m & -m).bit_length() - 1
    index = (m - 1) >> level
    nodes = _nodes(index, level, n)
    if m & (m - 1) == 0:
        return _skip_first(nodes)
    return nodes


def _inclusion_path_length(index: int, size: int) -> tuple[int, int]:
    """(inner, border): audit path hashes below and on the right border (verify.go)."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _check_hash(field: str, value: bytes) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        got = f"{len(value)} bytes" if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofFailed(field, f"expected a {HASH_SIZE}-byte hash, got {got}")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf_hash` at `index` (RFC 9162 §2.1.3.2 steps 1-4).

    Requires 0 <= index < size. Raises ProofFailed if the proof has the wrong
    number of hashes or a hash of the wrong size.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise InvalidInput("index", f"requires 0 <= index < size, got index {index}, size {size}")
    _check_hash("leaf_hash", leaf_hash)
    inner, border = _inclusion_path_length(index, size)
    if len(proof) != inner + border:
        raise ProofFailed(
            "inclusion_proof_length",
            f"got {len(proof)} hashes, expected {inner + border} for leaf {index} in a tree of {size}",
        )
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for i, p in enumerate(proof):
        _check_hash(f"inclusion_proof[{i}]", p)
        if sn == 0:
            raise ProofFailed("inclusion_proof_length", "proof longer than the path to the root")
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofFailed("inclusion_proof_length", "proof shorter than the path to the root")
    return r


root_from_inclusion = root_from_inclusion_proof  # the name docs/interfaces.md uses


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: check that `leaf_hash` is leaf `index` of the tree of `size` with `root`.

    Requires 0 <= index < size. Returns None, or raises ProofFailed /
    RootMismatch(expected=root, calculated=...).
    """
    _check_hash("root", root)
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:
        raise RootMismatch(bytes(root), calculated, "inclusion_root")


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: check that the tree of size `n` with `root_n` extends the one of size `m`.

    Requires 0 <= m <= n. For m == 0 the proof must be empty and `root_m` the
    empty-tree hash; for m == n the proof must be empty and the roots equal.
    Returns None, or raises ProofFailed / RootMismatch.
    """
    _check_size("m", m)
    _check_size("n", n)
    if m > n:
        raise InvalidInput("m", f"requires 0 <= m <= n, got m {m}, n {n}")
    _check_hash("root_m", root_m)
    _check_hash("root_n", root_n)
    if m == 0 or m == n:
        if proof:
            raise ProofFailed("consistency_proof_length", f"got {len(proof)} hashes, expected none for m {m}, n {n}")
        if m == 0:
            if root_m != EMPTY_ROOT:
                raise RootMismatch(bytes(root_m), EMPTY_ROOT, "consistency_root_m")
        elif root_m != root_n:
            raise RootMismatch(bytes(root_n), bytes(root_m), "consistency_root_n")
        return
    # Step 1 and the expected length (verify.go's decompInclProof of m-1 in n).
    inner, border = _inclusion_path_length(m - 1, n)
    shift = (m & -m).bit_length() - 1
    m_is_power_of_two = m & (m - 1) == 0
    expected = (0 if m_is_power_of_two else 1) + inner - shift + border
    if len(proof) != expected:
        raise ProofFailed(
            "consistency_proof_length", f"got {len(proof)} hashes, expected {expected} for m {m}, n {n}"
        )
    for i, c in enumerate(proof):
        _check_hash(f"consistency_proof[{i}]", c)
    # Step 2: if m is an exact power of 2, prepend root_m.
    path = [bytes(root_m), *proof] if m_is_power_of_two else list(proof)
    # Steps 3-4.
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofFailed("consistency_proof_length", "proof longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofFailed("consistency_proof_length", "proof shorter than the path to the root")
    if fr != root_m:
        raise RootMismatch(bytes(root_m), fr, "consistency_root_m")
    if sr != root_n:
        raise RootMismatch(bytes(root_n), sr, "consistency_root_n")
