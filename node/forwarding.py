"""A follower forwards submissions to the leader over the peer link, in batches.

Theory of operation
-------------------
Only the leader admits documents (node-runtime.md). A follower hands what it
is given -- one envelope from ``POST /v1/documents``, many from the batch
route -- to :meth:`Forwarder.forward`, which queues them for the leader. One
sender per leader sends whatever has queued as a single ``submit`` frame on
the authenticated peer link (node/transport.py)::

    {"kind": "submit", "id": <int>, "envelopes": [<bin>, ...]}

with at most ``max_inflight`` frames unanswered at a time. While those are
out, new submissions pile up and leave together in the next frame: the busier
the node, the larger the batches (group forwarding, as the intake journal
group-commits), while a lone submission waits one round trip. A frame holds
at most ``max_documents`` envelopes and about ``max_bytes`` bytes.

The leader admits a frame's envelopes as one batch (``NodeRuntime
.submit_batch``: checked, journaled with one fsync, pooled) and answers::

    {"kind": "submitted", "id": <int>, "results": [<result>, ...]}   one per envelope (node/batch.py)
    {"kind": "submitted", "id": <int>, "error": {"http_status", "error", "message", "retry_after"?}}

the second when the frame is refused whole (it no longer leads, it is full).
Each caller gets its own slice of the results, in order; a refusal is raised
as ``NoLeader`` / ``Overloaded`` (503, Retry-After kept) or
:class:`LeaderAnswered` (any other status, body unchanged, so the API renders
it as the leader said it).

When the leader changes, what is queued or unanswered for the old one is sent
again to the new one (a document's id is its hash: sending twice admits it
once); with no leader known it fails with ``NoLeader``. An answer that does
not come within ``answer_timeout`` fails its callers with ``ForwardFailed``
(502): the link or the leader is gone, and the client may retry.

Why not HTTP: forwarding each document as its own HTTP request to the
leader's API cost both nodes an HTTP exchange per document (profiled: the
follower's httpx/httpcore pool and the leader's request parsing were among
the top frames under load), and the peer link is already open,
authenticated and ordered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from node.errors import ForwardFailed, NodeError, NoLeader, Overloaded

__all__ = ["Forwarder", "LeaderAnswered", "frame_error", "raise_frame_error"]

log = logging.getLogger("minutebook.forwarding")


class LeaderAnswered(NodeError):
    """The leader refused a forwarded submission; its status and body pass through unchanged."""

    code = "leader_answered"

    def __init__(self, leader: str, status: int, body: dict, retry_after: str | float | None = None) -> None:
        self.leader = leader
        self.http_status = status
        self.body = body
        self.retry_after = retry_after
        super().__init__(str(body.get("message", f"leader {leader} answered {status}")))

    def to_dict(self) -> dict:
        return dict(self.body)


def frame_error(exc: NodeError) -> dict[str, Any]:
    """The ``error`` of a ``submitted`` frame that refuses a whole frame."""
    body = exc.to_dict()
    body["http_status"] = exc.http_status
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, (int, float)):
        body["retry_after"] = retry_after
    return body


def raise_frame_error(leader: str, error: Any) -> None:
    """Raise what a ``submitted`` frame's ``error`` says, as the typed error it was."""
    if not isinstance(error, dict) or type(error.get("http_status")) is not int:
        raise ForwardFailed(leader, "answered with a malformed refusal")
    body = {k: v for k, v in error.items() if k != "http_status"}
    retry = body.get("retry_after")
    retry = float(retry) if isinstance(retry, (int, float)) and not isinstance(retry, bool) else 1.0
    code = body.get("error")
    if code == "no_leader":
        raise NoLeader(retry_after=retry, message=str(body.get("message", "no leader")))
    if code == "overloaded":
        raise Overloaded(retry_after=retry, message=str(body.get("message", "overloaded")))
    raise LeaderAnswered(leader, error["http_status"], body, retry)


@dataclass(eq=False)
class _Item:
    envelopes: list[bytes]
    future: asyncio.Future
    size: int


@dataclass(eq=False)
class _Frame:
    leader: str
    items: list[_Item]
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Queue:
    items: list[_Item] = field(default_factory=list)
    inflight: int = 0


class Forwarder:
    """See the module docstring. `send(peer, frame) -> bool` queues a frame on the peer link
    (False when there is no link to that peer)."""

    def __init__(self, send: Callable[[str, dict], bool], *, max_inflight: int = 2, max_documents: int = 1000,
                 max_bytes: int = 8 << 20, answer_timeout: float = 10.0) -> None:
        self.send = send
        self.max_inflight = max_inflight
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self.answer_timeout = answer_timeout
        self._queues: dict[str, _Queue] = {}
        self._frames: dict[int, _Frame] = {}
        self._next_id = 1
        self.frames_sent = 0

    async def forward(self, leader: str, envelopes: list[bytes]) -> list[dict[str, Any]]:
        """The leader's result for each of `envelopes`, in order (node/batch.py); raises what
        the leader refused the whole frame with, or ForwardFailed."""
        future = asyncio.get_running_loop().create_future()
        self._queues.setdefault(leader, _Queue()).items.append(
            _Item(list(envelopes), future, sum(len(e) for e in envelopes)))
        self._pump(leader)
        return await future

    def leader_changed(self, leader: str | None, own_id: str) -> None:
        """Send again to `leader` what waits on another node; fail it if there is no leader."""
        moved: list[_Item] = []
        for old in [k for k in self._queues if k != leader]:
            moved.extend(self._queues.pop(old).items)
        for frame_id in [i for i, f in self._frames.items() if f.leader != leader]:
            frame = self._frames.pop(frame_id)
            if frame.timer is not None:
                frame.timer.cancel()
            moved.extend(item for item in frame.items if not item.future.done())
        if not moved:
            return
        if leader is None or leader == own_id:
            for item in moved:
                if not item.future.done():
                    item.future.set_exception(NoLeader(retry_after=0.5, message="the leader changed; retry"))
            return
        self._queues.setdefault(leader, _Queue()).items[:0] = moved
        self._pump(leader)

    def on_submitted(self, peer: str, frame: dict) -> bool:
        """A ``submitted`` frame; False if it answers nothing we sent that peer, or is malformed."""
        pending = self._frames.get(frame.get("id")) if type(frame.get("id")) is int else None
        if pending is None or pending.leader != peer:
            return False
        del self._frames[frame["id"]]
        if pending.timer is not None:
            pending.timer.cancel()
        queue = self._queues.get(peer)
        if queue is not None:
            queue.inflight -= 1
        results = frame.get("results")
        count = sum(len(item.envelopes) for item in pending.items)
        if "error" in frame:
            try:
                raise_frame_error(peer, frame["error"])
            except NodeError as exc:
                self._fail(pending.items, exc)
        elif not isinstance(results, list) or len(results) != count or not all(
                isinstance(r, dict) and isinstance(r.get("status"), str) for r in results):
            self._fail(pending.items, ForwardFailed(peer, "answered without one result per envelope"))
        else:
            at = 0
            for item in pending.items:
                if not item.future.done():
                    item.future.set_result(results[at:at + len(item.envelopes)])
                at += len(item.envelopes)
        self._pump(peer)
        return True

    def close(self) -> None:
        for frame in self._frames.values():
            if frame.timer is not None:
                frame.timer.cancel()
            self._fail(frame.items, NoLeader(retry_after=1.0, message="the node is stopping"))
        for queue in self._queues.values():
            self._fail(queue.items, NoLeader(retry_after=1.0, message="the node is stopping"))
        self._frames.clear()
        self._queues.clear()

    # ------------------------------------------------------------- sending

    def _pump(self, leader: str) -> None:
        queue = self._queues.get(leader)
        while queue is not None and queue.items and queue.inflight < self.max_inflight:
            items: list[_Item] = []
            count = size = 0
            while queue.items:
                item = queue.items[0]
                if items and (count + len(item.envelopes) > self.max_documents or size + item.size > self.max_bytes):
                    break
                items.append(queue.items.pop(0))
                count += len(item.envelopes)
                size += item.size
            items = [item for item in items if not item.future.done()]  # a caller that gave up
            if not items:
                continue
            frame_id = self._next_id
            self._next_id += 1
            envelopes = [e for item in items for e in item.envelopes]
            try:
                sent = self.send(leader, {"kind": "submit", "id": frame_id, "envelopes": envelopes})
            except NodeError as exc:  # too large for a frame, say
                self._fail(items, ForwardFailed(leader, str(exc)))
                continue
            if not sent:
                self._fail(items, ForwardFailed(leader, "no link to the leader"))
                continue
            self.frames_sent += 1
            queue.inflight += 1
            frame = _Frame(leader, items)
            frame.timer = asyncio.get_running_loop().call_later(self.answer_timeout, self._expire, frame_id)
            self._frames[frame_id] = frame

    def _expire(self, frame_id: int) -> None:
        frame = self._frames.pop(frame_id, None)
        if frame is None:
            return
        queue = self._queues.get(frame.leader)
        if queue is not None:
            queue.inflight -= 1
        self._fail(frame.items, ForwardFailed(frame.leader, f"no answer within {self.answer_timeout:.0f} s"))
        self._pump(frame.leader)

    @staticmethod
    def _fail(items: list[_Item], exc: Exception) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(exc)
