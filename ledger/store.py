"""Key-value storage under the ledger.

The ledger sees storage as sorted bytes -> bytes with atomic, durable batches:

- :class:`Store` is the protocol. ``write(changes)`` applies a whole batch (puts,
  and deletes given as ``None``) atomically and durably: when it returns, the
  batch is on disk (fsynced) or the call raised and nothing of it is.
- :class:`MemoryStore` serves tests of logic.
- :class:`LevelDBStore` is the real one and the only ``import plyvel``.
- :class:`Overlay` is a pending batch over a store: reads see the batch first,
  writes go into it, and ``commit()`` hands it to ``Store.write``. Applying a
  block builds one Overlay (documents, Merkle leaves and subtree hashes,
  registry state, indexes, the head pointer) and commits it once, so a crash
  leaves the store at the old block or the new one, never in between.
"""

from __future__ import annotations

import bisect
from typing import Iterator, Mapping, Protocol, runtime_checkable

__all__ = ["Store", "MemoryStore", "Overlay", "prefix_end"]


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with `prefix` (None: no bound)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return None


@runtime_checkable
class Store(Protocol):
    def get(self, key: bytes) -> bytes | None:
        """The value at `key`, or None."""

    def scan(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with `prefix`, in key order (or reversed).

        `start` (a full key) bounds the scan: forward, keys >= start; reversed,
        keys <= start.
        """

    def write(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Apply all of `changes` atomically and durably (None deletes)."""

    def close(self) -> None:
        ...


class MemoryStore:
    """A Store in a dict plus a sorted key list; for tests of logic."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []
        self.writes = 0  # batches written, for tests

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, prefix: bytes, *, start=None, reverse=False, limit=None):
        keys = self._keys
        lo = bisect.bisect_left(keys, prefix)
        end = prefix_end(prefix)
        hi = len(keys) if end is None else bisect.bisect_left(keys, end)
        if start is not None:
            if reverse:
                hi = min(hi, bisect.bisect_right(keys, start))
            else:
                lo = max(lo, bisect.bisect_left(keys, start))
        selected = keys[lo:hi]
        if reverse:
            selected = selected[::-1]
        if limit is not None:
            selected = selected[:limit]
        for k in selected:
            yield k, self._data[k]

    def write(self, changes: Mapping[bytes, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                if key in self._data:
                    del self._data[key]
                    self._keys.pop(bisect.bisect_left(self._keys, key))
            else:
                if key not in self._data:
                    bisect.insort(self._keys, key)
                self._data[key] = bytes(value)
        self.writes += 1

    def close(self) -> None:
        pass


class Overlay:
    """A pending batch over a Store (or over another Overlay, for nesting).

    Reads see pending writes; nothing reaches the base until :meth:`commit`.
    A nested Overlay lets one document's changes be dropped if it is rejected
    halfway: ``sub = Overlay(block_overlay)``; on success ``sub.merge()``.
    """

    def __init__(self, base: "Store | Overlay") -> None:
        self.base = base
        self.pending: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.pending:
            return self.pending[key]
        return self.base.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.pending[key] = bytes(value)

    def delete(self, key: bytes) -> None:
        self.pending[key] = None

    def scan(self, prefix: bytes, *, start=None, reverse=False, limit=None):
        end = prefix_end(prefix)

        def in_range(k: bytes) -> bool:
            if not k.startswith(prefix):
                return False
            if start is not None:
                return k <= start if reverse else k >= start
            return True

        mine = sorted((k for k in self.pending if in_range(k)), reverse=reverse)
        base_iter = self.base.scan(prefix, start=start, reverse=reverse)
        count = 0
        i = 0
        base_item = next(base_iter, None)
        while True:
            if limit is not None and count >= limit:
                return
            pk = mine[i] if i < len(mine) else None
            if pk is None and base_item is None:
                return
            take_mine = base_item is None or (
                pk is not None and (pk >= base_item[0] if reverse else pk <= base_item[0])
            )
            if take_mine:
                if base_item is not None and base_item[0] == pk:
                    base_item = next(base_iter, None)
                i += 1
                value = self.pending[pk]
                if value is None:
                    continue
                yield pk, value
            else:
                yield base_item
                base_item = next(base_iter, None)
            count += 1
        del end

    def merge(self) -> None:
        """Move pending writes into the base Overlay (for nested overlays)."""
        if not isinstance(self.base, Overlay):
            raise TypeError("merge() is for an Overlay over an Overlay; use commit()")
        self.base.pending.update(self.pending)
        self.pending = {}

    def commit(self) -> None:
        """Write all pending changes to the base Store as one atomic batch."""
        if isinstance(self.base, Overlay):
            raise TypeError("commit() is for an Overlay over a Store; use merge()")
        self.base.write(self.pending)
        self.pending = {}
