"""The views are a fold over the blocks: fed incrementally (each block's own batch), replayed
when a store meets the views late, or rebuilt on purpose (`minutebook views rebuild`), they
hold byte-identical ``w/`` contents; and they never miss or double a block."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from client.cli import main
from ledger.blocks import BlockProposal
from ledger.errors import CorruptionError
from ledger.ledger import Ledger
from ledger.store import LevelDBStore, MemoryStore
from views import Views
from views.projection import K_FORMAT, K_HEIGHT, K_TRAIL_HEIGHT
from views.keys import unbe8

from .world import build_world


def view_keys(store) -> dict[bytes, bytes]:
    return dict(store.scan(b"w/"))


@pytest.fixture(scope="module")
def world():
    return build_world(5, blocks=12, per_block=25)


def test_incremental_and_rebuilt_views_are_byte_identical(world):
    incremental = view_keys(world.ledger.store)
    assert len(incremental) > 500 and unbe8(incremental[K_HEIGHT]) == world.ledger.height
    world.views.rebuild()
    assert view_keys(world.ledger.store) == incremental


def test_a_store_without_views_catches_up_on_open_to_the_same_bytes(world):
    """A node upgraded under an existing ledger: its views are replayed from the blocks on open."""
    store = MemoryStore()
    bare = Ledger(store, world.org.genesis)
    for h in range(1, world.ledger.height + 1):
        bare.apply_block(world.ledger.proposal(h))
    assert view_keys(store) == {}
    seen = []
    Ledger(store, world.org.genesis, observers=[Views(progress=lambda done, total: seen.append((done, total)))])
    assert view_keys(store) == view_keys(world.ledger.store)
    assert seen and seen[-1] == (world.ledger.height, world.ledger.height)


def test_views_behind_the_ledger_replay_only_the_missing_blocks(world):
    store = MemoryStore()
    half = world.ledger.height // 2
    ledger = Ledger(store, world.org.genesis, observers=[Views()])
    for h in range(1, half + 1):
        ledger.apply_block(world.ledger.proposal(h))
    bare = Ledger(store, world.org.genesis)  # a build without views applies the rest
    for h in range(half + 1, world.ledger.height + 1):
        bare.apply_block(world.ledger.proposal(h))
    assert unbe8(store.get(K_HEIGHT)) == half
    replayed = []
    Ledger(store, world.org.genesis, observers=[Views(progress=lambda done, total: replayed.append(done))])
    assert view_keys(store) == view_keys(world.ledger.store)
    assert replayed == [world.ledger.height]


def test_a_format_change_rebuilds(world):
    store = MemoryStore()
    ledger = Ledger(store, world.org.genesis, observers=[Views()])
    for h in range(1, 4):
        ledger.apply_block(world.ledger.proposal(h))
    before = view_keys(store)
    store.write({K_FORMAT: b"\x80", b"w/zz/stray": b"x"})  # another format, and a key it would have left
    Ledger(store, world.org.genesis, observers=[Views()])
    assert view_keys(store) == before


def test_views_ahead_of_the_ledger_is_corruption(world):
    store = MemoryStore()
    Ledger(store, world.org.genesis, observers=[Views()])
    store.write({K_HEIGHT: (5).to_bytes(8, "big")})
    with pytest.raises(CorruptionError):
        Ledger(store, world.org.genesis, observers=[Views()])


def test_a_refused_block_writes_no_view(world):
    """apply_block(vouch=) that refuses the header writes nothing: views included."""
    store = MemoryStore()
    ledger = Ledger(store, world.org.genesis, observers=[Views()])
    before = dict(store.scan(b""))

    def refuse(header):
        raise ValueError("no certificate")

    with pytest.raises(ValueError):
        ledger.apply_block(world.ledger.proposal(1), vouch=refuse)
    assert dict(store.scan(b"")) == before


def test_views_rebuild_command_on_a_stopped_nodes_store(world, tmp_path):
    data_dir = tmp_path / "n1"
    data_dir.mkdir()
    store = LevelDBStore(str(data_dir / "ledger"))
    ledger = Ledger(store, world.org.genesis, observers=[Views()])
    for h in range(1, world.ledger.height + 1):
        ledger.apply_block(world.ledger.proposal(h))
    incremental = view_keys(store)
    store.write({b"w/zz/stray": b"x", K_HEIGHT: (0).to_bytes(8, "big")})  # damage the views
    store.close()
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(world.org.genesis), encoding="utf-8")
    result = CliRunner().invoke(main, ["views", "rebuild", "--data-dir", str(data_dir), "--genesis", str(genesis)])
    assert result.exit_code == 0, result.output
    assert f"views rebuilt to height {world.ledger.height}" in result.output
    reopened = LevelDBStore(str(data_dir / "ledger"))
    try:
        assert view_keys(reopened) == incremental == view_keys(world.ledger.store)
    finally:
        reopened.close()
    missing = CliRunner().invoke(main, ["views", "rebuild", "--data-dir", str(tmp_path), "--genesis", str(genesis)])
    assert missing.exit_code == 2 and "no ledger store" in missing.output


def test_one_block_at_a_time_equals_many_documents_per_block(world):
    """The fold does not depend on how documents were cut into blocks (counters are buffered
    per block, state per document)."""
    envelopes = []  # (envelope, the time of the block that held it: no document may be from a block's future)
    for h in range(1, world.ledger.height + 1):
        proposal = world.ledger.proposal(h)
        envelopes += [(data, proposal.timestamp) for data in proposal.envelopes]
    store = MemoryStore()
    ledger = Ledger(store, world.org.genesis, observers=[Views()])
    for h in range(1, world.ledger.height + 1):
        proposal = world.ledger.proposal(h)
        ledger.apply_block(proposal)
    single = MemoryStore()
    one = Ledger(single, world.org.genesis, observers=[Views()])
    for data, held_at in envelopes:
        head = one.head()
        one.apply_block(BlockProposal(height=one.height + 1, prev_hash=one.head_hash,
                                      timestamp=max((head.timestamp if head else 0) + 1, held_at), proposer="n1",
                                      term=1, envelopes=(data,)))
    a, b = view_keys(store), view_keys(single)
    for heights in (a, b):
        heights.pop(K_HEIGHT), heights.pop(K_TRAIL_HEIGHT)
    # Block times differ between the two cuts: unit creation dates, and what the committee views
    # judge by the ledger's time (unit events, findings waiting for a follow-up); all else is equal.
    by_block_time = (b"w/un/", b"w/de/", b"w/wf/", b"w/wo/")
    differ = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert all(k.startswith(by_block_time) for k in differ), sorted(k for k in differ
                                                                    if not k.startswith(by_block_time))[:5]


def test_catch_up_feeds_the_views_as_applying_does(world):
    """Catch-up applies fetched blocks through apply_block(vouch=): the views see them the same."""
    store = MemoryStore()
    ledger = Ledger(store, world.org.genesis, observers=[Views()])
    seen = []
    for h in range(1, world.ledger.height + 1):
        ledger.apply_block(world.ledger.proposal(h), vouch=lambda header: seen.append(header.height))
    assert seen == list(range(1, world.ledger.height + 1))
    assert view_keys(store) == view_keys(world.ledger.store)
