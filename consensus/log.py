"""The Raft log as the core sees it: stable storage plus the unstable tail (etcd ``log.go``/``log_unstable.go``).

Theory of operation
-------------------
Entries the core appended but the runtime has not yet persisted live in the
*unstable* tail (``unstable``, starting at ``unstable_offset``), optionally
preceded by an unstable snapshot. ``ready()`` hands out what is not yet in
progress (``in_progress_index``: unstable entries up to it were handed out);
``advance()`` tells the log the runtime persisted them (``stable_to``) and
applied the committed ones (``applied_to``). Reads look at the unstable part
first, then at storage.

    # Invariant: applied <= applying <= committed <= last_index
    # Invariant: unstable[k].index == unstable_offset + k; storage holds [first_index, unstable_offset)
"""

from __future__ import annotations

from typing import Sequence

from consensus.errors import LogCompacted, LogUnavailable, RaftInvariantError, StorageError
from consensus.messages import Entry, Snapshot
from consensus.storage import LogStorage, limit_size

__all__ = ["RaftLog"]


class RaftLog:
    __slots__ = ("storage", "unstable", "unstable_offset", "unstable_snapshot", "in_progress_index",
                 "snapshot_in_progress", "committed", "applying", "applied")

    def __init__(self, storage: LogStorage, applied: int = 0) -> None:
        self.storage = storage
        first, last = storage.first_index(), storage.last_index()
        self.unstable: list[Entry] = []
        self.unstable_offset = last + 1
        self.unstable_snapshot: Snapshot | None = None
        # Unstable entries with index < in_progress_index were handed to the runtime by ready().
        self.in_progress_index = self.unstable_offset
        self.snapshot_in_progress = False
        hard_state, _ = storage.initial_state()
        # Invariant: applied <= applying <= committed <= last_index
        self.committed = max(hard_state.commit, first - 1)
        if self.committed > last:
            raise RaftInvariantError(f"commit {self.committed} is past the last index {last}")
        floor = first - 1
        if applied and not floor <= applied <= self.committed:
            raise RaftInvariantError(f"applied {applied} outside [{floor}, {self.committed}]")
        self.applied = max(applied, floor)
        self.applying = self.applied

    # -------------------------------------------------------------- reads

    def first_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.metadata.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        if self.unstable:
            return self.unstable_offset + len(self.unstable) - 1
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.metadata.index
        return self.storage.last_index()

    def term(self, index: int) -> int:
        """Term of entry `index`; LogCompacted / LogUnavailable outside [first_index - 1, last_index]."""
        offset = self.unstable_offset
        if index >= offset:
            position = index - offset
            if position < len(self.unstable):
                return self.unstable[position].term
            raise LogUnavailable(index, self.last_index())
        snap = self.unstable_snapshot
        if snap is not None:
            if index == snap.metadata.index:
                return snap.metadata.term
            if index < snap.metadata.index:
                raise LogCompacted(index, snap.metadata.index)
        return self.storage.term(index)

    def last_term(self) -> int:
        return self.term(self.last_index())

    def term_or_zero(self, index: int) -> int:
        try:
            return self.term(index)
        except StorageError:
            return 0

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except StorageError:
            return False

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries [lo, hi), limited to `max_bytes` of data but at least one; LogCompacted below first_index."""
        if lo >= hi:
            return []
        offset = self.unstable_offset
        if lo >= offset:
            return limit_size(self.unstable[lo - offset:hi - offset], max_bytes)
        if self.unstable_snapshot is not None and lo <= self.unstable_snapshot.metadata.index:
            raise LogCompacted(lo, self.unstable_snapshot.metadata.index)
        stored = list(self.storage.entries(lo, min(hi, offset), max_bytes))
        if hi <= offset or len(stored) < min(hi, offset) - lo:
            return stored
        if max_bytes is not None:
            used = sum(len(entry.data) for entry in stored)
            for position in range(0, min(hi - offset, len(self.unstable))):
                entry = self.unstable[position]
                used += len(entry.data)
                if used > max_bytes and stored:
                    break
                stored.append(entry)
            return stored
        return stored + self.unstable[:hi - offset]

    def snapshot(self) -> Snapshot:
        return self.unstable_snapshot if self.unstable_snapshot is not None else self.storage.snapshot()

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Raft §5.4.1: the candidate's log is at least as up-to-date as ours."""
        our_term = self.last_term()
        return last_term > our_term or (last_term == our_term and last_index >= self.last_index())

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest index <= `index` whose term is <= `term` (fast back-off, etcd findConflictByTerm)."""
        first = self.first_index()
        while index >= first - 1:
            try:
                if self.term(index) <= term:
                    return index
            except StorageError:
                return index
            index -= 1
        return index

    # ------------------------------------------------------------- writes

    def append(self, entries: Sequence[Entry]) -> int:
        """Append to the unstable tail, truncating what conflicts; returns the new last index."""
        if not entries:
            return self.last_index()
        first = entries[0].index
        if first - 1 < self.committed:
            raise RaftInvariantError(f"appending at {first} would overwrite committed entries up to {self.committed}")
        offset = self.unstable_offset
        end = offset + len(self.unstable)
        if first == end:
            self.unstable.extend(entries)
        elif first <= offset:
            self.unstable = list(entries)
            self.unstable_offset = first
            self.in_progress_index = first
        else:
            del self.unstable[first - offset:]
            self.unstable.extend(entries)
            self.in_progress_index = min(self.in_progress_index, first)
        return self.last_index()

    def maybe_append(self, prev_index: int, prev_term: int, commit: int,
                     entries: Sequence[Entry]) -> int | None:
        """Raft §5.3 receiver rules 2-5; the last new index on success, None if the log does not match."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        if entries:
            conflict = self._find_conflict(entries)
            if conflict:
                if conflict <= self.committed:
                    raise RaftInvariantError(f"entry {conflict} conflicts with a committed entry")
                self.append(entries[conflict - entries[0].index:])
        self.commit_to(min(commit, last_new))
        return last_new

    def _find_conflict(self, entries: Sequence[Entry]) -> int:
        """Index of the first entry that is new or differs in term; 0 if all are already here."""
        last = self.last_index()
        if entries[0].index > last:  # the common case: all new
            return entries[0].index
        for entry in entries:
            if entry.index > last or not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def commit_to(self, index: int) -> None:
        """Commit never moves backwards (Raft §5.3)."""
        if index > self.committed:
            if index > self.last_index():
                raise RaftInvariantError(f"commit {index} is past the last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Raft §5.4.2: commit by counting only an entry of the current term."""
        if index > self.committed and self.term_or_zero(index) == term:
            self.commit_to(index)
            return True
        return False

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the log by `snapshot` (Raft §7): everything up to its index is committed."""
        index = snapshot.metadata.index
        self.committed = index
        self.unstable_snapshot = snapshot
        self.snapshot_in_progress = False
        self.unstable = []
        self.unstable_offset = index + 1
        self.in_progress_index = index + 1

    # ------------------------------------------------------ ready/advance

    def has_unstable_to_hand_out(self) -> bool:
        return (self.unstable_snapshot is not None and not self.snapshot_in_progress) or \
            self.in_progress_index < self.unstable_offset + len(self.unstable)

    def take_unstable(self) -> tuple[Snapshot | None, list[Entry]]:
        """Unstable snapshot and entries not yet handed out; marks them in progress."""
        snap = None
        if self.unstable_snapshot is not None and not self.snapshot_in_progress:
            snap = self.unstable_snapshot
            self.snapshot_in_progress = True
        start = self.in_progress_index - self.unstable_offset
        entries = self.unstable[start:] if start < len(self.unstable) else []
        self.in_progress_index = self.unstable_offset + len(self.unstable)
        return snap, entries

    def has_committed_to_hand_out(self) -> bool:
        return self.committed > self.applying

    def take_committed(self, max_bytes: int | None = None) -> list[Entry]:
        """Committed entries not yet handed out for applying; marks them handed out."""
        if self.committed <= self.applying:
            return []
        if self.unstable_snapshot is not None and self.applying < self.unstable_snapshot.metadata.index:
            return []  # the snapshot must be applied first
        entries = self.entries(self.applying + 1, self.committed + 1, max_bytes)
        if entries:
            self.applying = entries[-1].index
        return entries

    def stable_to(self, index: int, term: int) -> None:
        """The runtime persisted entries up to `index` (at `term`); drop them from the unstable tail."""
        if index < self.unstable_offset or not self.match_term(index, term):
            return  # superseded by a later append that truncated them
        if index >= self.unstable_offset + len(self.unstable):
            return
        del self.unstable[:index + 1 - self.unstable_offset]
        self.unstable_offset = index + 1
        self.in_progress_index = max(self.in_progress_index, self.unstable_offset)

    def stable_snapshot_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.metadata.index == index:
            self.unstable_snapshot = None
            self.snapshot_in_progress = False
            self.applied = max(self.applied, index)
            self.applying = max(self.applying, index)

    def applied_to(self, index: int) -> None:
        if index <= self.applied:
            return
        if index > self.committed:
            raise RaftInvariantError(f"applied {index} is past the commit index {self.committed}")
        self.applied = index
        self.applying = max(self.applying, index)
