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

Trust anchors (:func:`pin_checkpoint`, :func:`verify_receipt_pinned`). Knowing
only genesis, the verifier learns the voters at the receipt's height from the
receipt itself (its ``membership`` receipts), so it cannot tell a receipt
whose membership was left out from one of a ledger without node changes:
keys that were voters at genesis could certify a forged block long after
they were removed. An auditor who pins a checkpoint (a C2SP signed note of
size N with its voters' verifier keys, and optionally witnesses' keys that
must have cosigned it) adds, in this order around the checks above:

==================  ==========================================================
``pin``             the pinned checkpoint is of this genesis's ledger (origin),
                    a strict majority of the pinned voter keys signed it, and
                    every given witness key cosigned it
(the checks above)
``consistency``     the receipt's log (``log_size`` m, ``log_root``) and the pin
                    are one log: equal roots if m = N, otherwise an RFC 9162
                    consistency proof between m and N (either order)
``pinned_voters``   if m > N: the receipt's membership walk reaches, at tree
                    size N, exactly the pinned voters (the voters in force just
                    before or just after the block that made the log N long),
                    so the receipt's certifiers descend from the pinned voters
==================  ==========================================================

The anchoring chain (:func:`verify_anchored`). A higher ledger records a lower
ledger's witnessed checkpoint as an ``anchor`` document (ledger/anchors.py).
Given the anchor's receipt and the higher genesis, the anchored checkpoint
becomes the pin, in this order: ``anchor_receipt`` (the anchor's receipt
verifies against the higher genesis, every check above; the inner check is
named in the message), ``anchor_document`` (it is an anchor of the receipt's
ledger), ``pin`` (its checkpoint, voter keys and witness cosignatures), then
the receipt's own checks and ``consistency``: the receipt's log must be at or
before the anchored checkpoint.

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
from ledger.checkpoint import Checkpoint, checkpoint_origin, verify_checkpoint
from ledger.documents import Envelope
from ledger.errors import MinutebookError, ProofFailed
from ledger.genesis import Genesis
from ledger.jsonfmt import b64d
from ledger.merkle import leaf_hash, verify_inclusion, verify_consistency
from ledger.receipts import Receipt, parse_consistency
from ledger.signed_note import VerifierKey

__all__ = [
    "CHECKS",
    "PINNED_CHECKS",
    "VerifiedReceipt",
    "verify_receipt",
    "check_listed_status",
    "verify_consistency_proof",
    "genesis_voters",
    "TrustAnchor",
    "PinnedReceipt",
    "pin_checkpoint",
    "verify_receipt_pinned",
    "ANCHORED_CHECKS",
    "AnchoredReceipt",
    "verify_anchored",
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
PINNED_CHECKS = ("pin", *CHECKS, "consistency", "pinned_voters")
ANCHORED_CHECKS = ("anchor_receipt", "anchor_document", "pin", *CHECKS, "consistency")


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
    return _verify_receipt(receipt, genesis)[0]


# (log size after a block, public keys of the voters in force after it), from genesis (size 0) on
VoterHistory = list[tuple[int, frozenset[bytes]]]


def _verify_receipt(receipt: dict, genesis: dict) -> tuple[VerifiedReceipt, VoterHistory]:
    """verify_receipt, also returning the voter sets the membership walk passed through."""
    initial = genesis_voters(genesis)
    try:
        parsed = Receipt.from_json(receipt)
    except MinutebookError as exc:
        raise _fail("shape", exc) from None
    history: VoterHistory = [(0, frozenset(initial.values()))]

    def follow_membership(header: Header) -> dict[str, bytes]:
        # A node document changes the voters from the block after its own:
        # changes wait in `pending` until a later block is reached.
        voters = initial
        pending: list[Envelope] = []
        pending_height = pending_size = 0
        last_leaf = -1
        for i, member in enumerate(parsed.membership):
            if member.block.height != pending_height:
                for envelope in pending:
                    voters = _apply_node_change(voters, envelope)
                if pending:
                    history.append((pending_size, frozenset(voters.values())))
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
            pending_size = member_header.log_size
            pending.append(envelope)
        for envelope in pending:
            voters = _apply_node_change(voters, envelope)
        if pending:
            history.append((pending_size, frozenset(voters.values())))
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
    ), history


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


# -- trust anchors ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustAnchor:
    """A checkpoint the auditor trusts, and the voters in force when it was signed."""

    checkpoint: Checkpoint
    voters: frozenset[bytes]  # Ed25519 public keys of the pinned voters
    cosigners: tuple[str, ...]  # verifier keys of the witnesses whose cosignatures verified


def pin_checkpoint(note: str | bytes, voter_keys: Any, genesis: dict, *,
                   witness_keys: Any = ()) -> TrustAnchor:
    """Check a checkpoint to pin (check ``pin``): it is of `genesis`'s ledger,
    a strict majority of `voter_keys` (verifier key strings or VerifierKey,
    every voter in force when it was signed) signed it, and every one of
    `witness_keys` (cosignature verifier keys) cosigned it."""
    try:
        origin = checkpoint_origin(Genesis.from_json(genesis))
    except MinutebookError as exc:
        raise _fail("genesis", exc) from None
    try:
        keys = [k if isinstance(k, VerifierKey) else VerifierKey.from_text(k, f"checkpoint key {i + 1}")
                for i, k in enumerate(voter_keys)]
        witnesses = [k if isinstance(k, VerifierKey) else VerifierKey.from_text(k, f"witness key {i + 1}")
                     for i, k in enumerate(witness_keys)]
    except MinutebookError as exc:
        raise _fail("pin", exc) from None
    if not keys:
        raise _fail("pin", "no checkpoint keys: give the verifier keys of the voters that signed the checkpoint")
    for key in keys:
        if key.name != origin:
            raise _fail("pin", f"checkpoint key {key.text} is not a key of this ledger (its name is not the "
                               f"origin {origin})")
    if len({k.public_key for k in keys}) != len(keys):
        raise _fail("pin", "a checkpoint key is listed twice")
    try:
        verified = verify_checkpoint(note, keys, origin=origin, witnesses=witnesses, field="pin")
    except MinutebookError as exc:
        raise _fail("pin", exc.message.removeprefix("pin: ")) from None
    return TrustAnchor(checkpoint=verified.checkpoint, voters=frozenset(k.public_key for k in keys),
                       cosigners=tuple(k.text for k in verified.cosigners))


@dataclass(frozen=True, slots=True, kw_only=True)
class PinnedReceipt:
    """What a receipt proved against a pinned checkpoint."""

    receipt: VerifiedReceipt
    pinned_size: int
    pinned_root: str  # hex
    position: str  # the receipt's log is "before", "at" or "after" the pinned one

    def to_json(self) -> dict:
        return {**self.receipt.to_json(), "pinned": {"size": self.pinned_size, "root_hash": self.pinned_root,
                                                      "position": self.position}}


def verify_receipt_pinned(receipt: dict, genesis: dict, anchor: TrustAnchor,
                          consistency: dict | None = None) -> PinnedReceipt:
    """Verify `receipt` as verify_receipt does, then against `anchor` (checks
    ``consistency`` and ``pinned_voters``, module docstring). `consistency` is
    the ``{first, second, proof}`` object between the receipt's log size and
    the pinned size (not needed when they are equal)."""
    verified, history = _verify_receipt(receipt, genesis)
    m, n = verified.log_size, anchor.checkpoint.size
    root_m, root_n = bytes.fromhex(verified.log_root), anchor.checkpoint.root_hash
    if m == n:
        if root_m != root_n:
            raise _fail("consistency", f"the receipt's log of {m} documents has root {root_m.hex()}; the pinned "
                                       f"checkpoint of the same size has {root_n.hex()}: two different logs")
    else:
        if consistency is None:
            raise _fail("consistency", f"a consistency proof between sizes {min(m, n)} and {max(m, n)} is needed "
                                       f"(GET /v1/proofs/consistency?first={min(m, n)}&second={max(m, n)})")
        try:
            first, second, _ = parse_consistency(consistency)
        except MinutebookError as exc:
            raise _fail("consistency", exc) from None
        if (first, second) != (min(m, n), max(m, n)):
            raise _fail("consistency", f"the proof is between sizes {first} and {second}, not {min(m, n)} and "
                                       f"{max(m, n)} (the receipt's and the pinned checkpoint's)")
        try:
            verify_consistency_proof(consistency, *((root_m, root_n) if m < n else (root_n, root_m)))
        except ProofFailed as exc:
            raise _fail("consistency", f"the receipt's log ({m}) and the pinned checkpoint ({n}) are not one log: "
                                       f"{exc.message}") from None
    if m > n:
        at = [voters for size, voters in history if size <= n][-1]  # history[0] is genesis, at size 0
        before = ([voters for size, voters in history if size < n] or [at])[-1]
        if anchor.voters not in (before, at):
            raise _fail("pinned_voters",
                        f"the receipt's membership leads to {len(at)} voters at tree size {n} that are not the "
                        f"{len(anchor.voters)} voters who signed the pinned checkpoint: its certifiers do not "
                        f"descend from the pinned voters (membership left out, or keys removed before the pin)")
    position = "before" if m < n else "at" if m == n else "after"
    return PinnedReceipt(receipt=verified, pinned_size=n, pinned_root=root_n.hex(), position=position)


# -- the anchoring chain ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchoredReceipt:
    """What a receipt proved through a higher ledger's anchor."""

    receipt: PinnedReceipt
    anchor: VerifiedReceipt  # the anchor document's receipt in the higher ledger

    def to_json(self) -> dict:
        return {**self.receipt.to_json(), "anchor": self.anchor.to_json()}


def verify_anchored(receipt: dict, genesis: dict, anchor_receipt: dict, anchor_genesis: dict,
                    consistency: dict | None = None) -> AnchoredReceipt:
    """Verify `receipt` of the ledger of `genesis` through the anchor whose
    receipt `anchor_receipt` is in the ledger of `anchor_genesis`, with the
    consistency proof from the receipt's log size to the anchored one (module
    docstring; checks ANCHORED_CHECKS, the first failing one named)."""
    try:
        anchored = verify_receipt(anchor_receipt, anchor_genesis)
    except ProofFailed as exc:
        raise _fail("anchor_receipt", f"the anchor's receipt in the higher ledger fails {exc.message}") from None
    if anchored.doc_type != "anchor":
        raise _fail("anchor_document", f"the higher ledger's document {anchored.doc_id} is a {anchored.doc_type}, "
                                       f"not an anchor")
    body = Envelope.from_bytes(Receipt.from_json(anchor_receipt).envelope).doc.body
    try:
        origin = checkpoint_origin(Genesis.from_json(genesis))
    except MinutebookError as exc:
        raise _fail("genesis", exc) from None
    if body["origin"] != origin:
        raise _fail("anchor_document", f"the anchor records ledger {body['origin']}; the receipt's genesis is of "
                                       f"ledger {origin}")
    anchor = pin_checkpoint(body["checkpoint"], body["keys"], genesis, witness_keys=body["witnesses"])
    pinned = verify_receipt_pinned(receipt, genesis, anchor, consistency)
    if pinned.position == "after":
        raise _fail("consistency", f"the receipt's log ({pinned.receipt.log_size} documents) is newer than the "
                                   f"anchored checkpoint ({pinned.pinned_size}): use a later anchor")
    return AnchoredReceipt(receipt=pinned, anchor=anchored)
