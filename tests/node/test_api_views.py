"""The read-model routes over HTTP: stats, lists, member profiles; and the faults of issue 7
(3, 4, 7, 8, 9) and issue 13 (item 2) as the issues state them, each failing on the code
before the views."""

from __future__ import annotations

import time

import msgpack
import pytest
from ledger.jsonfmt import b64e
from ledger.keys import public_key
from node.api import create_app
from tests.ledger.factory import make_org

from .service_double import ServiceDouble, key_file, signed_client

DAY = 86_400_000
MSGPACK = {"Accept": "application/msgpack"}
CELL = "central/p1/k1/s1"
BIG_CELL = "central/p2/k1/s2"
ROOT_SECRETARY = "sec-central"


def _org_with_a_cell_of_14():
    org = make_org(3)
    for i in range(4, 13):  # the cell's 5 members and 9 more: 14
        member = f"m-{BIG_CELL.replace('/', '.')}-{i}"
        org.seeds[member] = org.new_seed(member)
        org.member_unit[member] = BIG_CELL
        org.genesis["members"].append({"member_id": member, "unit": BIG_CELL, "status": "full", "roles": [],
                                       "public_key": b64e(public_key(org.seeds[member]))})
    return org


def _minutes(org, unit: str, held: int, attendees: list[dict], *, n: int, votes=(), opinions=(), kind="regular"):
    body = {"meeting_id": f"{unit}/{n}", "kind": kind, "held_at": held, "scheduled_for": held, "mode": "in_person",
            "chair": ROOT_SECRETARY, "secretary": ROOT_SECRETARY, "attendees": attendees, "agenda": ["kế hoạch"],
            "opinions": list(opinions), "votes": list(votes), "decisions": [], "text": f"Biên bản {n}"}
    return org.envelope("minutes", unit, body, [ROOT_SECRETARY], created_at=held + 1000)


@pytest.fixture(scope="module")
def api():
    """A node over an organisation whose meetings are dated relative to the real clock (the
    route's `now`): every cell met five days ago except one last met 60 days ago and one never."""
    org = _org_with_a_cell_of_14()
    now = int(time.time() * 1000)
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=now)  # no document from its block's future
    cells = sorted(u["path"] for u in org.genesis["units"] if u["path"].count("/") == 3)
    docs, n = [], 0
    for cell in cells:
        if cell == "central/p2/k1/s1":
            continue  # never met
        n += 1
        held = now - (60 if cell == "central/p1/k2/s2" else 5) * DAY
        members = sorted(m for m, u in org.member_unit.items() if u == cell)
        if cell == BIG_CELL:  # fault 3: the minutes list 2 of the cell's 14 members, both present
            listed = [{"member": m, "present": True} for m in members[:2]]
            votes = [{"motion": "thông qua", "for": 2, "against": 0, "abstain": 0}]
            docs.append(_minutes(org, cell, held, listed, n=n, votes=votes))
            continue
        absent = org.plain(cell, 2)
        attendees = [{"member": m, "present": m != absent} | ({"reason": "ốm"} if m == absent else {})
                     for m in members]
        opinions = [{"member": org.plain(cell, 1), "topic": "kế hoạch", "summary": "nhất trí"}]
        docs.append(_minutes(org, cell, held, attendees, n=n, opinions=opinions))
    service.apply([e.to_bytes() for e in docs])
    finding = {"inspection_id": "KT-1", "subject": {"member": org.plain(CELL)}, "finding": "vắng họp",
               "severity": "major", "recommendations": []}
    training = {"member": org.plain(CELL), "kind": "political_theory", "title": "Trung cấp lý luận chính trị",
                "institution": "Trường Chính trị tỉnh", "started_at": now - 300 * DAY, "completed_at": now - 20 * DAY}
    service.apply([org.member_status(org.plain(CELL), "made_full", effective_at=now - 30 * DAY).to_bytes(),
                   org.envelope("inspection_finding", "central/p1/k1", finding, [org.inspector("central/p1/k1")],
                                created_at=now - DAY).to_bytes(),
                   org.envelope("profile_entry", CELL, training, [org.secretary(CELL)], created_at=now - DAY).to_bytes()])
    client = signed_client(create_app(service), key_file("n1", org.node_seeds["n1"], node=True))  # reads everything
    return org, service, client, now


def test_attendance_counts_against_the_roll_and_flags_short_lists(api):
    """Issue 7 fault 3: minutes listing 2 of a cell's 14 members showed 100%, and vote
    participation was ballots over those present. Now: 2 of 14 against the roll, 2 of 2 against
    the list, the minutes flagged, participation 2 of 14 eligible."""
    _, _, client, _ = api
    s = client.get(f"/v1/orgs/{BIG_CELL}/stats").json()
    a, v = s["attendance"], s["votes"]
    assert a["roll"] == {"present": 2, "members": 14, "rate": 2 / 14}
    assert a["listed"] == {"present": 2, "listed": 2, "rate": 1.0}
    assert a["minutes_leaving_out_roll_members"] == 1 and a["roll_members_left_out"] == 12
    assert v == {"motions": 1, "ballots": 2, "eligible": 14, "participation": 2 / 14}


def test_overdue_counts_at_now_when_the_period_ends_later(api):
    """Issue 7 fault 4: a period ending in the future marked every unit overdue, committees
    included, and an overdue cell's row gave no last meeting."""
    _, _, client, now = api
    s = client.get(f"/v1/orgs/central/stats?until={now + 365 * DAY}").json()
    assert s["as_of"] <= int(time.time() * 1000) < now + DAY
    cells = {u["path"]: u["last_regular_meeting"] for u in s["overdue_units"]["cells"]}
    assert cells == {"central/p2/k1/s1": None, "central/p1/k2/s2": now - 60 * DAY}
    committees = [u["path"] for u in s["overdue_units"]["committees"]]
    assert committees and not set(committees) & set(cells) and "central" in committees
    assert s["overdue"] == {"cells": 2, "committees": len(committees)}
    p1 = next(row for row in s["children"] if row["path"] == "central/p1")
    assert p1["overdue"]["cells"] == 1


def test_rows_add_up_and_the_units_own_records_have_a_row(api):
    """Issue 11: the children rows did not add up to the header (a committee's own meetings had no row)."""
    _, _, client, _ = api
    s = client.get("/v1/orgs/central/p1/k1/stats").json()
    rows = s["children"]
    assert rows[0]["path"] == "central/p1/k1" and rows[0]["own"] is True
    for figure in ("held", "regular", "on_time"):
        assert sum(r["meetings"][figure] for r in rows) == s["meetings"][figure]
    assert sum(r["attendance"]["roll"]["members"] for r in rows) == s["attendance"]["roll"]["members"]
    assert sum(r["inspection_findings"]["major"] for r in rows) == s["inspection_findings"]["major"] == 1


def test_stats_take_iso_dates_and_give_monthly_series(api):
    _, _, client, now = api
    from ledger.timefmt import format_date, month_of

    since = format_date(now - 100 * DAY)
    s = client.get(f"/v1/orgs/central/stats?since={since}&until={format_date(now)}&by=month").json()
    months = [m["month"] for m in s["series"]]
    assert months[0] == month_of(now - 100 * DAY) and months[-1] == month_of(now) and len(months) == s["months"]["count"]
    assert sum(m["meetings"]["held"] for m in s["series"]) == s["meetings"]["held"] > 0
    assert "series" not in client.get("/v1/orgs/central/stats").json()


@pytest.mark.parametrize("query, field", [
    ("since=-99999999999999999999", "since"),      # issue 13 item 2: echoed and overflowed msgpack (500)
    ("until=99999999999999999999", "until"),
    ("since=10000-01-01", "since"),
    ("since=2026-13-01", "since"),
    ("since=2026-06-01&until=2026-01-01", "since"),
    ("since=1900-01-01&until=2026-01-01", "since"),  # more than MAX_MONTHS
    ("by=week", "by"),
])
def test_bad_stats_queries_are_400_naming_the_field_in_json_and_msgpack(api, query, field):
    _, _, client, _ = api
    for headers in ({}, MSGPACK):
        r = client.get(f"/v1/orgs/central/stats?{query}", headers=headers)
        assert r.status_code == 400, (query, r.status_code, r.content[:200])
        body = msgpack.unpackb(r.content) if headers else r.json()
        assert body["error"] == "invalid_input" and body["field"] == field


def test_lists_of_a_units_documents_and_members_and_a_members_documents(api):
    """Issue 7 fault 8: there was no way to list a unit's minutes, findings or members, or a
    member's documents."""
    org, _, client, _ = api
    minutes = client.get(f"/v1/orgs/{CELL}/documents?type=minutes").json()
    assert [i["type"] for i in minutes["items"]] == ["minutes"] and minutes["next_cursor"] is None
    everything = client.get(f"/v1/orgs/{CELL}/documents").json()["items"]
    assert {i["type"] for i in everything} == {"minutes", "member_status", "inspection_finding", "profile_entry"}
    assert [i["date"] for i in everything] == sorted(i["date"] for i in everything)
    first = client.get(f"/v1/orgs/{CELL}/documents?limit=1").json()
    rest = client.get(f"/v1/orgs/{CELL}/documents?limit=5&cursor={first['next_cursor']}").json()
    assert [i["doc_id"] for i in first["items"] + rest["items"]] == [i["doc_id"] for i in everything]
    members = client.get(f"/v1/orgs/{CELL}/members?status=full").json()
    assert org.plain(CELL) in [m["member_id"] for m in members["items"]]
    assert all(m["status"] == "full" for m in members["items"])
    mine = client.get(f"/v1/members/{org.plain(CELL)}/documents").json()
    assert {i["type"] for i in mine["items"]} == {"member_status", "inspection_finding", "profile_entry"}
    assert all(i["as"] == "subject" for i in mine["items"])


@pytest.mark.parametrize("path, field", [
    (f"/v1/orgs/{CELL}/documents?limit=0", "limit"),
    (f"/v1/orgs/{CELL}/documents?limit=501", "limit"),
    (f"/v1/orgs/{CELL}/documents?cursor=%%%", "cursor"),
    (f"/v1/orgs/{CELL}/documents?type=Minutes", "type"),
    (f"/v1/orgs/{CELL}/documents?order=up", "order"),
    (f"/v1/orgs/{CELL}/documents?since=yesterday", "since"),
    (f"/v1/orgs/{CELL}/members?status=dismissed", "status"),
    ("/v1/orgs/Central/stats", "path"),
    ("/v1/members/bad%20id/documents", "member_id"),
    ("/v1/members/bad%20id", "member_id"),
])
def test_bad_list_queries_are_400_naming_the_field(api, path, field):
    _, _, client, _ = api
    r = client.get(path)
    assert r.status_code == 400 and r.json()["field"] == field, (path, r.json())


@pytest.mark.parametrize("path", ["/v1/orgs/central/nowhere/stats", "/v1/orgs/central/nowhere/documents",
                                  "/v1/orgs/central/nowhere/members", "/v1/members/nobody/documents",
                                  "/v1/members/nobody", "/v1/orgs/central/nowhere"])
def test_unknown_units_and_members_are_404(api, path):
    _, _, client, _ = api
    assert client.get(path).status_code == 404


def test_member_profile_has_one_timeline_with_attendance_and_opinions(api):
    """Issue 7 fault 7: a member's profile had no training or education entries, and GET
    /v1/members/{id} showed status changes only (no attendance, no opinions)."""
    org, _, client, _ = api
    member = org.plain(CELL, 1)  # made full, trained, spoke at the meeting, the subject of a finding
    body = client.get(f"/v1/members/{member}").json()
    assert body["member"]["member_id"] == member and body["member"]["unit"] == CELL
    assert body["member"]["status"] == "full"
    assert body["member"]["keys"] and body["member"]["keys"][0]["revoked_at"] is None
    timeline = body["timeline"]
    assert sorted(e["kind"] for e in timeline) == ["attendance", "finding", "opinion", "profile", "status"]
    profile = next(e for e in timeline if e["kind"] == "profile")
    assert (profile["entry"], profile["title"], profile["date"]) == (
        "political_theory", "Trung cấp lý luận chính trị", profile["completed_at"])
    assert [e["date"] for e in timeline] == sorted(e["date"] for e in timeline)
    assert next(e for e in timeline if e["kind"] == "status")["change"] == "made_full"
    assert next(e for e in timeline if e["kind"] == "finding")["severity"] == "major"
    assert next(e for e in timeline if e["kind"] == "opinion")["topic"] == "kế hoạch"
    for entry in timeline:
        assert client.get(f"/v1/documents/{entry['doc_id']}").json()["status"] == "accepted"
    absent = client.get(f"/v1/members/{org.plain(CELL, 2)}").json()["timeline"]
    assert [(e["kind"], e["present"], e.get("reason")) for e in absent] == [("attendance", False, "ốm")]
    page = client.get(f"/v1/members/{member}?limit=1").json()
    assert len(page["timeline"]) == 1 and page["next_cursor"]
    rest = client.get(f"/v1/members/{member}?limit=10&cursor={page['next_cursor']}").json()
    assert page["timeline"] + rest["timeline"] == timeline and rest["next_cursor"] is None


class CountingStore:
    """A store that counts the keys read through it (and through its snapshots)."""

    def __init__(self, inner, counter: list) -> None:
        self.inner, self.counter = inner, counter

    def get(self, key):
        self.counter[0] += 1
        return self.inner.get(key)

    def scan(self, prefix, **kwargs):
        for item in self.inner.scan(prefix, **kwargs):
            self.counter[0] += 1
            yield item

    def write(self, changes):
        self.inner.write(changes)

    def snapshot(self):
        return CountingStore(self.inner.snapshot(), self.counter)

    def close(self):
        pass


def test_a_stats_query_reads_as_many_keys_at_three_times_the_documents(api):
    """Issue 7 fault 9: stats rescanned every document of the subtree on each query. The root's
    answer reads per-unit, per-month keys: the same number at 1x and 3x the documents."""
    from ledger.store import MemoryStore

    org = make_org(4)
    now = int(time.time() * 1000)
    counter = [0]
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=now,
                            store=CountingStore(MemoryStore(), counter))
    client = signed_client(create_app(service), key_file("n1", org.node_seeds["n1"], node=True))
    cells = sorted(u["path"] for u in org.genesis["units"] if u["path"].count("/") == 3)
    n = 0

    def load(rounds: int) -> None:
        nonlocal n
        for _ in range(rounds):
            docs = []
            for cell in cells:
                for month in range(6):
                    n += 1
                    members = sorted(m for m, u in org.member_unit.items() if u == cell)
                    docs.append(_minutes(org, cell, now - (month * 30 + 3) * DAY - n,
                                         [{"member": m, "present": True} for m in members], n=n))
            service.apply([e.to_bytes() for e in docs])

    def reads() -> int:
        counter[0] = 0
        assert client.get("/v1/orgs/central/stats").status_code == 200
        return counter[0]

    load(1)
    at_1x = reads()
    load(2)
    at_3x = reads()
    assert client.get("/v1/orgs/central/stats").json()["meetings"]["held"] >= 3 * len(cells) * 5
    assert at_3x == at_1x


def _as(api, member: str):
    org, service, _, _ = api
    return signed_client(create_app(service), key_file(member, org.seeds[member]))


def test_a_secretary_reads_their_subtree_without_findings_or_discipline(api):
    """Access (issue 8) on the views' routes: a cell secretary gets their cell's figures with the
    findings withheld, is refused another cell's, and their lists and timelines leave out findings."""
    org, _, client, _ = api
    secretary = _as(api, org.secretary(CELL))
    mine = secretary.get(f"/v1/orgs/{CELL}/stats?by=month").json()
    assert "inspection_findings" not in mine and "inspection_findings" not in mine["children"][0]
    assert all("inspection_findings" not in m for m in mine["series"]) and mine["withheld"]
    assert mine["meetings"] == client.get(f"/v1/orgs/{CELL}/stats").json()["meetings"]
    other = secretary.get(f"/v1/orgs/{BIG_CELL}/stats")
    assert other.status_code == 403 and other.json()["error"] == "out_of_scope"
    for path in (f"/v1/orgs/{BIG_CELL}/documents", f"/v1/orgs/{BIG_CELL}/members", f"/v1/orgs/{BIG_CELL}"):
        assert secretary.get(path).status_code == 403, path
    listed = {i["type"] for i in secretary.get(f"/v1/orgs/{CELL}/documents").json()["items"]}
    assert "inspection_finding" not in listed and "minutes" in listed
    assert "inspection_finding" in {i["type"] for i in client.get(f"/v1/orgs/{CELL}/documents").json()["items"]}
    subject = org.plain(CELL)
    kinds = [e["kind"] for e in secretary.get(f"/v1/members/{subject}").json()["timeline"]]
    assert "finding" not in kinds and "attendance" in kinds
    theirs = [i["type"] for i in secretary.get(f"/v1/members/{subject}/documents").json()["items"]]
    assert "inspection_finding" not in theirs
    inspector = _as(api, org.inspector("central/p1/k1"))
    assert "finding" in [e["kind"] for e in inspector.get(f"/v1/members/{subject}").json()["timeline"]]
    assert inspector.get(f"/v1/orgs/{CELL}/stats").json()["inspection_findings"]["major"] == 1


def test_the_views_routes_need_a_signed_request(api):
    org, service, _, _ = api
    from fastapi.testclient import TestClient

    nobody = TestClient(create_app(service), raise_server_exceptions=False)
    for path in (f"/v1/orgs/{CELL}/stats", f"/v1/orgs/{CELL}/documents", f"/v1/orgs/{CELL}/members",
                 f"/v1/members/{org.plain(CELL)}/documents", f"/v1/members/{org.plain(CELL)}"):
        assert nobody.get(path).status_code == 401, path
