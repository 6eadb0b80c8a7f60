"""The clock rules (node/clock.py's module doc), with injected clocks:

- the deterministic ones on apply and the leader's admission check (ledger/ledger.py);
- ClockWatch's verdicts from peers' frame stamps (pure, with a fake monotonic clock);
- a real 3-node cluster where one node's clock is jumped 10 minutes forward and back
  (``$MINUTEBOOK_CLOCK_OFFSET_FILE``): it never stamps a block, hands leadership over when it
  leads, raises its warning metric, and leads normally again once its clock is back."""

from __future__ import annotations

import os
import time

import pytest

from ledger.blocks import MAX_CLOCK_SKEW_MS, BlockProposal
from ledger.errors import InvalidInput
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from node.clock import OFFSET_FILE_ENV, Clock, ClockWatch
from tests.ledger.ledger_builder import drive, sample_world
from tests.node.cluster import CELLS, Cluster

MINUTE = 60_000


# -- rule 1 and 2: the ledger --------------------------------------------------


def _world_at(ts: int):
    world = sample_world()
    ledger = Ledger(MemoryStore(), world.genesis)
    drive(ledger, world.envelopes[:1], timestamp=ts)
    return world, ledger


def _resign(world, data: bytes, created_at: int) -> bytes:
    """`data` (a sample world envelope) signed again with another created_at."""
    from ledger.documents import Document, Envelope, make_envelope
    from tests.ledger.factory import SAMPLE_SEEDS

    env = Envelope.from_bytes(data)
    obj = env.doc.to_obj()
    obj["created_at"] = created_at
    doc = Document.from_obj(obj)
    return make_envelope(doc, [(s.signer, SAMPLE_SEEDS[s.signer]) for s in env.sigs]).to_bytes()


def test_apply_rejects_a_document_created_more_than_the_bound_after_its_block_on_every_node():
    ts = 1_800_000_000_000
    world, a = _world_at(ts)
    _, b = _world_at(ts)
    late = _resign(world, world.make_doc(101), ts + MAX_CLOCK_SKEW_MS + 1)
    fine = _resign(world, world.make_doc(102), ts + MAX_CLOCK_SKEW_MS)
    blocks = [drive(ledger, [late, fine], timestamp=ts) for ledger in (a, b)]
    for block in blocks:
        assert [d.status for d in block.documents] == ["rejected", "accepted"]
        assert block.documents[0].reason.startswith("clock_skew: doc.created_at")
    assert blocks[0].header == blocks[1].header


def test_a_proposal_stamped_before_the_previous_block_does_not_extend_the_head():
    ts = 1_800_000_000_000
    world, ledger = _world_at(ts)
    back = BlockProposal(height=2, prev_hash=ledger.head_hash, timestamp=ts - 1, proposer="n1", term=1,
                         envelopes=(world.envelopes[1],))
    same = BlockProposal(height=2, prev_hash=ledger.head_hash, timestamp=ts, proposer="n1", term=1,
                         envelopes=(world.envelopes[1],))
    assert not ledger.is_next(back) and ledger.is_next(same)


def test_admission_refuses_created_at_too_far_ahead_of_the_leaders_clock():
    ts = 1_800_000_000_000
    world, ledger = _world_at(ts)
    now = ts + 10 * MINUTE
    ledger.check_submission(_resign(world, world.make_doc(103), now + MAX_CLOCK_SKEW_MS), at_ms=now)
    with pytest.raises(InvalidInput) as info:
        ledger.check_submission(_resign(world, world.make_doc(104), now + MAX_CLOCK_SKEW_MS + 1), at_ms=now)
    assert info.value.field == "doc.created_at" and "ahead of the leader's clock" in info.value.rule


# -- rule 3: ClockWatch ----------------------------------------------------------


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


NOW = 1_800_000_000_000  # our wall clock in these tests


def _watch(offsets: dict[str, list[int]]) -> tuple[ClockWatch, Monotonic]:
    mono = Monotonic()
    watch = ClockWatch(monotonic=mono)
    for peer, values in offsets.items():
        for value in values:
            watch.observe(peer, NOW + value)
    return watch, mono


def test_offsets_are_medians_of_recent_samples_and_garbage_is_ignored():
    watch, mono = _watch({"n2": [10, 20, 600_000, 30, 25]})
    watch.observe("n2", "late")
    watch.observe("n2", None)
    assert watch.offset_ms("n2", NOW) == 25
    mono.now += 2  # two seconds later by the monotonic clock, and by ours: the same offset
    assert watch.offset_ms("n2", NOW + 2000) == 25
    assert watch.offset_ms("n2", NOW + 2000 + 600_000) == 25 - 600_000  # our clock jumped: seen at once
    mono.now += 4  # older than max_age: no estimate at all
    assert watch.offset_ms("n2", NOW + 6000) is None and watch.offsets(NOW + 6000) == {}


@pytest.mark.parametrize("voters,offsets,off,agreed", [
    (["n1", "n2", "n3"], {"n2": -600_000, "n3": -600_000}, True, False),   # we are 10 min fast
    (["n1", "n2", "n3"], {"n2": 600_000, "n3": 599_000}, True, False),     # we are 10 min slow
    (["n1", "n2", "n3"], {"n2": 600_000, "n3": 1_000}, False, True),       # n2 is the odd one
    (["n1", "n2", "n3"], {"n2": 600_000}, False, False),                   # one sample: no verdict
    (["n1", "n2", "n3"], {}, False, False),                                # no samples yet
    (["n1"], {}, False, True),                                             # alone: nobody to disagree
    (["n1", "n2", "n3", "n4", "n5"], {"n2": 9e5, "n3": 9e5, "n4": 9e5, "n5": 0}, True, False),
    (["n1", "n2", "n3", "n4", "n5"], {"n2": 9e5, "n3": 9e5, "n4": 0, "n5": 0}, False, True),
])
def test_off_and_agreed_verdicts(voters, offsets, off, agreed):
    watch, _ = _watch({p: [int(o)] for p, o in offsets.items()})
    assert watch.is_off("n1", voters, NOW) is off
    assert watch.is_agreed("n1", voters, NOW) is agreed


def test_handover_goes_to_the_peers_the_majority_agrees_with():
    watch, _ = _watch({"n2": [-600_000], "n3": [-601_000], "n4": [-598_000], "n5": [0]})
    assert watch.handover_targets("n1", ["n1", "n2", "n3", "n4", "n5"], NOW) == ["n2", "n3", "n4"]


def test_the_injected_offset_is_read_from_its_file_and_follows_changes(tmp_path):
    path = tmp_path / "offset"
    clock = Clock(str(path), wall=lambda: 1000.0)
    assert clock.now_ms() == 1_000_000  # no file: no offset
    path.write_text("600000")
    clock._checked = -1.0
    assert clock.now_ms() == 1_600_000
    path.write_text("-5000\n")
    os.utime(path, ns=(1, 1))
    clock._checked = -1.0
    assert clock.now_ms() == 995_000
    path.write_text("garbage")
    os.utime(path, ns=(2, 2))
    clock._checked = -1.0
    assert clock.now_ms() == 1_000_000


# -- rule 3 and 4 on a real cluster ---------------------------------------------


def _make_leader(cluster: Cluster, node: str, tries: int = 12) -> None:
    """Stop whoever leads (SIGTERM, then restart it with the same environment) until `node` leads."""
    import signal

    for _ in range(tries):
        leader = cluster.wait_leader()[0]
        if leader == node:
            return
        cluster.kill(leader, signal.SIGTERM)
        cluster.wait_for(lambda: (found := cluster.leader()) and found[0] != leader, 60, what="a new leader")
        cluster.start(leader)
    raise AssertionError(f"{node} never became leader")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_leader_ten_minutes_fast_stamps_nothing_hands_leadership_over_and_warns(tmp_path, monkeypatch):
    cluster = Cluster(tmp_path / "cluster", voters=3)
    offsets = {n: tmp_path / f"clock-{n}" for n in cluster.nodes}
    for path in offsets.values():
        path.write_text("0")
    fast = "n1"
    try:
        start = cluster.start

        def start_with_clock(node: str, **kwargs):  # each node reads its own offset file
            monkeypatch.setenv(OFFSET_FILE_ENV, str(offsets[node]))
            try:
                return start(node, **kwargs)
            finally:
                monkeypatch.delenv(OFFSET_FILE_ENV)

        cluster.start = start_with_clock
        cluster.start_all()
        _make_leader(cluster, fast)
        assert cluster.submit(fast, cluster.org.minutes(CELLS[0]).to_bytes(), wait=True).status_code == 200

        jumped = int(time.time() * 1000)
        offsets[fast].write_text(str(10 * MINUTE))
        acked = []
        deadline = time.monotonic() + 120  # generous: the property is who stamps, not how fast
        while len(acked) < 6 and time.monotonic() < deadline:  # submissions keep coming, to the fast node too
            r = cluster.submit(fast if len(acked) % 2 else (cluster.leader() or (fast, 0))[0],
                               cluster.org.minutes(CELLS[len(acked) % len(CELLS)]).to_bytes(), wait=True, timeout=10)
            if r.status_code == 200:
                acked.append(r.json()["receipt"]["block"]["header_fields"])
            else:
                assert r.status_code in (503, 504), r.text
                time.sleep(0.2)
        assert len(acked) == 6
        leader = cluster.wait_leader()[0]
        assert leader != fast, f"the fast node kept leading: {cluster.status(fast)}"
        assert cluster.metric(fast, "minutebook_clock_off") == 1
        st = cluster.status(fast)
        assert st["clock"]["verdict"] == "off" and st["role"] != "leader"
        real = int(time.time() * 1000)
        for block in cluster.all_blocks(leader):
            fields = block["header_fields"]
            assert fields["timestamp"] <= real + MAX_CLOCK_SKEW_MS, fields  # nothing stamped 10 minutes ahead
            if fields["timestamp"] > jumped + 1000:
                assert fields["proposer"] != fast, fields

        offsets[fast].write_text("0")  # the clock is fixed: the node agrees again
        cluster.wait_for(lambda: cluster.metric(fast, "minutebook_clock_off") == 0, 60, what="the metric clearing")
        cluster.wait_for(lambda: (cluster.status(fast) or {}).get("clock", {}).get("verdict") == "agreed", 60,
                         what="n1 agreed again")
        assert cluster.submit(fast, cluster.org.minutes(CELLS[1]).to_bytes(), wait=True).status_code == 200
    finally:
        cluster.close()
