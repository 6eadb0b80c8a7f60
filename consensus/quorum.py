"""Majority maths, pure (etcd ``quorum/majority.go``): no progress, no log, just numbers and ids."""

from __future__ import annotations

import enum
from typing import Collection, Mapping

__all__ = ["VoteResult", "majority", "committed_index", "vote_result", "has_quorum"]


class VoteResult(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def majority(voter_count: int) -> int:
    """Votes needed among `voter_count` voters (Raft §5.2)."""
    return voter_count // 2 + 1


def committed_index(voters: Collection[str], match: Mapping[str, int]) -> int:
    """The largest index acknowledged by a majority of `voters` (missing means 0).

    With no voters the result is 0 (etcd returns +inf and lets the caller min it;
    the core never commits with an empty configuration).
    """
    count = len(voters)
    if count == 0:
        return 0
    if count == 1:
        for voter in voters:
            return match.get(voter, 0)
    indexes = sorted((match.get(voter, 0) for voter in voters), reverse=True)
    return indexes[count // 2]


def vote_result(voters: Collection[str], votes: Mapping[str, bool]) -> VoteResult:
    """WON once a majority granted, LOST once a majority is out of reach, else PENDING."""
    granted = rejected = 0
    for voter in voters:
        vote = votes.get(voter)
        if vote is True:
            granted += 1
        elif vote is False:
            rejected += 1
    need = majority(len(voters))
    if granted >= need:
        return VoteResult.WON
    if len(voters) - rejected < need:
        return VoteResult.LOST
    return VoteResult.PENDING


def has_quorum(voters: Collection[str], responders: Collection[str]) -> bool:
    """True when the responders include a majority of the voters."""
    return sum(1 for voter in voters if voter in responders) >= majority(len(voters))
