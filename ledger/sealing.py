"""Confidential bodies sealed to their recipients (README "Confidential documents").

Theory of operation
-------------------
A confidential minutes, resolution or finding keeps on the ledger only
``{confidential, commitment, recipients, meta}`` (ledger/documents.py
``confidential_body``): ``commitment = SHA-256("minutebook/commit/v1\\0" ‖
salt ‖ canonical(body))``. The body itself and its salt travel **sealed**
to each recipient:

    box = crypto_box_seal(canonical({body, salt}), X25519(recipient's Ed25519 key))

a libsodium sealed box (X25519 + XSalsa20-Poly1305 with an ephemeral sender
key; pynacl ``SealedBox``): only the holder of the recipient's secret key
opens it, and nobody, the sender included, can tell whose it was afterwards.

**Key binding.** Recipients have no separate encryption keys: a box is
sealed to the X25519 key converted from one of the member's *registered*
Ed25519 keys (``crypto_sign_ed25519_pk_to_curve25519``; the member opens it
with ``crypto_sign_ed25519_sk_to_curve25519`` of their seed), the standard
binding libsodium provides, so the registry that says who the member is
also says what to seal to. Each sealed item names the Ed25519 key it was
sealed to; admission checks that key is a registered, unrevoked key of that
recipient. Using one key pair for Ed25519 signatures and X25519 sealing is
the documented libsodium conversion; signatures never take X25519 inputs,
so the two uses do not interfere.

**Rotation and revocation.** A box stays sealed to the key it was made for.
Adding a key does not re-seal old boxes: keep the old seed to open them.
Revoking a key stops it authenticating and being sealed to, but cannot
unseal what was already sealed to it: whoever holds a revoked (stolen) seed
can still open old boxes sealed to it. A recipient with a new key asks a
holder of the body to seal it again in a new document.

**Where boxes travel.** Submitted together with the envelope, as a
*submission*: ``canonical({envelope: <canonical envelope bytes>, sealed:
[{recipient, key, box}, ...]})``. The leader admits it, journals it and puts
it into the block proposal as that envelope's item (``BlockProposal``
items are either bare envelopes or submissions). Every node, applying the
block, takes the envelope for the document log and ``tx_root`` (the Merkle
log never sees a box) and stores the boxes under ``s/<doc_id>`` in the same
fsynced batch; ``Ledger.proposal`` gives submissions back, so catch-up
carries the boxes to nodes that were away. Boxes never decide a document's
status: boxes that are malformed are dropped, identically everywhere, and
the document is judged on its envelope alone, so ``minutebook audit``, which
replays bare envelopes, reaches the same statuses. The certificate vouches
for the envelopes, not the boxes: a box altered on the way is caught when it
is opened (it does not open, or its body misses the commitment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import nacl.exceptions
import nacl.public
import nacl.signing

from .documents import SALT_BYTES, confidential_body, opens_commitment
from .encoding import MAX_DOCUMENT_BYTES, canonical, decode_canonical
from .errors import InvalidInput, MinutebookError, ProofFailed

__all__ = [
    "SealedBox", "MAX_BOX_BYTES", "MAX_BOXES", "seal_body", "open_box", "seal_confidential",
    "submission_bytes", "split_submission", "envelope_of", "check_sealed", "open_document",
]

MAX_BOX_BYTES = MAX_DOCUMENT_BYTES + 1024  # a body is at most a document, plus the salt and the box's overhead
MAX_BOXES = 256
_SUBMISSION_HEAD = b"\x82\xa8envelope"  # canonical {envelope, sealed}: a 2-entry map, first key "envelope"


@dataclass(frozen=True, slots=True)
class SealedBox:
    """One recipient's box: sealed to the X25519 form of the Ed25519 `key`."""

    recipient: str
    key: bytes
    box: bytes

    def to_obj(self) -> dict:
        return {"box": self.box, "key": self.key, "recipient": self.recipient}

    def to_json(self) -> dict:
        from .jsonfmt import b64e

        return {"recipient": self.recipient, "key": b64e(self.key), "box": b64e(self.box)}

    @classmethod
    def from_obj(cls, obj: Any, field: str) -> "SealedBox":
        if not isinstance(obj, dict) or sorted(obj) != ["box", "key", "recipient"]:
            raise InvalidInput(field, "expected {recipient, key, box}")
        if not isinstance(obj["recipient"], str) or not obj["recipient"]:
            raise InvalidInput(f"{field}.recipient", "expected a member id")
        if not isinstance(obj["key"], bytes) or len(obj["key"]) != 32:
            raise InvalidInput(f"{field}.key", "expected the 32-byte Ed25519 key the box is sealed to")
        if not isinstance(obj["box"], bytes) or not 48 <= len(obj["box"]) <= MAX_BOX_BYTES:
            raise InvalidInput(f"{field}.box", f"expected a sealed box of 48..{MAX_BOX_BYTES} bytes")
        return cls(recipient=obj["recipient"], key=obj["key"], box=obj["box"])

    @classmethod
    def from_json(cls, obj: Any, field: str) -> "SealedBox":
        from .jsonfmt import b64d

        if not isinstance(obj, dict) or sorted(obj) != ["box", "key", "recipient"]:
            raise InvalidInput(field, "expected {recipient, key, box}")
        return cls.from_obj({"recipient": obj["recipient"], "key": b64d(obj["key"], f"{field}.key"),
                             "box": b64d(obj["box"], f"{field}.box")}, field)


def _x25519_public(ed25519_key: bytes) -> nacl.public.PublicKey:
    try:
        return nacl.signing.VerifyKey(ed25519_key).to_curve25519_public_key()
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise InvalidInput("key", "not an Ed25519 public key that converts to X25519") from None


def seal_body(body: dict, salt: bytes, recipients: Iterable[tuple[str, bytes]]) -> list[SealedBox]:
    """Seal ``canonical({body, salt})`` to each (member id, Ed25519 public key)."""
    plaintext = canonical({"body": body, "salt": salt})
    return [SealedBox(recipient=member, key=key, box=nacl.public.SealedBox(_x25519_public(key)).encrypt(plaintext))
            for member, key in recipients]


def open_box(box: bytes, seed: bytes) -> tuple[dict, bytes]:
    """``(body, salt)`` from a box sealed to the key of `seed`; ProofFailed("sealed_box") if it does not open."""
    private = nacl.signing.SigningKey(seed).to_curve25519_private_key()
    try:
        plaintext = nacl.public.SealedBox(private).decrypt(box)
    except nacl.exceptions.CryptoError:
        raise ProofFailed("sealed_box", "the box does not open with this key (sealed to another key, or "
                                        "altered)") from None
    try:
        obj = decode_canonical(plaintext)
    except MinutebookError as exc:
        raise ProofFailed("sealed_box", f"the box opens but holds no canonical body: {exc}") from None
    if not isinstance(obj, dict) or sorted(obj) != ["body", "salt"] or not isinstance(obj["body"], dict) \
            or not isinstance(obj["salt"], bytes) or len(obj["salt"]) != SALT_BYTES:
        raise ProofFailed("sealed_box", "the box opens but does not hold {body, salt}")
    return obj["body"], obj["salt"]


def open_document(doc: Any, box: bytes, seed: bytes) -> dict:
    """Open `box` and prove it matches the confidential `doc`'s commitment
    (``opens_commitment``); the public body. ProofFailed names the failing check."""
    body, salt = open_box(box, seed)
    if not opens_commitment(doc, body, salt):
        raise ProofFailed("commitment", "the opened body and salt do not match the document's commitment "
                                        "(the box was altered or belongs to another document)")
    return body


def seal_confidential(doc_type: str, body: dict, recipients: dict[str, list[bytes]], *,
                      meta: dict | None = None) -> tuple[dict, list[SealedBox]]:
    """The confidential body for the ledger and the boxes for every key of
    every recipient (``{member id: [Ed25519 public keys]}``, in order)."""
    salt = os.urandom(SALT_BYTES)
    on_ledger = confidential_body(doc_type, body, salt=salt, recipients=list(recipients), meta=meta)
    boxes = seal_body(body, salt, [(member, key) for member, keys in recipients.items() for key in keys])
    return on_ledger, boxes


# -- submissions: an envelope with its boxes -------------------------------------------


def submission_bytes(envelope: bytes, sealed: Iterable[SealedBox]) -> bytes:
    """``canonical({envelope, sealed})``: what is submitted and proposed for a sealed document."""
    return canonical({"envelope": bytes(envelope), "sealed": [b.to_obj() for b in sealed]})


def split_submission(data: bytes) -> tuple[bytes, list[SealedBox] | None]:
    """(envelope bytes, boxes) of a submission, or (data, None) for bare envelope
    bytes. InvalidInput names what is wrong with a malformed submission."""
    if not data.startswith(_SUBMISSION_HEAD):
        return data, None
    obj = decode_canonical(data, max_bytes=MAX_DOCUMENT_BYTES + MAX_BOXES * MAX_BOX_BYTES)
    if not isinstance(obj, dict) or sorted(obj) != ["envelope", "sealed"]:
        raise InvalidInput("submission", "expected exactly {envelope, sealed}")
    if not isinstance(obj["envelope"], bytes):
        raise InvalidInput("envelope", "expected the canonical envelope bytes")
    sealed = obj["sealed"]
    if not isinstance(sealed, list) or not 1 <= len(sealed) <= MAX_BOXES:
        raise InvalidInput("sealed", f"expected 1..{MAX_BOXES} sealed boxes")
    boxes = [SealedBox.from_obj(b, f"sealed[{i}]") for i, b in enumerate(sealed)]
    seen = set()
    for i, b in enumerate(boxes):
        if (b.recipient, b.key) in seen:
            raise InvalidInput(f"sealed[{i}]", f"a second box for {b.recipient} under the same key")
        seen.add((b.recipient, b.key))
    return obj["envelope"], boxes


def envelope_of(item: bytes) -> bytes:
    """The envelope bytes of a proposal item (a bare envelope or a submission);
    the item itself when it is not a well-formed submission."""
    try:
        return split_submission(item)[0]
    except MinutebookError:
        return item


def check_sealed(doc: Any, boxes: list[SealedBox], registry: Any) -> None:
    """Admission rules for a document's boxes: the document is confidential,
    every box is for one of its recipients, sealed to a registered key of that
    recipient that is not revoked. InvalidInput names the box."""
    body = doc.body
    if not (isinstance(body, dict) and body.get("confidential") is True):
        raise InvalidInput("sealed", "only confidential documents carry sealed boxes")
    recipients = set(body["recipients"])
    for i, b in enumerate(boxes):
        if b.recipient not in recipients:
            raise InvalidInput(f"sealed[{i}].recipient", f"{b.recipient} is not among the document's recipients")
        keys = {k["public_key"]: k for k in registry.member_keys(b.recipient)}
        record = keys.get(b.key)
        if record is None:
            raise InvalidInput(f"sealed[{i}].key", f"not a registered key of {b.recipient}")
        if record.get("revoked_at") is not None:
            raise InvalidInput(f"sealed[{i}].key", f"the key of {b.recipient} was revoked at {record['revoked_at']}")
