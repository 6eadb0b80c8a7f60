"""Safe retries and the offline outbox (client/outbox.py, client/cli_submit.py):
a retry after a timeout sends the same signed bytes and records the meeting
once; `sign` works with no node; `outbox push` sends what is pending, keeps
the receipts, lists refusals with their reason, and resumes after the network
drops; an edited file with a pending envelope is refused."""

from __future__ import annotations

import json

import pytest

from client.outbox import Outbox, intent_of, is_refusal
from client.sample_org import SampleOrg
from client import errors as api_errors
from ledger.errors import InvalidInput
from node.errors import NoLeader, Overloaded, SubmitTimeout
from tests.client.sample_service import ANCHOR, accepted_docs, loaded_service, officer_keys, run
from tests.node.service_double import ServiceDouble, serve
from tests.ports import free_port

UNIT = "central/p1/k1/s1"
PHASES_WITH_ROLES = 5  # provinces, committees, cells, admissions, roles


class FlakyService(ServiceDouble):
    """Admits and commits what it is sent, but answers the first `timeouts`
    waiting submissions with 504 (as a node whose certificate came late), and the
    first `no_leader_answers` (`overloaded_answers`) requests, single or batch,
    with 503 no_leader (overloaded). Notes whether the outbox held the envelope
    before it arrived, and the size of each batch request."""

    timeouts = 0
    no_leader_answers = 0
    overloaded_answers = 0
    outbox: Outbox | None = None
    kept_before_sent: list[bool]
    batches: list[int]

    def _unavailable(self) -> None:
        if self.no_leader_answers:
            self.no_leader_answers -= 1
            raise NoLeader(retry_after=1.0)
        if self.overloaded_answers:
            self.overloaded_answers -= 1
            raise Overloaded(retry_after=1.0)

    async def submit_batch(self, envelopes: list[bytes], *, wait: bool, timeout: float = 30.0) -> list[dict]:
        self.batches.append(len(envelopes))
        self._unavailable()  # the batch as a whole, as a node without a leader or full answers
        return await super().submit_batch(envelopes, wait=wait, timeout=timeout)

    async def submit(self, envelope: bytes, *, wait: bool, timeout: float = 30.0) -> dict:
        from ledger.documents import Envelope

        doc_id = Envelope.from_bytes(envelope).doc_id
        if self.outbox is not None:
            self.kept_before_sent.append(self.outbox.get(doc_id) is not None)
        self._unavailable()
        if wait and self.timeouts:
            self.timeouts -= 1
            await super().submit(envelope, wait=False)
            raise SubmitTimeout(doc_id)
        return await super().submit(envelope, wait=wait, timeout=timeout)


@pytest.fixture()
def cell(tmp_path):
    """A served FlakyService with the sample's units, members and roles; keys on disk."""
    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    genesis, service = loaded_service(org, PHASES_WITH_ROLES, cls=FlakyService)
    service.kept_before_sent, service.batches = [], []
    org.members_json(tmp_path)
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    with serve(service) as url:
        yield {"dir": tmp_path, "org": org, "service": service, "url": url, "keys": officer_keys(org, tmp_path)}


def _minutes_file(ctx, label: str, text: str = "Biên bản sinh hoạt chi bộ") -> str:
    org = ctx["org"]
    chair, secretary = org._officer(UNIT, "deputy_secretary"), org._officer(UNIT, "secretary")
    doc = {"type": "minutes", "org": UNIT, "body": {
        "meeting_id": f"{UNIT}/{label}", "kind": "regular", "held_at": ANCHOR - 86_400_000, "mode": "in_person",
        "chair": chair, "secretary": secretary,
        "attendees": [{"member": chair, "present": True}, {"member": secretary, "present": True}],
        "agenda": ["Kế hoạch tháng tới"], "opinions": [], "votes": [], "decisions": [], "text": text}}
    path = ctx["dir"] / f"{label}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _meetings(service, meeting_id: str) -> list[dict]:
    return [d for d in accepted_docs(service, "minutes") if d["body"]["meeting_id"] == meeting_id]


def _key_args(ctx) -> list[str]:
    return [a for k in ctx["keys"] for a in ("--key", k)]


def test_retry_after_a_504_records_the_meeting_once(cell):
    """Issue fault: `submit --wait` that ended in 504 and was run again signed a
    new document, and the meeting was recorded twice. Now the second run sends
    the bytes kept in the outbox and gets the first one's receipt."""
    cell["service"].timeouts = 1
    f = _minutes_file(cell, "2026-05")
    first = run("submit", f, *_key_args(cell), "--node", cell["url"], "--wait", "--timeout", "5")
    assert first.exit_code == 3, first.output
    assert "kept in" in first.output and "outbox push" in first.output
    second = run("submit", f, *_key_args(cell), "--node", cell["url"], "--wait", "--timeout", "5")
    assert second.exit_code == 0, second.output
    receipt = json.loads(second.stdout)
    recorded = _meetings(cell["service"], f"{UNIT}/2026-05")
    assert len(recorded) == 1
    assert receipt["doc_id"] == cell["service"].ledger.document(receipt["doc_id"])["doc_id"]
    assert "already committed" in second.stderr
    box = Outbox(cell["dir"] / "minutebook-outbox")
    assert [e.doc_id for e in box.entries("committed")] == [receipt["doc_id"]]
    assert json.loads(box.receipt_path(receipt["doc_id"]).read_text())["leaf_index"] == receipt["leaf_index"]
    verified = run("verify", str(box.receipt_path(receipt["doc_id"])), "--genesis", str(cell["dir"] / "genesis.json"))
    assert verified.exit_code == 0, verified.output


def test_envelope_is_kept_before_it_is_sent(cell):
    service = cell["service"]
    service.outbox = Outbox(cell["dir"] / "minutebook-outbox")
    r = run("submit", _minutes_file(cell, "kept"), *_key_args(cell), "--node", cell["url"])
    assert r.exit_code == 0, r.output
    assert service.kept_before_sent == [True]


def test_offline_submit_then_push_sends_the_same_bytes(cell, tmp_path):
    f = _minutes_file(cell, "offline")
    down = f"http://127.0.0.1:{free_port()}"
    r = run("submit", f, *_key_args(cell), "--node", down, "--wait")
    assert r.exit_code == 3 and "cannot reach" in r.output and "kept in" in r.output
    box = Outbox(cell["dir"] / "minutebook-outbox")
    [entry] = box.entries("pending")
    assert entry.attempts == 1 and "cannot reach" in entry.last_error
    listed = run("outbox", "list", str(box.path))
    assert listed.exit_code == 0 and "1 pending, 0 committed, 0 refused" in listed.output
    assert entry.doc_id[:16] in listed.output
    pushed = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet")
    assert pushed.exit_code == 0, pushed.output
    assert "1 committed (0 were already), 0 refused, 0 still pending" in pushed.output
    assert str(box.path / "receipts") in pushed.output
    [done] = box.entries("committed")
    assert done.doc_id == entry.doc_id and done.envelope == entry.envelope
    assert len(_meetings(cell["service"], f"{UNIT}/offline")) == 1
    again = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet")
    assert again.exit_code == 0 and "0 committed" in again.output


def test_sign_with_no_node_then_push(cell, monkeypatch):
    monkeypatch.setenv("MINUTEBOOK_OUTBOX", str(cell["dir"] / "box"))
    f = _minutes_file(cell, "signed")
    r = run("sign", f, *_key_args(cell))
    assert r.exit_code == 0, r.output
    doc_id = r.output.split()[1]
    assert (cell["dir"] / "box" / "pending" / f"{doc_id}.json").exists()
    again = run("sign", f, *_key_args(cell))
    assert again.exit_code == 0 and again.output.startswith(f"{doc_id} is already in")
    pushed = run("outbox", "push", "--node", cell["url"], "--quiet")
    assert pushed.exit_code == 0, pushed.output
    assert len(_meetings(cell["service"], f"{UNIT}/signed")) == 1
    # submit with the same file and keys finds it committed: success, the same document
    r = run("submit", f, *_key_args(cell), "--node", cell["url"])
    assert r.exit_code == 0 and r.output.startswith(f"{doc_id} already_committed")


def test_sign_to_a_file_then_submit_it_twice(cell, tmp_path):
    f = _minutes_file(cell, "carried")
    out = tmp_path / "carried.signed.json"
    r = run("sign", f, *_key_args(cell), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert set(json.loads(out.read_text())) == {"envelope"}
    assert run("sign", f, *_key_args(cell), "-o", str(out)).exit_code == 2  # never replaced silently
    first = run("submit", str(out), "--node", cell["url"], "--wait")
    assert first.exit_code == 0, first.output
    second = run("submit", str(out), "--node", cell["url"], "--wait")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["doc_id"] == json.loads(first.stdout)["doc_id"]
    assert "already committed" in second.stderr
    assert len(_meetings(cell["service"], f"{UNIT}/carried")) == 1
    assert run("submit", str(out), "--key", cell["keys"][0], "--node", cell["url"]).exit_code == 2


def test_push_lists_refusals_one_line_each(cell):
    f = _minutes_file(cell, "one-signer")
    r = run("sign", f, "--key", cell["keys"][1])  # the secretary alone: minutes need the chair too
    assert r.exit_code == 0
    good = run("sign", _minutes_file(cell, "two-signers"), *_key_args(cell))
    assert good.exit_code == 0
    box = Outbox(cell["dir"] / "minutebook-outbox")
    pushed = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet")
    assert pushed.exit_code == 1, pushed.output
    assert "1 committed (0 were already), 1 refused, 0 still pending" in pushed.output
    [line] = [x for x in pushed.stderr.splitlines() if x.strip().startswith("refused")]
    assert "minutes of central/p1/k1/s1 from one-signer.json" in line and "HTTP 403 not_permitted" in line
    [refused] = box.entries("refused")
    assert refused.extra["error"] == "not_permitted" and refused.reason
    assert "not_permitted" not in json.dumps(box.entries("committed")[0].extra)


def test_push_stops_when_the_node_is_gone_and_resumes(cell):
    for label in ("a", "b"):
        assert run("sign", _minutes_file(cell, f"resume-{label}"), *_key_args(cell)).exit_code == 0
    box = Outbox(cell["dir"] / "minutebook-outbox")
    down = f"http://127.0.0.1:{free_port()}"
    stopped = run("outbox", "push", str(box.path), "--node", down, "--quiet", "--batch-size", "1")
    assert stopped.exit_code == 3
    assert "0 committed (0 were already), 0 refused, 2 still pending" in stopped.output
    assert "run `minutebook outbox push` again" in stopped.stderr
    assert [e.attempts for e in box.entries("pending")] == [1, 0]  # stopped at the first
    resumed = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet")
    assert resumed.exit_code == 0 and "2 committed" in resumed.output


def test_push_waits_out_a_503(cell):
    assert run("sign", _minutes_file(cell, "no-leader"), *_key_args(cell)).exit_code == 0
    cell["service"].no_leader_answers = 1
    pushed = run("outbox", "push", str(cell["dir"] / "minutebook-outbox"), "--node", cell["url"], "--quiet")
    assert pushed.exit_code == 0, pushed.output
    assert cell["service"].no_leader_answers == 0
    assert len(_meetings(cell["service"], f"{UNIT}/no-leader")) == 1


def test_push_stops_at_a_node_that_stays_overloaded(cell, monkeypatch):
    """Every 503 (no_leader, overloaded, busy) is waited out, and one that outlasts the
    retries stops the push like an unreachable node: the rest stay pending, untried."""
    from client.sdk import Client

    monkeypatch.setattr(Client, "_delay", lambda self, attempt, retry_after: 0.0)  # no real waiting
    for label in ("a", "b"):
        assert run("sign", _minutes_file(cell, f"busy-{label}"), *_key_args(cell)).exit_code == 0
    service = cell["service"]
    service.overloaded_answers = 1000
    box = Outbox(cell["dir"] / "minutebook-outbox")
    stopped = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet", "--batch-size", "1")
    assert stopped.exit_code == 3, stopped.output
    assert "0 committed (0 were already), 0 refused, 2 still pending" in stopped.output
    assert "stopped:" in stopped.stderr
    assert [e.attempts for e in box.entries("pending")] == [1, 0]  # the second batch was never sent
    assert 1000 - service.overloaded_answers > 1  # the SDK sent the first again before giving up
    assert set(service.batches) == {1}
    service.overloaded_answers = 0
    resumed = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet")
    assert resumed.exit_code == 0 and "2 committed" in resumed.output


def _status_file(ctx, member: str, change: str) -> str:
    path = ctx["dir"] / f"{member}-{change}.json"
    path.write_text(json.dumps({"type": "member_status", "org": UNIT, "body": {
        "member": member, "change": change, "effective_at": "1990-03-02", "reason": "Hồ sơ lưu trữ"}},
        ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_push_sends_batches_that_need_nothing_of_each_other(cell):
    """Pending envelopes go in batches, in signing order; one that needs an earlier one
    committed (a member made full after the admission) starts the next batch, since the
    node checks a submission against what is committed."""
    secretary = cell["keys"][1]
    for f, keys in ((_minutes_file(cell, "batch-a"), _key_args(cell)),
                    (_status_file(cell, "x0500", "admitted"), ["--key", secretary]),
                    (_status_file(cell, "x0500", "made_full"), ["--key", secretary]),
                    (_minutes_file(cell, "batch-b"), _key_args(cell))):
        assert run("sign", f, *keys).exit_code == 0
    box = Outbox(cell["dir"] / "minutebook-outbox")
    pushed = run("outbox", "push", str(box.path), "--node", cell["url"], "--quiet")
    assert pushed.exit_code == 0, pushed.output
    assert "4 committed (0 were already), 0 refused, 0 still pending" in pushed.output
    assert cell["service"].batches == [2, 2]
    changes = [d["body"]["change"] for d in accepted_docs(cell["service"], "member_status")
               if d["body"]["member"] == "x0500"]
    assert changes == ["admitted", "made_full"]
    assert len(box.entries("committed")) == 4 and all(box.receipt_path(e.doc_id).exists()
                                                      for e in box.entries("committed"))


def test_editing_a_file_whose_envelope_is_pending_is_refused(cell):
    f = _minutes_file(cell, "edited")
    down = f"http://127.0.0.1:{free_port()}"
    assert run("submit", f, *_key_args(cell), "--node", down).exit_code == 3
    _minutes_file(cell, "edited", text="Biên bản đã sửa")
    r = run("submit", f, *_key_args(cell), "--node", cell["url"])
    assert r.exit_code == 1 and "edited.json changed since it was signed" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert _meetings(cell["service"], f"{UNIT}/edited") == []
    box = Outbox(cell["dir"] / "minutebook-outbox")
    [pending] = box.entries("pending")
    assert run("outbox", "drop", pending.doc_id[:6], str(box.path)).exit_code == 2  # too short to be sure
    assert run("outbox", "drop", pending.doc_id[:12], str(box.path)).exit_code == 0
    r = run("submit", f, *_key_args(cell), "--node", cell["url"], "--wait")
    assert r.exit_code == 0, r.output
    [recorded] = _meetings(cell["service"], f"{UNIT}/edited")
    assert recorded["body"]["text"] == "Biên bản đã sửa"


def test_outbox_entries_settled_state_wins_and_bad_files_are_named(tmp_path):
    from client.sdk import sign_document
    from ledger.files import write_atomically

    box = Outbox(tmp_path / "box")
    envelope = sign_document({"type": "org_unit", "org": "central", "body": {"action": "create", "path": "central/x",
                                                                      "name": "X", "kind": "cell"}}, [("m1", b"\x01" * 32)])
    entry = box.keep(envelope, intent="i" * 64, source=None)
    assert box.keep(envelope, intent="other", source=None) == entry  # a doc id is kept once
    # a crash after writing committed/ and before removing pending/: the entry is committed
    committed = tmp_path / "box" / "committed"
    committed.mkdir()
    (committed / f"{entry.doc_id}.json").write_text((tmp_path / "box" / "pending" / f"{entry.doc_id}.json").read_text())
    assert [e.state for e in box.entries()] == ["committed"]
    assert box.entries("pending") == []
    write_atomically(tmp_path / "box" / "pending" / ("0" * 64 + ".json"), b"{not json")
    with pytest.raises(InvalidInput) as info:
        box.entries()
    assert "cannot read outbox entry" in info.value.message and "0000" in info.value.message


def test_intent_depends_on_the_document_and_the_keys_only():
    doc = {"type": "minutes", "org": "central", "body": {"text": "Họp"}}
    decomposed = {"type": "minutes", "org": "central", "body": {"text": "Ho\u0323p"}}
    assert intent_of(doc, [b"k" * 32]) == intent_of(decomposed, [b"k" * 32])  # NFC first
    assert intent_of(doc, [b"a" * 32, b"b" * 32]) == intent_of(doc, [b"b" * 32, b"a" * 32])
    assert intent_of(doc, [b"k" * 32]) != intent_of(doc, [b"j" * 32])
    assert intent_of(doc, [b"k" * 32]) != intent_of({**doc, "org": "central/p1"}, [b"k" * 32])


@pytest.mark.parametrize("status,code,refusal", [
    (400, "invalid_input", True), (401, "bad_signature", True), (403, "not_permitted", True),
    (409, "duplicate_record", True), (413, "too_large", True), (422, "rejected", True),
    (409, "already_committed", False), (404, "not_found", False), (429, "too_many", False),
    (500, "internal", False), (502, "forward_failed", False), (503, "no_leader", False), (504, "timeout", False),
])
def test_which_answers_settle_an_entry_as_refused(status, code, refusal):
    assert is_refusal(api_errors.error_from_response(status, {"error": code, "message": "m"})) is refusal


def test_deliver_batch_settles_each_result_as_a_single_answer_would(tmp_path):
    from client.outbox import deliver_batch
    from client.sdk import sign_document

    box = Outbox(tmp_path / "box")
    entries = [box.keep(sign_document({"type": "org_unit", "org": "central", "body": {
        "action": "create", "path": f"central/u{i}", "name": f"U{i}", "kind": "cell"}}, [("m1", b"\x01" * 32)]),
        intent=f"{i:064d}") for i in range(5)]
    receipt = {"doc_id": entries[0].doc_id, "leaf_index": 7, "block": {"height": 3}}
    results = [
        {"doc_id": entries[0].doc_id, "status": "committed", "receipt": receipt},
        {"doc_id": entries[1].doc_id, "status": "already_committed", "receipt": None},  # block being applied
        {"doc_id": entries[2].doc_id, "status": "error", "http_status": 409, "error": "duplicate_record",
         "message": "a minutes with org ... exists", "field": "body.meeting_id", "existing": "ab" * 32},
        {"doc_id": entries[3].doc_id, "status": "error", "http_status": 504, "error": "timeout", "message": "late"},
        {"doc_id": entries[4].doc_id, "status": "pending"},
    ]
    outcomes = [d.outcome for d in deliver_batch(box, entries, lambda envelopes: results)]
    assert outcomes == ["committed", "sent", "refused", "unsettled", "sent"]
    assert [e.state for e in box.entries()] == ["committed", "pending", "refused", "pending", "pending"]
    assert box.get(entries[2].doc_id).extra["field"] == "body.meeting_id"
    assert "HTTP 504 timeout" in box.get(entries[3].doc_id).last_error

    def too_large(envelopes):
        raise api_errors.error_from_response(413, {"error": "too_large", "message": "too many bytes"})

    with pytest.raises(api_errors.TooLargeError):  # about the batch, not its documents: nothing recorded
        deliver_batch(box, box.entries("pending"), too_large)
    assert [e.attempts for e in box.entries("pending")] == [1, 1, 1]
