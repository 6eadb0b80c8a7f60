"""The leader's pending pool and block building.

Theory of operation
-------------------
Submissions that pass admission (``Ledger.check_submission``, run by the
runtime) wait in an insertion-ordered pool keyed by doc_id, so a document
submitted twice (to two nodes, or retried) is held once. The leader closes a
block when the pool holds ``blocks.max_documents`` documents, or
``blocks.max_bytes`` of envelopes, or ``blocks.linger_ms`` after the oldest
pooled document arrived, whichever comes first (``due``). The default linger
is 0: with no block in flight a document is proposed at once, and what
arrives while a block is in flight waits for it and goes together in the
next, so blocks grow with the load by themselves (group commit) and a lone
document waits for nothing.

One block in flight: ``build`` takes documents out of the pool into the
in-flight proposal and the producer builds nothing more until a block at that
height is applied (``on_block_applied``) or the term ends (``on_term_end``).
Building on top of ``ledger.height`` is therefore always building on the
block before, and a proposal of a deposed leader that still commits later is
a stale no-op on apply (node-runtime.md): it names a height that another
block already took. Documents of a proposal that did not make it go back to
the pool, marked for a re-check: they may have been committed after all, by
the entry the new leader inherited, and ``build`` drops those that the
ledger already holds as accepted.

This module does no I/O and has no clock of its own: the runtime passes
``now`` (monotonic seconds) and ``now_ms`` (wall clock for the header).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from ledger.blocks import BlockProposal

from node.config import BlockSettings

__all__ = ["BlockProducer", "InFlight"]


@dataclass(slots=True)
class InFlight:
    """The proposal the leader is waiting on: its height, term and documents."""

    height: int
    term: int
    doc_ids: list[str] = field(default_factory=list)
    envelopes: list[bytes] = field(default_factory=list)


class BlockProducer:
    """See the module docstring. `is_accepted(doc_id)` asks the ledger (for re-checks)."""

    def __init__(self, node_id: str, settings: BlockSettings, is_accepted=lambda doc_id: False) -> None:
        self.node_id = node_id
        self.settings = settings
        self.is_accepted = is_accepted
        # Invariant: a doc_id is in at most one of pool and in_flight.
        self.pool: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self.pool_bytes = 0
        self.first_at: float | None = None  # when the oldest pooled document arrived
        self.recheck: set[str] = set()
        self.in_flight: InFlight | None = None

    # ------------------------------------------------------------- the pool

    def holds(self, doc_id: str) -> bool:
        return doc_id in self.pool or (self.in_flight is not None and doc_id in self.in_flight.doc_ids)

    def held(self) -> int:
        """Documents admitted and not yet in an applied block: pooled or in flight."""
        return len(self.pool) + (len(self.in_flight.doc_ids) if self.in_flight is not None else 0)

    def add(self, doc_id: str, envelope: bytes, now: float) -> bool:
        """Pool `envelope`; False if this doc_id is already pooled or in flight."""
        if self.holds(doc_id):
            return False
        if not self.pool:
            self.first_at = now
        self.pool[doc_id] = envelope
        self.pool_bytes += len(envelope)
        return True

    def take_pool(self) -> list[tuple[str, bytes]]:
        """Empty the pool (when this node stops leading) and return what it held."""
        items = list(self.pool.items())
        self.pool.clear()
        self.pool_bytes = 0
        self.first_at = None
        self.recheck.clear()
        return items

    # ------------------------------------------------------------- building

    def deadline(self) -> float | None:
        """When the pool's linger runs out (None if the pool is empty)."""
        if self.first_at is None:
            return None
        return self.first_at + self.settings.linger_ms / 1000.0

    def due(self, now: float) -> bool:
        """Whether a block should be built now (ignoring leadership, which the runtime checks)."""
        if self.in_flight is not None or not self.pool:
            return False
        s = self.settings
        return len(self.pool) >= s.max_documents or self.pool_bytes >= s.max_bytes or now >= (self.deadline() or 0)

    def build(self, *, height: int, prev_hash: bytes, now_ms: int, head_timestamp: int, term: int) -> BlockProposal | None:
        """Move up to one block's worth of documents into flight; None if nothing is left to propose."""
        s = self.settings
        doc_ids: list[str] = []
        envelopes: list[bytes] = []
        size = 0
        while self.pool and len(doc_ids) < s.max_documents:
            doc_id, envelope = next(iter(self.pool.items()))
            if envelopes and size + len(envelope) > s.max_bytes:
                break
            del self.pool[doc_id]
            self.pool_bytes -= len(envelope)
            if doc_id in self.recheck:
                self.recheck.discard(doc_id)
                if self.is_accepted(doc_id):
                    continue
            doc_ids.append(doc_id)
            envelopes.append(envelope)
            size += len(envelope)
        self.first_at = None if not self.pool else self.first_at
        if not envelopes:
            return None
        self.in_flight = InFlight(height=height, term=term, doc_ids=doc_ids, envelopes=envelopes)
        return BlockProposal(height=height, prev_hash=prev_hash, timestamp=max(now_ms, head_timestamp),
                             proposer=self.node_id, term=term, envelopes=tuple(envelopes))

    # ------------------------------------------------------------- outcomes

    def on_block_applied(self, height: int, doc_ids: list[str | None], now: float) -> None:
        """A block at `height` applied (ours or anyone's): drop its documents; end the flight at that height."""
        for doc_id in doc_ids:
            if doc_id is not None and doc_id in self.pool:
                self.pool_bytes -= len(self.pool.pop(doc_id))
        flight = self.in_flight
        if flight is not None and height >= flight.height:
            self.in_flight = None
            applied = set(d for d in doc_ids if d is not None)
            self._requeue([(d, e) for d, e in zip(flight.doc_ids, flight.envelopes) if d not in applied], now)
        if not self.pool:
            self.first_at = None

    def on_stale(self, now: float) -> None:
        """Our in-flight proposal applied as a stale no-op: its documents go back to the pool."""
        self.on_term_end(now)

    def on_term_end(self, now: float) -> None:
        """The term of our in-flight proposal ended: its documents go back, to be re-checked."""
        flight = self.in_flight
        self.in_flight = None
        if flight is not None:
            self._requeue(list(zip(flight.doc_ids, flight.envelopes)), now)

    def _requeue(self, items: list[tuple[str, bytes]], now: float) -> None:
        if not items:
            return
        rest = list(self.pool.items())
        self.pool.clear()
        for doc_id, envelope in items + rest:  # the older documents go first again
            if doc_id not in self.pool:
                self.pool[doc_id] = envelope
        for doc_id, _ in items:
            self.recheck.add(doc_id)
        self.pool_bytes = sum(len(e) for e in self.pool.values())
        self.first_at = now if self.first_at is None else min(self.first_at, now)
