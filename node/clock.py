"""The node's wall clock, and how it is checked against the other nodes' clocks.

Theory of operation (the clock rules; README "Clock rules")
-----------------------------------------------------------
Raft needs no wall clock, but the ledger records one: every block header
carries the proposing leader's wall time (unix ms), receipts show it, and
documents carry their signers' ``created_at``. A node whose clock is wrong
must not write its error into the ledger. The bound is
``ledger.blocks.MAX_CLOCK_SKEW_MS`` (5 minutes, as Kerberos allows), and:

1. **Deterministic, on apply (every node alike, ledger/ledger.py):** a block's
   timestamp is never earlier than the previous block's (a proposal that goes
   back is a no-op, like a stale one), and a document whose ``created_at`` is
   more than the bound after its block's timestamp is rejected
   (``clock_skew: ...``). No forward bound on a block against the previous one
   is possible deterministically (a ledger may be idle for days); the forward
   side is bounded by rule 3.
2. **Admission, on the leader:** a submission whose ``created_at`` is more than
   the bound ahead of the leader's clock is refused at once (400 naming
   ``doc.created_at``: the signing device's clock is fast), rather than
   committed and rejected.
3. **Leadership:** every frame a node sends carries its wall time
   (``clock``), and every node broadcasts at least one frame a second (a
   ``sig_request``, or a ``clock`` frame with nothing else), so each voter
   hears every other voter's clock, not only the leader's. :class:`ClockWatch`
   estimates each peer's offset (its clock minus ours) as the median over the
   last seconds of its stamps, carried forward by our monotonic clock to now;
   a one-way delay of milliseconds is noise against a bound of minutes, and a
   jump of our own clock shows at once. A node is **off** when a majority of
   the voters (counting itself in the voter set, not among those that see it
   off) see its clock more than the bound away from theirs, and **agreed**
   when enough
   peers are within the bound to make a majority with it. A leader proposes
   blocks and admits submissions only while agreed; when it is off it hands
   leadership to the most up-to-date voter whose clock agrees with the
   majority, and meanwhile answers submissions 503. So a block's timestamp is
   within the bound of a majority of the voters' clocks when it is proposed,
   and a leader 10 minutes fast or slow stamps nothing.
4. **Warning:** ``minutebook_clock_offset_seconds{peer}`` (each peer's clock
   minus ours) and ``minutebook_clock_off`` (1 while this node is off) let an
   operator see the drift before it matters; a change of verdict is logged.

If the voters' clocks all disagree with each other by more than the bound, no
leader is agreed and the ledger stops growing until an operator fixes the
clocks: that is deliberate (a record stamped with a wrong time is worse than a
record made an hour later) and the metrics say why.

What a receipt's time means: ``block.header_fields.timestamp`` is the time
the block was made, by the clock of its leader, which at that moment agreed
within the bound with a majority of the voters; it is never earlier than the
timestamp of any block before it, and no document in the block claims to have
been created more than the bound after it. ``created_at`` is the signers'
own claim, bounded only from above by that rule (a document signed offline
days earlier is legitimate).

Fault injection: :class:`Clock` adds an offset read from the file named by
``$MINUTEBOOK_CLOCK_OFFSET_FILE`` (an integer of milliseconds, re-read when
the file changes), so tests and the fault bed can jump one node's clock
forward and back while it runs. Leave it unset in production.
"""

from __future__ import annotations

import collections
import os
import statistics
import time
from typing import Callable, Iterable

from ledger.blocks import MAX_CLOCK_SKEW_MS, quorum_size

__all__ = ["Clock", "ClockWatch", "OFFSET_FILE_ENV"]

OFFSET_FILE_ENV = "MINUTEBOOK_CLOCK_OFFSET_FILE"


class Clock:
    """Wall time in unix ms: ``time.time()`` plus an injected offset (module doc, fault injection)."""

    def __init__(self, offset_file: str | None = None, *, wall: Callable[[], float] = time.time) -> None:
        self.offset_file = offset_file if offset_file is not None else os.environ.get(OFFSET_FILE_ENV) or None
        self._wall = wall
        self._offset_ms = 0
        self._checked = -1.0
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read

    @property
    def offset_ms(self) -> int:
        if self.offset_file is not None:
            self._reread()
        return self._offset_ms

    def now_ms(self) -> int:
        return int(self._wall() * 1000) + self.offset_ms

    def _reread(self) -> None:
        now = time.monotonic()
        if now - self._checked < 0.1:
            return
        self._checked = now
        try:
            st = os.stat(self.offset_file)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            with open(self.offset_file, encoding="ascii") as f:
                self._offset_ms = int(f.read().strip() or 0)
            self._stamp = stamp
        except (OSError, ValueError):
            self._offset_ms, self._stamp = 0, None  # no file, or not an integer: no offset


class ClockWatch:
    """Offsets of the peers' clocks from ours, from the ``clock`` field of their frames (module doc).

    A sample is kept as (our monotonic time at receipt, the peer's stamp); an offset is worked out
    when asked, against our wall clock *now*: the peer's stamp carried forward by the monotonic
    time since, minus our wall time. So a jump of our own wall clock shows in every offset at once
    (monotonic time does not jump with it), without waiting for new frames: a leader whose clock
    is set 10 minutes forward stamps no block with it. The median over the last `max_age` seconds
    keeps one late frame (one that sat in a queue) from swinging a verdict.
    """

    def __init__(self, bound_ms: int = MAX_CLOCK_SKEW_MS, *, window: int = 15, max_age: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.bound_ms = bound_ms
        self.window = window
        self.max_age = max_age
        self._monotonic = monotonic
        self._samples: dict[str, collections.deque[tuple[float, int]]] = {}

    def observe(self, peer: str, their_ms: object) -> None:
        """A frame from `peer` stamped `their_ms` (its wall clock when it sent it) arrived now."""
        if type(their_ms) is not int:
            return  # an older peer, or garbage: no sample
        samples = self._samples.setdefault(peer, collections.deque(maxlen=self.window))
        samples.append((self._monotonic(), their_ms))

    def offset_ms(self, peer: str, our_ms: int) -> int | None:
        """The median recent offset of `peer`'s clock from ours, our clock reading `our_ms` now
        (None without recent samples)."""
        samples = self._samples.get(peer)
        if not samples:
            return None
        now = self._monotonic()
        oldest = now - self.max_age
        recent = [their + int((now - at) * 1000) - our_ms for at, their in samples if at >= oldest]
        return int(statistics.median(recent)) if recent else None

    def offsets(self, our_ms: int) -> dict[str, int]:
        return {peer: offset for peer in sorted(self._samples)
                if (offset := self.offset_ms(peer, our_ms)) is not None}

    def _split(self, me: str, voters: Iterable[str], our_ms: int) -> tuple[int, int, int]:
        """(voters, peers within the bound, peers beyond it), counting voters other than `me`."""
        voters = sorted(set(voters) | {me})
        within = beyond = 0
        for peer in voters:
            if peer == me:
                continue
            offset = self.offset_ms(peer, our_ms)
            if offset is None:
                continue
            if abs(offset) <= self.bound_ms:
                within += 1
            else:
                beyond += 1
        return len(voters), within, beyond

    def is_off(self, me: str, voters: Iterable[str], our_ms: int) -> bool:
        """A majority of the voters see our clock beyond the bound."""
        count, _, beyond = self._split(me, voters, our_ms)
        return beyond >= quorum_size(count)

    def is_agreed(self, me: str, voters: Iterable[str], our_ms: int) -> bool:
        """Enough voters see our clock within the bound to make a majority with us."""
        count, within, _ = self._split(me, voters, our_ms)
        return within + 1 >= quorum_size(count)

    def handover_targets(self, me: str, voters: Iterable[str], our_ms: int) -> list[str]:
        """Voters other than `me` whose clocks agree (within the bound) with the median of the
        peers' clocks: when we are off, the ones to hand leadership to."""
        offsets = {p: o for p in sorted(set(voters) - {me}) if (o := self.offset_ms(p, our_ms)) is not None}
        if not offsets:
            return []
        middle = statistics.median(offsets.values())
        return [p for p, o in offsets.items() if abs(o - middle) <= self.bound_ms]
