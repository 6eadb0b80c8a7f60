"""The trailing views (views/projection.py, "Trailing views"): fed behind the block's batch with a
height of their own, they end with the bytes the inline path makes however they are batched, go
on from their own height after a restart, rebuild alone when only their format changes, and the
answers that read them say the height they stand at."""

from __future__ import annotations

import pytest

from ledger.ledger import Ledger
from ledger.store import MemoryStore
from views import Trail, Views
from views.keys import unbe8
from views.projection import K_TRAIL_FORMAT, K_TRAIL_HEIGHT, TRAIL_PREFIX
from views.similarity import P_LINK, SimilarityView, near_duplicates
from views.warnings import warnings_for

from .labelled import build_labelled
from .test_rebuild import view_keys
from .world import build_world

MARK = b"w/zz/untouched"  # under no view's prefix: only a rebuild of every view deletes it


@pytest.fixture(scope="module", params=["labelled", "world"])
def source(request) -> Ledger:
    """A ledger fed with the views inline: near-duplicate copies (labelled), or opinions,
    amendments and withdrawals (world)."""
    if request.param == "labelled":
        return build_labelled(2, families=12, different=20).views.ledger
    return build_world(5, blocks=12, per_block=25).ledger


def _trail_keys(keys: dict, trail: Trail) -> dict:
    return {k: v for k, v in keys.items() if k.startswith(trail.prefixes())}


def _replay(source: Ledger, views: Views, store=None) -> Ledger:
    ledger = Ledger(MemoryStore() if store is None else store, source.genesis, observers=[views])
    for h in range(1, source.height + 1):
        ledger.apply_block(source.proposal(h))
    return ledger


def test_a_deferred_trail_stands_still_until_caught_up_then_holds_the_inline_bytes(source):
    inline = view_keys(source.store)
    views = Views(defer=True)
    ledger = _replay(source, views)
    keys = view_keys(ledger.store)
    own = tuple(p for p in views.trail.prefixes() if p != TRAIL_PREFIX)
    assert any(k.startswith(own) for k in inline)  # the inline path did feed the near-duplicate view
    assert not any(k.startswith(own) for k in keys) and unbe8(keys[K_TRAIL_HEIGHT]) == 0
    main = {k: v for k, v in inline.items() if not k.startswith(views.trail.prefixes())}
    assert {k: v for k, v in keys.items() if not k.startswith(views.trail.prefixes())} == main
    heights = []
    while not views.trail.catch_up(chunk=30, chunks=1):  # about a block a batch
        heights.append(views.trail.height())
    assert len(heights) > 0 and heights == sorted(set(heights)) and heights[-1] < ledger.height
    assert views.trail.height() == ledger.height
    assert view_keys(ledger.store) == inline


def test_a_trail_goes_on_from_its_own_height_after_a_restart(source):
    store = MemoryStore()
    first = Views(defer=True)
    ledger = _replay(source, first, store)
    first.trail.catch_up(chunk=30, chunks=1)
    reached = first.trail.height()
    assert 0 < reached < ledger.height
    again = Views(defer=True)
    Ledger(store, source.genesis, observers=[again])  # opening a deferred trail replays nothing
    assert again.trail.height() == reached
    Ledger(store, source.genesis, observers=[Views()])  # an inline one catches up on open
    assert view_keys(store) == view_keys(source.store)


def test_a_new_trailing_view_version_rebuilds_the_trail_only(source):
    store = MemoryStore()
    _replay(source, Views(), store)
    store.write({MARK: b"1"})

    class Bumped(SimilarityView):
        version = SimilarityView.version + 1

    views = Views(trail=Trail([Bumped()]))
    Ledger(store, source.genesis, observers=[views])
    keys = view_keys(store)
    assert keys.pop(MARK) == b"1"  # the other views were not rebuilt
    assert keys.pop(K_TRAIL_FORMAT) == views.trail.format_record() != source.store.get(K_TRAIL_FORMAT)
    expected = view_keys(source.store)
    del expected[K_TRAIL_FORMAT]
    assert keys == expected


def test_rebuilding_every_view_rebuilds_the_trail_too(source):
    store = MemoryStore()
    views = Views()
    _replay(source, views, store)
    store.write({MARK: b"1"})
    views.rebuild()
    assert view_keys(store) == view_keys(source.store)


def test_answers_from_the_trail_say_the_height_they_stand_at():
    source = build_labelled(3, families=6, different=4).views.ledger
    views = Views(defer=True)
    ledger = _replay(source, views)
    kinds = ("near_duplicate_minutes", "task_past_due")

    def read() -> tuple[dict, dict]:
        with views.reader() as r:
            return (near_duplicates(r, "central"),
                    warnings_for(r, "central", now=10**13, kinds=kinds))

    dup, warned = read()
    assert dup["height"] == 0 and dup["groups"] == []
    assert warned["as_of_height"] == {"near_duplicate_minutes": 0, "task_past_due": ledger.height}
    assert warned["counts"]["near_duplicate_minutes"] == 0
    views.trail.catch_up()
    dup, warned = read()
    assert dup["height"] == ledger.height and len(dup["groups"]) >= 5
    assert warned["as_of_height"] == {"near_duplicate_minutes": ledger.height, "task_past_due": ledger.height}
    assert warned["counts"]["near_duplicate_minutes"] == len(dup["groups"])
    assert any(k.startswith(P_LINK) for k in view_keys(ledger.store))
