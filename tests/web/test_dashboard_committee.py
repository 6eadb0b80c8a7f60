"""The dashboard's committee work (web/js/committee.js) in a real browser: a district's early
warnings, its open directives with how many of its units acknowledged, and its tasks late or due,
each exactly as the node answers them for the reader, in both languages.

The documents go to the in-process node (tests/web/conftest.py ``in_process``) in blocks of their
own: a directive of a district to its cells with an acknowledgement due an hour after it was
issued, one cell acknowledging in time, one late and one not at all; a cell's resolution with a
task long past due (in progress) and one due in three days; an inspection finding about the third
cell that nothing has followed up. The sample's own records add more warnings and late tasks; the
tests compare with the whole answer, and check that what they made is in it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from node.routes.web import WEB_ROOT
from views.warnings import SENSITIVE_KINDS

from .conftest import assert_behaved, open_page, sign_in, wait_ready, watched

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LABELS = {lang: json.loads((WEB_ROOT / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("vi", "en")}
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR, DAY = 3_600_000, 86_400_000
DISTRICT = "central/p1/k2"
CELLS = [f"{DISTRICT}/s{i}" for i in (1, 2, 3)]


def local(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(ZONE).strftime(fmt)


@dataclass(frozen=True)
class Work:
    directive: str
    resolution: str
    finding: str
    ack_due: int
    secretary: str  # the district's secretary: reads its subtree, not its sensitive records

    def api(self, key_file, path: str) -> dict:
        from client.signing import RequestSigner
        from ledger.keys import read_key_file

        with httpx.Client(auth=RequestSigner(read_key_file(key_file)), timeout=30) as http:
            r = http.get(path)
            r.raise_for_status()
            return r.json()


@pytest.fixture(scope="module")
def work(in_process) -> Work:
    from client.sdk import sign_document

    org, service = in_process.org, in_process.service
    anchor = org.anchor_ms
    now = int(time.time() * 1000)

    def signed(doc: dict, *signers: str) -> bytes:
        return sign_document(doc, [(m, org.seed_of(m)) for m in signers])

    def block(*envelopes: bytes) -> list[str]:
        service.apply(list(envelopes))
        entries = service.ledger.block(service.ledger.height)["documents"]
        assert [e["status"] for e in entries] == ["accepted"] * len(envelopes), entries
        return [e["doc_id"] for e in entries]

    secretary = org._officer(DISTRICT, "secretary")
    owner, deputy = org._officer(CELLS[0], "secretary"), org._officer(CELLS[0], "deputy_secretary")
    directive = org._doc("web-committee/directive", "directive", DISTRICT, {
        "number": "05-CT/HU", "title": "Chỉ thị về kiểm điểm cuối năm", "text": "Các chi bộ tổ chức kiểm điểm.",
        "issued_at": anchor, "addressed": {"scope": "level", "kind": "cell"},
        "ack_due": anchor + HOUR, "report_due": now + 30 * DAY}, anchor + 2_100_000)
    resolution = org._doc("web-committee/resolution", "resolution", CELLS[0], {
        "number": "12-NQ/CB", "title": "Nghị quyết về làm đường liên thôn", "text": "Chi bộ thống nhất làm đường.",
        "adopted_at": anchor, "minutes": None, "tally": {"for": 10, "against": 0, "abstain": 0, "eligible": 15},
        "tasks": [{"owner": owner, "due": anchor + DAY, "description": "Vận động bà con góp công"},
                  {"owner": deputy, "due": now + 3 * DAY, "description": "Nghiệm thu đoạn đường"}]}, anchor + 2_100_000)
    did, rid = block(signed(directive, secretary), signed(resolution, owner))

    def ack(cell: str, at: int) -> bytes:
        return signed(org._doc(f"web-committee/ack/{cell}", "directive_ack", cell, {"directive": did}, at, refs=[did]),
                      org._officer(cell, "secretary"))

    block(ack(CELLS[0], anchor + 2_200_000))  # in time (the block's time is before ack_due)
    block(ack(CELLS[1], anchor + 2 * HOUR))  # late
    report = org._doc("web-committee/task", "task_report", CELLS[0], {
        "resolution": rid, "task": 0, "status": "in_progress", "text": "Đã họp dân"}, anchor + 2 * HOUR + 1000, refs=[rid])
    finding = org._doc("web-committee/finding", "inspection_finding", DISTRICT, {
        "inspection_id": "KT-05/HU", "subject": {"unit": CELLS[2]}, "finding": "Chưa lập sổ theo dõi chỉ thị",
        "severity": "minor", "recommendations": ["Lập sổ theo dõi"]}, anchor + 2 * HOUR + 2000)
    _, fid = block(signed(report, owner), signed(finding, org._officer(DISTRICT, "inspector")))
    return Work(directive=did, resolution=rid, finding=fid, ack_due=anchor + HOUR, secretary=secretary)


def _warnings(page) -> list[list]:
    """Each warning row: its kind, the label of the kind's group, its unit, member and evidence links."""
    return page.locator("[data-list=warnings] tbody tr.warning").evaluate_all("""rows => rows.map(r => [
        r.dataset.kind, r.closest('details').dataset.kind === r.dataset.kind
            ? r.closest('details').querySelector('summary strong').textContent : null,
        r.dataset.unit, r.dataset.member, [...r.cells[3].querySelectorAll('a.doc')].map(a => a.title)])""")


def _check_warnings(page, answer: dict, labels: dict) -> None:
    sections = page.locator("[data-list=warnings], [data-list=directives], [data-list=tasks]")
    assert sections.evaluate_all("cards => cards.map(c => [c.dataset.list, c.dataset.state])") == [
        ["warnings", "ready"], ["directives", "ready"], ["tasks", "ready"]]
    assert _warnings(page) == [[w["kind"], labels[f"warning_kind.{w['kind']}"], w["unit"], w.get("member") or "",
                                w["evidence"]] for w in answer["warnings"]]
    listed = {}
    for w in answer["warnings"]:
        listed[w["kind"]] = listed.get(w["kind"], 0) + 1
    groups = page.locator("[data-list=warnings] details.warnings").evaluate_all(
        "groups => groups.map(g => [g.dataset.kind, g.open])")
    assert groups == [[kind, n <= 10] for kind, n in listed.items()]  # many of a kind: folded, the count in view
    counts = page.locator("[data-list=warnings] ul.counts li").evaluate_all(
        "items => items.map(li => [li.dataset.kind, Number(li.dataset.count)])")
    assert counts == [[kind, n] for kind, n in answer["counts"].items()]


def test_fault_dashboard_shows_warnings_open_directives_and_tasks(browser, in_process, work):
    """Fault (issue 11): the dashboard showed no warnings, directives or tasks. Each section lists
    what the node answers for the unit, with names beside ids, due dates in the display zone and
    late answers, missing ones and overdue tasks marked; in both languages, no console error."""
    key = in_process.inspector_key
    warnings = work.api(key, f"{in_process.url}/v1/orgs/{DISTRICT}/warnings")
    due = work.api(key, f"{in_process.url}/v1/orgs/{DISTRICT}/due")
    figures = work.api(key, f"{in_process.url}/v1/orgs/{DISTRICT}/tasks?limit=1")
    # what the documents above make, in the answers the page is compared with
    # (the sample organisation's own directives may warn here too; these tests look at theirs)
    mine = [w for w in warnings["warnings"]
            if w["kind"] == "directive_not_acknowledged" and w["detail"]["directive"] == work.directive]
    assert [(w["detail"]["directive"], w["detail"]["missing"], w["detail"]["addressed"]) for w in mine] == [
        (work.directive, 1, 3)]
    assert any(w["kind"] == "finding_without_follow_up" and w["evidence"] == [work.finding] for w in warnings["warnings"])
    assert any(w["kind"] == "task_past_due" and w["detail"]["resolution"] == work.resolution for w in warnings["warnings"])
    assert "withheld" not in warnings  # the root's inspector reads the sensitive kinds
    directive = next(d for d in due["directives"] if d["directive"] == work.directive)
    assert (directive["addressed"], directive["acknowledged"]["total"], directive["acknowledged"]["late"],
            directive["acknowledged"]["overdue"]) == (3, 2, 1, 1)
    tasks = due["tasks_late"] + due["tasks_due"]
    assert {(t["task"], t["state"], t["status"]) for t in tasks if t["resolution"] == work.resolution} == {
        (0, "overdue", "in_progress"), (1, "open", "not_started")}

    for locale, lang in (("vi-VN", "vi"), ("en-GB", "en")):
        labels = LABELS[lang]
        context, page = in_process.signed_in_page(browser, locale)
        try:
            open_page(page, f"/dashboard/{DISTRICT}")
            assert page.locator("canvas[data-chart]").count() == 4  # the charts are there too
            _check_warnings(page, warnings, labels)
            row = page.locator("[data-list=warnings] tr.warning[data-kind=directive_not_acknowledged]"
                               ":has-text('05-CT/HU')")
            said = labels["warning.detail.directive_not_acknowledged"]["other"].format(number="05-CT/HU", missing=1, count=3)
            assert said in row.locator("td").nth(2).inner_text()
            since = row.locator("td").nth(1).inner_text()
            assert local(work.ack_due, "%d/%m/%Y") in since and local(work.ack_due, "%H:%M") in since
            assert row.locator("td").nth(0).locator(f"a.unit[data-unit='{DISTRICT}'] .name").inner_text() == "Huyện Mèo Vạc"

            shown = page.locator("[data-list=directives] tbody tr").evaluate_all(
                "rows => rows.map(r => [r.dataset.directive, r.dataset.late, r.classList.contains('overdue')])")
            assert shown == [[d["directive"], json.dumps(bool(d["acknowledged"]["overdue"] or d["reported"]["overdue"])),
                              bool(d["acknowledged"]["overdue"] or d["reported"]["overdue"])] for d in due["directives"]]
            cells = page.locator(f"[data-list=directives] tr[data-directive='{work.directive}'] td")
            assert cells.nth(0).locator("a.doc").get_attribute("href") == f"/documents/{directive['doc_id']}"
            assert cells.nth(1).locator("a.unit").get_attribute("data-unit") == DISTRICT
            ack_due = cells.nth(2).inner_text()
            assert local(work.ack_due, "%d/%m/%Y") in ack_due and local(work.ack_due, "%H:%M") in ack_due
            assert cells.nth(3).locator(".count").inner_text() == "2 / 3"
            assert cells.nth(3).locator("[data-late]").get_attribute("data-late") == "1"
            assert cells.nth(3).locator("[data-overdue]").get_attribute("data-overdue") == "1"
            assert cells.nth(5).locator(".count").inner_text() == "0 / 3"
            assert cells.nth(5).locator("[data-overdue]").count() == 0  # the report is not due yet

            shown = page.locator("[data-list=tasks] tbody tr").evaluate_all(
                "rows => rows.map(r => [r.dataset.resolution, Number(r.dataset.task), r.dataset.state, "
                "r.classList.contains('overdue'), r.cells[2].querySelector('a.member').dataset.member])")
            assert shown == [[t["resolution"], t["task"], t["state"], t["state"] == "overdue", t["owner"]] for t in tasks]
            late = page.locator(f"[data-list=tasks] tr[data-resolution='{work.resolution}'][data-task='0'] td")
            assert late.nth(4).inner_text().startswith(labels["task_status.in_progress"])
            assert labels["task_state.overdue"] in late.nth(4).inner_text()
            assert late.nth(2).locator("a.unit").get_attribute("data-unit") == CELLS[0]
            figures_shown = page.locator("[data-figures=tasks] li").evaluate_all(
                "items => items.map(li => [li.dataset.figure, Number(li.dataset.count), li.querySelector('.badge').innerText])")
            assert figures_shown == [[k, figures[k], str(figures[k])]
                                     for k in ("tasks", "open", "overdue", "blocked", "done_on_time", "done_late")]
            assert_behaved(page)
        finally:
            context.close()


def test_sensitive_warnings_appear_only_when_the_node_gives_them(browser, in_process, work):
    """The district's secretary is no inspector: the node leaves out the warnings about members and
    findings and names them in `withheld`; the page lists what it got and says what was withheld."""
    key = in_process.key_file(work.secretary)
    answer = work.api(key, f"{in_process.url}/v1/orgs/{DISTRICT}/warnings")
    assert answer["withheld"] == sorted(SENSITIVE_KINDS)
    assert not SENSITIVE_KINDS & {w["kind"] for w in answer["warnings"]} and answer["warnings"]
    context = browser.new_context(base_url=in_process.url, locale="vi-VN")
    try:
        page = watched(context.new_page(), in_process.url)
        sign_in(page, key, next_path=f"/dashboard/{DISTRICT}")
        open_page(page, f"/dashboard/{DISTRICT}")
        _check_warnings(page, answer, LABELS["vi"])
        note = page.locator("[data-list=warnings] [data-withheld]")
        assert note.get_attribute("data-withheld") == ",".join(answer["withheld"])
        assert all(LABELS["vi"][f"warning_kind.{k}"] in note.inner_text() for k in SENSITIVE_KINDS)
        assert_behaved(page)
    finally:
        context.close()


def test_nothing_to_show_is_said_in_words(browser, in_process, work):
    """A subtree with no warning, no open directive and no task late or due: each section says so in
    words. The node's real answers go to the page with their lists emptied (the sample has warnings
    in every subtree: its meetings are more than a month old)."""
    def emptied(route):
        answer = route.fetch().json()
        if "/warnings" in route.request.url:
            answer.update(warnings=[], counts={kind: 0 for kind in answer["counts"]})
        else:
            answer.update(directives=[], tasks_late=[], tasks_due=[])
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    context, page = in_process.signed_in_page(browser, "vi-VN")
    try:
        page.route(f"**/v1/orgs/{DISTRICT}/warnings", emptied)
        page.route(f"**/v1/orgs/{DISTRICT}/due", emptied)
        open_page(page, f"/dashboard/{DISTRICT}")
        vi = LABELS["vi"]
        assert page.locator("[data-list=warnings] tbody tr").count() == 0
        assert page.locator("[data-list=warnings] p.muted").inner_text() == vi["committee.no_warnings"] == "Không có cảnh báo."
        assert page.locator("[data-list=directives] td.empty").inner_text() == vi["committee.no_directives"]
        assert page.locator("[data-list=tasks] td.empty").inner_text() == vi["committee.no_tasks"]
        assert_behaved(page)
    finally:
        context.close()


def test_the_charts_do_not_wait_for_the_committee_work_and_a_failed_part_says_so(browser, in_process, work):
    """The charts are drawn while the warnings are still being answered (the page is not called
    ready until they are in); a committee question the node cannot answer (503) makes its sections
    say so, and the rest of the page stands."""
    context, page = in_process.signed_in_page(browser, "vi-VN")
    held = []
    try:
        page.watch.expect_status(503, f"/v1/orgs/{DISTRICT}/due")
        page.route(f"**/v1/orgs/{DISTRICT}/warnings", lambda route: held.append(route))  # answered below
        page.route(f"**/v1/orgs/{DISTRICT}/due", lambda route: route.fulfill(
            status=503, content_type="application/json", headers={"Retry-After": "1"},
            body=json.dumps({"error": "busy", "message": "the node is busy answering queries"})))
        page.goto(f"/dashboard/{DISTRICT}")
        page.wait_for_selector("canvas[data-chart]")
        assert page.locator("canvas[data-chart]").count() == 4
        assert held and page.locator("[data-list=warnings]").get_attribute("data-state") == "loading"
        assert page.evaluate("document.documentElement.dataset.ready") == "0"
        held[0].continue_()
        wait_ready(page)
        states = page.locator("[data-list]").evaluate_all("cards => cards.map(c => [c.dataset.list, c.dataset.state])")
        assert [s for s in states if s[0] in ("warnings", "directives", "tasks")] == [
            ["warnings", "ready"], ["directives", "failed"], ["tasks", "failed"]]
        for name in ("directives", "tasks"):
            assert LABELS["vi"]["committee.failed"] in page.locator(f"[data-list={name}] [data-failed]").inner_text()
        assert page.locator("[data-list=warnings] tr.warning").count() > 0
        assert_behaved(page)
    finally:
        context.close()
