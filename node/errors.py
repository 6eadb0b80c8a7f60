"""Errors raised by the node runtime (ledger errors live in ledger/errors.py).

The tree::

    MinutebookError (ledger/errors.py)
    └── NodeError                         500
        ├── NoLeader(retry_after)         503  no leader known yet; Retry-After seconds
        ├── Overloaded(retry_after)       503  too much admitted and not yet committed; Retry-After
        ├── SubmitTimeout(doc_id)         504  not committed and certified in time
        ├── ForwardFailed(leader, reason) 502  the leader could not be reached
        ├── WitnessRefused(status, code)  4xx  a tlog-witness add-checkpoint refused with
        │   │                                  the status the spec gives (node/witness.py)
        │   ├── WitnessConflict(known_size) 409 the old size is not the witness's; the
        │   │                                   answer is "<known size>\n", text/x.tlog.size
        │   └── WitnessUnavailable(retry_after) 503 its disk refused the new state; nothing
        │                                       was cosigned; Retry-After
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
    "WitnessRefused",
    "WitnessConflict",
    "WitnessUnavailable",
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


class WitnessRefused(NodeError):
    """c2sp.org/tlog-witness: the witness does not cosign; `http_status` is the
    status the spec gives for the reason (400, 403, 404 or 422)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.http_status = status
        self.code = code
        self.field = field
        super().__init__(message)

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.field:
            d["field"] = self.field
        return d


class WitnessConflict(WitnessRefused):
    """The request's old size is not the size of the latest checkpoint the
    witness cosigned for the origin (tlog-witness: 409, the body is that size)."""

    def __init__(self, known_size: int, old_size: int) -> None:
        self.known_size = known_size
        super().__init__(409, "conflict", f"old size {old_size} is not the size the witness cosigned last, "
                                          f"{known_size}", "old")


class WitnessUnavailable(WitnessRefused):
    """The witness's store refused to write the new state (ledger.store.StoreWriteError,
    a full disk most often): no cosignature is given, the state stays the last one
    written, and the node stops (node/runtime.py); retry after `retry_after` seconds,
    here once it restarts or at another witness."""

    def __init__(self, retry_after: float = 5.0) -> None:
        self.retry_after = retry_after
        super().__init__(503, "unavailable", "the witness cannot write its state to disk; nothing was cosigned; "
                                             "retry later")


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
