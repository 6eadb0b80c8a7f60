"""Hypothesis explores fault sequences; the paper's Figure 3 properties hold after every step.

A ``RuleBasedStateMachine`` over the simulator: it ticks, partitions (symmetric,
one-way), heals, crashes and restarts nodes, compacts logs and proposes at random.
The simulator's checker enforces the properties incrementally as each Ready is
handled; the ``figure3`` invariant re-checks them from scratch on the nodes'
disks after every rule, so a bug in the incremental bookkeeping cannot hide one
in the core:

* election safety -- at most one leader per term (Raft §5.2);
* leader append-only -- a leader's log only grows during its term (§5.3);
* log matching -- same index and term => identical prefixes (§5.3);
* leader completeness -- committed entries are in every later leader's log (§5.4);
* state machine safety -- no two nodes apply different entries at an index (§5.4.3).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from consensus import Role
from consensus.sim_checks import SafetyViolation
from consensus.simulator import Simulator

NODE_COUNTS = st.sampled_from([3, 5])


class RaftFigure3(RuleBasedStateMachine):
    sim: Simulator

    @initialize(n=NODE_COUNTS, seed=st.integers(0, 2**16), delay=st.sampled_from([0, 0, 2]))
    def start(self, n: int, seed: int, delay: int) -> None:
        self.sim = Simulator(n, seed, max_delay=delay, dup_rate=0.05 if delay else 0.0)
        self.counter = 0
        self.leaders_seen: dict[str, tuple[int, int]] = {}   # node -> (term, last index)

    # -- rules ---------------------------------------------------------------------------------

    @rule(ticks=st.integers(1, 40), proposals=st.integers(0, 3))
    def tick(self, ticks: int, proposals: int) -> None:
        """Time passes with client traffic to the leader (a proposal every few ticks)."""
        for k in range(ticks):
            if proposals and k % max(1, ticks // proposals) == 0:
                self.counter += 1
                self.sim.propose(b"h%d" % self.counter)
            self.sim.step()

    @rule(data=st.data())
    def propose(self, data: st.DataObject) -> None:
        self.counter += 1
        target = data.draw(st.sampled_from([None] + self.sim.ids()))
        self.sim.propose(b"h%d" % self.counter, target)

    @rule(crash=st.booleans())
    def fail_leader(self, crash: bool) -> None:
        """Most Raft bugs need a leader to vanish mid-replication."""
        leader = self.sim.leader()
        if leader is None:
            return
        if crash:
            self.sim.crash(leader)
        else:
            self.sim.isolate(leader)

    @rule(data=st.data(), one_way=st.booleans())
    def partition(self, data: st.DataObject, one_way: bool) -> None:
        ids = self.sim.ids()
        side = data.draw(st.sets(st.sampled_from(ids), min_size=1, max_size=len(ids) - 1))
        a, b = sorted(side), [i for i in ids if i not in side]
        if one_way:
            self.sim.partition_one_way(a, b)
        else:
            self.sim.partition(a, b)

    @rule()
    def heal(self) -> None:
        self.sim.heal()

    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        running = self.sim.running()
        if running:
            self.sim.crash(data.draw(st.sampled_from(running)))

    @precondition(lambda self: len(self.sim.running()) < len(self.sim.ids()))
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        crashed = [i for i in self.sim.ids() if i not in self.sim.running()]
        self.sim.restart(data.draw(st.sampled_from(crashed)))

    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        running = self.sim.running()
        if running:
            self.sim.compact(data.draw(st.sampled_from(running)))

    @rule(data=st.data())
    def campaign(self, data: st.DataObject) -> None:
        running = self.sim.running()
        if running:
            self.sim.campaign(data.draw(st.sampled_from(running)))

    # -- Figure 3, from scratch ----------------------------------------------------------------

    @invariant()
    def figure3(self) -> None:
        sim = self.sim
        # Election safety: the checker's term -> leader map never held two (it would have
        # raised); here: no two running leaders claim the same persisted term.
        terms: dict[int, str] = {}
        for node_id in sim.running():
            node = sim.nodes[node_id]
            if node.role == Role.LEADER:
                term = node.storage.initial_state()[0].term
                if term in terms:
                    raise SafetyViolation("election safety",
                                          f"{terms[term]} and {node_id} both lead term {term}")
                terms[term] = node_id
        # Leader append-only: a node leading the same term as at the last check has a log
        # that extends what it had then.
        for node_id in sim.running():
            term = sim.checker.leader_term(node_id)
            storage = sim.nodes[node_id].storage
            if not term:
                self.leaders_seen.pop(node_id, None)
                continue
            before = self.leaders_seen.get(node_id)
            if before and before[0] == term and storage.last_index() < before[1]:
                raise SafetyViolation("leader append-only",
                                      f"{node_id} log shrank from {before[1]} in term {term}")
            self.leaders_seen[node_id] = (term, storage.last_index())
        # Log matching and leader completeness over whole disks and the whole history.
        sim.final_checks()
        # State machine safety: every node's applied state equals the committed state there.
        for node_id in sim.ids():
            node = sim.nodes[node_id]
            expected = sim.checker.digest_at.get(node.applied)
            if expected is not None and expected != node.digest:
                raise SafetyViolation("state machine safety",
                                      f"{node_id} state at {node.applied} differs")


RaftFigure3.TestCase.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestRaftFigure3 = RaftFigure3.TestCase
