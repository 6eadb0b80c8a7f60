"""Routes of the C2SP tlog-witness protocol (node/witness.py), served when the
node is configured as a witness; the submission and monitoring prefix is the
node's API URL.

| route | answer |
|---|---|
| ``POST /add-checkpoint`` | the spec's body (old size, proof, checkpoint) -> 200 cosignature line(s), ``text/plain``; 409 ``<size>\\n`` as ``text/x.tlog.size``; 400/403/404/413/422 as the spec says, with our JSON error body; 503 ``unavailable`` with ``Retry-After`` if its disk refuses the new state |
| ``GET /{origin_hash}/checkpoint`` | the latest checkpoint cosigned for the origin whose SHA-256 is ``origin_hash`` (lowercase hex), ``text/plain`` |

Access class ``public`` (node/auth.py): a checkpoint proves integrity
without revealing content, and tlog-witness authenticates nothing but the
checkpoint's signatures.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ledger.errors import NotFound

from ..auth import Access, access
from ..errors import WitnessConflict, WitnessRefused
from ..witness import SIZE_MEDIA_TYPE
from .checkpoints import note_response

__all__ = ["add_routes"]


def add_routes(app: FastAPI, service: Any) -> None:
    witness = getattr(service, "witness", None)

    @app.post("/add-checkpoint", tags=["witness"], response_class=Response, openapi_extra={
        **access(Access.PUBLIC),  # tlog-witness: no authentication beyond the checkpoint's own signatures
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {
            "type": "string", "description": "old <size>, consistency proof lines, an empty line, the checkpoint"}}}},
    }, responses={
        200: {"content": {"text/plain": {}}, "description": "the witness's cosignature line(s)"},
        400: {"description": "the body is malformed, or the old size exceeds the checkpoint's"},
        403: {"description": "not signed by enough trusted keys, or a trusted key's signature fails"},
        404: {"description": "an origin this node does not witness"},
        409: {"content": {SIZE_MEDIA_TYPE: {}}, "description": "the size the witness last cosigned, then a newline"},
        413: {"description": "body over 64 KiB"},
        422: {"description": "not consistent with the checkpoint cosigned last"},
        503: {"description": "the witness's disk refused the new state; nothing was cosigned; Retry-After"},
    })
    async def add_checkpoint(request: Request) -> Response:
        """c2sp.org/tlog-witness add-checkpoint: cosign a checkpoint that extends the last one cosigned."""
        if witness is None:
            raise WitnessRefused(404, "unknown_origin", "this node witnesses no log", "checkpoint.origin")
        body = await request.body()
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, body)  # fsyncs; keep the loop serving
        except WitnessConflict as exc:
            # Exactly this Content-Type, without "; charset" (the transparency-dev witness client compares it
            # whole); Starlette would append a charset to a media_type beginning "text/".
            return Response(content=f"{exc.known_size}\n".encode(), status_code=409,
                            headers={"content-type": SIZE_MEDIA_TYPE})
        return note_response(lines)

    @app.get("/{origin_hash}/checkpoint", tags=["witness"], response_class=Response,
             openapi_extra=access(Access.PUBLIC), responses={
        200: {"content": {"text/plain": {}}, "description": "the latest cosigned checkpoint of the origin"},
        404: {"description": "this witness never cosigned a checkpoint of that origin"}})
    async def get_witnessed_checkpoint(
        origin_hash: str = Path(..., pattern="^[0-9a-f]{64}$", description="lowercase hex SHA-256 of the origin"),
    ) -> Response:
        """tlog-witness monitoring: the latest checkpoint this witness cosigned for the origin."""
        note = witness.latest_by_hash(origin_hash) if witness is not None else None
        if note is None:
            raise NotFound(f"a cosigned checkpoint of the origin with SHA-256 {origin_hash}")
        return note_response(note)
