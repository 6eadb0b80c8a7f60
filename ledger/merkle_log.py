"""The document log: an append-only RFC 9162 Merkle tree kept in a key-value view.

Theory of operation
-------------------
The log stores its size and the hash of *every complete subtree* (every node
whose leaves are all present), never an ephemeral one, so a stored hash never
changes. Any root, inclusion proof or consistency proof, at the current size or
any earlier one, then needs only the O(log n) complete nodes that
:func:`ledger.merkle.inclusion_nodes` / :func:`~ledger.merkle.consistency_nodes`
/ :func:`~ledger.merkle.range_nodes` name, plus a little rehashing.

Keys. A complete node is keyed by its *storage position*: the order in which
the nodes are completed as leaves are appended (the numbering of Go's
``golang.org/x/mod/sumdb/tlog.StoredHashIndex``). Appending leaf ``i``
completes node (0, i) and then one parent per trailing 1-bit of ``i``; the
nodes completed by leaves ``0 .. i-1`` number ``2*i - popcount(i)``, so
node (level, index), completed by leaf ``i = ((index + 1) << level) - 1``, sits
at position ``2*i - popcount(i) + level``::

    key(level, index) = prefix + b"h" + position as 8 bytes big-endian
    key of the size   = prefix + b"size"   (8 bytes big-endian)
    value             = the 32-byte hash, nothing else

Positions are dense (0 .. 2n - popcount(n) - 1), so the log holds about two
32-byte hashes per leaf with one short key each, and every append writes keys
in increasing order (cheap for LevelDB and for a sorted in-memory store).

Appending a batch reads the hashes of the current right border (the complete
subtrees of the binary decomposition of `size`, at most log2(n) reads), then
works like ``compact/range.go``'s ``Append``: push the leaf, and while the two
rightmost subtrees have equal level, merge them into their parent, storing
each newly completed node as it is made.

A stored hash that is missing where the size says it must exist is a broken
invariant: :class:`~ledger.errors.CorruptionError`, never a quiet fallback.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Protocol, Sequence

from .errors import CorruptionError, InvalidInput
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    NodeId,
    consistency_nodes,
    inclusion_nodes,
    node_hash,
    range_nodes,
)

__all__ = ["MerkleLog", "KeyValueView", "storage_position"]

_u64 = struct.Struct(">Q")
_sha256 = hashlib.sha256


class KeyValueView(Protocol):
    """What the log needs from its storage: an Overlay, or any get/put object."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


def storage_position(level: int, index: int) -> int:
    """The position at which complete node (level, index) is stored (see module docstring)."""
    last_leaf = ((index + 1) << level) - 1
    return 2 * last_leaf - last_leaf.bit_count() + level


class MerkleLog:
    """An RFC 9162 log over `view` (keys under `prefix`); every read is O(log n)."""

    def __init__(self, view: KeyValueView, prefix: bytes = b"m/") -> None:
        self.view = view
        self.prefix = bytes(prefix)
        self._hash_prefix = self.prefix + b"h"
        self._size_key = self.prefix + b"size"

    # -- keys and reads ----------------------------------------------------

    def _key(self, level: int, index: int) -> bytes:
        return self._hash_prefix + _u64.pack(storage_position(level, index))

    @property
    def size(self) -> int:
        """Number of leaves; 0 for a log never appended to."""
        raw = self.view.get(self._size_key)
        if raw is None:
            return 0
        if len(raw) != 8:
            raise CorruptionError(f"merkle log size record {self._size_key!r} is {len(raw)} bytes, expected 8")
        return _u64.unpack(raw)[0]

    def _stored(self, level: int, index: int) -> bytes:
        value = self.view.get(self._key(level, index))
        if value is None or len(value) != HASH_SIZE:
            what = "missing" if value is None else f"{len(value)} bytes"
            raise CorruptionError(f"merkle log node (level {level}, index {index}) is {what}")
        return value

    def node_hash_at(self, node: NodeId, size: int | None = None) -> bytes:
        """The hash of a complete node of the tree of `size` (default: now). One read."""
        size = self._resolve_size(size)
        if node.coverage()[1] > size:
            raise InvalidInput("node", f"node {node} is not complete in a tree of size {size}")
        return self._stored(node.level, node.index)

    def leaf_hash_at(self, index: int) -> bytes:
        """The leaf hash of leaf `index`. Requires 0 <= index < size. One read (plus the size)."""
        size = self.size
        if not isinstance(index, int) or not 0 <= index < size:
            raise InvalidInput("index", f"requires 0 <= index < size, got index {index}, size {size}")
        return self._stored(0, index)

    def _resolve_size(self, size: int | None) -> int:
        current = self.size
        if size is None:
            return current
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= current:
            raise InvalidInput("size", f"requires 0 <= size <= {current} (the log's size), got {size!r}")
        return size

    # -- roots and proofs ----------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1 MTH of the first `size` leaves (default: all). popcount(size) reads."""
        size = self._resolve_size(size)
        if size == 0:
            return EMPTY_ROOT
        hashes = [self._stored(n.level, n.index) for n in range_nodes(0, size)]
        acc = hashes[-1]
        for h in reversed(hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 audit path for leaf `index` in the tree of `size`, leaf upward.

        Requires 0 <= index < size <= self.size. At most ~2*log2(size) reads.
        """
        size = self._resolve_size(size)
        nodes = inclusion_nodes(index, size)
        return nodes.rehash([self._stored(n.level, n.index) for n in nodes.ids])

    def consistency_proof(self, m: int, n: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(m, D[n]). Requires 0 <= m <= n <= self.size."""
        n = self._resolve_size(n)
        nodes = consistency_nodes(m, n)
        return nodes.rehash([self._stored(node.level, node.index) for node in nodes.ids])

    # -- appending -----------------------------------------------------------

    def append(self, leaves: Sequence[bytes]) -> int:
        """Append leaf *data* (e.g. canonical envelopes); returns the first new index."""
        return self.append_leaf_hashes([_sha256(b"\x00" + data).digest() for data in leaves])

    def append_leaf_hashes(self, leaf_hashes: Sequence[bytes]) -> int:
        """Append already-hashed leaves (RFC 9162 leaf hashes); returns the first new index.

        Stores each leaf hash and every subtree hash the batch completes, then
        the new size: about 2 puts per leaf and popcount(size) reads per batch.
        """
        first = self.size
        if not leaf_hashes:
            return first
        for i, h in enumerate(leaf_hashes):
            if len(h) != HASH_SIZE:
                raise InvalidInput(f"leaf_hashes[{i}]", f"expected {HASH_SIZE} bytes, got {len(h)}")
        put = self.view.put
        prefix = self._hash_prefix
        pack = _u64.pack
        # The right border: (level, hash) of the complete subtrees of [0, first),
        # largest first. Invariant: levels strictly decrease along the list.
        border = [(n.level, self._stored(n.level, n.index)) for n in range_nodes(0, first)]
        # Invariant: position == 2*i - popcount(i) for the next leaf index i.
        position = 2 * first - first.bit_count()
        for h in leaf_hashes:
            put(prefix + pack(position), h)
            position += 1
            level = 0
            while border and border[-1][0] == level:
                h = _sha256(b"\x01" + border.pop()[1] + h).digest()
                level += 1
                put(prefix + pack(position), h)
                position += 1
            border.append((level, h))
        size = first + len(leaf_hashes)
        put(self._size_key, _u64.pack(size))
        return first
