"""Routes: submit a signed envelope; read a document and its receipt."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.errors import InvalidInput
from ledger.jsonfmt import b64d

from ..responses import MSGPACK, check_doc_id, plain, respond

__all__ = ["add_routes", "read_envelope", "MAX_WAIT_SECONDS"]

MAX_WAIT_SECONDS = 300.0

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            MSGPACK: {"schema": {"type": "string", "format": "binary",
                                 "description": "the canonical envelope bytes"}},
            "application/json": {"schema": {
                "type": "object", "required": ["envelope"],
                "properties": {"envelope": {"type": "string",
                                            "description": "base64url (no padding) of the canonical envelope"}},
            }},
        },
    }
}

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    404: {"description": "no such document"},
}


async def read_envelope(request: Request) -> bytes:
    """The canonical envelope bytes from either body form: raw
    ``application/msgpack`` bytes, or JSON ``{"envelope": "<base64url>"}``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if content_type == MSGPACK:
        if not body:
            raise InvalidInput("body", "empty body; expected the canonical envelope bytes")
        return body
    if content_type in ("application/json", ""):
        if not body:
            raise InvalidInput("body", 'empty body; expected {"envelope": "<base64url>"} or msgpack bytes')
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput("body", f"not valid JSON: {exc}") from None
        except RecursionError:  # the C scanner counts its depth against the interpreter's limit
            raise InvalidInput("body", "JSON nested too deeply (the body is {\"envelope\": \"<base64url>\"})") from None
        if not isinstance(obj, dict) or "envelope" not in obj:
            raise InvalidInput("envelope", 'required: {"envelope": "<base64url of the canonical envelope>"}')
        extra = sorted(set(obj) - {"envelope"})
        if extra:
            raise InvalidInput(extra[0], "unknown field (the body has only \"envelope\")")
        return b64d(obj["envelope"], "envelope")
    raise InvalidInput("content-type", f"expected application/msgpack or application/json, got {content_type!r}")


def _named_envelope(exc: InvalidInput) -> InvalidInput:
    """An error about the envelope as a whole (its size, its msgpack, its top-level shape) carries
    no path of its own; name it ``envelope``, so every 4xx about a submission has a `field`."""
    if exc.field:
        return exc
    return type(exc)("envelope", exc.rule.removeprefix("envelope: "))


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.post("/v1/documents", tags=["documents"], openapi_extra=_SUBMIT_BODY, responses={
        200: {"description": "committed and certified (with `?wait=committed`): `{doc_id, status, receipt}`"},
        202: {"description": "admitted and journaled (fsynced) on the leader, waiting for a block: "
                            "`{doc_id, status: \"pending\"}`"},
        401: {"description": "a signature does not verify"},
        403: {"description": "a signer lacks the role"},
        409: {"description": "already committed; the body carries the existing `receipt`"},
        413: {"description": "request too large"},
        422: {"description": "illegal against the registry state"},
        503: {"description": "no leader yet; see Retry-After"},
        504: {"description": "not committed and certified in time"},
    })
    async def submit_document(
        request: Request,
        wait: str | None = Query(None, description="`committed`: block until committed and certified"),
        timeout: float = Query(30.0, gt=0, le=MAX_WAIT_SECONDS, description="seconds to wait with wait=committed"),
    ) -> Response:
        """Submit a signed envelope. Idempotent: the id is the document's hash, so a
        retry of a committed document gets 409 with its receipt."""
        if wait not in (None, "", "committed"):
            raise InvalidInput("wait", f"expected 'committed' or nothing, got {wait!r}")
        envelope = await read_envelope(request)
        try:
            result = await service.submit(envelope, wait=wait == "committed", timeout=timeout)
        except InvalidInput as exc:
            raise _named_envelope(exc) from None
        status = 200 if result.get("status") == "committed" else 202
        return respond(request, plain(result), status)

    @app.get("/v1/documents/{doc_id}", tags=["documents"], responses=_ERRORS)
    async def get_document(request: Request, doc_id: str) -> Response:
        """A document: `{doc_id, leaf_index, height, status, reason?, envelope, doc}`."""
        return respond(request, ledger.document(check_doc_id(doc_id)))

    @app.get("/v1/documents/{doc_id}/receipt", tags=["documents"], responses={
        **_ERRORS, 422: {"description": "the document was rejected; no receipt"}})
    async def get_receipt(request: Request, doc_id: str, download: bool = False) -> Response:
        """The receipt (DESIGN.md Formats) to verify offline with `minutebook verify`."""
        receipt = ledger.receipt(check_doc_id(doc_id))
        headers = {"Content-Disposition": f'attachment; filename="receipt-{doc_id[:16]}.json"'} if download else None
        return respond(request, receipt, headers=headers)
