"""A seeded, lossy network for the simulator: drops, delays, duplicates, reorders, partitions.

Modelled on the ``network`` in etcd-io/raft ``raft_test.go`` (``cut``, ``isolate``,
``drop``, ``recover``), with time: a message sent at tick ``t`` is due at
``t + delay``; due messages are handed out in an order chosen by the seeded rng,
which is how reordering happens. Links are directed, so a partition can be
one-way (asymmetric) or leave one node seeing both sides (a bridge).
Partitions are checked at delivery time: a link cut while a message is in
flight loses it, as a real link would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = ["Network", "NetworkFaults", "NetworkStats", "format_message"]


@dataclass
class NetworkStats:
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    blocked: int = 0


@dataclass
class Network:
    """In-flight messages keyed by due tick; faults are data, the rng decides each message's fate."""

    rng: random.Random
    drop_rate: float = 0.0          # chance any message is lost
    dup_rate: float = 0.0           # chance a message is delivered twice
    max_delay: int = 0              # ticks; each message is delayed uniformly in [0, max_delay]
    link_drop: dict[tuple[str, str], float] = field(default_factory=dict)
    blocked: set[tuple[str, str]] = field(default_factory=set)
    held: set[tuple[str, str]] = field(default_factory=set)   # queued, not delivered, not lost
    stats: NetworkStats = field(default_factory=NetworkStats)
    # Messages lost on a cut link since the simulator last looked: a transport notices a dead
    # link and the runtime reports it (``report_unreachable`` / ``report_snapshot``).
    lost_on_cut: list[Any] = field(default_factory=list)
    # Invariant: every queued message has due >= the tick it was sent at.
    _queue: list[tuple[int, int, Any]] = field(default_factory=list)
    _seq: int = 0

    # -- faults --------------------------------------------------------------

    def cut(self, src: str, dst: str) -> None:
        """Block the one-way link ``src -> dst``."""
        self.blocked.add((src, dst))

    def partition(self, a_side: Iterable[str], b_side: Iterable[str], *,
                  one_way: bool = False) -> None:
        """Cut every link between the sides; with ``one_way`` only a -> b is cut."""
        b_list = sorted(b_side)
        for a in sorted(a_side):
            for b in b_list:
                if a == b:
                    continue
                self.blocked.add((a, b))
                if not one_way:
                    self.blocked.add((b, a))

    def isolate(self, node: str, everyone: Iterable[str]) -> None:
        self.partition([node], [n for n in everyone if n != node])

    def drop(self, src: str, dst: str, prob: float) -> None:
        """Lose each message on ``src -> dst`` with probability ``prob`` (1.0: always)."""
        self.link_drop[(src, dst)] = prob

    def hold(self, src: str, dst: str) -> None:
        """Keep messages on ``src -> dst`` in flight until ``release``: an arbitrarily long delay
        (a retransmitting link), so they arrive after the terms have moved on."""
        self.held.add((src, dst))

    def release(self) -> None:
        self.held.clear()

    def heal(self) -> None:
        """Every link up, no loss, held messages released; delays and duplication are kept
        (``calm`` clears them)."""
        self.held.clear()
        self.blocked.clear()
        self.link_drop.clear()
        self.drop_rate = 0.0

    def calm(self) -> None:
        """A perfect network from now on (messages already in flight keep their due tick)."""
        self.heal()
        self.dup_rate = 0.0
        self.max_delay = 0

    def forget_to(self, node: str) -> int:
        """Lose every in-flight message addressed to ``node`` (it crashed)."""
        before = len(self._queue)
        self._queue = [item for item in self._queue if item[2].dst != node]
        lost = before - len(self._queue)
        self.stats.dropped += lost
        return lost

    # -- traffic -------------------------------------------------------------

    def send(self, now: int, messages: Iterable[Any]) -> None:
        rng = self.rng
        queue = self._queue
        for msg in messages:
            self.stats.sent += 1
            copies = 1
            if self.dup_rate and rng.random() < self.dup_rate:
                copies = 2
                self.stats.duplicated += 1
            for _ in range(copies):
                delay = rng.randint(0, self.max_delay) if self.max_delay else 0
                self._seq += 1
                queue.append((now + delay, self._seq, msg))

    def requeue(self, now: int, messages: Iterable[Any]) -> None:
        """Put messages taken by ``take_due`` back, due now, their fate already decided."""
        for msg in messages:
            self._seq += 1
            self._queue.append((now, self._seq, msg))

    def pending(self) -> int:
        return len(self._queue)

    def has_due(self, now: int) -> bool:
        for item in self._queue:
            if item[0] <= now:
                return True
        return False

    def take_due(self, now: int) -> list[Any]:
        """Remove and return the messages due by ``now`` that survive the links, shuffled."""
        queue = self._queue
        if not queue:
            return []
        due = []
        keep = []
        held = self.held
        for item in queue:
            if item[0] > now or (held and (item[2].src, item[2].dst) in held):
                keep.append(item)
            else:
                due.append(item)
        if not due:
            return []
        self._queue = keep
        due.sort(key=lambda item: item[1])
        if len(due) > 1 and (self.max_delay or self.dup_rate or self.drop_rate):
            self.rng.shuffle(due)
        out = []
        rng = self.rng
        blocked = self.blocked
        link_drop = self.link_drop
        drop_rate = self.drop_rate
        for _, _, msg in due:
            link = (msg.src, msg.dst)
            if link in blocked:
                self.stats.blocked += 1
                self.lost_on_cut.append(msg)
                continue
            prob = link_drop.get(link, 0.0) if link_drop else 0.0
            if drop_rate:
                prob = max(prob, drop_rate)
            if prob and rng.random() < prob:
                self.stats.dropped += 1
                continue
            out.append(msg)
        self.stats.delivered += len(out)
        return out


def format_message(msg: Any) -> str:
    """One line for a trace: the message type and its fields, entries as term/index."""
    parts = []
    for name in getattr(msg, "__dataclass_fields__", {}):
        if name in ("src", "dst"):
            continue
        value = getattr(msg, name)
        if name == "entries":
            value = "[" + ",".join(f"{e.term}/{e.index}" for e in value) + "]"
        elif isinstance(value, bytes) and len(value) > 16:
            value = value[:16] + b"..."
        elif hasattr(value, "conf_state"):
            value = f"snap@{value.index}/{value.term}"
        parts.append(f"{name}={value}")
    return f"{type(msg).__name__}({', '.join(parts)})"


class NetworkFaults:
    """The simulator's network-fault API (etcd ``network``: cut, isolate, drop, recover), each
    fault recorded in the fault log. Mixed into ``Simulator``, which provides ``net``,
    ``ids()`` and ``_fault(text)``."""

    net: Network

    def ids(self) -> list[str]:  # pragma: no cover - provided by Simulator
        raise NotImplementedError

    def _fault(self, text: str) -> None:  # pragma: no cover - provided by Simulator
        raise NotImplementedError

    def partition(self, a_side: Iterable[str], b_side: Iterable[str]) -> None:
        a, b = sorted(a_side), sorted(b_side)
        self.net.partition(a, b)
        self._fault(f"partition {a} | {b}")

    def partition_one_way(self, a_side: Iterable[str], b_side: Iterable[str]) -> None:
        """Asymmetric partition: messages from a_side to b_side are lost, the reverse arrive."""
        a, b = sorted(a_side), sorted(b_side)
        self.net.partition(a, b, one_way=True)
        self._fault(f"one-way {a} -> {b}")

    def bridge(self, a_side: Iterable[str], b_side: Iterable[str], bridge: str) -> None:
        """Cut a_side from b_side; ``bridge`` (in neither) still sees both."""
        a = sorted(x for x in a_side if x != bridge)
        b = sorted(x for x in b_side if x != bridge)
        self.net.partition(a, b)
        self._fault(f"bridge {a} | {bridge} | {b}")

    def isolate(self, node_id: str) -> None:
        self.net.isolate(node_id, self.ids())
        self._fault(f"isolate {node_id}")

    def drop(self, src: str, dst: str, prob: float) -> None:
        self.net.drop(src, dst, prob)
        self._fault(f"drop {src}->{dst} {prob:.2f}")

    def lossy(self, drop_rate: float, dup_rate: float, max_delay: int) -> None:
        self.net.drop_rate, self.net.dup_rate, self.net.max_delay = drop_rate, dup_rate, max_delay
        self._fault(f"lossy drop={drop_rate:.2f} dup={dup_rate:.2f} delay<={max_delay}")

    def hold(self, src: str, dst: str) -> None:
        """Messages on ``src -> dst`` wait in flight until ``release`` or ``heal``."""
        self.net.hold(src, dst)
        self._fault(f"hold {src}->{dst}")

    def release(self) -> None:
        self.net.release()
        self._fault("release held links")

    def heal(self) -> None:
        self.net.heal()
        self._fault("heal")
