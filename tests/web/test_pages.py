"""The web pages in a real browser (headless chromium) against a devnet with the
sample organisation: each page loads with no console error and no request
off the node; what a page shows is what the API answers; the faults issue 11
lists at its top are each checked here (the test names say which)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from ledger.timefmt import month_of, month_start, next_month
from node.routes.web import WEB_ROOT

from .conftest import assert_behaved, open_page, wait_ready, watched

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VI = json.loads((WEB_ROOT / "i18n" / "vi.json").read_text(encoding="utf-8"))
EN = json.loads((WEB_ROOT / "i18n" / "en.json").read_text(encoding="utf-8"))
ZONE = "Asia/Ho_Chi_Minh"


def add_months(month: str, n: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    out = [first]
    while out[-1] != last:
        out.append(next_month(out[-1]))
    return out


def local(ms: int, fmt: str) -> str:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(ZoneInfo(ZONE)).strftime(fmt)


@pytest.fixture(scope="package")
def latest(net) -> int:
    return net.get("/v1/blocks?limit=1")["height"]


@pytest.fixture(scope="package")
def minutes(documents) -> dict:
    """Minutes with several attendees and an opinion (the fullest form)."""
    return max(documents["minutes"], key=lambda d: (len(d["doc"]["body"]["attendees"]), len(d["doc"]["body"]["opinions"])))


def page_urls(net, documents, latest, tree) -> list[str]:
    member = next(m["member_id"] for m in net.members if m["org"] == tree.cell)
    return ["/", "/blocks", f"/blocks?to={max(1, latest - 25)}", "/blocks/1", f"/blocks/{latest}",
            *[f"/documents/{documents[t][0]['doc_id']}" for t in sorted(documents)],
            f"/units/{tree.root}", f"/units/{tree.cell}", f"/dashboard/{tree.root}", f"/dashboard/{tree.district}",
            f"/members/{member}", f"/search?q={tree.province}", "/verify"]


def test_every_page_loads_with_no_console_error_and_nothing_from_elsewhere(page, net, documents, latest, tree):
    """Each page renders (an h1, data-ready) with no console error, no 4xx/5xx and no request
    off the node (the `page` fixture asserts those at the end); the first-render times are
    printed at the end of the session."""
    for url in page_urls(net, documents, latest, tree):
        open_page(page, url)
        assert page.locator("main h1").count() == 1, url
        assert page.locator("main .error").count() == 0, url


def test_fault_home_shows_meetings_and_units_and_reaches_the_oldest_block(page, net, latest, tree):
    """Fault: the home page showed a tree head and 20 block rows, no way to older blocks,
    nothing about meetings or units."""
    open_page(page, "/")
    head = net.get("/v1/tree-head")
    stats = net.get(f"/v1/orgs/{tree.root}/stats")
    assert page.locator("[data-kpi=documents] .value").inner_text().replace(".", "") == str(head["log_size"])
    assert page.locator("[data-kpi=meetings] .value").inner_text().replace(".", "") == str(stats["meetings"]["held"])
    assert page.locator("[data-kpi=units] .value").inner_text() == str(stats["units"]["total"])
    children = [c["path"] for c in net.get(f"/v1/orgs/{tree.root}")["children"]]
    shown = page.locator("main a.unit").evaluate_all("links => links.map(a => a.dataset.unit)")
    assert set(children) <= set(shown)
    page.click("text=" + VI["home.all_blocks"])
    wait_ready(page)
    heights = []
    while True:
        rows = page.locator("main table tbody tr td:first-child a").all_inner_texts()
        heights += [int(re.sub(r"\D", "", r)) for r in rows]
        older = page.locator(f"nav.pager a:has-text('{VI['pager.older']}')")
        if not older.count():
            break
        older.click()
        wait_ready(page)
    assert heights == list(range(latest, 0, -1))  # every block, newest first, each once
    assert page.locator(f"nav.pager span.disabled:has-text('{VI['pager.oldest']}')").count() == 1


def test_fault_block_rows_have_type_and_unit_and_the_newest_has_no_next(page, net, documents, latest):
    """Fault: a block's document rows gave no type or unit; "next block" on the newest block
    led to "not found"."""
    by_id = {d["doc_id"]: d for docs in documents.values() for d in docs}
    block = net.get(f"/v1/blocks/{latest}")
    open_page(page, f"/blocks/{latest}")
    rows = page.locator("main table tbody tr")
    assert rows.count() == len(block["documents"])
    for i, entry in enumerate(block["documents"]):
        doc = by_id[entry["doc_id"]]["doc"]
        cells = rows.nth(i).locator("td")
        assert cells.nth(1).inner_text() == VI[f"type.{doc['type']}"]
        assert cells.nth(2).locator("a.unit").get_attribute("data-unit") == doc["org"]
    assert page.locator(f"nav.pager span.disabled:has-text('{VI['block.next']}')").count() == 1
    assert page.locator(f"nav.pager a:has-text('{VI['block.next']}')").count() == 0
    page.click(f"nav.pager a:has-text('{VI['block.previous']}')")
    wait_ready(page)
    assert urlsplit(page.url).path == f"/blocks/{latest - 1}"
    assert page.locator(f"nav.pager a:has-text('{VI['block.next']}')").count() == 1


def test_fault_document_is_a_form_with_names_local_times_and_signers(page, net, minutes):
    """Fault: a document was raw JSON in a <pre> with unix-ms times, member ids without names or
    links, and no signers."""
    body = minutes["doc"]["body"]
    open_page(page, f"/documents/{minutes['doc_id']}")
    assert not page.locator("main pre").is_visible()  # the raw JSON stays folded away
    form = page.locator("main .form")
    held = form.locator("dt", has_text=VI["field.held_at"]).locator("xpath=following-sibling::dd[1]").inner_text()
    assert local(body["held_at"], "%H:%M") in held and local(body["held_at"], "%d/%m/%Y") in held and "GMT+7" in held
    links = page.locator("main a.member")
    ids = set(links.evaluate_all("links => links.map(a => a.dataset.member)"))
    assert {a["member"] for a in body["attendees"]} | {body["chair"], body["secretary"]} <= ids
    for member_id in ids:
        name = net.get(f"/v1/members/{member_id}")["member"]["name"]
        shown = page.locator(f"main a.member[data-member='{member_id}'] .name").first.inner_text()
        assert shown == name and page.locator(f"main a.member[data-member='{member_id}']").first.get_attribute(
            "href") == f"/members/{member_id}"
    signers = page.locator("main ul.signers a.member").evaluate_all("links => links.map(a => a.dataset.member)")
    assert signers == [s["signer"] for s in minutes["sigs"]]
    present = sum(1 for a in body["attendees"] if a["present"])
    assert VI["minutes.attendance"].format(present=present, listed=len(body["attendees"])) in form.inner_text()


def _fonts_of(page, selector: str) -> list[dict]:
    """The fonts chromium really drew `selector`'s text with (DevTools CSS.getPlatformFontsForNode)."""
    page.evaluate("() => document.fonts.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


def test_fault_vietnamese_with_two_diacritics_is_drawn_in_the_vendored_fonts(page, minutes, net, tree):
    """Fault: Vietnamese letters with two diacritics rendered with displaced marks (the monospace
    fallback). Text and its raw view are drawn in Noto Sans / Noto Sans Mono, loaded from the node,
    never in a system fallback font."""
    open_page(page, f"/units/{tree.root}")
    title = page.locator("main h1").inner_text()
    assert re.search("[ẤẦẨẪẬẮẰẲẴẶẾỀỂỄỆỐỒỔỖỘỚỜỞỠỢỨỪỬỮỰấầẩẫậắằẳẵặếềểễệốồổỗộớờởỡợứừửữự]", title), title
    fonts = _fonts_of(page, "main h1")
    assert fonts and all(f["familyName"] == "Noto Sans" and f["isCustomFont"] for f in fonts), fonts
    open_page(page, f"/documents/{minutes['doc_id']}")
    page.click("details.raw summary")
    fonts = _fonts_of(page, "details.raw pre")
    assert fonts and all(f["familyName"] == "Noto Sans Mono" and f["isCustomFont"] for f in fonts), fonts


def _expected_series(net, path: str, first: str, last: str) -> dict[str, list]:
    """From the API's own monthly series: what each chart must draw, month by month."""
    end = month_start(next_month(last), ZONE) - 1
    until = f"&until={end}" if end < int(time.time() * 1000) else ""
    series = net.get(f"/v1/orgs/{path}/stats?since={first}-01{until}&by=month")["series"]
    assert [m["month"] for m in series] == months_between(first, last)
    pct = lambda x: None if x is None else x * 100  # noqa: E731 - a chart draws percentages
    return {
        "meetings": [[m["meetings"]["held"] for m in series], [m["meetings"]["on_time"] for m in series]],
        "attendance": [[pct(m["attendance"]["roll"]["rate"]) for m in series],
                       [pct(m["attendance"]["listed"]["rate"]) for m in series]],
        "opinions": [[m["opinions"]["per_meeting"] for m in series]],
        "participation": [[pct(m["votes"]["participation"]) for m in series]],
    }


def _charts(page) -> dict[str, dict]:
    return {c["name"]: c for c in page.evaluate("""() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
        const chart = Chart.getChart(c);
        return {name: c.dataset.chart, labels: chart.data.labels, sets: chart.data.datasets.map(d => d.data)};
    })""")}


def test_fault_dashboard_has_a_period_picker_and_charts_of_the_api_figures(page, net, tree):
    """Fault: a unit page was a key/value table with no charts, no trend, no period picker. Each
    chart has one point per month of the period and draws the API's figures."""
    now = int(time.time() * 1000)
    current = month_of(now, ZONE)
    first = add_months(current, -5)
    open_page(page, f"/dashboard/{tree.province}?from={first}&to={current}")
    months = months_between(first, current)
    charts = _charts(page)
    assert set(charts) == {"meetings", "attendance", "opinions", "participation"}
    expected = _expected_series(net, tree.province, first, current)
    assert sum(expected["meetings"][0]) > 0
    for name, chart in charts.items():
        assert len(chart["labels"]) == len(months), name
        assert chart["sets"] == expected[name], name
    # the period picker: twelve months, then the URL says so and every chart has twelve points
    first12 = add_months(current, -11)
    page.fill("form.period input[name=from]", first12)
    page.click(f"form.period button:has-text('{VI['dash.apply']}')")
    wait_ready(page)
    assert parse_qs(urlsplit(page.url).query) == {"from": [first12], "to": [current]}
    charts = _charts(page)
    assert all(len(c["labels"]) == 12 for c in charts.values())
    assert charts["meetings"]["sets"] == _expected_series(net, tree.province, first12, current)["meetings"]


def test_fault_dashboard_rows_add_up_to_the_total_and_overdue_units_are_marked(page, net, tree):
    """Fault: a district's header total did not match its rows (the committee's own meetings had
    no row); an overdue cell was not marked."""
    current = month_of(int(time.time() * 1000), ZONE)
    first = add_months(current, -5)
    district = tree.overdue_district
    open_page(page, f"/dashboard/{district}?from={first}&to={current}")
    api = net.get(f"/v1/orgs/{district}/stats?since={first}-01")
    table = page.locator("table[data-table=units]")
    held = [int(t) for t in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    total = int(table.locator("tfoot td:nth-child(2)").inner_text())
    assert len(held) == len(api["children"]) == len(net.get(f"/v1/orgs/{district}")["children"]) + 1
    assert table.locator("tbody tr.own").count() == 1  # the committee's own meetings
    assert sum(held) == total == api["meetings"]["held"] > 0
    marked = set(table.locator("tbody tr.overdue").evaluate_all("rows => rows.map(r => r.dataset.row)"))
    assert marked == {c["path"] for c in api["children"] if not c["own"] and c["overdue"]["cells"] + c["overdue"]["committees"]}
    overdue = [u for kind in ("cells", "committees") for u in api["overdue_units"][kind]]
    assert overdue, "the sample has overdue cells"
    rows = page.locator("[data-list=overdue] tbody tr")
    assert rows.count() == len(overdue)
    for i, unit in enumerate(overdue):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).locator("a.unit").get_attribute("data-unit") == unit["path"]
        last = unit["last_regular_meeting"]
        assert cells.nth(1).inner_text() == (VI["dash.never"] if last is None else local(last, "%d/%m/%Y"))


def test_fault_member_page_and_search_by_member_id(page, net):
    """Fault: #/member/ID silently showed the home page; searching a member id said "org unit …
    not found"."""
    member = next(m for m in net.members if m["org"].count("/") == 3 and "secretary" in m["roles"])
    api = net.get(f"/v1/members/{member['member_id']}")
    open_page(page, f"/#/member/{member['member_id']}")  # the explorer's address of a member, kept in a bookmark
    assert urlsplit(page.url).path == f"/members/{member['member_id']}" and not urlsplit(page.url).fragment
    assert page.locator("main h1").inner_text() == api["member"]["name"]
    timeline = page.locator("main ol.timeline li").evaluate_all("items => items.map(li => [li.dataset.kind, li.dataset.doc])")
    assert timeline == [[e["kind"], e["doc_id"]] for e in api["timeline"]] and timeline
    assert {"status", "attendance"} <= {kind for kind, _ in timeline}
    documents = net.get(f"/v1/members/{member['member_id']}/documents?order=desc&limit=10")["items"]
    shown = page.locator("[data-list=documents] tbody a.doc").evaluate_all("links => links.map(a => a.title)")
    assert shown == [d["doc_id"] for d in documents] and shown
    open_page(page, "/")
    page.fill("#search input[name=q]", member["member_id"])
    page.press("#search input[name=q]", "Enter")
    wait_ready(page)
    assert urlsplit(page.url).path == f"/members/{member['member_id']}"
    assert page.locator("main h1").inner_text() == api["member"]["name"]


@pytest.mark.parametrize("what", ["document", "height", "unit", "nothing"])
def test_search_finds_each_kind(page, documents, tree, what):
    doc_id = documents["resolution"][0]["doc_id"]
    q, path = {"document": (doc_id, f"/documents/{doc_id}"), "height": ("3", "/blocks/3"),
               "unit": (tree.district, f"/units/{tree.district}"), "nothing": ("khong-co-gi-ca-xyz", "/search")}[what]
    open_page(page, "/")
    page.fill("#search input[name=q]", q)
    page.press("#search input[name=q]", "Enter")
    wait_ready(page)
    assert urlsplit(page.url).path == path
    if what == "nothing":
        assert VI["search.nothing"] in page.locator("main").inner_text()


def test_fault_search_by_unit_name_and_member_name(page, net, tree):
    """Fault: searching a unit name said "org unit … not found". Names are found by their words,
    without diacritics and in any case."""
    from views.names import fold

    name = net.get(f"/v1/orgs/{tree.cell}")["unit"]["name"]
    query = " ".join(w.upper() if i % 2 else w for i, w in enumerate(fold(name)))  # no diacritics, mixed case
    open_page(page, "/")
    page.fill("#search input[name=q]", query)
    page.press("#search input[name=q]", "Enter")
    wait_ready(page)
    if urlsplit(page.url).path != f"/units/{tree.cell}":  # units named alike: a list to choose from
        assert page.locator(f"main a[href='/units/{tree.cell}']").count() == 1
    member = net.member(tree.cell, "secretary")
    name = net.get(f"/v1/members/{member['member_id']}")["member"]["name"]
    open_page(page, "/search?q=" + name)
    if urlsplit(page.url).path != f"/members/{member['member_id']}":  # namesakes: a list to choose from
        assert page.locator(f"main a[href='/members/{member['member_id']}']").count() == 1
        assert page.locator("main li[data-kind=member]").count() == len(
            [r for r in net.get(f"/v1/search?q={name}")["results"] if r["kind"] == "member"])


def test_unit_page_lists_what_the_api_lists(page, net, tree):
    """Fault: a unit page had no list of the unit's minutes, resolutions, findings or members."""
    api = net.get(f"/v1/orgs/{tree.district}")
    open_page(page, f"/units/{tree.district}")
    shown = page.locator("main .grid table a.unit").evaluate_all("links => links.map(a => a.dataset.unit)")
    assert shown == [c["path"] for c in api["children"]]
    assert page.locator("main h1").inner_text() == api["unit"]["name"]
    cell = tree.cell
    open_page(page, f"/units/{cell}")
    for name, path in [("members", f"/v1/orgs/{cell}/members?limit=10"),
                       ("minutes", f"/v1/orgs/{cell}/documents?type=minutes&order=desc&limit=10"),
                       ("resolutions", f"/v1/orgs/{cell}/documents?type=resolution&order=desc&limit=10")]:
        items = net.get(path)["items"]
        links = page.locator(f"[data-list={name}] tbody a")
        got = links.evaluate_all("links => links.map(a => a.dataset.member || a.title)")
        assert got == [i.get("member_id") or i["doc_id"] for i in items] and got, name
    members = net.get(f"/v1/orgs/{cell}/members?limit=50")
    page.click(f"[data-list=members] a:has-text('{VI['list.all']}')")
    wait_ready(page)
    assert parse_qs(urlsplit(page.url).query) == {"list": ["members"]}
    got = page.locator("[data-list=members] tbody a.member").evaluate_all("links => links.map(a => a.dataset.member)")
    assert got == [m["member_id"] for m in members["items"]]
    page.select_option("[data-list=members] select[name=status]", "probationary")
    wait_ready(page)
    probationary = net.get(f"/v1/orgs/{cell}/members?limit=50&status=probationary")["items"]
    got = page.locator("[data-list=members] tbody a.member").evaluate_all("links => links.map(a => a.dataset.member)")
    assert got == [m["member_id"] for m in probationary] and got


def test_fault_language_switch_changes_labels_and_is_remembered(page, context, net):
    """Fault: every label was English, lang="en", no switch, times UTC only. Vietnamese by default
    for a Vietnamese browser; the switch changes every label, is remembered, and times stay in the
    display zone."""
    open_page(page, "/blocks/1")
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.locator("header nav a[data-page=home]").inner_text() == VI["nav.home"]
    assert page.locator("main h1").inner_text() == VI["block.number"].format(height=1)
    block_time = net.get("/v1/blocks/1")["header_fields"]["timestamp"]
    page.click("[data-lang=en]")
    wait_ready(page)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("header nav a[data-page=home]").inner_text() == EN["nav.home"]
    assert page.locator("main h1").inner_text() == EN["block.number"].format(height=1)
    assert page.locator("header [data-lang=en]").get_attribute("aria-pressed") == "true"
    time_cell = page.locator("main dl.facts dt", has_text=EN["block.time"]).locator("xpath=following-sibling::dd[1]")
    assert local(block_time, "%H:%M") in time_cell.inner_text() and "GMT+7" in time_cell.inner_text()
    labels = set(page.locator("main th, main dt, main h2").all_inner_texts())
    flat = lambda catalogue: {v for value in catalogue.values()  # noqa: E731
                              for v in (value.values() if isinstance(value, dict) else [value])}
    assert labels and not labels & (flat(VI) - flat(EN))  # no Vietnamese label left
    page.reload()
    wait_ready(page)
    assert page.evaluate("document.documentElement.lang") == "en"


@pytest.mark.parametrize("context, lang", [("en-US", "en"), ("fr-FR", "vi")], indirect=["context"])
def test_default_language_comes_from_the_browser_then_the_node(page, lang):
    open_page(page, "/")
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.locator("header nav a[data-page=home]").inner_text() == (EN if lang == "en" else VI)["nav.home"]


def test_fault_docs_work_offline_and_there_is_a_favicon(page, net):
    """Fault: /docs was blank without internet (Swagger UI from a CDN) and favicon.ico was a 404."""
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 15
    assert page.locator(".opblock-summary-path", has_text="/v1/documents/{doc_id}/receipt").count() == 1
    r = net.http.get(net.url + "/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    open_page(page, "/")
    icons = page.locator("link[rel=icon]").evaluate_all("links => links.map(l => l.href)")
    assert all(net.http.get(href).status_code == 200 for href in icons) and icons


def test_an_unknown_document_says_not_found(page):
    page.watch.expect_status(404, "/v1/documents/")
    open_page(page, "/documents/" + "0" * 64)
    assert page.locator("main .error h1").inner_text() == VI["error.not_found.title"]
    assert page.locator("main [data-error]").get_attribute("data-error") == "error.not_found"
    assert page.title().startswith(VI["error.not_found.title"])


def test_an_unknown_page_says_so(page):
    open_page(page, "/blocks/abc")
    assert page.locator("main h1").inner_text() == VI["error.not_found.title"]


def test_a_big_block_shows_its_documents_fifty_to_a_page(browser, in_process):
    """A block holds up to 500 documents: its page lists fifty at a time (and looks up the names
    for those only). Block 4 of the sample, on an in-process node, holds the 198 admissions."""
    count = len(in_process.service.ledger.block(4)["documents"])
    assert count == 198
    context, page = in_process.signed_in_page(browser)
    try:
        open_page(page, "/blocks/4")
        rows = page.locator("main table tbody tr")
        assert rows.count() == 50 and rows.first.locator("td").first.inner_text() == "1"
        assert VI["pager.page"].format(page=1, pages=4) in page.locator("main").inner_text()
        page.click(f"a:has-text('{VI['pager.next_page']}')")
        wait_ready(page)
        assert parse_qs(urlsplit(page.url).query) == {"page": ["2"]}
        assert page.locator("main table tbody tr").first.locator("td").first.inner_text() == "51"
        open_page(page, "/blocks/4?page=4")
        assert page.locator("main table tbody tr").count() == count - 150
        assert page.locator(f"span.disabled:has-text('{VI['pager.next_page']}')").count() == 1
        assert_behaved(page)
    finally:
        context.close()


def test_a_rejected_document_shows_its_reason_and_has_no_receipt(browser, in_process):
    ledger = in_process.service.ledger
    record = ledger.document(in_process.rejected)
    context, page = in_process.signed_in_page(browser, "en-GB")
    try:
        open_page(page, f"/documents/{in_process.rejected}")
        assert page.locator("main .page-head .badge").inner_text() == EN["status.rejected"]
        assert record["reason"] in page.locator("main").inner_text()
        assert page.locator("#receipt-check").count() == 0
        assert EN["receipt.rejected"] in page.locator("main").inner_text()
        assert EN["document.no_leaf"] in page.locator("main").inner_text()
        open_page(page, f"/blocks/{record['height']}")
        statuses = page.locator("main table tbody tr td:nth-child(6) .badge").all_inner_texts()
        assert statuses == [EN["status.rejected"], EN["status.accepted"]]
        open_page(page, f"/documents/{in_process.accepted}")
        assert page.locator("#receipt-check [data-verdict]").get_attribute("data-verdict") == "pass"
        assert_behaved(page)
    finally:
        context.close()


def test_fault_an_amended_record_shows_its_versions_and_what_refers_to_it(browser, in_process):
    """Fault: a document page gave no amendments nor the documents that reference it. The original
    says it is not the version in force and lists its versions and its amendment; the amendment
    draws its replacement as minutes."""
    ledger = in_process.service.ledger
    record = ledger.document(in_process.accepted)
    assert record["current"] == in_process.amendment and len(record["versions"]) == 2
    context, page = in_process.signed_in_page(browser, "en-GB")
    try:
        open_page(page, f"/documents/{in_process.accepted}")
        assert page.locator("main [data-superseded]").get_attribute("data-superseded") == "amended"
        versions = page.locator("main ol.versions li").evaluate_all("items => items.map(li => li.dataset.version)")
        assert versions == [v["doc_id"] for v in record["versions"]]
        referring = page.locator("main section:has(h2:has-text('%s')) a.doc" % EN["document.referenced_by"])
        assert referring.evaluate_all("links => links.map(a => a.title)") == [in_process.amendment]
        open_page(page, f"/documents/{in_process.amendment}")
        text = page.locator("main").inner_text()
        assert EN["amendment.replacement"].format(type=EN["type.minutes"]) in text
        assert "đính chính: thêm kết luận" in text and "Bổ sung kết luận" in text
        assert_behaved(page)
    finally:
        context.close()


@pytest.fixture(scope="module")
def every_type(tmp_path_factory):
    """An in-process node holding one accepted document of every type (tests/ledger/factory.py's
    every_type), and the key file of the root's inspector to read them all."""
    from ledger.keys import write_key_file
    from tests.ledger.factory import T0, make_org
    from tests.node.service_double import ServiceDouble, serve

    org = make_org(5)
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=T0)
    envelopes = org.every_type()
    service.apply([e.to_bytes() for e in envelopes])
    block = service.ledger.block(service.ledger.height)
    assert [d["status"] for d in block["documents"]] == ["accepted"] * len(envelopes), block["documents"]
    key = tmp_path_factory.mktemp("every-type") / "ins-central.json"
    write_key_file(key, id_field="member_id", id="ins-central", seed=org.seeds["ins-central"])
    with serve(service) as url:
        yield url, key, envelopes, service.ledger.height


def test_every_document_type_is_drawn_as_a_form(browser, every_type):
    """Each type of document (the ledger's every type) opens as a form with its title, fields and
    signers, in both languages, without a missing label or a console error; the block lists them
    all with their type."""
    from .conftest import sign_in

    url, key, envelopes, height = every_type
    for lang in ("vi-VN", "en-GB"):
        labels = VI if lang == "vi-VN" else EN
        context = browser.new_context(base_url=url, locale=lang)
        try:
            page = watched(context.new_page(), url)
            sign_in(page, key)
            open_page(page, f"/blocks/{height}")
            types = page.locator("main table tbody tr td:nth-child(2)").all_inner_texts()
            assert types == [labels[f"type.{e.doc.type}"] for e in envelopes]
            for envelope in envelopes:
                open_page(page, f"/documents/{envelope.doc_id}")
                assert page.locator("main h1").inner_text().startswith(labels[f"type.{envelope.doc.type}"])
                assert page.locator("main .form fieldset").count() >= 1, envelope.doc.type
                signers = page.locator("main ul.signers a.member").evaluate_all("l => l.map(a => a.dataset.member)")
                assert signers == list(envelope.signers), envelope.doc.type
            assert_behaved(page)
        finally:
            context.close()
