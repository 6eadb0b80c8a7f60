"""ReadIndex (Raft thesis §6.4): linearizable reads confirmed by a heartbeat quorum, no log write."""

from __future__ import annotations

import pytest

from consensus import AppendEntriesResponse, Heartbeat, HeartbeatResponse, ReadIndexRequest, ReadState, Role
from consensus.errors import NotLeader, ProposalDropped
from tests.consensus.netfixture import Net
from tests.consensus.test_raft_paper import One


def test_read_is_released_at_the_commit_index_after_a_heartbeat_quorum():
    net = Net()
    net.elect("n1")
    net["n1"].propose(b"w")
    net.stabilise()
    net["n1"].read_index(b"r1")
    net.stabilise()
    assert net.members["n1"].read_states == [ReadState(index=2, context=b"r1")]
    assert net["n1"].status().applied >= 2


def test_read_needs_a_quorum_of_acknowledgements():
    one = One()
    one.make_leader()
    for peer in ("n2", "n3"):
        one.step(AppendEntriesResponse(term=1, src=peer, dst="n1", success=True, match_index=1))
    one.node.read_index(b"ctx")
    sent = one.drain()
    beats = [m for m in sent if isinstance(m, Heartbeat)]
    assert sorted(m.dst for m in beats) == ["n2", "n3"] and all(m.context == b"ctx" for m in beats)
    assert one.node.ready().read_states == []
    one.node.step(HeartbeatResponse(term=1, src="n2", dst="n1", context=b"ctx"))
    assert one.node.ready().read_states == [ReadState(index=1, context=b"ctx")]


def test_read_waits_for_the_first_commit_of_the_term():
    """§6.4 step 1: until the no-op of its term commits, a new leader's commit index may be stale."""
    one = One()
    one.make_leader()
    one.node.read_index(b"early")
    assert not [m for m in one.drain() if isinstance(m, Heartbeat)]
    sent = one.step(AppendEntriesResponse(term=1, src="n2", dst="n1", success=True, match_index=1))
    beats = [m for m in sent if isinstance(m, Heartbeat) and m.context == b"early"]
    assert beats  # released into a heartbeat round once the term's first entry committed
    one.node.step(HeartbeatResponse(term=1, src="n2", dst="n1", context=b"early"))
    assert one.node.ready().read_states == [ReadState(index=1, context=b"early")]


def test_earlier_reads_are_released_with_a_later_confirmation():
    one = One()
    one.make_leader()
    one.step(AppendEntriesResponse(term=1, src="n2", dst="n1", success=True, match_index=1))
    one.node.read_index(b"a")
    one.node.read_index(b"b")
    one.drain()
    one.node.step(HeartbeatResponse(term=1, src="n3", dst="n1", context=b"b"))
    assert [rs.context for rs in one.node.ready().read_states] == [b"a", b"b"]


def test_isolated_stale_leader_never_answers_a_read():
    net = Net(check_quorum=False)
    net.elect("n1")
    net.isolate("n1")
    net["n1"].read_index(b"stale?")
    net.tick(30)
    assert net.members["n1"].read_states == []


def test_learner_acknowledgements_do_not_count():
    net = Net(voters=("n1", "n2", "n3"), learners=("n4",))
    net.elect("n1")
    net.isolate("n2")
    net.isolate("n3")
    net["n1"].read_index(b"r")
    net.stabilise()
    assert net.members["n1"].read_states == []


def test_single_voter_answers_at_once():
    net = Net(voters=("n1",))
    net.elect("n1")
    net["n1"].read_index(b"r")
    net.stabilise()
    assert net.members["n1"].read_states == [ReadState(index=1, context=b"r")]


def test_follower_and_learner_reads_are_forwarded_to_the_leader():
    """A follower (or a learner read replica) sends its read to the leader and gets the index back."""
    net = Net(voters=("n1", "n2", "n3"), learners=("n4",))
    net.elect("n1")
    net["n1"].propose(b"w")
    net.stabilise()
    net["n2"].read_index(b"n2/1")
    net["n4"].read_index(b"n4/1")
    net.stabilise()
    assert net.members["n2"].read_states == [ReadState(index=2, context=b"n2/1")]
    assert net.members["n4"].read_states == [ReadState(index=2, context=b"n4/1")]
    assert net.members["n1"].read_states == []


def test_read_without_a_known_leader_raises_not_leader():
    net = Net()
    with pytest.raises(NotLeader) as caught:
        net["n2"].read_index(b"r")
    assert caught.value.leader_hint is None


def test_forwarded_read_to_an_isolated_leader_is_never_answered():
    net = Net(check_quorum=False)
    net.elect("n1")
    net.cut("n1", "n3")
    net["n2"].read_index(b"r")
    net.process("n2")
    assert net.deliver_one() and isinstance(net.delivered[-1], ReadIndexRequest)
    net.cut("n1", "n2")  # the leader has the request but can no longer confirm with a quorum
    net.tick(5, nodes=["n1"])
    assert net.members["n2"].read_states == []
    net.heal()
    net.tick(1, nodes=["n1"])  # the next heartbeat round carries the read's context
    assert net.members["n2"].read_states == [ReadState(index=1, context=b"r")]


def test_duplicate_and_empty_contexts_are_refused():
    net = Net()
    net.elect("n1")
    net["n1"].read_index(b"dup")
    with pytest.raises(ProposalDropped):
        net["n1"].read_index(b"dup")
    with pytest.raises(ProposalDropped):
        net["n1"].read_index(b"")


def test_pending_reads_are_dropped_when_leadership_is_lost():
    net = Net()
    net.elect("n1")
    net.isolate("n1")
    net["n1"].read_index(b"r")
    net.tick(20, nodes=["n1"])
    assert net["n1"].status().role is not Role.LEADER
    net.heal()
    net.tick(30)
    assert net.members["n1"].read_states == []
