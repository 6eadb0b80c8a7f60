"""TEST DOUBLE of ``POST /v1/documents:batch`` for the import tests, as its
documentation describes it (README "Batch submission"): a msgpack array of
canonical envelopes, one result per envelope in order, ``?wait=committed``.
Served beside the real app over a ServiceDouble; each envelope goes through the
service's ``submit``. `fail_batches` makes the next N batch requests answer 503;
after `broken_after` batch requests, every one answers 500."""

from __future__ import annotations

import msgpack
from fastapi import Request
from fastapi.responses import JSONResponse

from ledger.errors import MinutebookError
from tests.node.service_double import serve


def add_batch_route(app, service) -> None:
    @app.post("/v1/documents:batch")
    async def submit_batch(request: Request, wait: str | None = None, timeout: float = 30.0):
        service.batch_requests = getattr(service, "batch_requests", 0) + 1
        broken_after = getattr(service, "broken_after", None)
        if broken_after is not None and service.batch_requests > broken_after:
            return JSONResponse({"error": "internal", "message": "the node broke"}, status_code=500)
        if getattr(service, "fail_batches", 0):
            service.fail_batches -= 1
            return JSONResponse({"error": "overloaded", "message": "busy", "retry_after": 1}, status_code=503,
                                headers={"Retry-After": "1"})
        envelopes = msgpack.unpackb(await request.body(), raw=False)
        results = []
        for envelope in envelopes:
            try:
                results.append(await service.submit(envelope, wait=wait == "committed", timeout=timeout))
            except MinutebookError as exc:
                body = exc.to_dict()
                if body.get("error") == "already_committed":
                    results.append({"doc_id": body["doc_id"], "status": "already_committed",
                                    "receipt": body.get("receipt")})
                    continue
                results.append({"doc_id": None, "status": "error", "http_status": exc.http_status, **body})
        return JSONResponse({"results": results})


def serve_with_batch(service: object):
    """tests/node/service_double.py's `serve`, with the batch route added."""
    return serve(service, add_routes=add_batch_route)
