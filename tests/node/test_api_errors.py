"""node/api.py's error model, size limit and catch-all, over a stub service
whose ledger raises what each test asks for (no real ledger needed: these test
the mapping, done in one place, not the ledger). The stub keeps a registry
holding one node key, and the client signs its requests with it: content
routes need an authenticated caller (node/auth.py)."""

from __future__ import annotations

import logging

import msgpack
import pytest
from fastapi.testclient import TestClient

from ledger.errors import (
    AlreadyCommitted,
    BadSignature,
    CorruptionError,
    InvalidInput,
    NotFound,
    NotPermitted,
    Rejected,
    TooLarge,
)
from ledger.jsonfmt import b64e
from ledger.keys import public_key
from ledger.registry import Registry
from ledger.store import MemoryStore, Overlay
from node.api import create_app
from node.errors import NoLeader, SubmitTimeout

from .service_double import key_file, signed_client

DOC_ID = "ab" * 32
NODE_SEED = bytes(range(32))
STUB_GENESIS = {"chain_id": "stub", "created_at": 1_700_000_000_000,
                "units": [{"path": "central", "name": "Trung ương", "kind": "central"}],
                "members": [{"member_id": "m1", "unit": "central", "status": "full", "roles": ["secretary"],
                             "public_key": b64e(public_key(bytes(32)))}],
                "nodes": [{"node_id": "n1", "public_key": b64e(public_key(NODE_SEED)), "peer_addr": "127.0.0.1:1",
                           "role": "voter"}]}


def _client(service, **kwargs):
    client = signed_client(create_app(service, **kwargs), key_file("n1", NODE_SEED, node=True))
    return client


class StubLedger:
    """Raises `self.error` from every query, or answers fixed objects."""

    height = 0
    error: Exception | None = None

    def __init__(self) -> None:
        self.store = MemoryStore()
        overlay = Overlay(self.store)
        Registry.bootstrap(overlay, STUB_GENESIS)
        overlay.commit()

    def _answer(self, obj):
        if self.error is not None:
            raise self.error
        return obj

    def document(self, doc_id):
        return self._answer({"doc_id": doc_id, "doc": {"type": "minutes", "org": "central", "body": {}}})

    def receipt(self, doc_id):
        return self._answer({"doc_id": doc_id})

    def block(self, height):
        return self._answer({"height": height})

    def tree_head(self, certified=False):
        return self._answer({"height": 0})


class StubService:
    """A NodeService stand-in: submit raises `submit_error` or returns pending."""

    node_id = "n1"

    def __init__(self) -> None:
        self.ledger = StubLedger()
        self.submit_error: Exception | None = None
        self.submitted: list[tuple[bytes, bool, float]] = []

    async def submit(self, envelope, *, wait, timeout=30.0):
        self.submitted.append((envelope, wait, timeout))
        if self.submit_error is not None:
            raise self.submit_error
        return {"doc_id": DOC_ID, "status": "pending"}

    def status(self):
        return {"role": "leader", "term": 1, "leader": "n1"}


@pytest.fixture
def stub():
    service = StubService()
    return service, _client(service, max_request_bytes=1 << 20)


@pytest.mark.parametrize(
    "error,status,code,field",
    [
        (InvalidInput("body.votes[2].for", "expected int >= 0, got -1"), 400, "invalid_input", "body.votes[2].for"),
        (BadSignature("m0001", field="sigs[0].sig"), 401, "bad_signature", "sigs[0].sig"),
        (NotPermitted("m0001", "secretary", "central/p1"), 403, "not_permitted", None),
        (TooLarge("body.text", "string longer than 1048576 characters"), 413, "too_large", "body.text"),
        (Rejected("member m0007 is expelled"), 422, "rejected", None),
        (SubmitTimeout(DOC_ID), 504, "timeout", None),
    ],
)
def test_submit_errors_have_one_shape(stub, error, status, code, field):
    service, client = stub
    service.submit_error = error
    r = client.post("/v1/documents", content=b"\x80", headers={"Content-Type": "application/msgpack"})
    assert r.status_code == status
    body = r.json()
    assert body["error"] == code and body["message"] == error.message
    assert body.get("field") == field


def test_409_carries_the_existing_receipt(stub):
    service, client = stub
    service.submit_error = AlreadyCommitted(DOC_ID, {"doc_id": DOC_ID, "leaf_index": 4})
    r = client.post("/v1/documents", content=b"\x80", headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 409
    assert r.json()["receipt"] == {"doc_id": DOC_ID, "leaf_index": 4}
    assert r.json()["doc_id"] == DOC_ID


def test_503_has_retry_after(stub):
    service, client = stub
    service.submit_error = NoLeader(retry_after=2.5)
    r = client.post("/v1/documents", json={"envelope": "gA"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "3"
    assert r.json()["error"] == "no_leader"


def test_json_body_forms(stub):
    service, client = stub
    assert client.post("/v1/documents", json={"envelope": "gA"}).status_code == 202
    assert service.submitted[-1] == (b"\x80", False, 30.0)
    for body, field in [({}, "envelope"), ({"envelope": "gA", "x": 1}, "x"), ({"envelope": "g=="}, "envelope"),
                        ({"envelope": 5}, "envelope")]:
        r = client.post("/v1/documents", json=body)
        assert (r.status_code, r.json()["field"]) == (400, field), body
    r = client.post("/v1/documents", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["field"]) == (400, "body")
    r = client.post("/v1/documents", content=b"x", headers={"Content-Type": "text/plain"})
    assert (r.status_code, r.json()["field"]) == (400, "content-type")
    r = client.post("/v1/documents", content=b"", headers={"Content-Type": "application/msgpack"})
    assert (r.status_code, r.json()["field"]) == (400, "body")


def test_wait_and_timeout_parameters(stub):
    service, client = stub
    client.post("/v1/documents?wait=committed&timeout=5", json={"envelope": "gA"})
    assert service.submitted[-1] == (b"\x80", True, 5.0)
    r = client.post("/v1/documents?wait=yes", json={"envelope": "gA"})
    assert (r.status_code, r.json()["field"]) == (400, "wait")
    r = client.post("/v1/documents?timeout=-1", json={"envelope": "gA"})
    assert (r.status_code, r.json()["field"]) == (400, "timeout")


def test_size_limit_by_content_length_before_reading(stub):
    service, client = stub
    r = client.post("/v1/documents", content=b"\x00" * ((1 << 20) + 1), headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 413
    assert r.json() == {"error": "too_large", "field": "body",
                        "message": f"request body of {(1 << 20) + 1} bytes is over the limit of {1 << 20} bytes"}
    assert service.submitted == []


def test_size_limit_on_a_streamed_body_without_length(stub):
    service, client = stub

    def chunks():
        for _ in range(40):
            yield b"\x00" * 65536

    r = client.post("/v1/documents", content=chunks(), headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert service.submitted == []


def test_validation_errors_are_mapped(stub):
    _, client = stub
    r = client.get("/v1/blocks/abc")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input" and r.json()["field"] == "height"
    r = client.get("/v1/proofs/consistency?first=1")
    assert (r.status_code, r.json()["field"]) == (400, "second")
    r = client.get("/v1/blocks?limit=1000")
    assert (r.status_code, r.json()["field"]) == (400, "limit")
    r = client.get("/v1/documents/xyz")
    assert (r.status_code, r.json()["field"]) == (400, "doc_id")


def test_unknown_route_and_method(stub):
    _, client = stub
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.delete("/v1/tree-head")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_not_found_from_the_ledger(stub):
    service, client = stub
    service.ledger.error = NotFound(f"document {DOC_ID}")
    r = client.get(f"/v1/documents/{DOC_ID}")
    assert r.status_code == 404 and r.json() == {"error": "not_found", "message": f"document {DOC_ID} not found"}


@pytest.mark.parametrize("error", [RuntimeError("secret detail /etc/passwd"), CorruptionError("leaf 7 checksum")])
def test_internal_errors_never_leak(stub, caplog, error):
    service, client = stub
    service.ledger.error = error
    with caplog.at_level(logging.ERROR, logger="minutebook.api"):
        r = client.get("/v1/tree-head")
    assert r.status_code == 500
    assert r.json()["error"] == "internal"
    assert "secret" not in r.text and "checksum" not in r.text and "Traceback" not in r.text
    assert any(rec.exc_info for rec in caplog.records)  # the trace is logged server-side


def test_msgpack_answers_and_errors(stub):
    service, client = stub
    r = client.get("/v1/tree-head", headers={"Accept": "application/msgpack"})
    assert r.headers["content-type"] == "application/msgpack"
    assert msgpack.unpackb(r.content) == {"height": 0}
    service.ledger.error = NotFound("block 9")
    r = client.get("/v1/blocks/9", headers={"Accept": "application/msgpack"})
    assert r.status_code == 404 and msgpack.unpackb(r.content)["error"] == "not_found"


def test_health_metrics_docs_pages(stub):
    _, client = stub
    assert client.get("/healthz").json() == {"ok": True, "node_id": "n1", "height": 0}
    assert client.get("/metrics").status_code == 200
    assert client.get("/docs").status_code == 200
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/v1/documents", "/v1/documents/{doc_id}", "/v1/documents/{doc_id}/receipt", "/v1/tree-head",
            "/v1/proofs/consistency", "/v1/blocks", "/v1/blocks/{height}", "/v1/blocks/{height}/envelopes",
            "/v1/members/{member_id}", "/v1/orgs/{path}", "/v1/orgs/{path}/stats", "/v1/status", "/metrics",
            "/healthz"} <= paths
    page = client.get("/")
    assert page.status_code == 200 and 'src="/web/js/app.js"' in page.text


def test_request_seconds_recorded_by_route():
    from prometheus_client import CollectorRegistry, Histogram

    class Metrics:
        registry = CollectorRegistry()
        api_request_seconds = Histogram("api_request_seconds", "time", ["route", "method"], registry=registry)

    service = StubService()
    service.metrics = Metrics()
    client = _client(service)
    client.get(f"/v1/documents/{DOC_ID}")
    text = client.get("/metrics").text
    assert 'api_request_seconds_count{method="GET",route="/v1/documents/{doc_id}"} 1.0' in text


def test_status_with_runtime_types_is_plain_json():
    import enum

    class Role(enum.Enum):
        LEADER = 1

    service = StubService()
    service.status = lambda: {"role": Role.LEADER, "peers": {"n2": (3, 4)}, "voters": {"n1", "n2"}, "key": b"\x01"}
    body = TestClient(create_app(service)).get("/v1/status").json()  # public: no key needed
    assert body["role"] == "leader" and body["peers"] == {"n2": [3, 4]} and body["voters"] == ["n1", "n2"]
    assert body["key"] == "AQ" and body["node_id"] == "n1"


def test_a_leaders_answer_passes_through_unchanged(stub):
    from node.forwarding import LeaderAnswered

    service, client = stub
    service.submit_error = LeaderAnswered("n2", 403, {"error": "not_permitted", "message": "m0001 lacks secretary"})
    r = client.post("/v1/documents", json={"envelope": "gA"})
    assert r.status_code == 403 and r.json() == {"error": "not_permitted", "message": "m0001 lacks secretary"}
    service.submit_error = LeaderAnswered("n2", 503, {"error": "busy", "message": "later"}, retry_after="4")
    r = client.post("/v1/documents", json={"envelope": "gA"})
    assert r.status_code == 503 and r.headers["retry-after"] == "4"


LEAN_CASES = [
    ("", {"json": {"envelope": "gA"}}, None),
    ("?wait=committed&timeout=5", {"json": {"envelope": "gA"}}, None),
    ("?wait=&timeout=300", {"content": b"\x80", "headers": {"Content-Type": "application/msgpack"}}, None),
    ("", {"content": b"\x80", "headers": {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}},
     None),
    ("", {"json": {"envelope": "gA", "x": 1}}, None),
    ("", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, None),
    ("", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, None),
    ("", {"content": b"", "headers": {"Content-Type": "application/msgpack"}}, None),
    ("", {"json": {"envelope": "gA"}}, NoLeader(retry_after=2.5)),
    ("", {"json": {"envelope": "gA"}}, AlreadyCommitted(DOC_ID, {"doc_id": DOC_ID})),
    ("?wait=committed", {"json": {"envelope": "gA"}}, SubmitTimeout(DOC_ID)),
    ("", {"json": {"envelope": "gA"}}, InvalidInput("body.votes[2].for", "expected int >= 0, got -1")),
    # not for the lean path: FastAPI's own validation answers these
    ("?wait=yes", {"json": {"envelope": "gA"}}, None),
    ("?timeout=-1", {"json": {"envelope": "gA"}}, None),
    ("?timeout=0", {"json": {"envelope": "gA"}}, None),
    ("?timeout=301", {"json": {"envelope": "gA"}}, None),
    ("?timeout=abc", {"json": {"envelope": "gA"}}, None),
    ("?timeout=5&timeout=6", {"json": {"envelope": "gA"}}, None),
    ("?other=1", {"json": {"envelope": "gA"}}, None),
]


@pytest.mark.parametrize("query,request_kwargs,error", LEAN_CASES)
def test_lean_submit_answers_as_the_route_does(query, request_kwargs, error):
    """Plain submissions skip FastAPI (node/routes/documents.py LeanSubmit): the answer --
    status, headers that matter, body -- and what reaches the service are the same as through
    the FastAPI route, for good and bad input alike."""
    answers = []
    for lean in (True, False):
        service = StubService()
        service.submit_error = error
        app = create_app(service, max_request_bytes=1 << 20, lean_submit=lean)
        with TestClient(app, raise_server_exceptions=False) as client:  # unsigned: the lean path's case
            r = client.post("/v1/documents" + query, **request_kwargs)
        answers.append((r.status_code, r.headers.get("content-type"), r.headers.get("retry-after"), r.content,
                        service.submitted))
    assert answers[0] == answers[1]


def test_lean_submit_takes_only_plain_requests():
    service = StubService()
    app = create_app(service)
    lean = next(m.kwargs["lean"] for m in app.user_middleware if "lean" in m.kwargs)

    def scope(query=b"", headers=(), path="/v1/documents", method="POST"):
        return {"type": "http", "path": path, "method": method, "query_string": query, "headers": list(headers)}

    assert lean.takes(scope()) == (False, 30.0)
    assert lean.takes(scope(b"wait=committed&timeout=2.5")) == (True, 2.5)
    assert lean.takes(scope(headers=[(b"signature", b"x")])) is None  # the signature must be checked
    assert lean.takes(scope(headers=[(b"cookie", b"mb_session=x")])) is None
    assert lean.takes(scope(b"timeout=0")) is None
    assert lean.takes(scope(path="/v1/documents:batch")) is None
    assert lean.takes(scope(method="GET")) is None
