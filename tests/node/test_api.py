"""node/api.py: every route, in JSON and msgpack, over a real Ledger (through
tests/node/service_double.py) loaded with the sample organisation of
client/sample_org.py. The error model alone is in test_api_errors.py."""

from __future__ import annotations

import base64
import hashlib

import msgpack
import pytest

from client.sample_org import SampleOrg
from client.sdk import sign_document
from ledger.encoding import canonical, decode_canonical
from ledger.jsonfmt import b64e
from node.api import create_app

from .service_double import ServiceDouble, key_file, sample_service, signed_client

ANCHOR = 1_760_000_000_000
NODE_SEEDS = {f"n{i}": hashlib.sha256(f"api-test-node-{i}".encode()).digest() for i in (1, 2, 3)}
MSGPACK = {"Accept": "application/msgpack"}


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def world():
    org, genesis, service = sample_service(NODE_SEEDS, ANCHOR)
    client = signed_client(create_app(service), key_file("n1", NODE_SEEDS["n1"], node=True))  # reads everything
    return org, genesis, service, client


def _new_minutes(org: SampleOrg, label: str) -> tuple[dict, list[str]]:
    unit = "central/p1/k1/s1"
    chair, secretary = org._officer(unit, "deputy_secretary"), org._officer(unit, "secretary")
    body = {"meeting_id": f"{unit}/x-{label}", "kind": "thematic", "held_at": ANCHOR - 86_400_000, "mode": "online",
            "chair": chair, "secretary": secretary,
            "attendees": [{"member": chair, "present": True}, {"member": secretary, "present": True}],
            "agenda": ["chuyên đề"], "opinions": [], "votes": [], "decisions": [], "text": f"Họp chuyên đề {label}"}
    return org._doc(f"test/{label}", "minutes", unit, body, ANCHOR + 10**6), [chair, secretary]


def _sign(org: SampleOrg, doc: dict, signers: list[str]) -> bytes:
    return sign_document(doc, [(m, org.seed_of(m)) for m in signers])


# -- documents ---------------------------------------------------------------


def test_submit_msgpack_then_duplicate_is_409_with_receipt(world):
    org, genesis, _, client = world
    envelope = _sign(org, *_new_minutes(org, "msgpack"))
    r = client.post("/v1/documents", content=envelope, headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 202 and r.json()["status"] == "pending"
    doc_id = r.json()["doc_id"]
    r = client.post("/v1/documents", content=envelope, headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "already_committed" and body["doc_id"] == doc_id
    assert body["receipt"]["doc_id"] == doc_id
    from client.verify import verify_receipt

    assert verify_receipt(body["receipt"], genesis).doc_id == doc_id


def test_submit_json_wait_committed_returns_a_receipt_that_verifies(world):
    org, genesis, _, client = world
    envelope = _sign(org, *_new_minutes(org, "json"))
    r = client.post("/v1/documents?wait=committed", json={"envelope": b64e(envelope)})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "committed"
    assert _b64d(body["receipt"]["envelope"]) == envelope
    from client.verify import verify_receipt

    assert verify_receipt(body["receipt"], genesis).doc_id == body["doc_id"]


def test_submit_msgpack_answer(world):
    org, _, _, client = world
    envelope = _sign(org, *_new_minutes(org, "mp-answer"))
    r = client.post("/v1/documents?wait=committed", content=envelope,
                    headers={"Content-Type": "application/msgpack", **MSGPACK})
    assert r.headers["content-type"] == "application/msgpack"
    assert msgpack.unpackb(r.content)["status"] == "committed"


def test_bad_signature_is_401(world):
    org, _, _, client = world
    envelope = decode_canonical(_sign(org, *_new_minutes(org, "badsig")))
    sig = bytearray(envelope["sigs"][0]["sig"])
    sig[0] ^= 1
    envelope["sigs"][0]["sig"] = bytes(sig)
    r = client.post("/v1/documents", content=canonical(envelope), headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 401 and r.json()["error"] == "bad_signature"


def test_signer_without_the_role_is_403(world):
    org, _, _, client = world
    doc, _ = _new_minutes(org, "norole")
    plain = next(m.member_id for m in org.members if m.unit == "central/p1/k1/s1" and not m.roles)
    r = client.post("/v1/documents", content=_sign(org, doc, [plain]), headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 403 and r.json()["error"] == "not_permitted"


def test_not_canonical_names_the_problem(world):
    org, _, _, client = world
    envelope = decode_canonical(_sign(org, *_new_minutes(org, "noncanon")))
    data = msgpack.packb({"sigs": envelope["sigs"], "doc": envelope["doc"]}, use_bin_type=True)  # keys unsorted
    r = client.post("/v1/documents", content=data, headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 400 and r.json()["error"] in ("not_canonical", "invalid_input")
    assert r.json()["message"]


def test_get_document_json_and_msgpack(world):
    org, _, service, client = world
    first = service.ledger.block(1)["documents"][0]["doc_id"]
    doc = client.get(f"/v1/documents/{first}").json()
    assert doc["doc_id"] == first and doc["status"] == "accepted" and doc["doc"]["type"] == "org_unit"
    assert hashlib.sha256(canonical(decode_canonical(_b64d(doc["envelope"]))["doc"])).hexdigest() == first
    packed = msgpack.unpackb(client.get(f"/v1/documents/{first}", headers=MSGPACK).content)
    assert packed == doc
    assert client.get(f"/v1/documents/{'0' * 64}").status_code == 404


def test_receipt_download(world):
    _, genesis, service, client = world
    doc_id = service.ledger.block(2)["documents"][0]["doc_id"]
    r = client.get(f"/v1/documents/{doc_id}/receipt?download=true")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    from client.verify import verify_receipt

    assert verify_receipt(r.json(), genesis).doc_id == doc_id


# -- log ---------------------------------------------------------------------


def test_tree_head_and_consistency(world):
    _, _, service, client = world
    head = client.get("/v1/tree-head").json()
    assert head["height"] == service.ledger.height and len(head["certificate"]) == 3
    assert client.get("/v1/tree-head", headers=MSGPACK).headers["content-type"] == "application/msgpack"
    proof = client.get(f"/v1/proofs/consistency?first=3&second={head['log_size']}").json()
    assert proof["first"] == 3 and proof["second"] == head["log_size"] and proof["proof"]
    r = client.get(f"/v1/proofs/consistency?first=5&second={head['log_size'] + 1}")
    assert r.status_code == 400 and r.json()["field"]


def test_blocks_pages_and_envelopes(world):
    _, _, service, client = world
    page = client.get("/v1/blocks?from=1&limit=3").json()
    assert [b["height"] for b in page["blocks"]] == [1, 2, 3] and page["height"] == service.ledger.height
    latest = client.get("/v1/blocks?limit=2").json()
    assert [b["height"] for b in latest["blocks"]] == [service.ledger.height - 1, service.ledger.height]
    block = client.get("/v1/blocks/3").json()
    assert block == service.ledger.block(3)
    env = client.get("/v1/blocks/3/envelopes").json()
    assert env["block_hash"] == block["block_hash"]
    assert len(env["envelopes"]) == len(block["documents"])
    for e, d in zip(env["envelopes"], block["documents"]):
        assert hashlib.sha256(canonical(decode_canonical(_b64d(e))["doc"])).hexdigest() == d["doc_id"]
    assert client.get(f"/v1/blocks/{service.ledger.height + 5}").status_code == 404
    assert client.get("/v1/blocks/0").status_code == 404


# -- registry ----------------------------------------------------------------


def test_member_profile_and_history(world):
    _, _, service, client = world
    [mover] = [d["doc"]["body"]["member"] for d in service.ledger.documents_by("type", "member_status", limit=None)
               if d["doc"]["body"]["change"] == "transferred"]
    body = client.get(f"/v1/members/{mover}").json()
    history = [e for e in body["timeline"] if e["kind"] == "status"]
    changes = [h["change"] for h in history]
    assert changes[0] == "admitted" and "transferred" in changes
    transfer = next(h for h in history if h["change"] == "transferred")
    assert transfer["to_org"].startswith("central/") and body["member"]["unit"] == transfer["to_org"]
    assert client.get("/v1/members/nobody").status_code == 404


def test_org_view(world):
    _, _, _, client = world
    body = client.get("/v1/orgs/central/p1").json()
    assert body["unit"]["path"] == "central/p1"
    assert sorted(c["path"] for c in body["children"]) == ["central/p1/k1", "central/p1/k2"]
    assert body["members"] == 3
    assert client.get("/v1/orgs/central/p9").status_code == 404


def test_org_stats_rolled_up(world):
    _, _, service, client = world
    since, until = ANCHOR - 400 * 86_400_000, ANCHOR + 3_600_000
    period = f"since={since}&until={until}"
    stats = client.get(f"/v1/orgs/central/stats?{period}").json()

    def sample(doc_type: str, field: str, unit: str = "central") -> list[dict]:
        """The sample's documents of `doc_type` in `unit`'s subtree whose body[field] is in [since, until]."""
        return [d["doc"]["body"] for d in service.ledger.documents_by("type", doc_type, limit=None)
                if (d["doc"]["org"] + "/").startswith(unit + "/") and since <= d["doc"]["body"][field] <= until]

    assert stats["units"] == {"total": 19, "cells": 12, "committees": 7}
    meetings = stats["meetings"]  # the sample's regular meetings; other tests add thematic (unscheduled) ones
    regular = [b for b in sample("minutes", "held_at") if b["kind"] == "regular"]
    assert meetings["regular"] == len(regular) > 80 and meetings["held"] == len(regular) + meetings["thematic"]
    assert meetings["on_time"] + meetings["late"] == len(regular) and meetings["late"] > 0
    assert sorted(u["path"] for u in stats["overdue_units"]["cells"]) == ["central/p1/k2/s3", "central/p2/k1/s2"]
    assert all(u["last_regular_meeting"] for u in stats["overdue_units"]["cells"])
    assert 0.8 < stats["attendance"]["roll"]["rate"] <= 1
    assert stats["opinions"]["per_meeting"] >= 1
    assert 0.7 < stats["votes"]["participation"] < 1  # some members cast no ballot
    assert stats["inspection_findings"]["major"] == 1
    assert stats["member_status_changes"]["made_full"] == \
        sum(1 for b in sample("member_status", "effective_at") if b["change"] == "made_full") > 0
    assert [c["path"] for c in stats["children"]] == ["central", "central/p1", "central/p2"]
    assert sum(c["meetings"]["held"] for c in stats["children"]) == meetings["held"]
    cell = client.get(f"/v1/orgs/central/p1/k2/s3/stats?{period}").json()
    listed = client.get(f"/v1/orgs/central/p1/k2/s3/documents?type=minutes&{period}").json()["items"]
    assert cell["units"]["total"] == 1
    assert cell["meetings"]["held"] == len(listed) == len(sample("minutes", "held_at", "central/p1/k2/s3")) > 0
    assert [u["path"] for u in cell["overdue_units"]["cells"]] == ["central/p1/k2/s3"]
    assert cell["inspection_findings"]["major"] == 1
    r = client.get(f"/v1/orgs/central/stats?since={ANCHOR}&until={ANCHOR - 1}")
    assert r.status_code == 400 and r.json()["field"] == "since"


# -- node --------------------------------------------------------------------


def test_status_health_metrics(world):
    _, _, service, client = world
    status = client.get("/v1/status").json()
    assert status["role"] == "leader" and status["node_id"] == "n1" and status["root_unit"] == "central"
    assert client.get("/healthz").json()["height"] == service.ledger.height
    assert client.get("/metrics").status_code == 200
    assert 'src="/web/js/app.js"' in client.get("/").text  # the web pages' shell (tests/web/)


def test_no_leader_is_503_with_retry_after(world):
    org, _, service, client = world
    service.no_leader = True
    try:
        r = client.post("/v1/documents", content=_sign(org, *_new_minutes(org, "noleader")),
                        headers={"Content-Type": "application/msgpack"})
    finally:
        service.no_leader = False
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


def test_rejected_document_through_the_api(world):
    """Only accepted envelopes are leaves: the block lists the rejected one with
    leaf_index null, the document route shows the reason, there is no receipt,
    and the envelopes route still serves every envelope in proposal order."""
    org, genesis, _, _ = world
    service = ServiceDouble(genesis, NODE_SEEDS, start_ms=ANCHOR + 2 * 10**6)  # after the test documents  # its own: this adds a block
    for _, docs in org.phases():
        service.apply([_sign(org, d, s) for d, s in docs])
    client = signed_client(create_app(service), key_file("n1", NODE_SEEDS["n1"], node=True))
    h, size = service.ledger.height + 1, service.ledger.head().log_size
    doc, signers = _new_minutes(org, "mixed")
    good = _sign(org, doc, signers)
    unsigned_by_chair = _sign(org, *_new_minutes(org, "mixed-bad"))
    refused = _sign(org, decode_canonical(unsigned_by_chair)["doc"], signers[1:])  # the chair did not sign
    service.apply([refused, good, good])
    block = client.get(f"/v1/blocks/{h}").json()
    assert [(d["status"], d["leaf_index"]) for d in block["documents"]] == [
        ("rejected", None), ("accepted", size), ("rejected", None)]
    assert msgpack.unpackb(client.get(f"/v1/blocks/{h}", headers=MSGPACK).content)["documents"] == block["documents"]
    assert block["header_fields"]["log_size"] == size + 1 == client.get("/v1/tree-head").json()["log_size"]
    refused_id = block["documents"][0]["doc_id"]
    doc_json = client.get(f"/v1/documents/{refused_id}").json()
    assert doc_json["status"] == "rejected" and doc_json["leaf_index"] is None and doc_json["height"] == h
    assert doc_json["reason"] == block["documents"][0]["reason"] and _b64d(doc_json["envelope"]) == refused
    r = client.get(f"/v1/documents/{refused_id}/receipt")
    assert r.status_code == 422 and r.json()["error"] == "rejected"
    served = client.get(f"/v1/blocks/{h}/envelopes").json()["envelopes"]
    assert [_b64d(e) for e in served] == [refused, good, good]
