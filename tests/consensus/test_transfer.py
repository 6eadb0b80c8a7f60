"""Leadership transfer (Raft thesis §3.10): stop proposals, catch the target up, TimeoutNow, abort on timeout."""

from __future__ import annotations

import pytest

from consensus import Role, TimeoutNow
from consensus.errors import NotLeader, ProposalDropped
from tests.consensus.netfixture import Net


def test_transfer_to_an_up_to_date_follower():
    net = Net()
    net.elect("n1")
    net["n1"].transfer_leadership("n2")
    net.stabilise()
    assert net.leader() == "n2" and net["n2"].status().term == 2
    assert any(isinstance(m, TimeoutNow) and m.dst == "n2" for m in net.delivered)


def test_transfer_catches_a_lagging_target_up_first():
    net = Net()
    net.elect("n1")
    net.isolate("n3")
    for i in range(5):
        net["n1"].propose(b"%d" % i)
    net.stabilise()
    net.heal()
    net["n1"].transfer_leadership("n3")
    net.stabilise()
    assert net.leader() == "n3"
    assert net.data("n3")[:5] == [b"%d" % i for i in range(5)]


def test_proposals_are_dropped_during_a_transfer():
    net = Net()
    net.elect("n1")
    net.isolate("n3")
    net["n1"].propose(b"x")
    net.stabilise()
    net["n1"].transfer_leadership("n3")  # n3 cannot catch up: transfer stays pending
    with pytest.raises(ProposalDropped):
        net["n1"].propose(b"y")


def test_transfer_is_aborted_after_an_election_timeout():
    net = Net()
    net.elect("n1")
    net.isolate("n3")
    net["n1"].propose(b"x")
    net.stabilise()
    net["n1"].transfer_leadership("n3")
    net.tick(10, nodes=["n1", "n2"])
    assert net["n1"].status().role is Role.LEADER
    net["n1"].propose(b"accepted again")
    net.stabilise()
    assert net.data("n2")[-1] == b"accepted again"


def test_transfer_preconditions():
    net = Net(voters=("n1", "n2", "n3"), learners=("n4",))
    net.elect("n1")
    with pytest.raises(NotLeader):
        net["n2"].transfer_leadership("n3")
    with pytest.raises(ProposalDropped):
        net["n1"].transfer_leadership("n4")  # a learner cannot lead
    net["n1"].transfer_leadership("n1")  # already leader: nothing to do
    net["n1"].propose(b"fine")


def test_transfer_wins_despite_the_leader_lease():
    """TimeoutNow's election carries leadership_transfer, so followers in lease still vote (thesis §3.10)."""
    net = Net(check_quorum=True, pre_vote=True)
    net.elect("n1")
    net.tick(1)
    net["n1"].transfer_leadership("n3")
    net.stabilise()
    assert net.leader() == "n3"
