"""The pages under the node's read rules (issue 8: node/auth.py, node/scopes.py): a visitor sees
what is public and is asked to sign in for the rest; signing in on /login with a key file (read in
the browser, never sent) opens what the member's scope reads and no more; 401 and 403 are said
plainly; signing out closes the session."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from node.routes.web import WEB_ROOT

from .conftest import open_page, sign_in, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VI = json.loads((WEB_ROOT / "i18n" / "vi.json").read_text(encoding="utf-8"))


def test_a_visitor_sees_what_is_public_and_is_asked_to_sign_in(page, visitor, net, tree):
    """No content route is asked for without a session (so no 401 at all), the blocks are there."""
    open_page(page, "/")
    main = page.locator("main").inner_text()
    assert VI["home.sign_in"] in main
    assert page.locator("[data-kpi=documents] .value").inner_text().replace(".", "") == str(
        net.get("/v1/tree-head")["log_size"])
    assert page.locator("[data-kpi=meetings]").count() == 0
    assert page.locator("header #who a").get_attribute("href").startswith("/login")
    page.watch.expect_status(401, f"/v1/orgs/{tree.root}")
    page.click("header nav a[data-page=dashboard]")
    wait_ready(page)
    assert page.locator("main [data-error]").get_attribute("data-error") == "error.unauthenticated"
    assert page.locator(f"main a:has-text('{VI['error.sign_in']}')").get_attribute("href") == \
        f"/login?next=%2Fdashboard%2F{tree.root}"


def test_a_visitor_searches_only_what_is_public(page, visitor, tree):
    open_page(page, f"/search?q={tree.district}")
    assert VI["search.nothing"] in page.locator("main").inner_text()
    open_page(page, "/search?q=2")
    assert urlsplit(page.url).path == "/blocks/2"


def test_a_key_file_that_cannot_sign_in_is_named(page, visitor, net):
    open_page(page, "/login")
    page.set_input_files("#key-file", str(net.directory / "keys" / "n1.json"))
    page.click("main form button[type=submit]")
    page.wait_for_selector("main .why:not(:empty)")
    assert page.locator("main .why").inner_text() == VI["login.bad_key_file"].format(why=VI["login.key.node_key"])


def test_a_cell_secretary_reads_their_cell_and_is_told_what_is_outside(page, visitor, net, tree):
    secretary = net.member(tree.cell, "secretary")
    name = net.get(f"/v1/members/{secretary['member_id']}")["member"]["name"]
    sign_in(page, net.key_file(secretary["member_id"]), next_path="/")
    assert urlsplit(page.url).path == "/"
    assert page.locator("header #who a.member .name").inner_text() == name
    assert page.locator("header nav a[data-page=dashboard]").get_attribute("href") == f"/dashboard/{tree.cell}"
    assert page.locator("[data-kpi=meetings]").count() == 1  # their cell's figures
    open_page(page, f"/dashboard/{tree.cell}")
    assert page.locator("canvas[data-chart]").count() == 4
    # a block lists statuses only: the documents' content in a block is an auditor's
    open_page(page, "/blocks/1")
    assert VI["block.envelopes_unavailable"] in page.locator("main").inner_text()
    other = next(c["path"] for c in net.get(f"/v1/orgs/{tree.district}")["children"] if c["path"] != tree.cell)
    page.watch.expect_status(403, f"/v1/orgs/{other}")
    open_page(page, f"/dashboard/{other}")
    assert page.locator("main [data-error]").get_attribute("data-error") == "error.forbidden"
    # signing out closes the session: the header says so, and content is asked for no more
    with page.expect_navigation():
        page.click("header #who button[data-action=logout]")
    wait_ready(page)
    assert page.locator("header #who a").get_attribute("href").startswith("/login")
    assert VI["home.sign_in"] in page.locator("main").inner_text()


def test_the_login_page_says_who_is_signed_in(page, reader):
    open_page(page, "/login")
    assert page.locator("main a.member").get_attribute("data-member") == reader["member_id"]
