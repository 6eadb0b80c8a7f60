"""The intake journal: a leader's 202 is durable.

Theory of operation
-------------------
A submission the leader admits (``Ledger.check_submission`` passed) waits in
the block producer's pool, in memory, until a block takes it. Without more, a
202 ``pending`` answer would be a promise that a crash of the leader breaks
silently. So before answering, the leader writes the envelope to this journal,
its own LevelDB (``data_dir/intake``), fsynced: writes from concurrent
submissions are grouped into one batch (group commit, :class:`IntakeJournal.add`
awaits the batch that holds it), so the cost is one fsync per batch, not per
document.

An entry leaves the journal when a block holding its document is applied on
this node, accepted or rejected: either way the ledger now answers for it.
Removal need not be durable: an entry that survives a crash is only submitted
again, and the ledger answers ``AlreadyCommitted``.

When the node starts, and when it stops leading, every entry still in the
journal is submitted again through the normal path (to the pool if this node
leads, else forwarded to the leader), until the ledger holds it or refuses it
for good (the registry may have changed meanwhile: the refusal is logged).

What the journal holds is exactly what this node answered 202 for and has
not yet seen applied: ``/v1/status`` (``uncommitted``) and the metrics show
how many and how long the oldest has waited (``oldest_age``; an entry found on
start counts from the start), and the runtime bounds it (back-pressure,
``limits.max_pending_documents``).

Keys: ``j/<doc_id, 32 raw bytes>`` -> the canonical envelope bytes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Iterable

from ledger.store import LevelDBStore

__all__ = ["IntakeJournal"]

_PREFIX = b"j/"


class IntakeJournal:
    def __init__(self, path: str) -> None:
        self.store = LevelDBStore(path)
        started = time.monotonic()
        # doc_id -> when it was journaled (monotonic seconds), oldest first
        self._ids: dict[str, float] = {key[len(_PREFIX):].hex(): started for key, _ in self.store.scan(_PREFIX)}
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake")
        self._queue: list[tuple[str, bytes, asyncio.Future]] = []
        self._flushing = False

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._ids

    def oldest_age(self, now: float | None = None) -> float:
        """Seconds the oldest entry has been journaled (0 when empty)."""
        for added in self._ids.values():
            return max(0.0, (time.monotonic() if now is None else now) - added)
        return 0.0

    def items(self) -> list[tuple[str, bytes]]:
        """Every journaled ``(doc_id, envelope)``, in doc_id order."""
        return [(key[len(_PREFIX):].hex(), value) for key, value in self.store.scan(_PREFIX)]

    async def add(self, doc_id: str, envelope: bytes) -> None:
        """Return once `envelope` is durably journaled (fsynced, possibly with others)."""
        if doc_id in self._ids:
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((doc_id, envelope, future))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                changes = {_PREFIX + bytes.fromhex(doc_id): envelope for doc_id, envelope, _ in batch}
                try:
                    await loop.run_in_executor(self._executor, self.store.write, changes)
                except Exception as exc:  # noqa: BLE001 - handed to every waiter of the batch
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                now = time.monotonic()
                for doc_id, _, future in batch:
                    self._ids.setdefault(doc_id, now)
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flushing = False

    def remove(self, doc_ids: Iterable[str | None]) -> None:
        """Forget the journaled ones among `doc_ids` (in the background; not fsync-critical)."""
        gone = [d for d in doc_ids if d is not None and d in self._ids]
        if not gone:
            return
        for doc_id in gone:
            self._ids.pop(doc_id, None)
        self._executor.submit(self.store.write, {_PREFIX + bytes.fromhex(d): None for d in gone})

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.close()
