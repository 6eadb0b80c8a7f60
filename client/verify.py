"""The offline verifier: checks a receipt against genesis, trusting no node.

It imports only ``ledger`` (and, through it, pynacl and msgpack), so an
auditor can run it without the server's dependencies.

:func:`verify_receipt` runs these checks in order and raises
``ProofFailed(check, message)`` naming the first that fails:

==================  ==========================================================
``genesis``         genesis.json lists its nodes (node_id, public_key, role)
``shape``           the receipt has every field, of the right type
``envelope``        the envelope bytes decode canonically into a valid envelope
``doc_id``          the document hashes to ``doc_id``
``signatures``      every envelope signature verifies (``DOC_DOMAIN`` + doc)
``block_hash``      sha256(header bytes) == ``block.block_hash``
``header_fields``   the header decodes canonically, ``header_fields`` and
                    ``block.height`` say the same as it does
``membership``      each ``membership`` receipt (the accepted ``node``
                    documents before this block, in order) verifies against the
                    voter set reached so far, starting from genesis
``certificate``     a strict majority of the voters before this block signed
                    ``BLOCK_DOMAIN + block_hash`` (the 32 raw bytes); entries of
                    non-voters are ignored, each voter counts once, and an entry
                    naming a voter with a bad signature fails
``document_status`` receipts of the earlier format only, whose block carries
                    the status list ``block.documents``: it lists the
                    document as accepted at ``leaf_index``, and its accepted
                    entries hold consecutive leaves ending at ``log_size - 1``
                    (rejected ones have ``leaf_index`` null)
``inclusion``       the RFC 9162 audit path of SHA-256(0x00 || envelope) at
                    ``leaf_index`` reaches ``log_root`` for ``log_size``
==================  ==========================================================

What a receipt proves. Only *accepted* envelopes are leaves of the document
log (rejected ones are committed to by the header's ``tx_root`` but are no
leaves), and the certificate signs the header, hence ``log_root``. So the
``inclusion`` check alone proves that this envelope was accepted: it is a
leaf of the log that the certified header commits to. That is why today's
receipts carry no status list; in receipts of the earlier format,
``block.documents`` -- the statuses -- are not covered by the header and
vouch for nothing on their own; ``document_status`` is a consistency check
between them and the receipt, and a forger who rewrites them to call a
rejected document accepted still fails ``inclusion``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from ledger.blocks import ACCEPTED, Header, check_certificate
from ledger.documents import Envelope
from ledger.errors import MinutebookError, ProofFailed
from ledger.jsonfmt import b64d
from ledger.merkle import leaf_hash, verify_inclusion, verify_consistency
from ledger.receipts import Receipt, parse_consistency

__all__ = [
    "CHECKS",
    "VerifiedReceipt",
    "verify_receipt",
    "check_listed_status",
    "verify_consistency_proof",
    "genesis_voters",
]

CHECKS = (
    "genesis",
    "shape",
    "envelope",
    "doc_id",
    "signatures",
    "block_hash",
    "header_fields",
    "membership",
    "certificate",
    "document_status",
    "inclusion",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedReceipt:
    """What a receipt proved."""

    doc_id: str
    doc_type: str
    org: str
    created_at: int
    signers: tuple[str, ...]
    leaf_index: int
    height: int
    block_hash: str
    log_size: int
    log_root: str
    voters: tuple[str, ...]  # the voter set that certifies the block
    certified_by: tuple[str, ...]  # the voters whose signatures were counted

    def to_json(self) -> dict:
        return {
            "ok": True,
            "doc_id": self.doc_id,
            "type": self.doc_type,
            "org": self.org,
            "created_at": self.created_at,
            "signers": list(self.signers),
            "leaf_index": self.leaf_index,
            "height": self.height,
            "block_hash": self.block_hash,
            "log_size": self.log_size,
            "log_root": self.log_root,
            "voters": list(self.voters),
            "certified_by": list(self.certified_by),
        }


def _fail(check: str, exc: MinutebookError | str) -> ProofFailed:
    return ProofFailed(check, exc if isinstance(exc, str) else exc.message)


def genesis_voters(genesis: Any) -> dict[str, bytes]:
    """The voters of genesis.json: node id -> public key (check ``genesis``)."""
    try:
        nodes = genesis["nodes"]
        if not isinstance(nodes, list):
            raise TypeError
        voters = {}
        for i, node in enumerate(nodes):
            if node["role"] not in ("voter", "learner"):
                raise _fail("genesis", f"nodes[{i}].role: expected voter or learner")
            if not isinstance(node["node_id"], str):
                raise _fail("genesis", f"nodes[{i}].node_id: expected a string")
            key = b64d(node["public_key"], f"nodes[{i}].public_key", length=32)
            if node["role"] == "voter":
                voters[node["node_id"]] = key
    except ProofFailed:
        raise
    except MinutebookError as exc:
        raise _fail("genesis", exc) from None
    except (KeyError, TypeError):
        raise _fail("genesis", "expected nodes: [{node_id, public_key, role}]") from None
    if not voters:
        raise _fail("genesis", "genesis lists no voter")
    return voters


def _apply_node_change(voters: dict[str, bytes], envelope: Envelope) -> dict[str, bytes]:
    """The voter set after an accepted ``node`` document (its body is the
    registry's ``node`` change: add a voter or learner, or remove a node)."""
    body = envelope.doc.body
    action = body.get("action")
    node_id = body.get("node_id")
    voters = dict(voters)
    if action == "remove":
        voters.pop(node_id, None)
    elif action == "add":
        if body.get("role") == "voter":
            voters[node_id] = bytes(body["public_key"])
        else:
            voters.pop(node_id, None)
    else:
        raise _fail("membership", f"node document {envelope.doc_id}: unknown action {action!r}")
    return voters


def _verify_one(
    receipt: Receipt, voters_before: Callable[[Header], dict[str, bytes]]
) -> tuple[Envelope, Header, dict[str, bytes], list[str]]:
    """Checks ``envelope`` .. ``inclusion`` of one receipt, in order;
    `voters_before(header)` runs the ``membership`` step and returns the voters
    that certify the block."""
    try:
        envelope = Envelope.from_bytes(receipt.envelope)
    except MinutebookError as exc:
        raise _fail("envelope", exc) from None
    except (ValueError, KeyError, TypeError) as exc:  # hostile bytes must not crash the verifier
        raise _fail("envelope", f"{type(exc).__name__}: {exc}") from None
    if envelope.doc_id != receipt.doc_id:
        raise _fail("doc_id", f"the document hashes to {envelope.doc_id}, not {receipt.doc_id}")
    try:
        envelope.verify_signatures()
    except MinutebookError as exc:
        raise _fail("signatures", exc) from None

    block = receipt.block
    calculated = hashlib.sha256(block.header).digest()
    if calculated != block.block_hash:
        raise _fail("block_hash", f"sha256(header) is {calculated.hex()}, not {block.block_hash.hex()}")
    try:
        header = Header.from_bytes(block.header)
    except MinutebookError as exc:
        raise _fail("header_fields", f"header: {exc.message}") from None
    if block.header_fields != header.fields_json():
        fields = header.fields_json()
        differ = sorted(set(fields) ^ set(block.header_fields)) or sorted(
            k for k in fields if fields[k] != block.header_fields[k]
        )
        raise _fail("header_fields", f"header_fields differ from the header in {differ}")
    if block.height != header.height:
        raise _fail("header_fields", f"block.height {block.height} != header height {header.height}")

    voters = voters_before(header)
    try:
        certified_by = check_certificate(block.block_hash, block.certificate, voters)
    except ProofFailed as exc:
        raise _fail("certificate", exc.message.removeprefix("certificate: ")) from None

    if block.documents is not None:
        check_listed_status(receipt, header)

    try:
        verify_inclusion(
            leaf_hash(receipt.envelope), receipt.leaf_index, header.log_size, list(receipt.inclusion_proof),
            header.log_root,
        )
    except MinutebookError as exc:
        raise _fail("inclusion", exc) from None
    return envelope, header, voters, certified_by


def check_listed_status(receipt: Receipt, header: Header) -> None:
    """``document_status``, for receipts of the earlier format whose block carries the status
    list of all its envelopes (``block.documents``; today's receipts leave it out). The list is
    not covered by the certificate and proves nothing on its own; it must still agree with the
    receipt: the accepted entries hold consecutive leaves ending at ``log_size - 1``, and the
    document is the one accepted at ``leaf_index``."""
    documents = receipt.block.documents or ()
    accepted = [d for d in documents if d.status == ACCEPTED]  # shape: exactly those have a leaf_index
    first = header.log_size - len(accepted)
    for i, d in enumerate(accepted):
        if d.leaf_index != first + i:
            raise _fail(
                "document_status",
                f"accepted document {d.doc_id} is at leaf {d.leaf_index}; the block's {len(accepted)} accepted "
                f"documents hold leaves {first}..{header.log_size - 1} in order",
            )
    entry = next((d for d in accepted if d.leaf_index == receipt.leaf_index), None)
    if entry is None or entry.doc_id != receipt.doc_id:
        refused = next((d for d in documents if d.doc_id == receipt.doc_id and d.status != ACCEPTED), None)
        if refused is not None:
            raise _fail("document_status", f"document {receipt.doc_id} was rejected: {refused.reason}")
        raise _fail("document_status",
                    f"block {header.height} has no document {receipt.doc_id} accepted at leaf {receipt.leaf_index}")


def verify_receipt(receipt: dict, genesis: dict) -> VerifiedReceipt:
    """Verify `receipt` (the Receipt JSON object) against `genesis` (genesis.json).

    Returns what it proved, or raises ProofFailed naming the first failed check
    (module docstring).
    """
    initial = genesis_voters(genesis)
    try:
        parsed = Receipt.from_json(receipt)
    except MinutebookError as exc:
        raise _fail("shape", exc) from None

    def follow_membership(header: Header) -> dict[str, bytes]:
        # A node document changes the voters from the block after its own:
        # changes wait in `pending` until a later block is reached.
        voters = initial
        pending: list[Envelope] = []
        pending_height = 0
        last_leaf = -1
        for i, member in enumerate(parsed.membership):
            if member.block.height != pending_height:
                for envelope in pending:
                    voters = _apply_node_change(voters, envelope)
                pending, pending_height = [], member.block.height
            try:
                envelope, member_header, _, _ = _verify_one(member, lambda _h: voters)
            except ProofFailed as exc:
                raise _fail("membership", f"membership[{i}]: {exc.message}") from None
            if envelope.doc.type != "node":
                raise _fail("membership", f"membership[{i}] is a {envelope.doc.type} document, not a node document")
            if member.leaf_index <= last_leaf:
                raise _fail("membership", f"membership[{i}] is not in log order")
            if member_header.height >= header.height:
                raise _fail(
                    "membership", f"membership[{i}] is in block {member_header.height}, not before block {header.height}"
                )
            last_leaf = member.leaf_index
            pending.append(envelope)
        for envelope in pending:
            voters = _apply_node_change(voters, envelope)
        return voters

    envelope, header, voters, certified_by = _verify_one(parsed, follow_membership)
    return VerifiedReceipt(
        doc_id=parsed.doc_id,
        doc_type=envelope.doc.type,
        org=envelope.doc.org,
        created_at=envelope.doc.created_at,
        signers=tuple(s.signer for s in envelope.sigs),
        leaf_index=parsed.leaf_index,
        height=header.height,
        block_hash=header.block_hash,
        log_size=header.log_size,
        log_root=header.log_root.hex(),
        voters=tuple(sorted(voters)),
        certified_by=tuple(certified_by),
    )


def verify_consistency_proof(proof: dict, first_root: bytes | str, second_root: bytes | str) -> None:
    """Check a ``{first, second, proof}`` object (RFC 9162 §2.1.4.2) between
    two tree heads' roots (raw or hex); raises ProofFailed("shape" |
    "consistency", ...)."""
    try:
        first, second, hashes = parse_consistency(proof)
        roots = [bytes.fromhex(r) if isinstance(r, str) else bytes(r) for r in (first_root, second_root)]
    except (MinutebookError, ValueError) as exc:
        raise _fail("shape", exc if isinstance(exc, MinutebookError) else str(exc)) from None
    try:
        verify_consistency(first, second, roots[0], roots[1], list(hashes))
    except MinutebookError as exc:
        raise _fail("consistency", exc) from None
