"""Errors raised by the Raft core.

Tree::

    ConsensusError                      bad input or a request the node cannot serve now
    ├── ProposalDropped(reason)         the proposal was not appended (no leader, transfer under way, ...)
    │   ├── NotLeader(leader_hint)      this node is not the leader; ``leader_hint`` may be None
    │   └── ConfChangeInProgress(pending_index)   one unapplied conf change at a time (Raft thesis §4.1)
    ├── MalformedMessage(field, rule)   a peer's message or a conf change failed decoding
    └── StorageError                    the LogStorage cannot answer
        ├── LogCompacted(index, offset)     the entry is below the storage's first index
        ├── LogUnavailable(index, last)     the entry is past the storage's last index
        └── SnapshotOutOfDate(index, current)  the snapshot is not newer than the one held

    RaftInvariantError                  a broken invariant (e.g. a committed entry would be
                                        overwritten); a crash, never caught (etcd's log.go panics)
"""

from __future__ import annotations

__all__ = [
    "ConsensusError",
    "ProposalDropped",
    "NotLeader",
    "ConfChangeInProgress",
    "MalformedMessage",
    "StorageError",
    "LogCompacted",
    "LogUnavailable",
    "SnapshotOutOfDate",
    "RaftInvariantError",
]


class ConsensusError(Exception):
    """Base of the errors a caller of the consensus core is expected to handle."""


class ProposalDropped(ConsensusError):
    """The proposal (entry, conf change, read or transfer) was not accepted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotLeader(ProposalDropped):
    """Only the leader accepts this; ``leader_hint`` is the leader this node knows of, or None."""

    def __init__(self, leader_hint: str | None) -> None:
        super().__init__(f"not the leader (leader hint: {leader_hint})")
        self.leader_hint = leader_hint


class ConfChangeInProgress(ProposalDropped):
    """A conf change at ``pending_index`` is not applied yet; Raft thesis §4.1 allows one at a time."""

    def __init__(self, pending_index: int) -> None:
        super().__init__(f"conf change at index {pending_index} is not applied yet")
        self.pending_index = pending_index


class MalformedMessage(ConsensusError):
    """Input from the wire broke a rule: ``field`` is the path, ``rule`` the rule broken."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class StorageError(ConsensusError):
    """The log storage cannot answer the read as asked."""


class LogCompacted(StorageError):
    def __init__(self, index: int, offset: int) -> None:
        super().__init__(f"entry {index} is compacted (offset {offset})")
        self.index = index
        self.offset = offset


class LogUnavailable(StorageError):
    def __init__(self, index: int, last: int) -> None:
        super().__init__(f"entry {index} is past the last index {last}")
        self.index = index
        self.last = last


class SnapshotOutOfDate(StorageError):
    def __init__(self, index: int, current: int) -> None:
        super().__init__(f"snapshot {index} is not newer than {current}")
        self.index = index
        self.current = current


class RaftInvariantError(AssertionError):
    """A Raft invariant broke (log gap, committed entry conflict, commit past the log). Never catch."""
