"""The pieces the views' apply cost rests on, against plain models: a roster entry's active
spans, the writer's shared and worked-on values, and the cache kept between blocks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.store import MemoryStore
from views.keys import pack, unpack
from views.members import _set_span, on_roster
from views.projection import ValueCache, Writer

TIMES = st.integers(min_value=-50, max_value=50)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TIMES, st.one_of(st.none(), TIMES), st.booleans()), max_size=12))
def test_a_roster_entry_is_the_set_of_dates_its_spans_put_it_on(changes):
    """After any sequence of "on over [start, end)" / "off over [start, end)", a date is on the
    roster exactly when the last change covering it put it on; boundaries stay strictly sorted."""
    spans: list[int] = []
    model: dict[int, bool] = {}
    probes = range(-60, 61)
    for start, end, inside in changes:
        if end is not None and end <= start:
            continue
        spans = _set_span(spans, start, end, inside)
        for t in probes:
            if t >= start and (end is None or t < end):
                model[t] = inside
        assert spans == sorted(set(spans))
        assert all(on_roster(spans or None, t) == model.get(t, False) for t in probes)


def writer(store, cache=None) -> Writer:
    return Writer(store, lambda leaf: None, None, cache)


def test_read_serves_the_batch_and_never_a_value_written_since():
    store, cache = MemoryStore(), ValueCache()
    store.write({b"w/aa/k": pack({"n": 1})})
    w = writer(store, cache)
    assert w.read(b"w/aa/k") == {"n": 1}
    w.put_obj(b"w/aa/k", {"n": 2})
    assert w.read(b"w/aa/k") == {"n": 2}  # this batch's write, not the decoded committed value
    changes = w.drain()
    store.write(changes)
    cache.learn(changes)
    assert writer(store, cache).read(b"w/aa/k") == {"n": 2}


def test_a_batch_that_never_commits_leaves_the_cache_as_committed():
    store, cache = MemoryStore(), ValueCache()
    store.write({b"w/aa/k": pack(1)})
    w = writer(store, cache)
    assert w.read(b"w/aa/k") == 1
    w.put_obj(b"w/aa/k", 2)
    w.drain()  # staged, then the block's commit fails: learn() is never called
    assert writer(store, cache).read(b"w/aa/k") == 1


def test_learn_updates_the_cached_keys_and_leaves_out_the_rest():
    store, cache = MemoryStore(), ValueCache()
    w = writer(store, cache)
    assert w.get(b"w/aa/read") is None
    cache.learn({b"w/aa/read": b"x", b"w/aa/never-read": b"y"})
    assert cache.committed == {b"w/aa/read": b"x"}


def test_a_worked_on_value_is_read_changed_and_packed_once_at_drain():
    store = MemoryStore()
    store.write({b"w/aa/roll": pack({"count": 1})})
    w = writer(store)
    value = w.working(b"w/aa/roll", dict, lambda v: dict(sorted(v.items())))
    value["count"] += 1
    value["b"] = 0
    assert w.working(b"w/aa/roll", dict) is value and w.read(b"w/aa/roll") is value
    assert unpack(w.get(b"w/aa/roll")) == {"b": 0, "count": 2}
    changes = w.drain()
    assert list(unpack(changes[b"w/aa/roll"])) == ["b", "count"]  # as `final` made it
    fresh = writer(store)
    fresh.working(b"w/aa/new", lambda: {"made": True})
    assert unpack(fresh.drain()[b"w/aa/new"]) == {"made": True}


def test_a_scan_sees_the_keys_put_before_and_after_it_first_looked():
    store = MemoryStore()
    store.write({b"w/aa/2": b"s"})
    w = writer(store)
    w.put(b"w/aa/1", b"p")
    assert [k for k, _ in w.scan(b"w/aa/")] == [b"w/aa/1", b"w/aa/2"]
    w.put(b"w/aa/3", b"q")
    w.delete(b"w/aa/2")
    assert [k for k, _ in w.scan(b"w/aa/")] == [b"w/aa/1", b"w/aa/3"]
