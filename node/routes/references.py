"""Route: the documents that refer to a document (its amendments, a directive's
acknowledgements and reports, a resolution's task reports, a poll's ballots
and close), from the ledger's ``i/r/`` index (``Ledger.documents_by("ref",
doc_id)``: accepted documents whose ``refs`` name it, by ``created_at`` then leaf).

``GET /v1/documents/{doc_id}/references?limit=N&offset=K`` answers ``{doc_id,
items: [{doc_id, type, org, created_at, height}], offset, more}``. The caller
must read the document itself (403 otherwise, as ``GET /v1/documents/{id}``),
and each item is listed only if the caller reads it too (node/scopes.py), so
a page of fewer than ``limit`` items may still have ``more``. A page costs
``offset + limit`` index reads: a directive to a whole province has thousands
of acknowledgements, and a reader pages through them in hundreds.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ..auth import Access, access, can_read, require_document
from ..responses import check_doc_id, respond

__all__ = ["add_routes", "MAX_REFERENCES_PER_PAGE"]

MAX_REFERENCES_PER_PAGE = 500


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.get("/v1/documents/{doc_id}/references", tags=["documents"], openapi_extra=access(Access.MEMBER),
             responses={400: {"description": "malformed input; `field` names what is wrong"},
                        403: {"description": "the document is outside your scope"},
                        404: {"description": "no such document"}})
    async def get_references(
        request: Request, doc_id: str,
        limit: int = Query(100, ge=1, le=MAX_REFERENCES_PER_PAGE),
        offset: int = Query(0, ge=0, description="how many referring documents to pass over"),
    ) -> Response:
        """`{doc_id, items: [{doc_id, type, org, created_at, height}], offset, more}`: the documents
        whose `refs` name this one (amendments, acknowledgements, reports, ballots), oldest first."""
        concerns = ledger.document(check_doc_id(doc_id))["doc"]
        require_document(request, concerns, f"document {doc_id}")
        found = list(ledger.documents_by("ref", doc_id, limit=offset + limit + 1))
        page = found[offset:offset + limit]
        items = [{"doc_id": d["doc_id"], "type": d["doc"]["type"], "org": d["doc"]["org"],
                  "created_at": d["doc"]["created_at"], "height": d["height"]}
                 for d in page if can_read(request, d["doc"])]
        return respond(request, {"doc_id": doc_id, "items": items, "offset": offset,
                                 "more": len(found) > offset + limit})
