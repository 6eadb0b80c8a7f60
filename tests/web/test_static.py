"""node/routes/web.py and node/routes/search.py without a browser: what the node
serves for the pages (files, caching, compression, the content security
policy, /docs offline, the favicon, /v1/site, /v1/genesis, /v1/search)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from node.api import create_app
from node.routes.web import PAGE_ROUTES, WEB_ROOT
from tests.node.service_double import key_file, sample_service, signed_client

ANCHOR = 1_760_000_000_000
NODE_SEEDS = {f"n{i}": hashlib.sha256(f"web-test-node-{i}".encode()).digest() for i in (1, 2, 3)}


@pytest.fixture(scope="module")
def world():
    _, genesis, service = sample_service(NODE_SEEDS, ANCHOR, phases=2)
    return genesis, service, TestClient(create_app(service), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def sample():
    """The whole sample organisation, with clients that sign as a node (reads everything) or a member."""
    org, _, service = sample_service(NODE_SEEDS, ANCHOR)
    app = create_app(service)

    def client(who: str | None):
        if who is None:
            return signed_client(app, None)
        if who in NODE_SEEDS:
            return signed_client(app, key_file(who, NODE_SEEDS[who], node=True))
        return signed_client(app, key_file(who, org.seed_of(who)))

    return org, service, client


def _pages() -> list[str]:
    """One concrete URL per page route."""
    examples = {"{height}": "1", "{doc_id}": "ab" * 32, "{path:path}": "central/p1", "{member_id}": "m0010"}
    out = []
    for route in PAGE_ROUTES:
        for pattern, value in examples.items():
            route = route.replace(pattern, value)
        out.append(route)
    return out


@pytest.mark.parametrize("url", _pages())
def test_every_page_url_is_the_shell_with_a_strict_policy(world, url):
    _, _, client = world
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.content == (WEB_ROOT / "app.html").read_bytes()
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy and "unsafe-inline" not in policy
    assert r.headers["x-content-type-options"] == "nosniff"


def test_files_revalidate_with_etag_and_vendor_files_are_immutable(world):
    _, _, client = world
    r = client.get("/web/js/app.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    again = client.get("/web/js/app.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    changed = client.get("/web/js/app.js", headers={"If-None-Match": '"not-it"'})
    assert changed.status_code == 200 and changed.content == (WEB_ROOT / "js" / "app.js").read_bytes()
    vendor = client.get("/web/vendor/chart.js-4.6.1/chart.umd.min.js")
    assert vendor.status_code == 200 and "immutable" in vendor.headers["cache-control"]
    font = client.get("/web/vendor/noto-sans-5.3.0/files/noto-sans-vietnamese-400-normal.woff2")
    assert font.status_code == 200 and font.headers["content-type"] == "font/woff2"


def test_text_is_sent_gzipped_to_a_browser_that_takes_it(world):
    _, _, client = world
    plain = (WEB_ROOT / "vendor" / "swagger-ui-dist-5.35.0" / "swagger-ui-bundle.js").read_bytes()
    r = client.get("/web/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip" and "Accept-Encoding" in r.headers["vary"]
    assert r.content == plain  # httpx undoes the gzip
    assert int(r.headers["content-length"]) < len(plain) / 2
    raw = client.get("/web/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.content == plain
    refused = client.get("/web/js/app.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_a_file_changed_on_disk_is_served_anew(world, tmp_path):
    from node.routes.web import StaticFiles

    (tmp_path / "a.js").write_text("one", encoding="utf-8")
    files = StaticFiles(tmp_path)
    before = files.get("a.js")
    (tmp_path / "a.js").write_text("two!", encoding="utf-8")
    after = files.get("a.js")
    assert before.body == b"one" and after.body == b"two!" and before.etag != after.etag


@pytest.mark.parametrize("url", ["/web/../pyproject.toml", "/web/%2e%2e/pyproject.toml", "/web/..%2fpyproject.toml",
                                 "/web//etc/passwd", "/web/js/nothing.js", "/web/"])
def test_nothing_outside_the_index_is_served(world, url):
    _, _, client = world
    r = client.get(url)
    assert r.status_code == 404 and "[build-system]" not in r.text and "root:x:" not in r.text


def test_favicon(world):
    _, _, client = world
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_docs_page_loads_only_local_files(world):
    _, _, client = world
    r = client.get("/docs")
    sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert r.status_code == 200 and "content-security-policy" in r.headers
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert "<script>" not in r.text  # no inline script: the policy would refuse it
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


def test_site_and_genesis(world):
    genesis, service, client = world
    site = client.get("/v1/site").json()
    assert site["root_unit"] == "central" and site["node_id"] == "n1"
    assert site["genesis_hash"] == service.ledger.genesis_hash.hex()
    assert site["chain_zone"] == site["display_zone"] == "Asia/Ho_Chi_Minh"
    assert site["languages"] == ["vi", "en"] and site["default_language"] == "vi"
    assert client.get("/v1/genesis").json() == genesis


def test_display_zone_follows_minutebook_tz(world, monkeypatch):
    _, _, client = world
    monkeypatch.setenv("MINUTEBOOK_TZ", "Europe/Paris")
    assert client.get("/v1/site").json()["display_zone"] == "Europe/Paris"


def test_search_reads_each_kind_by_key_and_names_by_their_words(sample):
    _, service, client = sample
    node = client("n1")
    ledger = service.ledger
    doc_id = ledger.block(1)["documents"][0]["doc_id"]
    answer = node.get("/v1/search", params={"q": doc_id}).json()
    assert answer["results"] == [{"kind": "document", "doc_id": doc_id, "type": ledger.document(doc_id)["doc"]["type"],
                                  "org": ledger.document(doc_id)["doc"]["org"], "status": "accepted", "height": 1,
                                  "match": "exact"}]
    assert answer["complete"] is True and answer["height"] == ledger.height
    assert node.get("/v1/search", params={"q": "1"}).json()["results"] == [{"kind": "block", "height": 1, "match": "exact"}]
    assert node.get("/v1/search", params={"q": str(ledger.height + 1)}).json()["results"] == []
    unit = node.get("/v1/search", params={"q": "/central/"}).json()["results"]
    assert unit[0] == {"kind": "unit", "path": "central", "name": "Ban Chấp hành Trung ương", "unit_kind": "central",
                       "status": "open", "match": "exact"}
    member = next(m for m in ledger.genesis.to_json()["members"])
    found = node.get("/v1/search", params={"q": member["member_id"]}).json()["results"]
    assert [(r["kind"], r["match"]) for r in found] == [("member", "exact")] and found[0]["name"] == member.get("name")
    by_name = node.get("/v1/search", params={"q": "trung UONG"}).json()["results"]
    assert {"kind": "unit", "path": "central", "name": "Ban Chấp hành Trung ương", "unit_kind": "central",
            "status": "open", "match": "name"} in by_name
    first, *rest = member["name"].split()
    by_member = node.get("/v1/search", params={"q": f"{rest[-1][:3]} {first}"}).json()["results"]
    assert any(r["kind"] == "member" and r["member_id"] == member["member_id"] for r in by_member)
    assert node.get("/v1/search", params={"q": "no such thing"}).json()["results"] == []


def test_search_finds_only_what_the_caller_may_open(sample):
    """Anyone may search; each finds only what their scope reads (node/scopes.py): the public the
    blocks, a cell's secretary their cell and its members, not another cell's, by id or by name."""
    org, service, client = sample
    ledger = service.ledger
    cell, other = "central/p1/k1/s1", "central/p2/k1/s1"
    secretary = org._officer(cell, "secretary")
    public = client(None).get("/v1/search", params={"q": "1"})
    assert public.status_code == 200 and public.json()["results"] == [{"kind": "block", "height": 1, "match": "exact"}]
    assert client(None).get("/v1/search", params={"q": cell}).json()["results"] == []
    assert client(None).get("/v1/search", params={"q": "trung uong"}).json()["results"] == []
    me = client(secretary)
    assert [r["path"] for r in me.get("/v1/search", params={"q": cell}).json()["results"]] == [cell]
    assert me.get("/v1/search", params={"q": other}).json()["results"] == []
    other_name = ledger.document(next(d["doc_id"] for d in ledger.documents_by("type", "org_unit", limit=None)
                                      if d["doc"]["body"]["path"] == other))["doc"]["body"]["name"]
    assert all(r.get("path") != other for r in me.get("/v1/search", params={"q": other_name}).json()["results"])
    stranger = org._officer(other, "secretary")
    assert [r["kind"] for r in me.get("/v1/search", params={"q": stranger}).json()["results"]] == []
    assert [r["kind"] for r in client("n1").get("/v1/search", params={"q": stranger}).json()["results"]] == ["member"]
    minutes = next(d for d in ledger.documents_by("unit", other, limit=None) if d["doc"]["type"] == "minutes")
    assert me.get("/v1/search", params={"q": minutes["doc_id"]}).json()["results"] == []
    assert [r["kind"] for r in client("n1").get("/v1/search", params={"q": minutes["doc_id"]}).json()["results"]] == [
        "document"]


@pytest.mark.parametrize("params, field", [({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 201}, "q")])
def test_search_refuses_what_it_cannot_read(world, params, field):
    _, _, client = world
    r = client.get("/v1/search", params=params)
    assert r.status_code == 400 and r.json()["field"] == field


def test_every_file_under_web_is_reachable():
    from node.routes.web import StaticFiles

    files = StaticFiles(WEB_ROOT)
    on_disk = {p.relative_to(WEB_ROOT).as_posix() for p in Path(WEB_ROOT).rglob("*") if p.is_file()}
    assert set(files.files) == on_disk
    assert all(gzip.decompress(f.gzipped) == f.body for f in files.files.values() if f.gzipped)


def test_references_list_what_refers_to_a_document_within_the_scope(in_process):
    """GET /v1/documents/{id}/references: the amendment of the in-process node's minutes; paging;
    403 for a document outside the caller's scope, 401 without a key (tests/web/conftest.py)."""
    import httpx

    from client.signing import RequestSigner
    from ledger.keys import read_key_file

    url = f"{in_process.url}/v1/documents/{in_process.accepted}/references"
    with httpx.Client(auth=RequestSigner(read_key_file(in_process.inspector_key)), timeout=30) as inspector:
        answer = inspector.get(url).json()
        assert [i["doc_id"] for i in answer["items"]] == [in_process.amendment]
        assert answer["items"][0]["type"] == "amendment" and answer["more"] is False and answer["offset"] == 0
        assert inspector.get(url, params={"offset": 1}).json()["items"] == []
        assert inspector.get(url, params={"limit": 501}).status_code == 400
        assert inspector.get(f"{in_process.url}/v1/documents/{'0' * 64}/references").status_code == 404
    assert httpx.get(url).status_code == 401
    stranger = in_process.org._officer("central/p2/k1/s1", "secretary")
    with httpx.Client(auth=RequestSigner(read_key_file(in_process.key_file(stranger))), timeout=30) as other:
        r = other.get(url)
        assert r.status_code == 403 and r.json()["error"] == "out_of_scope"


def _static_imports(module: Path) -> set[Path]:
    """The modules `module` imports statically (``import … from "./x.js"``), and theirs."""
    found: set[Path] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        text = current.read_text(encoding="utf-8")
        for spec in re.findall(r'^import\s[^;]*?from\s+"(\.{1,2}/[^"]+)"', text, flags=re.M):
            target = (current.parent / spec).resolve()
            if target not in found:
                found.add(target)
                todo.append(target)
    return found


def test_the_shell_preloads_every_module_the_app_imports_statically():
    """A module app.js imports that the shell does not name is found only once app.js has been
    fetched and parsed: one more round trip before the first page can render."""
    shell = (WEB_ROOT / "app.html").read_text(encoding="utf-8")
    preloaded = {(Path(WEB_ROOT) / href.removeprefix("/web/")).resolve()
                 for href in re.findall(r'<link rel="modulepreload" href="([^"]+)"', shell)}
    needed = _static_imports(Path(WEB_ROOT) / "js" / "app.js")
    assert needed, "no import found in app.js"
    assert {p.name for p in needed - preloaded} == set()
    assert {p.name for p in preloaded - needed} == set()
