"""The log storage the Raft core reads (``LogStorage``) and an in-memory one (``MemoryLogStorage``).

Modelled on etcd-io/raft ``storage.go``. The core only reads; the runtime
writes, following the Ready contract (rawnode.py). The log starts at an
*offset* entry: the last entry covered by the snapshot or dropped by
compaction. Its term is known (the §5.3 consistency check at the first entry
needs it) but it is never returned by ``entries``::

    first_index = offset_index + 1;  last_index = offset_index + len(log)

Reads outside the log raise ``LogCompacted`` (below first_index; ``term`` of
the offset itself is allowed) or ``LogUnavailable`` (past last_index).
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

from consensus.errors import LogCompacted, LogUnavailable, RaftInvariantError, SnapshotOutOfDate
from consensus.messages import ConfState, Entry, HardState, Snapshot, SnapshotMetadata

__all__ = ["LogStorage", "MemoryLogStorage", "limit_size"]


class LogStorage(Protocol):
    """What the core reads. ``entries`` returns at least one entry when lo < hi, even past ``max_bytes``.

    ``initial_state`` returns the persisted hard state and the configuration as of the
    snapshot (as of index 0 without one); the core replays the conf changes after it,
    up to ``Config.applied``, from the log on restart.
    """

    def initial_state(self) -> tuple[HardState, ConfState]: ...

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> Sequence[Entry]: ...

    def term(self, index: int) -> int: ...

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def snapshot(self) -> Snapshot: ...


def limit_size(entries: list[Entry], max_bytes: int | None) -> list[Entry]:
    """The longest prefix whose data fits in `max_bytes`, but at least one entry (etcd limitSize)."""
    if max_bytes is None or len(entries) <= 1:
        return entries
    total = 0
    for count, entry in enumerate(entries):
        total += len(entry.data)
        if total > max_bytes and count > 0:
            return entries[:count]
    return entries


class MemoryLogStorage:
    """``LogStorage`` in memory, plus the writer side the runtime uses (as etcd's MemoryStorage)."""

    def __init__(self, conf_state: ConfState | None = None) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot(metadata=SnapshotMetadata(conf_state=conf_state or ConfState()))
        self._offset_index = 0
        self._offset_term = 0
        # Invariant: self._log[k].index == self._offset_index + 1 + k (no gaps).
        self._log: list[Entry] = []

    # ----------------------------------------------------------- read side

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.metadata.conf_state

    def first_index(self) -> int:
        return self._offset_index + 1

    def last_index(self) -> int:
        return self._offset_index + len(self._log)

    def term(self, index: int) -> int:
        offset = self._offset_index
        if index < offset:
            raise LogCompacted(index, offset)
        if index == offset:
            return self._offset_term
        if index > offset + len(self._log):
            raise LogUnavailable(index, offset + len(self._log))
        return self._log[index - offset - 1].term

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        offset = self._offset_index
        if lo <= offset:
            raise LogCompacted(lo, offset)
        if hi > offset + len(self._log) + 1:
            raise LogUnavailable(hi - 1, offset + len(self._log))
        if lo > hi:
            raise ValueError(f"entries: lo {lo} > hi {hi}")
        return limit_size(self._log[lo - offset - 1:hi - offset - 1], max_bytes)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # ---------------------------------------------------------- write side

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def set_hard_state(self, hard_state: HardState | None) -> None:
        """Record the hard state; None (a Ready with no change) is a no-op."""
        if hard_state is not None:
            self._hard_state = hard_state

    def append(self, entries: Iterable[Entry]) -> None:
        """Append, truncating a conflicting suffix (Raft §5.3); entries at or below the offset are ignored."""
        entries = list(entries)
        offset = self._offset_index
        if entries and entries[0].index <= offset:
            entries = [entry for entry in entries if entry.index > offset]
        if not entries:
            return
        first = entries[0].index
        last = offset + len(self._log)
        if first > last + 1:
            raise RaftInvariantError(f"raft log would have a gap: appending {first} after {last}")
        if first <= last:
            del self._log[first - offset - 1:]
        self._log.extend(entries)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the whole log by `snapshot` (Raft §7); SnapshotOutOfDate unless it is newer."""
        if snapshot.metadata.index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDate(snapshot.metadata.index, self._snapshot.metadata.index)
        self._snapshot = snapshot
        self._offset_index, self._offset_term = snapshot.metadata.index, snapshot.metadata.term
        self._log = []

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record the application state at `index` (in the log); compacts nothing."""
        if index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDate(index, self._snapshot.metadata.index)
        if index > self.last_index():
            raise RaftInvariantError(f"snapshot index {index} is past the last index {self.last_index()}")
        snapshot = Snapshot(metadata=SnapshotMetadata(index=index, term=self.term(index), conf_state=conf_state),
                            data=bytes(data))
        self._snapshot = snapshot
        return snapshot

    def compact(self, index: int) -> None:
        """Drop entries up to and including `index` (the runtime passes a snapshot's index)."""
        if index <= self._offset_index:
            raise LogCompacted(index, self._offset_index)
        if index > self.last_index():
            raise RaftInvariantError(f"compact {index} is past the last index {self.last_index()}")
        term = self.term(index)
        del self._log[:index - self._offset_index]
        self._offset_index, self._offset_term = index, term
