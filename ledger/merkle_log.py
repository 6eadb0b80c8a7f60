"""The document log: an append-only RFC 9162 Merkle tree kept in a key-value view.

Theory of operation
-------------------
The log stores its size and the hash of *every complete subtree* (every node
whose leaves are all present), never an ephemeral one, so a stored hash never
changes. Any root, inclusion proof or consistency proof, at the current size or
any earlier one, then needs only the O(log n) complete nodes that
:func:`ledger.merkle.inclusion_nodes` / :func:`~ledger.merkle.consistency_nodes`
/ :func:`~ledger.merkle.range_nodes` name, plus a little rehashing.

Keys. Appending leaf ``i`` completes node (0, i) and then one parent per
trailing 1-bit of ``i`` (nodes (1, i >> 1), (2, i >> 2), ...). Those hashes,
lowest level first, make up leaf ``i``'s one record; so node (level, index)
lives in the record of the leaf that completed it, ``((index + 1) << level) - 1``,
at byte offset ``32 * level``::

    key of leaf i's record = prefix + b"h" + i as 8 bytes big-endian
    value                  = 32 * (1 + trailing ones of i) bytes of hashes
    key of the size        = prefix + b"size"   (8 bytes big-endian)

That is one record per leaf holding two hashes on average (2n - popcount(n)
hashes in all, no copies), so the per-entry overhead of the store (key,
checksum, LevelDB's sequence tag) is paid once per leaf rather than twice, and
every append writes keys in increasing order (cheap for LevelDB and for a
sorted in-memory store). Reading any node is still one ``get``.

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

__all__ = ["MerkleLog", "KeyValueView", "completing_leaf"]

_u64 = struct.Struct(">Q")
_sha256 = hashlib.sha256


class KeyValueView(Protocol):
    """What the log needs from its storage: an Overlay, or any get/put object."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


def completing_leaf(level: int, index: int) -> int:
    """The leaf whose append completed node (level, index): the last leaf under it."""
    return ((index + 1) << level) - 1


class MerkleLog:
    """An RFC 9162 log over `view` (keys under `prefix`); every read is O(log n)."""

    def __init__(self, view: KeyValueView, prefix: bytes = b"m/") -> None:
        self.view = view
        self.prefix = bytes(prefix)
        self._hash_prefix = self.prefix + b"h"
        self._size_key = self.prefix + b"size"

    # -- keys and reads ----------------------------------------------------

    def _key(self, level: int, index: int) -> bytes:
        """The key of the record holding node (level, index)."""
        return self._hash_prefix + _u64.pack(completing_leaf(level, index))

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
        record = self.view.get(self._key(level, index))
        offset = HASH_SIZE * level
        if record is None or len(record) < offset + HASH_SIZE:
            what = "missing" if record is None else f"in a record of only {len(record)} bytes"
            raise CorruptionError(f"merkle log node (level {level}, index {index}) is {what}")
        return record[offset : offset + HASH_SIZE]

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

        Stores each leaf's record (its hash and the subtree hashes it
        completes), then the new size: one put per leaf plus one, and
        popcount(size) reads per batch.
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
        for leaf_index, h in enumerate(leaf_hashes, first):
            record = [h]
            level = 0
            while border and border[-1][0] == level:
                h = _sha256(b"\x01" + border.pop()[1] + h).digest()
                level += 1
                record.append(h)
            border.append((level, h))
            put(prefix + pack(leaf_index), b"".join(record))
        size = first + len(leaf_hashes)
        put(self._size_key, _u64.pack(size))
        return first
