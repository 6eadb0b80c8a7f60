"""The Raft log and hard state on LevelDB: ``LevelDBLogStorage``.

The Raft core only *reads* its storage (``consensus.LogStorage``); the runtime
writes it, and Raft's safety rests on one rule (Raft §5, Figure 2 "persistent
state on all servers ... updated on stable storage before responding to
RPCs"): the hard state and the new entries of a Ready are durable before any
message of that Ready leaves. ``save(hard_state, entries, snapshot)`` is that
step, and it is ONE ``LevelDBStore.write`` batch, which LevelDB logs as one
record and fsyncs before returning. After a crash the storage therefore holds
exactly the state after some prefix of the ``save`` calls, and every ``save``
that returned is in it.

Theory of operation
-------------------
Like etcd's ``MemoryStorage``, the log starts at an *offset* entry
(``offset_index``, ``offset_term``): the last entry dropped by compaction or
covered by the snapshot. It is never returned by ``entries`` but ``term`` of
it is known (Raft §5.3's consistency check at the first entry needs it)::

    offset_index = first_index - 1;  last_index = offset_index + len(terms)
    # Invariant: the entries stored are exactly (offset_index, last_index], no gaps.
    # The runtime compacts at or below snapshot.index (it needs the snapshot
    # to serve a follower that is behind the offset).

Keys, in this storage's own LevelDBStore directory (separate from the
ledger's)::

    b"h"              hard state            msgpack map of its fields
    b"o"              offset                msgpack [index, term]
    b"s"              snapshot              msgpack {index, term, conf_state, data}
    b"e" + u64be(i)   entry i               msgpack [term, type, data]
    b"t" + u64be(i)   term of entry i       msgpack int (small, so reopen reads no entry data)

Overwrites: when ``save`` gets entries starting at index i <= last_index (a
new leader's log wins over an uncommitted suffix, Raft §5.3), everything from
i on is deleted in the same batch as the new entries are written. Entries at or
below the offset are ignored (they are compacted, hence committed, hence
equal). A gap (first new index > last_index + 1) is a broken invariant and
raises ``RaftInvariantError``, as ``MemoryLogStorage`` does; data on disk that
breaks the layout (a missing record, a hole in the log) raises
``CorruptionError`` when read.

Memory: every term in ``(offset, last]`` is kept in a list (8 bytes a
pointer; the runtime compacts every ``raft.snapshot_every`` entries), so
``term(i)`` never reads the disk; the most recent entries are kept too, up to
``entry_cache_bytes``, because the leader reads them right after writing them
to replicate them.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import struct
from typing import Any, Iterable, Sequence

import msgpack

from ledger.errors import CorruptionError
from ledger.store import LevelDBStore

from consensus import ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMetadata
from consensus.errors import LogCompacted, LogUnavailable, RaftInvariantError, SnapshotOutOfDate

__all__ = ["LevelDBLogStorage"]

_HARD_STATE = b"h"
_OFFSET = b"o"
_SNAPSHOT = b"s"
_ENTRY = b"e"
_TERM = b"t"
_INDEX = struct.Struct(">Q")


def _entry_key(index: int) -> bytes:
    return _ENTRY + _INDEX.pack(index)


def _term_key(index: int) -> bytes:
    return _TERM + _INDEX.pack(index)


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def _record_to_obj(record: Any) -> dict[str, Any]:
    """A flat frozen dataclass (HardState, ConfState) as a msgpack-ready map of its fields."""
    obj = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, (tuple, frozenset, set)):
            value = sorted(value) if isinstance(value, (frozenset, set)) else list(value)
        obj[field.name] = value
    return obj


def _record_from_obj(cls: type, obj: dict[str, Any]) -> Any:
    values = {}
    for field in dataclasses.fields(cls):
        if field.name in obj:
            value = obj[field.name]
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def _entry_type_value(entry: Any) -> Any:
    kind = entry.type
    return kind.value if isinstance(kind, enum.Enum) else kind


def _entry_size(entry: Any) -> int:
    """Bytes an entry counts for against ``max_bytes`` (the data, as MemoryLogStorage counts it)."""
    return len(entry.data)


class LevelDBLogStorage:
    """``consensus.LogStorage`` on a LevelDBStore in its own directory, plus the writer side.

    Read side (the Raft core): ``initial_state``, ``entries``, ``term``,
    ``first_index``, ``last_index``, ``snapshot``. Write side (the runtime):
    ``save``, ``apply_snapshot``, ``append``, ``set_hard_state``,
    ``create_snapshot``, ``compact``; each is one fsynced batch.
    """

    def __init__(
        self,
        path: str,
        conf_state: ConfState | None = None,
        *,
        entry_cache_bytes: int = 32 << 20,
        store: LevelDBStore | None = None,
    ) -> None:
        """Open (or create) the log at `path`; `conf_state` seeds a new one (ignored on reopen)."""
        self.store = store if store is not None else LevelDBStore(path)
        self.entry_cache_bytes = entry_cache_bytes
        self._cache: collections.OrderedDict[int, Entry] = collections.OrderedDict()  # index -> entry, ascending
        self._cache_bytes = 0
        self.saves = 0  # batches written by save(), for tests and metrics
        if self.store.get(_OFFSET) is None:
            initial = Snapshot(
                metadata=SnapshotMetadata(index=0, term=0, conf_state=conf_state or ConfState()), data=b""
            )
            self.store.write(
                {
                    _OFFSET: _pack([0, 0]),
                    _SNAPSHOT: _pack(self._snapshot_to_obj(initial)),
                    _HARD_STATE: _pack(_record_to_obj(HardState())),
                }
            )
        self._load()

    def _load(self) -> None:
        self._offset_index, self._offset_term = _unpack(self._required(_OFFSET))
        self._hard_state = _record_from_obj(HardState, _unpack(self._required(_HARD_STATE)))
        self._snapshot = self._snapshot_from_obj(_unpack(self._required(_SNAPSHOT)))
        # Invariant: self._terms[k] is the term of entry offset_index + 1 + k; no gaps.
        self._terms: list[int] = []
        expected = self._offset_index + 1
        for key, value in self.store.scan(_TERM, start=_term_key(expected)):
            index = _INDEX.unpack(key[1:])[0]
            if index != expected:
                raise CorruptionError(f"raft log has a gap: expected entry {expected}, found {index}")
            self._terms.append(_unpack(value))
            expected += 1

    def _required(self, key: bytes) -> bytes:
        value = self.store.get(key)
        if value is None:
            raise CorruptionError(f"raft storage at {getattr(self.store, 'path', '?')} lacks record {key!r}")
        return value

    def close(self) -> None:
        self.store.close()

    # ----------------------------------------------------------- read side

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.metadata.conf_state

    def first_index(self) -> int:
        return self._offset_index + 1

    def last_index(self) -> int:
        return self._offset_index + len(self._terms)

    def term(self, index: int) -> int:
        """Term of entry `index`; raises LogCompacted below the offset, LogUnavailable past the end."""
        if index < self._offset_index:
            raise LogCompacted(index, self._offset_index)
        if index == self._offset_index:
            return self._offset_term
        if index > self.last_index():
            raise LogUnavailable(index, self.last_index())
        return self._terms[index - self._offset_index - 1]

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries [lo, hi), at most `max_bytes` of data but always at least one (etcd's limitSize)."""
        if lo <= self._offset_index:
            raise LogCompacted(lo, self._offset_index)
        if hi > self.last_index() + 1:
            raise LogUnavailable(hi - 1, self.last_index())
        if lo > hi:
            raise ValueError(f"entries: lo {lo} > hi {hi}")
        result: list[Entry] = []
        total = 0
        index = lo
        while index < hi:
            cached = self._cache.get(index)
            batch: Iterable[Entry] = [cached] if cached is not None else self._scan_entries(index, hi)
            progressed = False
            for entry in batch:
                size = _entry_size(entry)
                if result and max_bytes is not None and total + size > max_bytes:
                    return result
                result.append(entry)
                total += size
                index += 1
                progressed = True
            if not progressed:
                raise CorruptionError(f"raft entry {index} is indexed but not stored")
        return result

    def _scan_entries(self, lo: int, hi: int) -> Iterable[Entry]:
        """Entries from disk from lo, lazily, up to hi or the first cached one."""
        expected = lo
        for key, value in self.store.scan(_ENTRY, start=_entry_key(lo), limit=hi - lo):
            index = _INDEX.unpack(key[1:])[0]
            if index != expected:
                raise CorruptionError(f"raft log has a gap: expected entry {expected}, found {index}")
            if index != lo and index in self._cache:
                return
            term, kind, data = _unpack(value)
            yield Entry(term=term, index=index, type=EntryType(kind), data=data)
            expected += 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # ---------------------------------------------------------- write side

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def save(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry] = (),
        snapshot: Snapshot | None = None,
    ) -> None:
        """Persist one Ready's snapshot, entries and hard state in ONE fsynced batch.

        Order within the batch follows etcd's raft README: snapshot first (it
        replaces the log), then entries (truncating a conflicting suffix), then
        the hard state. An empty hard state (None) or snapshot is skipped.
        """
        changes: dict[bytes, bytes | None] = {}
        offset_index, offset_term, terms = self._offset_index, self._offset_term, list(self._terms)
        new_snapshot = None
        if snapshot is not None and snapshot.metadata.index > 0:
            if snapshot.metadata.index <= self._snapshot.metadata.index:
                raise SnapshotOutOfDate(snapshot.metadata.index, self._snapshot.metadata.index)
            for index in range(offset_index + 1, offset_index + len(terms) + 1):
                changes[_entry_key(index)] = None
                changes[_term_key(index)] = None
            offset_index, offset_term, terms = snapshot.metadata.index, snapshot.metadata.term, []
            changes[_OFFSET] = _pack([offset_index, offset_term])
            changes[_SNAPSHOT] = _pack(self._snapshot_to_obj(snapshot))
            new_snapshot = snapshot
        kept = [entry for entry in entries if entry.index > offset_index]
        truncate_from = None
        if kept:
            first = kept[0].index
            last = offset_index + len(terms)
            if first > last + 1:
                raise RaftInvariantError(f"raft log would have a gap: appending {first} after {last}")
            for position, entry in enumerate(kept):
                if entry.index != first + position:
                    raise RaftInvariantError(f"entries to save are not consecutive at {entry.index}")
            new_last = kept[-1].index
            for index in range(new_last + 1, last + 1):  # the conflicting suffix beyond the new entries
                changes[_entry_key(index)] = None
                changes[_term_key(index)] = None
            for entry in kept:
                changes[_entry_key(entry.index)] = _pack([entry.term, _entry_type_value(entry), entry.data])
                changes[_term_key(entry.index)] = _pack(entry.term)
            terms = terms[: first - offset_index - 1] + [entry.term for entry in kept]
            truncate_from = first
        if hard_state is not None:
            changes[_HARD_STATE] = _pack(_record_to_obj(hard_state))
        if not changes:
            return
        self.store.write(changes)  # durable when this returns
        self.saves += 1
        # Only now, with the batch on disk, does memory follow.
        if new_snapshot is not None:
            self._snapshot = new_snapshot
            self._clear_cache()
        self._offset_index, self._offset_term, self._terms = offset_index, offset_term, terms
        if truncate_from is not None:
            self._drop_cached_from(truncate_from)
            for entry in kept:
                self._cache_entry(entry)
        if hard_state is not None:
            self._hard_state = hard_state

    def append(self, entries: Iterable[Entry]) -> None:
        """MemoryLogStorage's writer spelling: ``save(None, entries)``."""
        self.save(None, list(entries))

    def set_hard_state(self, hard_state: HardState) -> None:
        self.save(hard_state)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the log by `snapshot` (InstallSnapshot, Raft §7); SnapshotOutOfDate if not newer."""
        self.save(None, (), snapshot)

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record a snapshot of the applied state at `index` (which must be in the log)."""
        if index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDate(index, self._snapshot.metadata.index)
        if index > self.last_index():
            raise RaftInvariantError(f"snapshot index {index} is past the last index {self.last_index()}")
        snapshot = Snapshot(
            metadata=SnapshotMetadata(index=index, term=self.term(index), conf_state=conf_state), data=bytes(data)
        )
        self.store.write({_SNAPSHOT: _pack(self._snapshot_to_obj(snapshot))})
        self._snapshot = snapshot
        return snapshot

    def compact(self, index: int) -> None:
        """Drop entries up to and including `index` (the runtime passes a snapshot's index)."""
        if index <= self._offset_index:
            raise LogCompacted(index, self._offset_index)
        if index > self.last_index():
            raise RaftInvariantError(f"compact {index} is past the last index {self.last_index()}")
        term = self.term(index)
        changes: dict[bytes, bytes | None] = {_OFFSET: _pack([index, term])}
        for dropped in range(self._offset_index + 1, index + 1):
            changes[_entry_key(dropped)] = None
            changes[_term_key(dropped)] = None
        self.store.write(changes)
        del self._terms[: index - self._offset_index]
        self._offset_index, self._offset_term = index, term
        while self._cache and next(iter(self._cache)) <= index:
            _, entry = self._cache.popitem(last=False)
            self._cache_bytes -= _entry_size(entry)

    # --------------------------------------------------------------- cache

    def _cache_entry(self, entry: Entry) -> None:
        self._cache[entry.index] = entry
        self._cache_bytes += _entry_size(entry)
        while self._cache_bytes > self.entry_cache_bytes and self._cache:
            _, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= _entry_size(evicted)

    def _drop_cached_from(self, index: int) -> None:
        while self._cache and next(reversed(self._cache)) >= index:
            _, entry = self._cache.popitem(last=True)
            self._cache_bytes -= _entry_size(entry)

    def _clear_cache(self) -> None:
        self._cache.clear()
        self._cache_bytes = 0

    # --------------------------------------------------------- snapshots

    @staticmethod
    def _snapshot_to_obj(snapshot: Snapshot) -> dict[str, Any]:
        metadata = snapshot.metadata
        return {
            "index": metadata.index,
            "term": metadata.term,
            "conf_state": _record_to_obj(metadata.conf_state),
            "data": bytes(snapshot.data),
        }

    @staticmethod
    def _snapshot_from_obj(obj: dict[str, Any]) -> Snapshot:
        conf_state = _record_from_obj(ConfState, obj["conf_state"])
        metadata = SnapshotMetadata(index=obj["index"], term=obj["term"], conf_state=conf_state)
        return Snapshot(metadata=metadata, data=obj["data"])
