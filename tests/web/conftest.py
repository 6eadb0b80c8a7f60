"""Browser tests of the web pages: Debian's chromium driven by Playwright for Python.

One devnet (three node processes, the sample organisation loaded through the
API, ``tests/devnet.py``) and one browser serve every test of this package,
and stop when its last test is done (Playwright's event loop must not outlive
them: tests of other packages run asyncio themselves).
Each test gets a fresh browser context (a chosen locale), signed in through the
login page as the root's inspector, who reads every record (``reader``; with
``visitor`` among its fixtures a test is signed out, and ``sign_in`` signs in as
another member), and a page that records what would make it wrong however it
looks:

- every console error and uncaught exception (a missing label logs one,
  ``web/js/i18n.js``), but for requests the browser dropped because the
  machine's network changed under it (the pages ask again);
- every answer of 400 or more (a favicon 404 included), unless the test
  says it expects it;
- every request to another origin (nothing the node serves may load from
  the internet), and every request that failed.

``open_page(page, path)`` loads a page URL, waits for the shell's
``data-ready="1"`` (web/js/app.js) and returns the first-render time the
browser measured (the ``page-ready`` mark, ms since navigation start); the
times are printed at the end of the session (``pytest_terminal_summary``).

Chromium is started as the machine notes say (root, no GPU, no background
networking); Playwright gives every launch a fresh, empty profile directory.
The browser is never downloaded: without /usr/bin/chromium or Playwright the
tests are skipped with the reason, unless ``MINUTEBOOK_REQUIRE_BROWSER=1``
(``.ci/run`` sets it), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests import devnet
from tests.ports import devnet_base_port

CHROMIUM = os.environ.get("MINUTEBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY = "html[data-ready='1']"
# Chromium drops the requests in flight when the machine's network interfaces change (another
# program adding or removing one: a shared test machine does). The pages ask again (web/js/api.js);
# a test must not blame them for the drop itself.
NETWORK_CHANGED = "ERR_NETWORK_CHANGED"
# A font the browser was still fetching when the test moved to the next page is cancelled
# (net::ERR_ABORTED). Fonts load lazily, at layout, so one can start after `wait_ready` looked: the
# cancel is the test's doing. A font the node fails to serve still shows, as an HTTP answer >= 400.
ABORTED = "net::ERR_ABORTED"
FIRST_RENDER: dict[str, list[float]] = {}


def _missing() -> str | None:
    """What the browser tests lack on this machine, or None when they can run."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


MISSING = _missing()
REQUIRED = os.environ.get("MINUTEBOOK_REQUIRE_BROWSER") == "1"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Without chromium or Playwright, each test that uses the browser is skipped by a marker
    that names what is missing; with MINUTEBOOK_REQUIRE_BROWSER=1 they run and fail instead."""
    if MISSING is None or REQUIRED:
        return
    mark = pytest.mark.skipif(True, reason=f"browser tests need Debian's chromium and Playwright "
                                           f"(.ci/run installs both): {MISSING}")
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(mark)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if MISSING is not None:
        pytest.fail(f"browser tests required (MINUTEBOOK_REQUIRE_BROWSER=1) but {MISSING}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Net:
    """A running devnet: its directory, node URLs, genesis and sample members; ``get`` asks as node
    n1, whose key reads everything (the tests compare the pages with the API's full answers)."""

    directory: Path
    urls: list[str]
    genesis: dict
    members: list[dict]
    http: httpx.Client = field(repr=False)

    @property
    def url(self) -> str:
        return self.urls[0]

    def member(self, org: str, role: str) -> dict:
        """The sample member holding `role` in `org` (devnet members.json)."""
        return next(m for m in self.members if m["org"] == org and role in m["roles"])

    def key_file(self, member_id: str) -> Path:
        return self.directory / next(m["key_file"] for m in self.members if m["member_id"] == member_id)

    def get(self, path: str) -> Any:
        r = self.http.get(self.url + path)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="package")
def net(tmp_path_factory, browser) -> Iterator[Net]:
    directory = tmp_path_factory.mktemp("web") / "devnet"
    proc = devnet.start(directory, devnet_base_port(3), 3)
    devnet.wait_running(proc)
    try:
        cluster = json.loads((directory / "cluster.json").read_text(encoding="utf-8"))
        from client.signing import RequestSigner
        from ledger.keys import read_key_file

        with httpx.Client(timeout=30, auth=RequestSigner(read_key_file(directory / "keys" / "n1.json"))) as http:
            yield Net(directory=directory, urls=[n["api_url"] for n in cluster["nodes"]],
                      genesis=json.loads((directory / "genesis.json").read_text(encoding="utf-8")),
                      members=json.loads((directory / "members.json").read_text(encoding="utf-8")), http=http)
    finally:
        devnet.down(proc)


class Watch:
    """What a page did that a test must see (module docstring)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.bad_answers: list[str] = []
        self.elsewhere: list[str] = []
        self.expected_status: set[tuple[int, str]] = set()

    def expect_status(self, status: int, path_part: str) -> None:
        """An answer `status` for a URL containing `path_part` is what the test wants (and the
        console error the browser logs for it)."""
        self.expected_status.add((status, path_part))

    def _expected(self, status: int, url: str) -> bool:
        return any(status == s and part in url for s, part in self.expected_status)

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            location = message.location or {}
            url = location.get("url", "")
            text = message.text
            if NETWORK_CHANGED in text:
                return
            if text.startswith("Failed to load resource") and any(
                    f"status of {s}" in text and part in url for s, part in self.expected_status):
                return
            self.errors.append(f"console: {text} ({url})")

    def on_response(self, response: Any) -> None:
        if response.status >= 400 and not self._expected(response.status, response.url):
            self.bad_answers.append(f"{response.status} {response.url}")

    def on_request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.elsewhere.append(request.url)

    def on_failed(self, request: Any) -> None:
        failure = request.failure or ""
        if NETWORK_CHANGED in failure or (failure == ABORTED and request.resource_type == "font"):
            return
        self.errors.append(f"request failed: {request.url} {failure}")

    def problems(self) -> list[str]:
        return self.errors + [f"HTTP {a}" for a in self.bad_answers] + [f"request to {u}" for u in self.elsewhere]


def sign_in(page: Any, key_file: Path, *, next_path: str = "/") -> None:
    """Sign in through the login page with a member's key file (read by the browser, never sent)."""
    from urllib.parse import quote

    page.goto(f"/login?next={quote(next_path, safe='')}")
    page.wait_for_selector(READY, state="attached", timeout=30_000)
    page.set_input_files("#key-file", str(key_file))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_selector(READY, state="attached", timeout=30_000)


@pytest.fixture(scope="package")
def reader(net) -> dict:
    """The root's inspector: reads every record and block envelope (node/scopes.py)."""
    return net.member(net.genesis["units"][0]["path"], "inspector")


@pytest.fixture(scope="package")
def signed_in(browser, net, reader) -> Any:
    """A browser storage state (session cookie and the pages' note) signed in as `reader`, renewed
    well before the node's session would end (node config access.session_s, 900 s by default)."""
    import time

    state = {"at": -1e9, "value": None}

    def current() -> dict:
        if time.monotonic() - state["at"] > 600:
            ctx = browser.new_context(base_url=net.url)
            try:
                sign_in(ctx.new_page(), net.key_file(reader["member_id"]))
                state["value"], state["at"] = ctx.storage_state(), time.monotonic()
            finally:
                ctx.close()
        return state["value"]

    return current


@pytest.fixture
def context(browser, net, request, signed_in) -> Iterator[Any]:
    """A browser context signed in as the reader; with ``visitor`` among the test's fixtures, signed out."""
    locale = getattr(request, "param", None) or "vi-VN"
    storage = None if "visitor" in request.fixturenames else signed_in()
    ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900}, base_url=net.url,
                              storage_state=storage)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def visitor() -> None:
    """Ask for it to have the test's page signed out (a visitor without a key)."""


def watched(p: Any, url: str) -> Any:
    """`p` with a Watch (``p.watch``) on everything it does, for pages of the node at `url`."""
    watch = Watch(urlsplit(url).scheme + "://" + urlsplit(url).netloc)
    p.on("console", watch.on_console)
    p.on("pageerror", lambda exc: watch.errors.append(f"uncaught: {exc}"))
    p.on("response", watch.on_response)
    p.on("request", watch.on_request)
    p.on("requestfailed", watch.on_failed)
    p.watch = watch
    return p


def assert_behaved(p: Any) -> None:
    problems = p.watch.problems()
    assert not problems, "the page did something wrong:\n" + "\n".join(problems)


@pytest.fixture
def page(context, net) -> Iterator[Any]:
    p = watched(context.new_page(), net.url)
    yield p
    assert_behaved(p)


@pytest.fixture(scope="module")
def module_page(browser, net) -> Iterator[Any]:
    """One page of the devnet for a module's tests that only run the pages' modules
    (``page.evaluate`` of ``import('/web/js/...')``), many times over (hypothesis)."""
    context = browser.new_context(base_url=net.url)
    p = context.new_page()
    open_page(p, "/verify")
    yield p
    context.close()


def open_page(page: Any, path: str, *, name: str | None = None) -> float:
    """Load `path`, wait until the page has rendered; returns and records its first-render time (ms)."""
    page.goto(path)
    wait_ready(page)
    return record_render(page, name or page.evaluate("document.documentElement.dataset.page"))


def wait_ready(page: Any) -> None:
    """Wait until the page has rendered (also after a click that renders another page in place) and
    the fonts its text asked for have loaded: leaving earlier would cancel those loads, and the
    watch would see failed requests that are the test's doing, not the page's."""
    page.wait_for_selector(READY, state="attached", timeout=30_000)
    page.evaluate("() => new Promise(r => { void document.body.offsetHeight; "
                  "requestAnimationFrame(() => requestAnimationFrame(r)); })"
                  ".then(() => document.fonts.ready).then(() => true)")


def record_render(page: Any, name: str) -> float:
    ms = page.evaluate("() => { const m = performance.getEntriesByName('page-ready', 'mark'); "
                       "return m.length ? m[0].startTime : null; }")
    if ms is not None:
        FIRST_RENDER.setdefault(name, []).append(ms)
    return ms


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIRST_RENDER:
        return
    terminalreporter.section("first render of each page (ms since navigation start, devnet on loopback)")
    terminalreporter.write_line(f"{'page':<12} {'loads':>5} {'median':>8} {'max':>8}")
    for name, times in sorted(FIRST_RENDER.items()):
        ordered = sorted(times)
        terminalreporter.write_line(f"{name:<12} {len(ordered):>5} {ordered[len(ordered) // 2]:>8.0f} {ordered[-1]:>8.0f}")


@dataclass(frozen=True)
class Tree:
    """Units of the devnet's sample by level, read from the API (not assumed): the root, a
    province, a district committee and a cell below it, and a district with an overdue cell."""

    root: str
    province: str
    district: str
    cell: str
    overdue_cell: str

    @property
    def overdue_district(self) -> str:
        return self.overdue_cell.rsplit("/", 1)[0]


@pytest.fixture(scope="package")
def tree(net) -> Tree:
    root = net.get("/v1/site")["root_unit"]
    province = net.get(f"/v1/orgs/{root}")["children"][0]["path"]
    district = net.get(f"/v1/orgs/{province}")["children"][0]["path"]
    cell = net.get(f"/v1/orgs/{district}")["children"][0]["path"]
    cells = [u["path"] for u in net.get(f"/v1/orgs/{root}/stats")["overdue_units"]["cells"]]
    assert cells, "the sample has a cell overdue for a regular meeting"
    return Tree(root=root, province=province, district=district, cell=cell, overdue_cell=cells[0])


@pytest.fixture(scope="package")
def documents(net) -> dict[str, list[dict]]:
    """The devnet's accepted documents by type: [{doc_id, height, doc, sigs}] (envelopes decoded here,
    with the ledger's own decoder)."""
    from ledger.encoding import decode_canonical
    from ledger.jsonfmt import b64d

    height = net.get("/v1/blocks?limit=1")["height"]
    by_type: dict[str, list[dict]] = {}
    for h in range(1, height + 1):
        block = net.get(f"/v1/blocks/{h}")
        envelopes = net.get(f"/v1/blocks/{h}/envelopes")["envelopes"]
        for entry, raw in zip(block["documents"], envelopes):
            if entry["status"] != "accepted":
                continue
            env = decode_canonical(b64d(raw))
            by_type.setdefault(env["doc"]["type"], []).append(
                {"doc_id": entry["doc_id"], "height": h, "doc": env["doc"], "sigs": env["sigs"]})
    return by_type


@dataclass
class InProcess:
    """An in-process node (tests/node/service_double.py) over the sample organisation, served on
    loopback, whose last block holds a rejected document: what the devnet's sample does not have."""

    url: str
    service: Any
    rejected: str  # the doc id of the rejected minutes
    accepted: str  # the doc id of the accepted minutes beside it, amended in the next block
    amendment: str  # the doc id of that amendment
    inspector_key: Path  # the key file of the root's inspector, to sign in with
    org: Any  # the sample organisation (client/sample_org.py)
    keys: Path  # where key_file() writes

    def key_file(self, member_id: str) -> Path:
        """A key file for any sample member."""
        from ledger.keys import write_key_file

        path = self.keys / f"{member_id}.json"
        if not path.exists():
            write_key_file(path, id_field="member_id", id=member_id, seed=self.org.seed_of(member_id))
        return path

    def signed_in_page(self, browser: Any, locale: str = "vi-VN") -> tuple[Any, Any]:
        """(context, page) on this node, the page watched and signed in as the root's inspector."""
        context = browser.new_context(base_url=self.url, locale=locale)
        page = watched(context.new_page(), self.url)
        sign_in(page, self.inspector_key)
        return context, page


@pytest.fixture(scope="package")
def in_process(tmp_path_factory) -> Iterator[InProcess]:
    import hashlib

    from client.sdk import sign_document
    from ledger.encoding import decode_canonical
    from ledger.keys import write_key_file
    from tests.node.service_double import sample_service, serve

    seeds = {f"n{i}": hashlib.sha256(f"web-in-process-{i}".encode()).digest() for i in (1, 2, 3)}
    anchor = 1_760_000_000_000
    org, _, service = sample_service(seeds, anchor)
    unit = "central/p1/k1/s1"
    chair, secretary = org._officer(unit, "deputy_secretary"), org._officer(unit, "secretary")

    def minutes(label: str) -> dict:
        body = {"meeting_id": f"{unit}/web-{label}", "kind": "thematic", "held_at": anchor - 86_400_000,
                "mode": "online", "chair": chair, "secretary": secretary,
                "attendees": [{"member": chair, "present": True}, {"member": secretary, "present": True}],
                "agenda": ["chuyên đề"], "opinions": [], "votes": [], "decisions": [], "text": f"Họp chuyên đề {label}"}
        return org._doc(f"web/{label}", "minutes", unit, body, anchor + 10**6)

    good = sign_document(minutes("good"), [(m, org.seed_of(m)) for m in (chair, secretary)])
    refused = sign_document(minutes("refused"), [(secretary, org.seed_of(secretary))])  # the chair did not sign
    service.apply([refused, good])
    block = service.ledger.block(service.ledger.height)
    assert [d["status"] for d in block["documents"]] == ["rejected", "accepted"]
    assert decode_canonical(refused)["doc"]["org"] == unit
    original = block["documents"][1]["doc_id"]
    replacement = dict(minutes("good")["body"], text="Họp chuyên đề good (đính chính: thêm kết luận)",
                       decisions=["Giao chi ủy xây dựng kế hoạch"])
    amend = org._doc("web/amend", "amendment", unit, {"target": original, "action": "amend",
                                                      "reason": "Bổ sung kết luận", "body": replacement},
                     anchor + 2 * 10**6, refs=[original])
    service.apply([sign_document(amend, [(m, org.seed_of(m)) for m in (chair, secretary)])])
    amended = service.ledger.block(service.ledger.height)["documents"]
    assert [d["status"] for d in amended] == ["accepted"], amended
    keys = tmp_path_factory.mktemp("in-process")
    inspector = org._officer(org.genesis_members()[0].unit, "inspector")
    key = keys / f"{inspector}.json"
    write_key_file(key, id_field="member_id", id=inspector, seed=org.seed_of(inspector))
    with serve(service) as url:
        yield InProcess(url=url, service=service, rejected=block["documents"][0]["doc_id"], accepted=original,
                        amendment=amended[0]["doc_id"], inspector_key=key, org=org, keys=keys)
