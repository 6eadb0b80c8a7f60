"""The node's HTTP API (DESIGN.md "Interfaces"), built on a `NodeService`.

Theory of operation
-------------------
``create_app(service)`` returns a FastAPI app. Every route is a thin reading of
the service's ledger or a call to ``service.submit``; all formatting of JSON
objects (block, receipt, tree head, consistency proof) is the ledger's, so the
bytes auditors rely on are made in one place.

Three concerns wrap every request, in :class:`_Guard`, a plain ASGI
middleware (outermost of ours, so it sees everything):

1. **Size limit before the body is read**: a ``Content-Length`` over the limit
   is answered 413 at once; a body without one (chunked) is counted as it
   streams and cut off at the limit.
2. **No stack trace ever reaches a client**: an exception nothing else
   handled is logged here with its trace and answered 500 ``{error:
   "internal"}``. (A ``CorruptionError`` is logged as critical: the node's data
   is broken and an operator must look.)
3. **Metrics**: ``api_request_seconds`` by route template, if the service's
   metrics provide it.

Errors have one shape, made in one place (:func:`_error_response`):
``{error: code, message, field?}`` plus the error's own facts (``receipt`` for
409, ``doc_id`` for 504). The status comes from the error class's
``http_status`` (ledger/errors.py, node/errors.py); FastAPI's own validation
errors and Starlette's 404/405 are mapped to the same shape.

Content: JSON with bytes as base64url and hashes as hex. A client that sends
``Accept: application/msgpack`` gets the same objects msgpack-encoded (the
same field names and the same string forms, so one format description serves
both). ``POST /v1/documents`` takes the canonical envelope either as raw
``application/msgpack`` bytes or as JSON ``{"envelope": "<base64url>"}``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from typing import Any, Awaitable, Callable

import msgpack
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import CorruptionError, InvalidInput, MinutebookError, NotFound, TooLarge
from ledger.jsonfmt import b64d, b64e

from .analytics import member_history, org_stats, org_view
from .errors import NoLeader
from .explorer import EXPLORER_HTML

__all__ = ["create_app", "DEFAULT_MAX_REQUEST_BYTES", "MSGPACK"]

log = logging.getLogger("minutebook.api")

MSGPACK = "application/msgpack"
DEFAULT_MAX_REQUEST_BYTES = (1 << 20) + (1 << 17)  # node.config's default
MAX_BLOCKS_PER_PAGE = 100
MAX_WAIT_SECONDS = 300.0
_DOC_ID = re.compile(r"^[0-9a-f]{64}$")


# -- responses ---------------------------------------------------------------


def _wants_msgpack(request: Request) -> bool:
    return MSGPACK in request.headers.get("accept", "")


def _respond(request: Request, obj: Any, status: int = 200, headers: dict | None = None) -> Response:
    if _wants_msgpack(request):
        return Response(msgpack.packb(obj, use_bin_type=True), status_code=status, media_type=MSGPACK,
                        headers=headers)
    return JSONResponse(obj, status_code=status, headers=headers)


def _plain(value: Any) -> Any:
    """JSON-ready: enums by name, bytes as base64url, tuples and sets as lists.
    For what the runtime hands over (status, submit results), whose types the
    API does not own."""
    import enum

    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b64e(bytes(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    return value


def _retry_after(exc: MinutebookError) -> float | None:
    """Seconds from the error's `retry_after` (a number, or a header's text)."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _error_body(exc: MinutebookError) -> dict:
    body = exc.to_dict()
    retry_after = _retry_after(exc)
    if retry_after is not None and "retry_after" not in body:
        body["retry_after"] = retry_after
    return body


def _error_response(request: Request | None, exc: MinutebookError) -> Response:
    """The one place an error becomes an HTTP answer."""
    headers = {}
    retry_after = _retry_after(exc)
    if isinstance(exc, NoLeader) or (exc.http_status == 503 and retry_after is not None):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after or 1)))
    body = _error_body(exc)
    if request is not None:
        return _respond(request, body, exc.http_status, headers)
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


def _plain_error(status: int, code: str, message: str, field: str | None = None) -> dict:
    body = {"error": code, "message": message}
    if field:
        body["field"] = field
    return body


# -- the guard middleware ----------------------------------------------------


class _BodyTooLarge(Exception):
    pass


class _Guard:
    """Size limit, catch-all error handler and request timing (see module doc)."""

    def __init__(self, app: Callable, *, max_request_bytes: int, observe: Callable[[str, str, int, float], None]):
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.observe = observe

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"started": False, "status": 500}
        limit = self.max_request_bytes

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message["status"]
            await send(message)

        async def answer(status: int, body: dict, headers: list | None = None) -> None:
            data = json.dumps(body).encode()
            await send_wrapper({
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
                + (headers or []),
            })
            await send({"type": "http.response.body", "body": data})

        length = _content_length(scope)
        if length is not None and length > limit:
            await answer(413, _plain_error(413, "too_large",
                                           f"request body of {length} bytes is over the limit of {limit} bytes",
                                           "body"), [(b"connection", b"close")])
            self._observe(scope, state, started)
            return

        seen = 0

        async def counting_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send_wrapper)
        except _BodyTooLarge:
            if not state["started"]:
                await answer(413, _plain_error(413, "too_large", f"request body is over the limit of {limit} bytes",
                                               "body"), [(b"connection", b"close")])
        except CorruptionError:
            log.critical("stored data failed a check while serving %s %s", scope.get("method"), scope.get("path"),
                         exc_info=True)
            if not state["started"]:
                await answer(500, _plain_error(500, "internal", "internal error; the node operator has the details"))
        except Exception:
            log.exception("unhandled error while serving %s %s", scope.get("method"), scope.get("path"))
            if not state["started"]:
                await answer(500, _plain_error(500, "internal", "internal error; the node operator has the details"))
        self._observe(scope, state, started)

    def _observe(self, scope: dict, state: dict, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        try:
            self.observe(template, scope.get("method", ""), state["status"], time.perf_counter() - started)
        except Exception:  # metrics must never break a request
            log.debug("metrics observation failed", exc_info=True)


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _metrics_observer(metrics: Any) -> Callable[[str, str, int, float], None]:
    """Observe into ``metrics.api_request_seconds`` whatever its labels are."""
    histogram = getattr(metrics, "api_request_seconds", None)
    if histogram is None:
        return lambda route, method, status, seconds: None
    names = tuple(getattr(histogram, "_labelnames", ()))

    def observe(route: str, method: str, status: int, seconds: float) -> None:
        if names:
            values = {"route": route, "method": method, "status": str(status), "code": str(status)}
            histogram.labels(**{n: values.get(n, "") for n in names}).observe(seconds)
        else:
            histogram.observe(seconds)

    return observe


# -- request parsing ---------------------------------------------------------


def _check_doc_id(doc_id: str) -> str:
    if not _DOC_ID.match(doc_id):
        raise InvalidInput("doc_id", "expected 64 lowercase hex characters (the SHA-256 of the document)")
    return doc_id


async def _read_envelope(request: Request) -> bytes:
    """The canonical envelope bytes from either body form (module doc)."""
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
        if not isinstance(obj, dict) or "envelope" not in obj:
            raise InvalidInput("envelope", 'required: {"envelope": "<base64url of the canonical envelope>"}')
        extra = sorted(set(obj) - {"envelope"})
        if extra:
            raise InvalidInput(extra[0], "unknown field (the body has only \"envelope\")")
        return b64d(obj["envelope"], "envelope")
    raise InvalidInput("content-type", f"expected application/msgpack or application/json, got {content_type!r}")


def _root_unit(ledger: Any) -> str | None:
    """The genesis unit without a parent (the explorer's starting point)."""
    try:
        units = ledger.genesis.to_json().get("units", [])
        paths = [u["path"] for u in units]
        return min(paths, key=lambda p: (p.count("/"), p)) if paths else None
    except Exception:  # a presentation hint only
        return None


# -- the app -----------------------------------------------------------------

_TAGS = [
    {"name": "documents", "description": "Submit signed documents; read them and their receipts."},
    {"name": "log", "description": "Tree heads, consistency proofs and blocks, for auditors."},
    {"name": "registry", "description": "Members, org units and meeting analytics."},
    {"name": "node", "description": "Status, health and metrics of this node."},
]

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
    404: {"description": "no such document, block, member or unit"},
}


def create_app(service: Any, *, max_request_bytes: int | None = None) -> FastAPI:
    """The FastAPI app over `service` (a ``node.service.NodeService``)."""
    if max_request_bytes is None:
        config = getattr(service, "config", None)
        max_request_bytes = getattr(config, "max_request_bytes", None) or DEFAULT_MAX_REQUEST_BYTES
    app = FastAPI(
        title="minutebook node API",
        version="1",
        description=(
            "A committee node of the minutebook ledger. Bytes are base64url without padding; hashes are "
            "lowercase hex. Send `Accept: application/msgpack` for msgpack answers. Errors are "
            "`{error, message, field?}`. The explorer is at `/`."
        ),
        openapi_tags=_TAGS,
    )
    app.state.service = service

    # -- error mapping, in one place --

    @app.exception_handler(MinutebookError)
    async def _minutebook_error(request: Request, exc: MinutebookError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body", "header")]
        field = ".".join(loc) or "request"
        return _respond(request, _plain_error(400, "invalid_input", f"{field}: {first.get('msg', 'invalid')}",
                                              field), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        message = f"no route {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        return _respond(request, _plain_error(exc.status_code, code, message), exc.status_code,
                        getattr(exc, "headers", None))

    ledger = service.ledger

    # -- documents --

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
        envelope = await _read_envelope(request)
        result = await service.submit(envelope, wait=wait == "committed", timeout=timeout)
        status = 200 if result.get("status") == "committed" else 202
        return _respond(request, _plain(result), status)

    @app.get("/v1/documents/{doc_id}", tags=["documents"], responses=_ERRORS)
    async def get_document(request: Request, doc_id: str) -> Response:
        """A document: `{doc_id, leaf_index, height, status, reason?, envelope, doc}`."""
        return _respond(request, ledger.document(_check_doc_id(doc_id)))

    @app.get("/v1/documents/{doc_id}/receipt", tags=["documents"], responses={
        **_ERRORS, 422: {"description": "the document was rejected; no receipt"}})
    async def get_receipt(request: Request, doc_id: str, download: bool = False) -> Response:
        """The receipt (DESIGN.md Formats) to verify offline with `minutebook verify`."""
        receipt = ledger.receipt(_check_doc_id(doc_id))
        headers = {"Content-Disposition": f'attachment; filename="receipt-{doc_id[:16]}.json"'} if download else None
        return _respond(request, receipt, headers=headers)

    # -- log --

    @app.get("/v1/tree-head", tags=["log"])
    async def get_tree_head(request: Request, certified: bool = False) -> Response:
        """The signed tree head of the latest block (`?certified=true`: the latest certified one)."""
        return _respond(request, ledger.tree_head(certified=certified))

    @app.get("/v1/proofs/consistency", tags=["log"], responses=_ERRORS)
    async def get_consistency(request: Request, first: int = Query(..., ge=1), second: int = Query(..., ge=1)) -> Response:
        """`{first, second, proof}`: RFC 9162 §2.1.4 consistency between two log sizes."""
        return _respond(request, ledger.consistency_proof(first, second))

    @app.get("/v1/blocks", tags=["log"])
    async def list_blocks(
        request: Request,
        from_: int | None = Query(None, alias="from", ge=1, description="first height (default: the latest page)"),
        limit: int = Query(20, ge=1, le=MAX_BLOCKS_PER_PAGE),
    ) -> Response:
        """`{height, blocks: [block…]}` in ascending height from `from`."""
        height = ledger.height
        start = from_ if from_ is not None else max(1, height - limit + 1)
        blocks = [ledger.block(h) for h in range(start, min(height, start + limit - 1) + 1)]
        return _respond(request, {"height": height, "blocks": blocks})

    @app.get("/v1/blocks/{height}", tags=["log"], responses=_ERRORS)
    async def get_block(request: Request, height: int) -> Response:
        """The Block object (DESIGN.md Formats)."""
        return _respond(request, ledger.block(height))

    @app.get("/v1/blocks/{height}/envelopes", tags=["log"], responses=_ERRORS)
    async def get_block_envelopes(request: Request, height: int) -> Response:
        """`{height, block_hash, envelopes: [b64url…]}`: the block's canonical envelopes in
        block order (accepted and rejected), for auditors that replay the log
        (`minutebook audit`)."""
        proposal = ledger.proposal(height)
        return _respond(request, {"height": height, "block_hash": ledger.header(height).block_hash,
                                  "envelopes": [b64e(e) for e in proposal.envelopes]})

    # -- registry --

    @app.get("/v1/members/{member_id}", tags=["registry"], responses=_ERRORS)
    async def get_member(request: Request, member_id: str) -> Response:
        """A member's profile and history (admission, transfers, awards, discipline)."""
        return _respond(request, member_history(ledger, member_id))

    @app.get("/v1/orgs/{path:path}/stats", tags=["registry"], responses=_ERRORS)
    async def get_org_stats(
        request: Request, path: str,
        since: int | None = Query(None, description="unix ms; default 6 months before `until`"),
        until: int | None = Query(None, description="unix ms; default now"),
    ) -> Response:
        """Meeting analytics for the unit, rolled up over its sub-units."""
        return _respond(request, org_stats(ledger, path, since_ms=since, until_ms=until))

    @app.get("/v1/orgs/{path:path}", tags=["registry"], responses=_ERRORS)
    async def get_org(request: Request, path: str) -> Response:
        """A unit, its children and its member count."""
        return _respond(request, org_view(ledger, path))

    # -- node --

    @app.get("/v1/status", tags=["node"])
    async def get_status(request: Request) -> Response:
        """Raft role, term, leader, commit and applied index, height, peers."""
        status = _plain(dict(service.status()))
        status.setdefault("node_id", service.node_id)
        status.setdefault("height", ledger.height)
        status.setdefault("root_unit", _root_unit(ledger))
        return _respond(request, status)

    @app.get("/metrics", tags=["node"], response_class=Response)
    async def get_metrics() -> Response:
        """Prometheus text format."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics = getattr(service, "metrics", None)
        registry = getattr(metrics, "registry", None)
        if registry is None:
            return Response(b"", media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["node"])
    async def healthz(request: Request) -> Response:
        """`{ok: true, node_id, height}` while the process serves requests."""
        return _respond(request, {"ok": True, "node_id": service.node_id, "height": ledger.height})

    @app.get("/", include_in_schema=False)
    async def explorer() -> HTMLResponse:
        return HTMLResponse(EXPLORER_HTML)

    # Outermost of ours: inside Starlette's ServerErrorMiddleware, outside the
    # exception handlers above, so only what they did not handle reaches it.
    app.add_middleware(_Guard, max_request_bytes=max_request_bytes,
                       observe=_metrics_observer(getattr(service, "metrics", None)))
    return app
