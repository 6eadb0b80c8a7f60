"""Heavy reads run off the event loop: a bounded pool of reader threads.

The event loop that serves HTTP also drives Raft (ticks, heartbeats, the
ready loop): a read that held it for a second would let the followers'
election timers run out and depose a healthy leader. So every query of the
read models (``views/``) runs in :class:`ReadPool`, a few worker threads, and
the loop only awaits it:

- **bounded in number**: at most ``workers`` queries run and ``queue`` wait;
  one more is answered 503 ``busy`` with ``Retry-After`` at once;
- **bounded in time and size**: each query gets a deadline and a key budget
  (``views.projection.Reader``), checked as it reads, so it stops itself
  (503 ``busy``, 400 naming the field when the question is simply too big);
- **consistent**: a query reads one store snapshot, so a block committing
  meanwhile never shows half.

The worker also builds the response (JSON encoding included): nothing a
query costs runs on the loop. Pure-Python work in a thread still shares the
GIL, which the interpreter hands back to the loop every few milliseconds, so
the loop keeps ticking while a query runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Callable

from fastapi import FastAPI

from ledger.errors import MinutebookError

__all__ = ["ReadPool", "ReadBusy", "pool_of", "QUERY_SECONDS", "QUERY_KEYS"]

QUERY_SECONDS = 10.0     # a query's deadline
QUERY_KEYS = 2_000_000   # and its budget of keys read


class ReadBusy(MinutebookError):
    http_status = 503
    code = "busy"

    def __init__(self, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__("the node is answering as many queries as it can; retry shortly")


class ReadPool:
    """See the module docstring."""

    def __init__(self, *, workers: int = 2, queue: int = 16, seconds: float = QUERY_SECONDS) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reader")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self.seconds = seconds

    def deadline(self) -> float:
        return time.monotonic() + self.seconds

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` on a reader thread; ReadBusy if the pool is full."""
        if not self._slots.acquire(blocking=False):
            raise ReadBusy()

        def call() -> Any:
            try:
                return fn(*args)
            finally:
                self._slots.release()

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def pool_of(app: FastAPI) -> ReadPool:
    """The app's reader pool (made on first use; every route module shares it)."""
    pool = getattr(app.state, "reads", None)
    if pool is None:
        # Idle reader threads cost nothing and end with the process (the executor joins them at exit).
        pool = app.state.reads = ReadPool()
    return pool
