"""Lists: a unit's documents by type and period, a unit's members by status, a member's documents.

Every record (``views/records.py``: current versions; amendments are not
listed apart, a withdrawn record leaves the lists) is listed under the unit
it concerns, by its own date, once among all the unit's records and once
among those of its type; and under every member it names (signer, subject,
chair, secretary, task owner: :func:`views.records.members_named`).
Attendances and opinions are in the member's timeline (``views/timeline.py``).

Items (JSON)::

    {doc_id, record_id?, type, date, leaf_index, unit, summary: {...}}    (+ ``as`` in a member's list)

Keys::

    w/la/<unit>\\0<t8><be8 leaf>               {d: doc id (32 B), t: type, s: summary}
    w/lt/<unit>\\0<type>\\0<t8><be8 leaf>       the same, by type
    w/lm/<member>\\0<t8><be8 leaf>             the same + {as: how the record names the member}
"""

from __future__ import annotations

from typing import Callable

from ledger.errors import InvalidInput, NotFound
from ledger.genesis import Genesis

from .keys import TIME_KEY_MAX, be8, key_time, name_key, pack, time_key, unbe8
from .members import P_BY_STATUS, member_now
from .paging import page
from .projection import Facts, Record, Writer
from .records import concerned_unit, members_named, record_date, summary
from .units import unit_record

__all__ = ["ListsView", "unit_documents", "member_documents", "unit_members"]

P_ALL = b"w/la/"
P_TYPE = b"w/lt/"
P_MEMBER_DOCS = b"w/lm/"
_WIDTH = 16


class ListsView:
    name = "lists"
    version = 1

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        unit = concerned_unit(w, record, facts)
        suffix = time_key(record_date(record)) + be8(record.leaf)
        keys = [name_key(P_ALL, unit) + suffix, name_key(P_TYPE, unit, record.type) + suffix]
        named = members_named(record)
        if sign < 0:
            for key in keys + [name_key(P_MEMBER_DOCS, member) + suffix for member in named]:
                w.delete(key)
            return
        item = {"d": bytes.fromhex(record.doc_id), "t": record.type, "s": summary(record)}
        if record.record_id != record.doc_id:
            item["r"] = bytes.fromhex(record.record_id)
        value = pack(item)
        for key in keys:
            w.put(key, value)
        for member, how in named.items():
            w.put(name_key(P_MEMBER_DOCS, member) + suffix, pack(dict(item, u=unit, **{"as": how})))


def _item(suffix: bytes, obj: dict, unit: str | None = None) -> dict:
    out = {"doc_id": obj["d"].hex(), "type": obj["t"], "date": key_time(suffix[:8]), "leaf_index": unbe8(suffix[8:]),
           "unit": obj.get("u", unit), "summary": obj["s"]}
    if "r" in obj:
        out["record_id"] = obj["r"].hex()
    if "as" in obj:
        out["as"] = obj["as"]
    return out


def _bounds(since: int | None, until: int | None) -> tuple[bytes, bytes | None]:
    if since is not None and until is not None and since > until:
        raise InvalidInput("since", f"requires since <= until, got {since} > {until}")
    low = b"" if since is None else time_key(since)
    high = None if until is None else time_key(until) + TIME_KEY_MAX
    return low, high


def unit_documents(r, unit: str, *, type: str | None = None, since: int | None = None, until: int | None = None,
                   cursor: str | None = None, limit: int = 100, newest_first: bool = False,
                   keep: Callable[[dict], bool] | None = None) -> dict:
    """``{unit, type, items, next_cursor}``: records concerning `unit`, by their own date; with
    `keep`, only the items (as served) it accepts: a caller's scope."""
    if unit_record(r, unit) is None:
        raise NotFound(f"org unit {unit!r}")
    prefix = name_key(P_ALL, unit) if type is None else name_key(P_TYPE, unit, type)
    low, high = _bounds(since, until)
    result = page(r, prefix, width=_WIDTH, low=low, high=high, cursor=cursor, limit=limit, reverse=newest_first,
                  keep=None if keep is None else (lambda suffix, obj: keep(_item(suffix, obj, unit))))
    return {"unit": unit, "type": type, "items": [_item(s, o, unit) for s, o in result.items],
            "next_cursor": result.next_cursor}


def member_documents(r, member_id: str, *, type: str | None = None, since: int | None = None,
                     until: int | None = None, cursor: str | None = None, limit: int = 100,
                     newest_first: bool = False, keep: Callable[[dict], bool] | None = None) -> dict:
    """``{member, items, next_cursor}``: records naming the member, by their own date; with
    `keep`, only the items (as served) it accepts: a caller's scope."""
    if member_now(r, member_id) is None:
        raise NotFound(f"member {member_id!r}")
    low, high = _bounds(since, until)
    wanted = keep

    def keep(suffix: bytes, obj: dict) -> bool:
        return (type is None or obj["t"] == type) and (wanted is None or wanted(_item(suffix, obj)))

    result = page(r, name_key(P_MEMBER_DOCS, member_id), width=_WIDTH, low=low, high=high, cursor=cursor,
                  limit=limit, reverse=newest_first, keep=keep)
    return {"member": member_id, "type": type, "items": [_item(s, o) for s, o in result.items],
            "next_cursor": result.next_cursor}


def unit_members(r, unit: str, *, status: str | None = None, cursor: str | None = None, limit: int = 100) -> dict:
    """``{unit, status, items: [{member_id, name, status}], next_cursor}``: the unit's members now,
    by status then id."""
    if unit_record(r, unit) is None:
        raise NotFound(f"org unit {unit!r}")
    prefix = name_key(P_BY_STATUS, unit) if status is None else name_key(P_BY_STATUS, unit, status)
    result = page(r, prefix, width=None, cursor=cursor, limit=limit)
    items = []
    for suffix, _ in result.items:
        member_status, _, member_id = (status.encode() + b"\0" + suffix if status else suffix).partition(b"\0")
        state = member_now(r, member_id.decode()) or {}
        items.append({"member_id": member_id.decode(), "name": state.get("name"), "status": member_status.decode()})
    return {"unit": unit, "status": status, "items": items, "next_cursor": result.next_cursor}
