"""Pre-vote (thesis §9.6) and check-quorum with the leader lease (thesis §6.2, §4.2.3).

Scenarios after etcd-io/raft ``testdata/prevote_checkquorum.txt``.
"""

from __future__ import annotations

import random

from consensus import ConfState, Config, Heartbeat, RawNode, RequestVote, Role
from tests.consensus.netfixture import Net, drain, make_storage


def test_node_back_from_partition_does_not_depose_a_healthy_leader():
    """An isolated node's pre-votes fail, so its term does not grow; back in the cluster it follows the
    leader it finds instead of forcing an election."""
    net = Net()
    net.elect("n1")
    net.isolate("n3")
    net.tick(100)
    assert net["n3"].status().term == 1 and net["n3"].status().role is Role.PRE_CANDIDATE
    net.heal()
    net.tick(5)
    assert net.leader() == "n1"
    assert [net[n].status().term for n in ("n1", "n2", "n3")] == [1, 1, 1]
    net["n1"].propose(b"still leading")
    net.stabilise()
    assert net.data("n3") == [b"still leading"]


def test_without_prevote_the_returning_node_disrupts():
    """The control for the test above: without pre-vote and check-quorum the isolated node's term runs up
    and, on return, deposes the leader."""
    net = Net(pre_vote=False, check_quorum=False)
    net.elect("n1")
    net.isolate("n3")
    net.tick(100)
    assert net["n3"].status().term > 2
    net.heal()
    net.tick(20)  # n3's next election timeout
    assert net["n1"].status().term > 1  # the old leader was deposed by the returning node's term


def test_check_quorum_leader_steps_down_when_isolated():
    """A leader that does not hear from a majority within an election timeout steps down, so clients are
    not held by a leader that cannot commit (thesis §6.2). As in etcd, followers heard in the round that
    just ended count, so it takes between one and two election timeouts."""
    net = Net()
    net.elect("n1")
    net.isolate("n1")
    net.tick(19, nodes=["n1"])
    assert net["n1"].status().role is Role.LEADER
    net.tick(1, nodes=["n1"])
    assert net["n1"].status().role is Role.FOLLOWER


def test_check_quorum_leader_stays_while_a_majority_answers():
    net = Net()
    net.elect("n1")
    net.isolate("n3")
    net.tick(35, nodes=["n1", "n2"])
    assert net["n1"].status().role is Role.LEADER


def test_majority_side_elects_a_new_leader_and_old_leader_follows_on_return():
    net = Net()
    net.elect("n1")
    net.isolate("n1")
    net.tick(40)
    new_leader = [n for n in ("n2", "n3") if net[n].status().role is Role.LEADER]
    assert len(new_leader) == 1
    assert net["n1"].status().role is not Role.LEADER  # stepped down by check-quorum
    net.heal()
    net.tick(3)
    assert net.leader() == new_leader[0]
    assert net["n1"].status().leader == new_leader[0]


def _follower_that_heard_from_leader(check_quorum: bool) -> tuple[RawNode, object]:
    storage = make_storage(ConfState(voters=("n1", "n2", "n3")), [1], term=1)
    node = RawNode(Config(node_id="n1", rng=random.Random(1), check_quorum=check_quorum, pre_vote=True), storage)
    node.step(Heartbeat(term=1, src="n2", dst="n1", commit=0))
    drain(node, storage)
    return node, storage


def test_leader_lease_ignores_a_vote_request():
    """With check-quorum, a follower that heard from a leader within the election timeout ignores
    RequestVote (pre or real) of a higher term (thesis §4.2.3)."""
    node, storage = _follower_that_heard_from_leader(check_quorum=True)
    for pre_vote in (True, False):
        node.step(RequestVote(term=5, src="n3", dst="n1", last_log_index=9, last_log_term=4, pre_vote=pre_vote))
        assert drain(node, storage) == []
        assert node.status().term == 1 and node.status().leader == "n2"


def test_leader_transfer_overrides_the_lease():
    node, storage = _follower_that_heard_from_leader(check_quorum=True)
    node.step(RequestVote(term=2, src="n3", dst="n1", last_log_index=1, last_log_term=1, leadership_transfer=True))
    (reply,) = drain(node, storage)
    assert reply.granted and node.status().term == 2


def test_prevote_grant_does_not_change_the_voters_term_or_vote():
    """A pre-vote is granted for term + 1 without the voter adopting that term or recording a vote."""
    storage = make_storage(ConfState(voters=("n1", "n2", "n3")), [1], term=1)
    node = RawNode(Config(node_id="n1", rng=random.Random(1)), storage)
    node.step(RequestVote(term=2, src="n3", dst="n1", last_log_index=1, last_log_term=1, pre_vote=True))
    (reply,) = drain(node, storage)
    assert reply.granted and reply.pre_vote and reply.term == 2
    assert (node.status().term, storage.hard_state.vote) == (1, None)


def test_stale_leader_learns_the_new_term_and_steps_down():
    """With check-quorum a node answers a stale leader's append with its higher term, so a deposed leader
    that missed the election steps down at once (etcd)."""
    net = Net(check_quorum=True)
    net.elect("n1")
    net.isolate("n1")
    net.tick(25, nodes=["n2", "n3"])  # their lease on n1 expires; n1 is not ticked, so it still leads
    (new,) = [n for n in ("n2", "n3") if net[n].status().role is Role.LEADER]
    assert net["n1"].status().role is Role.LEADER
    net.heal()
    net["n1"].propose(b"from the old leader")
    net.stabilise()
    assert net["n1"].status().role is Role.FOLLOWER and net["n1"].status().term == net[new].status().term
    assert net["n1"].status().leader == new or net["n1"].status().leader is None
    assert b"from the old leader" not in net.data(new)
