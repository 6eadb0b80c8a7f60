"""Batch submission (``POST /v1/documents:batch``): the per-envelope results, in one place.

A batch is many canonical envelopes in one request; each gets its own result,
in request order, and one envelope's failure never fails the others. A
result is one of::

    {"doc_id": <hex>, "status": "pending"}                      admitted and journaled (fsynced)
    {"doc_id": <hex>, "status": "committed", "receipt": {...}}  with ?wait=committed: in a certified block
    {"doc_id": <hex>, "status": "already_committed", "receipt": {...}}
                                                                in the ledger before this request (the
                                                                receipt is null in the instant its
                                                                block is being applied: GET it)
    {"doc_id": <hex> | null, "status": "error", "http_status": 403,
     "error": "not_permitted", "message": "...", "field"?: "..."}
                                                                refused; the same error (code,
                                                                message, field) and HTTP status a
                                                                single POST /v1/documents would get

``doc_id`` is null only for bytes that do not even decode into a document.
With ``?wait=committed`` a document not committed and certified before the
timeout gets ``status: "error"`` with ``error: "timeout"`` (504); one rejected
when its block applied gets ``error: "rejected"`` (422). The batch as a whole
is refused (an ordinary error answer, nothing admitted) only for what concerns
every envelope at once: a malformed body (400), too many envelopes or bytes
(413), no leader (503 ``no_leader``), or a node that is full (503
``overloaded``); both 503s carry Retry-After, and re-sending the whole batch
is safe, because a document's id is its hash.
"""

from __future__ import annotations

from typing import Any, Iterable

from ledger.errors import AlreadyCommitted, MinutebookError

__all__ = ["MAX_BATCH_DOCUMENTS", "PENDING", "COMMITTED", "ALREADY_COMMITTED", "ERROR", "pending", "committed",
           "already_committed", "failed", "counts"]

MAX_BATCH_DOCUMENTS = 1000  # envelopes in one batch request (limits.max_batch_documents)

PENDING, COMMITTED, ALREADY_COMMITTED, ERROR = "pending", "committed", "already_committed", "error"


def pending(doc_id: str) -> dict[str, Any]:
    return {"doc_id": doc_id, "status": PENDING}


def committed(doc_id: str, receipt: dict) -> dict[str, Any]:
    return {"doc_id": doc_id, "status": COMMITTED, "receipt": receipt}


def already_committed(doc_id: str, receipt: dict) -> dict[str, Any]:
    return {"doc_id": doc_id, "status": ALREADY_COMMITTED, "receipt": receipt}


def failed(doc_id: str | None, exc: MinutebookError) -> dict[str, Any]:
    """The result for an envelope refused with `exc` (an AlreadyCommitted is a success)."""
    if isinstance(exc, AlreadyCommitted):
        return already_committed(exc.doc_id, exc.receipt)
    body = exc.to_dict()
    if isinstance(body.get("http_status"), int):  # a pass-through of another node's result keeps its status
        status = body.pop("http_status")
    else:
        status = getattr(exc, "http_status", 500)
    return {"doc_id": doc_id, "status": ERROR, "http_status": status, **{k: v for k, v in body.items()
                                                                          if k not in ("doc_id", "status")}}


def counts(results: Iterable[dict]) -> dict[str, int]:
    """How many results of each status: ``{pending, committed, already_committed, error}``."""
    out = {PENDING: 0, COMMITTED: 0, ALREADY_COMMITTED: 0, ERROR: 0}
    for result in results:
        out[result["status"]] = out.get(result["status"], 0) + 1
    return out
