"""Stand-ins for consensus types until consensus/ lands (docs/interfaces.md names); delete then.

Only node/raft_storage.py imports this, and only when ``import consensus`` fails.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EntryType(enum.Enum):
    NORMAL = 0
    CONF_CHANGE = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class HardState:
    term: int = 0
    vote: str | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfState:
    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMetadata:
    index: int = 0
    term: int = 0
    conf_state: ConfState = ConfState()


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    metadata: SnapshotMetadata = SnapshotMetadata()
    data: bytes = b""


class LogCompacted(Exception):
    def __init__(self, index: int, offset: int) -> None:
        super().__init__(f"entry {index} is compacted (offset {offset})")


class LogUnavailable(Exception):
    def __init__(self, index: int, last: int) -> None:
        super().__init__(f"entry {index} is past the last index {last}")


class SnapshotOutOfDate(Exception):
    def __init__(self, index: int, current: int) -> None:
        super().__init__(f"snapshot {index} is not newer than {current}")
