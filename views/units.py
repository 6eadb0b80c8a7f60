"""The unit tree as the views know it: which units exist, since when, and which are cells.

A **cell** is a unit with no open sub-unit; every other unit is a
**committee** (it governs the units below it). Genesis units exist from the
start of time; a unit created by an ``org_unit`` document exists from the
block that applied it, and a closed one until the block that closed it (so
"was it open at R" has an answer for every R). Unit paths name their
ancestors, so a subtree is the unit's key and one prefix scan of
``<path>/``.

Keys::

    w/un/<path>    {name, kind, opened: ms, closed: ms | nil, children: open sub-units}
"""

from __future__ import annotations

from typing import Iterator

from ledger.genesis import Genesis
from ledger.timefmt import MIN_MS

from .projection import Facts, Record, Writer, decode

__all__ = ["UnitsView", "P_UNIT", "unit_record", "subtree_units", "is_cell"]

P_UNIT = b"w/un/"


def _parent(path: str) -> str | None:
    return path.rpartition("/")[0] if "/" in path else None


def unit_record(reader, path: str) -> dict | None:
    return reader.get_obj(P_UNIT + path.encode())


def subtree_units(reader, path: str) -> Iterator[tuple[str, dict]]:
    """(path, record) of `path` and every unit below it, in path order."""
    own = reader.get_obj(P_UNIT + path.encode())
    if own is not None:
        yield path, own
    prefix = P_UNIT + path.encode() + b"/"
    for key, value in reader.scan(prefix):
        yield key[len(P_UNIT):].decode(), decode(value)


def is_cell(unit: dict) -> bool:
    return unit["children"] == 0


class UnitsView:
    name = "units"
    version = 1

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        paths = {u["path"] for u in genesis.units}
        for u in genesis.units:
            children = sum(1 for p in paths if _parent(p) == u["path"])
            w.put_obj(P_UNIT + u["path"].encode(), {"name": u["name"], "kind": u["kind"], "opened": MIN_MS,
                                                    "closed": None, "children": children})

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type != "org_unit" or sign < 0:  # org_unit is not amendable
            return
        body = record.body
        path, action = body.get("path"), body.get("action")
        if not isinstance(path, str):
            return
        key = P_UNIT + path.encode()
        parent = _parent(path)
        if action == "create":
            w.put_obj(key, {"name": body.get("name"), "kind": body.get("kind"), "opened": record.block_time,
                            "closed": None, "children": 0})
            self._children(w, parent, +1)
        elif action == "close":
            unit = w.get_obj(key)
            if unit is not None and unit["closed"] is None:
                unit["closed"] = record.block_time
                w.put_obj(key, unit)
                self._children(w, parent, -1)

    @staticmethod
    def _children(w: Writer, parent: str | None, delta: int) -> None:
        if parent is None:
            return
        key = P_UNIT + parent.encode()
        unit = w.get_obj(key)
        if unit is not None:
            unit["children"] = max(0, unit["children"] + delta)
            w.put_obj(key, unit)
