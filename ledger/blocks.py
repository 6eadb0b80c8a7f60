"""Blocks: the proposal a leader puts into Raft, the header every node derives
from it, per-document statuses, and the certificate rule.

Theory of operation (DESIGN.md "Blocks, Merkle log, certificates"):

- The leader proposes a :class:`BlockProposal` (height, prev_hash, timestamp,
  proposer, term and the envelopes, each as its canonical bytes). It is the
  data of one Raft entry.
- Every node applies the proposal the same way, checking every envelope
  again; each gets a :class:`DocumentStatus`, accepted or rejected (with the
  reason). **Only accepted envelopes become leaves of the document log**, in
  proposal order. The :class:`Header` is a function of the proposal and the
  ledger before it: ``tx_root`` is the RFC 9162 root over *all* the block's
  envelopes (accepted and rejected, proposal order), ``log_size``/``log_root``
  the document log after appending the accepted ones.

  Why accepted-only: the certificate signs the header and nothing else; the
  statuses in the Block object are not covered by it. If rejected envelopes
  were leaves too, a node could serve a receipt for a rejected document with
  its status flipped to accepted, and the inclusion proof would still check
  out. With accepted-only leaves, "included in the certified log" *is*
  "accepted": a receipt proves acceptance on the strength of the header
  alone. Rejected envelopes are not dropped silently: ``tx_root`` still
  commits to them, so the certified header fixes exactly what was proposed
  (``minutebook audit`` replays it and checks every status).
- ``block_hash = sha256(canonical(header))``. A node certifies a block by
  signing ``BLOCK_DOMAIN + block_hash`` where ``block_hash`` is the **32 raw
  bytes** of the hash (not its hex form) with its node key. A block is
  certified by signatures from a strict majority of the voters in force
  *before* the block, i.e. after applying blocks ``< height``
  (:func:`check_certificate`).

JSON (the Block object of DESIGN.md "Formats that outside tools rely on"):
bytes are base64url without padding; hashes are lowercase hex. In
``header_fields`` the hash fields ``prev_hash``, ``tx_root`` and ``log_root``
are lowercase hex (they are hashes); ``height``, ``timestamp`` (unix ms),
``term`` and ``log_size`` are integers and ``proposer`` a string. A certificate
is ``[{node, sig}]`` sorted by node id, ``sig`` base64url.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .encoding import canonical, decode_canonical
from .errors import InvalidInput, ProofFailed
from .jsonfmt import b64d, b64e, hex_hash
from .keys import BLOCK_DOMAIN, verify

__all__ = [
    "MAX_PROPOSAL_BYTES",
    "MAX_CLOCK_SKEW_MS",
    "ACCEPTED",
    "REJECTED",
    "BlockProposal",
    "Header",
    "DocumentStatus",
    "BlockSignature",
    "Block",
    "TreeHead",
    "block_signing_message",
    "quorum_size",
    "check_certificate",
]

MAX_PROPOSAL_BYTES = 64 << 20  # one Raft entry
# The clock rules' bound (node/clock.py has them all): a document created more than this after its
# block's timestamp is rejected on apply, and a leader whose clock is further than this from a
# majority of the voters' proposes nothing. Five minutes, as Kerberos allows between clocks.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
ACCEPTED = "accepted"
REJECTED = "rejected"
HASH_LEN = 32
_HEX64 = re.compile(r"[0-9a-f]{64}")

_HEADER_KEYS = ("height", "log_root", "log_size", "prev_hash", "proposer", "term", "timestamp", "tx_root")
_PROPOSAL_KEYS = ("envelopes", "height", "prev_hash", "proposer", "term", "timestamp")


def _check_int(value: Any, field: str, minimum: int = 0) -> None:
    if type(value) is not int or value < minimum:
        raise InvalidInput(field, f"expected an int >= {minimum}, got {value!r}")


def _check_hash(value: Any, field: str) -> None:
    if type(value) is not bytes or len(value) != HASH_LEN:
        raise InvalidInput(field, f"expected {HASH_LEN} bytes")


def _check_str(value: Any, field: str) -> None:
    if type(value) is not str or not value:
        raise InvalidInput(field, "expected a non-empty string")


def _check_keys(obj: Any, keys: tuple[str, ...], field: str) -> None:
    if not isinstance(obj, dict):
        raise InvalidInput(field, f"expected a map, got {type(obj).__name__}")
    if sorted(obj) != list(keys):
        missing = sorted(set(keys) - set(obj))
        extra = sorted(set(obj) - set(keys))
        raise InvalidInput(field, f"expected exactly the keys {list(keys)} (missing {missing}, extra {extra})")


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockProposal:
    """What the leader proposes: the data of one Raft entry.

    ``prev_hash`` is the raw 32-byte hash of the previous header (block 1:
    the genesis hash); ``envelopes`` are canonical envelope bytes, in order,
    unvalidated here (applying the block validates each one).
    """

    height: int  # Invariant: >= 1 (the first block is height 1)
    prev_hash: bytes
    timestamp: int  # unix ms, chosen by the proposer
    proposer: str  # node id
    term: int
    envelopes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_int(self.height, "height", 1)
        _check_hash(self.prev_hash, "prev_hash")
        _check_int(self.timestamp, "timestamp")
        _check_str(self.proposer, "proposer")
        _check_int(self.term, "term")
        if type(self.envelopes) is not tuple:
            raise InvalidInput("envelopes", "expected a tuple of bytes")
        for i, env in enumerate(self.envelopes):
            if type(env) is not bytes:
                raise InvalidInput(f"envelopes[{i}]", "expected bytes")

    def to_bytes(self) -> bytes:
        return canonical(
            {
                "envelopes": list(self.envelopes),
                "height": self.height,
                "prev_hash": self.prev_hash,
                "proposer": self.proposer,
                "term": self.term,
                "timestamp": self.timestamp,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "BlockProposal":
        obj = decode_canonical(data, max_bytes=MAX_PROPOSAL_BYTES)
        _check_keys(obj, _PROPOSAL_KEYS, "")
        if not isinstance(obj["envelopes"], list):
            raise InvalidInput("envelopes", "expected a list of bytes")
        return cls(
            height=obj["height"],
            prev_hash=obj["prev_hash"],
            timestamp=obj["timestamp"],
            proposer=obj["proposer"],
            term=obj["term"],
            envelopes=tuple(obj["envelopes"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """A block header; ``block_hash = sha256(canonical(header))``, hex."""

    height: int
    prev_hash: bytes
    timestamp: int
    proposer: str
    term: int
    tx_root: bytes  # RFC 9162 root over all this block's envelopes, accepted and rejected
    log_size: int  # the document log's size after this block's accepted envelopes
    log_root: bytes  # the document log's root at log_size

    def __post_init__(self) -> None:
        _check_int(self.height, "height", 1)
        _check_hash(self.prev_hash, "prev_hash")
        _check_int(self.timestamp, "timestamp")
        _check_str(self.proposer, "proposer")
        _check_int(self.term, "term")
        _check_hash(self.tx_root, "tx_root")
        _check_int(self.log_size, "log_size")
        _check_hash(self.log_root, "log_root")

    def to_obj(self) -> dict:
        return {
            "height": self.height,
            "log_root": self.log_root,
            "log_size": self.log_size,
            "prev_hash": self.prev_hash,
            "proposer": self.proposer,
            "term": self.term,
            "timestamp": self.timestamp,
            "tx_root": self.tx_root,
        }

    @property
    def canonical(self) -> bytes:
        return canonical(self.to_obj())

    @property
    def hash(self) -> bytes:
        """The 32 raw bytes of the block hash (what the certificate signs)."""
        return hashlib.sha256(self.canonical).digest()

    @property
    def block_hash(self) -> str:
        return self.hash.hex()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Header":
        obj = decode_canonical(data)
        _check_keys(obj, _HEADER_KEYS, "header")
        return cls(**obj)

    def fields_json(self) -> dict:
        """``header_fields`` of the Block object: hashes as lowercase hex."""
        return {
            "height": self.height,
            "prev_hash": self.prev_hash.hex(),
            "timestamp": self.timestamp,
            "proposer": self.proposer,
            "term": self.term,
            "tx_root": self.tx_root.hex(),
            "log_size": self.log_size,
            "log_root": self.log_root.hex(),
        }

    @classmethod
    def from_fields_json(cls, obj: Any, field: str = "header_fields") -> "Header":
        _check_keys(obj, _HEADER_KEYS, field)
        return cls(
            height=obj["height"],
            prev_hash=hex_hash(obj["prev_hash"], f"{field}.prev_hash"),
            timestamp=obj["timestamp"],
            proposer=obj["proposer"],
            term=obj["term"],
            tx_root=hex_hash(obj["tx_root"], f"{field}.tx_root"),
            log_size=obj["log_size"],
            log_root=hex_hash(obj["log_root"], f"{field}.log_root"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentStatus:
    """One envelope of a block and whether it was accepted. ``doc_id`` is None
    only for an envelope too malformed to have one (a leader never proposes
    such bytes; a faulty one could). ``reason`` is set exactly when ``status``
    is rejected. ``leaf_index`` is the envelope's leaf in the document log; a
    rejected envelope is no leaf, so its ``leaf_index`` is None (JSON null)."""

    doc_id: str | None
    leaf_index: int | None  # Invariant: None exactly when status is rejected
    status: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.doc_id is not None and not (type(self.doc_id) is str and _HEX64.fullmatch(self.doc_id)):
            raise InvalidInput("doc_id", "expected 64 lowercase hex characters or null")
        if self.status not in (ACCEPTED, REJECTED):
            raise InvalidInput("status", f"expected accepted or rejected, got {self.status!r}")
        if self.status == ACCEPTED:
            if type(self.leaf_index) is not int or self.leaf_index < 0:
                raise InvalidInput("leaf_index", f"expected an int >= 0 for an accepted document, "
                                                 f"got {self.leaf_index!r}")
        elif self.leaf_index is not None:
            raise InvalidInput("leaf_index", f"expected null for a rejected document (it is no leaf of the log), "
                                             f"got {self.leaf_index!r}")
        if (self.reason is not None) != (self.status == REJECTED) or (
                self.reason is not None and type(self.reason) is not str):
            raise InvalidInput("reason", "a string reason is given exactly when the status is rejected")

    def to_json(self) -> dict:
        d: dict = {"doc_id": self.doc_id, "leaf_index": self.leaf_index, "status": self.status}
        if self.reason is not None:
            d["reason"] = self.reason
        return d

    @classmethod
    def from_json(cls, obj: Any, field: str = "documents[0]") -> "DocumentStatus":
        """One entry of a Block object's ``documents``, checked for shape by the
        record's own rules; InvalidInput names the field (``block.documents[2].leaf_index``)."""
        if not isinstance(obj, dict):
            raise InvalidInput(field, f"expected an object, got {type(obj).__name__}")
        for key in ("doc_id", "leaf_index", "status"):
            if key not in obj:
                raise InvalidInput(f"{field}.{key}", "missing")
        try:
            return cls(doc_id=obj["doc_id"], leaf_index=obj["leaf_index"], status=obj["status"],
                       reason=obj.get("reason"))
        except InvalidInput as exc:
            raise InvalidInput(f"{field}.{exc.field}", exc.rule) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSignature:
    """One certificate entry: node ``node`` signed ``BLOCK_DOMAIN + block_hash``."""

    node: str
    sig: bytes

    def __post_init__(self) -> None:
        _check_str(self.node, "node")
        if type(self.sig) is not bytes or len(self.sig) != 64:
            raise InvalidInput("sig", "expected 64 bytes")

    def to_json(self) -> dict:
        return {"node": self.node, "sig": b64e(self.sig)}

    @classmethod
    def from_json(cls, obj: Any, field: str = "certificate") -> "BlockSignature":
        if not isinstance(obj, dict) or sorted(obj) != ["node", "sig"]:
            raise InvalidInput(field, "expected {node, sig}")
        _check_str(obj["node"], f"{field}.node")
        return cls(node=obj["node"], sig=b64d(obj["sig"], f"{field}.sig", length=64))


def _certificate_json(certificate: tuple[BlockSignature, ...]) -> list[dict]:
    return [s.to_json() for s in sorted(certificate, key=lambda s: s.node)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A block as served: header, the status of each envelope (proposal order),
    the certificate so far. The accepted ones hold consecutive leaves ending at
    ``header.log_size - 1``."""

    header: Header
    documents: tuple[DocumentStatus, ...]
    certificate: tuple[BlockSignature, ...] = ()

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def block_hash(self) -> str:
        return self.header.block_hash

    def to_json(self) -> dict:
        """The Block object of DESIGN.md, exactly."""
        obj = self.head_json()
        obj["documents"] = [d.to_json() for d in self.documents]
        return obj

    def head_json(self) -> dict:
        """The Block object without ``documents``: what a receipt carries (receipts.py)."""
        return {
            "height": self.header.height,
            "header": b64e(self.header.canonical),
            "header_fields": self.header.fields_json(),
            "block_hash": self.header.block_hash,
            "certificate": _certificate_json(self.certificate),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeHead:
    """A signed tree head: ``{log_size, log_root, height, block_hash,
    timestamp}`` of a block, with its certificate (``[{node, sig}]``)."""

    log_size: int
    log_root: bytes
    height: int
    block_hash: str
    timestamp: int
    certificate: tuple[BlockSignature, ...] = ()

    @classmethod
    def of(cls, header: Header, certificate: tuple[BlockSignature, ...] = ()) -> "TreeHead":
        return cls(
            log_size=header.log_size,
            log_root=header.log_root,
            height=header.height,
            block_hash=header.block_hash,
            timestamp=header.timestamp,
            certificate=certificate,
        )

    def to_json(self) -> dict:
        return {
            "log_size": self.log_size,
            "log_root": self.log_root.hex(),
            "height": self.height,
            "block_hash": self.block_hash,
            "timestamp": self.timestamp,
            "certificate": _certificate_json(self.certificate),
        }


def block_signing_message(block_hash: bytes) -> bytes:
    """What a node signs to certify a block, without the domain (``keys.sign``
    prepends BLOCK_DOMAIN): the 32 raw bytes of the block hash."""
    if type(block_hash) is not bytes or len(block_hash) != HASH_LEN:
        raise InvalidInput("block_hash", "expected the 32 raw bytes of the hash")
    return block_hash


def quorum_size(voters: int) -> int:
    """A strict majority of `voters` (Raft §5.2: a majority of the configuration)."""
    return voters // 2 + 1


def check_certificate(
    block_hash: bytes, certificate: "list[BlockSignature] | tuple[BlockSignature, ...]", voters: Mapping[str, bytes]
) -> list[str]:
    """Check that a strict majority of `voters` (node id -> public key) signed
    ``BLOCK_DOMAIN + block_hash``; return the voters counted, sorted.

    Entries from non-voters are ignored, and a voter is counted once however
    often it appears. An entry that names a voter but does not verify under
    that voter's key is evidence of tampering: it fails the check rather than
    being skipped. Raises ``ProofFailed("certificate", ...)``.
    """
    message = block_signing_message(block_hash)
    if not voters:
        raise ProofFailed("certificate", "no voters at this height")
    signed: set[str] = set()
    for i, entry in enumerate(certificate):
        key = voters.get(entry.node)
        if key is None:
            continue
        if not verify(key, BLOCK_DOMAIN, message, entry.sig):
            raise ProofFailed("certificate", f"certificate[{i}]: signature of voter {entry.node} does not verify")
        signed.add(entry.node)
    need = quorum_size(len(voters))
    if len(signed) < need:
        raise ProofFailed(
            "certificate",
            f"{len(signed)} of {len(voters)} voters signed; a strict majority needs {need}",
        )
    return sorted(signed)
