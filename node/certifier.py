"""Block certification: sign applied blocks, gossip signatures, resolve waiters.

Theory of operation
-------------------
DESIGN.md "Blocks, Merkle log, certificates": after applying block h every
voter signs ``BLOCK_DOMAIN + block_hash`` with its node key; a strict
majority of the voters before h makes the certificate. Here:

- ``on_applied(block)``: if this node is a voter at h it signs, stores its
  signature (``ledger.add_block_signature``) and broadcasts a ``block_sig``
  frame ``{height, block_hash, sig}`` (the signer is the frame's
  authenticated ``from``). Signatures that arrived for h before we applied it
  are taken from the early buffer now.
- ``on_block_sig``: a signature for a height we applied is checked and stored
  by the ledger (which verifies it against the voter's registered key and the
  block hash *we* computed; a signature over another hash is refused and
  logged as a divergence); one for a height ahead of us is buffered, bounded
  in heights (``early_window``) and in count.
- Waiters (``wait=committed``) are attached per height once their document's
  block applied here; they resolve when the block is certified here.
- Anti-entropy: a signature broadcast while a peer was down is lost, yet
  every node should end with the same certificates. Heights applied here
  whose certificate lacks some voter are kept in ``incomplete`` (bounded);
  ``sync_request()`` asks peers for them with one ``sig_request`` frame
  ``{heights}``, answered by ``block_sigs`` ``{items: [[height, node, sig]]}``
  with every signature the peer stored; each is verified again on receipt.
- Stopping: signature writes run on the runtime's disk thread, and each
  one's completion is a callback on the loop that reads the ledger again.
  ``close()`` (the runtime's first step of ``stop()``, before the disk thread
  drains and the stores close) makes every later call and every callback
  still queued a no-op, so nothing touches a closed store; what the disk
  thread already holds is still written (a signature lost here comes back
  through anti-entropy or ``resign_missing`` on the next start).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from ledger.blocks import Block, block_signing_message
from ledger.errors import MinutebookError, NotFound
from ledger.keys import BLOCK_DOMAIN, sign

from node import batch

__all__ = ["Certifier"]

log = logging.getLogger("minutebook.certifier")

Resolver = Callable[[int], None]


class Certifier:
    """See the module docstring. `broadcast(frame)` sends to every peer; `send(peer, frame)` to one."""

    def __init__(self, node_id: str, seed: bytes, ledger: Any, metrics: Any,
                 broadcast: Callable[[dict], None], send: Callable[[str, dict], Any], *,
                 early_window: int = 4096, max_early: int = 65536, max_incomplete: int = 4096,
                 executor: Any = None, on_write_error: Callable[[OSError], None] | None = None) -> None:
        self.node_id = node_id
        self.seed = seed
        self.ledger = ledger
        self.metrics = metrics
        self.broadcast = broadcast
        self.send = send
        self.early_window = early_window
        self.max_early = max_early
        self.max_incomplete = max_incomplete
        self.early: dict[int, dict[str, tuple[str, bytes]]] = {}  # height -> signer -> (block_hash hex, sig)
        self._early_count = 0
        self.waiters: dict[int, list[tuple[str, asyncio.Future]]] = {}
        self.incomplete: set[int] = set()
        self.executor = executor  # the runtime's disk thread: signature writes are fsynced there, in order
        self.closed = False  # set by close(): from then on nothing reads or writes the ledger
        self.on_write_error = on_write_error  # a signature write the disk refused (the runtime stops)
        self._loop: asyncio.AbstractEventLoop | None = None

    def close(self) -> None:
        """Stop touching the ledger: later frames and queued completions do nothing (module doc)."""
        self.closed = True

    # ------------------------------------------------------------ signing

    def on_applied(self, block: Block) -> None:
        if self.closed:
            return
        height = block.header.height
        block_hash = block.header.hash
        voters = self.ledger.voters_at(height)
        if self.node_id in voters:
            sig = sign(self.seed, BLOCK_DOMAIN, block_signing_message(block_hash))
            self.broadcast({"kind": "block_sig", "height": height, "block_hash": block_hash.hex(), "sig": sig})
            self._store(height, self.node_id, None, sig)
        for signer, (hash_hex, sig) in sorted(self.early.pop(height, {}).items()):
            self._early_count -= 1
            self._store(height, signer, hash_hex, sig)
        self._after_store(height)

    def resign_missing(self, heights: range) -> None:
        """Sign blocks this voter applied but whose own signature is missing (a crash between apply and sign)."""
        for height in heights:
            try:
                voters = self.ledger.voters_at(height)
                if self.node_id in voters and self.node_id not in {s.node for s in self.ledger.certificate(height)}:
                    sig = sign(self.seed, BLOCK_DOMAIN, block_signing_message(self.ledger.header(height).hash))
                    self.ledger.add_block_signature(height, self.node_id, sig)
                self._track(height, voters)
            except NotFound:
                return

    # ------------------------------------------------------------ receiving

    def on_block_sig(self, peer: str, frame: dict) -> None:
        if self.closed:
            return
        height, hash_hex, sig = frame.get("height"), frame.get("block_hash"), frame.get("sig")
        if type(height) is not int or height < 1 or not isinstance(hash_hex, str) or not isinstance(sig, bytes):
            self.metrics.bad_frames_total.labels("block_sig").inc()
            return
        if height > self.ledger.height:
            if height > self.ledger.height + self.early_window or self._early_count >= self.max_early:
                return  # anti-entropy fetches it later
            slot = self.early.setdefault(height, {})
            if peer not in slot:
                self._early_count += 1
            slot[peer] = (hash_hex, sig)
            return
        self._store(height, peer, hash_hex, sig)

    def _store(self, height: int, signer: str, hash_hex: str | None, sig: bytes) -> None:
        """Verify and store one signature (on the disk thread if there is one), then re-check `height`."""
        if self.closed:
            return
        if self.executor is None:
            self._store_now(height, signer, hash_hex, sig)
            self._after_store(height)
            return
        self._loop = asyncio.get_running_loop()
        future = self._loop.run_in_executor(self.executor, self._store_now, height, signer, hash_hex, sig)
        future.add_done_callback(lambda f: self._after_store(height) if not f.cancelled() else None)

    def _after_store(self, height: int) -> None:
        if self.closed:  # a completion queued on the loop while the node stopped
            return
        try:
            self._check(height)
            self._track(height, self.ledger.voters_at(height))
        except MinutebookError:
            pass

    def _store_now(self, height: int, signer: str, hash_hex: str | None, sig: bytes) -> bool:
        try:
            ours = self.ledger.header(height).block_hash
            if hash_hex is not None and hash_hex != ours:
                log.error("DIVERGENCE: %s signed block %d as %s, ours is %s", signer, height, hash_hex, ours)
                return False
            return self.ledger.add_block_signature(height, signer, sig)
        except MinutebookError:
            return False
        except OSError as exc:  # ledger.store.StoreWriteError: the disk is full
            if self.on_write_error is None:
                raise
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self.on_write_error, exc)
            else:
                self.on_write_error(exc)
            return False

    # ------------------------------------------------------------ waiters

    def release_waiters(self, error: Exception) -> None:
        """Answer every waiter with `error` now (the node is stopping)."""
        for waiters in self.waiters.values():
            for _, future in waiters:
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: a request that gave up waiting leaves no "never retrieved" log
        self.waiters.clear()

    def add_waiter(self, height: int, doc_id: str, future: asyncio.Future) -> None:
        self.waiters.setdefault(height, []).append((doc_id, future))
        self._check(height)

    def _check(self, height: int) -> None:
        if height not in self.waiters and height not in self.incomplete:
            return
        try:
            certified = self.ledger.is_certified(height)
        except MinutebookError:
            return
        if not certified:
            return
        waiting = [(doc_id, future) for doc_id, future in self.waiters.pop(height, []) if not future.done()]
        receipts = self.ledger.receipts_at(height, sorted({doc_id for doc_id, _ in waiting}))
        for doc_id, future in waiting:
            receipt = receipts[doc_id]
            if isinstance(receipt, MinutebookError):  # rejected on apply
                future.set_exception(receipt)
            else:
                future.set_result(batch.committed(doc_id, receipt))
        if height in self.incomplete:
            voters = self.ledger.voters_at(height)
            self._track(height, voters)

    def _track(self, height: int, voters: dict) -> None:
        signed = {s.node for s in self.ledger.certificate(height)}
        if set(voters) <= signed:
            self.incomplete.discard(height)
        elif len(self.incomplete) < self.max_incomplete or height in self.incomplete:
            self.incomplete.add(height)

    # ------------------------------------------------------------ anti-entropy

    def sync_request(self, limit: int = 256) -> dict | None:
        """The ``sig_request`` frame for the oldest incomplete heights, or None."""
        if not self.incomplete:
            return None
        return {"kind": "sig_request", "heights": sorted(self.incomplete)[:limit]}

    def on_sig_request(self, peer: str, frame: dict) -> None:
        if self.closed:
            return
        heights = frame.get("heights")
        if not isinstance(heights, list):
            self.metrics.bad_frames_total.labels("sig_request").inc()
            return
        items = []
        for height in heights[:1024]:
            if type(height) is int and 1 <= height <= self.ledger.height:
                items.extend([height, s.node, s.sig] for s in self.ledger.certificate(height))
        if items:
            self.send(peer, {"kind": "block_sigs", "items": items})

    def on_block_sigs(self, peer: str, frame: dict) -> None:
        if self.closed:
            return
        items = frame.get("items")
        if not isinstance(items, list):
            self.metrics.bad_frames_total.labels("block_sigs").inc()
            return
        have: dict[int, set[str]] = {}
        for item in items[:65536]:
            if not (isinstance(item, list) and len(item) == 3):
                continue
            height, signer, sig = item
            if type(height) is not int or not isinstance(signer, str) or not isinstance(sig, bytes):
                continue
            if not 1 <= height <= self.ledger.height:
                continue
            if height not in have:
                have[height] = {s.node for s in self.ledger.certificate(height)}
            if signer not in have[height]:
                have[height].add(signer)
                self._store(height, signer, None, sig)
