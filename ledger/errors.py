"""Errors raised by the ledger.

The tree, as httpx draws its own::

    MinutebookError                      every error we raise on purpose
    ├── InvalidInput(field, rule)        400  input breaks a rule; `field` is the path
    │   ├── NotCanonical                 400  bytes are not the one canonical encoding
    │   └── TooLarge                     413  over a size, depth or length limit
    ├── BadSignature(signer, field)      401  a signature does not verify; `field` is
    │   │                                     the signature's path, e.g. ``sigs[1].sig``
    │   └── BadRequestSignature          401  an HTTP request signature (RFC 9421) is malformed or
    │                                         wrong (`field`: ``signature``, the header)
    ├── NotPermitted(signer, role, org)  403  the signer lacks the role for the unit
    ├── Rejected(reason)                 422  legal in shape, illegal against the state
    │   └── DuplicateRecord(field, existing) 409  a second record of one real-world act
    ├── AlreadyCommitted(doc_id, receipt) 409 the document is in the ledger already
    ├── NotFound(what)                   404  no such document, block, member or unit
    ├── KeyFileError                     400  a key file cannot be read or decrypted
    └── ProofFailed(check)               a proof or receipt does not verify
        └── RootMismatch(expected, calculated)

    CorruptionError                      not a MinutebookError: a broken invariant
                                         (a stored value that fails its checksum, a
                                         gap in the log). It is never caught and
                                         logged away; the process stops.

Every class carries `http_status`, so `node/api.py` maps errors to
`{error, message, field}` in one place (h11's `error_status_hint`).
"""

from __future__ import annotations

__all__ = [
    "MinutebookError",
    "InvalidInput",
    "NotCanonical",
    "TooLarge",
    "BadSignature",
    "BadRequestSignature",
    "NotPermitted",
    "Rejected",
    "DuplicateRecord",
    "AlreadyCommitted",
    "NotFound",
    "KeyFileError",
    "ProofFailed",
    "RootMismatch",
    "CorruptionError",
]


class MinutebookError(Exception):
    """Base of every error raised on purpose; `code` is the API's `error` field."""

    http_status = 500
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        return {"error": self.code, "message": self.message}


class InvalidInput(MinutebookError):
    """Input breaks a rule. `field` is a path such as ``body.votes[2].for``."""

    http_status = 400
    code = "invalid_input"

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}" if field else rule)

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.field:
            d["field"] = self.field
        return d


class NotCanonical(InvalidInput):
    """Bytes that decode but are not the canonical encoding (rejected, never repaired)."""

    code = "not_canonical"


class TooLarge(InvalidInput):
    """Over a size, depth or length limit."""

    http_status = 413
    code = "too_large"


class BadSignature(MinutebookError):
    http_status = 401
    code = "bad_signature"

    def __init__(self, signer: str, message: str | None = None, *, field: str = "sigs") -> None:
        self.signer = signer
        self.field = field  # where in the envelope: "sigs", "sigs[i].sig", "sigs[i].key", "sigs[i].signer"
        super().__init__(message or f"signature of {signer} does not verify")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["field"] = self.field
        return d


class BadRequestSignature(BadSignature):
    """A request's RFC 9421 signature is malformed, does not verify, is out of
    its time window or replayed (ledger/httpsig.py, node/auth.py). The message
    says which."""

    code = "bad_request_signature"

    def __init__(self, message: str) -> None:
        super().__init__("request", message, field="signature")


class NotPermitted(MinutebookError):
    http_status = 403
    code = "not_permitted"

    def __init__(self, signer: str, role: str, org: str, message: str | None = None) -> None:
        self.signer = signer
        self.role = role
        self.org = org
        super().__init__(message or f"{signer} does not hold role {role!r} in {org!r} or an ancestor")


class Rejected(MinutebookError):
    """Well-formed and well-signed, but illegal against the registry state
    (an expelled member warned, a unit closed twice). On apply, such a document
    stays in its block flagged ``rejected`` with this reason."""

    http_status = 422
    code = "rejected"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DuplicateRecord(Rejected):
    """One record per real-world act (ledger/schemas.py ``RECORD_KEYS``): a
    second minutes of one meeting, a second resolution with one number, a
    second finding of one inspection on one subject, a second
    acknowledgement of a directive by one unit... `field` names the body
    field that identifies the act, `existing` the doc id of the record that
    holds it (correct that one with an ``amendment``). A 409 like
    :class:`AlreadyCommitted`, but not a success: this document is not in
    the ledger. On apply the reason is ``duplicate_record: <message>``."""

    http_status = 409
    code = "duplicate_record"

    def __init__(self, field: str, existing: str, message: str) -> None:
        self.field = field
        self.existing = existing
        super().__init__(f"{field}: {message}")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["field"] = self.field
        d["existing"] = self.existing
        return d


class AlreadyCommitted(MinutebookError):
    http_status = 409
    code = "already_committed"

    def __init__(self, doc_id: str, receipt: dict | None = None) -> None:
        self.doc_id = doc_id
        self.receipt = receipt
        super().__init__(f"document {doc_id} is already committed")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["doc_id"] = self.doc_id
        if self.receipt is not None:
            d["receipt"] = self.receipt
        return d


class NotFound(MinutebookError):
    http_status = 404
    code = "not_found"

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} not found")


class KeyFileError(MinutebookError):
    http_status = 400
    code = "key_file"


class ProofFailed(MinutebookError):
    """A proof or receipt does not verify; `check` names the first check that failed."""

    http_status = 400
    code = "proof_failed"

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        super().__init__(f"{check}: {message}")


class RootMismatch(ProofFailed):
    """merkle proof/verify.go's RootMismatchError: both roots, for the evidence."""

    def __init__(self, expected: bytes, calculated: bytes, check: str = "merkle_root") -> None:
        self.expected = expected
        self.calculated = calculated
        super().__init__(check, f"calculated root {calculated.hex()} != expected {expected.hex()}")


class CorruptionError(Exception):
    """A broken invariant in stored data. Deliberately not a MinutebookError:
    nothing catches it to carry on."""
