"""A tiny synchronous network of RawNodes for tests, honouring the Ready contract.

Like the ``network`` in etcd-io/raft ``raft_test.go``: ``isolate``, ``cut``,
``heal``, ``drop`` (a predicate over messages), ``tick``, ``stabilise`` (run
Readys and deliver messages until nothing moves). Each node has its own
MemoryLogStorage; ``process`` does, per Ready: install snapshot, append
entries, set hard state, then queue messages, then apply committed entries
(conf changes through ``apply_conf_change``), then ``advance``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from consensus import (ConfChange, ConfState, Config, Entry, EntryType, HardState, MemoryLogStorage, RawNode,
                       ReadState, Role)


def make_storage(conf: ConfState, log=(), term: int | None = None, vote: str | None = None,
                 commit: int = 0) -> MemoryLogStorage:
    storage = MemoryLogStorage(conf)
    storage.append([Entry(term=t, index=i, data=b"%d/%d" % (i, t)) for i, t in enumerate(log, start=1)])
    if term is None:
        term = max(log, default=0)
    storage.set_hard_state(HardState(term=term, vote=vote, commit=commit))
    return storage


def drain(node: RawNode, storage: MemoryLogStorage) -> list:
    """Handle one node's Ready alone (persist, advance); returns its messages."""
    messages = []
    while node.has_ready():
        rd = node.ready()
        if rd.snapshot is not None:
            storage.apply_snapshot(rd.snapshot)
        storage.append(rd.entries)
        storage.set_hard_state(rd.hard_state)
        messages.extend(rd.messages)
        node.advance(rd)
    return messages


@dataclass
class Member:
    node: RawNode
    storage: MemoryLogStorage
    applied: list = field(default_factory=list)        # (index, term, data) of applied NORMAL entries
    read_states: list[ReadState] = field(default_factory=list)
    conf_states: list[ConfState] = field(default_factory=list)
    snapshots_installed: int = 0


class Net:
    def __init__(self, voters=("n1", "n2", "n3"), learners=(), *, seed: int = 1, pre_vote: bool = True,
                 check_quorum: bool = True, election_tick: int = 10, logs: dict | None = None,
                 terms: dict | None = None, **config) -> None:
        self.conf = ConfState(voters=tuple(sorted(voters)), learners=tuple(sorted(learners)))
        self.seed = seed
        self.defaults = dict(pre_vote=pre_vote, check_quorum=check_quorum, election_tick=election_tick, **config)
        self.members: dict[str, Member] = {}
        for node_id in sorted(self.conf.voters + self.conf.learners):
            self.add(node_id, self.conf, log=(logs or {}).get(node_id, ()), term=(terms or {}).get(node_id))
        self.queue: deque = deque()
        self.blocked: set[tuple[str, str]] = set()
        self.drop: Callable[[object], bool] | None = None
        self.delivered: list = []

    def add(self, node_id: str, conf: ConfState, *, log=(), term: int | None = None, **overrides) -> Member:
        """A new member whose storage holds entries with terms `log` (indexes 1..) and hard state `term`."""
        storage = make_storage(conf, log, term)
        options = dict(self.defaults, **overrides)
        rng = random.Random(f"{self.seed}/{node_id}")
        node = RawNode(Config(node_id=node_id, rng=rng, **options), storage)
        member = Member(node=node, storage=storage)
        self.members[node_id] = member
        return member

    def __getitem__(self, node_id: str) -> RawNode:
        return self.members[node_id].node

    # ------------------------------------------------------------- faults

    def cut(self, a: str, b: str) -> None:
        self.blocked |= {(a, b), (b, a)}

    def isolate(self, node_id: str) -> None:
        for other in self.members:
            if other != node_id:
                self.cut(node_id, other)

    def partition(self, *groups) -> None:
        for i, group in enumerate(groups):
            for other in groups[i + 1:]:
                for a in group:
                    for b in other:
                        self.cut(a, b)

    def heal(self) -> None:
        self.blocked.clear()
        self.drop = None

    # ------------------------------------------------------------ running

    def process(self, node_id: str) -> bool:
        member = self.members[node_id]
        node = member.node
        if not node.has_ready():
            return False
        rd = node.ready()
        if rd.snapshot is not None:
            member.storage.apply_snapshot(rd.snapshot)
            member.snapshots_installed += 1
            member.applied = [("snapshot", rd.snapshot.metadata.index, rd.snapshot.data)]
        member.storage.append(rd.entries)
        member.storage.set_hard_state(rd.hard_state)
        self.queue.extend(rd.messages)
        for entry in rd.committed_entries:
            if entry.type is EntryType.CONF_CHANGE:
                member.conf_states.append(node.apply_conf_change(ConfChange.from_bytes(entry.data)))
            elif entry.data:
                member.applied.append((entry.index, entry.term, entry.data))
        member.read_states.extend(rd.read_states)
        node.advance(rd)
        return True

    def deliver_one(self) -> bool:
        while self.queue:
            msg = self.queue.popleft()
            if (msg.src, msg.dst) in self.blocked or msg.dst not in self.members:
                continue
            if self.drop is not None and self.drop(msg):
                continue
            self.delivered.append(msg)
            self.members[msg.dst].node.step(msg)
            return True
        return False

    def stabilise(self, limit: int = 100_000) -> None:
        for _ in range(limit):
            moved = False
            for node_id in list(self.members):
                moved |= self.process(node_id)
            while self.deliver_one():
                moved = True
                for node_id in list(self.members):
                    self.process(node_id)
            if not moved:
                return
        raise AssertionError("network did not stabilise")

    def tick(self, times: int = 1, nodes=None) -> None:
        for _ in range(times):
            for node_id in list(nodes or self.members):
                self.members[node_id].node.tick()
            self.stabilise()

    def elect(self, node_id: str = "n1") -> None:
        self[node_id].campaign()
        self.stabilise()
        assert self[node_id].status().role is Role.LEADER, self[node_id].status()

    def leader(self) -> str | None:
        leaders = [n for n, m in self.members.items() if m.node.status().role is Role.LEADER]
        return leaders[0] if len(leaders) == 1 else None

    def data(self, node_id: str) -> list[bytes]:
        return [item[2] for item in self.members[node_id].applied if item[0] != "snapshot"]
