"""POST /v1/documents:batch over a real Ledger (tests/node/service_double.py): per-envelope
results in request order, both body forms, and the batch-wide refusals (malformed body,
too many envelopes or bytes, no leader)."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from fastapi.testclient import TestClient

from client.verify import verify_receipt
from ledger.encoding import canonical, decode_canonical
from ledger.jsonfmt import b64e
from node.api import create_app

from .test_api import _new_minutes, _sign, world  # noqa: F401  (the module-scoped fixture)

BATCH = "/v1/documents:batch"
MP = {"Content-Type": "application/msgpack"}


def _bad_signature(envelope: bytes) -> bytes:
    obj = decode_canonical(envelope)
    sig = bytearray(obj["sigs"][0]["sig"])
    sig[0] ^= 1
    obj["sigs"][0]["sig"] = bytes(sig)
    return canonical(obj)


def test_a_batch_answers_each_envelope_in_order(world):  # noqa: F811
    org, genesis, _, client = world
    good = [_sign(org, *_new_minutes(org, f"batch-{i}")) for i in range(3)]
    committed_before = _sign(org, *_new_minutes(org, "batch-before"))
    assert client.post("/v1/documents", content=committed_before, headers=MP).status_code == 202
    forged = _bad_signature(_sign(org, *_new_minutes(org, "batch-forged")))
    body = [good[0], forged, committed_before, b"\x93\x01", good[1], good[2]]

    r = client.post(BATCH + "?wait=committed", content=msgpack.packb(body, use_bin_type=True), headers=MP)

    assert r.status_code == 200, r.text
    answer = r.json()
    results = answer["results"]
    assert [x["status"] for x in results] == ["committed", "error", "already_committed", "error", "committed",
                                              "committed"]
    assert answer["counts"] == {"pending": 0, "committed": 3, "already_committed": 1, "error": 2}
    for i in (0, 4, 5):
        assert verify_receipt(results[i]["receipt"], genesis).doc_id == results[i]["doc_id"]
    assert verify_receipt(results[2]["receipt"], genesis).doc_id == results[2]["doc_id"]
    assert (results[1]["http_status"], results[1]["error"]) == (401, "bad_signature")
    assert results[1]["doc_id"] == hashlib.sha256(canonical(decode_canonical(forged)["doc"])).hexdigest()
    assert results[3]["http_status"] == 400 and results[3]["doc_id"] is None and results[3]["message"]


def test_json_body_and_plain_pending_answers(world):  # noqa: F811
    org, _, _, client = world
    envelopes = [_sign(org, *_new_minutes(org, f"batch-json-{i}")) for i in range(2)]
    r = client.post(BATCH, json={"envelopes": [b64e(e) for e in envelopes]})
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["pending", "pending"]
    again = client.post(BATCH, json={"envelopes": [b64e(e) for e in envelopes]})
    assert [x["status"] for x in again.json()["results"]] == ["already_committed"] * 2


@pytest.mark.parametrize("content,headers,status,field", [
    (b"", MP, 400, "body"),
    (msgpack.packb([]), MP, 400, "envelopes"),
    (msgpack.packb({"a": 1}), MP, 400, "body"),
    (msgpack.packb([b"\x80", "text"]), MP, 400, "envelopes[1]"),
    (b"\x92\xc4", MP, 400, "body"),  # truncated msgpack
    (b'{"envelopes": ["@@"]}', {"Content-Type": "application/json"}, 400, "envelopes[0]"),
    (b'{"envelopes": [], "x": 1}', {"Content-Type": "application/json"}, 400, "x"),
    (b"[" * 100_000, {"Content-Type": "application/json"}, 400, "body"),
    (b"\x00", {"Content-Type": "text/plain"}, 400, "content-type"),
])
def test_malformed_batches_are_400_naming_the_field(world, content, headers, status, field):  # noqa: F811
    _, _, _, client = world
    r = client.post(BATCH, content=content, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field


def test_too_many_envelopes_or_bytes_is_413(world):  # noqa: F811
    _, genesis, service, _ = world
    client = TestClient(create_app(service, max_batch_bytes=1 << 20), raise_server_exceptions=False)
    r = client.post(BATCH, content=msgpack.packb([b"\x80"] * 1001, use_bin_type=True), headers=MP)
    assert r.status_code == 413 and r.json()["field"] == "envelopes"
    r = client.post(BATCH, content=msgpack.packb([b"\x80" * 700_000] * 2, use_bin_type=True), headers=MP)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    # the single route keeps its own, smaller limit
    assert client.post("/v1/documents", content=b"\x80" * ((1 << 20) + (1 << 17) + 1),
                       headers=MP).status_code == 413


def test_no_leader_refuses_the_whole_batch_with_retry_after(world):  # noqa: F811
    org, _, service, client = world
    service.no_leader = True
    try:
        r = client.post(BATCH, content=msgpack.packb([_sign(org, *_new_minutes(org, "batch-nl"))], use_bin_type=True),
                        headers=MP)
    finally:
        service.no_leader = False
    assert r.status_code == 503 and r.json()["error"] == "no_leader" and int(r.headers["retry-after"]) >= 1
