"""Names of units and members, for search by name ("Lũng Cú", "nguyen van an").

Theory of operation
-------------------
A person types a name as they remember it: part of it, in any case, often
without its diacritics (a phone keyboard, a hurried clerk). Each name is
**folded** (:func:`fold`): Unicode NFD, combining marks dropped, ``đ``/``Đ``
as ``d``, lower case, split into words of letters and digits; so "Nguyễn
Văn Ân", "nguyen van an" and "NGUYEN Van" share their words. Every word of
every name is a key, so a query reads one key range per query, whatever the
number of members:

- a unit's name: genesis units and ``org_unit`` create documents;
- a member's name: genesis members (their optional ``name``) and the name an
  ``admitted`` status change records (a name is set once; nothing renames).

A query's words must each begin some word of the name (in any order):
"van an" finds "Nguyễn Văn An" and "Trần Văn Anh". The range read is that of
the query's longest word (the most selective), at most :data:`MAX_SCAN` keys,
so a query of one common letter stays cheap and says it was cut short.

Keys::

    w/nx/<word>\\0<u|m>\\0<path or member id>   canonical {n: the name as recorded}
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ledger.genesis import Genesis

from .projection import Facts, Reader, Record, Writer, decode

__all__ = ["NamesView", "fold", "search_names", "MAX_SCAN", "MAX_RESULTS"]

P_NAME = b"w/nx/"
MAX_SCAN = 5_000
MAX_RESULTS = 50
_WORD = re.compile(r"[0-9a-z]+")
_KINDS = {"u": "unit", "m": "member"}


def fold(text: str) -> list[str]:
    """The words of `text` as search compares them (module docstring)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "d"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return _WORD.findall(bare.lower())


def _keys(kind: str, ident: str, name: Any) -> list[bytes]:
    if not isinstance(name, str):
        return []
    return [P_NAME + word.encode() + b"\0" + kind.encode() + b"\0" + ident.encode() for word in sorted(set(fold(name)))]


class NamesView:
    name = "names"
    version = 1

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        for u in genesis.units:
            self._put(w, "u", u["path"], u.get("name"))
        for m in genesis.members:
            self._put(w, "m", m["member_id"], m.get("name"))

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        body = record.body
        if record.type == "org_unit" and body.get("action") == "create" and isinstance(body.get("path"), str):
            entry = ("u", body["path"], body.get("name"))
        elif record.type == "member_status" and body.get("change") == "admitted" and isinstance(body.get("member"), str):
            entry = ("m", body["member"], body.get("name"))
        else:
            return
        if sign > 0:
            self._put(w, *entry)
        else:
            for key in _keys(*entry):
                w.delete(key)

    @staticmethod
    def _put(w: Writer, kind: str, ident: str, name: Any) -> None:
        for key in _keys(kind, ident, name):
            w.put_obj(key, {"n": name})


def search_names(r: Reader, query: str, *, limit: int = MAX_RESULTS) -> dict:
    """``{results: [{kind: unit | member, id, name}], complete}`` whose names have a word beginning with
    each word of `query`, units first, then by name; ``complete`` is false when the range read was cut
    at :data:`MAX_SCAN` keys (a more precise query finds the rest)."""
    words = fold(query)
    if not words:
        return {"results": [], "complete": True}
    longest = max(words, key=len)
    found: dict[tuple[str, str], str] = {}
    scanned = 0
    complete = True
    for key, value in r.scan(P_NAME + longest.encode()):
        scanned += 1
        if scanned > MAX_SCAN:
            complete = False
            break
        _word, kind, ident = key[len(P_NAME):].decode().split("\0")
        if (kind, ident) in found:
            continue
        name = decode(value)["n"]
        name_words = fold(name)
        if all(any(nw.startswith(qw) for nw in name_words) for qw in words):
            found[(kind, ident)] = name
    ordered = sorted(found.items(), key=lambda item: (item[0][0] != "u", fold(item[1]), item[0][1]))
    return {"results": [{"kind": _KINDS[kind], "id": ident, "name": name} for (kind, ident), name in ordered[:limit]],
            "complete": complete and len(ordered) <= limit}
