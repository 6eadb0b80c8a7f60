"""Member timelines and lists, checked against the raw documents, page by page."""

from __future__ import annotations

import pytest

from ledger.errors import InvalidInput, NotFound
from tests.ledger.factory import DAY, T0
from views import member_documents, member_timeline, unit_documents, unit_members
from views.records import members_named

from .expected import _names
from .world import build_world


@pytest.fixture(scope="module")
def world():
    return build_world(23, blocks=10, per_block=25)


def every_page(fetch, key: str, limit: int) -> list:
    items, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor=cursor, limit=limit)
        assert len(page[key]) <= limit
        items += page[key]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 10_000


def test_timelines_hold_every_entry_in_date_order(world, expected):
    members = {m for entries in expected.entries.values() for m, _ in entries}
    checked = 0
    with world.views.reader() as r:
        for member in sorted(members):
            want = expected.timeline(member)
            got = every_page(lambda **kw: member_timeline(r, member, **kw), "entries", limit=3)
            assert got == want, member
            checked += len(want)
    kinds = {e["kind"] for entries in expected.entries.values() for _, (*_, e) in entries}
    assert {"status", "attendance", "opinion", "finding"} <= kinds and checked > 200


def test_a_units_documents_by_type_and_period(world, expected):
    since, until = T0 - 200 * DAY, T0 - 50 * DAY
    records = expected.listed.values()
    with world.views.reader() as r:
        for unit in sorted(expected.units):
            mine = sorted((d, leaf, doc_id, t) for u, t, d, leaf, doc_id, _ in records if u == unit)
            got = every_page(lambda **kw: unit_documents(r, unit, **kw), "items", limit=7)
            assert [(i["date"], i["leaf_index"], i["doc_id"], i["type"]) for i in got] == mine
            minutes = [m for m in mine if m[3] == "minutes" and since <= m[0] <= until]
            got = every_page(lambda **kw: unit_documents(r, unit, type="minutes", since=since, until=until, **kw),
                             "items", limit=4)
            assert [(i["date"], i["leaf_index"], i["doc_id"], i["type"]) for i in got] == minutes
            newest = every_page(lambda **kw: unit_documents(r, unit, newest_first=True, **kw), "items", limit=5)
            assert [i["doc_id"] for i in newest] == [m[2] for m in reversed(mine)]


def test_a_members_documents(world, expected):
    with world.views.reader() as r:
        for member in sorted(expected.state)[:40]:
            mine = sorted((d, leaf, doc_id, names[member]) for _, _, d, leaf, doc_id, names in expected.listed.values()
                          if member in names)
            got = every_page(lambda **kw: member_documents(r, member, **kw), "items", limit=3)
            assert [(i["date"], i["leaf_index"], i["doc_id"], i["as"]) for i in got] == mine


def test_a_units_members_by_status(world, expected):
    with world.views.reader() as r:
        for unit in sorted(expected.units):
            want = sorted((status, member) for member, (u, status) in expected.state.items() if u == unit)
            got = every_page(lambda **kw: unit_members(r, unit, **kw), "items", limit=2)
            assert [(i["status"], i["member_id"]) for i in got] == want
            for status in ("probationary", "full", "suspended"):
                got = every_page(lambda **kw: unit_members(r, unit, status=status, **kw), "items", limit=2)
                assert [i["member_id"] for i in got] == [m for s, m in want if s == status]


def test_bad_cursors_and_unknown_units_are_named(world):
    with world.views.reader() as r:
        with pytest.raises(InvalidInput) as bad:
            unit_documents(r, "central", cursor="not-a-cursor!")
        assert bad.value.field == "cursor"
        with pytest.raises(InvalidInput) as short:
            member_timeline(r, "sec-central", cursor="AAAA")
        assert short.value.field == "cursor"
        with pytest.raises(NotFound):
            unit_documents(r, "central/nowhere")
        with pytest.raises(NotFound):
            member_documents(r, "nobody")
        with pytest.raises(InvalidInput) as backwards:
            unit_documents(r, "central", since=T0, until=T0 - 1)
        assert backwards.value.field == "since"


def test_members_named_is_the_rule_restated(world):
    """views.records.members_named and the test's restatement agree on every record."""
    from views.projection import Record

    for a in world.accepted():
        record = Record(record_id=a.doc_id, doc_id=a.doc_id, leaf=a.leaf, type=a.doc.type, org=a.doc.org,
                        body=a.doc.body, created_at=a.doc.created_at, signers=a.signers, height=a.height,
                        block_time=a.block_time)
        assert members_named(record) == _names(a.doc, a.signers)


def test_a_scope_filters_lists_and_timelines_item_by_item(world, expected):
    """Access rules hand the queries a predicate over the served items; what it refuses is left
    out, not padded, and paging still walks every item."""
    in_p1 = lambda item: item.get("unit", item.get("org", "")).startswith("central/p1")  # noqa: E731
    with world.views.reader() as r:
        for member in sorted(expected.state)[:30]:
            every = every_page(lambda **kw: member_documents(r, member, **kw), "items", limit=50)
            scoped = every_page(lambda **kw: member_documents(r, member, keep=in_p1, **kw), "items", limit=3)
            assert scoped == [i for i in every if in_p1(i)]
            timeline = every_page(lambda **kw: member_timeline(r, member, **kw), "entries", limit=50)
            scoped = every_page(lambda **kw: member_timeline(r, member, keep=in_p1, **kw), "entries", limit=3)
            assert scoped == [e for e in timeline if in_p1(e)]
        not_minutes = lambda item: item["type"] != "minutes"  # noqa: E731
        every = every_page(lambda **kw: unit_documents(r, "central/p1/k1/s1", **kw), "items", limit=50)
        scoped = every_page(lambda **kw: unit_documents(r, "central/p1/k1/s1", keep=not_minutes, **kw), "items",
                            limit=2)
        assert scoped == [i for i in every if not_minutes(i)] and len(scoped) < len(every)
