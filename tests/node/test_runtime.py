"""node/runtime.py in-process (one voter), and the pure parts beside it:
block_producer.py, membership.py, catchup.py's header prediction and snapshot data."""

from __future__ import annotations

import asyncio
import threading

import pytest

from consensus import ConfChangeType, ConfState
from ledger.blocks import BlockProposal
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from node.block_producer import BlockProducer
from node.catchup import CatchUp, SnapshotTarget, parse_snapshot_data, snapshot_data
from node.config import BlockSettings, load_config
from node.membership import next_change
from node.runtime import NodeRuntime
from tests.ledger.factory import make_org
from tests.node.cluster import Cluster
from views.similarity import SimilarityView, near_duplicates

CELL = "central/p1/k1/s1"


async def _until(predicate, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


@pytest.fixture
def one_node(tmp_path):
    """The files of a one-voter cluster (no process is started; tests run the runtime in-process)."""
    cluster = Cluster(tmp_path, voters=1)
    yield cluster
    cluster.close()


def test_restart_resumes_from_disk_without_replaying_blocks(one_node):
    cluster = one_node
    config = load_config(cluster.nodes["n1"].config)
    envelopes = [cluster.org.minutes(CELL).to_bytes() for _ in range(4)]

    async def first_life() -> list[dict]:
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            return list(await asyncio.gather(*(runtime.submit(e, wait=True) for e in envelopes[:3])))
        finally:
            await runtime.stop()

    async def second_life() -> tuple[dict, float, dict]:
        runtime = NodeRuntime(config)
        assert runtime.raft.status().applied == runtime.ledger.raft_applied > 0  # Config.applied from the ledger
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            replayed = runtime.metrics.blocks_applied_total._value.get()
            result = await runtime.submit(envelopes[3], wait=True)
            return runtime.status(), replayed, result
        finally:
            await runtime.stop()

    results = asyncio.run(first_life())
    assert all(r["status"] == "committed" for r in results)
    height = max(r["receipt"]["block"]["height"] for r in results)
    status, replayed, result = asyncio.run(second_life())
    assert replayed == 0
    assert result["receipt"]["block"]["height"] == height + 1 == status["height"]


def test_the_trailing_views_are_fed_on_their_own_thread_and_keep_their_height_over_a_restart(one_node,
                                                                                            monkeypatch):
    """The near-duplicate view is never fed on the apply path (the disk thread) nor the loop: the
    trail thread feeds it after each block, and its height is on disk for the next start."""
    cluster = one_node
    config = load_config(cluster.nodes["n1"].config)
    threads = []
    apply = SimilarityView.apply

    def spy(self, w, record, facts, sign):
        threads.append(threading.current_thread().name)
        return apply(self, w, record, facts, sign)

    monkeypatch.setattr(SimilarityView, "apply", spy)
    text = ("Chi bộ họp thường kỳ, đồng chí bí thư triển khai kế hoạch sản xuất vụ mùa trong tháng tới; các đảng "
            "viên thống nhất việc xây dựng đường liên thôn với sự tham gia của nhân dân và phân công rà soát công "
            "tác phát triển đảng viên đúng quy định.")
    copies = [cluster.org.minutes(cell, text=text) for cell in ("central/p1/k1/s1", "central/p2/k1/s2")]

    async def first_life() -> tuple[dict, int]:
        runtime = NodeRuntime(config)
        assert runtime.views.defer
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            for envelope in copies:
                assert (await runtime.submit(envelope.to_bytes(), wait=True))["status"] == "committed"
            await _until(lambda: runtime.views.trail.height() == runtime.ledger.height)
            assert runtime.status()["trail"] == {"height": runtime.ledger.height, "behind": 0}
            with runtime.views.reader() as r:
                return near_duplicates(r, "central"), runtime.ledger.height
        finally:
            await runtime.stop()

    found, height = asyncio.run(first_life())
    [group] = found["groups"]
    assert found["height"] == height and {m["doc_id"] for m in group["members"]} == {e.doc_id for e in copies}
    assert len(threads) == 2 and all(name.startswith("trail-n1") for name in threads), threads

    async def second_life() -> int:
        runtime = NodeRuntime(config)
        stored = runtime.views.trail.height()  # before the trail task could run
        assert runtime.status()["trail"] == {"height": stored, "behind": 0}
        with monkeypatch.context() as m:  # a trail one block behind, as status and the metric say it
            m.setattr(runtime.views.trail, "height", lambda: stored - 1)
            assert runtime.status()["trail"] == {"height": stored - 1, "behind": 1}
            runtime._update_gauges()
            assert "minutebook_trail_behind_blocks 1.0" in runtime.metrics.render().decode()
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
        finally:
            await runtime.stop()
        return stored

    assert asyncio.run(second_life()) == height and len(threads) == 2


def test_bad_frames_never_crash_the_node(one_node):
    cluster = one_node
    config = load_config(cluster.nodes["n1"].config)

    async def scenario() -> dict:
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            for frame in [
                {"kind": "raft", "payload": b"\x00garbage"}, {"kind": "raft", "payload": {"type": "Nope"}},
                {"kind": "raft"}, {"kind": "block_sig", "height": "x"}, {"kind": "block_sig", "height": 10**9,
                                                                         "block_hash": "00", "sig": b"s"},
                {"kind": "block_sig", "height": 1, "block_hash": "ab", "sig": b"\x00" * 64},
                {"kind": "fetch_blocks", "from_height": -1, "limit": 5}, {"kind": "blocks", "items": [{"x": 1}]},
                {"kind": "sig_request", "heights": "all"}, {"kind": "block_sigs", "items": [[1, 2, 3], "x"]},
                {"kind": "whatever"},
            ]:
                runtime._on_frame("n2", {"from": "n2", **frame})
            result = await runtime.submit(cluster.org.minutes(CELL).to_bytes(), wait=True)
            assert result["status"] == "committed"
            return runtime.status()
        finally:
            await runtime.stop()

    assert asyncio.run(scenario())["height"] >= 1


def test_block_producer_closes_blocks_by_count_and_linger_and_keeps_one_in_flight():
    producer = BlockProducer("n1", BlockSettings(max_documents=2, linger_ms=50))
    assert producer.add("a", b"A", now=0.0) and not producer.add("a", b"A", now=0.0)  # dedupe by doc_id
    assert not producer.due(0.01) and producer.due(0.05)  # linger
    producer.add("b", b"B", now=0.01)
    producer.add("c", b"C", now=0.01)
    assert producer.due(0.01)  # count
    proposal = producer.build(height=1, prev_hash=bytes(32), now_ms=5, head_timestamp=9, term=2)
    assert proposal.envelopes == (b"A", b"B") and proposal.timestamp == 9
    assert not producer.due(10.0) and producer.holds("a")  # one block in flight
    producer.on_term_end(now=1.0)  # deposed: back to the pool, oldest first
    assert list(producer.pool) == ["a", "b", "c"]
    producer.build(height=1, prev_hash=bytes(32), now_ms=5, head_timestamp=0, term=3)
    producer.on_block_applied(1, ["a", "b"], now=2.0)
    assert producer.in_flight is None and list(producer.pool) == ["c"]


def test_membership_changes_one_at_a_time_additions_first():
    nodes = [{"node_id": "n1", "role": "voter"}, {"node_id": "n2", "role": "voter"},
             {"node_id": "n4", "role": "learner"}]
    change = next_change(ConfState(voters=("n1", "n3")), nodes)
    assert (change.type, change.node_id) == (ConfChangeType.ADD_VOTER, "n2")
    change = next_change(ConfState(voters=("n1", "n2", "n3")), nodes)
    assert (change.type, change.node_id) == (ConfChangeType.ADD_LEARNER, "n4")
    change = next_change(ConfState(voters=("n1", "n2", "n3"), learners=("n4",)), nodes)
    assert (change.type, change.node_id) == (ConfChangeType.REMOVE_NODE, "n3")
    assert next_change(ConfState(voters=("n1", "n2"), learners=("n4",)), nodes) is None


def test_catch_up_applies_a_fetched_block_only_under_a_valid_certificate():
    """A fetched block's header depends on the registry checks (a duplicate and undecodable
    bytes are committed to by tx_root but are no leaves), so catch-up stages the block and
    shows that header to the certificate check: a forged or short certificate leaves the
    ledger untouched; a majority of the voters at that height gets the block applied."""
    from ledger.jsonfmt import b64e
    from ledger.keys import BLOCK_DOMAIN, public_key, sign
    from node.metrics import Metrics
    from tests.ledger.ledger_builder import NODE_SEEDS, certify

    org = make_org(3)
    genesis = dict(org.genesis, nodes=[{"node_id": n, "public_key": b64e(public_key(NODE_SEEDS[n])),
                                         "peer_addr": "x", "role": "voter"} for n in ("n1", "n2", "n3")])
    source, store = Ledger(MemoryStore(), genesis), MemoryStore()
    fresh = Ledger(store, genesis)
    for _ in range(2):
        minutes = [org.minutes(CELL).to_bytes() for _ in range(3)]
        source.apply_block(BlockProposal(height=source.height + 1, prev_hash=source.head_hash,
                                         timestamp=1_700_000_000_000, proposer="n1", term=1,
                                         envelopes=(minutes[0], minutes[1], minutes[0], b"\x93junk", minutes[2])))
        certify(source, source.height, ["n1", "n2"])
    catchup = CatchUp(fresh, Metrics("n4"), send=lambda *a: None, peers=lambda: [],
                      apply_fetched=lambda proposal, certificate, vouch, certified=None: fresh.apply_block(
                          proposal, vouch=vouch, certified=certified))
    catchup.target = SnapshotTarget(2, source.header(2).hash, 99)

    def item(height: int, certificate) -> dict:
        return {"proposal": source.proposal(height).to_bytes(), "certificate": certificate}

    good = [[s.node, s.sig] for s in source.certificate(1)]
    forged = [["n1", sign(NODE_SEEDS["n1"], BLOCK_DOMAIN, b"\x00" * 32)], good[1]]
    writes = store.writes
    assert not catchup._apply_reply("n1", {"items": [item(1, forged)]})
    assert not catchup._apply_reply("n1", {"items": [item(1, good[:1])]})  # one of three voters
    assert fresh.height == 0 and store.writes == writes
    assert catchup._apply_reply("n1", {"items": [item(1, good), item(2, [])]})  # 2 is the snapshot's own hash
    assert fresh.height == 2 and fresh.header(1) == source.header(1) and fresh.head() == source.head()
    assert fresh.head().log_size == 6 and fresh.block(1)["documents"] == source.block(1)["documents"]


def test_catch_up_fast_path_trusts_signatures_only_under_a_certified_header_it_then_makes(monkeypatch):
    """With the serving peer's header in the reply and a majority's certificate over it, a fetched
    block applies without verifying its envelopes' signatures again, and its certificate is stored
    in the block's own batch. A block holding a document the voters refused for a bad signature
    does not make that header with signatures trusted: it is refused on the fast path and applied
    by the full one, identical to the source. A forged header is refused."""
    import ledger.documents as documents
    from ledger.encoding import canonical, decode_canonical
    from ledger.jsonfmt import b64e
    from ledger.keys import public_key
    from node.metrics import Metrics
    from tests.ledger.ledger_builder import NODE_SEEDS, certify

    org = make_org(4)
    genesis = dict(org.genesis, nodes=[{"node_id": n, "public_key": b64e(public_key(NODE_SEEDS[n])),
                                         "peer_addr": "x", "role": "voter"} for n in ("n1", "n2", "n3")])
    source, fresh = Ledger(MemoryStore(), genesis), Ledger(MemoryStore(), genesis)
    forged = decode_canonical(org.minutes(CELL).to_bytes())
    forged["sigs"][0]["sig"] = bytes(64)
    blocks = [[org.minutes(CELL).to_bytes() for _ in range(4)],
              [org.minutes(CELL).to_bytes(), canonical(forged), org.minutes(CELL).to_bytes()]]
    for envelopes in blocks:
        source.apply_block(BlockProposal(height=source.height + 1, prev_hash=source.head_hash,
                                         timestamp=1_700_000_000_000, proposer="n1", term=1,
                                         envelopes=tuple(envelopes)))
        certify(source, source.height, ["n1", "n2"])
    assert [d.status for d in source.block_object(2).documents] == ["accepted", "rejected", "accepted"]
    calls = []
    real = documents.verify
    monkeypatch.setattr(documents, "verify", lambda *a: calls.append(a) or real(*a))
    catchup = CatchUp(fresh, Metrics("n4"), send=lambda *a: None, peers=lambda: [],
                      apply_fetched=lambda proposal, certificate, vouch, certified=None: fresh.apply_block(
                          proposal, vouch=vouch, certified=certified))
    catchup.target = SnapshotTarget(2, source.header(2).hash, 99)
    served = []
    catchup.send = lambda peer, frame: served.append(frame)
    source_catchup = CatchUp(source, Metrics("n1"), send=lambda peer, frame: served.append(frame), peers=lambda: [],
                             apply_fetched=None)
    source_catchup.on_fetch_blocks("n4", {"from_height": 1, "limit": 10})
    items = served[-1]["items"]
    assert all("header" in item for item in items)
    import dataclasses

    bad_header = dict(items[0], header=dataclasses.replace(source.header(1), timestamp=1).canonical)
    assert not catchup._apply_reply("n1", {"items": [bad_header]}) and fresh.height == 0
    assert catchup._apply_reply("n1", {"items": items[:1]})
    assert fresh.height == 1 and calls == []  # no envelope signature verified on the fast path
    assert {s.node for s in fresh.certificate(1)} == {"n1", "n2"}
    assert catchup._apply_reply("n1", {"items": items[1:]})  # 2 is the target: the full path, by hash
    assert fresh.head() == source.head() and len(calls) > 0
    assert fresh.block(2)["documents"] == source.block(2)["documents"]

    # the same forged block, not the target: the fast path refuses it, the full path applies it
    fresh2 = Ledger(MemoryStore(), genesis)
    catchup2 = CatchUp(fresh2, Metrics("n5"), send=lambda *a: None, peers=lambda: [],
                       apply_fetched=lambda proposal, certificate, vouch, certified=None: fresh2.apply_block(
                           proposal, vouch=vouch, certified=certified))
    catchup2.target = SnapshotTarget(3, b"\x00" * 32, 99)
    assert catchup2._apply_reply("n1", {"items": items})
    assert fresh2.head() == source.head() and fresh2.block(2)["documents"] == source.block(2)["documents"]


def test_snapshot_data_round_trip_and_garbage():
    target = parse_snapshot_data(snapshot_data(7, b"\x01" * 32, 99))
    assert (target.height, target.block_hash, target.raft_index) == (7, b"\x01" * 32, 99)
    for junk in (b"", b"\xc1", b"\x90"):
        assert parse_snapshot_data(junk) is None


@pytest.mark.parametrize("bad", [b"not msgpack"])
def test_submit_rejects_garbage_with_a_typed_error(one_node, bad):
    from ledger.errors import MinutebookError

    cluster = one_node

    async def scenario() -> None:
        runtime = NodeRuntime(load_config(cluster.nodes["n1"].config))
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            with pytest.raises(MinutebookError):
                await runtime.submit(bad, wait=False)
        finally:
            await runtime.stop()

    asyncio.run(scenario())


def test_a_batch_is_admitted_in_one_go_and_each_result_says_what_became_of_it(one_node):
    """submit_batch on the leader: good envelopes committed with receipts that verify, a forged
    one refused with its own error, a duplicate of an earlier one already_committed, in order."""
    from client.verify import verify_receipt

    cluster = one_node
    good = [cluster.org.minutes(CELL).to_bytes() for _ in range(5)]
    unknown = cluster.org.minutes(CELL, signers=[cluster.org.officer("central/p2/k1/s1", "secretary")]).to_bytes()

    async def scenario() -> list[dict]:
        runtime = NodeRuntime(load_config(cluster.nodes["n1"].config))
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            first = await runtime.submit(good[0], wait=True)
            assert first["status"] == "committed"
            return await runtime.submit_batch([good[1], unknown, good[0], good[2], good[3], good[4]], wait=True)
        finally:
            await runtime.stop()

    results = asyncio.run(scenario())
    assert [r["status"] for r in results] == ["committed", "error", "already_committed", "committed", "committed",
                                              "committed"]
    assert results[1]["http_status"] in (401, 403) and results[1]["message"]
    for r in results[:1] + results[2:]:
        assert verify_receipt(r["receipt"], cluster.genesis).doc_id == r["doc_id"]


def test_past_max_pending_documents_submissions_get_503_overloaded_and_nothing_is_admitted(one_node):
    """Back-pressure: the documents admitted but not yet committed are bounded; past the bound a
    submission or a batch is refused whole (503 overloaded with Retry-After) and none of it is
    journaled or pooled, so a retry later admits it once."""
    from node.errors import Overloaded

    cluster = one_node
    config = load_config(cluster.nodes["n1"].config)
    config = type(config)(**{**{f: getattr(config, f) for f in config.__dataclass_fields__}, "max_pending_documents": 3})
    envelopes = [cluster.org.minutes(CELL).to_bytes() for _ in range(6)]

    async def scenario() -> None:
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            runtime._can_propose = lambda: False  # hold every admitted document uncommitted
            assert [r["status"] for r in await runtime.submit_batch(envelopes[:3], wait=False)] == ["pending"] * 3
            with pytest.raises(Overloaded) as info:
                await runtime.submit(envelopes[3], wait=False)
            assert info.value.http_status == 503 and info.value.retry_after >= 1
            with pytest.raises(Overloaded):
                await runtime.submit_batch(envelopes[3:], wait=False)
            assert runtime.producer.held() == 3 and len(runtime.intake) == 3
            status = runtime.status()
            assert status["uncommitted"]["documents"] == 3 and status["uncommitted"]["limit"] == 3
            del runtime._can_propose  # blocks flow again: the room comes back
            runtime._wake_producer.set()
            await _until(lambda: runtime.producer.held() == 0)
            results = await runtime.submit_batch(envelopes[3:], wait=True)
            assert [r["status"] for r in results] == ["committed"] * 3
        finally:
            await runtime.stop()

    asyncio.run(scenario())


def test_stopping_with_signature_writes_queued_leaves_no_error_behind(one_node, caplog):
    """SIGTERM under load: block signatures still queued for the disk thread when the node stops
    must not run against the closed store afterwards ("Database or iterator is closed")."""
    cluster = one_node
    config = load_config(cluster.nodes["n1"].config)

    async def scenario() -> list[dict]:
        loop = asyncio.get_running_loop()
        raised: list[dict] = []
        loop.set_exception_handler(lambda _loop, context: raised.append(context))
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader")
            await runtime.submit(cluster.org.minutes(CELL).to_bytes(), wait=True)
            height = runtime.ledger.height
            for i in range(2000):  # signatures arriving as the stop begins
                runtime._on_frame("n1", {"from": "n1", "kind": "block_sig", "height": height,
                                         "block_hash": runtime.ledger.header(height).block_hash,
                                         "sig": bytes([i % 256]) * 64})
        finally:
            await runtime.stop()
        for _ in range(20):  # whatever the stop left queued on the loop runs now
            await asyncio.sleep(0.01)
        return raised

    raised = asyncio.run(scenario())
    assert raised == []
    errors = [r for r in caplog.records if r.levelno >= 40 or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def test_entries_committed_after_a_snapshot_wait_until_the_catch_up_has_checked_its_target(one_node):
    """A catch-up's last block reaches the snapshot's height on the disk thread; the target's hash
    is checked when the catch-up's task resumes on the loop. A block committed after the snapshot
    that the applier applied in between made that block the head, and the check then stopped a
    correct node (CorruptionError "caught up to height N but its hash differs", a learner in the
    fault bed). Here that interleaving is forced: the ledger is at the target, the next block is
    committed and reaches the applier, and only then does the catch-up finish. The applier holds
    the entry until the check has passed, then applies it."""
    import time

    from node.metrics import Metrics

    cluster = one_node
    config = load_config(cluster.nodes["n1"].config)
    source = Ledger(MemoryStore(), cluster.genesis)
    now_ms = int(time.time() * 1000)
    for _ in range(2):
        source.apply_block(BlockProposal(height=source.height + 1, prev_hash=source.head_hash, timestamp=now_ms,
                                         proposer="n1", term=1, envelopes=(cluster.org.minutes(CELL).to_bytes(),)))
    served: list[dict] = []
    CatchUp(source, Metrics("n9"), send=lambda peer, frame: served.append(frame), peers=lambda: [],
            apply_fetched=None).on_fetch_blocks("n1", {"from_height": 1, "limit": 1})

    async def scenario() -> None:
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            await _until(lambda: runtime.status()["role"] == "leader"
                         and runtime._applied_index == runtime.raft.status().commit)
            snapshot_index = runtime._applied_index
            runtime.catchup.target = SnapshotTarget(1, source.header(1).hash, snapshot_index)
            # the catch-up's part on the disk thread: block 1, the target's, fetched and applied
            assert await asyncio.get_running_loop().run_in_executor(runtime._disk, runtime.catchup._apply_reply,
                                                                    "n9", served[-1])
            assert runtime.ledger.height == 1
            # block 2 is committed after the snapshot and reaches the applier before the catch-up resumes
            runtime.raft.propose(source.proposal(2).to_bytes())
            runtime._wake_ready.set()
            await _until(lambda: runtime.ledger.height > 1 or (
                any(e.index > snapshot_index and e.data for e in runtime._apply_queue)
                and not runtime._wake_apply.is_set() and not runtime._apply_lock.locked()))
            assert runtime.ledger.height == 1  # held: the target's check has not run yet
            await runtime.catchup.run(runtime._catchup_done)  # checks the head against the target
            assert runtime.ledger.raft_applied >= snapshot_index
            await _until(lambda: runtime.ledger.height == 2)
            assert runtime.ledger.head() == source.head() and runtime._failed is None
        finally:
            await runtime.stop()

    asyncio.run(scenario())
