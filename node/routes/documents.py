"""Routes: submit a signed envelope or a batch of them; read a document, its receipt and
(for its recipients) its sealed body."""

from __future__ import annotations

import json
import re
from typing import Any

import msgpack
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.errors import InvalidInput, MinutebookError, TooLarge
from ledger.jsonfmt import b64d
from ledger.sealing import SealedBox, submission_bytes

from .. import batch
from ..auth import Access, access, caller_of, require_document, scope_of
from ..errors import OutOfScope
from ..responses import MSGPACK, check_doc_id, error_response, plain, respond
from ..scopes import redact_block

__all__ = ["add_routes", "read_envelope", "read_envelopes", "LeanSubmit", "BATCH_PATH", "MAX_WAIT_SECONDS"]

BATCH_PATH = "/v1/documents:batch"

MAX_WAIT_SECONDS = 300.0

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            MSGPACK: {"schema": {"type": "string", "format": "binary",
                                 "description": "the canonical envelope bytes, or a canonical submission "
                                                "{envelope, sealed} (ledger/sealing.py)"}},
            "application/json": {"schema": {
                "type": "object", "required": ["envelope"],
                "properties": {
                    "envelope": {"type": "string", "description": "base64url (no padding) of the canonical envelope"},
                    "sealed": {"type": "array", "description": "for a confidential document: its body sealed to "
                               "each recipient, [{recipient, key, box}] (bytes base64url)",
                               "items": {"type": "object", "required": ["recipient", "key", "box"]}},
                },
            }},
        },
    }
}

_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            MSGPACK: {"schema": {"type": "string", "format": "binary",
                                 "description": "a msgpack array of bin items, each the canonical envelope bytes"}},
            "application/json": {"schema": {
                "type": "object", "required": ["envelopes"],
                "properties": {"envelopes": {"type": "array", "items": {
                    "type": "string", "description": "base64url (no padding) of a canonical envelope"}}},
            }},
        },
    }
}

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    401: {"description": "no signed request or session, or a bad request signature"},
    403: {"description": "the document is outside the caller's scope (`out_of_scope`)"},
    404: {"description": "no such document"},
}


def redact_receipt(scope, receipt: dict) -> dict:
    """A receipt's blocks (its own and its membership receipts') as the scope may see them."""
    out = dict(receipt, block=redact_block(scope, receipt["block"]))
    if receipt.get("membership"):
        out["membership"] = [redact_receipt(scope, r) for r in receipt["membership"]]
    return out


async def read_document(request: Request, ledger, doc_id: str) -> dict:
    """`Ledger.document` for a caller whose scope reads it; a finding read is traced."""
    document = ledger.document(check_doc_id(doc_id))
    doc = document["doc"]
    require_document(request, doc, f"document {doc_id} ({doc.get('type')} of {doc.get('org')})")
    if doc.get("type") == "inspection_finding":
        await request.app.state.trace.read(request, "finding", doc_id, doc.get("org"))
    return document


async def read_envelope(request: Request) -> bytes:
    """The canonical envelope (or submission) bytes from either body form: raw
    ``application/msgpack`` bytes, or JSON ``{"envelope": "<base64url>",
    "sealed"?: [{recipient, key, box}]}``."""
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
        extra = sorted(set(obj) - {"envelope", "sealed"})
        if extra:
            raise InvalidInput(extra[0], "unknown field (the body has only \"envelope\" and \"sealed\")")
        envelope = b64d(obj["envelope"], "envelope")
        if "sealed" not in obj:
            return envelope
        if not isinstance(obj["sealed"], list):
            raise InvalidInput("sealed", "expected a list of {recipient, key, box}")
        return submission_bytes(envelope, [SealedBox.from_json(b, f"sealed[{i}]") for i, b in enumerate(obj["sealed"])])
    raise InvalidInput("content-type", f"expected application/msgpack or application/json, got {content_type!r}")


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("body", "JSON nested too deeply") from None


def _check_count(count: int, max_documents: int) -> None:
    if count == 0:
        raise InvalidInput("envelopes", "empty batch; expected at least one envelope")
    if count > max_documents:
        raise TooLarge("envelopes", f"{count} envelopes in one batch; at most {max_documents}")


async def read_envelopes(request: Request, max_documents: int = batch.MAX_BATCH_DOCUMENTS) -> list[bytes]:
    """The canonical envelopes of a batch, from either body form: ``application/msgpack``, a
    msgpack array of bin items (each the canonical envelope bytes), or JSON ``{"envelopes":
    ["<base64url>", ...]}``. Each envelope is checked later, on its own."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body:
        raise InvalidInput("body", 'empty body; expected a msgpack array of envelopes or {"envelopes": [...]}')
    if content_type == MSGPACK:
        try:
            items = msgpack.unpackb(body, raw=False, max_array_len=max_documents + 1, max_map_len=16)
        except (ValueError, msgpack.UnpackException) as exc:  # ExtraData, StackError, bad UTF-8, over a length
            raise InvalidInput("body", f"not one msgpack array of envelopes: {type(exc).__name__}") from None
        if not isinstance(items, list):
            raise InvalidInput("body", f"expected a msgpack array of bin envelopes, got {type(items).__name__}")
        _check_count(len(items), max_documents)
        for i, item in enumerate(items):
            if not isinstance(item, bytes):
                raise InvalidInput(f"envelopes[{i}]", f"expected bin (the canonical envelope bytes), "
                                                      f"got {type(item).__name__}")
        return items
    if content_type in ("application/json", ""):
        obj = _json_body(body)
        if not isinstance(obj, dict) or "envelopes" not in obj:
            raise InvalidInput("envelopes", 'required: {"envelopes": ["<base64url of a canonical envelope>", ...]}')
        extra = sorted(set(obj) - {"envelopes"})
        if extra:
            raise InvalidInput(extra[0], "unknown field (the body has only \"envelopes\")")
        items = obj["envelopes"]
        if not isinstance(items, list):
            raise InvalidInput("envelopes", "expected a list of base64url strings")
        _check_count(len(items), max_documents)
        return [b64d(item, f"envelopes[{i}]") for i, item in enumerate(items)]
    raise InvalidInput("content-type", f"expected application/msgpack or application/json, got {content_type!r}")


def _wait_flag(wait: str | None) -> bool:
    if wait not in (None, "", "committed"):
        raise InvalidInput("wait", f"expected 'committed' or nothing, got {wait!r}")
    return wait == "committed"
def _named_envelope(exc: InvalidInput) -> InvalidInput:
    """An error about the envelope as a whole (its size, its msgpack, its top-level shape) carries
    no path of its own; name it ``envelope``, so every 4xx about a submission has a `field`."""
    if exc.field:
        return exc
    return type(exc)("envelope", exc.rule.removeprefix("envelope: "))


async def _submit(service: Any, request: Request, waiting: bool, timeout: float) -> Response:
    """The answer of ``POST /v1/documents`` (the route, and LeanSubmit)."""
    envelope = await read_envelope(request)
    try:
        result = await service.submit(envelope, wait=waiting, timeout=timeout)
    except InvalidInput as exc:
        raise _named_envelope(exc) from None
    status = 200 if result.get("status") == "committed" else 202
    return respond(request, plain(result), status)


_DECIMAL = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")


class LeanSubmit:
    """``POST /v1/documents`` without FastAPI's per-request machinery (middleware stack, route
    matching, dependency solving): every submission from a user's SDK comes this way, and on a
    node under load that machinery cost as much CPU as decoding the document. Called by the
    API's guard middleware (node/api.py) for the requests it :meth:`takes`; everything else,
    and every request it is unsure of, goes through FastAPI as before.

    Same answers: the same handler code (:func:`_submit`), the same error shapes
    (``error_response``), the same access rule. The route's class is ``documents`` (the
    document's own signatures decide), so the one access check FastAPI's dependency would
    make is of a request *signature* (or page session) offered anyway, which must verify:
    requests carrying one go the FastAPI way. So do query strings other than ``wait`` and ``timeout`` with
    plainly valid values, so that FastAPI's own validation answers anything else."""

    PATH = "/v1/documents"

    def __init__(self, app: FastAPI, service: Any) -> None:
        self.service = service
        self.route = next(r for r in app.routes if getattr(r, "path", None) == self.PATH
                          and "POST" in getattr(r, "methods", ()))

    def takes(self, scope: dict) -> tuple[bool, float] | None:
        """``(wait, timeout)`` if this request is one to answer here, else None."""
        if scope.get("path") != self.PATH or scope.get("method") != "POST":
            return None
        for name, _ in scope.get("headers", ()):
            if name in (b"signature", b"signature-input", b"cookie"):  # for node.auth.authenticate to check
                return None
        waiting, timeout = False, 30.0
        query = scope.get("query_string", b"")
        if query:
            seen = set()
            for part in query.split(b"&"):
                name, _, value = part.partition(b"=")
                if name in seen:
                    return None
                seen.add(name)
                if name == b"wait" and value in (b"", b"committed"):
                    waiting = value == b"committed"
                elif name == b"timeout" and _DECIMAL.fullmatch(value.decode("latin-1")):
                    timeout = float(value)
                    if not 0 < timeout <= MAX_WAIT_SECONDS:
                        return None
                else:
                    return None
        return waiting, timeout

    async def __call__(self, scope: dict, receive: Any, send: Any, wait_timeout: tuple[bool, float]) -> None:
        scope["route"] = self.route  # for the request metrics, as FastAPI's router sets it
        request = Request(scope, receive)
        request.state.caller = None  # as node.auth.authenticate leaves an unsigned request
        try:
            response = await _submit(self.service, request, *wait_timeout)
        except MinutebookError as exc:
            response = error_response(request, exc)
        await response(scope, receive, send)


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.post("/v1/documents", tags=["documents"], openapi_extra={**_SUBMIT_BODY, **access(Access.DOCUMENTS)},
              responses={
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
        return await _submit(service, request, _wait_flag(wait), timeout)

    max_batch = getattr(getattr(service, "config", None), "max_batch_documents", batch.MAX_BATCH_DOCUMENTS)

    @app.post(BATCH_PATH, tags=["documents"], openapi_extra={**_BATCH_BODY, **access(Access.DOCUMENTS)}, responses={
        200: {"description": "`{results: [...], counts: {pending, committed, already_committed, error}}`: one "
                            "result per envelope, in request order (README, \"Batch submission\")"},
        400: {"description": "malformed body; `field` names what is wrong (`envelopes[3]`)"},
        413: {"description": "too many envelopes or bytes in one batch"},
        503: {"description": "no leader yet, or the node is full (`overloaded`); see Retry-After. "
                            "Nothing was admitted: send the same batch again"},
    })
    async def submit_batch(
        request: Request,
        wait: str | None = Query(None, description="`committed`: answer once every admitted envelope is "
                                                   "committed and certified (or timed out)"),
        timeout: float = Query(30.0, gt=0, le=MAX_WAIT_SECONDS, description="seconds to wait with wait=committed"),
    ) -> Response:
        """Submit many signed envelopes at once; each gets its own result, in order. Idempotent
        like the single route: a retry of the same batch admits nothing twice."""
        waiting = _wait_flag(wait)
        envelopes = await read_envelopes(request, max_batch)
        results = await service.submit_batch(envelopes, wait=waiting, timeout=timeout)
        return respond(request, plain({"results": results, "counts": batch.counts(results)}))

    @app.get("/v1/documents/{doc_id}", tags=["documents"], responses=_ERRORS,
             openapi_extra=access(Access.MEMBER, public_types=True))
    async def get_document(request: Request, doc_id: str) -> Response:
        """A document: `{doc_id, leaf_index, height, status, reason?, envelope, doc}`."""
        return respond(request, await read_document(request, ledger, doc_id))

    @app.get("/v1/documents/{doc_id}/receipt", tags=["documents"], openapi_extra=access(Access.MEMBER, public_types=True),
             responses={
        **_ERRORS, 422: {"description": "the document was rejected; no receipt"}})
    async def get_receipt(request: Request, doc_id: str, download: bool = False) -> Response:
        """The receipt (DESIGN.md Formats) to verify offline with `minutebook verify`."""
        await read_document(request, ledger, doc_id)
        receipt = redact_receipt(scope_of(request), ledger.receipt(doc_id))
        headers = {"Content-Disposition": f'attachment; filename="receipt-{doc_id[:16]}.json"'} if download else None
        return respond(request, receipt, headers=headers)

    @app.get("/v1/documents/{doc_id}/sealed", tags=["documents"], openapi_extra=access(Access.MEMBER), responses={
        **_ERRORS, 403: {"description": "you are not a recipient (sealed bodies go to their recipients only)"}})
    async def get_sealed(request: Request, doc_id: str) -> Response:
        """`{doc_id, boxes: [{recipient, key, box}]}`: your own sealed boxes of a confidential document
        (open with `minutebook open DOC_ID --key K`, which also checks the commitment)."""
        document = await read_document(request, ledger, doc_id)
        caller = caller_of(request)
        recipients = (document["doc"].get("body") or {}).get("recipients") or []
        if caller.kind != "member" or caller.id not in recipients:
            raise OutOfScope(scope_of(request).describe(), f"the sealed body of {doc_id} (for its recipients only)")
        boxes = [b.to_json() for b in ledger.sealed(doc_id) if b.recipient == caller.id]
        if not boxes:
            from ledger.errors import NotFound

            raise NotFound(f"a sealed box of {doc_id} for {caller.id}")
        return respond(request, {"doc_id": doc_id, "boxes": boxes})
