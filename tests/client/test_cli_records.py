"""`minutebook submit` with the records rules: ISO times read in the display
zone (--tz, $MINUTEBOOK_TZ), a second record of one meeting refused with the
record to amend (exit 1, one line), an amendment whose replacement's times are
read by the target's schema. Against tests/node/service_double.py served by
uvicorn, over tests/ledger/factory.py's organisation."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from client.cli import main
from client.errors import DuplicateRecordError
from client.sdk import Client
from ledger.keys import write_key_file
from tests.ledger.factory import CELLS, T0, make_org
from tests.node.service_double import ServiceDouble, key_file, serve

CELL = CELLS[0]
HCM = dt.timezone(dt.timedelta(hours=7))


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-records")
    org = make_org()
    # The CLI signs created_at with the real clock, and a leader refuses a document from its future.
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=max(T0, int(time.time() * 1000)))
    keys = {}
    for member in (org.secretary(CELL), org.deputy(CELL)):
        keys[member] = str(d / f"{member}.json")
        write_key_file(keys[member], id_field="member_id", id=member, seed=org.seeds[member])
    with serve(service) as url:
        yield {"dir": d, "org": org, "url": url, "keys": keys, "service": service}


def _minutes(node, meeting: str, held_at: str) -> str:
    org = node["org"]
    chair, secretary = org.deputy(CELL), org.secretary(CELL)
    return json.dumps({"type": "minutes", "org": CELL, "body": {
        "meeting_id": f"{CELL}/{meeting}", "kind": "regular", "held_at": held_at, "scheduled_for": "2026-11-20",
        "mode": "in_person", "chair": chair, "secretary": secretary,
        "attendees": [{"member": chair, "present": True}, {"member": secretary, "present": True}],
        "agenda": ["Kế hoạch tháng 12"], "opinions": [], "votes": [], "decisions": [], "text": "Biên bản."}},
        ensure_ascii=False)


def _submit(node, path, *extra, env=None):
    keys = [a for k in node["keys"].values() for a in ("--key", k)]
    return run("submit", str(path), *keys, "--node", node["url"], *extra, env=env)


def _committed(node, path, text: str) -> str:
    """Write `text` to `path`, submit it with --wait; its doc id."""
    path.write_text(text, encoding="utf-8")
    r = _submit(node, path, "--wait")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)["doc_id"]


def _reader(node) -> Client:
    """A client whose reads are signed by the cell's secretary."""
    org = node["org"]
    return Client(node["url"], key=key_file(org.secretary(CELL), org.seeds[org.secretary(CELL)]))


def _held_at(node, doc_id: str) -> int:
    with _reader(node) as client:
        return client.get_document(doc_id)["doc"]["body"]["held_at"]


def test_iso_times_are_read_in_the_display_zone(node, tmp_path):
    f = tmp_path / "m.json"
    doc_id = _committed(node, f, _minutes(node, "2026-11", "2026-11-20T19:00"))
    assert _held_at(node, doc_id) == round(dt.datetime(2026, 11, 20, 19, tzinfo=HCM).timestamp() * 1000)
    f.write_text(_minutes(node, "2026-12", "2026-12-20T19:00"), encoding="utf-8")
    r = _submit(node, f, "--tz", "UTC")
    assert r.exit_code == 0, r.output
    utc = round(dt.datetime(2026, 12, 20, 19, tzinfo=dt.timezone.utc).timestamp() * 1000)
    assert _held_at(node, r.output.split()[0]) == utc
    f.write_text(_minutes(node, "2027-01", "2027-01-20T19:00"), encoding="utf-8")
    r = _submit(node, f, env={"MINUTEBOOK_TZ": "Europe/London"})
    assert r.exit_code == 0 and _held_at(node, r.output.split()[0]) == utc + 31 * 86_400_000


def test_bad_zone_and_bad_time_are_one_line_exit_2(node, tmp_path):
    f = tmp_path / "m.json"
    f.write_text(_minutes(node, "bad-zone", "2026-11-20T19:00"), encoding="utf-8")
    r = _submit(node, f, "--tz", "Mars/Olympus")
    assert r.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in r.output
    f.write_text(_minutes(node, "bad-time", "20/11/2026"), encoding="utf-8")
    r = _submit(node, f)
    assert r.exit_code == 2 and r.output.startswith("error: body.held_at: not a time: '20/11/2026'")
    assert len(r.output.splitlines()) == 1


def test_a_second_record_of_one_meeting_is_refused_with_the_one_to_amend(node, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    existing = _committed(node, first, _minutes(node, "2026-10", "2026-10-20T19:00"))
    second.write_text(_minutes(node, "2026-10", "2026-10-21T19:00"), encoding="utf-8")
    r = _submit(node, second, "--wait")
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1
    assert r.output.startswith("error: body.meeting_id: a minutes with org") and existing in r.output
    assert "(HTTP 409 duplicate_record)" in r.output
    # running submit again sends the bytes it signed the first time (kept in the outbox): the same
    # document, already committed, so the meeting is recorded once and the run succeeds
    again = _submit(node, first)
    assert again.exit_code == 0 and again.output.startswith(f"{existing} already_committed")


def test_the_sdk_raises_duplicate_record_with_the_existing_id(node, tmp_path):
    from client.sdk import sign_document

    org = node["org"]
    one = org.resolution(CELL, number="5/NQ-CB")
    with _reader(node) as client:
        assert client.submit(one.to_bytes(), wait=True)["status"] == "committed"
        doc = {"type": "resolution", "org": CELL, "body": dict(one.doc.body, title="Bản khác")}
        with pytest.raises(DuplicateRecordError) as info:
            client.submit(sign_document(doc, [(org.secretary(CELL), org.seeds[org.secretary(CELL)])]))
    err = info.value
    assert (err.status, err.code, err.field, err.existing) == (409, "duplicate_record", "body.number", one.doc_id)


def test_an_amendment_reads_its_replacement_times_by_the_targets_schema(node, tmp_path):
    target = _committed(node, tmp_path / "m.json", _minutes(node, "amend-me", "2026-09-20T19:00"))
    replacement = json.loads(_minutes(node, "amend-me", "2026-09-21T19:00"))["body"]
    amendment = tmp_path / "a.json"
    amendment.write_text(json.dumps({"type": "amendment", "org": CELL, "refs": [target], "body": {
        "target": target, "action": "amend", "reason": "ghi sai ngày họp", "body": replacement}}), encoding="utf-8")
    r = _submit(node, amendment, "--wait")
    assert r.exit_code == 0, r.output
    fix = json.loads(r.output)["doc_id"]
    with _reader(node) as client:
        doc = client.get_document(target)
        assert doc["current"] == fix and [v["action"] for v in doc["versions"]] == ["original", "amend"]
        held = client.get_document(fix)["doc"]["body"]["body"]["held_at"]
    assert held == round(dt.datetime(2026, 9, 21, 19, tzinfo=HCM).timestamp() * 1000)
