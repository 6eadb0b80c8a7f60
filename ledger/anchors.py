"""Anchors: a lower ledger's witnessed checkpoint, recorded as a document of
type ``anchor`` in a higher ledger (DESIGN.md "One organisation, many ledgers").

Theory of operation
-------------------
A province's ledger is witnessed by the centre's nodes (node/witness.py); the
centre then records what its witness cosigned as an ``anchor`` document in
its own ledger. An auditor at the centre proves a cell's document through
the chain: the cell's receipt, a consistency proof from its tree size to the
anchored checkpoint, and the anchor's own receipt in the central ledger
(client/verify.py ``verify_anchored``).

Body (ledger/schemas.py ``ANCHOR``)::

    {origin:     the lower ledger's checkpoint origin,
     checkpoint: the C2SP checkpoint as a signed note (the lower voters' lines and
                 the witnesses' cosignature lines),
     keys:       the lower voters' verifier keys, the voters in force when it was signed,
     witnesses:  the cosigner verifier keys (type 0x04) of the witnesses that cosigned it,
     proof:      the RFC 9162 consistency proof (32-byte hashes) from the tree the
                 previous anchor of this origin recorded to this one ([] for the first)}

Rules without state (:func:`check_anchor_body`, run when the document is
decoded): the checkpoint parses and its origin is ``origin``; ``keys`` are
distinct Ed25519 note keys named ``origin``, and a strict majority of them
signed it; at least one witness, and every listed witness cosigned it.

Rules with state (the registry's ``_do_anchor``, on check and apply):
``doc.org`` is the root unit, and a signer holds ``secretary``,
``deputy_secretary`` or ``inspector`` in the root unit itself: an officer of the
higher committee, never a node key (nodes hold no member key; an officer who
automates anchoring delegates a key of their own, `minutebook anchor`). Per
origin, an anchor is accepted at most once per ``anchor_interval_ms`` of
block time (a genesis field; default :data:`DEFAULT_INTERVAL_MS`); its tree is
no smaller than the previous anchor's, and ``proof`` joins the two (same
size: the same root and no proof). So the higher ledger's anchors of one
lower ledger form one append-only history, and a forked lower ledger cannot
be anchored twice.

State: ``r/a/<origin>`` canonical ``{at_ms, doc_id, root, size}`` (the latest
anchor of the origin), ``r/ai`` the interval (be8 ms; absent: the default).
"""

from __future__ import annotations

from dataclasses import dataclass

from .blocks import quorum_size
from .checkpoint import VerifiedCheckpoint, verify_checkpoint
from .errors import InvalidInput, MinutebookError, ProofFailed, Rejected
from .merkle import verify_consistency
from .signed_note import SIG_COSIGNATURE_V1, SIG_ED25519, VerifierKey

__all__ = ["DEFAULT_INTERVAL_MS", "ANCHOR_ROLES", "Anchor", "AnchorRules", "parse_anchor", "check_anchor_body",
           "check_anchor_succession", "STATE_KEY_PREFIX", "INTERVAL_KEY"]

DEFAULT_INTERVAL_MS = 3_600_000  # one anchor per lower ledger per hour of block time
ANCHOR_ROLES = ("secretary", "deputy_secretary", "inspector")
STATE_KEY_PREFIX = b"r/a/"
INTERVAL_KEY = b"r/ai"


@dataclass(frozen=True, slots=True, kw_only=True)
class Anchor:
    """An anchor body, checked: the verified checkpoint and its keys."""

    origin: str
    verified: VerifiedCheckpoint
    keys: tuple[VerifierKey, ...]
    witnesses: tuple[VerifierKey, ...]
    proof: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return self.verified.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        return self.verified.checkpoint.root_hash


def _keys(values: list, field: str, key_type: int, origin: str | None) -> tuple[VerifierKey, ...]:
    keys = []
    for i, text in enumerate(values):
        key = VerifierKey.from_text(text, f"{field}[{i}]")
        if key.key_type != key_type:
            kind = "an Ed25519 note key (type 0x01)" if key_type == SIG_ED25519 else "a cosigner key (type 0x04)"
            raise InvalidInput(f"{field}[{i}]", f"expected {kind}")
        if origin is not None and key.name != origin:
            raise InvalidInput(f"{field}[{i}]", f"a key of the lower ledger is named by its origin {origin!r}")
        if any(k.public_key == key.public_key and k.key_type == key.key_type for k in keys):
            raise InvalidInput(f"{field}[{i}]", "listed twice")
        keys.append(key)
    return tuple(keys)


def parse_anchor(body: dict) -> Anchor:
    """Check an anchor body (its schema already checked) and return it parsed;
    InvalidInput names the field."""
    origin = body["origin"]
    keys = _keys(body["keys"], "body.keys", SIG_ED25519, origin)
    if not keys:
        raise InvalidInput("body.keys", "the lower voters' verifier keys are required")
    witnesses = _keys(body["witnesses"], "body.witnesses", SIG_COSIGNATURE_V1, None)
    if not witnesses:
        raise InvalidInput("body.witnesses", "an anchor records a witnessed checkpoint: at least one witness key")
    try:
        verified = verify_checkpoint(body["checkpoint"], keys, origin=origin, required=quorum_size(len(keys)),
                                     witnesses=witnesses, field="body.checkpoint")
    except ProofFailed as exc:
        raise InvalidInput("body.checkpoint", exc.message.removeprefix("body.checkpoint: ")) from None
    except InvalidInput as exc:
        raise InvalidInput(exc.field or "body.checkpoint", exc.rule) from None
    return Anchor(origin=origin, verified=verified, keys=keys, witnesses=witnesses, proof=tuple(body["proof"]))


def check_anchor_body(body: dict) -> None:
    """The stateless rules of the module docstring."""
    parse_anchor(body)


def check_anchor_succession(anchor: Anchor, previous: dict | None, at_ms: int, interval_ms: int) -> None:
    """The per-origin rules against the previous anchor's state record (or None);
    raises Rejected naming the rule."""
    if previous is None:
        if anchor.proof:
            raise Rejected("body.proof: the first anchor of an origin carries no consistency proof")
        return
    if at_ms - previous["at_ms"] < interval_ms:
        raise Rejected(f"body.origin: {anchor.origin} was anchored at {previous['at_ms']} (document "
                       f"{previous['doc_id']}); at most one anchor per {interval_ms} ms of block time")
    size, root = previous["size"], previous["root"]
    if anchor.size < size:
        raise Rejected(f"body.checkpoint: tree size {anchor.size} is smaller than the {size} anchored before")
    try:
        verify_consistency(size, anchor.size, root, anchor.root_hash, list(anchor.proof))
    except MinutebookError as exc:
        raise Rejected(f"body.proof: the checkpoint does not extend the one anchored before (size {size}): "
                       f"{exc.message}") from None


class AnchorRules:
    """The registry's anchor rules and queries (a mixin of ledger.registry.Registry,
    as RecordRules and CommitteeRules are)."""

    def anchor(self, origin: str) -> dict | None:
        """The latest anchor of a lower ledger: ``{at_ms, doc_id, root, size}``, or None."""
        return self._get(self.view, STATE_KEY_PREFIX + origin.encode())

    def anchor_interval(self) -> int:
        raw = self._get(self.view, INTERVAL_KEY)
        return DEFAULT_INTERVAL_MS if raw is None else raw

    def _do_anchor(self, p, doc, body, signers, at_ms) -> None:
        root = self.root()
        if doc.org != root:
            raise Rejected(f"doc.org: anchors belong to the root unit {root!r}")
        self._need_role(p, signers, ANCHOR_ROLES, root, doc.org, exact=True)
        anchor = parse_anchor(body)  # checked on decoding already; parsed again for its values
        key = STATE_KEY_PREFIX + anchor.origin.encode()
        check_anchor_succession(anchor, self._get(p, key), at_ms, self.anchor_interval())
        p.put(key, {"at_ms": at_ms, "doc_id": doc.doc_id, "root": anchor.root_hash, "size": anchor.size})
