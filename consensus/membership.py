"""Membership changes one server at a time (Raft thesis §4.1, §4.2.1 learners; etcd ``confchange``).

A configuration is a ``ConfState``: sorted voters and learners, disjoint. A
change takes effect when the application *applies* the CONF_CHANGE entry
(etcd's rule; safe because only one change may be unapplied at a time, so
any two successive configurations share a majority). ``check_conf_change``
is run at proposal time and refuses changes that would do nothing or leave
no voter; ``apply_conf_change`` is total: what the proposal check would refuse
is a no-op here, because every node must apply a committed entry the same way.

Transitions (the table is the code of ``apply_conf_change``)::

    ADD_VOTER    learner -> voter (promotion), absent -> voter, voter -> no-op
    ADD_LEARNER  absent -> learner, learner -> no-op, voter -> no-op (demotion
                 needs joint consensus, which is not supported)
    REMOVE_NODE  voter/learner -> absent, unless it is the last voter; absent -> no-op
"""

from __future__ import annotations

from consensus.errors import ProposalDropped
from consensus.messages import ConfChange, ConfChangeType, ConfState

__all__ = ["apply_conf_change", "check_conf_change", "is_voter", "is_member"]


def is_voter(conf: ConfState, node_id: str) -> bool:
    return node_id in conf.voters


def is_member(conf: ConfState, node_id: str) -> bool:
    return node_id in conf.voters or node_id in conf.learners


def _refusal(conf: ConfState, cc: ConfChange) -> str | None:
    node = cc.node_id
    if cc.type is ConfChangeType.ADD_VOTER:
        return f"{node} is already a voter" if node in conf.voters else None
    if cc.type is ConfChangeType.ADD_LEARNER:
        if node in conf.voters:
            return f"{node} is a voter; demoting a voter to learner is not supported"
        return f"{node} is already a learner" if node in conf.learners else None
    if not is_member(conf, node):
        return f"{node} is not a member"
    if conf.voters == (node,):
        return f"{node} is the last voter"
    return None


def check_conf_change(conf: ConfState, cc: ConfChange) -> None:
    """Raise ProposalDropped if `cc` would be a no-op or leave no voter."""
    reason = _refusal(conf, cc)
    if reason is not None:
        raise ProposalDropped(f"conf change refused: {reason}")


def apply_conf_change(conf: ConfState, cc: ConfChange) -> ConfState:
    """The configuration after `cc`; unchanged when the proposal check would have refused it."""
    if _refusal(conf, cc) is not None:
        return conf
    node = cc.node_id
    voters = set(conf.voters)
    learners = set(conf.learners)
    if cc.type is ConfChangeType.ADD_VOTER:
        learners.discard(node)
        voters.add(node)
    elif cc.type is ConfChangeType.ADD_LEARNER:
        learners.add(node)
    else:
        voters.discard(node)
        learners.discard(node)
    return ConfState(voters=tuple(sorted(voters)), learners=tuple(sorted(learners)))
