"""ReadIndex (Raft thesis §6.4; etcd ``read_only.go``): linearizable reads without a log write.

The leader records its commit index for the read, then confirms it is still
leader by a heartbeat round tagged with the read's context; once a majority
of voters answered, the read (and every read queued before it) is released
as a ``ReadState(index, context)``; the runtime serves it once applied >= index.
A follower forwards its read to the leader (ReadIndexRequest) and gets the
index back (ReadIndexResponse), as etcd does; contexts must be unique across
the cluster (e.g. node id + counter). A new leader answers reads only after an entry of its own term committed
(§6.4 step 1: until then its commit index may be stale); the core queues
them until then.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["ReadRequest", "ReadOnly"]


@dataclass(slots=True)
class ReadRequest:
    index: int
    context: bytes
    requester: str                      # this node, or the follower that forwarded the read
    acks: set[str] = field(default_factory=set)


class ReadOnly:
    """Pending reads in arrival order, keyed by context."""

    __slots__ = ("pending", "queue")

    def __init__(self) -> None:
        self.pending: dict[bytes, ReadRequest] = {}
        self.queue: deque[bytes] = deque()

    def add_request(self, index: int, context: bytes, self_id: str, requester: str) -> None:
        if context in self.pending:
            return
        self.pending[context] = ReadRequest(index=index, context=context, requester=requester, acks={self_id})
        self.queue.append(context)

    def recv_ack(self, src: str, context: bytes) -> set[str] | None:
        request = self.pending.get(context)
        if request is None:
            return None
        request.acks.add(src)
        return request.acks

    def advance(self, context: bytes) -> list[ReadRequest]:
        """Release the request for `context` and all queued before it."""
        if context not in self.pending:
            return []
        released = []
        while self.queue:
            ctx = self.queue.popleft()
            released.append(self.pending.pop(ctx))
            if ctx == context:
                break
        return released

    def last_pending_context(self) -> bytes | None:
        return self.queue[-1] if self.queue else None

    def reset(self) -> None:
        self.pending.clear()
        self.queue.clear()
