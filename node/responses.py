"""How the HTTP API answers: one response shape, one error shape, made here.

Every route module under ``node/routes/`` answers through :func:`respond`
(JSON, or msgpack when the client sends ``Accept: application/msgpack``: the
same field names and the same string forms, so one format description serves
both) and every error becomes an answer in :func:`error_response`:
``{error: code, message, field?}`` plus the error's own facts (``receipt``
for 409, ``doc_id`` for 504, ``retry_after`` for 503). The status comes from
the error class's ``http_status`` (ledger/errors.py, node/errors.py).
"""

from __future__ import annotations

import enum
import math
import re
from typing import Any

import msgpack
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ledger.errors import InvalidInput, MinutebookError
from ledger.jsonfmt import b64e

from .errors import NoLeader

__all__ = ["MSGPACK", "wants_msgpack", "respond", "plain", "error_response", "plain_error", "check_doc_id"]

MSGPACK = "application/msgpack"
_DOC_ID = re.compile(r"^[0-9a-f]{64}$")


def wants_msgpack(request: Request) -> bool:
    return MSGPACK in request.headers.get("accept", "")


def respond(request: Request, obj: Any, status: int = 200, headers: dict | None = None) -> Response:
    if wants_msgpack(request):
        return Response(msgpack.packb(obj, use_bin_type=True), status_code=status, media_type=MSGPACK,
                        headers=headers)
    return JSONResponse(obj, status_code=status, headers=headers)


def plain(value: Any) -> Any:
    """JSON-ready: enums by name, bytes as base64url, tuples and sets as lists.
    For what the runtime hands over (status, submit results), whose types the
    API does not own."""
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b64e(bytes(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
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


def error_response(request: Request | None, exc: MinutebookError) -> Response:
    """The one place an error becomes an HTTP answer."""
    headers = {}
    retry_after = _retry_after(exc)
    if isinstance(exc, NoLeader) or (exc.http_status == 503 and retry_after is not None):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after or 1)))
    body = _error_body(exc)
    if request is not None:
        return respond(request, body, exc.http_status, headers)
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


def plain_error(status: int, code: str, message: str, field: str | None = None) -> dict:
    body = {"error": code, "message": message}
    if field:
        body["field"] = field
    return body


def check_doc_id(doc_id: str) -> str:
    if not _DOC_ID.match(doc_id):
        raise InvalidInput("doc_id", "expected 64 lowercase hex characters (the SHA-256 of the document)")
    return doc_id
