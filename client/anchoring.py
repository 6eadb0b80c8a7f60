"""Record a lower ledger's witnessed checkpoint as an ``anchor`` document in
the higher ledger (ledger/anchors.py has the document and its rules).

:func:`anchor_once` does what ``minutebook anchor`` (and the federated devnet,
each interval) does, in order:

1. the lower ledger's voters' verifier keys and origin, from one of its
   nodes (``GET /v1/verifier-keys``) unless given;
2. the witness's latest cosigned checkpoint of that origin (``GET
   /<origin hash>/checkpoint``) and its cosigner key (its node's
   ``/v1/verifier-keys`` ``witness``) unless given; it must verify: a strict
   majority of the voters and the witness;
3. the higher ledger's latest anchor of the origin (``GET /v1/anchors``) and,
   if the tree grew since, the consistency proof from that size, from the
   lower node;
4. the document ``{type: anchor, org: <higher root unit>, body}``, signed with
   the officer's key and submitted (``?wait=committed``).

Nothing here is trusted by the verifier: the higher ledger's registry checks
the body again, and an auditor checks the anchor's receipt.
"""

from __future__ import annotations

from typing import Any

from ledger.checkpoint import verify_checkpoint
from ledger.signed_note import VerifierKey

from .errors import NotFoundError
from .sdk import Client, sign_document

__all__ = ["anchor_once", "AnchorSkipped"]


class AnchorSkipped(Exception):
    """Nothing new to anchor (the witness cosigned no larger tree than the last anchor)."""


def anchor_once(*, lower: Client, witness: Client, higher: Client, officer: Any,
                lower_keys: list[str] | None = None, witness_keys: list[str] | None = None,
                timeout: float = 30.0, refresh: bool = False) -> dict:
    """Anchor the lower ledger's latest witnessed checkpoint in the higher
    ledger; returns the submit result (with the anchor's receipt). Raises
    AnchorSkipped if the last anchor already holds that tree (unless
    `refresh`), and the SDK's typed errors for what a node refuses."""
    if lower_keys is None:
        info = lower.verifier_keys()
        lower_keys, origin = [k["vkey"] for k in info["keys"]], info["origin"]
    else:
        origin = VerifierKey.from_text(lower_keys[0]).name
    if witness_keys is None:
        own = witness.verifier_keys().get("witness")
        if own is None:
            raise ValueError(f"{witness.base_url} is not a witness (its /v1/verifier-keys lists no witness key)")
        witness_keys = [own["vkey"]]
    note = witness.witnessed_checkpoint(origin)
    verified = verify_checkpoint(note, [VerifierKey.from_text(k) for k in lower_keys], origin=origin,
                                 witnesses=[VerifierKey.from_text(k) for k in witness_keys])
    size = verified.checkpoint.size
    try:
        previous = higher.anchor(origin)
    except NotFoundError:
        previous = None
    proof: list[bytes] = []
    if previous is not None:
        if previous["size"] == size and not refresh:
            raise AnchorSkipped(f"{origin} is anchored at size {size} already ({previous['doc_id']})")
        if previous["size"] < size:
            proof = [bytes.fromhex(h) for h in lower.consistency(previous["size"], size)["proof"]]
    root = higher.status().get("root_unit")
    body = {"origin": origin, "checkpoint": note, "keys": list(lower_keys), "witnesses": list(witness_keys),
            "proof": proof}
    envelope = sign_document({"type": "anchor", "org": root, "body": body}, [officer])
    return higher.submit(envelope, wait=True, timeout=timeout)
