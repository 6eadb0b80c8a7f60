"""Simulated clusters: scripted fault scenarios and hundreds of random seeds.

Every test runs with the simulator's safety checker on (``consensus/sim_checks.py``):
any election-safety, log-matching, leader-completeness, state-machine-safety,
commit or read violation raises :class:`SafetyViolation` at the step it happens.
The scenarios follow etcd-io/raft ``raft_test.go`` and ``testdata/*.txt``.
"""

from __future__ import annotations

import os

import pytest

from consensus import Role
from consensus.sim_checks import SafetyViolation
from consensus.sim_faults import run_random
from consensus.simulator import Simulator

CI_SEEDS = int(os.environ.get("MINUTEBOOK_SIM_SEEDS", "500"))
CI_STEPS = 200
BLOCK = 50


def deliver_until(sim: Simulator, predicate, max_ticks: int) -> bool:
    """Like ``run_until`` but checks between delivery rounds, to act inside a tick."""
    for _ in range(max_ticks):
        sim.tick()
        while True:
            if predicate():
                return True
            if not sim.deliver(max_rounds=1):
                break
    return predicate()


def elect(sim: Simulator, max_ticks: int = 200) -> str:
    assert sim.run_until(lambda: sim.leader() is not None, max_ticks), "no leader elected"
    return sim.leader()


def term_of(sim: Simulator, node_id: str) -> int:
    return sim.nodes[node_id].storage.initial_state()[0].term


def commit(sim: Simulator, data: bytes, max_ticks: int = 300) -> int:
    """Propose ``data`` to the current leader (again after a leader change) until it commits."""
    proposed_to = None
    for _ in range(max_ticks):
        if sim.proposals.get(data):
            return sim.proposals[data]
        leader = sim.leader()
        if leader is not None and leader != proposed_to and sim.propose(data, leader):
            proposed_to = leader
        sim.step()
    raise AssertionError(f"{data!r} not committed in {max_ticks} ticks; leader {sim.leader()}")


def converge(sim: Simulator, max_ticks: int = 400) -> None:
    """Without new writes, every running member applies everything anyone applied
    (FINDINGS.md F1 was an idle follower that never caught up)."""
    def done() -> bool:
        target = max(sim.nodes[i].applied for i in sim.running())
        return all(sim.nodes[i].applied == target for i in sim.running())
    assert sim.run_until(done, max_ticks), {i: sim.nodes[i].applied for i in sim.running()}
    sim.final_checks()


# -- random seeds ----------------------------------------------------------------------------


@pytest.mark.parametrize("block", range(0, CI_SEEDS, BLOCK),
                         ids=lambda b: f"seeds{b}-{b + BLOCK - 1}")
def test_random_seeds(block: int) -> None:
    """Random partitions, loss, crashes, compaction, membership and transfers never break safety,
    and after the network heals a proposal commits everywhere within the liveness bound."""
    failures = []
    for seed in range(block, min(block + BLOCK, CI_SEEDS)):
        result = run_random(seed, CI_STEPS)
        if result.violation:
            failures.append(f"seed {seed} ({result.nodes} nodes): {result.violation}\n"
                            f"  replay: scripts/simulate.py --seed {seed} --steps {CI_STEPS} --trace")
    assert not failures, "\n".join(failures)


def test_same_seed_same_run() -> None:
    """Determinism: a seed replays bit for bit (the trace and every count match)."""
    a = run_random(7, 150, trace_len=400)
    b = run_random(7, 150, trace_len=400)
    assert (a.faults, a.proposals, a.committed, a.reads, a.ticks) == \
        (b.faults, b.proposals, b.committed, b.reads, b.ticks)
    sim_a, sim_b = Simulator(5, 3, max_delay=2, dup_rate=0.1), Simulator(5, 3, max_delay=2,
                                                                      dup_rate=0.1)
    for sim in (sim_a, sim_b):
        sim.run(60)
        sim.isolate(sim.leader() or "n1")
        sim.run(60)
    assert sim_a.format_trace() == sim_b.format_trace()
    assert sim_a.net.stats == sim_b.net.stats


# -- scripted scenarios ------------------------------------------------------------------------


def test_partition_leader_away_and_heal() -> None:
    """The leader is cut off with one follower: the majority elects a new leader in a higher
    term and commits; the old leader's entries stay uncommitted and are overwritten on heal.
    Raft §5.3, §5.4.1."""
    sim = Simulator(5, seed=11)
    old = elect(sim)
    commit(sim, b"before")
    buddy = next(i for i in sim.ids() if i != old)
    sim.partition([old, buddy], [i for i in sim.ids() if i not in (old, buddy)])
    sim.propose(b"stranded", old)
    sim.run(10)
    assert not sim.proposals[b"stranded"], "a minority leader committed an entry"
    assert sim.run_until(lambda: sim.leader() not in (None, old), 300)
    new = sim.leader()
    assert term_of(sim, new) > term_of(sim, old)
    commit(sim, b"majority")
    sim.heal()
    converge(sim)
    assert sim.leader() == new
    assert not sim.proposals[b"stranded"]


def test_bridge_partition_keeps_committing() -> None:
    """Two halves that only meet through one bridge node still elect one leader per term and
    commit: the bridge node (or a side plus the bridge) forms a quorum. Raft §5.2."""
    sim = Simulator(5, seed=12)
    elect(sim)
    sim.bridge(["n1", "n2"], ["n4", "n5"], "n3")
    for k in range(5):
        commit(sim, b"bridged-%d" % k, max_ticks=500)
    sim.heal()
    converge(sim)


def test_idle_follower_catches_up_after_lost_appends() -> None:
    """A follower that missed appends catches up after the partition heals, even if no new
    proposal arrives: heartbeat responses reveal match < last index and the leader resends
    (etcd sends an empty append that the follower rejects, then probes). Raft §5.3.
    FINDINGS.md F1, fixed in 4ae1a71."""
    sim = Simulator(3, seed=1)
    leader = elect(sim)
    follower = next(i for i in sim.ids() if i != leader)
    sim.isolate(follower)
    assert sim.propose(b"missed", leader)
    sim.run(3)
    sim.heal()
    sim.run(10 * sim.election_tick)
    assert sim.nodes[follower].applied == sim.nodes[leader].applied, sim.status(leader).progress


@pytest.mark.parametrize("direction", ["leader_deaf", "leader_mute"])
def test_asymmetric_partition(direction: str) -> None:
    """One-way link failures around the leader: a deaf leader (hears nothing) steps down by
    check-quorum; a mute one (cannot send) is replaced. Either way the cluster commits again
    and never has two leaders in a term. Raft thesis §6.2 (check-quorum)."""
    sim = Simulator(3, seed=13)
    leader = elect(sim)
    others = [i for i in sim.ids() if i != leader]
    if direction == "leader_deaf":
        sim.partition_one_way(others, [leader])
    else:
        sim.partition_one_way([leader], others)
    commit(sim, b"after-asymmetry", max_ticks=1000)
    sim.heal()
    converge(sim)


def test_majority_crash_then_restart() -> None:
    """A majority crashes: nothing commits; after restart from disk every committed entry is
    still there and new proposals commit. Raft §5.1 (persistent state), §5.4."""
    sim = Simulator(5, seed=14)
    elect(sim)
    for k in range(10):
        commit(sim, b"c%d" % k)
    leader = sim.leader()
    victims = [leader] + [i for i in sim.ids() if i != leader][:2]
    for node_id in victims:
        sim.crash(node_id)
    survivor = sim.running()[0]
    sim.propose(b"no-quorum", survivor)
    sim.run(100)
    assert not sim.proposals.get(b"no-quorum")
    for node_id in victims:
        sim.restart(node_id)
    commit(sim, b"after-restart")
    converge(sim)
    for node_id in sim.ids():
        assert sim.nodes[node_id].applied >= sim.proposals[b"c9"]


def test_leader_removal() -> None:
    """Removing the leader: the change commits, the rest elect a new leader and keep
    committing. Raft thesis §4.2.2."""
    sim = Simulator(5, seed=15)
    leader = elect(sim)
    commit(sim, b"x")
    assert sim.change_conf("remove", leader)
    assert sim.run_until(lambda: leader not in sim.members()[0], 300)
    commit(sim, b"without-old-leader", max_ticks=500)
    assert sim.leader() != leader
    assert sim.nodes[leader].removed
    converge(sim)


def test_learner_promotion() -> None:
    """A learner catches up but does not count for quorum; once promoted it does.
    Raft thesis §4.2.1."""
    sim = Simulator(3, seed=16)
    elect(sim)
    for k in range(5):
        commit(sim, b"l%d" % k)
    learner = sim.add_learner()
    assert learner is not None
    assert sim.run_until(lambda: learner in sim.members()[1], 300)
    commit(sim, b"seen-by-learner")
    converge(sim)
    assert sim.nodes[learner].applied == sim.nodes[sim.leader()].applied
    leader = sim.leader()
    others = [i for i in sim.members()[0] if i != leader]
    sim.crash(others[0])
    sim.crash(others[1])
    sim.propose(b"learner-no-quorum", leader)
    sim.run(30)
    assert not sim.proposals.get(b"learner-no-quorum"), "a learner counted towards quorum"
    sim.restart(others[0])
    sim.restart(others[1])
    commit(sim, b"back")
    assert sim.change_conf("promote", learner)
    assert sim.run_until(lambda: learner in sim.members()[0], 300)
    sim.crash(others[0])      # 4 voters: leader, other, learner form a quorum of 3
    commit(sim, b"promoted-counts", max_ticks=500)
    sim.restart(others[0])
    converge(sim)


def test_transfer_under_load() -> None:
    """Leadership moves to the chosen voter while proposals keep flowing; nothing committed is
    lost. Raft thesis §3.10."""
    sim = Simulator(3, seed=17)
    old = elect(sim)
    target = next(i for i in sim.ids() if i != old)
    for k in range(20):
        sim.propose(b"load-%d" % k)
        sim.step()
    assert sim.transfer_leadership(target)
    for k in range(20, 60):
        sim.propose(b"load-%d" % k)
        sim.step()
    assert sim.leader() == target
    commit(sim, b"after-transfer")
    converge(sim)
    assert sum(1 for d, i in sim.proposals.items() if d.startswith(b"load-") and i) >= 40


def test_compaction_and_install_snapshot() -> None:
    """A follower far behind a compacted log catches up through InstallSnapshot and its
    restored state machine equals everyone else's. Raft §7."""
    sim = Simulator(3, seed=18)
    elect(sim)
    laggard = next(i for i in sim.ids() if i != sim.leader())
    sim.isolate(laggard)
    for k in range(60):
        commit(sim, b"s%d" % k)
    for node_id in sim.running():
        if node_id != laggard:
            assert sim.compact(node_id)
    sim.heal()
    converge(sim)
    assert sim.nodes[laggard].storage.snapshot().metadata.index > 0, "caught up without snapshot"
    sim.crash(laggard)           # and it restarts from that snapshot
    sim.restart(laggard)
    commit(sim, b"after-snapshot-restart")
    converge(sim)


def test_node_cut_off_for_hours_rejoins_quietly() -> None:
    """A node cut off for thousands of ticks does not bump its term (pre-vote) and, when it
    returns, does not depose the healthy leader (check-quorum leases). Raft thesis §9.6."""
    sim = Simulator(3, seed=19)
    leader = elect(sim)
    term = term_of(sim, leader)
    remote = next(i for i in sim.ids() if i != leader)
    sim.isolate(remote)
    for k in range(5000):
        if k % 500 == 0:
            sim.propose(b"h%d" % k)
        sim.step()
    assert term_of(sim, remote) == term, "pre-vote should keep the cut-off node's term"
    sim.heal()
    commit(sim, b"rejoined")
    converge(sim)
    assert sim.leader() == leader
    assert term_of(sim, leader) == term


def test_restart_with_durable_app_state() -> None:
    """The ledger keeps its state on disk: a restarted node resumes at ``Config.applied``, is not
    handed applied entries again (the simulator's "apply contract" check) and still knows the
    membership changes it applied after its last snapshot."""
    sim = Simulator(3, seed=21, durable_app=True)
    elect(sim)
    for k in range(5):
        commit(sim, b"d%d" % k)
    follower = next(i for i in sim.ids() if i != sim.leader())
    assert sim.compact(follower)
    learner = sim.add_learner()
    assert sim.run_until(lambda: learner in sim.members()[1], 300)
    commit(sim, b"after-learner")
    converge(sim)
    sim.crash(follower)
    sim.restart(follower)
    assert learner in sim.status(follower).conf_state.learners
    commit(sim, b"after-restart")
    converge(sim)


def test_figure8_old_term_entry_is_not_committed_by_counting() -> None:
    """Raft Figure 8: a leader must not commit an entry of an earlier term by counting replicas.

    n1 (term 1) leaves an entry on n1, n2; another node wins term 2 and is cut off with only its
    own no-op at that index; n1 returns, wins a later term and replicates its old entry to a
    majority one entry per message. It is isolated the moment its commit index moves. Then the
    term-2 node returns and is elected: the checker fails if n1 had committed the old entry
    (leader completeness, then state machine safety). Raft §5.4.2."""
    sim = Simulator(5, seed=1, max_bytes_per_msg=1, max_inflight=1)
    sim.campaign("n1")
    sim.run(3)
    assert sim.leader() == "n1"
    commit(sim, b"base")
    sim.partition(["n1", "n2"], ["n3", "n4", "n5"])
    assert sim.propose(b"old", "n1")
    sim.run(2)
    sim.crash("n1")
    sim.arm("new_leader")
    assert sim.run_until(lambda: not sim.armed, 200), "no leader elected on the majority side"
    stalked = [text for _, text in sim.faults if "armed: new_leader" in text][-1].split()[1]
    sim.heal()
    sim.isolate(stalked)
    sim.restart("n1")
    sim.arm("leader_commit")
    for _ in range(300):
        if sim.leader() == "n1":
            break
        sim.campaign("n1")
        sim.step()
    assert sim.leader() == "n1"
    assert sim.run_until(lambda: not sim.armed, 100), "n1 never advanced its commit"
    sim.heal()
    sim.isolate("n1")
    for _ in range(300):
        if sim.leader() not in (None, "n1"):
            break
        sim.campaign(stalked)
        sim.step()
    sim.heal()
    converge(sim)


def test_delayed_append_from_deposed_leader_is_rejected() -> None:
    """An AppendEntries from a deposed leader that arrives late must be rejected by its term
    (Raft §5.1: a request with a stale term is rejected), not truncate the newer leader's
    entries that the follower acknowledged; otherwise the newer leader's committed no-op
    would survive on it alone and a crash would lose it (leader completeness)."""
    sim = Simulator(3, seed=2)
    sim.campaign("n1")
    sim.run(3)
    assert sim.leader() == "n1"
    commit(sim, b"base")
    base = sim.proposals[b"base"]
    sim.partition_one_way(["n2", "n3"], ["n1"])
    sim.hold("n1", "n2")
    sim.hold("n1", "n3")
    assert sim.propose(b"stale", "n1")        # its AppendEntries wait in flight
    # Round by round, until a follower has acknowledged the new leader's no-op; then keep it
    # from learning that the no-op committed.
    def acked() -> bool:
        return any(sim.nodes[i].storage.last_index() > base and sim.nodes[i].role != Role.LEADER
                   for i in ("n2", "n3"))
    assert deliver_until(sim, acked, 300)
    follower = next(i for i in ("n2", "n3") if sim.nodes[i].storage.last_index() > base
                    and sim.nodes[i].role != Role.LEADER)
    new = "n3" if follower == "n2" else "n2"
    sim.hold(new, follower)
    assert sim.run_until(lambda: sim.nodes[new].applied > base, 50)
    sim.net.held.discard(("n1", follower))   # the deposed leader's append finally arrives
    sim.run(2)
    sim.crash(new)
    sim.heal()
    assert sim.run_until(lambda: sim.leader() in ("n1", follower), 300)
    sim.restart(new)
    converge(sim)


def test_checker_catches_two_leaders() -> None:
    """The checker itself bites: a second leader reported for a term is a violation."""
    sim = Simulator(3, seed=20)
    leader = elect(sim)
    term = term_of(sim, leader)
    other = next(i for i in sim.ids() if i != leader)
    with pytest.raises(SafetyViolation, match="election safety"):
        sim.checker.on_leader(other, term, 0, 0, lambda i: None)
