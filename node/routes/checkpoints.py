"""Routes for C2SP checkpoints: the latest signed one, one per height, and the
voters' verifier keys (ledger/checkpoint.py has the formats).

| route | answer |
|---|---|
| ``GET /checkpoint`` | ``text/plain``: the latest checkpoint a strict majority of its voters signed, as a C2SP signed note (the voters' lines, then the witnesses' cosignatures kept for its tree size) |
| ``GET /v1/checkpoints/{height}`` | ``text/plain``: block ``height``'s checkpoint note (404 until a majority signed it) |
| ``GET /v1/anchors?origin=O`` | JSON ``{origin, doc_id, size, root_hash, at_ms}``: the latest ``anchor`` document this ledger accepted for the lower ledger of origin O (404 if none) |
| ``GET /v1/verifier-keys?height=H`` | JSON ``{origin, height, signatures_required, keys: [{node_id, vkey}], witness?}``: the verifier keys of the voters that sign block H (default: the next block); ``witness`` is this node's cosigner key if it is a witness |

Checkpoints prove integrity without revealing content: these routes are of
access class ``public`` (node/auth.py), as are the witness routes in
witness.py. An anchor's answer is a lower ledger's tree size and root, no
content either.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response

from ledger.blocks import quorum_size
from ledger.checkpoint import CheckpointLog
from ledger.errors import NotFound
from ledger.registry import Registry

from ..auth import Access, access
from ..responses import respond

__all__ = ["add_routes", "NOTE_MEDIA_TYPE", "checkpoint_log"]

NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    404: {"description": "no such block, or its checkpoint is not signed by a majority yet"},
}


def checkpoint_log(service: Any) -> CheckpointLog:
    """The service's CheckpointLog (the runtime keeps one; a bare ledger gets its own)."""
    log = getattr(service, "checkpoints", None)
    return log if log is not None else CheckpointLog(service.ledger)


def note_response(note: bytes) -> Response:
    return Response(content=note, media_type=NOTE_MEDIA_TYPE, headers={"Cache-Control": "no-store"})


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger
    made: list[CheckpointLog] = []

    def log() -> CheckpointLog:  # made on first use: an app may be built over a stand-in without a store
        if not made:
            made.append(checkpoint_log(service))
        return made[0]

    @app.get("/checkpoint", tags=["checkpoints"], response_class=Response, openapi_extra=access(Access.PUBLIC),
             responses={
        200: {"content": {"text/plain": {}}, "description": "a C2SP checkpoint (signed note)"},
        404: {"description": "no checkpoint is signed by a majority yet"}})
    async def get_checkpoint() -> Response:
        """The latest signed checkpoint (c2sp.org/tlog-checkpoint), with the cosignatures kept for it."""
        checkpoints = log()
        height = checkpoints.latest_signed()
        if height == 0:
            raise NotFound("a checkpoint signed by a majority of the voters")
        return note_response(checkpoints.note(height))

    @app.get("/v1/checkpoints/{height}", tags=["checkpoints"], response_class=Response,
             openapi_extra=access(Access.PUBLIC), responses={
        200: {"content": {"text/plain": {}}, "description": "a C2SP checkpoint (signed note)"}, **_ERRORS})
    async def get_checkpoint_at(height: int = Path(..., ge=1)) -> Response:
        """Block `height`'s checkpoint, once a strict majority of its voters signed it."""
        ledger.header(height)  # NotFound beyond the head
        checkpoints = log()
        if not checkpoints.is_signed(height):
            raise NotFound(f"a checkpoint of block {height} signed by a majority of its voters")
        return note_response(checkpoints.note(height))

    @app.get("/v1/anchors", tags=["checkpoints"], responses=_ERRORS, openapi_extra=access(Access.PUBLIC))
    async def get_anchor(request: Request, origin: str = Query(..., min_length=1,
                                                                  description="the lower ledger's origin")) -> Response:
        """The latest anchor of a lower ledger in this ledger (its receipt: /v1/documents/{doc_id}/receipt)."""
        anchor = Registry(ledger.store).anchor(origin)
        if anchor is None:
            raise NotFound(f"an anchor of {origin!r}")
        return respond(request, {"origin": origin, "doc_id": anchor["doc_id"], "size": anchor["size"],
                                 "root_hash": anchor["root"].hex(), "at_ms": anchor["at_ms"]})

    @app.get("/v1/verifier-keys", tags=["checkpoints"], responses=_ERRORS, openapi_extra=access(Access.PUBLIC))
    async def get_verifier_keys(
        request: Request,
        height: int | None = Query(None, ge=1, description="the block whose signers to list (default: the next)"),
    ) -> Response:
        """The checkpoint verifier keys (c2sp.org/signed-note vkeys) of the voters that sign block `height`."""
        if height is None:
            height = ledger.height + 1
        elif height > ledger.height + 1:
            raise NotFound(f"block {height} (the next block is {ledger.height + 1})")
        checkpoints = log()
        keys = checkpoints.voter_keys(height)
        body: dict = {"origin": checkpoints.origin, "height": height,
                      "signatures_required": quorum_size(len(keys)),
                      "keys": [{"node_id": node, "vkey": key.text} for node, key in keys.items()]}
        witness = getattr(service, "witness", None)
        if witness is not None:
            body["witness"] = {"name": witness.key.name, "vkey": witness.key.text}
        return respond(request, body)
