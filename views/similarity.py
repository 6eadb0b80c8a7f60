"""Near-duplicate minutes and resolutions, and opinions repeated word for word.

Theory of operation
-------------------
Formalism shows as minutes whose text is another unit's (or last month's)
with the names and dates changed, and as opinions that are the same
sentence meeting after meeting. This view flags both; it never refuses.

**Text.** A minutes' text is its ``agenda``, ``text`` and ``decisions``; a
resolution's its ``title``, ``text`` and task descriptions. It is
*normalised* (:func:`words`): casefolded, split at white space, stripped
of punctuation, only words made of letters kept (so every number and date
goes), and the words of the names of the record's unit and
of every unit above it are dropped (a copy with the unit's name changed is
then the same text). Its **shingles** are the runs of :data:`SHINGLE`
consecutive words.

**Signature.** One-permutation MinHash with densification by rotation (Li,
Owen & Zhang, "One permutation hashing", NIPS 2012; Shrivastava & Li,
"Densifying one permutation hashing via rotation for fast near neighbor
search", ICML 2014): every shingle is hashed once (30 bits of each word's
CRC-32, each times its own odd multiplier, xored: 60 bits), its low 7 bits
pick one of :data:`BINS` bins, and a bin keeps its smallest hash; an empty bin takes
the value of the next non-empty bin to its right, marked with the distance.
Two texts agree in a bin with probability their Jaccard similarity J (of
shingle sets), so the share of equal bins estimates J
(:func:`similarity`; tests/views/test_similarity.py checks the estimate
against exact Jaccard). 16 bits of each bin are kept (256 bytes a text).
It costs one hash per shingle, done with C-level ``map`` over the shingle
list, where classic MinHash costs one per shingle *per bin*; ``datasketch``
computes the classic one (a SHA-1 and a numpy vector operation per
shingle), which would cost more per document and bring numpy into the node.

**LSH banding.** The 120 first bins make :data:`BANDS` bands of :data:`ROWS`;
two texts share a band with probability 1 - (1 - J^6)^20 (0.998 at J = 0.8,
0.92 at 0.7, 0.62 at 0.6, 0.08 at 0.4). Each band value is a bucket key; a
bucket remembers the first text that filled it (its *representative*). A
new text looks up its 20 buckets (a text too short for a signature, one
bucket of its exact normalised wording instead, so short copies are caught
too), and is **linked** to each representative
whose estimated similarity is at least :data:`LINK_FLOOR`. Near-duplicates
are the connected components of the links whose similarity reaches the
query's threshold.

**Identical on every node.** What is stored (signatures, buckets, links)
depends only on the documents and on the constants below, which are the
chain's (changing one is a new view ``version``: every node rebuilds). The
threshold an answer uses (``views.similarity_threshold`` in the node
config, or the query's ``min_similarity``) only filters links at query
time, so nodes configured differently store the same bytes. Thresholds
below :data:`LINK_FLOOR` find nothing more, and below about 0.6 the
banding misses more and more pairs (about 8% of those at 0.7).

**Texts too short to compare** (fewer than :data:`MIN_SHINGLES` shingles)
get no signature; their exact wording (at least :data:`MIN_WORDS` words)
still links identical texts (similarity 1).

**Opinions.** Each opinion's ``summary`` is normalised the same way; a
meeting where two or more opinions have one wording is noted (under the
unit and every ancestor, by the meeting date), and each wording is counted
per subtree: meetings using it and opinions, with the wordings used in at
least two meetings kept in order of meetings so the most repeated come first.

Amendments take a record's signature, buckets, links and opinions back and
put the new version's; links to a version no longer in force are skipped
when read.

Keys (``<R>`` a record id, 32 B; ``<h>`` 8 bytes of BLAKE2b of a wording)::

    w/ns/<R>                        {doc, type, unit, date, leaf, sig | x (the exact wording's 8 bytes),
                                    links: [[R', unit', matches]]} (its buckets follow from sig or x)
    w/nb/<type>\\0<band 1 B><value>  <R>: the bucket's representative
    w/nl/<unit>\\0<t8 date><be8 leaf><R'>  {a: R, ad: doc, b: R', bd: doc', m: matching bins}: a link of a
                                    record of the unit's subtree (under both records' units' ancestors)
    w/nr/<unit>\\0<t8 date><be8 leaf>  {doc, n}: minutes of the subtree where n opinions repeat a wording
                                    used by another opinion of the same meeting
    w/nw/<unit>\\0<h>                {m: meetings, n: opinions} over the subtree
    w/no/<unit>\\0<be4 2^32-1-m><h>  b"": wordings used in m >= 2 meetings of the subtree, most first
    w/nt/<h>                        {text, doc}: a wording as first written (not normalised), and that minutes
    w/nq/<R>                        [<h>...]: the wordings a minutes' opinions used (to take them back)
"""

from __future__ import annotations

import hashlib
import operator
import struct
import zlib
from itertools import filterfalse, repeat
from ledger.errors import InvalidInput, NotFound
from ledger.genesis import Genesis
from ledger.orgpaths import ancestors

from .keys import be8, key_time, name_key, time_key, unbe8
from .projection import Facts, Reader, Record, Writer, decode
from .records import is_confidential, record_date
from .units import unit_record

__all__ = ["SimilarityView", "words", "shingles", "signature", "similarity", "near_duplicates",
           "repeated_opinions", "BINS", "BANDS", "ROWS", "SHINGLE", "LINK_FLOOR", "MIN_SHINGLES", "MIN_WORDS",
           "DEFAULT_THRESHOLD", "record_text", "check_threshold"]

SHINGLE = 3          # words per shingle
BINS = 128           # signature bins (16 bits kept of each)
BANDS, ROWS = 20, 6  # LSH: 20 bands of 6 bins (the first 120)
LINK_FLOOR = 0.5     # links below this estimated similarity are not stored
MIN_SHINGLES = 12    # shorter texts get no signature
MIN_WORDS = 5        # shorter texts are not compared at all (not even word for word)
DEFAULT_THRESHOLD = 0.7  # the node config's default (views.similarity_threshold)
REPEAT_MEETINGS = 2  # a wording is "repeated" from this many meetings on (the index keeps these)

P_RECORD = b"w/ns/"
P_BUCKET = b"w/nb/"
P_LINK = b"w/nl/"
P_REPEAT_IN = b"w/nr/"
P_WORDING = b"w/nw/"
P_ORDER = b"w/no/"
P_TEXT = b"w/nt/"
P_OPINIONS = b"w/nq/"

_PUNCTUATION = ".,;:!?()[]{}<>\"'`’‘“”«»…-–—/\\|*#%&+=~^_@$"
_A, _B = 0x2545F491, 0x3C6EF373  # odd 30-bit multipliers
_BIN = BINS - 1  # a shingle's bin: the low 7 bits of its hash (every word counts in them)
_EXACT_BAND = 255
_be4 = struct.Struct(">I")
_sig = struct.Struct(f">{BINS}H")


# -- text -----------------------------------------------------------------------------------------


def words(text: str, drop: frozenset[str] = frozenset()) -> list[str]:
    """The normalised words of `text`: split at white space, casefolded, punctuation stripped from
    each end; only words made of letters (so numbers and dates go), without the words in `drop`."""
    found = filter(str.isalpha, map(str.strip, text.casefold().split(), repeat(_PUNCTUATION)))
    return list(filterfalse(drop.__contains__, found) if drop else found)


def record_text(record_type: str, body: dict) -> str:
    """The text of a minutes or resolution that near-duplicates are looked for in."""
    def strs(value: object) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    if record_type == "minutes":
        parts = strs(body.get("agenda")) + [body.get("text")] + strs(body.get("decisions"))
    else:
        tasks = body.get("tasks") if isinstance(body.get("tasks"), list) else []
        parts = [body.get("title"), body.get("text")] + [t.get("description") for t in tasks if isinstance(t, dict)]
    return "\n".join(p for p in parts if isinstance(p, str))


def shingles(ws: list[str]) -> set[tuple[str, ...]]:
    """The shingles of a word list (for exact Jaccard in tests and scripts)."""
    return {tuple(ws[i:i + SHINGLE]) for i in range(len(ws) - SHINGLE + 1)}


class _WordIds(dict):
    """Word -> 30 bits of its CRC-32, computed once per word (bounded by :data:`_WORD_CACHE`)."""

    def __missing__(self, word: str) -> int:
        if len(self) > _WORD_CACHE:
            self.clear()
        value = self[word] = zlib.crc32(word.encode()) & 0x3FFFFFFF
        return value


_WORD_CACHE = 200_000
_ids = _WordIds()


def _hashes(ws: list[str]) -> list[int]:
    """One 60-bit hash per shingle: the words' CRC-32s, each by its own odd multiplier, xored.
    Small-integer arithmetic only (it is the hot loop of the view)."""
    ids = list(map(_ids.__getitem__, ws))
    return [a * _A ^ b * _B ^ c for a, b, c in zip(ids, ids[1:], ids[2:])]


def signature(ws: list[str]) -> bytes | None:
    """The 256-byte signature of a word list (module docstring), None below MIN_SHINGLES shingles."""
    if len(ws) - SHINGLE + 1 < MIN_SHINGLES:
        return None
    hs = _hashes(ws)
    hs.sort(reverse=True)
    smallest = dict(zip(map(_BIN.__and__, hs), hs))  # the last (smallest) per bin wins
    values = [None if h is None else (h >> 7) & 0xFFFF for h in map(smallest.get, range(BINS))]
    if len(smallest) < BINS:  # rotation: an empty bin takes the next non-empty one's, marked by distance
        empty = {j for j, v in enumerate(values) if v is None}
        filled = list(values)
        for j in empty:
            dist = 1
            while (j + dist) % BINS in empty:
                dist += 1
            filled[j] = (values[(j + dist) % BINS] + dist * 0x9E37) & 0xFFFF
        values = filled
    return _sig.pack(*values)


def similarity(a: bytes, b: bytes) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal bins."""
    return _matches(a, b) / BINS


def _matches(a: bytes, b: bytes) -> int:
    return sum(map(operator.eq, _sig.unpack(a), _sig.unpack(b)))


def _bands(sig: bytes) -> list[tuple[int, bytes]]:
    return [(i, sig[2 * ROWS * i:2 * ROWS * (i + 1)]) for i in range(BANDS)]


def check_threshold(value: float | None) -> float:
    if value is None:
        return DEFAULT_THRESHOLD
    if not isinstance(value, (int, float)) or not LINK_FLOOR <= value <= 1:
        raise InvalidInput("min_similarity", f"expected a number from {LINK_FLOOR} to 1, got {value!r}")
    return float(value)


# -- applying -------------------------------------------------------------------------------------


def _name_words(w, unit: str, cache: dict) -> frozenset[str]:
    """The words of the names of `unit` and every unit above it (and of their path segments)."""
    found = cache.get(unit)
    if found is None:
        out: set[str] = set()
        for above in ancestors(unit):
            record = unit_record(w, above) or {}
            name = record.get("name")
            out.update(words(name) if isinstance(name, str) else ())
            out.update(words(above.rpartition("/")[2]))
        found = cache[unit] = frozenset(out)
    return found


def _wording(ws: list[str]) -> bytes:
    return hashlib.blake2b(" ".join(ws).encode(), digest_size=8).digest()


class SimilarityView:
    name = "similarity"
    version = 1

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}  # unit -> name words (units are never renamed)

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type not in ("minutes", "resolution") or is_confidential(record):
            return
        if sign < 0:
            self._take_back(w, record)
            return
        drop = _name_words(w, record.org, self._names)
        ws = words(record_text(record.type, record.body), drop)
        if len(ws) >= MIN_WORDS:
            self._fingerprint(w, record, ws)
        if record.type == "minutes":
            self._opinions(w, record, drop, +1)

    # -- texts --

    @staticmethod
    def _buckets(record_type: str, entry: dict) -> list[bytes]:
        kind = record_type.encode() + b"\0"
        if "sig" in entry:
            return [P_BUCKET + kind + bytes([i]) + band for i, band in _bands(entry["sig"])]
        return [P_BUCKET + kind + bytes([_EXACT_BAND]) + entry["x"]]

    def _fingerprint(self, w: Writer, record: Record, ws: list[str]) -> None:
        rid = bytes.fromhex(record.record_id)
        sig = signature(ws)
        date = record_date(record)
        entry = {"doc": bytes.fromhex(record.doc_id), "type": record.type, "unit": record.org, "date": date,
                 "leaf": record.leaf, "links": []}
        if sig is not None:
            entry["sig"] = sig
        else:
            entry["x"] = _wording(ws)
        candidates = []
        for key in self._buckets(record.type, entry):
            rep = w.get(key)
            if rep is None:
                w.put(key, rid)
            elif rep != rid and rep not in candidates:
                candidates.append(rep)
        for rep in candidates:
            other = w.get_obj(P_RECORD + rep)
            if other is None:
                continue
            if sig is None:
                matches = BINS if other.get("x") == entry["x"] else 0
            else:
                matches = _matches(sig, other["sig"]) if "sig" in other else 0
            if matches < LINK_FLOOR * BINS:
                continue
            entry["links"].append([rep, other["unit"], matches])
            link = {"a": rid, "ad": entry["doc"], "b": rep, "bd": other["doc"], "m": matches}
            for above in _link_units(record.org, other["unit"]):
                w.put_obj(name_key(P_LINK, above) + time_key(date) + be8(record.leaf) + rep, link)
        w.put_obj(P_RECORD + rid, entry)

    def _take_back(self, w: Writer, record: Record) -> None:
        rid = bytes.fromhex(record.record_id)
        entry = w.get_obj(P_RECORD + rid)
        if entry is not None:
            for key in self._buckets(entry["type"], entry):
                if w.get(key) == rid:
                    w.delete(key)
            for rep, unit, _ in entry["links"]:
                for above in _link_units(entry["unit"], unit):
                    w.delete(name_key(P_LINK, above) + time_key(entry["date"]) + be8(entry["leaf"]) + rep)
            w.delete(P_RECORD + rid)
        if record.type == "minutes":
            self._opinions(w, record, frozenset(), -1)

    # -- opinions --

    def _opinions(self, w: Writer, record: Record, drop: frozenset[str], sign: int) -> None:
        rid = bytes.fromhex(record.record_id)
        unit, date = record.org, record_date(record)
        if sign > 0:
            used: list[bytes] = []
            texts: dict[bytes, str] = {}
            for o in record.body.get("opinions") or ():
                summary = o.get("summary") if isinstance(o, dict) else None
                ws = words(summary, drop) if isinstance(summary, str) else []
                if ws:
                    h = _wording(ws)
                    used.append(h)
                    texts.setdefault(h, summary.strip())
            if not used:
                return
            w.put_obj(P_OPINIONS + rid, used)
            for h, text in texts.items():
                if w.get(P_TEXT + h) is None:
                    w.put_obj(P_TEXT + h, {"text": text, "doc": bytes.fromhex(record.doc_id)})
        else:
            used = w.get_obj(P_OPINIONS + rid) or []
            if not used:
                return
            w.delete(P_OPINIONS + rid)
        per: dict[bytes, int] = {}
        for h in used:
            per[h] = per.get(h, 0) + 1
        repeated = sum(n for n in per.values() if n > 1)
        for above in ancestors(unit):
            if repeated:
                key = name_key(P_REPEAT_IN, above) + time_key(date) + be8(record.leaf)
                if sign > 0:
                    w.put_obj(key, {"doc": bytes.fromhex(record.doc_id), "n": repeated})
                else:
                    w.delete(key)
            for h, n in sorted(per.items()):
                key = name_key(P_WORDING, above) + h
                before = w.counter(key).get("m", 0)
                w.count(key, {"m": sign, "n": sign * n})
                after = before + sign
                order = name_key(P_ORDER, above)
                if before >= REPEAT_MEETINGS:
                    w.delete(order + _be4.pack(0xFFFFFFFF - before) + h)
                if after >= REPEAT_MEETINGS:
                    w.put(order + _be4.pack(0xFFFFFFFF - after) + h, b"")


def _link_units(a: str, b: str) -> list[str]:
    """Every unit a link between records of units `a` and `b` is listed under (both lines up)."""
    return list(dict.fromkeys(ancestors(a) + ancestors(b)))


# -- querying -------------------------------------------------------------------------------------


def _member(r, rid: bytes, cache: dict) -> dict | None:
    if rid not in cache:
        cache[rid] = r.get_obj(P_RECORD + rid)
    return cache[rid]


def near_duplicates(r: Reader, path: str, *, since: int | None = None, until: int | None = None,
                    threshold: float = DEFAULT_THRESHOLD, kind: str | None = None, limit: int = 100) -> dict:
    """``{unit, threshold, groups: [...]}``: groups of near-duplicate records (connected by links at or
    above `threshold`) with a record of `path`'s subtree dated in [since, until]; largest first."""
    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    prefix = name_key(P_LINK, path)
    start = prefix + (b"" if since is None else time_key(since))
    parent: dict[bytes, bytes] = {}
    edges: list[tuple[bytes, bytes, int]] = []
    cache: dict[bytes, dict | None] = {}

    def find(x: bytes) -> bytes:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for key, value in r.scan(prefix, start=start):
        if until is not None and key_time(key[len(prefix):len(prefix) + 8]) > until:
            break
        link = decode(value)
        if link["m"] < threshold * BINS:
            continue
        a, b = _member(r, link["a"], cache), _member(r, link["b"], cache)
        if a is None or b is None or a["doc"] != link["ad"] or b["doc"] != link["bd"]:
            continue  # a version no longer in force
        if kind is not None and a["type"] != kind:
            continue
        edges.append((link["a"], link["b"], link["m"]))
        ra, rb = find(link["a"]), find(link["b"])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[bytes, dict] = {}
    for a, b, m in edges:
        group = groups.setdefault(find(a), {"members": set(), "low": BINS, "high": 0})
        group["members"].update((a, b))
        group["low"], group["high"] = min(group["low"], m), max(group["high"], m)
    out = []
    for group in groups.values():
        members = []
        for rid in sorted(group["members"], key=lambda x: (cache[x]["date"], x)):
            e = cache[rid]
            members.append({"record_id": rid.hex(), "doc_id": e["doc"].hex(), "type": e["type"], "unit": e["unit"],
                            "date": e["date"]})
        units = {m["unit"] for m in members}
        out.append({"type": members[0]["type"], "size": len(members), "units": len(units),
                    "same_unit": len(units) == 1,
                    "similarity": {"min": group["low"] / BINS, "max": group["high"] / BINS}, "members": members})
    out.sort(key=lambda g: (-g["size"], g["members"][0]["date"], g["members"][0]["record_id"]))
    return {"unit": path, "threshold": threshold, "since": since, "until": until, "groups": out[:limit],
            "total_groups": len(out), "height": r.height}


def repeated_opinions(r: Reader, path: str, *, min_meetings: int = REPEAT_MEETINGS, limit: int = 50,
                      since: int | None = None, until: int | None = None) -> dict:
    """``{unit, wordings: [{text, meetings, opinions, first_doc}], meetings_repeating: [...]}``:
    the wordings used in at least `min_meetings` meetings of the subtree (most used first), and the
    meetings of the period where two or more opinions share one wording."""
    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    min_meetings = max(min_meetings, REPEAT_MEETINGS)
    order = name_key(P_ORDER, path)
    wordings = []
    for key, _ in r.scan(order):
        suffix = key[len(order):]
        meetings = 0xFFFFFFFF - _be4.unpack(suffix[:4])[0]
        if meetings < min_meetings or len(wordings) >= limit:
            break
        h = suffix[4:]
        counts = r.get_obj(name_key(P_WORDING, path) + h) or {}
        text = r.get_obj(P_TEXT + h) or {}
        wordings.append({"text": text.get("text"), "meetings": meetings, "opinions": counts.get("n", 0),
                         "first_doc": text["doc"].hex() if "doc" in text else None})
    prefix = name_key(P_REPEAT_IN, path)
    start = prefix + (b"" if since is None else time_key(since))
    within = []
    for key, value in r.scan(prefix, start=start):
        suffix = key[len(prefix):]
        date = key_time(suffix[:8])
        if (until is not None and date > until) or len(within) >= limit:
            break
        v = decode(value)
        within.append({"doc_id": v["doc"].hex(), "date": date, "repeated_opinions": v["n"],
                       "leaf_index": unbe8(suffix[8:16])})
    return {"unit": path, "min_meetings": min_meetings, "wordings": wordings, "meetings_repeating": within,
            "height": r.height}
