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
search", ICML 2014): every shingle is hashed once, its low 7 bits pick one
of :data:`BINS` bins, and a bin keeps its smallest hash; an empty bin takes
the value of the next non-empty bin to its right, marked with the distance.
Two texts agree in a bin with probability their Jaccard similarity J (of
shingle sets), so the share of equal bins estimates J
(:func:`similarity`; tests/views/test_similarity.py checks the estimate
against exact Jaccard). A bin keeps the 16 bits above the 7 of its number
(256 bytes a text). The shingle hash is *simple tabulation* (Patrascu &
Thorup, "The power of simple tabulation hashing", J. ACM 2012, which shows
it good enough for min-wise hashing): each word has three random 23-bit
entries, one per place in a shingle (from BLAKE2b of the word, computed once
per word), and a shingle's hash is the xor of its words' entries for their
places. So a text costs one table look-up per word and two xors per shingle,
done with C-level ``map`` over the word list, where classic MinHash costs a
hash per shingle *per bin*; ``datasketch`` computes the classic one (a SHA-1
and a numpy vector operation per shingle), which would cost more per
document and bring numpy into the node.

**LSH banding.** The 120 first bins make :data:`BANDS` bands of :data:`ROWS`;
two texts share a band with probability 1 - (1 - J^6)^20 (0.998 at J = 0.8,
0.92 at 0.7, 0.62 at 0.6, 0.08 at 0.4). Each band value is a bucket key; a
bucket remembers the first text that filled it (its *representative*). A
new text looks up its 20 buckets (a text too short for a signature, one
bucket of its exact normalised wording instead, so short copies are caught
too), and is **linked** to each representative whose estimated similarity
is at least :data:`LINK_FLOOR`. Near-duplicates are the connected
components of the links whose similarity reaches the query's threshold.
Bands of six, not fewer and shorter: minutes share much of their wording
(openings, set phrases), unrelated ones about a quarter of their shingles
in the generated sets, and a band of four would then often be filled first
by an unrelated text, which hides the true pair behind it.

**Identical on every node.** What is stored (signatures, buckets, links)
depends only on the documents and on the constants below, which are the
chain's (changing one is a new view ``version``: every node rebuilds). The
threshold an answer uses (``views.similarity_threshold`` in the node
config, or the query's ``min_similarity``) only filters links at query
time, so nodes configured differently store the same bytes. Thresholds
below :data:`LINK_FLOOR` find nothing more, and below about 0.6 the
banding misses more and more pairs (about 8% of those at 0.7).

**Off the apply path.** Looking up 20 buckets per text costs about as
much as all the other views together, so this is a *trailing* view
(views/projection.py, "Trailing views"): a node feeds it after each block
on a thread of its own, with its own height; answers carry that height
(``height``), a little behind the ledger's while the node is busy.

**Texts too short to compare** (fewer than :data:`MIN_SHINGLES` shingles)
get no signature; their exact wording (at least :data:`MIN_WORDS` words)
still links identical texts (similarity 1).

**Opinions.** Each opinion's ``summary`` is normalised the same way; a
meeting where two or more opinions have one wording is noted (under the
unit and every ancestor, by the meeting date), and each wording is counted
per subtree: meetings using it and opinions, with the wordings used in at
least two meetings kept in order of meetings so the most repeated come first.
A block sums its changes per (unit, wording) and writes each count and moves
its place in that order once.

Amendments take a record's signature, buckets, links and opinions back and
put the new version's (a version's wordings are found again from its body,
as the unit's names never change); links to a version no longer in force are
skipped when read.

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
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_right
from itertools import filterfalse, repeat
from operator import and_, eq, xor

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

SHINGLE = 3          # words per shingle (the tabulation hash below has a table per place)
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

_PUNCTUATION = ".,;:!?()[]{}<>\"'`’‘“”«»…-–—/\\|*#%&+=~^_@$"
_ENTRY = (1 << 23) - 1  # a tabulation entry: 7 bits of bin, 16 of value
_BIN = BINS - 1         # a shingle's bin: the low 7 bits of its hash
_BIN_BITS = 7
_ROTATE = 0x9E37        # what each step of rotation adds to a borrowed value
_ALL_BINS = range(BINS)
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


class _Tables(dict):
    """Word -> its three tabulation entries (23 bits each, for the first, second and third place of
    a shingle): 72 bits of BLAKE2b of the word, computed once per word (at most :data:`_WORD_CACHE`
    kept)."""

    def __missing__(self, word: str) -> tuple[int, int, int]:
        if len(self) > _WORD_CACHE:
            self.clear()
        v = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=9).digest(), "big")
        entries = self[word] = (v & _ENTRY, (v >> 24) & _ENTRY, (v >> 48) & _ENTRY)
        return entries


_WORD_CACHE = 200_000
_tables = _Tables()


def signature(ws: list[str]) -> bytes | None:
    """The 256-byte signature of a word list (module docstring), None below MIN_SHINGLES shingles."""
    if len(ws) - SHINGLE + 1 < MIN_SHINGLES:
        return None
    first, second, third = zip(*map(_tables.__getitem__, ws))
    # One hash per shingle (the xor of its words' entries), largest first, so that in the bin ->
    # hash map built from them the last, smallest, hash of each bin wins.
    hs = sorted(map(xor, map(xor, first, second[1:]), third[2:]), reverse=True)
    smallest = dict(zip(map(and_, hs, repeat(_BIN)), hs))
    values = [h >> _BIN_BITS for h in map(smallest.get, _ALL_BINS, repeat(0))]
    if len(smallest) < BINS:  # rotation: an empty bin takes the next non-empty one's, marked by distance
        filled = sorted(smallest)
        for j in set(_ALL_BINS).difference(smallest):
            k = filled[bisect_right(filled, j) % len(filled)]
            values[j] = ((smallest[k] >> _BIN_BITS) + (k - j) % BINS * _ROTATE) & 0xFFFF
    return _sig.pack(*values)


def similarity(a: bytes, b: bytes) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal bins."""
    return _matches(a, b) / BINS


def _matches(a: bytes, b: bytes) -> int:
    return sum(map(eq, _sig.unpack(a), _sig.unpack(b)))


_BAND_BYTES = 2 * ROWS


def _bands(sig: bytes) -> list[tuple[int, bytes]]:
    return [(i, sig[_BAND_BYTES * i:_BAND_BYTES * (i + 1)]) for i in range(BANDS)]


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
    """A trailing view (views/projection.py "Trailing views"): it reads, besides its own keys, only
    unit names, which never change."""

    name = "similarity"
    version = 2
    types = frozenset({"minutes", "resolution"})
    prefixes = (P_RECORD, P_BUCKET, P_LINK, P_REPEAT_IN, P_WORDING, P_ORDER, P_TEXT)

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}  # unit -> name words (units are never renamed)

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type not in ("minutes", "resolution") or is_confidential(record):
            return
        drop = _name_words(w, record.org, self._names)
        if sign < 0:
            self._take_back(w, record)
        else:
            ws = words(record_text(record.type, record.body), drop)
            if len(ws) >= MIN_WORDS:
                self._fingerprint(w, record, ws)
        if record.type == "minutes":
            self._opinions(w, record, drop, sign)

    # -- texts --

    @staticmethod
    def _buckets(record_type: str, entry: dict) -> list[bytes]:
        kind = P_BUCKET + record_type.encode() + b"\0"
        if "sig" in entry:
            return [kind + bytes((i,)) + band for i, band in _bands(entry["sig"])]
        return [kind + bytes((_EXACT_BAND,)) + entry["x"]]

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
            rep = w.peek(key)  # a bucket is read about once: it is kept out of the writer's cache
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
        if entry is None:
            return
        for key in self._buckets(entry["type"], entry):
            if w.peek(key) == rid:
                w.delete(key)
        for rep, unit, _ in entry["links"]:
            for above in _link_units(entry["unit"], unit):
                w.delete(name_key(P_LINK, above) + time_key(entry["date"]) + be8(entry["leaf"]) + rep)
        w.delete(P_RECORD + rid)

    # -- opinions --

    @staticmethod
    def _opinions(w: Writer, record: Record, drop: frozenset[str], sign: int) -> None:
        """Count (sign +1) or take back (-1) the wordings of a minutes' opinions: the meeting's
        repeats now, the per-subtree counts into the block's sums (:func:`_fold_opinions`)."""
        per: dict[bytes, int] = {}
        texts: dict[bytes, str] = {}
        for o in record.body.get("opinions") or ():
            summary = o.get("summary") if isinstance(o, dict) else None
            ws = words(summary, drop) if isinstance(summary, str) else []
            if ws:
                h = _wording(ws)
                per[h] = per.get(h, 0) + 1
                texts.setdefault(h, summary)
        if not per:
            return
        block = w.batch_state("similarity.opinions", _OpinionSums, _fold_opinions)
        if sign > 0:
            doc = bytes.fromhex(record.doc_id)
            for h, text in texts.items():
                block.texts.setdefault(h, (text.strip(), doc))
        repeated = sum(n for n in per.values() if n > 1)
        date_leaf = time_key(record_date(record)) + be8(record.leaf)
        sums = block.sums
        for above in ancestors(record.org):
            if repeated:
                key = name_key(P_REPEAT_IN, above) + date_leaf
                if sign > 0:
                    w.put_obj(key, {"doc": bytes.fromhex(record.doc_id), "n": repeated})
                else:
                    w.delete(key)
            for h, n in per.items():
                got = sums.get((above, h))
                if got is None:
                    sums[(above, h)] = [sign, sign * n]
                else:
                    got[0] += sign
                    got[1] += sign * n


class _OpinionSums:
    """A block's changes to the wording counts: (unit, wording) -> [meetings, opinions], and the
    first text of each wording the block used."""

    __slots__ = ("sums", "texts")

    def __init__(self) -> None:
        self.sums: dict[tuple[str, bytes], list[int]] = {}
        self.texts: dict[bytes, tuple[str, bytes]] = {}


def _fold_opinions(w: Writer, block: _OpinionSums) -> None:
    """Write each count the block changed once, and move its place in the subtree's order once."""
    for h, (text, doc) in block.texts.items():
        if w.get(P_TEXT + h) is None:
            w.put_obj(P_TEXT + h, {"text": text, "doc": doc})
    for (unit, h), (dm, dn) in block.sums.items():
        if not dm and not dn:
            continue
        key = name_key(P_WORDING, unit) + h
        counts = w.get_obj(key) or {}
        before = counts.get("m", 0)
        after, opinions = before + dm, counts.get("n", 0) + dn
        if after or opinions:
            w.put_obj(key, {"m": after, "n": opinions})
        else:
            w.delete(key)
        if before != after:
            order = name_key(P_ORDER, unit)
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
            "total_groups": len(out), "height": r.trail_height}


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
            "height": r.trail_height}
