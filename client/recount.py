"""Recount a poll offline from receipts: ``minutebook poll verify`` (issue 10, item 3).

What a node serves about a poll is checked, never trusted:

1. the **poll**'s receipt verifies (client/verify.py: signatures, inclusion, a
   certified block); the node's account of the poll (motion, options,
   ``closes_at``, quorum) is the signed document's;
2. the **roll** the node gives hashes to the poll's fingerprint
   (``hex(SHA-256(sorted member ids joined by "\\n"))``, the ledger's rule);
3. the **close**'s receipt verifies and names the poll;
4. every **ballot** listed has a receipt that verifies (a ballot altered in any
   byte fails here), names the poll, has exactly one signer, who is on the
   roll, and lies in the log before the close, in a block before
   ``closes_at``, with one of the poll's options;
5. the **recount** by the ledger's rule (each voter's last ballot before the
   close counts; quorum met when ``cast x den > num x eligible``, or ``>=``
   when not strict) equals the tally the node reports: a ballot left out of
   the list shows as fewer ballots cast than the tally counts.

The first check that fails raises :class:`RecountFailed` naming it and the
document concerned. This module needs only ``ledger`` and the offline
verifier, like client/verify.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.blocks import Header
from ledger.documents import Envelope
from ledger.errors import MinutebookError, ProofFailed
from ledger.jsonfmt import b64d
from ledger.registry_committee import roll_fingerprint

from .verify import verify_receipt

__all__ = ["RecountFailed", "Recount", "recount"]


class RecountFailed(ProofFailed):
    """A poll does not recount: `check` names the step (module docstring) that failed."""


@dataclass(frozen=True, slots=True)
class Recount:
    poll: str
    counts: dict
    cast: int
    eligible: int
    quorum_met: bool
    ballots: int       # ballots listed and verified
    superseded: int    # of them, replaced by the same voter's later ballot


def _verified(receipt: dict, genesis: dict, check: str, what: str) -> tuple[Envelope, int, int]:
    """(envelope, leaf index, block timestamp) of a receipt that verifies; RecountFailed otherwise."""
    try:
        proved = verify_receipt(receipt, genesis)
        envelope = Envelope.from_bytes(b64d(receipt["envelope"], "envelope"))
        header = Header.from_bytes(b64d(receipt["block"]["header"], "block.header"))
    except ProofFailed as exc:
        raise RecountFailed(check, f"{what}: the receipt does not verify ({exc.message})") from None
    except (MinutebookError, KeyError, TypeError) as exc:
        raise RecountFailed(check, f"{what}: the receipt is malformed ({exc})") from None
    return envelope, proved.leaf_index, header.timestamp


def recount(poll_id: str, state: dict, poll_receipt: dict, close_receipt: dict | None, ballots: list[dict],
            receipts: dict[str, dict], genesis: dict) -> Recount:
    """Check `state` (``GET /v1/polls/{id}``) and `ballots` (``.../ballots`` items) against the receipts
    (`receipts`: ballot doc id -> receipt) and recount (module docstring)."""
    poll_env, _, _ = _verified(poll_receipt, genesis, "poll", f"poll {poll_id}")
    doc = poll_env.doc
    if doc.type != "poll" or poll_env.doc_id != poll_id:
        raise RecountFailed("poll", f"the receipt is of {doc.type} {poll_env.doc_id}, not poll {poll_id}")
    body = doc.body
    for name in ("motion", "options", "closes_at", "quorum", "eligible"):
        if state.get(name) != body[name]:
            raise RecountFailed("poll", f"the node says {name} is {state.get(name)!r}; the signed poll says "
                                        f"{body[name]!r}")
    roll = state.get("roll")
    if not isinstance(roll, list) or roll_fingerprint(roll) != state.get("roll_fingerprint"):
        raise RecountFailed("roll", f"the roll the node gives ({len(roll or [])} members) does not hash to the "
                                    f"poll's fingerprint {state.get('roll_fingerprint')}")
    on_roll = set(roll)
    tally = state.get("tally")
    if tally is None or close_receipt is None:
        raise RecountFailed("close", f"poll {poll_id} is not closed: there is no tally to recount yet")
    close_env, close_leaf, _ = _verified(close_receipt, genesis, "close", "the close")
    if close_env.doc.type != "poll_close" or close_env.doc.body.get("poll") != poll_id:
        raise RecountFailed("close", f"document {close_env.doc_id} is not the close of poll {poll_id}")
    if tally.get("close") != close_env.doc_id:
        raise RecountFailed("close", f"the tally names close {tally.get('close')}, the receipt is of "
                                     f"{close_env.doc_id}")
    last: dict[str, tuple[int, str]] = {}
    for item in ballots:
        ballot_id = item.get("doc_id")
        receipt = receipts.get(ballot_id)
        if receipt is None:
            raise RecountFailed("ballot", f"ballot {ballot_id}: no receipt")
        env, leaf, block_time = _verified(receipt, genesis, "ballot", f"ballot {ballot_id}")
        if env.doc_id != ballot_id:
            raise RecountFailed("ballot", f"ballot {ballot_id}: its receipt is of document {env.doc_id}")
        if env.doc.type != "ballot" or env.doc.body.get("poll") != poll_id:
            raise RecountFailed("ballot", f"document {ballot_id} is not a ballot of poll {poll_id}")
        if len(env.sigs) != 1:
            raise RecountFailed("ballot", f"ballot {ballot_id} has {len(env.sigs)} signatures; a ballot is signed "
                                          f"by its voter alone")
        voter = env.sigs[0].signer
        if voter not in on_roll:
            raise RecountFailed("eligible", f"ballot {ballot_id} is signed by {voter}, who is not on the poll's roll")
        if leaf >= close_leaf or block_time >= body["closes_at"]:
            raise RecountFailed("ballot", f"ballot {ballot_id} came after the poll closed")
        choice = env.doc.body.get("choice")
        if choice not in body["options"]:
            raise RecountFailed("ballot", f"ballot {ballot_id} chooses {choice!r}, not one of the poll's options")
        if voter not in last or leaf > last[voter][0]:
            last[voter] = (leaf, choice)
    counts = dict.fromkeys(body["options"], 0)
    for _, choice in last.values():
        counts[choice] += 1
    cast, eligible, q = sum(counts.values()), len(roll), body["quorum"]
    met = cast * q["den"] > q["num"] * eligible if q["strict"] else cast * q["den"] >= q["num"] * eligible
    if cast < tally.get("cast", 0):
        raise RecountFailed("complete", f"the tally counts {tally.get('cast')} ballots, the ballots listed give "
                                        f"{cast}: a ballot is missing from the list")
    mine = {"counts": counts, "cast": cast, "eligible": eligible, "quorum_met": met}
    theirs = {k: tally.get(k) for k in mine}
    if mine != theirs:
        raise RecountFailed("tally", f"the recount gives {mine}, the node's tally says {theirs}")
    return Recount(poll=poll_id, counts=counts, cast=cast, eligible=eligible, quorum_met=met, ballots=len(ballots),
                   superseded=len(ballots) - len(last))
