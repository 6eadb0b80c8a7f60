"""Receipts and consistency proofs as JSON (DESIGN.md "Formats that outside
tools rely on"): built by the ledger, parsed (shape only) by the verifier.

A receipt, exactly::

    {"doc_id": <hex>,
     "envelope": <base64url of the canonical envelope bytes>,
     "leaf_index": <int>,                  # the document's leaf; only accepted
                                           # documents are leaves of the log
     "inclusion_proof": [<hex>, ...],      # RFC 9162 audit path, leaf upward
     "block": <Block object without        # the block holding the document; the
               its "documents" list>,      # proof is against its header's
                                           # log_size / log_root
     "membership": [<receipt>, ...]}       # only when needed, see below

Receipts made before this format carried the whole Block object, with the
``documents`` status list of every envelope in the block. The list proves
nothing (the certificate covers the header, not the statuses; inclusion in
the accepted-only log is what proves acceptance) and made every receipt as
large as its block, so it was dropped. Such receipts still parse here
(``BlockJson.documents`` is then the list, else None) and still verify: the
verifier checks the list's consistency when it is there
(``client.verify.check_listed_status``).

``membership``: when the voter set that certifies the receipt's block differs
from genesis, the receipts (same shape, without their own ``membership``) of
every accepted ``node`` document in blocks before it, in log order. The offline
verifier replays them from genesis to learn the voter set at the receipt's
height, checking each one against the voter set it has reached so far.

A consistency proof, exactly: ``{"first": M, "second": N, "proof": [<hex>, ...]}``
(RFC 9162 §2.1.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .blocks import Block, BlockSignature, DocumentStatus
from .errors import InvalidInput
from .jsonfmt import b64d, b64e, hex_hash

__all__ = [
    "receipt_json",
    "consistency_json",
    "Receipt",
    "BlockJson",
    "parse_consistency",
]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def receipt_json(
    *,
    doc_id: str,
    envelope: bytes,
    leaf_index: int,
    inclusion_proof: list[bytes],
    block: Block,
    membership: list[dict] | None = None,
) -> dict:
    """The Receipt object; `membership` is added only when given and non-empty."""
    d = {
        "doc_id": doc_id,
        "envelope": b64e(envelope),
        "leaf_index": leaf_index,
        "inclusion_proof": [h.hex() for h in inclusion_proof],
        "block": block.head_json(),
    }
    if membership:
        d["membership"] = membership
    return d


def consistency_json(first: int, second: int, proof: list[bytes]) -> dict:
    return {"first": first, "second": second, "proof": [h.hex() for h in proof]}


def _int(obj: dict, key: str, field: str) -> int:
    value = obj.get(key)
    if type(value) is not int or value < 0:
        raise InvalidInput(field, f"expected an int >= 0, got {value!r}")
    return value


def _hashes(value: Any, field: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise InvalidInput(field, "expected a list of hex hashes")
    return tuple(hex_hash(h, f"{field}[{i}]") for i, h in enumerate(value))


def _require(obj: Any, keys: tuple[str, ...], field: str) -> dict:
    if not isinstance(obj, dict):
        raise InvalidInput(field, f"expected an object, got {type(obj).__name__}")
    for key in keys:
        if key not in obj:
            raise InvalidInput(f"{field}.{key}" if field else key, "missing")
    return obj


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockJson:
    """A Block object parsed for shape only: nothing here is verified yet.
    ``documents`` is None for a receipt's block (no status list), else the list."""

    height: int
    header: bytes
    header_fields: dict
    block_hash: bytes
    certificate: tuple[BlockSignature, ...]
    documents: tuple[DocumentStatus, ...] | None

    @classmethod
    def from_json(cls, obj: Any, field: str = "block") -> "BlockJson":
        _require(obj, ("height", "header", "header_fields", "block_hash", "certificate"), field)
        if not isinstance(obj["header_fields"], dict):
            raise InvalidInput(f"{field}.header_fields", "expected an object")
        cert = obj["certificate"]
        if not isinstance(cert, list):
            raise InvalidInput(f"{field}.certificate", "expected a list")
        statuses = None
        if "documents" in obj:  # a receipt of the earlier format, or a whole Block object
            docs = obj["documents"]
            if not isinstance(docs, list):
                raise InvalidInput(f"{field}.documents", "expected a list")
            statuses = tuple(DocumentStatus.from_json(d, f"{field}.documents[{i}]") for i, d in enumerate(docs))
        return cls(
            height=_int(obj, "height", f"{field}.height"),
            header=b64d(obj["header"], f"{field}.header"),
            header_fields=obj["header_fields"],
            block_hash=hex_hash(obj["block_hash"], f"{field}.block_hash"),
            certificate=tuple(
                BlockSignature.from_json(c, f"{field}.certificate[{i}]") for i, c in enumerate(cert)
            ),
            documents=statuses,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """A Receipt object parsed for shape only (``client.verify`` checks it)."""

    doc_id: str
    envelope: bytes
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]
    block: BlockJson
    membership: tuple["Receipt", ...] = ()

    @classmethod
    def from_json(cls, obj: Any, field: str = "", *, nested: bool = False) -> "Receipt":
        """Raise InvalidInput naming the first field of the wrong shape.
        A nested receipt (one of ``membership``) may not carry its own."""
        _require(obj, ("doc_id", "envelope", "leaf_index", "inclusion_proof", "block"), field)
        p = f"{field}." if field else ""
        doc_id = obj["doc_id"]
        if not isinstance(doc_id, str) or not _HEX64.match(doc_id):
            raise InvalidInput(f"{p}doc_id", "expected 64 lowercase hex characters")
        membership: tuple[Receipt, ...] = ()
        if "membership" in obj:
            if nested:
                raise InvalidInput(f"{p}membership", "a membership receipt has no membership of its own")
            items = obj["membership"]
            if not isinstance(items, list):
                raise InvalidInput(f"{p}membership", "expected a list of receipts")
            membership = tuple(
                cls.from_json(r, f"{p}membership[{i}]", nested=True) for i, r in enumerate(items)
            )
        return cls(
            doc_id=doc_id,
            envelope=b64d(obj["envelope"], f"{p}envelope"),
            leaf_index=_int(obj, "leaf_index", f"{p}leaf_index"),
            inclusion_proof=_hashes(obj["inclusion_proof"], f"{p}inclusion_proof"),
            block=BlockJson.from_json(obj["block"], f"{p}block"),
            membership=membership,
        )


def parse_consistency(obj: Any) -> tuple[int, int, tuple[bytes, ...]]:
    """Shape of a consistency proof object -> (first, second, proof)."""
    _require(obj, ("first", "second", "proof"), "")
    return _int(obj, "first", "first"), _int(obj, "second", "second"), _hashes(obj["proof"], "proof")
