"""What the HTTP API needs from a node: the ``NodeService`` protocol (docs/node-runtime.md).

``node/api.py`` builds its FastAPI app from any object with this shape;
``node.runtime.NodeRuntime`` is the real one, ``tests/node/service_double.py``
a stand-in over a bare ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from ledger.ledger import Ledger
    from node.metrics import Metrics
    from views import Views

__all__ = ["NodeService"]


class NodeService(Protocol):
    node_id: str
    ledger: "Ledger"
    views: "Views"  # the read models the ledger feeds (views/); queries read them through views.reader()
    metrics: "Metrics"

    async def submit(self, envelope: bytes, *, wait: bool, timeout: float = 30.0) -> dict[str, Any]:
        """Admit `envelope` (on the leader) or forward it to the leader.

        Returns ``{"doc_id", "status": "pending" | "committed", "receipt"?}``; with
        `wait`, only once the block holding it is applied here AND certified.
        Raises the ledger's typed errors, ``NoLeader``, ``SubmitTimeout``,
        ``ForwardFailed``, or ``LeaderAnswered`` (the leader's own error, passed through).
        """
        ...

    async def submit_batch(self, envelopes: list[bytes], *, wait: bool, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Admit (or forward) many envelopes; one result per envelope, in order (node/batch.py).
        Raises only what concerns the whole batch: ``NoLeader``, ``Overloaded``, ``ForwardFailed``."""
        ...

    def status(self) -> dict[str, Any]:
        """role, term, leader, commit_index, applied_index, height, peers: {id: {match_index, last_contact_ms}}."""
        ...

    async def read_barrier(self) -> None:
        """ReadIndex (thesis §6.4): returns once this node applied at least a fresh read index."""
        ...
