"""The contract every view follows, and the one observer that feeds them all.

Theory of operation
-------------------
Modelled on eventsourcing's projections: a view is a fold over the ledger's
applied blocks, and its position (the height it has applied) is written in
the same atomic batch as what it projects, so it can never miss or double a
block. :class:`Views` is the ledger's observer (``ledger.ledger.LedgerObserver``):

- ``Ledger(store, genesis, observers=[Views()])`` calls :meth:`Views.open`,
  which bootstraps the views from genesis on a fresh store, rebuilds them if
  their stored format is not this code's, and replays the blocks they lack
  (a node upgraded under an existing ledger);
- every ``Ledger.apply_block`` calls :meth:`Views.apply_block` with the
  block's overlay: each accepted document becomes a :class:`Record`, handed to
  every view of :data:`views.VIEWS` in order, and everything they write goes
  into that overlay together with ``w/x/height``;
- :meth:`Views.rebuild` deletes every ``w/`` key and replays genesis and every
  block; a test proves it gives byte-identical ``w/`` contents to the
  incremental path (``minutebook views rebuild``).

Views read only what the ledger recorded -- genesis, the accepted documents
in log order, each block's height and timestamp -- and their own keys, never
the registry: replaying the same documents therefore gives the same bytes,
whatever the registry looks like when the replay runs. Where a figure needs
to know the organisation as of a document (a member's unit, the roll of a
unit on a meeting date) the views keep that history themselves
(``views/members.py``, ``views/units.py``).

Records and versions
--------------------
A *record* is one real-world act (a meeting's minutes, a resolution, a
finding, a profile entry): its id is the doc id of the original document. An
``amendment`` (body ``{target, action: amend | withdraw, reason, body?}``)
makes a new *version* of its target. For an amendable record the views keep
``w/v/<record id>``: the current version's doc id and leaf (or none once
withdrawn) and the *facts* its contribution was computed from. When an
amendment applies, every view is called with the current version and
``sign = -1`` (it takes away exactly what it added, using the stored facts),
then, for ``amend``, with the replacement and ``sign = +1``. A view's writes
must therefore be a function of (record, facts, sign) only: whatever it reads
from changing state (a roll size, a member's unit) it asks for through
:meth:`Facts.get`, which computes it the first time and replays it on
retraction.

Keys (``be8`` is 8 bytes big-endian)::

    w/x/format              {views: {name: version}, zone}; another value means rebuild
    w/x/height              be8: the last block the views applied (same batch as their writes)
    w/v/<record id, 32 B>   {d: current version doc id (32 B) | nil when withdrawn,
                            l: its leaf, o: the original's leaf, f: {fact: value}}
    w/y/format              the trailing views' {views, zone} (below)
    w/y/height              be8: the last block the trailing views applied
    w/y/v/<record id>       as w/v/, for the types a trailing view counts (f: {})

A view module owns the keys it documents; :class:`Writer` is how it reads
and writes them during a batch.

Cost
----
Applying a block is on every node's critical path, so the views keep their
work per block, not per document where they can: everything they write goes
into the block's own batch (one fsync with the block), counters are summed
per key over the block and written once, values changed many times a block
(a unit's roll) are decoded once and packed once (``Writer.working``), and
the values a block reads over and over (members, rolls, counters) stay
decoded between blocks (:class:`ValueCache`, refreshed from each batch once
it is durable, so a crash between the two leaves nothing stale: the cache
is memory only and starts empty).

Trailing views
--------------
A view too dear for the block's batch (the near-duplicate index reads a
hash bucket per band per text: :data:`views.TRAILING`) is fed behind it by a
:class:`Trail`: the same records in the same order, amendments taken back
and put again by the same rule, but after the block is durable, in batches
of its own, each written (fsynced) with the trail's own height
``w/y/height``. So a trail, too, never misses or doubles a block, and its
bytes do not depend on how blocks were batched: fed block by block, caught
up in one go or rebuilt, it holds the same keys (tests/views/test_trail.py).
A node feeds it on a thread of its own after each block (node/runtime.py),
never on the apply path or the Raft loop; anywhere else (tests, scripts,
``minutebook views rebuild``) :class:`Views` feeds it right after each block
is committed (``defer=False``).

The views before it stand at the ledger's height, ahead of the trail, so a
trailing view reads its own keys and, of the others' state, only what never
changes once written (a unit's name); its version records carry no ``unit``
fact for the same reason, and it skips documents of types it does not count
(its ``types``). Its answers say the height they stand at
(``Reader.trail_height``). Rebuilding the views rebuilds the trail; a new
trailing view version rebuilds the trail only (its ``prefixes``).
"""

from __future__ import annotations

import bisect
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from ledger.documents import Envelope
from ledger.errors import CorruptionError
from ledger.genesis import Genesis
from ledger.store import Overlay, prefix_end
from ledger.timefmt import DEFAULT_ZONE, zone

from .errors import QueryTimedOut, QueryTooLarge
from .keys import PREFIX, be8, pack, unbe8, unpack

__all__ = ["Record", "Facts", "Writer", "ValueCache", "View", "Views", "Trail", "Reader", "K_FORMAT", "K_HEIGHT",
           "K_TRAIL_FORMAT", "K_TRAIL_HEIGHT", "TRAIL_PREFIX", "AMENDMENT"]

log = logging.getLogger("minutebook.views")

K_FORMAT = b"w/x/format"
K_HEIGHT = b"w/x/height"
_P_VERSION = b"w/v/"
TRAIL_PREFIX = b"w/y/"  # the trailing views' own keys (their views' keys are under their own prefixes)
K_TRAIL_FORMAT = b"w/y/format"
K_TRAIL_HEIGHT = b"w/y/height"
_P_TRAIL_VERSION = b"w/y/v/"
AMENDMENT = "amendment"
_CHUNK_DOCUMENTS = 20_000  # a replay commits a batch after about this many documents
_DELETE_BATCH = 50_000
_SORT_PREFIX = 5  # b"w/xx/": a view's keys are sorted apart from the others'
_CACHE_KEYS = 200_000  # committed values the writer keeps between blocks (members, counters, units)


decode = unpack  # the views' value decoder (views/keys.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One version of a record, as the views count it.

    ``record_id`` is the original document's id and ``leaf`` its leaf (stable
    across versions, so keys built from them are too); ``doc_id``, ``body``
    and ``signers`` are the version's (the original's, or an amendment's
    replacement body and signers). ``type``, ``org`` and ``created_at`` are
    the original's."""

    record_id: str
    doc_id: str
    leaf: int
    type: str
    org: str
    body: dict
    created_at: int
    signers: tuple[str, ...]
    height: int
    block_time: int


class Facts:
    """What a view read from changing state when it counted a record.

    ``get(name, compute)`` returns the stored value when replaying (taking a
    record's contribution away), else computes, stores and returns it."""

    __slots__ = ("values",)

    def __init__(self, stored: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(stored or {})

    def get(self, name: str, compute: Callable[[], Any]) -> Any:
        if name in self.values:
            return self.values[name]
        value = self.values[name] = compute()
        return value


class View(Protocol):
    """One read model: a module under ``views/`` and an entry of ``views.VIEWS``."""

    name: str
    version: int  # bump it when the keys or their meaning change: stores are then rebuilt

    def bootstrap(self, w: "Writer", genesis: Genesis) -> None:
        """Write the state genesis implies (runs once, before block 1)."""

    def apply(self, w: "Writer", record: Record, facts: Facts, sign: int) -> None:
        """Count `record` (sign +1) or take exactly that back (sign -1)."""

    # Optional: ``types`` (a frozenset of the document types the view counts; a trail skips the
    # rest) and, for a trailing view, ``prefixes`` (every key prefix it owns).


class Writer:
    """The views' reads and writes during one batch (a block, or a chunk of a replay).

    Reads see this batch's writes first, then the store as last committed.
    Values are written with ``views.keys.pack``. ``get_obj`` decodes a value
    for the caller to keep or change; ``read`` returns the shared decoded
    value, kept across batches (the members, rolls and counters a block reads
    over and over), which the caller must not change in place (build the new
    value and ``put_obj`` it). ``count`` adds to counter maps (``{name: int}``,
    zero entries dropped, an empty map deleted) and is buffered until
    :meth:`drain`: a block touches its ancestors' monthly counters over and over.
    """

    def __init__(self, store, envelopes: Callable[[int], Envelope], zone, cache: "ValueCache | None" = None) -> None:
        self.zone = zone  # the chain's time zone (a ZoneInfo): months are calendar months in it
        self._store = store
        # Values as committed in the store, kept across batches by the one writer of w/ keys
        # (Views): reads are served from it, and it learns a batch's writes once it is durable.
        cache = ValueCache() if cache is None else cache
        self._committed = cache.committed
        self._decoded = cache.decoded
        self._envelopes = envelopes
        self._pending: dict[bytes, bytes | None] = {}
        # Keys of _pending by their w/xx/ prefix, for the prefixes scanned in this batch (listed
        # when first scanned, then kept up: most views never scan what they write).
        self._sorted: dict[bytes, list[bytes]] = {}
        self._unsorted: set[bytes] = set()  # prefixes whose list has grown since it was last sorted
        self._counts: dict[bytes, dict[str, int]] = {}
        self._working: dict[bytes, tuple[Any, Callable[[Any], Any] | None]] = {}
        self._scratch: dict[str, Any] = {}  # per-batch state of views (batch_state), folded in at drain
        self._before_drain: dict[str, Callable[["Writer", Any], None]] = {}

    # -- plain keys --

    def get(self, key: bytes) -> bytes | None:
        working = self._working.get(key)
        if working is not None:
            value, final = working
            return pack(value if final is None else final(value))
        if key in self._pending:
            return self._pending[key]
        if key in self._committed:
            return self._committed[key]
        value = self._committed[key] = self._store.get(key)
        return value

    def get_obj(self, key: bytes) -> Any:
        data = self.get(key)
        return None if data is None else decode(data)

    def read(self, key: bytes) -> Any:
        """The decoded value at `key`, shared: read it, never change it in place."""
        working = self._working.get(key)
        if working is not None:
            return working[0]
        data = self.get(key)
        if data is None:
            return None
        hit = self._decoded.get(key)
        if hit is not None and hit[0] is data:  # decoded from these very bytes
            return hit[1]
        value = decode(data)
        self._decoded[key] = (data, value)
        return value

    def working(self, key: bytes, make: Callable[[], Any], final: Callable[[Any], Any] | None = None) -> Any:
        """The value at `key` (or ``make()``) decoded once for this batch, to change in place as
        often as needed; packed once when the batch drains (as ``final(value)``, if given). For
        values changed many times a block (a unit's roll): a key is worked on or put, not both."""
        working = self._working.get(key)
        if working is None:
            value = self.get_obj(key)
            working = self._working[key] = (make() if value is None else value, final)
        return working[0]

    def peek(self, key: bytes) -> bytes | None:
        """As :meth:`get`, but what the store returns is not kept for later batches: for keys a
        block reads once and later blocks seldom again (hash buckets), which would otherwise
        crowd out the values read over and over."""
        working = self._working.get(key)
        if working is not None:
            value, final = working
            return pack(value if final is None else final(value))
        if key in self._pending:
            return self._pending[key]
        if key in self._committed:
            return self._committed[key]
        return self._store.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        if self._working:
            self._working.pop(key, None)
        if self._sorted and key not in self._pending:
            group = key[:_SORT_PREFIX]
            keys = self._sorted.get(group)
            if keys is not None:
                keys.append(key)
                self._unsorted.add(group)
        self._pending[key] = value

    def put_obj(self, key: bytes, value: Any) -> None:
        self.put(key, pack(value))

    def delete(self, key: bytes) -> None:
        self.put(key, None)  # type: ignore[arg-type]

    def scan(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False,
             limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        """As ``Store.scan``, over the store merged with this batch's writes."""
        lo, hi = prefix, prefix_end(prefix)
        if start is not None:
            if reverse:
                hi = start + b"\x00" if hi is None else min(hi, start + b"\x00")
            else:
                lo = max(lo, start)
        if len(prefix) < _SORT_PREFIX:
            keys = sorted(k for k in self._pending if k.startswith(prefix))
        else:
            group = prefix[:_SORT_PREFIX]
            keys = self._sorted.get(group)
            if keys is None:
                keys = self._sorted[group] = [k for k in self._pending if k[:_SORT_PREFIX] == group]
                self._unsorted.add(group)
            if group in self._unsorted:
                keys.sort()
                self._unsorted.discard(group)
        i, j = bisect.bisect_left(keys, lo), len(keys) if hi is None else bisect.bisect_left(keys, hi)
        mine = keys[i:j]
        if reverse:
            mine.reverse()
        base = self._store.scan(prefix, start=start, reverse=reverse)
        count = 0
        k = 0
        item = next(base, None)
        while limit is None or count < limit:
            pk = mine[k] if k < len(mine) else None
            if pk is None and item is None:
                return
            if item is None or (pk is not None and (pk >= item[0] if reverse else pk <= item[0])):
                if item is not None and item[0] == pk:
                    item = next(base, None)
                k += 1
                value = self._pending[pk]
                if value is None:
                    continue
                yield pk, value
            else:
                yield item
                item = next(base, None)
            count += 1

    # -- counters --

    def count(self, key: bytes, deltas: Mapping[str, int]) -> None:
        pending = self._counts.get(key)
        if pending is None:
            self._counts[key] = dict(deltas)  # (zero deltas are dropped when the batch drains)
            return
        for name, delta in deltas.items():
            if delta:
                pending[name] = pending.get(name, 0) + delta

    def counter(self, key: bytes) -> dict[str, int]:
        """The counter map at `key` with this batch's buffered deltas (the caller's own copy)."""
        base = dict(self.read(key) or ())
        for name, delta in self._counts.get(key, {}).items():
            base[name] = base.get(name, 0) + delta
        return base

    def batch_state(self, name: str, make: Callable[[], Any], fold: Callable[["Writer", Any], None]) -> Any:
        """A view's scratch state for this batch, made on first use; ``fold(w, state)`` runs once
        when the batch drains (before counters are folded), to turn it into writes."""
        state = self._scratch.get(name)
        if state is None:
            state = self._scratch[name] = make()
            self._before_drain[name] = fold
        return state

    # -- ledger data --

    def envelope(self, leaf: int) -> Envelope:
        """The accepted envelope at `leaf` (this batch's, or committed before)."""
        return self._envelopes(leaf)

    # -- the end of a batch --

    def drain(self) -> dict[bytes, bytes | None]:
        """Every write of the batch (counters folded in); the writer starts afresh."""
        for name, fold in self._before_drain.items():
            fold(self, self._scratch[name])
        self._scratch, self._before_drain = {}, {}
        working, self._working = self._working, {}
        for key, (value, final) in working.items():
            self.put_obj(key, value if final is None else final(value))
        for key, deltas in self._counts.items():
            merged = dict(self.read(key) or ())
            for name, delta in deltas.items():
                value = merged.get(name, 0) + delta
                if value:
                    merged[name] = value
                else:
                    merged.pop(name, None)
            if merged:
                self.put_obj(key, dict(sorted(merged.items())))
            else:
                self.delete(key)
        out = self._pending
        self._pending, self._sorted, self._unsorted, self._counts = {}, {}, set(), {}
        return out


class ValueCache:
    """What the one writer of the views keeps between batches: values as committed (bytes, None
    for absent) and the values ``Writer.read`` decoded from them (with the bytes they came from,
    so a value written since is never served stale). Bounded by :data:`_CACHE_KEYS` entries."""

    __slots__ = ("committed", "decoded")

    def __init__(self) -> None:
        self.committed: dict[bytes, bytes | None] = {}
        self.decoded: dict[bytes, tuple[bytes, Any]] = {}

    def learn(self, changes: Mapping[bytes, bytes | None]) -> None:
        """A batch is durable: the cached keys it wrote take their new values. (Keys it wrote
        that are not cached stay out: most are written once and never read while applying.)"""
        committed = self.committed
        if len(committed) > _CACHE_KEYS or len(self.decoded) > _CACHE_KEYS:
            self.clear()
            return
        for key, value in changes.items():
            if key in committed:
                committed[key] = value

    def clear(self) -> None:
        self.committed.clear()
        self.decoded.clear()


class Reader:
    """A consistent read of the views for queries: one store snapshot, its
    views height and chain zone, and a budget of keys and time.

    ``tick(n)`` charges `n` keys read and raises :class:`QueryTooLarge` past
    the budget (or :class:`QueryTimedOut` past the deadline, a ``time.monotonic``
    value), so no query runs unbounded."""

    def __init__(self, store, *, max_keys: int = 2_000_000, deadline: float | None = None) -> None:
        self._store = store
        self._snapshot = store.snapshot() if hasattr(store, "snapshot") else store
        fmt = self._snapshot.get(K_FORMAT)
        height = self._snapshot.get(K_HEIGHT)
        if fmt is None or height is None:
            self.close()
            raise CorruptionError("the views are not built in this store")
        self.height = unbe8(height)
        trail = self._snapshot.get(K_TRAIL_HEIGHT)
        self.trail_height = None if trail is None else unbe8(trail)  # the trailing views' own height
        self.zone_name = decode(fmt).get("zone", DEFAULT_ZONE)
        self.zone = zone(self.zone_name)
        self.max_keys = max_keys
        self.deadline = deadline
        self.keys_read = 0

    def tick(self, n: int = 1) -> None:
        self.keys_read += n
        if self.keys_read > self.max_keys:
            raise QueryTooLarge(f"the query would read more than {self.max_keys} keys; ask for a lower unit "
                                "or a shorter period")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimedOut()

    def get(self, key: bytes) -> bytes | None:
        self.tick()
        return self._snapshot.get(key)

    def get_obj(self, key: bytes) -> Any:
        data = self.get(key)
        return None if data is None else decode(data)

    read = get_obj  # as Writer.read (a query's values are its own anyway)

    def scan(self, prefix: bytes, **kwargs) -> Iterator[tuple[bytes, bytes]]:
        for item in self._snapshot.scan(prefix, **kwargs):
            self.tick()
            yield item

    def close(self) -> None:
        if self._snapshot is not self._store:
            self._snapshot.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Fold:
    """What both kinds of views share: a list of views fed the accepted documents of blocks (an
    amendment as the take-back of the version in force, then its replacement), a format record
    and a height of their own, and the replay of blocks from the ledger."""

    format_key = K_FORMAT
    height_key = K_HEIGHT
    version_prefix = _P_VERSION
    derives_unit = True  # counted records carry the fact "unit" (views/records.py)

    def _setup(self, views: Sequence[View], progress) -> None:
        self.views = tuple(views)
        self.progress = progress
        self.ledger = None
        self.zone_name = DEFAULT_ZONE
        # Types some view counts (None: every type); an amendment is looked at for its target's.
        wanted = [getattr(v, "types", None) for v in self.views]
        self._types = None if any(t is None for t in wanted) else frozenset().union(*wanted, (AMENDMENT,))

    def format_record(self) -> bytes:
        return pack({"views": {v.name: v.version for v in self.views}, "zone": self.zone_name})

    def attach(self, ledger) -> None:
        """Read and write the views of `ledger` (its store, genesis and blocks); no replay."""
        self.ledger = ledger
        self.zone_name = chain_zone(ledger.genesis)

    def height(self) -> int:
        raw = self.ledger.store.get(self.height_key)
        return 0 if raw is None else unbe8(raw)

    def _bootstrap(self) -> None:
        w = Writer(self.ledger.store, self._envelope, zone(self.zone_name))
        for view in self.views:
            view.bootstrap(w, self.ledger.genesis)
        changes = w.drain()
        changes[self.format_key] = self.format_record()
        changes[self.height_key] = be8(0)
        self.ledger.store.write(changes)

    def _replay(self, first: int, *, chunk: int = _CHUNK_DOCUMENTS, chunks: int | None = None) -> int:
        """Apply blocks `first`.. the ledger's height in batches of about `chunk` documents, each
        committed with the height it reached (at most `chunks` batches); the next height to apply."""
        ledger = self.ledger
        last = ledger.height
        height = first
        while height <= last and chunks != 0:
            overlay = Overlay(ledger.store)
            w = Writer(ledger.store, self._envelope, zone(self.zone_name))
            documents = 0
            while height <= last and documents < chunk:
                accepted = ledger.accepted_documents(height)
                header = ledger.header(height)
                for document in accepted:
                    self._apply_document(w, header, document)
                documents += len(accepted) + 1
                height += 1
            for key, value in w.drain().items():
                if value is None:
                    overlay.delete(key)
                else:
                    overlay.put(key, value)
            overlay.put(self.height_key, be8(height - 1))
            overlay.commit()
            self._replayed(height - 1, last)
            chunks = None if chunks is None else chunks - 1
        return height

    def _replayed(self, height: int, last: int) -> None:
        if self.progress is not None:
            self.progress(height, last)

    def _envelope(self, leaf: int) -> Envelope:
        return Envelope.from_bytes(self.ledger.envelope_at(leaf))

    # -- one document --

    def _apply_document(self, w: Writer, header, document) -> None:
        doc = document.envelope.doc
        if self._types is not None and doc.type not in self._types:
            return
        signers = tuple(s.signer for s in document.envelope.sigs)
        if doc.type == AMENDMENT:
            self._apply_amendment(w, header, document, signers)
            return
        record = Record(record_id=document.doc_id, doc_id=document.doc_id, leaf=document.leaf_index, type=doc.type,
                        org=doc.org, body=doc.body if isinstance(doc.body, dict) else {}, created_at=doc.created_at,
                        signers=signers, height=header.height, block_time=header.timestamp)
        facts = Facts()
        if self.derives_unit:
            _records.concerned_unit(w, record, facts)  # before any view moves a member: the unit before the change
        for view in self.views:
            view.apply(w, record, facts, +1)
        if doc.type in _records.AMENDABLE:
            w.put_obj(self.version_prefix + bytes.fromhex(record.record_id),
                      {"d": bytes.fromhex(record.doc_id), "l": record.leaf, "o": record.leaf, "f": facts.values})

    def _apply_amendment(self, w: Writer, header, document, signers: tuple[str, ...]) -> None:
        body = document.envelope.doc.body if isinstance(document.envelope.doc.body, dict) else {}
        target = body.get("target")
        try:
            key = self.version_prefix + bytes.fromhex(target) if isinstance(target, str) and len(target) == 64 else None
        except ValueError:
            key = None
        version = w.get_obj(key) if key is not None else None
        if version is None or version["d"] is None:
            return  # not a record the views count, or withdrawn already (the registry refuses both)
        previous_env = w.envelope(version["l"])
        original = w.envelope(version["o"]) if version["o"] != version["l"] else previous_env
        base = dict(record_id=target, leaf=version["o"], type=original.doc.type, org=original.doc.org,
                    created_at=original.doc.created_at)
        previous = Record(doc_id=version["d"].hex(), body=_version_body(previous_env),
                          signers=tuple(s.signer for s in previous_env.sigs), height=header.height,
                          block_time=header.timestamp, **base)
        for view in reversed(self.views):
            view.apply(w, previous, Facts(version["f"]), -1)
        if body.get("action") == "amend" and isinstance(body.get("body"), dict):
            record = Record(doc_id=document.doc_id, body=body["body"], signers=signers, height=header.height,
                            block_time=header.timestamp, **base)
            facts = Facts(_records.carried_facts(version["f"]))
            for view in self.views:
                view.apply(w, record, facts, +1)
            w.put_obj(key, {"d": bytes.fromhex(document.doc_id), "l": document.leaf_index, "o": version["o"],
                            "f": facts.values})
        else:
            w.put_obj(key, {"d": None, "l": document.leaf_index, "o": version["o"], "f": {}})


@dataclass
class Views(_Fold):
    """The ledger observer that feeds every view of `views` (default :data:`views.VIEWS`) in each
    block's batch, and holds the trailing views (`trail`, default :data:`views.TRAILING`): fed
    after each block on the same thread, or, with `defer`, by whoever calls
    ``trail.catch_up`` (the node, on a thread of its own)."""

    views: Sequence[View] = field(default_factory=lambda: _default_views())
    progress: Callable[[int, int], None] | None = None  # (height done, height to reach) while replaying
    trail: "Trail | None" = field(default_factory=lambda: Trail())
    defer: bool = False

    def __post_init__(self) -> None:
        self._setup(self.views, self.progress)
        self._cache = ValueCache()  # see Writer
        self._staged: dict[bytes, bytes | None] = {}  # the last block's writes, until committed

    # -- the observer contract --

    def attach(self, ledger) -> None:
        super().attach(ledger)
        if self.trail is not None:
            self.trail.attach(ledger)

    def open(self, ledger) -> None:
        """Bootstrap, rebuild or catch up so that the views stand at the ledger's height (and the
        trailing views too, unless deferred: then they are only made ready to catch up)."""
        self.attach(ledger)
        store = ledger.store
        stored = store.get(K_FORMAT)
        if stored is None and next(iter(store.scan(PREFIX, limit=1)), None) is None:
            self._bootstrap()
        elif stored != self.format_record():
            log.warning("views format %r differs from %r: rebuilding the views", stored, self.format_record())
            self.rebuild()
            return
        height = self.height()
        if height > ledger.height:
            raise CorruptionError(f"the views stand at height {height}, above the ledger's {ledger.height}")
        if height < ledger.height:
            log.info("views at height %d, ledger at %d: replaying %d blocks into the views", height,
                     ledger.height, ledger.height - height)
            self._replay(height + 1)
        if self.trail is not None:
            self.trail.open(ledger, catch_up=not self.defer)

    def apply_block(self, overlay: Overlay, header, accepted) -> None:
        recent = {d.leaf_index: d.envelope for d in accepted}
        w = Writer(self.ledger.store, lambda leaf: recent.get(leaf) or self._envelope(leaf), zone(self.zone_name),
                   self._cache)
        for document in accepted:
            self._apply_document(w, header, document)
        self._staged = w.drain()
        # Into the block's own batch as they are (values are bytes, None deletes: Overlay's own terms).
        overlay.pending.update(self._staged)
        overlay.put(K_HEIGHT, be8(header.height))

    def committed(self, height: int) -> None:
        self._cache.learn(self._staged)
        self._staged = {}
        if self.trail is not None and not self.defer:
            self.trail.catch_up()

    # -- reading --

    def reader(self, **budget) -> Reader:
        return Reader(self.ledger.store, **budget)

    # -- replay --

    def rebuild(self) -> None:
        """Delete every ``w/`` key, then bootstrap from genesis and replay every block (the
        trailing views too, unless deferred: then they start again from height 0)."""
        self._cache.clear()
        _delete_prefixes(self.ledger.store, (PREFIX,))
        self._bootstrap()
        self._replay(1)
        if self.trail is not None:
            self.trail.rebuild(catch_up=not self.defer)

    def _replayed(self, height: int, last: int) -> None:
        self._cache.clear()  # a replay writes around the cache
        if self.progress is not None:
            self.progress(height, last)
        else:
            log.info("views replayed to height %d of %d", height, last)


class Trail(_Fold):
    """Views fed behind the apply path, with their own height (module docstring, "Trailing
    views"); :data:`views.TRAILING` by default."""

    format_key = K_TRAIL_FORMAT
    height_key = K_TRAIL_HEIGHT
    version_prefix = _P_TRAIL_VERSION
    derives_unit = False  # the "unit" fact reads the members view, which stands ahead of a trail

    def __init__(self, views: Sequence[View] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self._setup(_default_trailing() if views is None else views, progress)

    def prefixes(self) -> tuple[bytes, ...]:
        """Every key prefix the trailing views own (a rebuild of the trail deletes these only)."""
        return (TRAIL_PREFIX,) + tuple(p for view in self.views for p in view.prefixes)

    def open(self, ledger, *, catch_up: bool = True) -> None:
        """Start the trail afresh if its format is not this code's (or it has none); check it is
        not ahead of the ledger; with `catch_up`, bring it to the ledger's height now."""
        self.attach(ledger)
        stored = ledger.store.get(self.format_key)
        if stored != self.format_record():
            if stored is not None:
                log.warning("trailing views format %r differs from %r: rebuilding them", stored,
                            self.format_record())
            self.rebuild(catch_up=False)
        height = self.height()
        if height > ledger.height:
            raise CorruptionError(f"the trailing views stand at height {height}, above the ledger's "
                                  f"{ledger.height}")
        if catch_up:
            self.catch_up()

    def rebuild(self, *, catch_up: bool = True) -> None:
        """Delete the trailing views' keys (theirs only), bootstrap them; with `catch_up`, replay
        every block into them."""
        _delete_prefixes(self.ledger.store, self.prefixes())
        self._bootstrap()
        if catch_up:
            self.catch_up()

    def catch_up(self, *, chunk: int = _CHUNK_DOCUMENTS, chunks: int | None = None) -> bool:
        """Apply the blocks the ledger holds beyond the trail's height, in batches of about `chunk`
        documents (at most `chunks` of them), each written (fsynced) with the height it reached;
        True once the trail stands at the ledger's height."""
        self._replay(self.height() + 1, chunk=chunk, chunks=chunks)
        return self.height() >= self.ledger.height


def _delete_prefixes(store, prefixes: Sequence[bytes]) -> None:
    for prefix in prefixes:
        while True:
            keys = [k for k, _ in store.scan(prefix, limit=_DELETE_BATCH)]
            if not keys:
                break
            store.write({k: None for k in keys})


def _version_body(envelope: Envelope) -> dict:
    """The body a version counts with: an amendment's replacement, else the document's own."""
    body = envelope.doc.body if isinstance(envelope.doc.body, dict) else {}
    if envelope.doc.type == AMENDMENT:
        replacement = body.get("body")
        return replacement if isinstance(replacement, dict) else {}
    return body


def chain_zone(genesis: Genesis) -> str:
    """The chain's zone for monthly figures: genesis ``time_zone``, default Asia/Ho_Chi_Minh."""
    name = getattr(genesis, "time_zone", None) or genesis.raw.get("time_zone") or DEFAULT_ZONE
    return name if isinstance(name, str) else DEFAULT_ZONE


from . import records as _records  # noqa: E402  (records.py builds on Record and Facts above)


def _default_views() -> tuple:
    from . import VIEWS

    return tuple(cls() for cls in VIEWS)


def _default_trailing() -> tuple:
    from . import TRAILING

    return tuple(cls() for cls in TRAILING)
