"""The node runtime: one asyncio loop drives Raft, the ledger, the peer links and the API service.

Theory of operation
-------------------
``NodeRuntime`` is the ``NodeService`` of node/service.py. Everything runs on
one asyncio loop except four single-thread workers: ``_raft_disk`` runs
``LevelDBLogStorage.save`` (the fsync Raft waits on) and log compaction, in
order; ``_disk`` runs ``Ledger.apply_block`` and signature writes, in order;
the admission and intake workers are below. So the loop keeps serving HTTP
and reading frames during fsyncs and block applies. Tasks:

- **ticker**: ``raft.tick()`` every ``raft.tick_ms``.
- **ready loop** (the only caller of ``ready``/``advance``), in the order
  STYLE.md draws and Raft Figure 2 demands::

      rd = raft.ready()
      save(rd.hard_state, rd.entries, rd.snapshot)   # ONE fsynced batch, on _raft_disk
      transport.send(rd.messages)                    # only after the save returned
      apply(rd.committed_entries)                    # handed to the applier, in order
      raft.advance(rd)

  Inputs (frames, ticks, proposals) only mutate the RawNode and wake the
  loop; they never send. A crash at any instant therefore loses nothing a
  peer or a client was told about.
- **applier**: applies committed entries in order (``Ledger.apply_block`` on
  ``_disk``), apart from the ready loop, as etcd's raft allows: applying a
  500-document block takes tens of milliseconds of CPU, seconds on a
  saturated machine, and a ready loop that waited for it sent no heartbeats
  meanwhile -- followers then elected a new leader under load. The ready loop
  waits for the applier only before advancing past a conf change (Raft must
  see it applied) and before installing a snapshot. What the runtime acts on
  (``_applied_index``: proposing, reads, compaction, restart) is what the
  applier has applied, never what Raft has handed out.
- **producer**: on the leader, builds blocks from the pending pool
  (node/block_producer.py) once everything committed is applied, and
  reconciles Raft's membership with the registry (node/membership.py).
- **sync**: once a second, asks peers for missing block signatures
  (node/certifier.py) and refreshes gauges.
- **trail**: after each block, feeds the trailing views (the near-duplicate
  index: views/projection.py "Trailing views") on ``_trail_disk``, a thread of
  their own, in batches of at most :data:`TRAIL_CHUNK` documents, each written
  with the trail's height: they never lengthen an apply or hold the loop, and
  a restart goes on from their height.
- **admission** (node/admission.py): a leader checks submissions on a worker
  thread, grouped, so checks never hold the loop;
- **intake** (node/intake.py): a leader journals (fsync, group commit) each
  submission it admits before answering 202; what is still journaled is
  submitted again when the node starts or stops leading.
- **checkpoints**: every voter signs each block's C2SP checkpoint beside its
  block signature (node/certifier.py, ledger/checkpoint.py); with
  ``[[witnessed_by]]`` a pusher task sends the latest signed one to the
  witnesses and keeps their cosignatures (node/checkpoint_pusher.py); with
  ``[witness]`` the node cosigns other ledgers' checkpoints (node/witness.py,
  its own LevelDB under ``data_dir/witness``). A write either refuses
  (``StoreWriteError``) stops the node like any other: the witness answers
  that request 503 first, and its state stays the last one written.
- **clock** (node/clock.py): frames carry our wall time and peers' stamps
  feed ``clock_watch``; the producer proposes only while our clock agrees
  with a majority of the voters, and a leader whose clock is off hands over.
- **catch-up** (node/catchup.py): once a snapshot's height is above the
  ledger's, blocks are fetched from peers instead, and committed entries
  wait in ``_apply_queue`` until the catch-up has reached that height *and*
  ``_catchup_done`` has checked the head against the snapshot's hash
  (``CatchUp.active``).

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
from ledger.checkpoint import CheckpointLog
from ledger.documents import Envelope, salvage_doc_id
from ledger.errors import AlreadyCommitted, CorruptionError, InvalidInput, MinutebookError
from ledger.genesis import Genesis
from ledger.keys import read_key_file
from ledger.ledger import Ledger
from ledger.registry import Registry
from ledger.sealing import envelope_of, split_submission
from ledger.store import LevelDBStore, StoreWriteError

from node import batch
from node.admission import Admission
from node.block_producer import BlockProducer
from node.catchup import CatchUp, SnapshotTarget, parse_snapshot_data, snapshot_data
from node.certifier import Certifier
from node.checkpoint_pusher import CheckpointPusher
from node.clock import Clock, ClockWatch
from node.config import NodeConfig
from node.errors import NodeError, NoLeader, Overloaded, SubmitTimeout
from node.forwarding import Forwarder, LeaderAnswered, frame_error
from node.intake import IntakeJournal
from node.membership import desired_conf, next_change, peer_map
from node.metrics import Metrics
from node.raft_storage import LevelDBLogStorage
from node.transport import PeerTransport
from node.witness import Witness
from views import Views

__all__ = ["NodeRuntime"]

log = logging.getLogger("minutebook.runtime")
TRAIL_CHUNK = 2_000  # documents per batch of the trailing views (a stop waits for at most one)


def _doc_id_of(item: Any) -> str | None:
    """The document id inside submitted bytes (an envelope or a submission), if they hold one."""
    return salvage_doc_id(envelope_of(item)) if isinstance(item, bytes) else None


class NodeRuntime:
    """One node: see the module docstring. ``await start()``, serve, ``await stop()``."""

    def __init__(self, config: NodeConfig, *, rng_seed: int | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()  # wall time for block timestamps and admission (node/clock.py)
        self.clock_watch = ClockWatch()
        self._clock_verdict = "agreed"
        self._last_handover = 0.0
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
        # The trailing views are fed by the trail task instead (defer).
        self.views = Views(defer=True)
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
        self.forwarder = Forwarder(self._send_link, max_documents=config.max_batch_documents,
                                   max_bytes=config.max_batch_bytes)
        self.transport: PeerTransport | None = None
        self.producer = BlockProducer(self.node_id, config.blocks, self._is_accepted)
        self.intake = IntakeJournal(str(config.data_dir / "intake"))
        self.admission = Admission(self._check_submission, thread_name=f"admission-{self.node_id}")
        self._disk = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"disk-{self.node_id}")
        self._raft_disk = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                                thread_name_prefix=f"raft-disk-{self.node_id}")
        self.checkpoints = CheckpointLog(self.ledger)
        self._trail_disk = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                                 thread_name_prefix=f"trail-{self.node_id}")
        self.certifier = Certifier(self.node_id, self.seed, self.ledger, self.metrics, self._broadcast, self._send,
                                   executor=self._disk, checkpoints=self.checkpoints,
                                   on_write_error=self._disk_failed)
        self.witness = self._open_witness(config, key.public_key)
        self.pusher = CheckpointPusher(self.checkpoints, config.witnessed_by,
                                       interval=config.checkpoints.push_interval_ms / 1000.0,
                                       run_disk=self._run_disk) if config.witnessed_by else None
        self.catchup = CatchUp(self.ledger, self.metrics, self._send, self._catchup_peers, self._apply_fetched,
                               executor=self._disk, checkpoints=self.checkpoints)
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
        self._wake_apply: asyncio.Event | None = None
        self._wake_trail: asyncio.Event | None = None
        self._apply_lock: asyncio.Lock | None = None  # one drain of _apply_queue at a time
        self._leader_event: asyncio.Event | None = None  # set (and replaced) when the leader changes
        self._event_leader: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._running = False
        self._stopping = False  # begin_stop() was called: submissions and waits answer 503
        self._failed: BaseException | None = None
        self._last_reconcile = 0.0
        self._admitting = 0  # submissions checked and being journaled right now (counted against the bound)
        self.stopped: asyncio.Event | None = None

    def _open_witness(self, config: NodeConfig, node_key: bytes) -> Witness | None:
        if config.witness is None:
            return None
        cosigner = read_key_file(config.witness.key_file)
        if cosigner.public_key == node_key:
            raise InvalidInput("witness.key_file", "the cosigner key must not be the node key (signed-note: one "
                                                   "key, one signature type); make one with `minutebook keys new`")
        name = config.witness.name or f"{self.checkpoints.origin}/witness/{self.node_id}"
        return Witness(name, cosigner.seed, config.witness.logs, LevelDBStore(str(config.data_dir / "witness")),
                       on_write_error=self._disk_failed_in_thread)

    def _disk_failed_in_thread(self, exc: StoreWriteError) -> None:
        """``_disk_failed`` for a write made off the loop (the witness's, on the HTTP thread pool)."""
        self._loop.call_soon_threadsafe(self._disk_failed, exc)

    async def _run_disk(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._disk, fn, *args)

    # ================================================================ lifecycle

    async def start(self) -> None:
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._wake_ready = asyncio.Event()
        self._wake_producer = asyncio.Event()
        self._wake_apply = asyncio.Event()
        self._wake_trail = asyncio.Event()
        self._apply_lock = asyncio.Lock()
        self._leader_event = asyncio.Event()
        self.stopped = asyncio.Event()
        self.transport = PeerTransport(
            self.node_id, self.seed, self.config.peer_listen,
            peer_map(self._nodes, self._config_peers, self.node_id), self._lookup, self._on_frame,
            max_frame_bytes=max(16 << 20, 3 * self.config.blocks.max_bytes + (1 << 20)))
        self.metrics.watch_transport(lambda: self.transport.stats if self.transport else None)
        await self.transport.start()
        self.certifier.resign_missing(range(max(1, self.ledger.height - 256), self.ledger.height + 1))
        self._update_gauges()
        for coro, name in ((self._ticker(), "ticker"), (self._ready_loop(), "ready"), (self._applier(), "apply"),
                           (self._producer_loop(), "producer"), (self._sync_loop(), "sync"),
                           (self._trail_loop(), "trail")):
            self._tasks.append(asyncio.get_running_loop().create_task(self._guard(coro, name), name=name))
        if self.catchup.active:
            self._start_catchup()
        if self.pusher is not None:
            self._spawn(self.pusher.run(), "checkpoint-pusher")
        if len(self.intake):
            log.info("%d journaled submissions to submit again", len(self.intake))
            self._spawn(self._resubmit(self.intake.items()), "intake")
        self._wake_ready.set()
        self._wake_trail.set()  # blocks applied before a restart the trail has not seen

    async def _guard(self, coro, name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except StoreWriteError as exc:  # the disk refused a write: stop (exit 75), no trace to read
            self._disk_failed(exc)
        except BaseException as exc:  # a broken invariant: stop the node rather than run on
            log.critical("task %s failed; stopping the node", name, exc_info=True)
            self._failed = exc
            if self.stopped is not None:
                self.stopped.set()

    def _disk_failed(self, exc: StoreWriteError) -> None:
        """A store write failed (a full disk, most often): nothing of that batch was written, but
        LevelDB refuses every later write until reopened, so stop; a restart once there is room
        resumes from what is on disk."""
        if self._failed is None:
            log.critical("%s: stopping, the data directory refused a write (%s)", self.node_id, exc.strerror)
            self._failed = exc
        self.begin_stop()
        if self.stopped is not None:
            self.stopped.set()

    def begin_stop(self) -> None:
        """SIGTERM: answer every ``?wait=committed`` still waiting with 503 now (its document may
        still commit; the client asks another node), so the HTTP server's graceful shutdown has
        nothing to wait for, and refuse new submissions the same way. ``stop()`` follows."""
        if self._stopping:
            return
        self._stopping = True
        error = NoLeader(retry_after=1.0, message="this node is stopping; retry on another node "
                                                  "(a document already admitted may still commit)")
        for waiters in self._doc_waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: a request that gave up waiting leaves no "never retrieved" log
        self.certifier.release_waiters(error)

    async def stop(self) -> None:
        """Stop tasks, close links, flush and close both LevelDB stores."""
        if not self._running:
            return
        self._running = False
        self.begin_stop()
        self.certifier.close()  # before the disk thread drains: its completions must not read closed stores
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.transport is not None:
            await self.transport.stop()
        self.forwarder.close()
        self._disk.shutdown(wait=True)
        self._raft_disk.shutdown(wait=True)
        self._trail_disk.shutdown(wait=True)  # a batch under way ends (TRAIL_CHUNK bounds it) before the store closes
        self.admission.close()
        for waiters in self._doc_waiters.values():
            for future in waiters:
                if not future.done():
                    future.cancel()
        self.log_storage.close()
        self.ledger.store.close()
        self.intake.close()
        if self.witness is not None:
            self.witness.store.close()
        if self.stopped is not None:
            self.stopped.set()

    # ================================================================ NodeService

    async def submit(self, envelope: bytes, *, wait: bool, timeout: float = 30.0) -> dict[str, Any]:
        if self._stopping:
            raise NoLeader(retry_after=1.0, message="this node is stopping; retry on another node")
        if self._role is not Role.LEADER:
            return await self._submit_via_leader(envelope, wait=wait, timeout=timeout)
        self._refuse_unless_clock_agreed()
        self._check_room(1)
        self._admitting += 1
        try:
            [checked] = await self.admission.check([envelope])
            if isinstance(checked, MinutebookError):  # typed errors; AlreadyCommitted with the receipt
                raise checked
            doc_id = checked.doc_id
            await self._journal([(doc_id, envelope)])  # durable before anyone hears "pending"
        finally:
            self._admitting -= 1
        if self._role is not Role.LEADER:  # deposed while journaling: the new leader takes it
            return await self.submit(envelope, wait=wait, timeout=timeout)
        self._pool([(doc_id, envelope)])
        if not wait:
            return batch.pending(doc_id)
        return await self._until_certified(doc_id, timeout)

    def _check_submission(self, envelope: bytes) -> Envelope:
        """Admission of one envelope (on the admission thread), at this node's clock (node/clock.py)."""
        head = self.ledger.head()
        return self.ledger.check_submission(envelope, at_ms=max(self.clock.now_ms(), head.timestamp if head else 0))

    def _refuse_unless_clock_agreed(self) -> None:
        if not self._clock_agreed():  # node/clock.py, rule 3: it admits nothing it could not stamp
            raise NoLeader(retry_after=1.0, message="this leader's clock disagrees with the other nodes'; "
                                                    "it is handing leadership over, retry shortly")

    async def _journal(self, items: list[tuple[str, bytes]]) -> None:
        """Journal admitted submissions (fsync, group commit); a disk that refuses stops the node."""
        try:
            await asyncio.gather(*(self.intake.add(doc_id, data) for doc_id, data in items))
        except StoreWriteError as exc:
            self._disk_failed(exc)
            raise NoLeader(retry_after=1.0, message="this node cannot write to its disk; retry on another node") \
                from None

    async def submit_batch(self, envelopes: list[bytes], *, wait: bool, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Admit (or forward) many envelopes; one result per envelope, in order (node/batch.py).
        Raises only what concerns the whole batch: NoLeader, Overloaded, ForwardFailed."""
        if self._stopping:
            raise NoLeader(retry_after=1.0, message="this node is stopping; retry on another node")
        if self._role is not Role.LEADER:
            return await self._submit_batch_via_leader(envelopes, wait=wait, timeout=timeout)
        results = await self._admit_batch(envelopes)
        if wait:
            await self._wait_results(results, timeout)
        return results

    async def _admit_batch(self, envelopes: list[bytes]) -> list[dict[str, Any]]:
        """The leader's admission of a batch (its own, or a follower's forwarded frame): check
        each, journal the good ones with one fsync, pool them; ``pending`` results for those.
        Raises NoLeader (not leading) and Overloaded (no room, nothing admitted)."""
        if self._role is not Role.LEADER:
            raise NoLeader(retry_after=0.5, message=f"{self.node_id} is not the leader")
        self._refuse_unless_clock_agreed()
        self._check_room(len(envelopes))
        results: list[dict[str, Any] | None] = [None] * len(envelopes)
        admitted: list[tuple[int, str, bytes]] = []
        self._admitting += len(envelopes)
        try:
            for i, (data, checked) in enumerate(zip(envelopes, await self.admission.check(envelopes))):
                if isinstance(checked, MinutebookError):
                    results[i] = batch.failed(_doc_id_of(data), checked)
                else:
                    admitted.append((i, checked.doc_id, data))
            await self._journal([(doc_id, data) for _, doc_id, data in admitted])
        finally:
            self._admitting -= len(envelopes)
        items = [(doc_id, data) for _, doc_id, data in admitted]
        if self._role is Role.LEADER:
            self._pool(items)
        elif items:  # deposed while journaling: journaled, so ours to hand to the new leader
            self._spawn(self._resubmit(items), "hand-over")
        for i, doc_id, _ in admitted:
            results[i] = batch.pending(doc_id)
        return results  # type: ignore[return-value]

    def _uncommitted(self) -> int:
        """Documents this node answered (or is answering) 202 for and has not seen applied."""
        return len(self.intake) + self._admitting

    def _check_room(self, count: int) -> None:
        """Back-pressure: refuse (503 overloaded, nothing admitted) what would take the documents
        admitted but not yet committed past ``limits.max_pending_documents``."""
        held = self._uncommitted()
        if held + count > self.config.max_pending_documents:
            self.metrics.submissions_total.labels("overloaded").inc(count)
            raise Overloaded(retry_after=1.0, message=(
                f"{held} documents are admitted and not yet committed (at most {self.config.max_pending_documents}"
                f"); retry shortly"))

    def _pool(self, items: list[tuple[str, bytes]]) -> None:
        now = time.monotonic()
        for doc_id, envelope in items:
            self.producer.add(doc_id, envelope, now)
        self.metrics.submissions_total.labels("admitted").inc(len(items))
        if self.producer.in_flight is None:  # else applying the block in flight wakes the producer
            self._wake_producer.set()

    async def _submit_via_leader(self, envelope: bytes, *, wait: bool, timeout: float) -> dict[str, Any]:
        """A follower forwards to the leader (node/forwarding.py). With `wait`, it forwards
        without waiting and waits here instead: this node applies the block and gathers its
        certificate itself, so the answer does not hang on the leader staying leader (or staying
        in the cluster) meanwhile."""
        leader = self._leader_or_raise()
        self.metrics.submissions_total.labels("forwarded").inc()
        if not wait:
            return self._forwarded_one(leader, (await self.forwarder.forward(leader, [envelope]))[0])
        # garbage gets its typed error here, as at the leader; a submission's envelope is inside it
        doc_id = self.ledger.decode(split_submission(envelope)[0]).doc_id  # decoded once: kept for the apply

        async def forward() -> None:
            self._forwarded_one(leader, (await self.forwarder.forward(leader, [envelope]))[0])

        return await self._until_certified(doc_id, timeout, first=forward)

    @staticmethod
    def _forwarded_one(leader: str, result: dict[str, Any]) -> dict[str, Any]:
        """A forwarded single submission's result as the single route answers it: pending as
        is; already committed as AlreadyCommitted (409 with the receipt); a refusal as the
        leader's own error (LeaderAnswered: its status and body, unchanged)."""
        status = result.get("status")
        if status in (batch.PENDING, batch.COMMITTED):
            return result
        if status == batch.ALREADY_COMMITTED:
            raise AlreadyCommitted(result["doc_id"], result.get("receipt"))
        body = {k: v for k, v in result.items() if k not in ("status", "http_status", "doc_id")}
        if body.get("error") == "timeout":
            body["doc_id"] = result.get("doc_id")
        raise LeaderAnswered(leader, result.get("http_status", 502), body)

    async def _submit_batch_via_leader(self, envelopes: list[bytes], *, wait: bool,
                                       timeout: float) -> list[dict[str, Any]]:
        """A follower forwards a batch to the leader; with `wait` it waits here, as for one document."""
        leader = self._leader_or_raise()
        self.metrics.submissions_total.labels("forwarded").inc(len(envelopes))
        if not wait:
            return await self.forwarder.forward(leader, envelopes)
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future] = {}
        for data in envelopes:  # registered before forwarding, so no block slips past
            doc_id = _doc_id_of(data)
            if doc_id is not None and doc_id not in futures:
                futures[doc_id] = self._add_waiter(doc_id, loop)
        try:
            results = await self.forwarder.forward(leader, envelopes)
            await self._wait_results(results, timeout, futures)
            return results
        finally:
            for doc_id, future in futures.items():
                self._drop_waiter(doc_id, future)

    async def _serve_forwarded(self, peer: str, frame: dict) -> None:
        """A follower's ``submit`` frame: admit it as a batch, answer ``submitted`` (forwarding.py)."""
        frame_id, envelopes = frame.get("id"), frame.get("envelopes")
        if type(frame_id) is not int or not isinstance(envelopes, list) or not envelopes or \
                len(envelopes) > self.config.max_batch_documents or not all(isinstance(e, bytes) for e in envelopes):
            self.metrics.bad_frames_total.labels("submit").inc()
            return
        self.metrics.submissions_total.labels("forwarded_in").inc(len(envelopes))
        try:
            reply = {"kind": "submitted", "id": frame_id, "results": await self._admit_batch(envelopes)}
        except NodeError as exc:
            reply = {"kind": "submitted", "id": frame_id, "error": frame_error(exc)}
        self._send(peer, reply)

    def _leader_or_raise(self) -> str:
        leader = self._leader
        if leader is None or leader == self.node_id:
            self.metrics.submissions_total.labels("no_leader").inc()
            raise NoLeader(retry_after=1.0)
        return leader

    def _add_waiter(self, doc_id: str, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        future = loop.create_future()
        self._doc_waiters.setdefault(doc_id, []).append(future)
        return future

    def _drop_waiter(self, doc_id: str, future: asyncio.Future) -> None:
        waiters = self._doc_waiters.get(doc_id)
        if waiters and future in waiters:
            waiters.remove(future)
            if not waiters:
                del self._doc_waiters[doc_id]

    async def _wait_results(self, results: list[dict[str, Any]], timeout: float,
                            futures: dict[str, asyncio.Future] | None = None) -> None:
        """Turn every ``pending`` result into ``committed`` (with its receipt) once its block is
        applied here and certified, or into a ``timeout`` / ``rejected`` error; in place."""
        loop = asyncio.get_running_loop()
        own = futures is None
        futures = {} if futures is None else futures
        try:
            for result in results:
                if result["status"] == batch.PENDING and result["doc_id"] not in futures:
                    futures[result["doc_id"]] = self._add_waiter(result["doc_id"], loop)
            waiting = {futures[r["doc_id"]] for r in results if r["status"] == batch.PENDING}
            if waiting:
                await asyncio.wait(waiting, timeout=timeout)
            for i, result in enumerate(results):
                if result["status"] != batch.PENDING:
                    continue
                doc_id = result["doc_id"]
                future = futures[doc_id]
                if not future.done():
                    results[i] = batch.failed(doc_id, SubmitTimeout(doc_id))
                elif future.exception() is not None:
                    exc = future.exception()
                    results[i] = batch.failed(doc_id, exc if isinstance(exc, MinutebookError) else SubmitTimeout(doc_id))
                else:
                    results[i] = future.result()
        finally:
            if own:
                for doc_id, future in futures.items():
                    self._drop_waiter(doc_id, future)

    async def _until_certified(self, doc_id: str, timeout: float,
                               first: Callable[[], Any] | None = None) -> dict[str, Any]:
        """Wait until the block holding `doc_id` is applied here and certified; return the receipt.
        The waiter is registered before `first` (the forward) runs, so no block slips past it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        future = self._add_waiter(doc_id, loop)
        try:
            if first is not None:
                await first()
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise SubmitTimeout(doc_id) from None
        finally:
            self._drop_waiter(doc_id, future)

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
            "catching_up": self.catchup.active, "pending": len(self.producer.pool),
            "uncommitted": {"documents": self._uncommitted(), "oldest_ms": int(self.intake.oldest_age(now) * 1000),
                            "limit": self.config.max_pending_documents},
            "clock": {"verdict": self._clock_verdict, "offsets_ms": self.clock_watch.offsets(self.clock.now_ms())},
            "trail": self._trail_status(),
            "peers": peers,
        }

    def _trail_status(self) -> dict[str, int] | None:
        """Where the trailing views (the near-duplicate index) stand: their height and how many
        blocks they are behind the ledger (None without trailing views)."""
        if self.views.trail is None:
            return None
        height = self.views.trail.height()
        return {"height": height, "behind": max(0, self.ledger.height - height)}

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
            while self._running and self.raft.has_ready():
                rd = self.raft.ready()
                if rd.snapshot is not None:
                    await self._drain_apply_queue()  # nothing applies while a snapshot is installed
                if rd.snapshot is not None or rd.entries or rd.hard_state is not None:
                    started = time.perf_counter()
                    await loop.run_in_executor(self._raft_disk, self.log_storage.save, rd.hard_state, rd.entries,
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
                if rd.committed_entries:
                    self._apply_queue.extend(rd.committed_entries)
                    if any(e.type is EntryType.CONF_CHANGE for e in rd.committed_entries):
                        # Raft must not advance past a conf change it has not seen applied
                        # (campaigning, the next conf change); such entries are rare: wait for them.
                        await self._drain_apply_queue()
                    else:
                        self._wake_apply.set()
                self._read_states.extend((rs.index, rs.context) for rs in rd.read_states)
                self._serve_reads()
                self.raft.advance(rd)
                self._update_gauges()
                await asyncio.sleep(0)  # let frames and requests in between Readies

    async def _applier(self) -> None:
        """Applies committed entries in order, apart from the Ready loop, so a block being applied
        (seconds, on a busy machine) never holds up persisting, heartbeats and replies."""
        while self._running:
            await self._wake_apply.wait()
            self._wake_apply.clear()
            await self._drain_apply_queue()

    def _send_raft(self, msg: Any, live: set[str]) -> None:
        """Send one Raft message; to a peer whose link is down, drop it and tell Raft (it probes again later).

        Queueing for a dead link would pile up to max_inflight appends of whole blocks per absent
        peer, and deliver stale ones hours later; Raft is built to tolerate the loss instead.
        """
        if msg.dst not in live:
            self.raft.report_unreachable(msg.dst)
            return
        try:
            ok = self.transport.send(msg.dst, {"kind": "raft", "payload": encode_message(msg),
                                               "clock": self.clock.now_ms()})
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
        self.forwarder.leader_changed(leader, self.node_id)
        if leader != self._event_leader:  # wake whoever waits for the next leader (hand-overs)
            self._event_leader = leader
            changed, self._leader_event = self._leader_event, asyncio.Event()
            changed.set()
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
        """Submit `items` (journaled, or pooled when we stopped leading) through the normal path,
        in batches, until the ledger holds or refuses each: to our pool if we lead, else to the
        leader. An entry stays journaled until its block applies here. Between rounds it waits
        for the next leader change (or a back-off), so a hand-over goes out as soon as a new
        leader is known."""
        pending = list(items)
        delay = 0.2
        size = self.config.max_batch_documents
        while pending and self._running:
            retry = []
            for first in range(0, len(pending), size):
                chunk = []
                for doc_id, envelope in pending[first:first + size]:
                    if self._is_accepted(doc_id):
                        self.intake.remove([doc_id])
                    else:
                        chunk.append((doc_id, envelope))
                if not chunk:
                    continue
                try:
                    results = await self.submit_batch([envelope for _, envelope in chunk], wait=False)
                except NodeError:  # no leader yet, overloaded, leader unreachable: later
                    retry.extend(chunk)
                    continue
                for (doc_id, envelope), result in zip(chunk, results):
                    status = result["status"]
                    if status in (batch.PENDING, batch.COMMITTED):
                        continue
                    if status == batch.ALREADY_COMMITTED:
                        self.intake.remove([doc_id])
                    elif result.get("http_status", 500) >= 500:
                        retry.append((doc_id, envelope))
                    else:  # the registry moved on; it can never be admitted now
                        log.warning("journaled %s can no longer be admitted: %s", doc_id, result.get("message"))
                        self.intake.remove([doc_id])
            pending = retry
            if pending:
                changed = self._leader_event
                try:
                    await asyncio.wait_for(changed.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                delay = min(delay * 2, 2.0)

    # ================================================================ applying

    async def _drain_apply_queue(self) -> None:
        """Apply what is queued, in order (one drain at a time); stops while a catch-up runs."""
        async with self._apply_lock:
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
                await self._maybe_compact()
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
                await asyncio.get_running_loop().run_in_executor(
                    self._raft_disk, self.log_storage.create_snapshot, index, conf, self._snapshot_data(index))
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
                       vouch: Callable[[Header], None], certified: tuple[Header, list] | None = None) -> None:
        """Catch-up, on the disk thread: apply a block fetched from a peer if `vouch` (catchup.py's
        certificate check) accepts the header it makes, store its certificate (in the block's own
        batch on the fast path, `certified`), then hand the block to the loop."""
        block = self.ledger.apply_block(proposal, vouch=vouch, certified=certified)
        if certified is None:
            for signature in certificate:
                try:
                    self.ledger.add_block_signature(block.header.height, signature.node, signature.sig)
                except MinutebookError:
                    pass
        self._loop.call_soon_threadsafe(self._after_block, block)

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
        self._wake_trail.set()
        nodes = Registry(self.ledger.store).nodes()
        if nodes != self._nodes:
            self._nodes = nodes
            if self.transport is not None:
                self.transport.update_peers(peer_map(nodes, self._config_peers, self.node_id))
            self._wake_producer.set()

    def _snapshot_data(self, raft_index: int) -> bytes:
        return snapshot_data(self.ledger.height, self.ledger.head_hash, raft_index)

    async def _maybe_compact(self) -> None:
        every = self.config.raft.snapshot_every
        applied = self._applied_index
        snap_index = self.log_storage.snapshot().metadata.index
        if applied - snap_index < every or self.catchup.active:
            return
        conf = self.raft.status().conf_state
        keep = min(1000, every // 4)
        upto = applied - keep
        data = self._snapshot_data(applied)

        def compact() -> None:  # on the Raft disk thread, in order with the saves
            self.log_storage.create_snapshot(applied, conf, data)
            if upto > self.log_storage.first_index() - 1:
                self.log_storage.compact(upto)

        await asyncio.get_running_loop().run_in_executor(self._raft_disk, compact)
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
        self._wake_apply.set()  # the applier applies the entries held back

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
        if self._role is not Role.LEADER or self.catchup.active or not self._clock_agreed():
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
            self._check_clock()
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
                                           now_ms=self.clock.now_ms(),
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

    # ================================================================ clock (node/clock.py)

    def _voters(self) -> tuple[str, ...]:
        return tuple(self.raft.raft.conf.voters)  # the conf state without building a whole Status

    def _clock_agreed(self) -> bool:
        voters, now = self._voters(), self.clock.now_ms()
        watch = self.clock_watch
        return watch.is_agreed(self.node_id, voters, now) and not watch.is_off(self.node_id, voters, now)

    def _check_clock(self) -> None:
        """Log a change of verdict; a leader that is off hands leadership to a voter the majority agrees with."""
        voters, now = self._voters(), self.clock.now_ms()
        off = self.clock_watch.is_off(self.node_id, voters, now)
        verdict = "off" if off else "agreed" if self.clock_watch.is_agreed(self.node_id, voters, now) else "unknown"
        if verdict != self._clock_verdict:
            offsets = {p: f"{o / 1000:+.1f}s" for p, o in self.clock_watch.offsets(now).items()}
            (log.warning if off else log.info)("%s: clock %s against the voters (their clocks minus ours: %s)",
                                               self.node_id, verdict, offsets)
            self._clock_verdict = verdict
        if not off or self._role is not Role.LEADER:
            return
        now = time.monotonic()
        if now - self._last_handover < 2.0:
            return
        targets = self.clock_watch.handover_targets(self.node_id, voters, now)
        if not targets:
            return
        progress = self.raft.status().progress
        target = max(targets, key=lambda p: (progress.get(p, (0,))[0] or 0, p))
        self._last_handover = now
        log.warning("%s: handing leadership to %s (our clock is off by more than %d s)", self.node_id, target,
                    self.clock_watch.bound_ms // 1000)
        try:
            self.raft.transfer_leadership(target)
        except (ConsensusError, ValueError) as exc:
            log.info("leadership transfer to %s not started: %s", target, exc)
            return
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
                self.transport.send(peer, {**frame, "clock": self.clock.now_ms()})
            except MinutebookError:
                log.exception("cannot send a %r frame to %s", frame.get("kind"), peer)

    def _send_link(self, peer: str, frame: dict) -> bool:
        """Queue `frame` for `peer`; False without a link (FrameError if it cannot be a frame)."""
        return self.transport is not None and self.transport.send(peer, frame)

    def _broadcast(self, frame: dict) -> None:
        if self.transport is not None:
            self.transport.broadcast({**frame, "clock": self.clock.now_ms()})

    def _on_frame(self, peer: str, frame: dict) -> None:
        """Every frame from an authenticated peer; bad content is dropped and counted, never raised."""
        if not self._running:  # stopping: the stores are about to close
            return
        self._last_contact[peer] = time.monotonic()
        self.clock_watch.observe(peer, frame.get("clock"))
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
            elif kind == "submit":
                self._spawn(self._serve_forwarded(peer, frame), "forwarded")
            elif kind == "submitted":
                if not self.forwarder.on_submitted(peer, frame):
                    self.metrics.bad_frames_total.labels("submitted").inc()
            elif kind == "fetch_blocks":
                self.catchup.on_fetch_blocks(peer, frame)
            elif kind == "blocks":
                self.catchup.on_blocks(peer, frame)
            elif kind == "clock":
                pass  # only its stamp, observed above (node/clock.py: every voter hears every other's clock)
            else:
                self.metrics.bad_frames_total.labels("unknown").inc()
        except (ConsensusError, MinutebookError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CorruptionError):
                raise
            self.metrics.bad_frames_total.labels(str(kind)[:32]).inc()
            log.warning("dropped a %r frame from %s: %r", kind, peer, exc)

    async def _trail_loop(self) -> None:
        """Feed the trailing views what has been applied, a batch at a time, on their own thread."""
        loop = asyncio.get_running_loop()
        catch_up = functools.partial(self.views.trail.catch_up, chunk=TRAIL_CHUNK, chunks=1)
        while self._running:
            await self._wake_trail.wait()
            self._wake_trail.clear()
            while self._running and not await loop.run_in_executor(self._trail_disk, catch_up):
                pass

    async def _sync_loop(self) -> None:
        while self._running:
            await asyncio.sleep(1.0)
            request = self.certifier.sync_request()
            self._broadcast(request if request is not None else {"kind": "clock"})  # every frame carries the clock
            self._update_gauges()

    def _update_gauges(self) -> None:
        st = self.raft.status()
        m = self.metrics
        m.raft_term.set(st.term)
        m.raft_commit_index.set(st.commit)
        m.raft_applied_index.set(self._applied_index)
        m.applied_height.set(self.ledger.height)
        m.pending_documents.set(len(self.producer.pool))
        m.uncommitted_documents.set(self._uncommitted())
        m.uncommitted_oldest_seconds.set(self.intake.oldest_age())
        trail = self._trail_status()
        if trail is not None:
            m.trail_behind_blocks.set(trail["behind"])
        now = self.clock.now_ms()
        for peer, offset in self.clock_watch.offsets(now).items():
            m.clock_offset_seconds.labels(peer).set(offset / 1000)
        m.clock_off.set(1 if self.clock_watch.is_off(self.node_id, self._voters(), now) else 0)
