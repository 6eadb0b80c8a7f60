"""Leader-side log replication (Raft §5.3, §7; etcd ``raft.go`` sendAppend/maybeSendAppend, ``stepLeader``).

``LeaderReplication`` is mixed into ``Raft``: it turns follower progress into
AppendEntries, heartbeats and InstallSnapshot chunks, and handles the answers.

Theory of operation
-------------------
Each follower's ``Progress`` decides what may be sent (progress.py). In PROBE
one append is outstanding until an answer or a heartbeat response; in
REPLICATE appends are pipelined up to ``max_inflight`` and ``next`` moves
optimistically; a rejection carries a (conflict_index, conflict_term) hint so
the leader skips a term per round trip. When ``next`` falls below the first
index the leader still has, the follower gets the snapshot in chunks of
``snapshot_chunk_bytes``, one chunk per acknowledgement (InstallSnapshotResponse
names the offset the follower holds), resent after an election timeout of
silence. Commit advances by counting matches of the current term only
(``maybe_commit``, Raft §5.4.2).
"""

from __future__ import annotations

from consensus import quorum
from consensus.errors import LogCompacted, RaftInvariantError
from consensus.log import RaftLog
from consensus.messages import (AppendEntries, AppendEntriesResponse, Heartbeat, HeartbeatResponse,
                                InstallSnapshot, InstallSnapshotResponse, TimeoutNow)
from consensus.progress import Progress, ProgressState
from consensus.read_index import ReadOnly

__all__ = ["LeaderReplication"]


class LeaderReplication:
    """The leader's half of Raft; expects the attributes below, which ``Raft`` provides."""

    id: str
    term: int
    log: RaftLog
    messages: list
    progress: dict[str, Progress]
    voters: tuple[str, ...]
    peers: tuple[str, ...]
    lead_transferee: str | None
    read_only: ReadOnly
    reads_awaiting_commit: list[tuple[bytes, str]]
    broadcast_pending: bool
    max_bytes_per_msg: int
    snapshot_chunk_bytes: int

    def is_leader(self) -> bool:
        raise NotImplementedError

    def _start_read(self, context: bytes, requester: str) -> None:
        raise NotImplementedError

    def _release_read(self, index: int, context: bytes, requester: str) -> None:
        raise NotImplementedError

    def _handle_append_response(self, msg: AppendEntriesResponse) -> None:
        progress = self.progress.get(msg.src)
        if progress is None:
            return
        progress.recent_active = True
        if msg.match_index > self.log.last_index():
            return  # acknowledges entries we never had (a previous life of ours): ignore, do not crash
        if not msg.success:
            hint = msg.conflict_index
            if msg.conflict_term > 0:
                hint = self.log.find_conflict_by_term(msg.conflict_index, msg.conflict_term)
            if progress.maybe_decrease_to(msg.rejected_index, hint):
                if progress.state is ProgressState.REPLICATE:
                    progress.become_probe()
                self._send_appends(msg.src, progress)
            return
        state = progress.state
        if not progress.maybe_update(msg.match_index):
            if state is ProgressState.PROBE and progress.match == msg.match_index:
                # A probe answered at what we already knew matched: the follower is caught up (etcd).
                progress.become_replicate()
                self._send_appends(msg.src, progress)
            elif state is ProgressState.REPLICATE:
                progress.inflights.free_le(msg.match_index)
            return
        if state is ProgressState.REPLICATE:
            progress.inflights.free_le(msg.match_index)
        elif state is ProgressState.PROBE:
            progress.become_replicate()
        elif progress.match >= progress.pending_snapshot or progress.match + 1 >= self.log.first_index():
            progress.become_probe()
            if progress.match + 1 >= self.log.first_index():
                progress.become_replicate()
        if not progress.is_learner and self.maybe_commit():
            self.broadcast_pending = True
        self._send_appends(msg.src, progress)
        if msg.src == self.lead_transferee and progress.match == self.log.last_index():
            self.messages.append(TimeoutNow(term=self.term, src=self.id, dst=msg.src))

    def _handle_heartbeat_response(self, msg: HeartbeatResponse) -> None:
        progress = self.progress.get(msg.src)
        if progress is None:
            return
        progress.recent_active = True
        progress.probe_sent = False
        if progress.state is ProgressState.REPLICATE and progress.inflights.full():
            progress.inflights.free_first_one()
        if progress.match < self.log.last_index() or progress.state is ProgressState.PROBE:
            # An empty append if nothing else goes: it finds out where the follower's log ends (etcd).
            self._send_appends(msg.src, progress, probe=True)
        elif progress.sent_commit < self.log.committed:
            self._send_appends(msg.src, progress)
        if msg.context and not progress.is_learner:
            acks = self.read_only.recv_ack(msg.src, msg.context)
            if acks is not None and quorum.has_quorum(self.voters, acks):
                for request in self.read_only.advance(msg.context):
                    self._release_read(request.index, request.context, request.requester)

    def _handle_snapshot_response(self, msg: InstallSnapshotResponse) -> None:
        progress = self.progress.get(msg.src)
        if progress is None:
            return
        progress.recent_active = True
        if (progress.state is ProgressState.SNAPSHOT and progress.snapshot is not None
                and msg.index == progress.pending_snapshot):
            progress.snapshot_idle_ticks = 0
            progress.snapshot_acked = msg.offset
            if msg.offset < len(progress.snapshot.data):
                self._send_snapshot_chunk(msg.src, progress, msg.offset)

    def maybe_commit(self) -> bool:
        """Raft §5.4.2 (Figure 8): commit the majority-matched index only if it is of the current term."""
        progress = self.progress
        index = quorum.committed_index(self.voters, {voter: progress[voter].match for voter in self.voters
                                                     if voter in progress})
        if not self.log.maybe_commit(index, self.term):
            return False
        if self.reads_awaiting_commit:
            waiting, self.reads_awaiting_commit = self.reads_awaiting_commit, []
            for context, requester in waiting:
                self._start_read(context, requester)
        return True

    def flush(self) -> None:
        """Send what proposals and commit advances left pending: one batch per follower."""
        if not self.broadcast_pending:
            return
        self.broadcast_pending = False
        if not self.is_leader():
            return
        for peer in self.peers:
            self._send_appends(peer, self.progress[peer])

    def _send_appends(self, peer: str, progress: Progress, probe: bool = False) -> None:
        """Send entries while the follower's flow control allows, then the commit index if it is news.

        With `probe`, send an empty append when there is nothing else to send, so that a follower that
        lost optimistically sent appends rejects it and replication backs off (etcd sendIfEmpty).
        """
        sent = False
        last = self.log.last_index()
        while progress.next <= last and self._send_append(peer, progress, False):
            sent = True
            if progress.state is not ProgressState.REPLICATE:
                break
        if not sent and (probe or progress.sent_commit < self.log.committed):
            self._send_append(peer, progress, True)

    def _send_append(self, peer: str, progress: Progress, allow_empty: bool) -> bool:
        if progress.is_paused():
            return False
        log = self.log
        next_index = progress.next
        last = log.last_index()
        try:
            prev_term = log.term(next_index - 1)
            entries = log.entries(next_index, last + 1, self.max_bytes_per_msg) if next_index <= last else []
        except LogCompacted:
            return self._send_snapshot(peer, progress)
        if not entries and not allow_empty:
            return False
        commit = log.committed
        self.messages.append(AppendEntries(term=self.term, src=self.id, dst=peer, prev_index=next_index - 1,
                                           prev_term=prev_term, entries=tuple(entries), commit=commit))
        if commit > progress.sent_commit:
            progress.sent_commit = commit
        progress.sent_entries(next_index - 1 + len(entries), len(entries))
        return True

    def _send_snapshot(self, peer: str, progress: Progress) -> bool:
        snapshot = self.log.snapshot()
        if snapshot.metadata.index == 0:
            raise RaftInvariantError(f"{peer} needs entries below the first index but there is no snapshot")
        progress.become_snapshot(snapshot)
        self._send_snapshot_chunk(peer, progress, 0)
        return True

    def _send_snapshot_chunk(self, peer: str, progress: Progress, offset: int) -> None:
        snapshot = progress.snapshot
        if snapshot is None:
            return
        chunk = snapshot.data[offset:offset + self.snapshot_chunk_bytes]
        self.messages.append(InstallSnapshot(term=self.term, src=self.id, dst=peer, metadata=snapshot.metadata,
                                             offset=offset, data=chunk,
                                             done=offset + len(chunk) >= len(snapshot.data)))

    def broadcast_heartbeat(self, context: bytes = b"") -> None:
        committed = self.log.committed
        for peer in self.peers:
            progress = self.progress[peer]
            # The follower may not have entries up to our commit; min keeps commit_to in range (etcd).
            self.messages.append(Heartbeat(term=self.term, src=self.id, dst=peer,
                                           commit=min(progress.match, committed), context=context))
