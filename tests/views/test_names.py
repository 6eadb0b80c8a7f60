"""views/names.py: search by name finds every unit and member of a generated organisation by
the words of its name, with or without diacritics, in any case and order, from its first
letters; it finds nothing that does not match, and stays within its bound."""

from __future__ import annotations

import pytest

from views.names import MAX_SCAN, fold, search_names

from .world import build_world


@pytest.fixture(scope="module")
def world():
    return build_world(8, blocks=12, per_block=25)


def recorded_names(world) -> dict[tuple[str, str], str]:
    """(kind, id) -> name, made straight from genesis and the accepted documents."""
    names = {("unit", u["path"]): u["name"] for u in world.org.genesis["units"]}
    names |= {("member", m["member_id"]): m["name"] for m in world.org.genesis["members"] if m.get("name")}
    for a in world.accepted():
        body = a.doc.body
        if a.doc.type == "org_unit" and body["action"] == "create":
            names[("unit", body["path"])] = body["name"]
        elif a.doc.type == "member_status" and body["change"] == "admitted" and body.get("name"):
            names[("member", body["member"])] = body["name"]
    return names


def test_fold_drops_diacritics_and_case_and_splits_words():
    assert fold("Nguyễn Văn Ân") == ["nguyen", "van", "an"]
    assert fold("ĐẶNG  thị  Hường") == fold("dang thi huong") == ["dang", "thi", "huong"]
    assert fold("Chi bộ thôn Lũng Cú, xã 3") == ["chi", "bo", "thon", "lung", "cu", "xa", "3"]
    assert fold("Nguye\u0302\u0303n") == ["nguyen"]  # decomposed input folds alike
    assert fold("  --  ") == []


def test_every_recorded_name_is_found_by_its_words(world):
    names = recorded_names(world)
    assert len([k for k in names if k[0] == "member"]) >= 10 and len([k for k in names if k[0] == "unit"]) > 5
    with world.views.reader() as r:
        for (kind, ident), name in names.items():
            found = search_names(r, name, limit=500)["results"]
            assert {"kind": kind, "id": ident, "name": name} in found, (kind, ident, name)
            for hit in found:  # every hit has each word of the query beginning one of its words
                assert all(any(w.startswith(q) for w in fold(hit["name"])) for q in fold(name))


def test_partial_words_without_diacritics_in_any_order(world):
    names = recorded_names(world)
    with world.views.reader() as r:
        for (kind, ident), name in list(names.items())[:40]:
            words = fold(name)
            query = " ".join(w[: max(1, len(w) - 1)].upper() for w in reversed(words))
            expected = {k for k, n in names.items()
                        if all(any(w.startswith(q) for w in fold(n)) for q in fold(query))}
            got = {(h["kind"], h["id"]) for h in search_names(r, query, limit=500)["results"]}
            assert got == expected and (kind, ident) in got, query


def test_no_words_no_results_and_a_wide_query_says_it_was_cut(world):
    with world.views.reader() as r:
        assert search_names(r, "— …") == {"results": [], "complete": True}
        assert search_names(r, "zzzqqq")["results"] == []
        units = [h for h in search_names(r, "cell", limit=3)["results"]]
        assert len(units) == 3 and all(h["kind"] == "unit" for h in units)
        assert search_names(r, "cell", limit=3)["complete"] is False  # more than 3 match
    assert MAX_SCAN >= 1000
