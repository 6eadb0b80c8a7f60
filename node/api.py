"""The node's HTTP API (DESIGN.md "Interfaces"), built on a `NodeService`.

Theory of operation
-------------------
``create_app(service)`` returns a FastAPI app. The routes live in
``node/routes/`` (one module per area, each ``add_routes(app, service)``);
every route is a thin reading of the service's ledger and read models or a
call to ``service.submit``. All formatting of JSON objects (block, receipt,
tree head, consistency proof) is the ledger's, so the bytes auditors rely on
are made in one place; answers and errors are shaped in ``node/responses.py``.

Three concerns wrap every request, in :class:`_Guard`, a plain ASGI
middleware (outermost of ours, so it sees everything):

1. **Size and time limits on the body** (``limits.max_request_bytes``; the
   batch route has its own, ``limits.max_batch_bytes``): a ``Content-Length``
   over the limit is answered 413 at once; a body without one (chunked) is counted as it
   streams and cut off at the limit; a body still incomplete ``body_timeout``
   seconds after its headers is answered 408 ``{error: "request_timeout",
   field: "body"}`` and the connection closed (a slow sender holds a socket no
   longer than that; the headers' own deadline is node/http_limits.py's).
2. **No stack trace ever reaches a client**: an exception nothing else
   handled is logged here with its trace and answered 500 ``{error:
   "internal"}``. (A ``CorruptionError`` is logged as critical: the node's data
   is broken and an operator must look.)
3. **Metrics**: ``api_request_seconds`` by route template, if the service's
   metrics provide it.

It also hands plain submissions (``POST /v1/documents`` without a request
signature) to ``LeanSubmit`` (node/routes/documents.py), which answers them
with the route's own code without FastAPI's per-request machinery.

FastAPI's own validation errors and Starlette's 404/405 are mapped to the
one error shape too.

Who is asking is settled before any handler runs: one app-wide dependency,
``node.auth.authenticate``, checks the request's RFC 9421 signature or page
session and enforces the route's access class (node/auth.py); handlers ask
the caller's scope (node/scopes.py) what it may read. Reads of profiles and
findings leave a trace (node/traces.py).

Content: JSON with bytes as base64url and hashes as hex, or msgpack with
``Accept: application/msgpack``. ``POST /v1/documents`` takes the canonical
envelope either as raw ``application/msgpack`` bytes or as JSON
``{"envelope": "<base64url>"}``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from typing import Any, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import CorruptionError, MinutebookError

from .auth import Authenticator, authenticate
from .config import AccessSettings
from .responses import MSGPACK, error_response, plain_error, respond
from .routes import ROUTE_MODULES
from .routes.documents import BATCH_PATH, LeanSubmit
from .traces import ReadTrace

__all__ = ["create_app", "DEFAULT_MAX_REQUEST_BYTES", "MSGPACK"]

log = logging.getLogger("minutebook.api")

DEFAULT_MAX_REQUEST_BYTES = (1 << 20) + (1 << 17)  # node.config's defaults
DEFAULT_MAX_BATCH_BYTES = 8 << 20


# -- the guard middleware ----------------------------------------------------


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


class _Guard:
    """Size limit, catch-all error handler and request timing (see module doc)."""

    def __init__(self, app: Callable, *, max_request_bytes: int, observe: Callable[[str, str, int, float], None],
                 limits_by_path: dict[str, int] | None = None, body_timeout: float | None = None,
                 count_dropped: Callable[[str], None] = lambda reason: None, lean: Any = None):
        self.app = app
        self.lean = lean  # LeanSubmit (node/routes/documents.py): plain submissions past FastAPI
        self.max_request_bytes = max_request_bytes
        self.limits_by_path = limits_by_path or {}  # routes whose bodies may be larger (a batch)
        self.observe = observe
        self.body_timeout = body_timeout
        self.count_dropped = count_dropped

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"started": False, "status": 500}
        limit = self.limits_by_path.get(scope.get("path", ""), self.max_request_bytes)

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
            await answer(413, plain_error(413, "too_large",
                                           f"request body of {length} bytes is over the limit of {limit} bytes",
                                           "body"), [(b"connection", b"close")])
            self._observe(scope, state, started)
            return

        seen = 0
        body_done = False
        deadline = None if self.body_timeout is None else time.monotonic() + self.body_timeout

        async def counting_receive() -> dict:
            nonlocal seen, body_done
            if body_done or deadline is None:  # after the body, receive() only waits for a disconnect
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    raise _BodyTooSlow() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
                body_done = not message.get("more_body", False)
            return message

        lean = self.lean.takes(scope) if self.lean is not None else None
        try:
            if lean is not None:
                await self.lean(scope, counting_receive, send_wrapper, lean)
            else:
                await self.app(scope, counting_receive, send_wrapper)
        except _BodyTooSlow:
            self.count_dropped("body_timeout")
            if not state["started"]:
                await answer(408, plain_error(408, "request_timeout",
                                              f"the request body did not arrive within {self.body_timeout:g} s",
                                              "body"), [(b"connection", b"close")])
        except _BodyTooLarge:
            if not state["started"]:
                await answer(413, plain_error(413, "too_large", f"request body is over the limit of {limit} bytes",
                                               "body"), [(b"connection", b"close")])
        except CorruptionError:
            log.critical("stored data failed a check while serving %s %s", scope.get("method"), scope.get("path"),
                         exc_info=True)
            if not state["started"]:
                await answer(500, plain_error(500, "internal", "internal error; the node operator has the details"))
        except Exception:
            log.exception("unhandled error while serving %s %s", scope.get("method"), scope.get("path"))
            if not state["started"]:
                await answer(500, plain_error(500, "internal", "internal error; the node operator has the details"))
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


# -- the app -----------------------------------------------------------------

_TAGS = [
    {"name": "documents", "description": "Submit signed documents; read them and their receipts."},
    {"name": "log", "description": "Tree heads, consistency proofs and blocks, for auditors."},
    {"name": "registry", "description": "A member's profile and timeline; org units."},
    {"name": "views", "description": "Meeting figures, a unit's documents and members, a member's documents."},
    {"name": "node", "description": "Status, health and metrics of this node."},
    {"name": "auth", "description": "Page login by a signed challenge; sessions."},
]

_SECURITY_SCHEMES = {
    "requestSignature": {
        "type": "apiKey", "in": "header", "name": "Signature",
        "description": "RFC 9421 HTTP Message Signature with Ed25519 (with its Signature-Input header): "
                       "components @method @path @query (and content-digest with a body), parameters "
                       "created, expires, keyid (member or node id), nonce, alg=\"ed25519\". See the README.",
    },
    "session": {"type": "apiKey", "in": "cookie", "name": "mb_session",
                "description": "A page session from POST /v1/auth/login."},
}


def _with_security(app: FastAPI) -> None:
    """Describe the request signature in the OpenAPI document and mark every
    route that is not public as needing it (the class is in ``x-access``)."""
    default = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = default()
        schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and operation.get("x-access") not in ("public", "documents"):
                    operation["security"] = [{"requestSignature": []}, {"session": []}]
        return schema

    app.openapi = openapi


def create_app(service: Any, *, max_request_bytes: int | None = None, max_batch_bytes: int | None = None,
               body_timeout: float | None = None, lean_submit: bool = True) -> FastAPI:
    """The FastAPI app over `service` (a ``node.service.NodeService``); `body_timeout` seconds
    bound the time a request body may take (None: unbounded, for in-process tests); `lean_submit`:
    plain submissions past FastAPI (node/routes/documents.py LeanSubmit; off only to compare)."""
    config = getattr(service, "config", None)
    if max_request_bytes is None:
        max_request_bytes = getattr(config, "max_request_bytes", None) or DEFAULT_MAX_REQUEST_BYTES
    if max_batch_bytes is None:
        max_batch_bytes = getattr(config, "max_batch_bytes", None) or DEFAULT_MAX_BATCH_BYTES
    app = FastAPI(
        title="minutebook node API",
        version="1",
        description=(
            "A committee node of the minutebook ledger. Bytes are base64url without padding; hashes are "
            "lowercase hex. Send `Accept: application/msgpack` for msgpack answers. Errors are "
            "`{error, message, field?}`. Content routes need a signed request (RFC 9421, Ed25519; "
            "`x-access` on each operation names its class). The web pages are at `/`."
        ),
        openapi_tags=_TAGS,
        dependencies=[Depends(authenticate)],
        docs_url=None,  # /docs is node/routes/web.py's: Swagger UI from web/vendor/, no CDN
        redoc_url=None,  # ReDoc would load from a CDN
    )
    app.state.service = service
    settings = getattr(getattr(service, "config", None), "access", None) or AccessSettings()
    app.state.auth = Authenticator(service.ledger, settings)
    app.state.trace = ReadTrace(getattr(service, "metrics", None), settings.read_log, settings.read_log_fsync)

    # -- error mapping, in one place --

    @app.exception_handler(MinutebookError)
    async def _minutebook_error(request: Request, exc: MinutebookError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body", "header")]
        field = ".".join(loc) or "request"
        return respond(request, plain_error(400, "invalid_input", f"{field}: {first.get('msg', 'invalid')}",
                                            field), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        message = f"no route {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        return respond(request, plain_error(exc.status_code, code, message), exc.status_code,
                       getattr(exc, "headers", None))

    for name in ROUTE_MODULES:
        importlib.import_module(f"node.routes.{name}").add_routes(app, service)
    _with_security(app)

    # Outermost of ours: inside Starlette's ServerErrorMiddleware, outside the
    # exception handlers above, so only what they did not handle reaches it.
    dropped = getattr(getattr(service, "metrics", None), "http_connections_dropped_total", None)
    app.add_middleware(_Guard, max_request_bytes=max_request_bytes, limits_by_path={BATCH_PATH: max_batch_bytes},
                       body_timeout=body_timeout, observe=_metrics_observer(getattr(service, "metrics", None)),
                       count_dropped=(lambda reason: dropped.labels(reason).inc()) if dropped is not None
                       else (lambda reason: None), lean=LeanSubmit(app, service) if lean_submit else None)
    return app
