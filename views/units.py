"""The unit tree as the views know it: which units exist, since when, and which are cells.

A **cell** is a unit with no open sub-unit; every other unit is a
**committee** (it governs the units below it). Genesis units exist from the
start of time; a unit created by an ``org_unit`` document exists from the
block that applied it, and a closed one until the block that closed it (so
"was it open at R" has an answer for every R).

So that a unit's answer reads per child, never per unit below it, the view
keeps each unit's direct children and, rolled up, how many open units,
cells and committees its subtree holds (updated for the unit and its
ancestors when a unit opens or closes, or a cell gains its first sub-unit
and becomes a committee).

Keys::

    w/un/<path>            {name, kind, opened: ms, closed: ms | nil, children: open sub-units}
    w/uk/<parent>\\0<path>  b"": the unit's children (open or closed)
    w/uc/<path>            {total, cells, committees}: the open units of the subtree (counter map)
"""

from __future__ import annotations

from typing import Iterator

from ledger.genesis import Genesis
from ledger.registry import ancestors
from ledger.timefmt import MIN_MS

from .keys import name_key
from .projection import Facts, Record, Writer

__all__ = ["UnitsView", "P_UNIT", "unit_record", "children_of", "subtree_counts", "is_cell"]

P_UNIT = b"w/un/"
P_CHILDREN = b"w/uk/"
P_COUNTS = b"w/uc/"


def _parent(path: str) -> str | None:
    return path.rpartition("/")[0] if "/" in path else None


def unit_record(reader, path: str) -> dict | None:
    return reader.get_obj(P_UNIT + path.encode())


def children_of(reader, path: str) -> Iterator[str]:
    """The paths of `path`'s direct children (open or closed), in path order."""
    prefix = name_key(P_CHILDREN, path)
    for key, _ in reader.scan(prefix):
        yield key[len(prefix):].decode()


def subtree_counts(reader, path: str) -> dict[str, int]:
    """{total, cells, committees}: open units in `path`'s subtree, itself included."""
    counts = reader.get_obj(P_COUNTS + path.encode()) or {}
    return {k: counts.get(k, 0) for k in ("total", "cells", "committees")}


def is_cell(unit: dict) -> bool:
    return unit["children"] == 0


def _count_up(w: Writer, path: str, deltas: dict[str, int]) -> None:
    for above in ancestors(path):
        w.count(P_COUNTS + above.encode(), deltas)


class UnitsView:
    name = "units"
    version = 2

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        children = dict.fromkeys((u["path"] for u in genesis.units), 0)
        for path in children:
            parent = _parent(path)
            if parent in children:
                children[parent] += 1
        for u in genesis.units:
            path = u["path"]
            w.put_obj(P_UNIT + path.encode(), {"name": u["name"], "kind": u["kind"], "opened": MIN_MS,
                                               "closed": None, "children": children[path]})
            parent = _parent(path)
            if parent is not None:
                w.put(name_key(P_CHILDREN, parent) + path.encode(), b"")
            _count_up(w, path, {"total": 1, "cells" if children[path] == 0 else "committees": 1})

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type != "org_unit" or sign < 0:  # org_unit is not amendable
            return
        body = record.body
        path, action = body.get("path"), body.get("action")
        if not isinstance(path, str):
            return
        key = P_UNIT + path.encode()
        parent = _parent(path)
        if action == "create" and w.get(key) is None:
            w.put_obj(key, {"name": body.get("name"), "kind": body.get("kind"), "opened": record.block_time,
                            "closed": None, "children": 0})
            if parent is not None:
                w.put(name_key(P_CHILDREN, parent) + path.encode(), b"")
            _count_up(w, path, {"total": 1, "cells": 1})
            self._children(w, parent, +1)
        elif action == "close":
            unit = w.get_obj(key)
            if unit is not None and unit["closed"] is None:
                unit["closed"] = record.block_time
                w.put_obj(key, unit)
                _count_up(w, path, {"total": -1, "cells" if unit["children"] == 0 else "committees": -1})
                self._children(w, parent, -1)

    @staticmethod
    def _children(w: Writer, parent: str | None, delta: int) -> None:
        """Change `parent`'s open children by `delta`; a cell that gains one becomes a committee."""
        if parent is None:
            return
        key = P_UNIT + parent.encode()
        unit = w.get_obj(key)
        if unit is None:
            return
        before = unit["children"]
        unit["children"] = max(0, before + delta)
        w.put_obj(key, unit)
        if unit["closed"] is None and (before == 0) != (unit["children"] == 0):
            becomes_cell = unit["children"] == 0
            _count_up(w, parent, {"cells": 1 if becomes_cell else -1, "committees": -1 if becomes_cell else 1})
