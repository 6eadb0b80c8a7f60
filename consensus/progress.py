"""What the leader knows of each follower's log (etcd ``tracker/progress.go``, ``inflights.go``).

States (Raft §5.3 with etcd's flow control)::

    PROBE      next is a guess; send one AppendEntries per heartbeat until one is accepted
    REPLICATE  match is known; pipeline appends optimistically (next = last sent + 1),
               at most ``max_inflight`` unacknowledged messages
    SNAPSHOT   next is below the leader's first index; an InstallSnapshot is being sent

    # Invariant: 0 <= match < next
"""

from __future__ import annotations

import collections
import enum

from consensus.messages import Snapshot

__all__ = ["ProgressState", "Progress", "Inflights"]


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """Last indexes of unacknowledged appends, oldest first; full at ``capacity``."""

    __slots__ = ("capacity", "_indexes")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._indexes: collections.deque[int] = collections.deque()

    def add(self, index: int) -> None:
        self._indexes.append(index)

    def free_le(self, index: int) -> None:
        """Acknowledge every append whose last index is <= `index`."""
        indexes = self._indexes
        while indexes and indexes[0] <= index:
            indexes.popleft()

    def free_first_one(self) -> None:
        if self._indexes:
            self._indexes.popleft()

    def full(self) -> bool:
        return len(self._indexes) >= self.capacity

    def count(self) -> int:
        return len(self._indexes)

    def reset(self) -> None:
        self._indexes.clear()


class Progress:
    __slots__ = ("match", "next", "state", "is_learner", "probe_sent", "recent_active", "inflights",
                 "pending_snapshot", "snapshot", "snapshot_acked", "snapshot_idle_ticks", "sent_commit")

    def __init__(self, next_index: int, max_inflight: int, is_learner: bool = False) -> None:
        # Invariant: 0 <= match < next
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.is_learner = is_learner
        self.probe_sent = False
        self.recent_active = False
        self.inflights = Inflights(max_inflight)
        self.pending_snapshot = 0          # index of the snapshot being sent in SNAPSHOT state
        self.snapshot: Snapshot | None = None
        self.snapshot_acked = 0            # bytes of that snapshot the follower said it holds
        self.snapshot_idle_ticks = 0       # heartbeat ticks since the follower last acknowledged a chunk
        self.sent_commit = 0               # the highest commit index sent to this follower

    def _reset_state(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot = None
        self.snapshot_acked = 0
        self.snapshot_idle_ticks = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        """After a snapshot, resume probing just past it; else just past what is known to match."""
        if self.state is ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot: Snapshot) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot.metadata.index
        self.snapshot = snapshot

    def maybe_update(self, index: int) -> bool:
        """The follower acknowledged up to `index`; False if that is stale."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.probe_sent = False
        if self.next < index + 1:
            self.next = index + 1
        return updated

    def sent_entries(self, last_index: int, count: int) -> None:
        """Account for an append carrying `count` entries ending at `last_index`."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def maybe_decrease_to(self, rejected: int, hint: int) -> bool:
        """The follower rejected an append at `rejected`; back off towards `hint`. False if stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, hint + 1), self.match + 1, 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        state = self.state
        if state is ProgressState.REPLICATE:
            return self.inflights.full()
        if state is ProgressState.PROBE:
            return self.probe_sent
        return True

    def describe(self) -> tuple[int, int, str]:
        return (self.match, self.next, self.state.value)
