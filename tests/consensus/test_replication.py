"""Flow control (batching by bytes, the inflight bound, probe/replicate), determinism, and every
batch committed on every node (throughput: scripts/bench_consensus.py)."""

from __future__ import annotations

from consensus import AppendEntries, AppendEntriesResponse, HeartbeatResponse
from tests.consensus.netfixture import Net
from tests.consensus.test_raft_paper import One


def test_appends_are_batched_by_max_bytes_per_msg():
    one = One(max_bytes_per_msg=250)
    one.make_leader()
    one.step(AppendEntriesResponse(term=1, src="n2", dst="n1", success=True, match_index=1))
    for _ in range(10):
        one.node.propose(b"x" * 100)
    sent = [m for m in one.drain() if isinstance(m, AppendEntries) and m.dst == "n2"]
    assert [len(m.entries) for m in sent] == [2, 2, 2, 2, 2]
    assert [m.prev_index for m in sent] == [1, 3, 5, 7, 9]  # pipelined in REPLICATE state


def test_an_entry_larger_than_the_limit_is_still_sent():
    one = One(max_bytes_per_msg=10)
    one.make_leader()
    one.step(AppendEntriesResponse(term=1, src="n2", dst="n1", success=True, match_index=1))
    one.node.propose(b"y" * 100)
    sent = [m for m in one.drain() if isinstance(m, AppendEntries) and m.dst == "n2"]
    assert [len(m.entries) for m in sent] == [1]


def test_inflight_bound_pauses_a_replicating_follower():
    one = One(max_inflight=3)
    one.make_leader()
    one.step(AppendEntriesResponse(term=1, src="n2", dst="n1", success=True, match_index=1))
    sent = []
    for _ in range(6):
        one.node.propose(b"z")
        sent += [m for m in one.drain() if isinstance(m, AppendEntries) and m.dst == "n2" and m.entries]
    assert len(sent) == 3  # the fourth waits for an acknowledgement
    more = one.step(AppendEntriesResponse(term=1, src="n2", dst="n1", success=True, match_index=2))
    assert [m.entries[0].index for m in more if isinstance(m, AppendEntries) and m.dst == "n2"] == [5]


def test_probe_state_sends_one_append_per_heartbeat_response():
    """A follower in PROBE state got the leader's first append (the no-op) and has not answered: further
    proposals wait; a heartbeat response un-pauses exactly one more probe."""
    one = One()
    one.make_leader()
    one.node.propose(b"a")
    one.node.propose(b"b")
    assert [m for m in one.drain() if isinstance(m, AppendEntries) and m.dst == "n3"] == []
    resent = one.step(HeartbeatResponse(term=1, src="n3", dst="n1"))
    assert [(m.prev_index, len(m.entries)) for m in resent if isinstance(m, AppendEntries)] == [(0, 3)]


def run(seed: int) -> list:
    net = Net(seed=seed)
    net.tick(40)
    leader = net.leader()
    net.isolate(leader)
    net.tick(40)
    net.heal()
    net.tick(10)
    return [repr(m) for m in net.delivered]


def test_same_seed_same_messages():
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_three_node_cluster_commits_every_batch_on_every_node():
    """10,000 entries proposed in batches of 100, each batch stabilised before the next: every node
    applies all of them (plus the leader's empty entry). Throughput is scripts/bench_consensus.py's
    job (timing in a pass/fail test fails on CPU spent by other threads of the test process)."""
    net = Net()
    net.elect("n1")
    leader = net["n1"]
    entries = 10_000
    for _ in range(entries // 100):
        for _ in range(100):
            leader.propose(b"x" * 64)
        net.stabilise()
    assert all(net[n].status().applied == entries + 1 for n in ("n1", "n2", "n3"))


def test_a_caught_up_follower_in_probe_returns_to_replicate_at_the_next_heartbeat():
    """After report_unreachable the leader probes; a heartbeat round finds the follower caught up (etcd:
    an empty append on the heartbeat response, and a probe answered at the known match means REPLICATE)."""
    net = Net()
    net.elect("n1")
    net["n1"].propose(b"a")
    net.stabilise()
    net["n1"].report_unreachable("n2")
    assert net["n1"].status().progress["n2"][2] == "probe"
    net.tick(1)
    assert net["n1"].status().progress["n2"] == (2, 3, "replicate")
