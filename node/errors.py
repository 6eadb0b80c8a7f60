"""Errors raised by the node runtime (ledger errors live in ledger/errors.py).

The tree::

    MinutebookError (ledger/errors.py)
    └── NodeError                         500
        ├── NoLeader(retry_after)         503  no leader known yet; Retry-After seconds
        ├── Overloaded(retry_after)       503  too much admitted and not yet committed; Retry-After
        ├── SubmitTimeout(doc_id)         504  not committed and certified in time
        ├── ForwardFailed(leader, reason) 502  the leader could not be reached
        ├── Unauthenticated(route)        401  a content route was asked without a signature or session
        ├── OutOfScope(scope, what)       403  the caller's scope (node/scopes.py) does not reach the answer
        └── TransportError                     peer links (node/transport.py)
            ├── PeerRejected(peer, reason)     handshake refused (unregistered key, ...)
            └── FrameError(reason)             a frame that cannot be decoded or is too large

Each carries `http_status`, like the ledger's, so `node/api.py` maps them in one place.
"""

from __future__ import annotations

from ledger.errors import MinutebookError

__all__ = [
    "NodeError",
    "NoLeader",
    "Overloaded",
    "SubmitTimeout",
    "ForwardFailed",
    "Unauthenticated",
    "OutOfScope",
    "TransportError",
    "PeerRejected",
    "FrameError",
]


class NodeError(MinutebookError):
    http_status = 500
    code = "node_error"


class NoLeader(NodeError):
    http_status = 503
    code = "no_leader"

    def __init__(self, retry_after: float = 1.0, message: str = "no leader is known yet; retry shortly") -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Overloaded(NodeError):
    """Back-pressure: the leader holds as many admitted, uncommitted documents as it may
    (``limits.max_pending_documents``); nothing was admitted. Retry after `retry_after` s."""

    http_status = 503
    code = "overloaded"

    def __init__(self, retry_after: float = 1.0, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message or "the node holds as many uncommitted documents as it may; retry shortly")


class SubmitTimeout(NodeError):
    http_status = 504
    code = "timeout"

    def __init__(self, doc_id: str, message: str | None = None) -> None:
        self.doc_id = doc_id
        super().__init__(message or f"document {doc_id} was accepted but not committed and certified in time")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["doc_id"] = self.doc_id
        return d


class ForwardFailed(NodeError):
    http_status = 502
    code = "forward_failed"

    def __init__(self, leader: str, reason: str) -> None:
        self.leader = leader
        super().__init__(f"could not forward to leader {leader}: {reason}")


class Unauthenticated(NodeError):
    """A route that answers content was asked by nobody: no RFC 9421 signature
    and no session. The message says what to send (node/auth.py)."""

    http_status = 401
    code = "unauthenticated"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class OutOfScope(NodeError):
    """The caller is known, but its scope (node/scopes.py) does not reach what it
    asked for. `scope` describes the caller's scope in words; `field` names the
    request part that pointed outside it."""

    http_status = 403
    code = "out_of_scope"

    def __init__(self, scope: str, what: str, field: str | None = None) -> None:
        self.scope = scope
        self.field = field
        super().__init__(f"{what} is outside your scope ({scope})")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["scope"] = self.scope
        if self.field:
            d["field"] = self.field
        return d


class TransportError(NodeError):
    """A peer link failed (node/transport.py). Never reaches an HTTP client directly."""

    http_status = 502
    code = "transport"


class PeerRejected(TransportError):
    """The TLS handshake or the registry check refused a peer.

    `peer` is the node id we dialled, or the address of an inbound connection
    whose identity could not be established; `reason` says which check failed.
    """

    code = "peer_rejected"

    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        self.reason = reason
        super().__init__(f"peer {peer} rejected: {reason}")


class FrameError(TransportError):
    """A frame that cannot be encoded or decoded, or is over the size limit.

    `reason` names the rule broken. The link that carried it is closed: after
    a bad length prefix the byte stream cannot be resynchronised. `frames`
    holds the good frames an incremental decoder completed before the bad one.
    """

    code = "bad_frame"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.frames: list[dict] = []
        super().__init__(f"bad frame: {reason}")
