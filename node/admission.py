"""The leader's admission checks, off the event loop and in groups.

Theory of operation
-------------------
Before the leader answers 202 it checks each submission against the ledger
(``Ledger.check_submission``: canonical decoding, every signature, the
registry rules). That costs about as much CPU as applying the document, and
on the event loop it would compete head-on with what must stay prompt there:
Raft ticks and heartbeats, the peer links, other requests. A batch of 1,000
checked in one go would hold the loop for a good part of a second.

So checks run on one worker thread (pynacl's verification and LevelDB's reads
release the GIL; the rest at least yields it every switch interval).
Submissions that arrive while a round of checks runs wait and go together in
the next round, as the intake journal groups its fsyncs: the hand-off to the
thread costs once per group, not once per document.

The checks only read the ledger, which the disk thread may be writing at the
same time; each read sees the block before or after, so a check can at worst
be as stale as one made a moment earlier. That is harmless: admission is
advisory, and applying the block checks everything again, in order, on every
node (a document admitted against a state that moved on is rejected there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Callable

from ledger.documents import Envelope
from ledger.errors import MinutebookError

__all__ = ["Admission"]

Outcome = "Envelope | MinutebookError"


class Admission:
    """``await check(envelopes)`` -> one checked Envelope or the MinutebookError it raised, per
    envelope, in order. `check_one` is ``Ledger.check_submission``."""

    def __init__(self, check_one: Callable[[bytes], Envelope], *, thread_name: str = "admission") -> None:
        self.check_one = check_one
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._queue: list[tuple[list[bytes], asyncio.Future]] = []
        self._running = False
        self.rounds = 0

    async def check(self, envelopes: list[bytes]) -> list[Envelope | MinutebookError]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((envelopes, future))
        if not self._running:
            self._running = True
            loop.create_task(self._rounds())
        return await future

    def _check_all(self, groups: list[list[bytes]]) -> list[list[Envelope | MinutebookError]]:
        out = []
        for envelopes in groups:
            results: list[Envelope | MinutebookError] = []
            for data in envelopes:
                try:
                    results.append(self.check_one(data))
                except MinutebookError as exc:
                    results.append(exc)
            out.append(results)
        return out

    async def _rounds(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                self.rounds += 1
                try:
                    outcomes = await loop.run_in_executor(self._executor, self._check_all, [e for e, _ in batch])
                except Exception as exc:  # noqa: BLE001 - a bug in a check: every waiter of the round hears it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), results in zip(batch, outcomes):
                    if not future.done():
                        future.set_result(results)
        finally:
            self._running = False

    def close(self) -> None:
        self._executor.shutdown(wait=True)
