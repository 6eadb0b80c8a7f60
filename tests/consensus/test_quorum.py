"""Majority maths against a naive version (etcd quorum/quick_test.go)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from consensus.quorum import VoteResult, committed_index, has_quorum, majority, vote_result

ids = st.lists(st.sampled_from([f"n{i}" for i in range(9)]), unique=True, max_size=9)


def naive_committed(voters, match):
    """The largest index such that a majority of voters has match >= it."""
    if not voters:
        return 0
    candidates = {0} | {match.get(v, 0) for v in voters}
    return max(i for i in candidates if sum(1 for v in voters if match.get(v, 0) >= i) > len(voters) // 2)


@given(ids, st.dictionaries(st.sampled_from([f"n{i}" for i in range(9)]), st.integers(0, 50)))
def test_committed_index_matches_naive(voters, match):
    assert committed_index(voters, match) == naive_committed(voters, match)


@given(ids, st.dictionaries(st.sampled_from([f"n{i}" for i in range(9)]), st.booleans()))
def test_vote_result_matches_naive(voters, votes):
    granted = sum(1 for v in voters if votes.get(v) is True)
    missing = sum(1 for v in voters if v not in votes)
    need = len(voters) // 2 + 1
    expected = VoteResult.WON if granted >= need else (
        VoteResult.PENDING if granted + missing >= need else VoteResult.LOST)
    assert vote_result(voters, votes) is expected


def test_majority_and_has_quorum():
    assert [majority(n) for n in range(1, 7)] == [1, 2, 2, 3, 3, 4]
    assert has_quorum(("a", "b", "c"), {"a", "c", "learner"})
    assert not has_quorum(("a", "b", "c"), {"a", "learner", "other"})
