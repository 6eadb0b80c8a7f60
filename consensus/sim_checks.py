"""Safety properties the simulator checks as the cluster runs (Raft §5.2-§5.4, Figure 3).

Theory of operation: the simulator reports every durable or visible change
(a Ready persisted, a node becoming leader, an entry applied, a snapshot
restored, a read served) to one :class:`SafetyChecker`, which keeps global
history across every node's lives and raises :class:`SafetyViolation` the
moment a property breaks. Checks are incremental, O(1) per entry, so they run
after every step of thousands of random seeds:

* **Election safety** (Figure 3): at most one leader per term, over the whole
  history -- ``leader_of_term`` is never cleared.
* **Leader append-only**: a leader never truncates its own log in its term.
* **Log matching**: every persisted entry ``(index, term)`` is recorded once
  in ``seen`` with its data and the term of its predecessor in the log that
  holds it. If every log that holds ``(i, t)`` agrees on the data and on the
  term at ``i - 1``, then by induction any two logs holding ``(i, t)`` have
  identical prefixes, which is the property.
* **Leader completeness**: an entry committed in term u is in the log of every
  leader of a term > u. "Committed in term u" is observed, soundly, as: some
  node persisted a hard state ``(term=u, commit=c)``, so every index <= c was
  committed in a term <= u (``max_commit_at_term``). When a node becomes
  leader of T, the highest such c with u < T must be in its log with the
  committed term (O(1); log matching gives the prefix). ``check_history``
  re-checks every leader's election-time log against commits observed later.
  (Requiring every committed entry *of a term below T* would be wrong: Figure
  8's entry of term 2 may be committed in term 4 after a term-3 leader that
  lacked it.)
* **State machine safety**: the first entry applied at an index by anyone is
  recorded; every later apply (other nodes, restarts, snapshots via the
  running digest) must match it.
* **Commit monotonic** per node life, never below what the node applied
  before it crashed; applied entries are never lost across restarts.
* **Read linearizability** (thesis §6.4): a ReadIndex read issued after a
  write was acknowledged must be released at an index >= that write's index
  and served only once the node has applied that index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SafetyViolation", "SafetyChecker", "compare_logs", "entry_key", "next_digest",
           "GENESIS_DIGEST"]

GENESIS_DIGEST = b"\0" * 32


class SafetyViolation(AssertionError):
    """A Raft safety property failed; ``prop`` names it, the message carries term, index, nodes."""

    def __init__(self, prop: str, message: str) -> None:
        super().__init__(f"{prop}: {message}")
        self.prop = prop


def entry_key(entry: Any) -> tuple[int, int, Any, bytes]:
    """What makes two entries the same entry: index, term, type and data."""
    return (entry.index, entry.term, entry.type, bytes(entry.data))


def next_digest(digest: bytes, entry: Any) -> bytes:
    """The state machine's digest after applying ``entry``: a hash chain over applied entries."""
    kind = getattr(entry.type, "value", entry.type)
    return hashlib.sha256(
        digest + entry.index.to_bytes(8, "big") + entry.term.to_bytes(8, "big")
        + str(kind).encode() + bytes(entry.data)
    ).digest()


@dataclass
class _NodeLife:
    """What the checker remembers about one node across its crashes and restarts."""

    commit: int = 0          # Invariant: never decreases within one life
    applied: int = 0         # highest index applied in the current life
    max_applied: int = 0     # highest index ever applied, over every life
    role_leader_term: int = 0  # term in which the node is currently leader, 0 if not


@dataclass
class SafetyChecker:
    """Global history of a simulated cluster, checked incrementally (see module docstring)."""

    leader_of_term: dict[int, str] = field(default_factory=dict)
    # (index, term) -> (data key, term of the entry at index - 1); 0 for index 1.
    seen: dict[tuple[int, int], tuple[Any, int]] = field(default_factory=dict)
    applied_entries: dict[int, tuple] = field(default_factory=dict)
    digest_at: dict[int, bytes] = field(default_factory=lambda: {0: GENESIS_DIGEST})
    commit_frontier: int = 0   # highest index anyone has applied (= known committed)
    max_commit_at_term: dict[int, int] = field(default_factory=dict)  # term u -> commit seen at u
    committed_term: dict[int, int] = field(default_factory=dict)      # index -> term of its entry
    commit_seen: int = 0       # highest commit index any node persisted
    # every leader ever elected: (term, node, last_index, last_term) at election time
    leaders: list[tuple[int, str, int, int]] = field(default_factory=list)
    nodes: dict[str, _NodeLife] = field(default_factory=dict)
    acked_writes: int = 0       # highest index of a write acknowledged to a client
    checks: int = 0

    def _life(self, node: str) -> _NodeLife:
        life = self.nodes.get(node)
        if life is None:
            life = self.nodes[node] = _NodeLife()
        return life

    # -- persistence ---------------------------------------------------------

    def on_persist(self, node: str, entries: list, prev_term: int, last_index_before: int,
                   is_leader_term: int) -> None:
        """``entries`` are about to be appended after an entry of term ``prev_term``.

        Log matching (Raft §5.3) and leader append-only (Figure 3).
        """
        if not entries:
            return
        self.checks += 1
        first = entries[0].index
        if is_leader_term and first <= last_index_before:
            raise SafetyViolation(
                "leader append-only",
                f"leader {node} of term {is_leader_term} overwrote its log from index {first} "
                f"(its last index was {last_index_before})")
        seen = self.seen
        before = prev_term
        for entry in entries:
            key = (entry.index, entry.term)
            data = (entry.type, bytes(entry.data))
            known = seen.get(key)
            if known is None:
                seen[key] = (data, before)
            elif known != (data, before):
                which = "data" if known[0] != data else f"previous term ({known[1]} vs {before})"
                raise SafetyViolation(
                    "log matching",
                    f"node {node} persisted entry index={entry.index} term={entry.term} whose "
                    f"{which} differs from the same (index, term) in another log")
            before = entry.term

    def on_snapshot_restore(self, node: str, index: int, term: int, digest: bytes) -> None:
        """A node's state machine was restored from a snapshot at ``(index, term)``."""
        self.checks += 1
        if index == 0:
            return
        expected = self.digest_at.get(index)
        if expected is None:
            raise SafetyViolation(
                "state machine safety",
                f"node {node} restored a snapshot at index {index} term {term} that no node has "
                f"applied (commit frontier {self.commit_frontier})")
        if expected != digest:
            raise SafetyViolation(
                "state machine safety",
                f"node {node} restored a snapshot at index {index} whose state differs from what "
                f"other nodes applied up to {index}")
        committed = self.applied_entries[index]
        if committed[1] != term:
            raise SafetyViolation(
                "state machine safety",
                f"node {node} snapshot at index {index} has term {term}; the committed entry "
                f"there has term {committed[1]}")
        life = self._life(node)
        life.applied = max(life.applied, index)
        life.max_applied = max(life.max_applied, index)

    # -- roles ---------------------------------------------------------------

    def on_leader(self, node: str, term: int, last_index: int, last_term: int,
                  term_at: Any) -> None:
        """``node`` became leader of ``term``; ``term_at(i)`` reads its persisted log.

        Election safety (Raft §5.2) and leader completeness (Raft §5.4).
        """
        self.checks += 1
        other = self.leader_of_term.get(term)
        if other is not None and other != node:
            raise SafetyViolation(
                "election safety", f"two leaders in term {term}: {other} and {node}")
        if other is None:
            self.leader_of_term[term] = node
            self.leaders.append((term, node, last_index, last_term))
        life = self._life(node)
        life.role_leader_term = term
        target = self._committed_before(term)
        if target:
            self._require_contains(node, term, target, last_index, term_at)

    def on_not_leader(self, node: str) -> None:
        self._life(node).role_leader_term = 0

    def leader_term(self, node: str) -> int:
        life = self.nodes.get(node)
        return life.role_leader_term if life else 0

    def _committed_before(self, term: int) -> int:
        """Highest index observed committed in a term below ``term``."""
        best = 0
        for seen_term, commit in self.max_commit_at_term.items():
            if seen_term < term and commit > best:
                best = commit
        return best

    def _require_contains(self, node: str, term: int, index: int, last_index: int,
                          term_at: Any) -> None:
        expected = self.committed_term.get(index)
        if expected is None:   # learned through a snapshot: its term was never read
            return
        have = term_at(index) if index <= last_index else None
        if have is None:
            # Below the first index: compacted, so it is in the node's snapshot. A snapshot only
            # covers applied (committed) entries, and those are checked on restore/apply.
            if index > last_index:
                raise SafetyViolation(
                    "leader completeness",
                    f"{node} became leader of term {term} with last index {last_index}, "
                    f"missing committed entry {index} (term {expected})")
            return
        if have != expected:
            raise SafetyViolation(
                "leader completeness",
                f"{node} became leader of term {term} with term {have} at index {index}, but the "
                f"committed entry there has term {expected}")

    # -- commit and apply ----------------------------------------------------

    def on_restart(self, node: str, hard_commit: int, snapshot_index: int, first_index: int,
                   last_index: int) -> None:
        """A node restarted from its storage; nothing it applied may be lost."""
        self.checks += 1
        life = self._life(node)
        if hard_commit < life.max_applied:
            raise SafetyViolation(
                "applied entries never lost",
                f"{node} restarted with persisted commit {hard_commit} below index "
                f"{life.max_applied} it had applied before crashing")
        if last_index < life.max_applied:
            raise SafetyViolation(
                "applied entries never lost",
                f"{node} restarted with last index {last_index} (snapshot {snapshot_index}) below "
                f"index {life.max_applied} it had applied")
        life.commit = hard_commit
        life.applied = snapshot_index
        life.role_leader_term = 0

    def on_commit(self, node: str, commit: int, term: int, term_at: Any) -> None:
        """``node`` persisted commit index ``commit`` at ``term``; ``term_at`` reads its log.

        Commit is monotonic within a node's life (Raft §5.3); the observation feeds leader
        completeness (module docstring).
        """
        life = self._life(node)
        if commit < life.commit:
            raise SafetyViolation(
                "commit monotonic", f"{node} commit index went from {life.commit} to {commit}")
        if commit == life.commit:
            return
        life.commit = commit
        if commit > self.max_commit_at_term.get(term, 0):
            self.max_commit_at_term[term] = commit
        committed_term = self.committed_term
        if commit > self.commit_seen:
            for index in range(self.commit_seen + 1, commit + 1):
                have = term_at(index)
                if have is not None:
                    committed_term[index] = have
            self.commit_seen = commit
        else:
            have, known = term_at(commit), committed_term.get(commit)
            if have is not None and known is not None and have != known:
                raise SafetyViolation(
                    "state machine safety",
                    f"{node} committed index {commit} with term {have}; it was committed with "
                    f"term {known} before")

    def on_apply(self, node: str, entry: Any, digest_before: bytes) -> bytes:
        """``node`` applies ``entry``; returns its state machine digest afterwards.

        State machine safety (Raft §5.4.3): no two nodes apply different entries at one index,
        across restarts too.
        """
        life = self._life(node)
        index = entry.index
        if index != life.applied + 1:
            raise SafetyViolation(
                "state machine safety",
                f"{node} applied index {index} right after index {life.applied}")
        if index > life.commit:
            raise SafetyViolation(
                "state machine safety",
                f"{node} applied index {index} beyond its commit index {life.commit}")
        key = (index, entry.term, entry.type, bytes(entry.data))
        known = self.applied_entries.get(index)
        digest = next_digest(digest_before, entry)
        if known is None:
            if self.digest_at.get(index - 1) != digest_before:
                raise SafetyViolation(
                    "state machine safety",
                    f"{node} applied index {index} on a state that differs from the committed "
                    f"state at {index - 1}")
            self.applied_entries[index] = key
            self.digest_at[index] = digest
            if index > self.commit_frontier:
                self.commit_frontier = index
        elif known != key:
            raise SafetyViolation(
                "state machine safety",
                f"{node} applied index {index} term {entry.term} data {bytes(entry.data)[:16]!r}; "
                f"another node applied term {known[1]} data {known[3][:16]!r} there")
        elif self.digest_at[index] != digest:
            raise SafetyViolation(
                "state machine safety",
                f"{node} state at index {index} differs from the committed state")
        life.applied = index
        if index > life.max_applied:
            life.max_applied = index
        return digest

    # -- reads ---------------------------------------------------------------

    def on_write_acked(self, index: int) -> None:
        """A client was told its write at ``index`` committed."""
        if index > self.acked_writes:
            self.acked_writes = index

    def on_read_released(self, node: str, ctx: bytes, index: int, required: int) -> None:
        """Thesis §6.4: a read issued after write ``required`` was acked must see it."""
        self.checks += 1
        if index < required:
            raise SafetyViolation(
                "read linearizability",
                f"read {ctx!r} on {node} released at index {index}, but a write at index "
                f"{required} was acknowledged before the read was issued")

    def on_read_served(self, node: str, ctx: bytes, index: int) -> None:
        life = self._life(node)
        if life.applied < index:
            raise SafetyViolation(
                "read linearizability",
                f"read {ctx!r} on {node} served at applied index {life.applied} < read index {index}")

    # -- whole-history checks --------------------------------------------------

    def check_history(self) -> None:
        """Leader completeness for every leader ever elected, with commits learned since.

        Walks each leader's election-time log back through ``seen`` (whose predecessor terms
        pin down the whole prefix) to the last entry committed before its term.
        """
        seen = self.seen
        for term, node, last_index, last_term in self.leaders:
            target = self._committed_before(term)
            if target == 0 or target not in self.committed_term:
                continue
            expected = self.committed_term[target]
            if last_index < target:
                raise SafetyViolation(
                    "leader completeness",
                    f"{node} was elected leader of term {term} with last index {last_index}, but "
                    f"entry {target} (term {expected}) was committed in an earlier term")
            index, t = last_index, last_term
            while index > target:
                known = seen.get((index, t))
                if known is None:  # below a snapshot we never saw as entries: cannot walk further
                    break
                index, t = index - 1, known[1]
            else:
                if t != expected:
                    raise SafetyViolation(
                        "leader completeness",
                        f"{node} was elected leader of term {term} with term {t} at index "
                        f"{target}, but the entry committed there in an earlier term has term "
                        f"{expected}")


def compare_logs(storages: dict[str, Any]) -> None:
    """Log matching (Raft §5.3) checked directly on every pair of disks: at the highest index
    where two logs hold the same term, everything from both first indexes up to it is equal."""
    ids = sorted(storages)
    bounds = {i: (storages[i].first_index(), storages[i].last_index()) for i in ids}
    for k, a in enumerate(ids):
        sa = storages[a]
        for b in ids[k + 1:]:
            sb = storages[b]
            lo = max(bounds[a][0], bounds[b][0])
            hi = min(bounds[a][1], bounds[b][1])
            for index in range(hi, lo - 1, -1):
                if sa.term(index) == sb.term(index):
                    if list(sa.entries(lo, index + 1)) != list(sb.entries(lo, index + 1)):
                        raise SafetyViolation(
                            "log matching",
                            f"{a} and {b} agree on the term at index {index} but differ below it "
                            f"(indexes {lo}..{index})")
                    break
