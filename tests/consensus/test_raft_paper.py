"""Tests mirroring the Raft paper (Ongaro & Ousterhout, extended version) section by section.

Modelled on etcd-io/raft ``raft_paper_test.go``. Single-node tests drive one
RawNode by hand (pre-vote and check-quorum off, as in the paper); cluster
tests use ``netfixture.Net``. Each docstring paraphrases the paper and ends
with the section.
"""

from __future__ import annotations

import random

import pytest

from consensus import (AppendEntries, AppendEntriesResponse, ConfChange, ConfChangeType, ConfState, Config,
                       Entry, Heartbeat, RawNode, RequestVote, RequestVoteResponse, Role)
from consensus.errors import NotLeader, ProposalDropped
from tests.consensus.netfixture import Net, drain, make_storage

VOTERS = ("n1", "n2", "n3")


class One:
    """One RawNode, its storage, and the messages it sent."""

    def __init__(self, node_id="n1", voters=VOTERS, log=(), term=None, vote=None, commit=0, seed=1, **config):
        self.storage = make_storage(ConfState(voters=voters), log, term, vote, commit)
        options = dict(pre_vote=False, check_quorum=False, election_tick=10, applied=0)
        options.update(config)
        self.node = RawNode(Config(node_id=node_id, rng=random.Random(seed), **options), self.storage)
        self.id = node_id
        self.voters = voters

    def drain(self) -> list:
        return drain(self.node, self.storage)

    def step(self, msg) -> list:
        self.node.step(msg)
        return self.drain()

    def tick(self, times=1) -> list:
        for _ in range(times):
            self.node.tick()
        return self.drain()

    @property
    def status(self):
        return self.node.status()

    def make_leader(self) -> None:
        self.node.campaign()
        self.drain()
        term = self.status.term
        for peer in self.voters:
            if peer != self.id:
                self.step(RequestVoteResponse(term=term, src=peer, dst=self.id, granted=True))
        assert self.status.role is Role.LEADER

    def log(self):
        return [(e.index, e.term) for e in self.storage.entries(self.storage.first_index(),
                                                                self.storage.last_index() + 1)]


# --------------------------------------------------------------- §5.1


@pytest.mark.parametrize("role", ["follower", "candidate", "leader"])
def test_update_term_from_message(role):
    """If one server's current term is smaller than another's, it updates its term to the larger value;
    a candidate or leader that discovers its term is out of date reverts to follower. Raft §5.1"""
    one = One()
    if role == "candidate":
        one.node.campaign()
        one.drain()
    elif role == "leader":
        one.make_leader()
    one.step(AppendEntries(term=9, src="n2", dst="n1", prev_index=0, prev_term=0, entries=(), commit=0))
    assert (one.status.term, one.status.role, one.status.leader) == (9, Role.FOLLOWER, "n2")
    assert one.storage.hard_state.term == 9


def test_reject_stale_term_message():
    """If a server receives a request with a stale term number, it rejects the request. Raft §5.1"""
    one = One(log=[1, 2], term=3)
    sent = one.step(AppendEntries(term=2, src="n2", dst="n1", prev_index=2, prev_term=2,
                                  entries=(Entry(term=2, index=3),), commit=3))
    assert one.log() == [(1, 1), (2, 2)] and one.status.commit == 0
    # Without pre-vote/check-quorum there is no reply to a stale leader: the stale term is simply ignored.
    assert sent == []


def test_start_as_follower():
    """When servers start up, they begin as followers. Raft §5.1"""
    assert One().status.role is Role.FOLLOWER


# --------------------------------------------------------------- §5.2


def test_leader_bcast_beat():
    """Leaders send periodic heartbeats (AppendEntries carrying no entries) to all followers to maintain
    their authority. Raft §5.2"""
    one = One()
    one.make_leader()
    sent = one.tick(1)
    assert sorted((m.dst, type(m)) for m in sent) == [("n2", Heartbeat), ("n3", Heartbeat)]


@pytest.mark.parametrize("start_role", ["follower", "candidate"])
def test_nonleader_start_election(start_role):
    """A follower that hears nothing over the election timeout starts an election: it increments its term,
    votes for itself and issues RequestVote to every other server; a candidate whose election times out
    starts a new one the same way. Raft §5.2"""
    one = One()
    if start_role == "candidate":
        one.node.campaign()
        one.drain()
    term = one.status.term
    sent = one.tick(20)
    assert one.status.role is Role.CANDIDATE and one.status.term == term + 1
    assert one.storage.hard_state.vote == "n1"
    votes = [m for m in sent if isinstance(m, RequestVote)]
    assert sorted(m.dst for m in votes) == ["n2", "n3"] and all(m.term == term + 1 for m in votes)


@pytest.mark.parametrize("size, granted, rejected, role", [
    (1, (), (), Role.LEADER),
    (3, ("n2", "n3"), (), Role.LEADER),
    (3, ("n2",), (), Role.LEADER),
    (5, ("n2", "n3", "n4", "n5"), (), Role.LEADER),
    (5, ("n2", "n3"), (), Role.LEADER),
    (5, ("n2",), (), Role.CANDIDATE),              # no majority yet: wait
    (3, (), ("n2", "n3"), Role.FOLLOWER),          # a majority refused: lost
    (5, ("n2",), ("n3", "n4", "n5"), Role.FOLLOWER),
])
def test_leader_election_in_one_round(size, granted, rejected, role):
    """A candidate wins an election if it receives votes from a majority of the servers in the full
    cluster for the same term; it stays a candidate while the outcome is open, and (as etcd does) returns
    to follower once a majority refused. Raft §5.2"""
    voters = tuple(f"n{i}" for i in range(1, size + 1))
    one = One(voters=voters)
    one.node.campaign()
    one.drain()
    for peer in granted:
        one.step(RequestVoteResponse(term=1, src=peer, dst="n1", granted=True))
    for peer in rejected:
        one.step(RequestVoteResponse(term=1, src=peer, dst="n1", granted=False))
    assert one.status.role is role and one.status.term == 1


@pytest.mark.parametrize("vote, candidate, granted", [
    (None, "n2", True), (None, "n3", True), ("n2", "n2", True), ("n3", "n3", True),
    ("n2", "n3", False), ("n3", "n2", False),
])
def test_follower_vote(vote, candidate, granted):
    """Each server votes for at most one candidate in a given term, first-come-first-served. Raft §5.2"""
    one = One(term=1, vote=vote)
    sent = one.step(RequestVote(term=1, src=candidate, dst="n1", last_log_index=0, last_log_term=0))
    assert [(m.dst, m.granted) for m in sent] == [(candidate, granted)]


@pytest.mark.parametrize("term", [1, 2])
def test_candidate_fallback(term):
    """A candidate that receives AppendEntries from a leader whose term is at least its own recognises
    the leader and returns to follower. Raft §5.2"""
    one = One()
    one.node.campaign()
    one.drain()
    one.step(AppendEntries(term=term, src="n2", dst="n1", prev_index=0, prev_term=0, entries=(), commit=0))
    assert (one.status.role, one.status.term, one.status.leader) == (Role.FOLLOWER, term, "n2")


def test_election_timeout_randomized():
    """Election timeouts are chosen randomly from a fixed interval, [election_tick, 2 * election_tick)
    here, so that split votes are rare. Raft §5.2"""
    seen = set()
    for seed in range(60):
        one = One(seed=seed)
        ticks = 0
        while one.status.role is Role.FOLLOWER:
            one.tick()
            ticks += 1
        seen.add(ticks)
    assert min(seen) >= 10 and max(seen) < 20 and len(seen) >= 8


def test_followers_election_timeouts_nonconflict():
    """With randomised timeouts, in most cases only one server times out first. Raft §5.2"""
    conflicts = 0
    for seed in range(100):
        timeouts = []
        for node_id in VOTERS:
            one = One(node_id=node_id, seed=f"{seed}/{node_id}")
            timeouts.append(one.node.raft.randomized_election_timeout)
        conflicts += len(set(timeouts)) < 3 and min(timeouts) == sorted(timeouts)[1]
    assert conflicts < 40


def test_split_vote_is_resolved_by_a_later_election():
    """When votes split and nobody wins, candidates time out and start new elections with new random
    timeouts; eventually one wins. Raft §5.2"""
    net = Net(voters=("n1", "n2", "n3", "n4"), pre_vote=False, check_quorum=False)
    net.partition(("n1", "n2"), ("n3", "n4"))
    net["n1"].campaign()
    net["n3"].campaign()
    net.stabilise()
    assert net.leader() is None  # 2 of 4 each: split
    net.heal()
    for _ in range(100):
        net.tick()
        if net.leader():
            break
    assert net.leader() is not None
    assert net[net.leader()].status().term >= 2


# --------------------------------------------------------------- §5.3


def test_leader_start_replication():
    """The leader appends the command to its log as a new entry, then issues AppendEntries in parallel to
    each of the other servers to replicate the entry. Raft §5.3"""
    one = One()
    one.make_leader()
    for peer in ("n2", "n3"):  # acknowledge the no-op
        one.step(AppendEntriesResponse(term=1, src=peer, dst="n1", success=True, match_index=1))
    index = one.node.propose(b"some data")
    sent = one.drain()
    assert index == 2
    assert sorted(m.dst for m in sent) == ["n2", "n3"]
    for m in sent:
        assert (m.prev_index, m.prev_term, m.commit) == (1, 1, 1)
        assert m.entries == (Entry(term=1, index=2, data=b"some data"),)


def test_leader_commit_entry_and_notifies_followers():
    """When the entry has been safely replicated the leader applies it and returns; it keeps the highest
    committed index and sends it in future AppendEntries. Raft §5.3"""
    net = Net(pre_vote=False, check_quorum=False)
    net.elect("n1")
    net["n1"].propose(b"data")
    net.stabilise()
    for node_id in VOTERS:
        assert net.data(node_id) == [b"data"] and net[node_id].status().commit == 2


@pytest.mark.parametrize("size, acks, committed", [(3, 1, True), (3, 0, False), (5, 2, True), (5, 1, False)])
def test_leader_acknowledge_commit(size, acks, committed):
    """A log entry is committed once the leader that created it has replicated it on a majority of the
    servers. Raft §5.3"""
    voters = tuple(f"n{i}" for i in range(1, size + 1))
    one = One(voters=voters)
    one.make_leader()
    index = one.node.propose(b"x")
    one.drain()
    for peer in voters[1:1 + acks]:
        one.step(AppendEntriesResponse(term=1, src=peer, dst="n1", success=True, match_index=index))
    assert (one.status.commit == index) is committed


def test_follower_commit_entry():
    """Once a follower learns that a log entry is committed, it applies the entry to its state machine in
    log order. Raft §5.3"""
    one = One(term=1)
    entries = (Entry(term=1, index=1, data=b"a"), Entry(term=1, index=2, data=b"b"))
    one.node.step(AppendEntries(term=1, src="n2", dst="n1", prev_index=0, prev_term=0, entries=entries, commit=1))
    rd = one.node.ready()
    assert rd.committed_entries == [entries[0]]
    one.storage.append(rd.entries)
    one.node.advance(rd)
    one.node.step(Heartbeat(term=1, src="n2", dst="n1", commit=2))
    assert one.node.ready().committed_entries == [entries[1]]


@pytest.mark.parametrize("prev_index, prev_term, success, hint", [
    (0, 0, True, None),
    (1, 1, True, None),
    (2, 2, True, None),
    (1, 2, False, (1, 1)),   # the term at 1 differs: back off to 1 (term 1 <= 2)
    (3, 3, False, (2, 2)),   # past our log: hint at our last index
    (2, 3, False, (2, 2)),
])
def test_follower_rejects_mismatched_append(prev_index, prev_term, success, hint):
    """If a follower does not find an entry in its log with the same index and term as prevLogIndex and
    prevLogTerm, it refuses the new entries (the consistency check), and hints where its log can match so
    the leader backs off a term at a time. Raft §5.3"""
    one = One(log=[1, 2], term=3)
    sent = one.step(AppendEntries(term=3, src="n2", dst="n1", prev_index=prev_index, prev_term=prev_term,
                                  entries=(), commit=0))
    (reply,) = sent
    assert reply.success is success
    if not success:
        assert (reply.rejected_index, reply.conflict_index, reply.conflict_term) == (prev_index, *hint)


@pytest.mark.parametrize("prev_index, prev_term, entries, expected", [
    (2, 2, [(3, 3)], [(1, 1), (2, 2), (3, 3)]),
    (1, 1, [(2, 3), (3, 4)], [(1, 1), (2, 3), (3, 4)]),   # conflict at 2: truncate and replace
    (0, 0, [(1, 1)], [(1, 1), (2, 2)]),                   # already there: nothing is lost
    (0, 0, [(1, 3)], [(1, 3)]),
])
def test_follower_append_entries(prev_index, prev_term, entries, expected):
    """If an existing entry conflicts with a new one (same index, different terms), the follower deletes
    it and all that follow; it appends any new entries not already in the log. Raft §5.3"""
    one = One(log=[1, 2], term=4)
    new = tuple(Entry(term=t, index=i) for i, t in entries)
    one.step(AppendEntries(term=4, src="n2", dst="n1", prev_index=prev_index, prev_term=prev_term, entries=new,
                           commit=0))
    assert one.log() == expected


FIGURE_7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]


@pytest.mark.parametrize("follower", [
    [1, 1, 1, 4, 4, 5, 5, 6, 6],                  # (a) missing one
    [1, 1, 1, 4],                                  # (b) missing many
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],             # (c) an extra uncommitted entry
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],          # (d) extra entries of a later term
    [1, 1, 1, 4, 4, 4, 4],                         # (e) divergent term-4 entries
    [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],             # (f) entries of terms the leader never saw
])
def test_leader_sync_follower_log(follower):
    """The leader forces followers' logs to duplicate its own: it finds the latest entry where the two
    logs agree, deletes the follower's entries after it and sends its own (Figure 7). Raft §5.3"""
    net = Net(pre_vote=False, check_quorum=False, logs={"n1": FIGURE_7_LEADER, "n2": follower, "n3": []},
              terms={"n1": 8, "n2": 8, "n3": 8})
    net.elect("n1")  # n3's empty log votes for n1
    net["n1"].propose(b"after repair")
    net.stabilise()
    leader_log = net.members["n1"].storage
    follower_log = net.members["n2"].storage
    assert follower_log.last_index() == leader_log.last_index() == 12
    assert follower_log.entries(1, 13) == leader_log.entries(1, 13)


def test_fast_backoff_needs_one_round_trip_per_term():
    """The optimisation of §5.3: a rejection names the conflicting term, so the leader skips a whole term
    per round trip instead of one entry. Raft §5.3"""
    logs = {"n1": [1] + [4] * 50 + [5] * 50, "n2": [1] + [2] * 60 + [3] * 60, "n3": []}
    net = Net(pre_vote=False, check_quorum=False, logs=logs, terms={"n1": 6, "n2": 6, "n3": 6})
    net.elect("n1")
    rejections = [m for m in net.delivered if isinstance(m, AppendEntriesResponse) and m.src == "n2"
                  and not m.success]
    assert len(rejections) <= 3
    assert net.members["n2"].storage.entries(1, 103) == net.members["n1"].storage.entries(1, 103)


# --------------------------------------------------------------- §5.4


@pytest.mark.parametrize("log, last_index, last_term, granted", [
    ([1, 2], 2, 2, True),
    ([1, 2], 3, 2, True),      # same last term, longer: up to date
    ([1, 2], 1, 2, False),     # same last term, shorter
    ([1, 2], 1, 3, True),      # later last term wins whatever the length
    ([1, 2], 5, 1, False),     # earlier last term loses whatever the length
])
def test_voter_rejects_out_of_date_candidate(log, last_index, last_term, granted):
    """A voter denies its vote if its own log is more up-to-date: the later last term wins; with equal last
    terms the longer log wins. Raft §5.4.1"""
    one = One(log=log, term=3)
    (reply,) = one.step(RequestVote(term=4, src="n2", dst="n1", last_log_index=last_index,
                                    last_log_term=last_term))
    assert reply.granted is granted


def test_leader_only_commits_entries_from_current_term():
    """Figure 8: an entry from an earlier term stored on a majority may still be overwritten, so a leader
    commits by counting replicas only an entry of its current term; earlier ones commit indirectly.
    Raft §5.4.2"""
    one = One(voters=("n1", "n2", "n3", "n4", "n5"), log=[1, 2], term=3)
    one.make_leader()  # term 4; its no-op is at index 3
    assert one.status.term == 4
    for peer in ("n2", "n3"):
        one.step(AppendEntriesResponse(term=4, src=peer, dst="n1", success=True, match_index=2))
    assert one.status.commit == 0  # index 2 (term 2) is on a majority but is not counted
    for peer in ("n2", "n3"):
        one.step(AppendEntriesResponse(term=4, src=peer, dst="n1", success=True, match_index=3))
    assert one.status.commit == 3  # the term-4 no-op commits, and index 2 with it


def test_commit_never_moves_backwards():
    """Committed entries are durable: a follower never lowers its commit index, whatever a (stale or
    lagging) message says. Raft §5.3, §5.4"""
    one = One(log=[1, 1, 1], term=1, commit=3)
    one.step(Heartbeat(term=1, src="n2", dst="n1", commit=1))
    one.step(AppendEntries(term=1, src="n2", dst="n1", prev_index=3, prev_term=1, entries=(), commit=2))
    assert one.status.commit == 3


def test_leader_completeness():
    """If an entry is committed in a term, it is in the log of every leader of later terms: a node missing
    it cannot win. Raft §5.4.3"""
    net = Net(pre_vote=False, check_quorum=False)
    net.elect("n1")
    net.isolate("n3")
    net["n1"].propose(b"committed while n3 was away")
    net.stabilise()
    assert net["n1"].status().commit == 2
    net.heal()
    net.isolate("n1")
    net["n3"].campaign()
    net.stabilise()
    assert net["n3"].status().role is not Role.LEADER  # n2 refuses: n3's log is behind
    net["n2"].campaign()
    net.stabilise()
    assert net["n2"].status().role is Role.LEADER  # (n1, isolated, still thinks it leads term 1)
    assert b"committed while n3 was away" in net.data("n3")


def test_follower_refuses_proposals():
    """Only the leader accepts client requests; others point to it. Raft §8"""
    net = Net()
    net.elect("n1")
    with pytest.raises(NotLeader) as caught:
        net["n2"].propose(b"x")
    assert caught.value.leader_hint == "n1"


def test_empty_proposals_are_refused():
    """A leader commits a blank no-op entry at the start of its term; an empty client proposal would be
    indistinguishable from it, so the core refuses one (a deliberate deviation from etcd). Raft §8"""
    net = Net()
    net.elect("n1")
    with pytest.raises(ProposalDropped):
        net["n1"].propose(b"")


# ----------------------------------------------------------------- §6


def test_membership_change_one_server_at_a_time():
    """Cluster membership changes through the log: a new server is added (here first as a learner,
    catching up without a vote, thesis §4.2.1), then made a voter; from then on it counts for commits.
    Raft §6"""
    net = Net()
    net.elect("n1")
    net.add("n4", net.conf)  # a joining node starts from the cluster's bootstrap configuration
    net["n1"].propose_conf_change(ConfChange(type=ConfChangeType.ADD_LEARNER, node_id="n4"))
    net.stabilise()
    net["n1"].propose_conf_change(ConfChange(type=ConfChangeType.ADD_VOTER, node_id="n4"))
    net.stabilise()
    for node_id in ("n1", "n2", "n3", "n4"):
        assert net[node_id].status().conf_state == ConfState(voters=("n1", "n2", "n3", "n4"))
    net.isolate("n2")
    net.isolate("n3")
    net["n1"].propose(b"needs n4")
    net.stabilise()
    assert net["n1"].status().commit < net.members["n1"].storage.last_index()  # 2 of 4 is not a majority


# ----------------------------------------------------------------- §7


def test_snapshot_brings_far_behind_follower_up_to_date():
    """When the leader has discarded the entries a follower needs, it sends its snapshot with
    InstallSnapshot; the follower discards its log and resumes from the snapshot. Raft §7"""
    net = Net()
    net.elect("n1")
    net.isolate("n3")
    for i in range(20):
        net["n1"].propose(b"e%d" % i)
    net.stabilise()
    leader = net.members["n1"]
    leader.storage.create_snapshot(15, leader.node.status().conf_state, b"state@15")
    leader.storage.compact(15)
    net.heal()
    net.tick(3)
    follower = net.members["n3"]
    assert follower.snapshots_installed == 1
    assert follower.storage.snapshot().data == b"state@15"
    assert follower.node.status().commit == leader.node.status().commit == 21
    assert net.data("n3") == [b"e%d" % i for i in range(14, 20)]
