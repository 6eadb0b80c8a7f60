"""The node runtime: one asyncio loop drives Raft, the ledger, the peer links and the API service.

Theory of operation
-------------------
``NodeRuntime`` is the ``NodeService`` of node/service.py. Everything runs on
one asyncio loop; the only other thread is ``_disk``, a single worker that
runs ``LevelDBLogStorage.save`` (the fsync Raft waits on) so the loop keeps
serving HTTP and reading frames meanwhile. Tasks:

- **ticker**: ``raft.tick()`` every ``raft.tick_ms``.
- **ready loop** (the only caller of ``ready``/``advance``), in the order
  STYLE.md draws and Raft Figure 2 demands::

      rd = raft.ready()
      save(rd.hard_state, rd.entries, rd.snapshot)   # ONE fsynced batch, on _disk
      transport.send(rd.messages)                    # only after the save returned
      apply(rd.committed_entries)                    # Ledger.apply_block, in order
      raft.advance(rd)

  Inputs (frames, ticks, proposals) only mutate the RawNode and wake the
  loop; they never send. A crash at any instant therefore loses nothing a
  peer or a client was told about.
- **producer**: on the leader, builds blocks from the pending pool
  (node/block_producer.py) once everything committed is applied, and
  reconciles Raft's membership with the registry (node/membership.py).
- **sync**: once a second, asks peers for missing block signatures
  (node/certifier.py) and refreshes gauges.
- **intake** (node/intake.py): a leader journals (fsync, group commit) each
  submission it admits before answering 202; what is still journaled is
  submitted again when the node starts or stops leading.
- **catch-up** (node/catchup.py): while a snapshot's height is above the
  ledger's, committed entries wait in ``_apply_queue`` and blocks are
  fetched from peers instead.

Applying entry i: a CONF_CHANGE goes to ``raft.apply_conf_change``, and the
new ConfState is made durable by a local Raft snapshot at i (so a restart
reads the current membership from ``initial_state``); an empty NORMAL entry is
the leader's no-op; any other is a ``BlockProposal``. A proposal that does not
extend the head (``Ledger.is_next``) is a stale proposal of a deposed leader:
a no-op on every node, counted. Otherwise ``apply_block(proposal,
raft_index=i)`` writes the block and i in one batch. On restart
``Config.applied`` is the larger of the ledger's stored Raft index and the
snapshot index, so no block is applied twice.

Bad input never crashes the node: every frame handler is guarded, and what a
peer sends is checked before use. A broken invariant (CorruptionError,
RaftInvariantError) stops the node instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import os
import random
import time
from typing import Any, Callable

from consensus import ConfChange, Entry, EntryType, RawNode, Role, decode_message, encode_message
from consensus import Config as RaftConfig
from consensus.errors import ConsensusError
from ledger.blocks import Block, BlockProposal, BlockSignature, Header
from ledger.documents import Envelope
from ledger.errors import AlreadyCommitted, CorruptionError, InvalidInput, MinutebookError
from ledger.genesis import Genesis
from ledger.keys import read_key_file
from ledger.ledger import Ledger
from ledger.registry import Registry
from ledger.sealing import split_submission
from ledger.store import LevelDBStore

from node.block_producer import BlockProducer
from node.catchup import CatchUp, SnapshotTarget, parse_snapshot_data, snapshot_data
from node.certifier import Certifier
from node.config import NodeConfig
from node.errors import NodeError, NoLeader, SubmitTimeout
from node.forwarding import Forwarder, LeaderAnswered
from node.intake import IntakeJournal
from node.membership import desired_conf, next_change, peer_map
from node.metrics import Metrics
from node.raft_storage import LevelDBLogStorage
from node.transport import PeerTransport
from views import Views

__all__ = ["NodeRuntime"]

log = logging.getLogger("minutebook.runtime")


class NodeRuntime:
    """One node: see the module docstring. ``await start()``, serve, ``await stop()``."""

    def __init__(self, config: NodeConfig, *, rng_seed: int | None = None) -> None:
        self.config = config
        self.node_id = config.node_id
        key = read_key_file(config.key_file)
        if key.id != config.node_id:
            raise InvalidInput("key_file", f"key file is for {key.id!r}, not node {config.node_id!r}")
        self.seed = key.seed
        try:
            genesis = json.loads(config.genesis.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput("genesis", f"cannot read {config.genesis}: {exc}") from None
        try:
            parsed = Genesis.from_json(genesis)  # parsed once, here, so an error names the file
        except InvalidInput as exc:
            raise InvalidInput(f"{config.genesis}: {exc.field}", exc.rule) from None
        self.genesis = genesis
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = Metrics(self.node_id)
        # The read models are fed every block inside its own batch (views/projection.py); opening
        # replays into them whatever blocks they lack (a store made before views, or a new format).
        self.views = Views()
        self.ledger = Ledger(LevelDBStore(str(config.data_dir / "ledger")), parsed, observers=[self.views])
        self._nodes = Registry(self.ledger.store).nodes()
        self.log_storage = LevelDBLogStorage(str(config.data_dir / "raft"), desired_conf(self._nodes))
        hard_state, _ = self.log_storage.initial_state()
        snapshot = self.log_storage.snapshot()
        applied = max(self.ledger.raft_applied, snapshot.metadata.index)
        applied = min(applied, max(hard_state.commit, snapshot.metadata.index))
        # Invariant: _applied_index is the last Raft index whose effect is in the ledger / conf state.
        self._applied_index = applied
        self.raft = RawNode(RaftConfig(
            node_id=self.node_id, rng=random.Random(rng_seed if rng_seed is not None else os.urandom(8)),
            election_tick=config.raft.election_ticks, heartbeat_tick=config.raft.heartbeat_ticks,
            pre_vote=True, check_quorum=True, max_inflight=64,
            max_bytes_per_msg=config.blocks.max_bytes, applied=applied,
            max_committed_bytes_per_ready=max(64 << 20, 4 * config.blocks.max_bytes)), self.log_storage)
        self._config_peers = {p.node_id: p.peer_addr for p in config.peers}
        api_urls = {p.node_id: p.api_url for p in config.peers if p.api_url}
        self.forwarder = Forwarder(api_urls)
        self.transport: PeerTransport | None = None
        self.producer = BlockProducer(self.node_id, config.blocks, self._is_accepted)
        self.intake = IntakeJournal(str(config.data_dir / "intake"))
        self._disk = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"disk-{self.node_id}")
        self.certifier = Certifier(self.node_id, self.seed, self.ledger, self.metrics, self._broadcast, self._send,
                                   executor=self._disk)
        self.catchup = CatchUp(self.ledger, self.metrics, self._send, self._catchup_peers, self._apply_fetched)
        target = parse_snapshot_data(snapshot.data)
        if target is not None and target.height > self.ledger.height:
            self.catchup.target = target
        self._apply_queue: list[Entry] = []
        self._doc_waiters: dict[str, list[asyncio.Future]] = {}
        self._reads: dict[bytes, asyncio.Future] = {}
        self._read_states: list[tuple[int, bytes]] = []
        self._last_contact: dict[str, float] = {}
        self._leader: str | None = None
        self._role = Role.FOLLOWER
        self._wake_ready: asyncio.Event | None = None
        self._wake_producer: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._running = False
        self._failed: BaseException | None = None
        self._last_reconcile = 0.0
        self.stopped: asyncio.Event | None = None

    # ================================================================ lifecycle

    async def start(self) -> None:
        self._running = True
        self._wake_ready = asyncio.Event()
        self._wake_producer = asyncio.Event()
        self.stopped = asyncio.Event()
        self.transport = PeerTransport(
            self.node_id, self.seed, self.config.peer_listen,
            peer_map(self._nodes, self._config_peers, self.node_id), self._lookup, self._on_frame,
            max_frame_bytes=max(16 << 20, 3 * self.config.blocks.max_bytes + (1 << 20)))
        self.metrics.watch_transport(lambda: self.transport.stats if self.transport else None)
        await self.transport.start()
        self.certifier.resign_missing(range(max(1, self.ledger.height - 256), self.ledger.height + 1))
        self._update_gauges()
        for coro, name in ((self._ticker(), "ticker"), (self._ready_loop(), "ready"),
                           (self._producer_loop(), "producer"), (self._sync_loop(), "sync")):
            self._tasks.append(asyncio.get_running_loop().create_task(self._guard(coro, name), name=name))
        if self.catchup.target is not None:
            self._start_catchup()
        if len(self.intake):
            log.info("%d journaled submissions to submit again", len(self.intake))
            self._spawn(self._resubmit(self.intake.items()), "intake")
        self._wake_ready.set()

    async def _guard(self, coro, name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a broken invariant: stop the node rather than run on
            log.critical("task %s failed; stopping the node", name, exc_info=True)
            self._failed = exc
            if self.stopped is not None:
                self.stopped.set()

    async def stop(self) -> None:
        """Stop tasks, close links, flush and close both LevelDB stores."""
        if not self._running:
            return
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.transport is not None:
            await self.transport.stop()
        await self.forwarder.close()
        self._disk.shutdown(wait=True)
        for waiters in self._doc_waiters.values():
            for future in waiters:
                if not future.done():
                    future.cancel()
        self.log_storage.close()
        self.ledger.store.close()
        self.intake.close()
        if self.stopped is not None:
            self.stopped.set()

    # ================================================================ NodeService

    async def submit(self, envelope: bytes, *, wait: bool, timeout: float = 30.0) -> dict[str, Any]:
        if self._role is not Role.LEADER:
            return await self._submit_via_leader(envelope, wait=wait, timeout=timeout)
        checked = self.ledger.check_submission(envelope)  # typed errors; AlreadyCommitted with the receipt
        doc_id = checked.doc_id
        await self.intake.add(doc_id, envelope)  # durable before anyone hears "pending"
        if self._role is not Role.LEADER:  # deposed while journaling: the new leader takes it
            return await self.submit(envelope, wait=wait, timeout=timeout)
        self.producer.add(doc_id, envelope, time.monotonic())
        self.metrics.submissions_total.labels("admitted").inc()
        self._wake_producer.set()
        if not wait:
            return {"doc_id": doc_id, "status": "pending"}
        return await self._until_certified(doc_id, timeout)

    async def _submit_via_leader(self, envelope: bytes, *, wait: bool, timeout: float) -> dict[str, Any]:
        """A follower forwards to the leader. With `wait`, it forwards without waiting and waits
        here instead: this node applies the block and gathers its certificate itself, so the
        answer does not hang on the leader staying leader (or staying in the cluster) meanwhile."""
        leader = self._leader
        if leader is None or leader == self.node_id:
            self.metrics.submissions_total.labels("no_leader").inc()
            raise NoLeader(retry_after=1.0)
        self.metrics.submissions_total.labels("forwarded").inc()
        if not wait:
            return await self.forwarder.forward(leader, envelope, wait=False, timeout=timeout)
        # garbage gets its typed error here, as at the leader; a submission's envelope is inside it
        doc_id = Envelope.from_bytes(split_submission(envelope)[0]).doc_id
        return await self._until_certified(
            doc_id, timeout, first=lambda: self.forwarder.forward(leader, envelope, wait=False, timeout=timeout))

    async def _until_certified(self, doc_id: str, timeout: float,
                               first: Callable[[], Any] | None = None) -> dict[str, Any]:
        """Wait until the block holding `doc_id` is applied here and certified; return the receipt.
        The waiter is registered before `first` (the forward) runs, so no block slips past it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        future = loop.create_future()
        self._doc_waiters.setdefault(doc_id, []).append(future)
        try:
            if first is not None:
                await first()
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise SubmitTimeout(doc_id) from None
        finally:
            waiters = self._doc_waiters.get(doc_id)
            if waiters and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._doc_waiters[doc_id]

    def status(self) -> dict[str, Any]:
        st = self.raft.status()
        now = time.monotonic()
        peers = {}
        for node in self._nodes:
            peer = node["node_id"]
            if peer == self.node_id:
                continue
            seen = self._last_contact.get(peer)
            peers[peer] = {"match_index": st.progress.get(peer, (None,))[0],
                           "last_contact_ms": None if seen is None else int((now - seen) * 1000)}
        return {
            # role and leader as this runtime acts on them (set when Raft's soft state reaches the
            # Ready loop), so a client told "leader" here is not then refused with NoLeader
            "node_id": self.node_id, "role": self._role.value, "term": st.term, "leader": self._leader or "",
            "learner": self.node_id in st.conf_state.learners,
            "voters": list(st.conf_state.voters), "learners": list(st.conf_state.learners),
            "commit_index": st.commit, "applied_index": self._applied_index, "height": self.ledger.height,
            "catching_up": self.catchup.target is not None, "pending": len(self.producer.pool), "peers": peers,
        }

    async def read_barrier(self, timeout: float = 5.0) -> None:
        context = os.urandom(16)
        try:
            self.raft.read_index(context)
        except ConsensusError:
            raise NoLeader(retry_after=1.0) from None
        future = asyncio.get_running_loop().create_future()
        self._reads[context] = future
        self._wake_ready.set()
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise NoLeader(retry_after=1.0, message="no read index confirmed in time") from None
        finally:
            self._reads.pop(context, None)

    # ================================================================ Raft driving

    async def _ticker(self) -> None:
        interval = self.config.raft.tick_ms / 1000.0
        next_at = time.monotonic()
        while self._running:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() - next_at > 5 * interval:
                next_at = time.monotonic()  # we were starved; do not burst ticks (a burst would start elections)
            self.raft.tick()
            self._wake_ready.set()

    async def _ready_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running:
            await self._wake_ready.wait()
            self._wake_ready.clear()
            await self._drain_apply_queue()  # entries held back during a catch-up that has ended
            while self._running and self.raft.has_ready():
                rd = self.raft.ready()
                if rd.snapshot is not None or rd.entries or rd.hard_state is not None:
                    started = time.perf_counter()
                    await loop.run_in_executor(self._disk, self.log_storage.save, rd.hard_state, rd.entries,
                                               rd.snapshot)
                    self.metrics.fsync_seconds.labels("raft_save").observe(time.perf_counter() - started)
                if rd.snapshot is not None:
                    self._on_snapshot_installed(rd.snapshot)
                if rd.messages:  # only now: what they depend on is durable
                    live = {peer for peer, link in self.transport.connected_peers().items() if link["outbound"]}
                    for msg in rd.messages:
                        self._send_raft(msg, live)
                if rd.soft_state is not None:
                    self._on_soft_state(rd.soft_state.leader, rd.soft_state.role)
                self._apply_queue.extend(rd.committed_entries)
                await self._drain_apply_queue()
                self._read_states.extend((rs.index, rs.context) for rs in rd.read_states)
                self._serve_reads()
                self.raft.advance(rd)
                self._update_gauges()
                await asyncio.sleep(0)  # let frames and requests in between Readies

    def _send_raft(self, msg: Any, live: set[str]) -> None:
        """Send one Raft message; to a peer whose link is down, drop it and tell Raft (it probes again later).

        Queueing for a dead link would pile up to max_inflight appends of whole blocks per absent
        peer, and deliver stale ones hours later; Raft is built to tolerate the loss instead.
        """
        if msg.dst not in live:
            self.raft.report_unreachable(msg.dst)
            return
        try:
            ok = self.transport.send(msg.dst, {"kind": "raft", "payload": encode_message(msg)})
        except MinutebookError:
            log.exception("cannot send %s to %s", type(msg).__name__, msg.dst)
            ok = False
        if not ok:
            self.raft.report_unreachable(msg.dst)

    def _on_soft_state(self, leader: str | None, role: Role) -> None:
        was_leader = self._role is Role.LEADER
        if leader != self._leader and leader is not None:
            self.metrics.leader_changes_total.inc()
        self._leader, self._role = leader, role
        self.metrics.is_leader.set(1 if role is Role.LEADER else 0)
        if was_leader and role is not Role.LEADER:
            now = time.monotonic()
            self.producer.on_term_end(now)
            pooled = self.producer.take_pool()
            if pooled:
                self._spawn(self._resubmit(pooled), "hand-over")
        if role is Role.LEADER:
            log.info("%s leads term %d", self.node_id, self.raft.status().term)
            self._wake_producer.set()

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _resubmit(self, items: list[tuple[str, bytes]]) -> None:
        """Submit `items` (journaled, or pooled when we stopped leading) through the normal path
        until the ledger holds or refuses each: to our pool if we lead, else to the leader."""
        pending = list(items)
        delay = 0.2
        while pending and self._running:
            retry = []
            for doc_id, envelope in pending:
                if self._is_accepted(doc_id):
                    self.intake.remove([doc_id])
                    continue
                try:
                    await self.submit(envelope, wait=False)
                except AlreadyCommitted:
                    self.intake.remove([doc_id])
                except LeaderAnswered as exc:
                    if exc.http_status >= 500:
                        retry.append((doc_id, envelope))
                        continue
                    if exc.http_status != 409:  # 409: already committed, which is what we wanted
                        log.warning("journaled %s refused by leader %s: %s", doc_id, exc.leader, exc)
                    self.intake.remove([doc_id])
                except NodeError:  # no leader yet, leader unreachable, timed out: later
                    retry.append((doc_id, envelope))
                except MinutebookError as exc:  # the registry moved on; it can never be admitted now
                    log.warning("journaled %s can no longer be admitted: %s", doc_id, exc)
                    self.intake.remove([doc_id])
            pending = retry
            if pending:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ================================================================ applying

    async def _drain_apply_queue(self) -> None:
        queue = self._apply_queue
        done = 0
        for entry in list(queue):
            if self.catchup.active:
                break
            await self._apply_entry(entry)
            done += 1
        del queue[:done]
        if done:
            self._serve_reads()
            self._maybe_compact()
            self._wake_producer.set()

    async def _apply_entry(self, entry: Entry) -> None:
        index = entry.index
        if index <= self._applied_index:
            return  # applied before a restart (or covered by a snapshot)
        if entry.type is EntryType.CONF_CHANGE:
            cc = ConfChange.from_bytes(entry.data)
            conf = self.raft.apply_conf_change(cc)
            log.info("%s applied conf change %s %s -> %s", self.node_id, cc.type.name, cc.node_id, conf)
            if index > self.log_storage.snapshot().metadata.index:  # make the new ConfState durable
                self.log_storage.create_snapshot(index, conf, self._snapshot_data(index))
            self.ledger.note_raft_applied(index)
        elif entry.data:
            try:
                proposal = BlockProposal.from_bytes(entry.data)
            except MinutebookError as exc:  # the same bytes on every node: the same no-op everywhere
                log.error("entry %d is not a block proposal (%s); skipped", index, exc)
                proposal = None
            if proposal is not None and self.ledger.is_next(proposal):
                started = time.perf_counter()
                # On the disk thread: validation (pynacl) and the fsync release the GIL; the loop serves meanwhile.
                block = await asyncio.get_running_loop().run_in_executor(
                    self._disk, functools.partial(self.ledger.apply_block, proposal, raft_index=index))
                self.metrics.fsync_seconds.labels("ledger_block").observe(time.perf_counter() - started)
                self._after_block(block)
            elif proposal is not None:
                self.metrics.stale_proposals_total.inc()
                log.info("stale proposal at raft index %d (height %d by %s, term %d); no-op", index,
                         proposal.height, proposal.proposer, proposal.term)
                flight = self.producer.in_flight
                if flight is not None and proposal.proposer == self.node_id and proposal.height == flight.height \
                        and proposal.term == flight.term:
                    self.producer.on_stale(time.monotonic())
        self._applied_index = index

    def _apply_fetched(self, proposal: BlockProposal, certificate: list[BlockSignature],
                       vouch: Callable[[Header], None]) -> None:
        """Catch-up: apply a block fetched from a peer if `vouch` (catchup.py's certificate
        check) accepts the header it makes, and store its certificate."""
        block = self.ledger.apply_block(proposal, vouch=vouch)
        for signature in certificate:
            try:
                self.ledger.add_block_signature(block.header.height, signature.node, signature.sig)
            except MinutebookError:
                pass
        self._after_block(block)

    def _after_block(self, block: Block) -> None:
        height = block.header.height
        self.metrics.blocks_applied_total.inc()
        doc_ids = []
        for status in block.documents:
            self.metrics.documents_total.labels(status.status).inc()
            doc_ids.append(status.doc_id)
            for future in self._doc_waiters.pop(status.doc_id, []) if status.doc_id else []:
                self.certifier.add_waiter(height, status.doc_id, future)
        self.producer.on_block_applied(height, doc_ids, time.monotonic())
        self.intake.remove(doc_ids)
        self.certifier.on_applied(block)
        nodes = Registry(self.ledger.store).nodes()
        if nodes != self._nodes:
            self._nodes = nodes
            if self.transport is not None:
                self.transport.update_peers(peer_map(nodes, self._config_peers, self.node_id))
            self._wake_producer.set()

    def _snapshot_data(self, raft_index: int) -> bytes:
        return snapshot_data(self.ledger.height, self.ledger.head_hash, raft_index)

    def _maybe_compact(self) -> None:
        every = self.config.raft.snapshot_every
        applied = self._applied_index
        snap_index = self.log_storage.snapshot().metadata.index
        if applied - snap_index < every or self.catchup.target is not None:
            return
        conf = self.raft.status().conf_state
        self.log_storage.create_snapshot(applied, conf, self._snapshot_data(applied))
        keep = min(1000, every // 4)
        upto = applied - keep
        if upto > self.log_storage.first_index() - 1:
            self.log_storage.compact(upto)
        log.info("%s: snapshot at raft index %d (height %d), log compacted to %d", self.node_id, applied,
                 self.ledger.height, upto)

    def _on_snapshot_installed(self, snapshot: Any) -> None:
        index = snapshot.metadata.index
        target = parse_snapshot_data(snapshot.data)
        log.info("%s installed a snapshot at raft index %d: %s", self.node_id, index, target)
        self._applied_index = max(self._applied_index, index)
        self._apply_queue = [e for e in self._apply_queue if e.index > index]
        if target is not None and target.height > self.ledger.height:
            self.catchup.target = target
            self._start_catchup()
        else:
            self.ledger.note_raft_applied(index)

    def _start_catchup(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(
            self._guard(self.catchup.run(self._catchup_done), "catchup"), name="catchup"))

    def _catchup_done(self, target: SnapshotTarget) -> None:
        if self.ledger.head_hash != target.block_hash:
            raise CorruptionError(f"caught up to height {target.height} but its hash differs from the snapshot's")
        self.ledger.note_raft_applied(max(target.raft_index, self.ledger.raft_applied))
        self._applied_index = max(self._applied_index, target.raft_index)
        self._wake_ready.set()  # the ready loop applies the entries held back

    def _catchup_peers(self) -> list[str]:
        connected = set(self.transport.connected_peers()) if self.transport else set()
        peers = sorted(p for p in connected if p != self.node_id)
        if self._leader in peers:
            peers.remove(self._leader)
            peers.insert(0, self._leader)
        return peers

    def _serve_reads(self) -> None:
        keep = []
        for index, context in self._read_states:
            future = self._reads.get(context)
            if future is None or future.done():
                continue
            if self._applied_index >= index:
                future.set_result(None)
            else:
                keep.append((index, context))
        self._read_states = keep

    # ================================================================ producing

    def _is_accepted(self, doc_id: str) -> bool:
        try:
            return self.ledger.document(doc_id).get("status") == "accepted"
        except MinutebookError:
            return False

    def _can_propose(self) -> bool:
        if self._role is not Role.LEADER or self.catchup.target is not None:
            return False
        st = self.raft.status()
        if self._applied_index < st.commit:
            return False
        try:
            return self.log_storage.term(st.commit) == st.term  # our term-start no-op is committed
        except ConsensusError:
            return False

    async def _producer_loop(self) -> None:
        while self._running:
            deadline = self.producer.deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self._wake_producer.wait(), timeout if timeout is not None else 0.5)
            except asyncio.TimeoutError:
                pass
            self._wake_producer.clear()
            flight = self.producer.in_flight
            if flight is not None and (self._role is not Role.LEADER or flight.term != self.raft.status().term):
                self.producer.on_term_end(time.monotonic())
            if not self._can_propose():
                continue
            self._reconcile_membership()
            now = time.monotonic()
            if not self.producer.due(now):
                continue
            head = self.ledger.head()
            proposal = self.producer.build(height=self.ledger.height + 1, prev_hash=self.ledger.head_hash,
                                           now_ms=int(time.time() * 1000),
                                           head_timestamp=head.timestamp if head else 0,
                                           term=self.raft.status().term)
            if proposal is None:
                continue
            try:
                self.raft.propose(proposal.to_bytes())
            except ConsensusError as exc:
                log.info("proposal of height %d dropped: %s", proposal.height, exc)
                self.producer.on_term_end(time.monotonic())
                continue
            self.metrics.pending_documents.set(len(self.producer.pool))
            self._wake_ready.set()

    def _reconcile_membership(self) -> None:
        now = time.monotonic()
        if now - self._last_reconcile < 0.2:
            return
        self._last_reconcile = now
        change = next_change(self.raft.status().conf_state, self._nodes)
        if change is None:
            return
        try:
            self.raft.propose_conf_change(change)
        except (ConsensusError, ValueError) as exc:
            log.debug("conf change %s not proposed: %s", change, exc)
            return
        log.info("%s proposed conf change %s %s", self.node_id, change.type.name, change.node_id)
        self._wake_ready.set()

    # ================================================================ peers

    def _lookup(self) -> dict[str, bytes]:
        return {n["node_id"]: n["public_key"] for n in self._nodes}

    def _send(self, peer: str, frame: dict) -> None:
        if self.transport is not None:
            try:
                self.transport.send(peer, frame)
            except MinutebookError:
                log.exception("cannot send a %r frame to %s", frame.get("kind"), peer)

    def _broadcast(self, frame: dict) -> None:
        if self.transport is not None:
            self.transport.broadcast(frame)

    def _on_frame(self, peer: str, frame: dict) -> None:
        """Every frame from an authenticated peer; bad content is dropped and counted, never raised."""
        self._last_contact[peer] = time.monotonic()
        kind = frame.get("kind")
        try:
            if kind == "raft":
                payload = frame.get("payload")
                msg = decode_message(payload)
                if msg is None or msg.src != peer or msg.dst != self.node_id:
                    self.metrics.bad_frames_total.labels("raft").inc()
                    return
                self.raft.step(msg)
                self._wake_ready.set()
            elif kind == "block_sig":
                self.certifier.on_block_sig(peer, frame)
            elif kind == "sig_request":
                self.certifier.on_sig_request(peer, frame)
            elif kind == "block_sigs":
                self.certifier.on_block_sigs(peer, frame)
            elif kind == "fetch_blocks":
                self.catchup.on_fetch_blocks(peer, frame)
            elif kind == "blocks":
                self.catchup.on_blocks(peer, frame)
            else:
                self.metrics.bad_frames_total.labels("unknown").inc()
        except (ConsensusError, MinutebookError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CorruptionError):
                raise
            self.metrics.bad_frames_total.labels(str(kind)[:32]).inc()
            log.warning("dropped a %r frame from %s: %r", kind, peer, exc)

    async def _sync_loop(self) -> None:
        while self._running:
            await asyncio.sleep(1.0)
            request = self.certifier.sync_request()
            if request is not None:
                self._broadcast(request)
            self._update_gauges()

    def _update_gauges(self) -> None:
        st = self.raft.status()
        m = self.metrics
        m.raft_term.set(st.term)
        m.raft_commit_index.set(st.commit)
        m.raft_applied_index.set(self._applied_index)
        m.applied_height.set(self.ledger.height)
        m.pending_documents.set(len(self.producer.pool))
