"""Key-value storage under the ledger.

The ledger sees storage as sorted bytes -> bytes with atomic, durable batches:

- :class:`Store` is the protocol. ``write(changes)`` applies a whole batch (puts,
  and deletes given as ``None``) atomically and durably: when it returns, the
  batch is on disk (fsynced) or the call raised and nothing of it is.
- :class:`MemoryStore` serves tests of logic.
- :class:`LevelDBStore` is the real one and the only ``import plyvel``.
- :func:`read_only_copy` makes a private copy of a LevelDB directory to open
  instead of the original (LevelDB has no read-only mode: opening a store
  replays its log into a new table and rewrites its manifest), so an audit
  changes no byte of what it audits.
- ``snapshot()`` (both stores) is a read-only view frozen at the moment it is
  taken: readers that need several keys to agree with each other (a view
  query reading dozens of counters while blocks commit) read through one, and
  ``close()`` it when done.
- :class:`Overlay` is a pending batch over a store: reads see the batch first,
  writes go into it, and ``commit()`` hands it to ``Store.write``. Applying a
  block builds one Overlay (documents, Merkle leaves and subtree hashes,
  registry state, indexes, the head pointer) and commits it once, so a crash
  leaves the store at the old block or the new one, never in between.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import os
import shutil
import struct
import tempfile
import zlib
from typing import Callable, Iterable, Iterator, Mapping, Protocol, runtime_checkable

from .errors import CorruptionError

__all__ = ["Store", "MemoryStore", "LevelDBStore", "LevelDBSnapshot", "Overlay", "StoreWriteError", "prefix_end",
           "read_only_copy"]


class StoreWriteError(OSError):
    """A write the disk refused (``errno.ENOSPC`` when it is full, else ``errno.EIO``). Nothing of
    the batch counts as written (a reopen drops its torn bytes), and ``LevelDBStore`` refuses
    every later write until the store is opened again (see ``LevelDBStore.write``), so the node
    stops (node/serve.py: exit status 75) rather than run on without a disk."""


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with `prefix` (None: no bound)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return None


@runtime_checkable
class Store(Protocol):
    def get(self, key: bytes) -> bytes | None:
        """The value at `key`, or None."""

    def scan(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with `prefix`, in key order (or reversed).

        `start` (a full key) bounds the scan: forward, keys >= start; reversed,
        keys <= start.
        """

    def write(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Apply all of `changes` atomically and durably (None deletes)."""

    def close(self) -> None:
        ...


class MemoryStore:
    """A Store in a dict plus a sorted key list; for tests of logic."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []
        self.writes = 0  # batches written, for tests

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, prefix: bytes, *, start=None, reverse=False, limit=None):
        keys = self._keys
        lo = bisect.bisect_left(keys, prefix)
        end = prefix_end(prefix)
        hi = len(keys) if end is None else bisect.bisect_left(keys, end)
        if start is not None:
            if reverse:
                hi = min(hi, bisect.bisect_right(keys, start))
            else:
                lo = max(lo, bisect.bisect_left(keys, start))
        selected = keys[lo:hi]
        if reverse:
            selected = selected[::-1]
        if limit is not None:
            selected = selected[:limit]
        for k in selected:
            yield k, self._data[k]

    def write(self, changes: Mapping[bytes, bytes | None]) -> None:
        # Convert everything first, so a bad value leaves the store untouched
        # (all or nothing, as LevelDBStore's batch).
        changes = {bytes(key): None if value is None else bytes(value) for key, value in changes.items()}
        for key, value in changes.items():
            if value is None:
                if key in self._data:
                    del self._data[key]
                    self._keys.pop(bisect.bisect_left(self._keys, key))
            else:
                if key not in self._data:
                    bisect.insort(self._keys, key)
                self._data[key] = value
        self.writes += 1

    def snapshot(self) -> "MemoryStore":
        """A frozen copy (this store is for tests: the copy costs O(keys))."""
        copy = MemoryStore()
        copy._data = dict(self._data)
        copy._keys = list(self._keys)
        return copy

    def close(self) -> None:
        pass


class LevelDBStore:
    """The real Store: LevelDB through plyvel, every value checksummed.

    Layout. User keys live under the one-byte namespace ``b"d"`` (a plyvel
    prefixed view, so scans never see anything else); ``b"M"`` holds the meta
    record ``{format}``. Every stored value is ``crc32(key, value)`` as 4 bytes
    big-endian, then the value. The checksum covers the key too, so a value
    copied under another key is caught as well as flipped bits. It is checked
    on every read; a mismatch raises :class:`CorruptionError` and the value is
    never served. (Cost: 4 bytes per value and well under a microsecond per
    read; LevelDB's own block CRCs are checked as well, ``verify_checksums``.)

    ``write`` is one plyvel ``WriteBatch`` written with ``sync=True``: LevelDB
    appends the whole batch to its write-ahead log as one record and fsyncs
    before returning, so after a crash either all of a batch is there or none.
    After a write fails (a full disk), every later write is refused with
    StoreWriteError until the store is opened again: LevelDB keeps only a
    failed *sync* sticky, and after a failed *append* its log writer has moved
    past the torn bytes, so a later write that "succeeds" lands behind them
    and is dropped with them on the next open (tests/ledger/test_store_disk_full.py).

    On open: ``paranoid_checks`` (LevelDB refuses to open on a damaged log or
    manifest), the meta record is read and checked, and so is every key in
    `check_on_open` (the ledger passes its head record). :meth:`verify_all`
    checks every value (``minutebook audit --local``).
    """

    FORMAT = 1
    _DATA = b"d"
    _META_KEY = b"M"
    _crc = struct.Struct(">I")

    def __init__(
        self,
        path: str,
        create_if_missing: bool = True,
        *,
        create: bool | None = None,
        check_on_open: Iterable[bytes] = (),
        cache_bytes: int = 64 << 20,
        write_buffer_bytes: int = 32 << 20,
    ) -> None:
        import plyvel  # the only import of plyvel in the code base

        self._plyvel = plyvel
        if create is not None:  # the spelling in docs/interfaces.md
            create_if_missing = create
        self.path = str(path)
        try:
            self._db = plyvel.DB(
                self.path,
                create_if_missing=create_if_missing,
                paranoid_checks=True,
                compression="snappy",  # stored uncompressed if plyvel lacks snappy
                bloom_filter_bits=10,
                lru_cache_size=cache_bytes,
                write_buffer_size=write_buffer_bytes,
                block_size=16 << 10,
                max_open_files=512,
            )
        except plyvel.CorruptionError as exc:
            raise CorruptionError(f"LevelDB at {self.path} is damaged: {exc}") from exc
        except plyvel.IOError as exc:
            text = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            if "lock" in text.lower():
                text = "another process has it open (is this node already running?)"
            raise OSError(f"cannot open LevelDB at {self.path}: {text}") from None
        self._data = self._db.prefixed_db(self._DATA)
        self._refused: tuple[int, str] | None = None  # (errno, LevelDB's words) once the disk refused a write
        try:
            self._check_meta(create_if_missing)
            for key in check_on_open:
                self.get(key)
        except plyvel.CorruptionError as exc:
            self._db.close()
            raise CorruptionError(f"LevelDB at {self.path} is damaged: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    # -- checksums -------------------------------------------------------------

    @classmethod
    def _seal(cls, key: bytes, value: bytes) -> bytes:
        return cls._crc.pack(zlib.crc32(value, zlib.crc32(key))) + value

    @classmethod
    def _open_value(cls, key: bytes, stored: bytes) -> bytes:
        value = stored[4:]
        if len(stored) < 4 or cls._crc.unpack_from(stored)[0] != zlib.crc32(value, zlib.crc32(key)):
            raise CorruptionError(f"stored value of key {key!r} fails its checksum ({len(stored)} bytes on disk)")
        return value

    def _check_meta(self, create_if_missing: bool) -> None:
        raw = self._db.get(self._META_KEY, verify_checksums=True)
        if raw is None:
            has_data = next(self._db.iterator(include_value=False), None) is not None
            if has_data or not create_if_missing:
                raise CorruptionError(f"LevelDB at {self.path} has no minutebook meta record")
            meta = b"minutebook-store format=%d" % self.FORMAT
            self._db.put(self._META_KEY, self._seal(self._META_KEY, meta), sync=True)
            return
        meta = self._open_value(self._META_KEY, raw)
        if meta != b"minutebook-store format=%d" % self.FORMAT:
            raise CorruptionError(f"LevelDB at {self.path}: unknown meta record {meta!r}")

    # -- the Store protocol ----------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        return self._get(self._db, key)

    def scan(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._scan(self._db, prefix, start=start, reverse=reverse, limit=limit)

    def snapshot(self) -> "LevelDBSnapshot":
        """A LevelDB snapshot: reads see the store as it was now; ``close()`` releases it."""
        return LevelDBSnapshot(self, self._db.snapshot())

    def _get(self, source, key: bytes) -> bytes | None:
        """`key` read from `source` (the database or one of its snapshots)."""
        try:
            stored = source.get(self._DATA + key, verify_checksums=True)
        except self._plyvel.CorruptionError as exc:
            raise CorruptionError(f"LevelDB block holding key {key!r} is damaged: {exc}") from exc
        if stored is None:
            return None
        return self._open_value(key, stored)

    def _scan(
        self, source, prefix: bytes, *, start: bytes | None = None, reverse: bool = False, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        low: bytes = prefix
        high = prefix_end(prefix)  # exclusive, None for no bound
        if start is not None:
            if reverse:
                if high is None or start < high:
                    high = start + b"\x00"  # the smallest key after `start`
            elif start > low:
                low = start
        if (high is not None and low >= high) or (limit is not None and limit <= 0):
            return
        # Raw keys are the namespace byte + the key; iterate the raw database
        # (a plyvel prefixed iterator's prev() walks out of its prefix).
        namespace = self._DATA
        raw_low = namespace + low
        raw_high = namespace + high if high is not None else prefix_end(namespace)
        skip = len(namespace)
        count = 0
        try:
            if not reverse:
                iterator = source.iterator(start=raw_low, stop=raw_high, verify_checksums=True)
                step = iterator.__next__
            else:
                # Seek to the end of the range and walk back with prev(): plyvel's
                # own reverse=True with a stop bound skips keys (seen with 1.5.1).
                iterator = source.iterator(verify_checksums=True)
                iterator.seek(raw_high)
                step = iterator.prev
            with iterator:
                while True:
                    try:
                        raw_key, stored = step()
                    except StopIteration:
                        return
                    if raw_key < raw_low:
                        return
                    key = raw_key[skip:]
                    yield key, self._open_value(key, stored)
                    count += 1
                    if limit is not None and count >= limit:
                        return
        except self._plyvel.CorruptionError as exc:
            raise CorruptionError(f"LevelDB block under prefix {prefix!r} is damaged: {exc}") from exc

    def write(self, changes: Mapping[bytes, bytes | None]) -> None:
        if self._refused is not None:
            code, text = self._refused
            raise StoreWriteError(code, f"cannot write to LevelDB at {self.path}: the disk refused an earlier write "
                                        f"({text}); open the store again") from None
        batch = self._data.write_batch(sync=True)
        for key, value in changes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, self._seal(key, bytes(value)))
        try:
            batch.write()  # one log record, fsynced before it returns
        except self._plyvel.IOError as exc:
            text = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            code = errno.ENOSPC if "space" in text.lower() else errno.EIO
            self._refused = (code, text)
            raise StoreWriteError(code, f"cannot write to LevelDB at {self.path}: {text}") from None

    def verify_all(self, progress: Callable[[int], None] | None = None, every: int = 100_000) -> int:
        """Check the checksum of every stored value; returns how many were checked.

        Raises CorruptionError at the first bad one. `progress(count)` is called
        every `every` values.
        """
        count = 0
        try:
            with self._db.iterator(verify_checksums=True, fill_cache=False) as iterator:
                for raw_key, stored in iterator:
                    if raw_key == self._META_KEY:
                        self._open_value(raw_key, stored)
                    elif raw_key.startswith(self._DATA):
                        self._open_value(raw_key[len(self._DATA):], stored)
                    else:
                        raise CorruptionError(f"unexpected key {raw_key!r} outside the store's namespaces")
                    count += 1
                    if progress is not None and count % every == 0:
                        progress(count)
        except self._plyvel.CorruptionError as exc:
            raise CorruptionError(f"LevelDB at {self.path} is damaged: {exc}") from exc
        if progress is not None:
            progress(count)
        return count

    def approximate_size(self, prefix: bytes = b"") -> int:
        """Bytes on disk LevelDB estimates for keys under `prefix` (for benchmarks)."""
        end = prefix_end(self._DATA + prefix) or b"\xff" * 8
        return self._db.approximate_size(self._DATA + prefix, end)

    def compact(self) -> None:
        self._db.compact_range()

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> "LevelDBStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


_IMMUTABLE_SUFFIXES = (".ldb", ".sst")  # LevelDB table files: written once, never changed, only deleted


@contextlib.contextmanager
def read_only_copy(path: str, scratch: str | None = None) -> Iterator[str]:
    """The path of a private copy of the LevelDB directory `path`, removed on exit.

    Why: LevelDB has no read-only mode, and opening a store is a write (the log
    is replayed into a new table, a new manifest and ``CURRENT`` are written, the
    old log is deleted). Whoever must not change the store (``minutebook audit
    --local``) opens this copy instead; the original is never opened by LevelDB.

    How: while holding LevelDB's own lock on ``path/LOCK`` (an fcntl lock, so a
    node cannot start on the store meanwhile, and a running node makes this
    fail with OSError), table files (``*.ldb``, ``*.sst``: immutable once
    written) are hard-linked into a new directory under `scratch` (default: the
    system temp directory) when it is on the same file system, else copied;
    every other file (log, manifest, ``CURRENT``) is copied, since opening the
    copy writes to them. The original's bytes stay as they were (a hard link
    changes a table file's link count and ctime, not its contents).
    """
    source = os.fspath(path)
    if not os.path.isfile(os.path.join(source, "CURRENT")):
        raise OSError(f"{source} is not a LevelDB directory (no CURRENT file)")
    copy = tempfile.mkdtemp(prefix="minutebook-readonly-", dir=scratch)
    try:
        lock = os.open(os.path.join(source, "LOCK"), os.O_RDWR) if os.path.exists(
            os.path.join(source, "LOCK")) else None
        try:
            if lock is not None:
                try:
                    fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    raise OSError(f"cannot open LevelDB at {source}: another process has it open "
                                  f"(is this node still running?)") from None
            for name in sorted(os.listdir(source)):
                original = os.path.join(source, name)
                if name == "LOCK" or not os.path.isfile(original):
                    continue
                target = os.path.join(copy, name)
                if name.endswith(_IMMUTABLE_SUFFIXES):
                    try:
                        os.link(original, target)
                        continue
                    except OSError:  # another file system, or links not allowed: copy it
                        pass
                shutil.copyfile(original, target)
        finally:
            if lock is not None:
                os.close(lock)  # releases the lock
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)
class LevelDBSnapshot:
    """A read-only, frozen view of a :class:`LevelDBStore` (``LevelDBStore.snapshot()``)."""

    def __init__(self, store: LevelDBStore, snapshot) -> None:
        self._store = store
        self._snapshot = snapshot

    def get(self, key: bytes) -> bytes | None:
        return self._store._get(self._snapshot, key)

    def scan(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False,
             limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        return self._store._scan(self._snapshot, prefix, start=start, reverse=reverse, limit=limit)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.release()
            self._snapshot = None

    def __enter__(self) -> "LevelDBSnapshot":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Overlay:
    """A pending batch over a Store (or over another Overlay, for nesting).

    Reads see pending writes; nothing reaches the base until :meth:`commit`.
    A nested Overlay lets one document's changes be dropped if it is rejected
    halfway: ``sub = Overlay(block_overlay)``; on success ``sub.merge()``.
    """

    def __init__(self, base: "Store | Overlay") -> None:
        self.base = base
        self.pending: dict[bytes, bytes | None] = {}
        # Values read from a Store base, kept until the next commit (a block reads the same
        # members, units and roles over and over). The overlay's owner is the one writer of
        # the Store and writes only through commit(), so nothing cached goes stale. Not for
        # an Overlay base, which its owner may write directly while this one lives.
        self._read: dict[bytes, bytes | None] | None = None if isinstance(base, Overlay) else {}

    def get(self, key: bytes) -> bytes | None:
        pending = self.pending
        if key in pending:
            return pending[key]
        read = self._read
        if read is None:
            return self.base.get(key)
        if key in read:
            return read[key]
        value = read[key] = self.base.get(key)
        return value

    def put(self, key: bytes, value: bytes) -> None:
        self.pending[key] = bytes(value)

    def delete(self, key: bytes) -> None:
        self.pending[key] = None

    def scan(self, prefix: bytes, *, start=None, reverse=False, limit=None):
        end = prefix_end(prefix)

        def in_range(k: bytes) -> bool:
            if not k.startswith(prefix):
                return False
            if start is not None:
                return k <= start if reverse else k >= start
            return True

        mine = sorted((k for k in self.pending if in_range(k)), reverse=reverse)
        base_iter = self.base.scan(prefix, start=start, reverse=reverse)
        count = 0
        i = 0
        base_item = next(base_iter, None)
        while True:
            if limit is not None and count >= limit:
                return
            pk = mine[i] if i < len(mine) else None
            if pk is None and base_item is None:
                return
            take_mine = base_item is None or (
                pk is not None and (pk >= base_item[0] if reverse else pk <= base_item[0])
            )
            if take_mine:
                if base_item is not None and base_item[0] == pk:
                    base_item = next(base_iter, None)
                i += 1
                value = self.pending[pk]
                if value is None:
                    continue
                yield pk, value
            else:
                yield base_item
                base_item = next(base_iter, None)
            count += 1
        del end

    def merge(self) -> None:
        """Move pending writes into the base Overlay (for nested overlays)."""
        if not isinstance(self.base, Overlay):
            raise TypeError("merge() is for an Overlay over an Overlay; use commit()")
        self.base.pending.update(self.pending)
        self.pending = {}

    def commit(self) -> None:
        """Write all pending changes to the base Store as one atomic batch."""
        if isinstance(self.base, Overlay):
            raise TypeError("commit() is for an Overlay over a Store; use merge()")
        self.base.write(self.pending)
        self.pending = {}
        self._read = {}
