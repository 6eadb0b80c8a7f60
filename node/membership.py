"""Membership through the ledger: Raft's ConfState and the peer set follow the registry.

Theory of operation
-------------------
Who is a voter or a learner is decided by ``node`` documents in the ledger
(signed by the root unit's secretary), not by an operator poking Raft. When
a block applies, the registry may have changed; then

- every node points its transport at the registry's nodes (``peer_map``:
  ``peer_addr`` from the ``node`` document or genesis, overridden by the
  node config's ``[peers.<id>]`` when it names one) and ``lookup`` returns
  the registered keys, so a removed node's links are closed and its next
  handshake refused;
- the leader compares Raft's ConfState with the registry and proposes the
  first missing change (``next_change``), one at a time: Raft allows one
  unapplied conf change, and each applies before the next is proposed.
  Additions come before removals, so the voter count never dips on the way.
"""

from __future__ import annotations

from consensus import ConfChange, ConfChangeType, ConfState

__all__ = ["desired_conf", "next_change", "peer_map"]


def desired_conf(nodes: list[dict]) -> ConfState:
    voters = sorted(n["node_id"] for n in nodes if n.get("role") == "voter")
    learners = sorted(n["node_id"] for n in nodes if n.get("role") == "learner")
    return ConfState(voters=tuple(voters), learners=tuple(learners))


def next_change(current: ConfState, nodes: list[dict]) -> ConfChange | None:
    """The first ConfChange that moves `current` toward the registry's `nodes`; None if they match."""
    want = desired_conf(nodes)
    have_voters, have_learners = set(current.voters), set(current.learners)
    for node_id in want.voters:
        if node_id not in have_voters:
            return ConfChange(type=ConfChangeType.ADD_VOTER, node_id=node_id)
    for node_id in want.learners:
        if node_id not in have_learners and node_id not in have_voters:
            return ConfChange(type=ConfChangeType.ADD_LEARNER, node_id=node_id)
    wanted = set(want.voters) | set(want.learners)
    for node_id in sorted((have_voters | have_learners) - wanted):
        return ConfChange(type=ConfChangeType.REMOVE_NODE, node_id=node_id)
    for node_id in want.learners:
        if node_id in have_voters:  # demotion: remove, then add back as a learner
            return ConfChange(type=ConfChangeType.REMOVE_NODE, node_id=node_id)
    return None


def peer_map(nodes: list[dict], config_peers: dict[str, str], self_id: str) -> dict[str, str]:
    """``{node_id: "host:port"}`` to dial: the registry's nodes except us, config addresses first."""
    return {n["node_id"]: config_peers.get(n["node_id"]) or n["peer_addr"]
            for n in nodes if n["node_id"] != self_id and (config_peers.get(n["node_id"]) or n.get("peer_addr"))}
