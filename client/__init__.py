"""minutebook's client side: the Python SDK, the offline receipt verifier and
the ``minutebook`` command line.

Names are imported lazily (PEP 562), so ``import client.verify`` -- the
offline verifier an auditor runs -- loads only ``ledger`` and pynacl, never the
HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Client": "client.sdk",
    "AsyncClient": "client.sdk",
    "sign_document": "client.sdk",
    "sign_confidential": "client.sdk",
    "open_sealed": "client.sdk",
    "RequestSigner": "client.signing",
    "verify_receipt": "client.verify",
    "verify_consistency_proof": "client.verify",
    "VerifiedReceipt": "client.verify",
    "SdkError": "client.errors",
    "ApiError": "client.errors",
    "MalformedRequest": "client.errors",
    "NotCanonicalRequest": "client.errors",
    "BadSignatureError": "client.errors",
    "BadRequestSignatureError": "client.errors",
    "UnauthenticatedError": "client.errors",
    "NotPermittedError": "client.errors",
    "OutOfScopeError": "client.errors",
    "NotFoundError": "client.errors",
    "AlreadyCommittedError": "client.errors",
    "DuplicateRecordError": "client.errors",
    "TooLargeError": "client.errors",
    "RejectedError": "client.errors",
    "InternalError": "client.errors",
    "ForwardFailedError": "client.errors",
    "UnavailableError": "client.errors",
    "NoLeaderError": "client.errors",
    "OverloadedError": "client.errors",
    "BusyError": "client.errors",
    "ConnectionFailed": "client.errors",
    "Outbox": "client.outbox",
    "deliver": "client.outbox",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
