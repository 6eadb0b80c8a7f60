"""Raft transitions: ``Raft.step`` and ``Raft.tick`` (etcd-io/raft ``raft.go``).

Theory of operation
-------------------
``step(message)`` first applies the term rules every role shares (Raft §5.1:
a higher term makes us a follower, a lower one is answered or ignored; pre-vote
and the leader lease of thesis §9.6 and §4.2.3 bend both), answers
RequestVote (§5.2, §5.4.1), then hands the message to the role's function:
``step_leader``, ``step_candidate`` (pre-candidates too) or ``step_follower``.
``tick()`` drives the election timer (followers, candidates) or heartbeats and
the check-quorum round (leaders). The leader's half of replication (sending
appends, heartbeats and snapshot chunks, handling their answers, the commit
rule) lives in replication.py, mixed in as ``LeaderReplication``.

Nothing leaves except through ``messages`` and ``read_states``, which
``RawNode.ready()`` drains. Proposals and commit advances set
``broadcast_pending`` instead of sending at once, and ``flush()`` (called by
``ready()``/``has_ready()``) turns them into one AppendEntries per follower:
that is the batching (a hundred proposals between two Readys go out as one
message per follower, up to ``max_bytes_per_msg``).

Deviations from etcd, deliberate:

* The leader steps down when it applies its own removal, after sending
  TimeoutNow to the most caught-up voter (etcd keeps leading).
* A snapshot is installed in chunks by the core (InstallSnapshot with offset
  and done, as in the paper's Figure 13), stop-and-wait, re-sent after an
  election timeout without an acknowledgement.
* A snapshot that does not list this node is still installed (the conf change
  adding it may come after the snapshot index).
* Reads asked of a leader before it committed an entry of its term wait for
  that commit rather than being dropped. A follower forwards reads to the
  leader it knows (ReadIndexRequest); with no known leader it raises NotLeader.
* An empty proposal is refused: it would look like the term-start no-op.
* On restart the conf changes in (snapshot, ``Config.applied``] are replayed from the log.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Callable, Protocol

from consensus import membership, quorum
from consensus.errors import (ConfChangeInProgress, NotLeader, ProposalDropped,
                              RaftInvariantError, StorageError)
from consensus.log import RaftLog
from consensus.messages import (AppendEntries, AppendEntriesResponse, ConfChange, ConfState, Entry, EntryType,
                                Heartbeat, HeartbeatResponse, InstallSnapshot, InstallSnapshotResponse,
                                ReadIndexRequest, ReadIndexResponse, ReadState, RequestVote, RequestVoteResponse,
                                Snapshot, SnapshotMetadata, TimeoutNow)
from consensus.progress import Progress, ProgressState
from consensus.read_index import ReadOnly
from consensus.replication import LeaderReplication
from consensus.storage import LogStorage

if TYPE_CHECKING:
    from consensus.rawnode import Config

__all__ = ["Role", "Rng", "Raft", "CampaignKind"]


class Rng(Protocol):
    """The source of election jitter: ``random.Random(seed)`` fits; the core never uses the global one."""

    def randrange(self, start: int, stop: int = ..., step: int = ...) -> int: ...

    def random(self) -> float: ...


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class CampaignKind(enum.Enum):
    PRE_ELECTION = "pre_election"
    ELECTION = "election"
    TRANSFER = "transfer"


_FROM_LEADER = (AppendEntries, Heartbeat, InstallSnapshot)


class Raft(LeaderReplication):
    def __init__(self, config: "Config", storage: LogStorage) -> None:
        if config.heartbeat_tick <= 0 or config.election_tick <= config.heartbeat_tick:
            raise ValueError("need 0 < heartbeat_tick < election_tick")
        if config.max_inflight <= 0 or config.max_bytes_per_msg <= 0:
            raise ValueError("max_inflight and max_bytes_per_msg must be > 0")
        self.id = config.node_id
        self.rng = config.rng
        self.election_timeout = config.election_tick
        self.heartbeat_timeout = config.heartbeat_tick
        self.pre_vote = config.pre_vote
        self.check_quorum = config.check_quorum
        self.max_inflight = config.max_inflight
        self.max_bytes_per_msg = config.max_bytes_per_msg
        self.snapshot_chunk_bytes = config.snapshot_chunk_bytes
        self.max_committed_bytes_per_ready = config.max_committed_bytes_per_ready
        self.log = RaftLog(storage, config.applied)
        hard_state, conf_state = storage.initial_state()
        self.term = hard_state.term
        self.vote: str | None = hard_state.vote
        self.leader: str | None = None
        self.role = Role.FOLLOWER
        self.messages: list = []
        self.read_states: list[ReadState] = []
        self.progress: dict[str, Progress] = {}
        self.votes: dict[str, bool] = {}
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self.election_timeout
        self.lead_transferee: str | None = None
        self.pending_conf_index = 0
        self.read_only = ReadOnly()
        self.reads_awaiting_commit: list[tuple[bytes, str]] = []  # (context, requester)
        self.broadcast_pending = False
        self.snapshot_buffer: tuple[SnapshotMetadata, bytearray] | None = None
        self.conf = ConfState()
        self.voters: tuple[str, ...] = ()
        self.peers: tuple[str, ...] = ()
        self.promotable = False
        self._set_conf(self._replay_conf_changes(conf_state))
        self.become_follower(self.term, None)
        self._step_role: dict[Role, Callable] = {
            Role.FOLLOWER: self.step_follower, Role.PRE_CANDIDATE: self.step_candidate,
            Role.CANDIDATE: self.step_candidate, Role.LEADER: self.step_leader,
        }

    # ------------------------------------------------------------ roles

    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.leader = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        # Raft §5.2: randomised in [election_timeout, 2 * election_timeout).
        self.randomized_election_timeout = self.election_timeout + self.rng.randrange(self.election_timeout)
        self.lead_transferee = None
        self.votes = {}
        self.read_only.reset()
        self.reads_awaiting_commit = []
        self.broadcast_pending = False
        self.progress = {}

    def become_follower(self, term: int, leader: str | None) -> None:
        self._reset(term)
        self.role = Role.FOLLOWER
        self.leader = leader

    def become_pre_candidate(self) -> None:
        """Thesis §9.6: ask for votes at term + 1 without changing our term or vote."""
        if self.role is Role.LEADER:
            raise RaftInvariantError("a leader cannot become a pre-candidate")
        self.votes = {}
        self.leader = None
        self.role = Role.PRE_CANDIDATE

    def become_candidate(self) -> None:
        if self.role is Role.LEADER:
            raise RaftInvariantError("a leader cannot become a candidate")
        self._reset(self.term + 1)
        self.vote = self.id
        self.role = Role.CANDIDATE

    def become_leader(self) -> None:
        if self.role is Role.FOLLOWER:
            raise RaftInvariantError("a follower cannot become leader without an election")
        self._reset(self.term)
        self.role = Role.LEADER
        self.leader = self.id
        last = self.log.last_index()
        learners = set(self.conf.learners)
        for node in sorted(self.conf.voters + self.conf.learners):
            self.progress[node] = Progress(last + 1, self.max_inflight, node in learners)
        own = self.progress.get(self.id)
        if own is not None:
            own.match = last
            own.become_replicate()
            own.recent_active = True
        # Any conf change in the uncommitted tail may still be pending (etcd is as conservative).
        self.pending_conf_index = last
        # Raft §8 / thesis §6.4: a no-op at the start of the term commits the previous terms' entries.
        self._append_entry(b"", EntryType.NORMAL)

    # ---------------------------------------------------------- campaign

    def campaign(self, kind: CampaignKind) -> None:
        if not self.promotable or self._has_unapplied_conf_changes():
            return
        if kind is CampaignKind.PRE_ELECTION:
            self.become_pre_candidate()
            vote_term = self.term + 1
        else:
            self.become_candidate()
            vote_term = self.term
        pre_vote = kind is CampaignKind.PRE_ELECTION
        self.votes[self.id] = True
        if quorum.vote_result(self.voters, self.votes) is quorum.VoteResult.WON:
            self._won_election(pre_vote)
            return
        last_index = self.log.last_index()
        last_term = self.log.term(last_index)
        for peer in self.voters:
            if peer != self.id:
                self.messages.append(RequestVote(
                    term=vote_term, src=self.id, dst=peer, last_log_index=last_index, last_log_term=last_term,
                    pre_vote=pre_vote, leadership_transfer=kind is CampaignKind.TRANSFER))

    def _won_election(self, pre_vote: bool) -> None:
        if pre_vote:
            self.campaign(CampaignKind.ELECTION)
        else:
            self.become_leader()

    def _has_unapplied_conf_changes(self) -> bool:
        """etcd: a node must not campaign while a committed conf change is unapplied (its config may be stale)."""
        log = self.log
        next_index, end = max(log.applied + 1, log.first_index()), log.committed + 1
        while next_index < end:  # in bounded batches: after a restart the unapplied tail may be long
            try:
                batch = log.entries(next_index, end, self.max_bytes_per_msg)
            except StorageError:
                return False
            if any(entry.type is EntryType.CONF_CHANGE for entry in batch):
                return True
            next_index = batch[-1].index + 1
        return False

    # -------------------------------------------------------------- tick

    def tick(self) -> None:
        if self.role is Role.LEADER:
            self._tick_heartbeat()
        else:
            self._tick_election()

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self.campaign(CampaignKind.PRE_ELECTION if self.pre_vote else CampaignKind.ELECTION)

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum and not self._quorum_active():
                # Thesis §6.2: a leader that cannot reach a majority steps down.
                self.become_follower(self.term, None)
                return
            if self.lead_transferee is not None:
                self.lead_transferee = None  # thesis §3.10: abort a transfer after an election timeout
        for peer in self.peers:
            progress = self.progress[peer]
            if progress.state is ProgressState.SNAPSHOT:
                progress.snapshot_idle_ticks += 1
                if progress.snapshot_idle_ticks >= self.election_timeout:
                    progress.snapshot_idle_ticks = 0
                    self._send_snapshot_chunk(peer, progress, progress.snapshot_acked)
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self.broadcast_heartbeat(self.read_only.last_pending_context() or b"")

    def _quorum_active(self) -> bool:
        active = {self.id}
        for node, progress in self.progress.items():
            if node != self.id:
                if progress.recent_active:
                    active.add(node)
                progress.recent_active = False
        return quorum.has_quorum(self.voters, active)

    # -------------------------------------------------------------- step

    def step(self, msg) -> None:
        term = msg.term
        kind = type(msg)
        if term > self.term:
            if kind is RequestVote:
                in_lease = self.check_quorum and self.leader is not None \
                    and self.election_elapsed < self.election_timeout
                if in_lease and not msg.leadership_transfer:
                    return  # thesis §4.2.3: we heard from a leader recently; ignore the disruption
                if not msg.pre_vote:
                    self.become_follower(term, None)
            elif kind is RequestVoteResponse and msg.pre_vote and msg.granted:
                pass  # a granted pre-vote carries the future term; ours changes only if we campaign
            elif kind in _FROM_LEADER:
                self.become_follower(term, msg.src)
            else:
                self.become_follower(term, None)
        elif term < self.term:
            if (self.check_quorum or self.pre_vote) and kind in (AppendEntries, Heartbeat):
                # A stale leader (e.g. back from a partition) learns our term and steps down.
                self.messages.append(AppendEntriesResponse(term=self.term, src=self.id, dst=msg.src, success=False))
            elif kind is RequestVote and msg.pre_vote:
                self.messages.append(RequestVoteResponse(term=self.term, src=self.id, dst=msg.src, granted=False,
                                                         pre_vote=True))
            return
        if kind is RequestVote:
            self._handle_request_vote(msg)
            return
        self._step_role[self.role](msg)

    def _handle_request_vote(self, msg: RequestVote) -> None:
        """Raft §5.2 one vote per term, §5.4.1 only for an up-to-date log; thesis §9.6 for pre-votes."""
        can_vote = (self.vote == msg.src or (self.vote is None and self.leader is None)
                    or (msg.pre_vote and msg.term > self.term))
        if can_vote and self.log.is_up_to_date(msg.last_log_index, msg.last_log_term):
            self.messages.append(RequestVoteResponse(term=msg.term, src=self.id, dst=msg.src, granted=True,
                                                     pre_vote=msg.pre_vote))
            if not msg.pre_vote:
                self.election_elapsed = 0
                self.vote = msg.src
        else:
            self.messages.append(RequestVoteResponse(term=self.term, src=self.id, dst=msg.src, granted=False,
                                                     pre_vote=msg.pre_vote))

    def step_leader(self, msg) -> None:
        kind = type(msg)
        if kind is AppendEntriesResponse:
            self._handle_append_response(msg)
        elif kind is HeartbeatResponse:
            self._handle_heartbeat_response(msg)
        elif kind is InstallSnapshotResponse:
            self._handle_snapshot_response(msg)
        elif kind is ReadIndexRequest:
            if msg.src in self.progress and msg.context and msg.context not in self.read_only.pending:
                self._request_read(msg.context, msg.src)

    def step_candidate(self, msg) -> None:
        kind = type(msg)
        if kind in _FROM_LEADER:
            self.become_follower(msg.term, msg.src)
            self.step_follower(msg)
        elif kind is RequestVoteResponse:
            if msg.pre_vote != (self.role is Role.PRE_CANDIDATE):
                return
            self.votes.setdefault(msg.src, msg.granted)
            result = quorum.vote_result(self.voters, self.votes)
            if result is quorum.VoteResult.WON:
                self._won_election(msg.pre_vote)
            elif result is quorum.VoteResult.LOST:
                self.become_follower(self.term, None)

    def step_follower(self, msg) -> None:
        kind = type(msg)
        if kind is AppendEntries:
            self.election_elapsed = 0
            self.leader = msg.src
            self._handle_append(msg)
        elif kind is Heartbeat:
            self.election_elapsed = 0
            self.leader = msg.src
            self.log.commit_to(msg.commit)
            self.messages.append(HeartbeatResponse(term=self.term, src=self.id, dst=msg.src, context=msg.context))
        elif kind is InstallSnapshot:
            self.election_elapsed = 0
            self.leader = msg.src
            self._handle_snapshot_chunk(msg)
        elif kind is TimeoutNow:
            self.campaign(CampaignKind.TRANSFER)
        elif kind is ReadIndexResponse:
            self.read_states.append(ReadState(index=msg.index, context=msg.context))

    # ------------------------------------------------------- follower side

    def _handle_append(self, msg: AppendEntries) -> None:
        log = self.log
        if msg.prev_index < log.committed:
            self.messages.append(AppendEntriesResponse(term=self.term, src=self.id, dst=msg.src, success=True,
                                                       match_index=log.committed))
            return
        last_new = log.maybe_append(msg.prev_index, msg.prev_term, msg.commit, msg.entries)
        if last_new is not None:
            self.messages.append(AppendEntriesResponse(term=self.term, src=self.id, dst=msg.src, success=True,
                                                       match_index=last_new))
            return
        # Raft §5.3 fast back-off: tell the leader where our log can match at the latest.
        hint_index = log.find_conflict_by_term(min(msg.prev_index, log.last_index()), msg.prev_term)
        self.messages.append(AppendEntriesResponse(
            term=self.term, src=self.id, dst=msg.src, success=False, rejected_index=msg.prev_index,
            conflict_index=hint_index, conflict_term=log.term_or_zero(hint_index)))

    def _handle_snapshot_chunk(self, msg: InstallSnapshot) -> None:
        metadata = msg.metadata
        if msg.offset == 0 and metadata.index <= self.log.committed:
            self.snapshot_buffer = None
            self.messages.append(AppendEntriesResponse(term=self.term, src=self.id, dst=msg.src, success=True,
                                                       match_index=self.log.committed))
            return
        buffer = self.snapshot_buffer
        if msg.offset == 0:
            buffer = (metadata, bytearray())
        elif buffer is None or buffer[0] != metadata or len(buffer[1]) != msg.offset:
            held = len(buffer[1]) if buffer is not None and buffer[0] == metadata else 0
            self.messages.append(InstallSnapshotResponse(term=self.term, src=self.id, dst=msg.src,
                                                         index=metadata.index, offset=held))
            return
        buffer[1].extend(msg.data)
        if not msg.done:
            self.snapshot_buffer = buffer
            self.messages.append(InstallSnapshotResponse(term=self.term, src=self.id, dst=msg.src,
                                                         index=metadata.index, offset=len(buffer[1])))
            return
        self.snapshot_buffer = None
        restored = self.restore(Snapshot(metadata=metadata, data=bytes(buffer[1])))
        match = self.log.last_index() if restored else self.log.committed
        self.messages.append(AppendEntriesResponse(term=self.term, src=self.id, dst=msg.src, success=True,
                                                   match_index=match))

    def restore(self, snapshot: Snapshot) -> bool:
        """Raft §7: replace the log unless it already holds the snapshot's last entry (then just commit)."""
        metadata = snapshot.metadata
        if metadata.index <= self.log.committed:
            return False
        if self.role is not Role.FOLLOWER:
            self.become_follower(self.term + 1, None)
            return False
        if self.log.match_term(metadata.index, metadata.term):
            self.log.commit_to(metadata.index)
            return False
        self.log.restore(snapshot)
        self._set_conf(metadata.conf_state)
        return True

    # ----------------------------------------------------------- proposals

    def _append_entry(self, data: bytes, entry_type: EntryType) -> int:
        log = self.log
        index = log.last_index() + 1
        log.append((Entry(term=self.term, index=index, type=entry_type, data=data),))
        own = self.progress.get(self.id)
        if own is not None:
            own.match = index
            own.next = index + 1
        if len(self.voters) == 1:
            self.maybe_commit()
        self.broadcast_pending = True
        return index

    def _require_leader(self) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if self.lead_transferee is not None:
            raise ProposalDropped(f"leadership transfer to {self.lead_transferee} in progress")

    def propose(self, data: bytes) -> int:
        self._require_leader()
        if not data:  # the application could not tell it from the leader's term-start no-op
            raise ProposalDropped("empty data is reserved for the leader's no-op entry")
        return self._append_entry(data if type(data) is bytes else bytes(data), EntryType.NORMAL)

    def propose_conf_change(self, cc: ConfChange) -> int:
        self._require_leader()
        if self.pending_conf_index > self.log.applied:
            raise ConfChangeInProgress(self.pending_conf_index)
        membership.check_conf_change(self.conf, cc)
        index = self._append_entry(cc.to_bytes(), EntryType.CONF_CHANGE)
        self.pending_conf_index = index
        return index

    def read_index(self, context: bytes) -> None:
        context = bytes(context)
        if not context:
            raise ProposalDropped("a read needs a non-empty context (an empty heartbeat context means no read)")
        if self.role is not Role.LEADER:
            if self.leader is None or self.role is not Role.FOLLOWER:
                raise NotLeader(self.leader)
            self.messages.append(ReadIndexRequest(term=self.term, src=self.id, dst=self.leader, context=context))
            return
        if context in self.read_only.pending or any(context == ctx for ctx, _ in self.reads_awaiting_commit):
            raise ProposalDropped(f"read context {context!r} is already pending")
        self._request_read(context, self.id)

    def _request_read(self, context: bytes, requester: str) -> None:
        if self.log.term_or_zero(self.log.committed) != self.term:
            self.reads_awaiting_commit.append((context, requester))  # thesis §6.4 step 1
            return
        self._start_read(context, requester)

    def _start_read(self, context: bytes, requester: str) -> None:
        if len(self.voters) == 1 and self.id in self.voters:
            self._release_read(self.log.committed, context, requester)
            return
        self.read_only.add_request(self.log.committed, context, self.id, requester)
        self.broadcast_heartbeat(context)

    def _release_read(self, index: int, context: bytes, requester: str) -> None:
        if requester == self.id:
            self.read_states.append(ReadState(index=index, context=context))
        else:
            self.messages.append(ReadIndexResponse(term=self.term, src=self.id, dst=requester, index=index,
                                                   context=context))

    def transfer_leadership(self, target: str) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if target not in self.voters:
            raise ProposalDropped(f"cannot transfer leadership to {target}: not a voter")
        if target == self.id or target == self.lead_transferee:
            return
        self.lead_transferee = target
        self.election_elapsed = 0  # the transfer is aborted after one election timeout
        progress = self.progress[target]
        if progress.match == self.log.last_index():
            self.messages.append(TimeoutNow(term=self.term, src=self.id, dst=target))
        else:
            self._send_appends(target, progress, probe=True)

    # ---------------------------------------------------------- membership

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        conf = membership.apply_conf_change(self.conf, cc)
        self._set_conf(conf)
        return conf

    def _replay_conf_changes(self, conf: ConfState) -> ConfState:
        """The configuration as of ``applied`` on restart.

        Storage knows the configuration as of its snapshot (``initial_state``); the application
        already applied (and will not apply again) every entry up to ``Config.applied``, so the
        conf changes in (snapshot, applied] are replayed here from the log. ``apply_conf_change``
        is deterministic, so this rebuilds exactly the configuration the node had.
        """
        log = self.log
        next_index, end = log.first_index(), log.applied + 1
        while next_index < end:
            batch = log.entries(next_index, end, self.max_bytes_per_msg)
            for entry in batch:
                if entry.type is EntryType.CONF_CHANGE:
                    conf = membership.apply_conf_change(conf, ConfChange.from_bytes(entry.data))
            next_index = batch[-1].index + 1
        return conf

    def _set_conf(self, conf: ConfState) -> None:
        self.conf = conf
        self.voters = tuple(sorted(conf.voters))
        members = sorted(set(conf.voters) | set(conf.learners))
        self.peers = tuple(node for node in members if node != self.id)
        self.promotable = self.id in conf.voters
        if self.role is not Role.LEADER:
            return
        learners = set(conf.learners)
        last = self.log.last_index()
        for node in members:
            progress = self.progress.get(node)
            if progress is None:
                progress = self.progress[node] = Progress(last + 1, self.max_inflight, node in learners)
                # etcd initProgress: a new member counts as recently active, so check-quorum does not
                # depose us before it had an election timeout to answer.
                progress.recent_active = True
            else:
                progress.is_learner = node in learners
        for node in [node for node in self.progress if node not in members]:
            del self.progress[node]
        if self.lead_transferee is not None and self.lead_transferee not in conf.voters:
            self.lead_transferee = None
        if not self.promotable:
            self._step_down_after_removal()
            return
        self.maybe_commit()  # a smaller quorum may commit more
        self.broadcast_pending = True  # and probe new members now rather than after a heartbeat (etcd)

    def _step_down_after_removal(self) -> None:
        """The leader was removed: hand over to the most caught-up voter if it is current, then follow."""
        last = self.log.last_index()
        best = max(self.voters, key=lambda node: (self.progress[node].match, node), default=None)
        if best is not None and self.progress[best].match == last:
            self.messages.append(TimeoutNow(term=self.term, src=self.id, dst=best))
        self.become_follower(self.term, None)

    # ------------------------------------------------------------- reports

    def report_unreachable(self, node: str) -> None:
        progress = self.progress.get(node) if self.role is Role.LEADER else None
        if progress is not None and progress.state is ProgressState.REPLICATE:
            progress.become_probe()

    def report_snapshot(self, node: str, ok: bool) -> None:
        progress = self.progress.get(node) if self.role is Role.LEADER else None
        if progress is None or progress.state is not ProgressState.SNAPSHOT:
            return
        if not ok:
            progress.pending_snapshot = 0
        progress.become_probe()
        progress.probe_sent = ok  # on success wait for the follower's append response (etcd)
