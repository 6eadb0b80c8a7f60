"""Errors the SDK raises: one class per API error code (DESIGN.md, Interfaces).

The tree, as httpx draws its own::

    ApiError(status, code, message, field)     any error the API answered with
    ├── MalformedRequest          400  invalid_input, not_canonical, key_file, proof_failed
    │   └── NotCanonicalRequest   400  not_canonical
    ├── BadSignatureError         401  bad_signature
    │   └── BadRequestSignatureError  401  bad_request_signature (the request's own signature)
    ├── UnauthenticatedError      401  unauthenticated: a content route needs a key (Client(..., key=))
    ├── NotPermittedError         403  not_permitted
    │   └── OutOfScopeError       403  out_of_scope; carries `scope`, what the caller may read
    ├── NotFoundError             404  not_found
    ├── AlreadyCommittedError     409  already_committed; carries the existing `receipt`
    ├── TooLargeError             413  too_large
    ├── RejectedError             422  rejected
    │   └── DuplicateRecordError  409  duplicate_record: another document already records this act;
    │                                  carries `existing` (its doc id). Not a success.
    ├── InternalError             500  internal (the server logged the details)
    ├── ForwardFailedError        502  forward_failed
    ├── UnavailableError          503  try again after `retry_after` seconds (the SDK does)
    │   ├── NoLeaderError         503  no_leader
    │   ├── OverloadedError       503  overloaded: the node holds as much uncommitted work as it may
    │   └── BusyError             503  busy (too many signed requests in the window)
    └── TimeoutError_             504  timeout; carries `doc_id`
    ConnectionFailed                   the node could not be reached at all (after retries)

`AlreadyCommittedError` is success-equivalent for a submission: the document is
in the ledger and `receipt` proves it (``Client.submit(..., accept_committed=True)``
turns it into a normal result).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SdkError",
    "ApiError",
    "MalformedRequest",
    "NotCanonicalRequest",
    "BadSignatureError",
    "BadRequestSignatureError",
    "UnauthenticatedError",
    "NotPermittedError",
    "OutOfScopeError",
    "BusyError",
    "NotFoundError",
    "AlreadyCommittedError",
    "DuplicateRecordError",
    "TooLargeError",
    "RejectedError",
    "InternalError",
    "ForwardFailedError",
    "UnavailableError",
    "NoLeaderError",
    "OverloadedError",
    "TimeoutError_",
    "ConnectionFailed",
    "error_from_response",
]


class SdkError(Exception):
    """Base of everything the SDK raises on purpose."""


class ConnectionFailed(SdkError):
    """No HTTP answer at all (refused, DNS, reset, timed out) after the retries."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url}: {reason}")


class ApiError(SdkError):
    """The node answered with `{error, message, field?}`."""

    status = 0
    code = "error"

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 body: dict | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.body = body or {}
        super().__init__(f"{message} (HTTP {status} {code})")


class MalformedRequest(ApiError):
    pass


class NotCanonicalRequest(MalformedRequest):
    pass


class BadSignatureError(ApiError):
    pass


class BadRequestSignatureError(BadSignatureError):
    pass


class UnauthenticatedError(ApiError):
    pass


class NotPermittedError(ApiError):
    pass


class OutOfScopeError(NotPermittedError):
    @property
    def scope(self) -> str | None:
        return self.body.get("scope")


class NotFoundError(ApiError):
    pass


class AlreadyCommittedError(ApiError):
    """The document is already in the ledger; `receipt` is the proof."""

    @property
    def doc_id(self) -> str | None:
        return self.body.get("doc_id")

    @property
    def receipt(self) -> dict | None:
        return self.body.get("receipt")


class TooLargeError(ApiError):
    pass


class RejectedError(ApiError):
    pass


class DuplicateRecordError(RejectedError):
    """Another accepted document records the same act (the same meeting's
    minutes, the same resolution number...): `existing` is its doc id, `field`
    the identifying field. Correct the existing record with an amendment."""

    @property
    def existing(self) -> str | None:
        return self.body.get("existing")


class InternalError(ApiError):
    pass


class ForwardFailedError(ApiError):
    pass


class UnavailableError(ApiError):
    """503: the node cannot take this now; retry after `retry_after` seconds."""

    @property
    def retry_after(self) -> float | None:
        value = self.body.get("retry_after")
        return float(value) if isinstance(value, (int, float)) else None


class NoLeaderError(UnavailableError):
    pass


class OverloadedError(UnavailableError):
    """Back-pressure: nothing was admitted; the same request may be sent again later."""


class BusyError(UnavailableError):
    pass


class TimeoutError_(ApiError):
    """504: accepted but not committed and certified in time (the name avoids the builtin)."""

    @property
    def doc_id(self) -> str | None:
        return self.body.get("doc_id")


_BY_CODE: dict[str, type[ApiError]] = {
    "invalid_input": MalformedRequest,
    "not_canonical": NotCanonicalRequest,
    "key_file": MalformedRequest,
    "proof_failed": MalformedRequest,
    "bad_signature": BadSignatureError,
    "bad_request_signature": BadRequestSignatureError,
    "unauthenticated": UnauthenticatedError,
    "not_permitted": NotPermittedError,
    "out_of_scope": OutOfScopeError,
    "busy": BusyError,
    "not_found": NotFoundError,
    "already_committed": AlreadyCommittedError,
    "duplicate_record": DuplicateRecordError,
    "too_large": TooLargeError,
    "rejected": RejectedError,
    "internal": InternalError,
    "forward_failed": ForwardFailedError,
    "no_leader": NoLeaderError,
    "overloaded": OverloadedError,
    "timeout": TimeoutError_,
}

_BY_STATUS: dict[int, type[ApiError]] = {
    400: MalformedRequest,
    401: BadSignatureError,
    403: NotPermittedError,
    404: NotFoundError,
    409: AlreadyCommittedError,
    413: TooLargeError,
    422: RejectedError,
    502: ForwardFailedError,
    503: NoLeaderError,
    504: TimeoutError_,
}


def error_from_response(status: int, body: Any, retry_after: str | None = None) -> ApiError:
    """The typed error for an HTTP error answer (by `error` code, else by status)."""
    if not isinstance(body, dict):
        body = {}
    code = body.get("error") if isinstance(body.get("error"), str) else None
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status) or (InternalError if status >= 500 else ApiError)
    message = body.get("message") if isinstance(body.get("message"), str) else f"HTTP {status}"
    field = body.get("field") if isinstance(body.get("field"), str) else None
    body = dict(body)
    if retry_after is not None and "retry_after" not in body:
        try:
            body["retry_after"] = float(retry_after)
        except ValueError:
            pass
    return cls(status, code or f"http_{status}", message, field, body)
