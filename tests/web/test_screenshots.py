"""Screenshots for the README, taken by the browser against the devnet: the
dashboard in Vietnamese and in English, a member page, and a receipt check that
fails (a proof byte flipped on its way to the page).

They are written to a temporary folder, or to ``$MINUTEBOOK_SCREENSHOTS``
(``scripts/screenshots.sh`` sets it to docs/screenshots, the README's copies),
so that an ordinary test run leaves the working tree as it was."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from .conftest import open_page
from .test_receipt import tamper

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    target = os.environ.get("MINUTEBOOK_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def _shoot(page, folder: Path, name: str) -> Path:
    page.evaluate("() => document.fonts.ready.then(() => true)")
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    width, height = _png_size(path)
    assert width == 1280 and height >= 700, (name, width, height)
    return path


def test_screenshot_dashboard_in_both_languages(page, folder, tree):
    open_page(page, f"/dashboard/{tree.province}")
    _shoot(page, folder, "dashboard-vi")
    page.click("[data-lang=en]")
    page.wait_for_selector("html[lang=en][data-ready='1']", state="attached")
    _shoot(page, folder, "dashboard-en")


def test_screenshot_member_page(page, net, folder, tree):
    member = next(m for m in net.members if m["org"] == tree.cell and "secretary" in m["roles"])
    open_page(page, f"/members/{member['member_id']}")
    _shoot(page, folder, "member")


def test_screenshot_failing_receipt_check(page, net, documents, folder):
    doc = next(d for d in documents["minutes"] if len(d["sigs"]) >= 2)
    good = net.get(f"/v1/documents/{doc['doc_id']}/receipt")
    bad = tamper(good, "flipped proof byte")
    page.route(f"**/v1/documents/{doc['doc_id']}/receipt",
               lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(bad)))
    open_page(page, f"/documents/{doc['doc_id']}")
    assert page.locator("#receipt-check [data-verdict]").get_attribute("data-check") == "inclusion"
    assert page.locator("[data-receipt-alert=fail]").count() == 1  # said at the top of the page too
    path = folder / "receipt-failed.png"
    page.locator("section[aria-labelledby=receipt-title]").screenshot(path=str(path))
    width, height = _png_size(path)
    assert width > 800 and height > 400
