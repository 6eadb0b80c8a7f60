"""Membership changes one server at a time, learners (Raft thesis §4.1, §4.2.1, §4.2.2)."""

from __future__ import annotations

import random

import pytest

from consensus import (ConfChange, ConfChangeType, ConfState, Config, Entry, EntryType, RawNode, RequestVote,
                       RequestVoteResponse, Role)
from consensus.errors import ConfChangeInProgress, NotLeader, ProposalDropped
from consensus.membership import apply_conf_change
from tests.consensus.netfixture import Net

ADD_VOTER, ADD_LEARNER, REMOVE = ConfChangeType.ADD_VOTER, ConfChangeType.ADD_LEARNER, ConfChangeType.REMOVE_NODE


def change(net: Net, leader: str, kind: ConfChangeType, node_id: str) -> None:
    net[leader].propose_conf_change(ConfChange(type=kind, node_id=node_id))
    net.stabilise()


def test_learner_replicates_but_never_counts_for_commit():
    net = Net(voters=("n1", "n2", "n3"), learners=("n4",))
    net.elect("n1")
    net["n1"].propose(b"a")
    net.stabilise()
    assert net.data("n4") == [b"a"]
    net.isolate("n2")
    net.isolate("n3")
    net["n1"].propose(b"b")
    net.stabilise()
    assert net.members["n4"].storage.last_index() == 3
    assert net["n1"].status().commit == 2  # leader + learner is not a majority of 3 voters


def test_learner_never_campaigns_or_votes():
    net = Net(voters=("n1", "n2", "n3"), learners=("n4",))
    net.elect("n1")
    net.isolate("n4")
    net.tick(100, nodes=["n4"])
    assert net["n4"].status().role is Role.FOLLOWER and net["n4"].status().term == 1
    with pytest.raises(ProposalDropped):
        net["n4"].campaign()


def test_add_learner_then_promote():
    net = Net()
    net.elect("n1")
    for i in range(5):
        net["n1"].propose(b"x%d" % i)
    net.stabilise()
    net.add("n4", net.conf)
    change(net, "n1", ADD_LEARNER, "n4")
    assert net["n1"].status().conf_state == ConfState(voters=("n1", "n2", "n3"), learners=("n4",))
    assert net.data("n4") == [b"x%d" % i for i in range(5)]
    change(net, "n1", ADD_VOTER, "n4")
    assert net["n4"].status().conf_state == ConfState(voters=("n1", "n2", "n3", "n4"))
    assert net["n1"].status().progress["n4"][0] == net["n1"].status().commit


def test_one_unapplied_conf_change_at_a_time():
    net = Net()
    net.elect("n1")
    net["n1"].propose_conf_change(ConfChange(type=ADD_LEARNER, node_id="n4"))
    with pytest.raises(ConfChangeInProgress):
        net["n1"].propose_conf_change(ConfChange(type=ADD_LEARNER, node_id="n5"))
    net.stabilise()
    net["n1"].propose_conf_change(ConfChange(type=ADD_LEARNER, node_id="n5"))  # applied: allowed now


def test_new_leader_waits_for_conf_changes_in_its_tail():
    """A new leader may hold an uncommitted conf change from an earlier term; it refuses another until
    everything up to its term start is applied (etcd sets pendingConfIndex to the last index)."""
    net = Net(logs={"n1": [1, 1], "n2": [1, 1], "n3": [1, 1]}, terms={"n1": 1, "n2": 1, "n3": 1})
    cc = ConfChange(type=ADD_LEARNER, node_id="n4")
    for member in net.members.values():
        member.storage.append([Entry(term=1, index=3, type=EntryType.CONF_CHANGE, data=cc.to_bytes())])
    net = _rebuild(net)
    net["n1"].campaign()
    net.stabilise()  # elected, and the tail commits and applies within this stabilise
    assert net["n1"].status().conf_state.learners == ("n4",)
    net["n1"].propose_conf_change(ConfChange(type=ADD_LEARNER, node_id="n5"))
    # Before the tail applied, the same proposal is refused:
    fresh = Net(logs={"n1": [1, 1], "n2": [1, 1], "n3": [1, 1]}, terms={"n1": 1, "n2": 1, "n3": 1})
    for member in fresh.members.values():
        member.storage.append([Entry(term=1, index=3, type=EntryType.CONF_CHANGE, data=cc.to_bytes())])
    fresh = _rebuild(fresh)
    fresh["n1"].campaign()
    for _ in range(3):  # deliver the votes only: n1 leads but its tail is not applied
        fresh.process("n1")
        while fresh.queue:
            fresh.deliver_one()
            for node_id in ("n2", "n3"):
                fresh.process(node_id)
    assert fresh["n1"].status().role is Role.LEADER and fresh["n1"].status().applied < 3
    with pytest.raises(ConfChangeInProgress):
        fresh["n1"].propose_conf_change(ConfChange(type=ADD_LEARNER, node_id="n5"))


def _rebuild(net: Net) -> Net:
    """Recreate every RawNode over its (edited) storage, as after a restart."""
    for node_id, member in net.members.items():
        member.node = RawNode(Config(node_id=node_id, rng=random.Random(node_id)), member.storage)
    return net


@pytest.mark.parametrize("kind, node_id", [(ADD_VOTER, "n2"), (ADD_LEARNER, "n2"), (REMOVE, "n9")])
def test_noop_or_unsupported_changes_are_refused_at_proposal(kind, node_id):
    net = Net()
    net.elect("n1")
    with pytest.raises(ProposalDropped):
        net["n1"].propose_conf_change(ConfChange(type=kind, node_id=node_id))


def test_removing_the_last_voter_is_refused_and_a_noop_if_committed():
    conf = ConfState(voters=("n1",))
    with pytest.raises(ProposalDropped):
        Net(voters=("n1",)).members["n1"].node.raft.propose_conf_change(ConfChange(type=REMOVE, node_id="n1"))
    assert apply_conf_change(conf, ConfChange(type=REMOVE, node_id="n1")) == conf


def test_follower_cannot_propose_conf_change():
    net = Net()
    net.elect("n1")
    with pytest.raises(NotLeader):
        net["n2"].propose_conf_change(ConfChange(type=ADD_LEARNER, node_id="n4"))


def test_removed_follower_no_longer_counts_and_never_campaigns():
    net = Net()
    net.elect("n1")
    change(net, "n1", REMOVE, "n3")
    assert net["n1"].status().conf_state == ConfState(voters=("n1", "n2"))
    net.isolate("n3")
    net.tick(100, nodes=["n3"])
    assert net["n3"].status().role is Role.FOLLOWER  # not a voter: never campaigns
    net["n1"].propose(b"needs n2 only")
    net.stabilise()
    assert net.data("n2")[-1] == b"needs n2 only"
    assert "n3" not in net["n1"].status().progress


def test_removed_leader_steps_down_and_hands_over():
    net = Net()
    net.elect("n1")
    net["n1"].propose(b"before")
    net.stabilise()
    change(net, "n1", REMOVE, "n1")
    assert net["n1"].status().role is Role.FOLLOWER
    net.tick(2, nodes=["n2", "n3"])
    leader = net.leader()
    assert leader in ("n2", "n3")  # TimeoutNow made the most caught-up voter campaign at once
    net[leader].propose(b"after")
    net.stabilise()
    other = "n3" if leader == "n2" else "n2"
    assert net.data(other)[-1] == b"after"
    net.tick(100, nodes=["n1"])
    assert net["n1"].status().role is Role.FOLLOWER


def test_conf_change_bytes_in_the_log_round_trip():
    net = Net()
    net.elect("n1")
    change(net, "n1", ADD_LEARNER, "n4")
    assert net.members["n2"].conf_states[-1] == ConfState(voters=("n1", "n2", "n3"), learners=("n4",))


def test_a_new_voter_gets_an_election_timeout_before_check_quorum_counts_it():
    """etcd initProgress: a member just added counts as recently active, so a leader whose quorum now
    needs it is not deposed by the very next check-quorum round; it is deposed by the one after if the
    new member never answers (thesis §6.2)."""
    net = Net(voters=("n1",))
    net.elect("n1")
    change(net, "n1", ADD_VOTER, "n2")       # n2 is not running: its messages go nowhere
    assert net["n1"].status().conf_state == ConfState(voters=("n1", "n2"))
    net.tick(10)
    assert net["n1"].status().role is Role.LEADER
    net.tick(10)
    assert net["n1"].status().role is Role.FOLLOWER


def test_restart_past_the_snapshot_replays_applied_conf_changes():
    """Storage holds the configuration as of its snapshot; a node restarted with ``applied`` past a
    conf change gets that change from the log, or it would count quorums over the wrong voters."""
    net = Net()
    net.elect("n1")
    change(net, "n1", ADD_LEARNER, "n4")
    change(net, "n1", ADD_VOTER, "n4")
    change(net, "n1", REMOVE, "n3")
    member = net.members["n2"]
    assert member.storage.snapshot().metadata.index == 0
    applied = member.storage.hard_state.commit
    restarted = RawNode(Config(node_id="n2", rng=random.Random(2), applied=applied), member.storage)
    assert restarted.status().conf_state == ConfState(voters=("n1", "n2", "n4"))
    replayed_from_zero = RawNode(Config(node_id="n2", rng=random.Random(2), applied=0), member.storage)
    assert replayed_from_zero.status().conf_state == ConfState(voters=("n1", "n2", "n3"))  # the app re-applies


def test_a_learner_still_votes_when_asked():
    """A learner never campaigns, but it grants votes: the candidate may already count it as a voter
    (promoted in a configuration the learner has not applied yet), and refusing could leave that
    configuration without a majority (etcd testdata/campaign_learner_must_vote.txt)."""
    net = Net(voters=("n1", "n2"), learners=("n3",), check_quorum=False)
    net["n3"].step(RequestVote(term=5, src="n2", dst="n3", last_log_index=0, last_log_term=0))
    rd = net["n3"].ready()
    assert [(type(m), m.granted) for m in rd.messages] == [(RequestVoteResponse, True)]
    assert rd.hard_state.vote == "n2" and rd.hard_state.term == 5


def test_restart_replays_only_the_conf_changes_after_the_snapshot():
    """The snapshot's ConfState already holds the changes before it; only later ones are replayed."""
    net = Net()
    net.elect("n1")
    change(net, "n1", ADD_LEARNER, "n4")
    member = net.members["n2"]
    at = member.storage.hard_state.commit
    member.storage.create_snapshot(at, net["n2"].status().conf_state, b"state")
    member.storage.compact(at)
    change(net, "n1", ADD_VOTER, "n4")
    change(net, "n1", ADD_LEARNER, "n5")
    applied = member.storage.hard_state.commit
    restarted = RawNode(Config(node_id="n2", rng=random.Random(2), applied=applied), member.storage)
    assert restarted.status().conf_state == ConfState(voters=("n1", "n2", "n3", "n4"), learners=("n5",))
