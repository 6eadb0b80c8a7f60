"""The HTTP API over the records rules: a second record of one act is 409
`duplicate_record` naming the field and the existing record (JSON and
msgpack, never a 5xx), and a record's document shows its current version and
its history. Over tests/node/service_double.py and tests/ledger/factory.py."""

from __future__ import annotations

import msgpack
import pytest

from ledger.encoding import canonical
from ledger.jsonfmt import b64e
from node.api import create_app
from tests.ledger.factory import CELLS, T0, make_org

from .service_double import ServiceDouble, key_file, signed_client

CELL = CELLS[0]
MSGPACK = {"Content-Type": "application/msgpack"}


@pytest.fixture(scope="module")
def world():
    org = make_org()
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=T0)
    reader = org.secretary(CELL)  # reads are signed; the cell's secretary reads the cell's records
    return org, service, signed_client(create_app(service), key_file(reader, org.seeds[reader]))


def test_a_second_record_of_one_meeting_is_409_duplicate_record(world):
    org, _, client = world
    first = org.minutes(CELL, meeting_id=f"{CELL}/api")
    r = client.post("/v1/documents", json={"envelope": b64e(first.to_bytes())})
    assert r.status_code == 202
    again = org.minutes(CELL, meeting_id=f"{CELL}/api", text="lần hai")
    r = client.post("/v1/documents", content=again.to_bytes(), headers=MSGPACK)
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "duplicate_record" and body["field"] == "body.meeting_id"
    assert body["existing"] == first.doc_id and "receipt" not in body
    r = client.post("/v1/documents", content=again.to_bytes(), headers={**MSGPACK, "Accept": "application/msgpack"})
    assert r.status_code == 409 and msgpack.unpackb(r.content)["existing"] == first.doc_id
    assert client.get(f"/v1/documents/{again.doc_id}").status_code == 404  # nothing was recorded


def test_a_records_document_shows_its_current_version_and_history(world):
    org, service, client = world
    original = org.resolution(CELL, number="3/NQ-API")
    assert client.post("/v1/documents", content=original.to_bytes(), headers=MSGPACK).status_code == 202
    fix = org.amendment(original, title="Về kế hoạch (đã sửa)")
    r = client.post("/v1/documents?wait=committed", content=fix.to_bytes(), headers=MSGPACK)
    assert r.status_code == 200
    doc = client.get(f"/v1/documents/{original.doc_id}").json()
    heights = [service.ledger.document(d)["height"] for d in (original.doc_id, fix.doc_id)]
    assert doc["current"] == fix.doc_id
    assert doc["versions"] == [{"doc_id": original.doc_id, "action": "original", "height": heights[0]},
                               {"doc_id": fix.doc_id, "action": "amend", "height": heights[1]}]
    twice = org.amendment(fix, action="withdraw", signers=list(original.signers))
    r = client.post("/v1/documents", content=twice.to_bytes(), headers=MSGPACK)
    assert r.status_code == 422 and r.json()["error"] == "rejected" and original.doc_id in r.json()["message"]


def test_a_time_past_year_9999_is_400_naming_the_field(world):
    org, _, client = world
    late = org.minutes(CELL, meeting_id=f"{CELL}/late")
    obj = late.to_obj()
    obj["doc"]["body"]["held_at"] = 2**64 - 1
    r = client.post("/v1/documents", content=canonical(obj), headers=MSGPACK)
    assert r.status_code == 400 and r.json()["field"] == "body.held_at" and "out of range" in r.json()["message"]
