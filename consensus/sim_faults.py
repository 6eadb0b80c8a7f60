"""Random fault schedules for the simulator: generate, run, replay, shrink.

A seed decides everything. The *fault schedule* (which fault at which step) is
drawn up front from its own rng, so it can be printed, replayed and shrunk
(drop one fault at a time while the run still fails); each fault carries its
own small seed that picks its targets among the nodes alive at that moment.
Client traffic (proposals, ReadIndex reads) and the network use other rngs
derived from the same seed.

After ``steps`` steps of faults comes the liveness phase: the network is made
perfect, every crashed member restarts, and within ``LIVENESS_TIMEOUTS``
election timeouts a leader must commit a fresh proposal and every running
member must apply it. The bound: check-quorum needs one election timeout to
depose a stale leader, a randomized timeout is below 2 election timeouts, and
pre-vote splits can waste a few rounds; a conf change left pending and a
snapshot to a far-behind learner take a few more heartbeats. 30 timeouts is
generous for that and still catches a livelock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from consensus.sim_checks import SafetyViolation
from consensus.simulator import Simulator

__all__ = ["FaultSpec", "RunResult", "make_schedule", "run_random", "run_schedule", "shrink",
           "FAULT_WEIGHTS", "LIVENESS_TIMEOUTS"]

LIVENESS_TIMEOUTS = 30

# kind -> relative weight; a fault is drawn at a step with probability ``fault_rate``.
FAULT_WEIGHTS: dict[str, int] = {
    "partition": 6, "one_way": 4, "bridge": 3, "isolate": 5, "isolate_leader": 5,
    "drop_link": 3, "lossy": 4, "heal": 12, "crash": 5, "crash_leader": 4, "crash_mid": 3,
    "restart": 12, "compact": 6, "transfer": 3, "campaign": 2,
    "add_learner": 3, "promote": 6, "remove": 2, "remove_leader": 1,
    "stalk_new_leader": 4, "stalk_commit": 4, "reboot": 6, "reboot_voter": 4, "hold_link": 4, "hold_leader": 3, "release": 3,
}


@dataclass(frozen=True)
class FaultSpec:
    step: int
    kind: str
    seed: int

    def __str__(self) -> str:
        return f"{self.step}:{self.kind}:{self.seed}"


@dataclass
class RunResult:
    seed: int
    nodes: int
    steps: int = 0
    ticks: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    proposals: int = 0
    committed: int = 0
    reads: int = 0
    liveness_ticks: int = 0  # ticks the liveness phase needed
    elections: int = 0       # leaders elected (distinct terms)
    max_term: int = 0
    counts: dict[str, int] = field(default_factory=dict)   # snapshots installed, conf changes, ...
    violation: str | None = None
    trace: str = ""
    fault_log: str = ""
    schedule: list[FaultSpec] = field(default_factory=list)
    seconds: float = 0.0     # filled in by the caller (consensus/ reads no clock)


def make_schedule(seed: int, steps: int, fault_rate: float = 0.06,
                  weights: dict[str, int] | None = None) -> list[FaultSpec]:
    rng = random.Random(f"{seed}/faults")
    weights = weights or FAULT_WEIGHTS
    kinds = sorted(weights)
    cum = [weights[k] for k in kinds]
    schedule = []
    for step in range(steps):
        if rng.random() < fault_rate:
            kind = rng.choices(kinds, cum_weights=_cumulative(cum))[0]
            schedule.append(FaultSpec(step, kind, rng.randrange(1 << 30)))
    return schedule


def _cumulative(weights: list[int]) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


def _split(rng: random.Random, ids: list[str]) -> tuple[list[str], list[str]]:
    ids = list(ids)
    rng.shuffle(ids)
    cut = rng.randint(1, max(1, len(ids) - 1))
    return sorted(ids[:cut]), sorted(ids[cut:])


def apply_fault(sim: Simulator, spec: FaultSpec, *, max_voters: int = 7) -> bool:
    """Inject one fault; False if it did not apply (no target); targets chosen by ``spec.seed``."""
    rng = random.Random(spec.seed)
    kind = spec.kind
    live = [i for i in sim.ids() if not sim.nodes[i].removed]
    running = sim.running()
    crashed = [i for i in live if i not in running]
    voters, learners = sim.members()
    leader = sim.leader()
    if kind == "partition":
        a, b = _split(rng, live)
        sim.partition(a, b)
    elif kind == "one_way":
        a, b = _split(rng, live)
        sim.partition_one_way(a, b)
    elif kind == "bridge":
        if len(live) < 3:
            return False
        bridge = leader if leader and rng.random() < 0.5 else rng.choice(live)
        rest = [i for i in live if i != bridge]
        a, b = _split(rng, rest)
        sim.bridge(a, b, bridge)
    elif kind == "isolate":
        sim.isolate(rng.choice(live))
    elif kind == "isolate_leader":
        if leader is None:
            return False
        sim.isolate(leader)
    elif kind == "drop_link":
        src, dst = rng.sample(live, 2)
        sim.drop(src, dst, rng.choice([0.3, 0.6, 1.0]))
    elif kind == "lossy":
        sim.lossy(rng.choice([0.0, 0.05, 0.2]), rng.choice([0.0, 0.05, 0.2]),
                  rng.choice([0, 1, 2, 4, 12]))
    elif kind == "heal":
        sim.heal()
    elif kind == "hold_link":
        src, dst = rng.sample(live, 2)
        sim.hold(src, dst)
    elif kind == "hold_leader":
        others = [i for i in live if i != leader]
        if leader is None or not others:
            return False
        sim.hold(leader, rng.choice(others))
    elif kind == "release":
        sim.release()
    elif kind == "stalk_new_leader":
        sim.arm("new_leader")
    elif kind == "stalk_commit":
        sim.arm("leader_commit")
    elif kind in ("crash", "crash_leader", "crash_mid"):
        target = leader if kind == "crash_leader" else (rng.choice(running) if running else None)
        if target is None:
            return False
        if kind == "crash_mid":
            return sim.crash_mid_step(target)
        sim.crash(target)
    elif kind == "reboot":
        if not running:
            return False
        target = rng.choice(running)        # a process restart: crash, then up again at once
        sim.crash(target)
        sim.restart(target)
    elif kind == "reboot_voter":
        sim.arm("vote_granted")
    elif kind == "restart":
        if not crashed:
            return False
        sim.restart(rng.choice(crashed))
    elif kind == "compact":
        if not running:
            return False
        return sim.compact(rng.choice(running))
    elif kind == "transfer":
        others = [v for v in voters if v != leader and v in running]
        if leader is None or not others:
            return False
        return sim.transfer_leadership(rng.choice(others))
    elif kind == "campaign":
        if not running:
            return False
        sim.campaign(rng.choice(running))
    elif kind in ("add_learner", "promote", "remove", "remove_leader"):
        if sim.conf_pending is not None and sim.now - sim.conf_pending[0] < 20 * sim.election_tick:
            return False
        if kind == "add_learner":
            if len(voters) + len(learners) >= max_voters + 1:
                return False
            return sim.add_learner() is not None
        if kind == "promote":
            if not learners or len(voters) >= max_voters:
                return False
            return sim.change_conf("promote", rng.choice(learners))
        if len(voters) <= 3:
            return False
        target = leader if kind == "remove_leader" else rng.choice(voters)
        if target is None or target not in voters:
            return False
        return sim.change_conf("remove", target)
    else:  # pragma: no cover - schedule and table out of step
        raise ValueError(f"unknown fault kind {kind}")
    return True


def run_schedule(seed: int, nodes: int, steps: int, schedule: list[FaultSpec], *,
                 propose_rate: float = 0.25, read_rate: float = 0.08,
                 liveness: bool = True, trace_len: int = 60, **sim_options: Any) -> RunResult:
    """Run one seed with an explicit fault schedule; the result names any violation."""
    sim_options.setdefault("wire", seed % 4 == 0)
    result = RunResult(seed=seed, nodes=nodes, schedule=list(schedule))
    sim = Simulator(nodes, seed, trace_len=trace_len, **sim_options)
    clients = random.Random(f"{seed}/clients")
    by_step: dict[int, list[FaultSpec]] = {}
    for spec in schedule:
        by_step.setdefault(spec.step, []).append(spec)
    counter = 0
    try:
        for step in range(steps):
            for spec in by_step.get(step, ()):
                if apply_fault(sim, spec):
                    result.faults[spec.kind] = result.faults.get(spec.kind, 0) + 1
            sim.step()
            result.steps += 1
            if step % 25 == 24:
                sim.checker.check_history()   # leader completeness against late-learned commits
            roll = clients.random()
            if roll < propose_rate:
                counter += 1
                running = sim.running()
                target = None
                if running and clients.random() < 0.2:
                    target = clients.choice(running)   # a follower: forwarded or refused
                if sim.propose(b"p%d" % counter, target):
                    result.proposals += 1
            elif roll < propose_rate + read_rate:
                running = sim.running()
                target = sim.leader()
                if running and (target is None or clients.random() < 0.2):
                    target = clients.choice(running)   # the core refuses reads at followers
                if target is not None:
                    sim.read_index(target)
        if liveness:
            _liveness(sim, result)
        sim.final_checks()
    except SafetyViolation as exc:
        result.violation = str(exc)
    except AssertionError as exc:   # the core's RaftInvariantError: a broken invariant it caught
        result.violation = f"core invariant: {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - any crash of the core is a finding, with its trace
        result.violation = f"exception: {type(exc).__name__}: {exc} ({_where(exc)})"
    result.ticks = sim.now
    result.committed = sim.committed_proposals
    result.reads = sim.reads_served
    result.elections = len(sim.checker.leaders)
    result.max_term = max(sim.checker.leader_of_term, default=0)
    result.counts = dict(sim.counts)
    if result.violation:
        result.trace = sim.format_trace()
        result.fault_log = sim.format_faults()
    return result


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame, to tell a core crash from a harness one."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}"


def _liveness(sim: Simulator, result: RunResult) -> None:
    """After the faults stop: heal, restart, and require progress within a bound."""
    sim.calm()
    for node_id in sim.ids():
        if not sim.nodes[node_id].removed:
            sim.restart(node_id)
    bound = LIVENESS_TIMEOUTS * sim.election_tick
    start = sim.now
    data = b"live-%d" % sim.seed
    proposed_to: str | None = None
    while sim.now - start < bound:
        index = sim.proposals.get(data, 0)
        if index:
            voters, learners = sim.members()
            if all(sim.nodes[i].applied >= index for i in voters + learners):
                result.liveness_ticks = sim.now - start
                return
        else:
            leader = sim.leader()
            if leader is not None and leader != proposed_to:
                if sim.propose(data, leader):
                    proposed_to = leader
                    result.proposals += 1
        sim.step()
    index = sim.proposals.get(data, 0)
    behind = {i: sim.nodes[i].applied for i in sim.ids() if not sim.nodes[i].removed}
    raise SafetyViolation(
        "liveness",
        f"{bound} ticks after the network healed: proposal "
        f"{'committed at ' + str(index) if index else 'not committed'}; leader {sim.leader()}; "
        f"applied {behind}; members {sim.members()}")


def seed_config(seed: int) -> dict[str, Any]:
    """Per-seed variety in the core's settings: flow control that splits appends (one entry
    per message, one in flight) is what exposes commit-rule and back-off bugs."""
    rng = random.Random(f"{seed}/config")
    return dict(
        max_bytes_per_msg=rng.choice([1 << 20, 1 << 20, 64, 1]),
        max_inflight=rng.choice([256, 256, 4, 1]),
        heartbeat_tick=rng.choice([1, 1, 2]),
        snapshot_chunk_bytes=rng.choice([1 << 20, 16]),   # app state is 40 bytes: 3 chunks
        durable_app=rng.random() < 0.5,
        fault_rate=rng.choice([0.04, 0.06, 0.1, 0.15]),
    )


def run_random(seed: int, steps: int = 200, *, nodes: int | None = None,
               fault_rate: float | None = None, **options: Any) -> RunResult:
    """One seed, start to finish: schedule, faults and clients, liveness, checks.

    ``nodes`` defaults to 3, 5 or 7 chosen by the seed; ``fault_rate`` and the core's flow
    control settings are chosen by the seed too (``seed_config``) unless given.
    """
    if nodes is None:
        nodes = (3, 5, 7)[seed % 3]
    config = seed_config(seed)
    chosen_rate = config.pop("fault_rate")
    for key, value in config.items():
        options.setdefault(key, value)
    schedule = make_schedule(seed, steps, chosen_rate if fault_rate is None else fault_rate)
    return run_schedule(seed, nodes, steps, schedule, **options)


def shrink(result: RunResult, steps: int, **options: Any) -> RunResult:
    config = seed_config(result.seed)
    config.pop("fault_rate")
    for key, value in config.items():
        options.setdefault(key, value)
    return _shrink(result, steps, **options)


def _shrink(result: RunResult, steps: int, **options: Any) -> RunResult:
    """Drop faults one at a time while the run still fails with the same property."""
    prop = (result.violation or "").split(":", 1)[0]
    best = result
    changed = True
    while changed:
        changed = False
        for i in range(len(best.schedule)):
            trial = best.schedule[:i] + best.schedule[i + 1:]
            again = run_schedule(best.seed, best.nodes, steps, trial, **options)
            if again.violation and again.violation.split(":", 1)[0] == prop:
                best = again
                changed = True
                break
    return best
