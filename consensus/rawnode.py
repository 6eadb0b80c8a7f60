"""The API the runtime drives: ``RawNode`` (etcd-io/raft ``rawnode.go``) and ``Ready`` (``node.go``).

The core does no I/O. Time enters through ``tick()``, the network through
``step(message)``, clients through ``propose``/``read_index``; everything the
runtime must do leaves through one hand-off, ``ready()`` then ``advance(rd)``.
Only one Ready is outstanding at a time: call ``advance(rd)`` before the next
``ready()``. The runtime may keep calling ``tick``/``step``/``propose`` between
the two; what they produce goes into the next Ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.errors import ProposalDropped
from consensus.messages import ConfChange, ConfState, Entry, HardState, ReadState, Snapshot
from consensus.raft import CampaignKind, Raft, Rng, Role
from consensus.storage import LogStorage

__all__ = ["Config", "RawNode", "Ready", "SoftState", "Status"]


@dataclass(slots=True, kw_only=True)
class Config:
    """Per-node settings.

    ``election_tick``: ticks without hearing from a leader before a follower campaigns
    (randomised in [election_tick, 2 * election_tick)); ``heartbeat_tick``: ticks
    between leader heartbeats (< election_tick). ``rng``: the jitter source, e.g.
    ``random.Random(seed)``. ``applied``: the last index the application already
    applied (on restart; at least the snapshot index, at most the commit index);
    committed entries after it are handed out again; conf changes up to it are
    replayed from the log by the core (storage's ConfState is the snapshot's), so
    the application must not call ``apply_conf_change`` for them again.
    ``max_inflight``: unacknowledged appends per follower; ``max_bytes_per_msg``: entry data per AppendEntries (at
    least one entry is sent); ``snapshot_chunk_bytes``: data per InstallSnapshot;
    ``max_committed_bytes_per_ready``: entry data in one Ready's committed_entries (at least
    one entry; the rest follows in the next Ready), so a restart does not apply the whole log at once.
    """

    node_id: str
    rng: Rng
    election_tick: int = 10
    heartbeat_tick: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    max_inflight: int = 256
    max_bytes_per_msg: int = 1 << 20
    applied: int = 0
    snapshot_chunk_bytes: int = 1 << 20
    max_committed_bytes_per_ready: int = 64 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftState:
    """Volatile state worth reporting: who leads (None if unknown) and our role. Need not be persisted."""

    leader: str | None
    role: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """What the runtime must do, in this order, before calling ``advance(rd)``.

    ``soft_state``: None if unchanged since the last Ready; otherwise the new
        leader and role, for display and for routing proposals. Not persisted.
    ``snapshot``: None, or a snapshot received from the leader (Raft §7). FIRST,
        install it: ``storage.apply_snapshot(snapshot)`` and restore the
        application's state from ``snapshot.data``.
    ``entries``: entries to append to stable storage, ``storage.append(entries)``
        (they may overwrite a conflicting, uncommitted suffix).
    ``hard_state``: None if unchanged; otherwise ``storage.set_hard_state(hs)``.
        Entries and hard state must be DURABLE (fsync; one batch is best) before
        any message of this Ready is sent (Raft Figure 2: persistent state is
        updated on stable storage before responding to RPCs).
    ``messages``: THEN send these to ``msg.dst`` (encode_message for the wire).
        Loss, duplication and reordering are tolerated; sending them before the
        persist above is not. An unreachable peer may be reported with
        ``report_unreachable``.
    ``committed_entries``: THEN apply these, in order, to the state machine. For a
        CONF_CHANGE entry, decode ``ConfChange.from_bytes(entry.data)`` and call
        ``node.apply_conf_change(cc)``; an entry with empty data is the leader's
        term-start no-op (apply nothing, but count it as applied).
    ``read_states``: serve the read tagged ``context`` once the application has
        applied at least ``index`` (thesis §6.4).

    Finally call ``node.advance(rd)``; the node then counts ``entries`` as
    persisted, ``committed_entries`` as applied and ``snapshot`` as installed.
    """

    soft_state: SoftState | None = None
    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    committed_entries: list[Entry] = field(default_factory=list)
    messages: list = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """A snapshot of the node for monitoring; ``progress`` (leaders only) maps peer to (match, next, state)."""

    id: str
    term: int
    role: Role
    leader: str | None
    commit: int
    applied: int
    conf_state: ConfState
    progress: dict[str, tuple[int, int, str]]


class RawNode:
    """One Raft node as a state machine; see the module docstring and ``Ready`` for the contract."""

    def __init__(self, config: Config, storage: LogStorage) -> None:
        self.raft = Raft(config, storage)
        self._prev_soft = self._soft_state()
        self._prev_hard = self._hard_state()

    def _soft_state(self) -> SoftState:
        return SoftState(leader=self.raft.leader, role=self.raft.role)

    def _hard_state(self) -> HardState:
        raft = self.raft
        return HardState(term=raft.term, vote=raft.vote, commit=raft.log.committed)

    # ------------------------------------------------------------- inputs

    def tick(self) -> None:
        """Advance logical time by one tick (the runtime calls this every heartbeat interval / heartbeat_tick)."""
        self.raft.tick()

    def step(self, msg) -> None:
        """Feed a message from a peer (decoded with decode_message)."""
        self.raft.step(msg)

    def propose(self, data: bytes) -> int:
        """Append `data` (non-empty) as a new entry; returns its index. Raises NotLeader(leader_hint) or
        ProposalDropped (empty data, or a leadership transfer under way)."""
        return self.raft.propose(data)

    def propose_conf_change(self, cc: ConfChange) -> int:
        """Propose one membership change; raises ConfChangeInProgress while another is unapplied."""
        return self.raft.propose_conf_change(cc)

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Called by the application when it applies a committed CONF_CHANGE entry; returns the new ConfState."""
        return self.raft.apply_conf_change(cc)

    def read_index(self, context: bytes) -> None:
        """Request a linearizable read tagged `context` (unique); answered by a ReadState in a later Ready."""
        self.raft.read_index(context)

    def transfer_leadership(self, target: str) -> None:
        """Hand leadership to voter `target` (thesis §3.10); proposals are dropped until it ends."""
        self.raft.transfer_leadership(target)

    def campaign(self) -> None:
        """Start an election now (with pre-vote if configured). ProposalDropped if this node is not a voter."""
        raft = self.raft
        if not raft.promotable:
            raise ProposalDropped(f"{raft.id} is not a voter and cannot campaign")
        if raft.role is not Role.LEADER:
            raft.campaign(CampaignKind.PRE_ELECTION if raft.pre_vote else CampaignKind.ELECTION)

    def report_unreachable(self, node: str) -> None:
        """The transport failed to reach `node`: stop pipelining to it and probe instead."""
        self.raft.report_unreachable(node)

    def report_snapshot(self, node: str, ok: bool) -> None:
        """The transport's verdict on an InstallSnapshot sent to `node` (etcd ReportSnapshot).

        Optional: the core tracks chunks itself and resends after an election timeout of silence.
        ``ok=False`` restarts the transfer now; ``ok=True`` (only once every chunk was delivered)
        switches to probing past the snapshot and waits for the follower's answer.
        """
        self.raft.report_snapshot(node, ok)

    # ------------------------------------------------------------ outputs

    def has_ready(self) -> bool:
        raft = self.raft
        raft.flush()
        log = raft.log
        if raft.messages or raft.read_states or log.has_unstable_to_hand_out():
            return True
        if log.committed > log.applying and (log.unstable_snapshot is None
                                            or log.applying >= log.unstable_snapshot.metadata.index):
            return True
        return self._soft_state() != self._prev_soft or self._hard_state() != self._prev_hard

    def ready(self) -> Ready:
        raft = self.raft
        raft.flush()
        log = raft.log
        snapshot, entries = log.take_unstable()
        committed_entries = log.take_committed(raft.max_committed_bytes_per_ready)
        soft, hard = self._soft_state(), self._hard_state()
        rd = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=hard if hard != self._prev_hard else None,
            entries=entries, snapshot=snapshot, committed_entries=committed_entries,
            messages=raft.messages, read_states=raft.read_states,
        )
        raft.messages = []
        raft.read_states = []
        self._prev_soft, self._prev_hard = soft, hard
        return rd

    def advance(self, rd: Ready) -> None:
        log = self.raft.log
        if rd.snapshot is not None:
            log.stable_snapshot_to(rd.snapshot.metadata.index)
        if rd.entries:
            last = rd.entries[-1]
            log.stable_to(last.index, last.term)
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)

    def status(self) -> Status:
        raft = self.raft
        progress = {node: pr.describe() for node, pr in sorted(raft.progress.items())} \
            if raft.role is Role.LEADER else {}
        return Status(id=raft.id, term=raft.term, role=raft.role, leader=raft.leader, commit=raft.log.committed,
                      applied=raft.log.applied, conf_state=raft.conf, progress=progress)
