"""Routes for auditors: tree heads, consistency proofs, blocks and their envelopes.

Tree heads, consistency proofs and blocks are public: they prove integrity
without content. A Block object holds the header, the certificate and, per
document, its id, leaf and status; ids are SHA-256 of documents that carry a
16-byte random nonce, so they reveal nothing of the content and cannot be
guessed from it. Rejection reasons can name members, units and field values,
so they are cut to their error code unless the caller reads everything
(node/scopes.py ``redact_block``). The envelopes of a block are content:
class ``auditor`` (a node key, or an inspector of the root unit).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.errors import InvalidInput
from ledger.jsonfmt import b64e
from ledger.sealing import envelope_of

from ..auth import Access, access, scope_of
from ..responses import check_doc_id, respond
from ..scopes import redact_block

__all__ = ["add_routes", "MAX_BLOCKS_PER_PAGE"]

MAX_BLOCKS_PER_PAGE = 100

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    404: {"description": "no such block"},
}


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.get("/v1/tree-head", tags=["log"], openapi_extra=access(Access.PUBLIC))
    async def get_tree_head(request: Request, certified: bool = False) -> Response:
        """The signed tree head of the latest block (`?certified=true`: the latest certified one)."""
        return respond(request, ledger.tree_head(certified=certified))

    @app.get("/v1/proofs/consistency", tags=["log"], responses=_ERRORS, openapi_extra=access(Access.PUBLIC))
    async def get_consistency(request: Request, first: int = Query(..., ge=1), second: int = Query(..., ge=1)) -> Response:
        """`{first, second, proof}`: RFC 9162 §2.1.4 consistency between two log sizes."""
        return respond(request, ledger.consistency_proof(first, second))

    @app.get("/v1/proofs/inclusion", tags=["log"], responses=_ERRORS, openapi_extra=access(Access.PUBLIC))
    async def get_inclusion(
        request: Request,
        doc_id: str = Query(..., description="the document's id (SHA-256 of its canonical doc, hex)"),
        leaf_hash: str = Query(..., description="SHA-256(0x00 ‖ canonical envelope), hex: proves you hold it"),
    ) -> Response:
        """`{doc_id, leaf_index, leaf_hash, height, block_hash, log_size, log_root, inclusion_proof}`:
        RFC 9162 §2.1.3 audit path of the document's leaf against the block holding it, without content
        (check it against that block's certified header, `GET /v1/blocks/{height}`)."""
        check_doc_id(doc_id)
        if not re.fullmatch(r"[0-9a-f]{64}", leaf_hash):
            raise InvalidInput("leaf_hash", "expected 64 lowercase hex characters")
        return respond(request, ledger.inclusion(doc_id, leaf_hash))

    @app.get("/v1/blocks", tags=["log"], openapi_extra=access(Access.PUBLIC))
    async def list_blocks(
        request: Request,
        from_: int | None = Query(None, alias="from", ge=1, description="first height (default: the latest page)"),
        limit: int = Query(20, ge=1, le=MAX_BLOCKS_PER_PAGE),
    ) -> Response:
        """`{height, blocks: [block…]}` in ascending height from `from`."""
        height = ledger.height
        start = from_ if from_ is not None else max(1, height - limit + 1)
        scope = scope_of(request)
        blocks = [redact_block(scope, ledger.block(h)) for h in range(start, min(height, start + limit - 1) + 1)]
        return respond(request, {"height": height, "blocks": blocks})

    @app.get("/v1/blocks/{height}", tags=["log"], responses=_ERRORS, openapi_extra=access(Access.PUBLIC))
    async def get_block(request: Request, height: int) -> Response:
        """The Block object (DESIGN.md Formats); rejection reasons cut to their code unless you read everything."""
        return respond(request, redact_block(scope_of(request), ledger.block(height)))

    @app.get("/v1/blocks/{height}/envelopes", tags=["log"], responses=_ERRORS, openapi_extra=access(Access.AUDITOR))
    async def get_block_envelopes(request: Request, height: int) -> Response:
        """`{height, block_hash, envelopes: [b64url…]}`: the block's canonical envelopes in
        block order (accepted and rejected), for auditors that replay the log
        (`minutebook audit`)."""
        proposal = ledger.proposal(height)
        return respond(request, {"height": height, "block_hash": ledger.header(height).block_hash,
                                 "envelopes": [b64e(envelope_of(e)) for e in proposal.envelopes]})
