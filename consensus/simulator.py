"""A deterministic in-process Raft cluster with a seeded, faulty network (tests only).

Modelled on the ``network`` in etcd-io/raft ``raft_test.go`` and its ``testdata``
scripts. Each simulated node is a :class:`RawNode` over its own
``MemoryLogStorage``, which plays the node's disk: whatever was written there
survives a crash, everything else (the RawNode, its unstable entries, messages
addressed to it) is lost.

Theory of operation. Time is a tick counter. :meth:`Simulator.step` is one tick:
every running node ticks, then messages due by now are delivered (in an order
the seeded rng picks) until no more are due. After every input to a node, its
Ready is handled exactly as ``docs/interfaces.md`` says: (1) install a snapshot
and restore the app state from it, (2) persist entries and hard state, (3) only
then queue messages, (4) apply committed entries (conf changes go through
``apply_conf_change``) and serve read states once applied, (5) ``advance``.
Each durable or visible change is reported to a :class:`SafetyChecker`
(``consensus/sim_checks.py``), which raises :class:`SafetyViolation` at once.

The app state machine is a hash chain over applied entries (``next_digest``);
a snapshot's data is ``index || digest``, so a restored state can be compared
with what every other node applied. Same seed and same calls give the same run,
bit for bit: node ids are sorted before iterating, randomness comes only from
``random.Random`` instances seeded from the simulator's seed.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from consensus import (Config, ConfChange, ConfChangeType, ConfState, EntryType, InstallSnapshot,
                       MemoryLogStorage, RawNode, RequestVoteResponse, Role, decode_message,
                       encode_message)
from consensus.errors import ConsensusError
from consensus.sim_checks import GENESIS_DIGEST, SafetyChecker, SafetyViolation, compare_logs
from consensus.sim_network import Network, NetworkFaults, format_message

__all__ = ["Simulator", "SimNode", "SafetyViolation", "run_random"]


_CONF_CHANGE_TYPES = {"add_learner": ConfChangeType.ADD_LEARNER, "promote": ConfChangeType.ADD_VOTER,
                      "remove": ConfChangeType.REMOVE_NODE}


def encode_app_state(index: int, digest: bytes) -> bytes:
    """Snapshot data: the applied index and the state machine digest at it."""
    return index.to_bytes(8, "big") + digest


def decode_app_state(data: bytes) -> tuple[int, bytes]:
    if not data:
        return 0, GENESIS_DIGEST
    return int.from_bytes(data[:8], "big"), bytes(data[8:])


@dataclass
class SimNode:
    """One simulated machine: its disk (storage) survives crashes, ``raw`` does not."""

    id: str
    storage: Any
    raw: Any = None                 # None while crashed
    life: int = 0                   # restarts so far
    applied: int = 0                # Invariant: applied <= persisted commit
    digest: bytes = GENESIS_DIGEST  # app state: hash chain over applied entries
    conf_state: Any = None          # as of ``applied``
    role: Any = None
    leader: str | None = None
    removed: bool = False           # removed from the cluster: never runs again
    reads: list[tuple[bytes, int]] = field(default_factory=list)  # released, not yet served

    @property
    def running(self) -> bool:
        return self.raw is not None


class Simulator(NetworkFaults):
    """``Simulator(n, seed)``: n voters ``n1..nN``; faults and clients drive it (see module doc)."""

    def __init__(self, n: int = 3, seed: int = 0, *, election_tick: int = 10,
                 heartbeat_tick: int = 1, pre_vote: bool = True, check_quorum: bool = True,
                 max_inflight: int = 256, max_bytes_per_msg: int = 1 << 20,
                 drop_rate: float = 0.0, dup_rate: float = 0.0, max_delay: int = 0,
                 snapshot_chunk_bytes: int = 1 << 20, trace_len: int = 60, check: bool = True,
                 wire: bool = False, durable_app: bool = False) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.config = dict(election_tick=election_tick, heartbeat_tick=heartbeat_tick,
                           pre_vote=pre_vote, check_quorum=check_quorum,
                           max_inflight=max_inflight, max_bytes_per_msg=max_bytes_per_msg,
                           snapshot_chunk_bytes=snapshot_chunk_bytes)
        self.election_tick = election_tick
        self.net = Network(random.Random(f"{seed}/net"), drop_rate=drop_rate,
                           dup_rate=dup_rate, max_delay=max_delay)
        self.checker = SafetyChecker()
        self.check = check
        self.wire = wire            # round-trip every delivered message through the codec
        self.durable_app = durable_app   # app state survives crashes (see ``_start``)
        self.counts: dict[str, int] = {}   # snapshots installed, conf changes applied, ...
        # Nemesis triggers: isolate the next new leader right after its first Ready
        # ("new_leader"), or the leader right after it advances its commit ("leader_commit"),
        # or reboot a node right after it votes ("vote_granted").
        self.armed: list[str] = []
        self._reboot_after_ready: str | None = None   # "vote_granted": reboot right after voting
        self.now = 0
        self.trace: deque = deque(maxlen=trace_len)
        self.faults: list[tuple[int, str]] = []     # every fault injected, in order
        self.genesis = ConfState(voters=tuple(f"n{i}" for i in range(1, n + 1)),
                                      learners=())
        self.nodes: dict[str, SimNode] = {}
        self.next_id = n + 1
        self.proposals: dict[bytes, int] = {}      # data -> index once applied (0 until then)
        self.committed_proposals = 0
        self.reads_issued: dict[bytes, tuple[str, int]] = {}  # ctx -> (node, required index)
        self.reads_served = 0
        self.conf: Any = self.genesis                # latest conf state applied anywhere
        self.conf_index = 0
        self.conf_pending: tuple[int, Any] | None = None  # (tick proposed, change)
        self._ctx = 0
        for node_id in self.genesis.voters:
            self._boot(node_id)

    # -- nodes -----------------------------------------------------------------

    def _boot(self, node_id: str) -> SimNode:
        node = SimNode(id=node_id, storage=MemoryLogStorage(self.genesis),
                       conf_state=self.genesis)
        self.nodes[node_id] = node
        self._start(node)
        return node

    def _start(self, node: SimNode) -> None:
        """Boot a RawNode from the node's disk. The app state restarts from the snapshot, or,
        with ``durable_app`` (the ledger keeps its state in LevelDB), where it was: then
        ``Config.applied`` tells the core not to hand those entries out again."""
        storage = node.storage
        snap = storage.snapshot()
        hard_state, conf_state = storage.initial_state()
        if self.durable_app and node.life > 0:
            index = node.applied           # digest and conf_state as they were at the crash
        else:
            index = snap.metadata.index
            node.applied, node.digest = index, GENESIS_DIGEST
            if index:
                node.applied, node.digest = decode_app_state(snap.data)
            node.conf_state = conf_state
        node.role, node.leader, node.reads = None, None, []
        if self.check:
            self.checker.on_restart(node.id, hard_state.commit, index, storage.first_index(),
                                    storage.last_index())
        cfg = Config(node_id=node.id, rng=random.Random(f"{self.seed}/{node.id}/{node.life}"),
                     applied=index, **self.config)
        node.raw = RawNode(cfg, storage)

    def ids(self) -> list[str]:
        return sorted(self.nodes)

    def running(self) -> list[str]:
        return [i for i in sorted(self.nodes) if self.nodes[i].raw is not None]

    def members(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(voters, learners) of the latest configuration applied anywhere, sorted."""
        return tuple(sorted(self.conf.voters)), tuple(sorted(self.conf.learners))

    def leader(self) -> str | None:
        """The running leader with the highest term, or None."""
        best, best_term = None, -1
        for node_id in self.running():
            node = self.nodes[node_id]
            if node.role == Role.LEADER:
                term = node.storage.initial_state()[0].term
                if term > best_term:
                    best, best_term = node_id, term
        return best

    def status(self, node_id: str) -> Any:
        return self.nodes[node_id].raw.status()

    # -- the Ready loop ----------------------------------------------------------

    def _ready(self, node: SimNode) -> None:
        while node.raw is not None and node.raw.has_ready():
            self._handle_ready(node, node.raw.ready())
        if self._reboot_after_ready == node.id:
            self._reboot_after_ready = None
            self._fault(f"reboot {node.id} (armed: vote_granted)")
            self.crash(node.id)
            self.restart(node.id)

    def _handle_ready(self, node: SimNode, rd: Any) -> None:
        check = self.check
        checker = self.checker
        storage = node.storage
        soft = rd.soft_state
        if soft is not None:
            node.role, node.leader = soft.role, soft.leader
        # 1. A snapshot from the leader replaces the app state.
        snap = rd.snapshot
        if snap is not None and snap.metadata.index > 0:
            storage.apply_snapshot(snap)
            index, digest = decode_app_state(snap.data)
            if check:
                checker.on_snapshot_restore(node.id, snap.metadata.index, snap.metadata.term,
                                            digest)
            node.applied, node.digest = snap.metadata.index, digest
            node.conf_state = snap.metadata.conf_state
            self._count("snapshot_installed")
            self._log("snapshot", node.id, snap.metadata.index)
        # 2. Persist entries and hard state: the "fsync" before anything leaves.
        entries = rd.entries
        if entries:
            if check:
                first = entries[0].index
                prev_term = storage.term(first - 1) if first > 1 else 0
                checker.on_persist(node.id, entries, prev_term, storage.last_index(),
                                   checker.leader_term(node.id) if node.role == Role.LEADER else 0)
            storage.append(entries)
        hard_state = rd.hard_state
        stalk = None
        if hard_state is not None:
            if (self.armed and node.role == Role.LEADER and "leader_commit" in self.armed
                    and hard_state.commit > storage.initial_state()[0].commit):
                stalk = "leader_commit"
            storage.set_hard_state(hard_state)
            if check:
                checker.on_commit(node.id, hard_state.commit, hard_state.term,
                                  lambda i, s=storage: _term_or_none(s, i))
        if soft is not None and check:
            if soft.role == Role.LEADER:
                term = storage.initial_state()[0].term
                last = storage.last_index()
                checker.on_leader(node.id, term, last, storage.term(last),
                                  lambda i, s=storage: _term_or_none(s, i))
                self._log("leader", node.id, term)
                if "new_leader" in self.armed:
                    stalk = "new_leader"
            else:
                checker.on_not_leader(node.id)
        # 3. Only now may messages leave.
        if rd.messages:
            self.net.send(self.now, rd.messages)
            if "vote_granted" in self.armed and any(
                    type(m) is RequestVoteResponse and m.granted and not m.pre_vote
                    for m in rd.messages):
                self.armed.remove("vote_granted")
                self._reboot_after_ready = node.id
        if stalk is not None:
            self.armed.remove(stalk)
            self.net.isolate(node.id, self.ids())
            self._fault(f"isolate {node.id} (armed: {stalk})")
        # 4. Apply committed entries in order.
        for entry in rd.committed_entries:
            self._apply(node, entry)
            if node.raw is None:   # removed while applying
                return
        for read in rd.read_states:
            self._release_read(node, read)
        if node.reads:
            self._serve_reads(node)
        node.raw.advance(rd)

    def _apply(self, node: SimNode, entry: Any) -> None:
        if entry.index <= node.applied and self.check:
            # Ready contract: committed entries start after ``Config.applied`` / the snapshot.
            raise SafetyViolation(
                "apply contract", f"{node.id} was handed index {entry.index} (term {entry.term}) "
                f"to apply again; it had applied up to {node.applied}")
        if entry.index <= node.applied:
            return
        if self.check:
            node.digest = self.checker.on_apply(node.id, entry, node.digest)
        else:
            from consensus.sim_checks import next_digest
            node.digest = next_digest(node.digest, entry)
        node.applied = entry.index
        if entry.type == EntryType.CONF_CHANGE:
            change = ConfChange.from_bytes(entry.data)
            node.conf_state = node.raw.apply_conf_change(change)
            if entry.index > self.conf_index:
                self._count("conf_applied")
                self.conf, self.conf_index = node.conf_state, entry.index
                self.conf_pending = None
                self._log("conf", node.id, f"{entry.index} {change} -> {node.conf_state}")
                if change.type == ConfChangeType.REMOVE_NODE and change.node_id in self.nodes:
                    self._retire(change.node_id)
        elif entry.data:
            data = bytes(entry.data)
            if self.proposals.get(data) == 0:
                self.proposals[data] = entry.index
                self.committed_proposals += 1
                self.checker.on_write_acked(entry.index)

    def _release_read(self, node: SimNode, read: Any) -> None:
        ctx = bytes(read.context)
        issued = self.reads_issued.pop(ctx, None)
        if issued is None:
            return   # a duplicate, or issued before a restart
        if self.check:
            self.checker.on_read_released(node.id, ctx, read.index, issued[1])
        node.reads.append((ctx, read.index))

    def _serve_reads(self, node: SimNode) -> None:
        keep = []
        for ctx, index in node.reads:
            if index <= node.applied:
                if self.check:
                    self.checker.on_read_served(node.id, ctx, index)
                self.reads_served += 1
                self._log("read", node.id, f"{ctx!r}@{index}")
            else:
                keep.append((ctx, index))
        node.reads = keep

    # -- time and delivery -------------------------------------------------------

    def tick(self) -> None:
        """Advance the clock one tick: every running node ticks and handles its Ready."""
        self.now += 1
        for node_id in self.running():
            node = self.nodes[node_id]
            node.raw.tick()
            self._ready(node)

    def deliver(self, max_rounds: int = 64) -> int:
        """Deliver messages due by now, round after round, until none are due."""
        delivered = 0
        for _ in range(max_rounds):
            batch = self.net.take_due(self.now)
            if self.net.lost_on_cut:
                self._report_lost()
            if not batch:
                break
            for msg in batch:
                node = self.nodes.get(msg.dst)
                if node is None or node.raw is None:
                    continue
                self.trace.append((self.now, "deliver", msg))
                if self.wire:
                    msg = decode_message(encode_message(msg))
                try:
                    node.raw.step(msg)
                except ConsensusError as exc:
                    self._log("reject", node.id, f"{type(exc).__name__}: {exc}")
                self._ready(node)
                delivered += 1
        return delivered

    def _report_lost(self) -> None:
        """The runtime's transport tells the sender what a cut link lost (etcd's
        ReportUnreachable / ReportSnapshot): always for a snapshot, sometimes otherwise."""
        lost, self.net.lost_on_cut = self.net.lost_on_cut, []
        for msg in lost:
            node = self.nodes.get(msg.src)
            if node is None or node.raw is None:
                continue
            if isinstance(msg, InstallSnapshot):
                node.raw.report_snapshot(msg.dst, False)
            elif self.rng.random() < 0.3:
                node.raw.report_unreachable(msg.dst)
            else:
                continue
            self._ready(node)

    def step(self) -> None:
        """One tick of the world: tick every node, then deliver what is due."""
        self.tick()
        self.deliver()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def stabilize(self, max_rounds: int = 256) -> None:
        """Deliver until the network is quiet, without ticking (etcd's ``stabilize``)."""
        self.deliver(max_rounds)

    def run_until(self, predicate, max_ticks: int) -> bool:
        """Step until ``predicate()`` holds; False if it did not within ``max_ticks``."""
        for _ in range(max_ticks):
            if predicate():
                return True
            self.step()
        return predicate()

    # -- faults ----------------------------------------------------------------

    def _fault(self, text: str) -> None:
        self.faults.append((self.now, text))
        self._log("fault", "-", text)

    def arm(self, trigger: str) -> None:
        """Arm a nemesis trigger: ``new_leader``, ``leader_commit`` (isolate that leader) or
        ``vote_granted`` (reboot the next node that grants a vote, once its Ready is handled)."""
        self.armed.append(trigger)
        self._fault(f"arm {trigger}")

    def calm(self) -> None:
        self.net.calm()
        self.armed.clear()
        self._fault("calm")

    def crash(self, node_id: str) -> None:
        """Power off: the RawNode and its unpersisted state are gone, its disk stays."""
        node = self.nodes[node_id]
        if node.raw is None:
            return
        node.raw = None
        node.role, node.reads = None, []
        self.net.forget_to(node_id)
        self._fault(f"crash {node_id}")

    def crash_mid_step(self, node_id: str) -> bool:
        """Deliver one due message to the node, then crash it before it handles its Ready."""
        node = self.nodes[node_id]
        if node.raw is None:
            return False
        due = self.net.take_due(self.now)
        for k, msg in enumerate(due):
            if msg.dst == node_id:
                self.trace.append((self.now, "deliver", msg))
                try:
                    node.raw.step(msg)
                except ConsensusError:
                    pass
                self.net.requeue(self.now, due[k + 1:])
                break
        else:
            self.net.requeue(self.now, due)
        self.crash(node_id)
        return True

    def restart(self, node_id: str) -> None:
        """Boot a new RawNode from what the node's disk holds."""
        node = self.nodes[node_id]
        if node.raw is not None or node.removed:
            return
        node.life += 1
        self._count("restarts")
        self._fault(f"restart {node_id}")
        self._start(node)
        self._ready(node)

    def compact(self, node_id: str) -> bool:
        """Snapshot the app state at the applied index and drop the log up to it."""
        node = self.nodes[node_id]
        storage = node.storage
        index = node.applied
        if node.raw is None or index < storage.first_index():
            return False
        storage.create_snapshot(index, node.conf_state, encode_app_state(index, node.digest))
        storage.compact(index)
        self._fault(f"compact {node_id} @{index}")
        return True

    def _retire(self, node_id: str) -> None:
        node = self.nodes[node_id]
        node.removed = True
        node.raw = None
        node.role = None
        self.net.forget_to(node_id)
        self._log("retire", node_id, "")

    # -- clients ---------------------------------------------------------------

    def propose(self, data: bytes, node_id: str | None = None) -> bool:
        """Propose ``data`` (unique) at ``node_id`` or the leader; False if refused."""
        node_id = node_id or self.leader()
        if node_id is None or self.nodes[node_id].raw is None:
            return False
        node = self.nodes[node_id]
        self.proposals.setdefault(bytes(data), 0)
        try:
            node.raw.propose(data)
        except ConsensusError:
            return False
        self._ready(node)
        return True

    def read_index(self, node_id: str) -> bytes | None:
        """Issue a linearizable read at ``node_id``; returns its context."""
        node = self.nodes[node_id]
        if node.raw is None:
            return None
        self._ctx += 1
        ctx = b"read-%d" % self._ctx
        self.reads_issued[ctx] = (node_id, self.checker.commit_frontier)
        try:
            node.raw.read_index(ctx)
        except ConsensusError:
            del self.reads_issued[ctx]
            return None
        self._ready(node)
        return ctx

    def transfer_leadership(self, target: str) -> bool:
        leader = self.leader()
        if leader is None:
            return False
        self._fault(f"transfer {leader} -> {target}")
        try:
            self.nodes[leader].raw.transfer_leadership(target)
        except ConsensusError:
            return False
        self._ready(self.nodes[leader])
        return True

    def campaign(self, node_id: str) -> None:
        node = self.nodes[node_id]
        if node.raw is None:
            return
        self._fault(f"campaign {node_id}")
        try:
            node.raw.campaign()
        except ConsensusError:
            return
        self._ready(node)

    def change_conf(self, kind: str, node_id: str) -> bool:
        """Propose a membership change through the leader: add_learner | promote | remove."""
        leader = self.leader()
        if leader is None:
            return False
        if kind == "add_learner" and node_id not in self.nodes:
            self._boot(node_id)
        change = ConfChange(type=_CONF_CHANGE_TYPES[kind], node_id=node_id)
        self._fault(f"{kind} {node_id} via {leader}")
        try:
            self.nodes[leader].raw.propose_conf_change(change)
        except ConsensusError:
            return False
        self.conf_pending = (self.now, change)
        self._ready(self.nodes[leader])
        return True

    def add_learner(self) -> str | None:
        node_id = f"n{self.next_id}"
        if not self.change_conf("add_learner", node_id):
            return None
        self.next_id += 1
        return node_id

    # -- trace -----------------------------------------------------------------

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _log(self, kind: str, node: str, detail: Any) -> None:
        self.trace.append((self.now, kind, (node, detail)))

    def format_trace(self) -> str:
        lines = []
        for now, kind, what in self.trace:
            if kind == "deliver":
                lines.append(f"t={now:<5} {what.src}->{what.dst} {format_message(what)}")
            else:
                lines.append(f"t={now:<5} {kind:<8} {what[0]} {what[1]}")
        return "\n".join(lines)

    def format_faults(self) -> str:
        return "\n".join(f"t={now:<5} {text}" for now, text in self.faults)

    def final_checks(self) -> None:
        """Whole-history checks and a direct pairwise comparison of the logs on disk."""
        if not self.check:
            return
        self.checker.check_history()
        compare_logs({i: self.nodes[i].storage for i in self.ids()})


def _term_or_none(storage: Any, index: int) -> int | None:
    if index < storage.first_index() - 1 or index > storage.last_index():
        return None
    try:
        return storage.term(index)
    except ConsensusError:
        return None


def run_random(seed: int, steps: int = 200, **options: Any) -> Any:
    """Run one seed of random faults and clients; see ``consensus.sim_faults.run_random``."""
    from consensus.sim_faults import run_random as run

    return run(seed, steps, **options)
