"""Catch-up: far-behind nodes and new learners fetch blocks from peers; Raft snapshots.

Theory of operation
-------------------
The Raft log is compacted every ``raft.snapshot_every`` applied entries, so a
node that was away long enough (or a learner that just joined) cannot be sent
the entries it lacks. The leader sends it a Raft snapshot instead (§7), whose
data is only ``canonical({height, block_hash, raft_index})``: the ledger is
far too big to ship through Raft, and every block in it is already certified
by the voters, so the node can fetch the blocks from *any* peer and trust
them as much as the voters.

When a snapshot is installed (or found on restart) above the ledger's height,
the runtime sets a *target* and stops applying Raft entries: the entries after
the snapshot build on blocks this node does not have yet. This module then
asks peers for blocks with ``fetch_blocks {from_height, limit}`` frames and
applies what comes back (``blocks {items: [{proposal, certificate}]}``), one
block at a time, each only if

1. it extends our head (height + 1 and prev_hash),
2. the header it produces -- tx_root over all its envelopes, log_size and
   log_root of our document log with its *accepted* envelopes appended, which
   takes the registry checks -- hashes to a block hash that a strict majority
   of the voters at that height signed (``check_certificate``), or, for the
   target height only, equals the snapshot's block_hash, which the Raft leader
   vouched for. The block is validated once: ``Ledger.apply_block(proposal,
   vouch=...)`` stages it, hands the header to that check, and writes nothing
   if the check refuses.

Fast path: a reply's item also carries the serving peer's ``header`` for the
block. When a strict majority of the voters signed that header, the block is
applied with ``Ledger.apply_block(certified=(header, certificate))``: the
envelopes' signatures are not verified again (the voters did, before they
signed) and the block must make exactly that header, else nothing is written
(why that is safe: ledger.py's apply_block). The registry rules still run;
they build this node's state. An item without a header (an older peer) takes
the path above.

The next request goes out as soon as a reply arrives, before its blocks are
applied on the runtime's disk thread, so the network and the disk overlap and
the event loop stays free for Raft meanwhile.

Then its certificate is stored (with the block, on the fast path) and this
node signs it too (the certifier).
At the target the runtime checks that the head is the snapshot's block, the
ledger records the snapshot's Raft index as applied, and only then does the
runtime resume applying Raft entries (``active`` holds them until that check,
not merely until the ledger's height reaches the target's). A peer that answers nothing within
``request_timeout`` or sends a block that fails a check is skipped for the
next request (round robin over peers, the leader first).

Serving: ``on_fetch_blocks`` answers with consecutive blocks from
``from_height``, at most ``limit`` and ``max_reply_bytes`` of proposals (at
least one block).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from ledger.blocks import BlockProposal, BlockSignature, Header, check_certificate
from ledger.encoding import canonical, decode_canonical
from ledger.errors import InvalidInput, MinutebookError

__all__ = ["CatchUp", "SnapshotTarget", "snapshot_data", "parse_snapshot_data"]

log = logging.getLogger("minutebook.catchup")


class SnapshotTarget:
    __slots__ = ("height", "block_hash", "raft_index")

    def __init__(self, height: int, block_hash: bytes, raft_index: int) -> None:
        self.height, self.block_hash, self.raft_index = height, block_hash, raft_index

    def __repr__(self) -> str:
        return f"SnapshotTarget(height={self.height}, raft_index={self.raft_index})"


def snapshot_data(height: int, block_hash: bytes, raft_index: int) -> bytes:
    """The Raft snapshot's data: ``canonical({height, block_hash, raft_index})``."""
    return canonical({"height": height, "block_hash": block_hash, "raft_index": raft_index})


def parse_snapshot_data(data: bytes) -> SnapshotTarget | None:
    """The target in a snapshot's data; None for an empty or unreadable one."""
    if not data:
        return None
    try:
        obj = decode_canonical(data)
    except MinutebookError:
        return None
    if not isinstance(obj, dict):
        return None
    height, block_hash, raft_index = obj.get("height"), obj.get("block_hash"), obj.get("raft_index")
    if type(height) is not int or type(raft_index) is not int or not isinstance(block_hash, bytes):
        return None
    return SnapshotTarget(height, block_hash, raft_index)


class CatchUp:
    """Fetch-and-apply of blocks up to a snapshot target; serving fetches to peers."""

    def __init__(self, ledger: Any, metrics: Any, send: Callable[[str, dict], Any],
                 peers: Callable[[], list[str]], apply_fetched: Callable[..., None], *,
                 batch: int = 64, request_timeout: float = 5.0, max_reply_bytes: int = 8 << 20,
                 executor: Any = None) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self.send = send
        self.peers = peers
        self.apply_fetched = apply_fetched
        self.batch = batch
        self.request_timeout = request_timeout
        self.max_reply_bytes = max_reply_bytes
        self.executor = executor  # where blocks are applied (the runtime's disk thread); None: inline
        self.target: SnapshotTarget | None = None
        self._reply: asyncio.Queue = asyncio.Queue()
        self._skip: set[str] = set()
        self.fetched = 0

    @property
    def active(self) -> bool:
        """A catch-up is under way: from setting the target until `run` has handed it to
        `on_done`, which checks the head against it. Committed Raft entries wait all that time,
        also once the ledger has reached the target's height on the disk thread: until that
        check, the head must be the target's block (an entry applied in between made the next
        block the head, and the check then stopped a correct node)."""
        return self.target is not None

    # ------------------------------------------------------------- fetching

    async def run(self, on_done: Callable[[SnapshotTarget], None]) -> None:
        """Fetch until the ledger reaches the target; then `on_done(target)`.

        The next request goes out as soon as a reply is in, before its blocks are applied (on
        `executor`, the runtime's disk thread), so fetching and applying overlap."""
        started = time.monotonic()
        turn = 0
        ahead: tuple[str, int] | None = None  # (peer, from_height) of a request already sent
        while self.target is not None and self.ledger.height < self.target.height:
            from_height = self.ledger.height + 1
            if ahead is not None and ahead[1] == from_height:
                peer = ahead[0]
            else:
                peers = self.peers()
                candidates = [p for p in peers if p not in self._skip]
                if not candidates:
                    self._skip.clear()
                    candidates = peers
                if not candidates:
                    await asyncio.sleep(0.2)
                    continue
                peer = candidates[turn % len(candidates)]
                turn += 1
                while not self._reply.empty():
                    self._reply.get_nowait()
                self.send(peer, {"kind": "fetch_blocks", "from_height": from_height, "limit": self.batch})
            ahead = None
            try:
                sender, frame = await asyncio.wait_for(self._reply.get(), self.request_timeout)
            except asyncio.TimeoutError:
                self._skip.add(peer)
                continue
            items = frame.get("items")
            if frame.get("from_height") != from_height or not isinstance(items, list) or not items:
                self._skip.add(sender)
                await asyncio.sleep(0.05)
                continue
            following = from_height + len(items)
            if following <= self.target.height:  # ask for the next blocks while applying these
                self.send(sender, {"kind": "fetch_blocks", "from_height": following, "limit": self.batch})
                ahead = (sender, following)
            if self.executor is None:
                applied = self._apply_reply(sender, frame)
            else:
                applied = await asyncio.get_running_loop().run_in_executor(self.executor, self._apply_reply, sender,
                                                                           frame)
            if not applied:
                self._skip.add(sender)
                ahead = None
                await asyncio.sleep(0.05)
        target = self.target
        if target is not None:
            log.info("caught up to height %d (raft index %d) in %.1fs, %d blocks fetched", target.height,
                     target.raft_index, time.monotonic() - started, self.fetched)
            self.target = None
            on_done(target)

    def on_blocks(self, peer: str, frame: dict) -> None:
        if self.target is None:
            return
        self._reply.put_nowait((peer, frame))

    def _apply_reply(self, peer: str, frame: dict) -> bool:
        """Apply the blocks of one reply in order; False if the peer gave nothing usable or something bad."""
        items = frame.get("items")
        if not isinstance(items, list) or not items:
            return False
        applied = 0
        for item in items:
            target = self.target
            if target is None or self.ledger.height >= target.height:
                break
            try:
                proposal = BlockProposal.from_bytes(item["proposal"])
                certificate = [BlockSignature(node=n, sig=s) for n, s in item.get("certificate", [])]
                header = Header.from_bytes(item["header"]) if "header" in item else None
            except (MinutebookError, KeyError, TypeError, ValueError):
                self.metrics.bad_frames_total.labels("blocks").inc()
                return applied > 0
            if not self.ledger.is_next(proposal):
                return applied > 0
            voters = self.ledger.voters_at(proposal.height)

            def vouch(made: Header) -> None:  # called at once, inside this iteration
                if made.height == target.height and made.hash == target.block_hash:
                    return
                check_certificate(made.hash, certificate, voters)

            ways: list = [None]
            if header is not None and (header.height != target.height or header.hash != target.block_hash):
                # the fast path first (apply_block checks the certificate); if the block does not make
                # that header with signatures trusted (a document refused for a bad signature does
                # that), the full path decides
                ways.insert(0, (header, certificate))
            for certified in ways:
                try:
                    self.apply_fetched(proposal, certificate, vouch, certified)
                    break
                except InvalidInput as exc:
                    if certified is None or exc.field != "header":
                        log.info("block %d from %s not accepted yet: %s", proposal.height, peer, exc)
                        return applied > 0
                except MinutebookError as exc:
                    log.info("block %d from %s not accepted yet: %s", proposal.height, peer, exc)
                    return applied > 0
            self.fetched += 1
            self.metrics.catchup_blocks_total.inc()
            applied += 1
        return applied > 0

    # ------------------------------------------------------------- serving

    def on_fetch_blocks(self, peer: str, frame: dict) -> None:
        from_height, limit = frame.get("from_height"), frame.get("limit")
        if type(from_height) is not int or type(limit) is not int or from_height < 1 or limit < 1:
            self.metrics.bad_frames_total.labels("fetch_blocks").inc()
            return
        items = []
        size = 0
        height = from_height
        while height <= min(self.ledger.height, from_height + min(limit, 1024) - 1):
            data = self.ledger.proposal(height).to_bytes()
            if items and size + len(data) > self.max_reply_bytes:
                break
            certificate = [[s.node, s.sig] for s in self.ledger.certificate(height)]
            items.append({"proposal": data, "certificate": certificate,
                          "header": self.ledger.header(height).canonical})
            size += len(data)
            height += 1
        self.send(peer, {"kind": "blocks", "from_height": from_height, "height": self.ledger.height, "items": items})
