"""Polls: every ballot of a poll as it was cast, and each unit's polls.

The poll's state, roll and tally are the registry's (``Registry.poll``,
``poll_roll``, ``ballots``: the ledger computes the tally when the close
applies). What the registry does not keep is every ballot ever accepted:
it keeps each voter's ballot in force. This view lists them all, in log
order, so that anyone recounting (``minutebook poll verify``) applies the
rule themself -- the last ballot of each voter before the close counts --
from the ballots' receipts, instead of trusting the node's choice of the
ballot in force.

Keys (``<P>`` a poll's doc id, 32 B)::

    w/pl/<P><be8 leaf>               {voter, choice, doc, height}: a ballot, in log order
    w/pc/<P>                         {doc, leaf, height}: the close
    w/pu/<unit>\\0<t8 block time><be8 leaf>  {poll: <P>, poll_id, motion, closes_at}: the unit's polls
"""

from __future__ import annotations

from ledger.errors import NotFound
from ledger.genesis import Genesis

from .keys import be8, doc_bytes, key_time, name_key, time_key, unbe8
from .paging import page
from .projection import Facts, Reader, Record, Writer

__all__ = ["PollsView", "poll_ballots", "poll_close", "unit_polls"]

P_BALLOTS = b"w/pl/"
P_CLOSE = b"w/pc/"
P_UNIT = b"w/pu/"


class PollsView:
    name = "polls"
    version = 1

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if sign < 0:  # polls, ballots and closes are not amendable
            return
        body = record.body
        if record.type == "poll":
            w.put_obj(name_key(P_UNIT, record.org) + time_key(record.block_time) + be8(record.leaf),
                      {"poll": bytes.fromhex(record.doc_id), "poll_id": body.get("poll_id"),
                       "motion": body.get("motion"), "closes_at": body.get("closes_at")})
        elif record.type in ("ballot", "poll_close"):
            poll = doc_bytes(body.get("poll"))
            if poll is None:
                return
            if record.type == "ballot":
                voter = record.signers[0] if record.signers else None
                w.put_obj(P_BALLOTS + poll + be8(record.leaf), {"voter": voter, "choice": body.get("choice"),
                                                               "doc": bytes.fromhex(record.doc_id),
                                                               "height": record.height})
            else:
                w.put_obj(P_CLOSE + poll, {"doc": bytes.fromhex(record.doc_id), "leaf": record.leaf,
                                           "height": record.height})


def poll_ballots(r: Reader, poll_id: str, *, cursor: str | None = None, limit: int = 100) -> dict:
    """``{poll, items: [{doc_id, voter, choice, leaf_index, height}], next_cursor}``: every ballot, in
    log order."""
    raw = doc_bytes(poll_id)
    if raw is None:
        raise NotFound(f"poll {poll_id}")
    result = page(r, P_BALLOTS + raw, width=8, cursor=cursor, limit=limit)
    return {"poll": poll_id,
            "items": [{"doc_id": v["doc"].hex(), "voter": v["voter"], "choice": v["choice"], "leaf_index": unbe8(s),
                       "height": v["height"]} for s, v in result.items],
            "next_cursor": result.next_cursor}


def poll_close(r: Reader, poll_id: str) -> dict | None:
    """``{doc_id, leaf_index, height}`` of the poll's close, or None while it is open."""
    raw = doc_bytes(poll_id)
    close = r.get_obj(P_CLOSE + raw) if raw is not None else None
    return None if close is None else {"doc_id": close["doc"].hex(), "leaf_index": close["leaf"],
                                       "height": close["height"]}


def unit_polls(r: Reader, path: str, *, cursor: str | None = None, limit: int = 100) -> dict:
    """``{unit, items: [{poll, poll_id, motion, closes_at, opened_at, closed}], next_cursor}``."""
    result = page(r, name_key(P_UNIT, path), width=16, cursor=cursor, limit=limit)
    items = []
    for suffix, v in result.items:
        poll = v["poll"]
        items.append({"poll": poll.hex(), "poll_id": v["poll_id"], "motion": v["motion"],
                      "closes_at": v["closes_at"], "opened_at": key_time(suffix[:8]),
                      "closed": r.get(P_CLOSE + poll) is not None})
    return {"unit": path, "items": items, "next_cursor": result.next_cursor}
