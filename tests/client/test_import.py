"""`minutebook import` for a records office (client/cli_import.py, client/importer.py,
client/import_templates.py, client/tabular.py): CSV and XLSX by template, a
check of every row before anything is sent, a report by row and column with no
personal data, batches through POST /v1/documents:batch, dependent documents in
later waves, and resuming without duplicates."""

from __future__ import annotations

import csv
import datetime
import io
import json
import unicodedata

import pytest

from client.import_templates import TEMPLATES
from client.importer import Item, assign_waves, facts_of, plan_table
from client.sample_org import SampleOrg
from client.tabular import read_table
from ledger.documents import Envelope
from tests.client.sample_service import ANCHOR, accepted_docs, loaded_service, run
from tests.node.service_double import ServiceDouble, serve

CELL = "central/p1/k1/s1"
PHASES_WITH_ROLES = 5


class CountingService(ServiceDouble):
    """Counts batch submissions; answers 503 overloaded to the next `fail_batches`, and 500 to
    every batch after `broken_after`."""

    batch_requests = 0
    broken_after: int | None = None
    fail_batches = 0
    forward_failures = 0

    async def submit_batch(self, envelopes: list[bytes], *, wait: bool, timeout: float = 30.0) -> list[dict]:
        from node.errors import ForwardFailed, NodeError, Overloaded

        self.batch_requests += 1
        if self.broken_after is not None and self.batch_requests > self.broken_after:
            raise NodeError("the node broke")
        if self.fail_batches:
            self.fail_batches -= 1
            raise Overloaded(retry_after=1.0)
        if self.forward_failures:
            self.forward_failures -= 1
            raise ForwardFailed("n2", "no answer within 10 s")
        return await super().submit_batch(envelopes, wait=wait, timeout=timeout)


class LeaderService(CountingService):
    """Takes a batch as a leader does: every envelope checked against the committed ledger and
    answered pending, then all those admitted committed together as one block, in which a rule
    that ties them together is applied. `ahead` goes first in the next block (another client's
    documents, admitted meanwhile). The first `lost` admitted documents never reach a block,
    as after a leader change."""

    lost = 0
    ahead: list[bytes] = []

    async def submit_batch(self, envelopes: list[bytes], *, wait: bool, timeout: float = 30.0) -> list[dict]:
        from ledger.documents import salvage_doc_id
        from ledger.errors import MinutebookError
        from node import batch

        assert not wait, "the import follows the blocks; it asks for no receipts"
        self.batch_requests += 1
        results, admitted = [], []
        async with self._lock:
            self._clock += 1000
            for envelope in envelopes:
                try:
                    checked = self.ledger.check_submission(envelope, at_ms=self._clock)
                except MinutebookError as exc:
                    results.append(batch.failed(salvage_doc_id(envelope), exc))
                    continue
                results.append(batch.pending(checked.doc_id))
                if self.lost:
                    self.lost -= 1
                else:
                    admitted.append(envelope)
            if admitted:
                self.apply(self.ahead + admitted)
                self.ahead = []
        return results


@pytest.fixture()
def leader(tmp_path):
    yield from _office(tmp_path, LeaderService)


@pytest.fixture()
def office(tmp_path):
    yield from _office(tmp_path, CountingService)


def _office(tmp_path, cls):
    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    _, service = loaded_service(org, PHASES_WITH_ROLES, cls=cls)
    org.members_json(tmp_path)
    key = tmp_path / "keys" / "members" / f"{org._officer('central/p1', 'secretary')}.json"
    with serve(service) as url:
        yield {"dir": tmp_path, "org": org, "service": service, "url": url, "key": str(key)}


def _members(service, prefix="x") -> list[dict]:
    return [d for d in accepted_docs(service, "member_status") if d["body"]["member"].startswith(prefix)]


def _members_csv(path, n: int, *, full_every: int = 2, bad: dict | None = None, delimiter: str = ",",
                 bom: bool = False) -> str:
    rows = [["unit", "member_id", "name", "admitted_at", "full_at"]]
    for i in range(n):
        full = f"1991-0{1 + i % 9}-15" if full_every and i % full_every == 0 else ""
        rows.append([CELL, f"x{i:04d}", f"Nguyễn Văn Số {i}", f"1990-0{1 + i % 9}-0{1 + i % 9}", full])
    for (row, column), value in (bad or {}).items():
        rows[row - 1][rows[0].index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(("\ufeff" if bom else "") + buf.getvalue(), encoding="utf-8")
    return str(path)


def _ms(*date: int) -> int:
    from zoneinfo import ZoneInfo

    return int(datetime.datetime(*date, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp() * 1000)


def _import(office, file, *extra):
    return run("import", file, "--key", office["key"], "--node", office["url"], "--quiet", *extra)


def _report(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# -- templates ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_writes_its_header_and_an_example_row(name, tmp_path):
    for ext in ("csv", "xlsx"):
        out = tmp_path / f"{name}.{ext}"
        r = run("import", "--template", name, "-o", str(out))
        assert r.exit_code == 0, r.output
        table = read_table(out)
        assert table.header == TEMPLATES[name].names
        [example] = list(table.rows)
        assert example.number == 2
        required = [c.name for c in TEMPLATES[name].columns if c.required]
        assert all(example.cells[c] is not None for c in required)
    stdout = run("import", "--template", name)
    assert stdout.exit_code == 0 and stdout.output.lstrip("\ufeff").startswith(",".join(TEMPLATES[name].names))


def test_xlsx_template_explains_each_column(tmp_path):
    import openpyxl

    out = tmp_path / "members.xlsx"
    assert run("import", "--template", "members", "-o", str(out)).exit_code == 0
    book = openpyxl.load_workbook(out)
    notes = {row[0]: row for row in book["columns"].iter_rows(min_row=2, values_only=True)}
    assert set(notes) == set(TEMPLATES["members"].names)
    assert notes["admitted_at"][1] == "yes" and "1965-03-02" in notes["admitted_at"][2]
    assert isinstance(book["records"]["D2"].value, datetime.datetime)  # a real date cell


# -- importing -----------------------------------------------------------------------


def test_csv_members_go_in_batches_and_full_membership_after_admission(office):
    """Issue fault: import read JSONL only, had no check before sending, and sent
    one document per request. A CSV of members is imported in batches; a member
    made full in the same row is sent after the admission is committed."""
    f = _members_csv(office["dir"] / "members.csv", 30)
    r = _import(office, f)
    assert r.exit_code == 0, r.output
    assert "checked 30 rows: 30 good, 0 with problems" in r.output
    assert "45 committed, 0 already committed (skipped), 0 refused" in r.output
    docs = _members(office["service"])
    assert sorted(d["body"]["change"] for d in docs) == ["admitted"] * 30 + ["made_full"] * 15
    assert office["service"].batch_requests == 2  # one wave of admissions, one of full memberships
    admitted = {d["body"]["member"]: i for i, d in enumerate(docs) if d["body"]["change"] == "admitted"}
    assert all(admitted[d["body"]["member"]] < i for i, d in enumerate(docs) if d["body"]["change"] == "made_full")
    first = next(d for d in docs if d["body"]["member"] == "x0000")
    assert first["body"]["name"] == "Nguyễn Văn Số 0"
    assert first["body"]["effective_at"] == _ms(1990, 1, 1)  # midnight in Asia/Ho_Chi_Minh


def test_a_bad_row_means_nothing_is_sent_and_the_report_names_row_and_column(office):
    f = _members_csv(office["dir"] / "bad.csv", 6, bad={(3, "admitted_at"): "Trần Thị Bích",
                                                         (5, "unit"): "central/p9/k1/s1",
                                                         (6, "member_id"): "", (7, "full_at"): "23803"})
    r = _import(office, f)
    assert r.exit_code == 2, r.output
    assert "checked 6 rows: 2 good, 4 with problems" in r.output
    assert "nothing was sent" in r.output
    assert _members(office["service"]) == [] and office["service"].batch_requests == 0
    report = _report(office["dir"] / "bad.csv.report.csv")
    assert [(p["row"], p["column"], p["stage"]) for p in report] == [
        ("3", "admitted_at (D)", "check"), ("5", "unit (A)", "check"), ("6", "member_id (B)", "check"),
        ("7", "full_at (E)", "check")]
    assert "not a date" in report[0]["reason"] and "no unit central/p9/k1/s1" in report[1]["reason"]
    assert "required" in report[2]["reason"] and "short number is no date" in report[3]["reason"]
    everything = r.output + (office["dir"] / "bad.csv.report.csv").read_text(encoding="utf-8")
    assert "Trần" not in everything and "Nguyễn" not in everything  # no personal data, anywhere
    lines = [x for x in r.stderr.splitlines() if x.startswith("  row ")]
    assert lines[0] == "  row 3, column admitted_at (D): " + report[0]["reason"]


def test_skip_bad_sends_the_good_rows_and_still_reports_the_bad(office):
    f = _members_csv(office["dir"] / "skip.csv", 4, full_every=0, bad={(3, "admitted_at"): "hôm qua"})
    r = _import(office, f, "--skip-bad")
    assert r.exit_code == 1, r.output
    assert "3 committed, 0 already committed (skipped), 0 refused, 1 rows with problems skipped" in r.output
    assert sorted(d["body"]["member"] for d in _members(office["service"])) == ["x0000", "x0002", "x0003"]
    assert [p["row"] for p in _report(office["dir"] / "skip.csv.report.csv")] == ["3"]


def test_check_only_sends_nothing(office):
    f = _members_csv(office["dir"] / "check.csv", 3)
    r = _import(office, f, "--check")
    assert r.exit_code == 0 and "3 good, 0 with problems" in r.output and "not checked" not in r.output
    assert office["service"].batch_requests == 0


def test_check_without_a_key_checks_the_rows_and_says_the_units_were_not(office):
    """Unit lookups are signed reads: with no key, --check still checks every row, says the units
    went unchecked, and reports a bad row."""
    f = _members_csv(office["dir"] / "nokey.csv", 3, bad={(3, "admitted_at"): "hôm qua"})
    r = run("import", f, "--node", office["url"], "--quiet", "--check")
    assert r.exit_code == 2, r.output
    assert "units not checked (the node shows units only to a signed request: give --key)" in r.output
    assert "2 good, 1 with problems" in r.output
    assert [p["row"] for p in _report(office["dir"] / "nokey.csv.report.csv")] == ["3"]
    assert office["service"].batch_requests == 0


def test_an_interrupted_import_resumes_without_duplicates(office):
    service = office["service"]
    f = _members_csv(office["dir"] / "big.csv", 40, full_every=0)
    service.broken_after = 2
    r = _import(office, f, "--batch-size", "10", "--concurrency", "1")
    assert r.exit_code == 3, r.output
    assert "run the same command again" in r.output
    assert len(_members(service)) == 20
    service.broken_after = None
    r = _import(office, f, "--batch-size", "10", "--concurrency", "1")
    assert r.exit_code == 0, r.output
    assert "20 committed, 20 already committed (skipped)" in r.output
    assert "(20 documents of earlier runs not read again)" in r.output  # their rows passed the check and the ledger
    members = [d["body"]["member"] for d in _members(service)]
    assert sorted(members) == [f"x{i:04d}" for i in range(40)]  # each once
    resume = (office["dir"] / "big.csv.resume").read_text().splitlines()
    assert json.loads(resume[0])["template"] == "members" and len(resume) == 41


def test_a_resumed_import_keeps_its_created_at(office):
    f = _members_csv(office["dir"] / "again.csv", 2, full_every=0)
    assert _import(office, f).exit_code == 0
    r = _import(office, f)
    assert r.exit_code == 0 and "0 committed, 2 already committed" in r.output and "not read again" in r.output
    header = json.loads((office["dir"] / "again.csv.resume").read_text().splitlines()[0])
    (office["dir"] / "again.csv.resume").write_text(json.dumps(header) + "\n")  # forget what was done
    r = _import(office, f)
    assert r.exit_code == 0 and "0 committed, 2 already committed" in r.output and "not read again" not in r.output
    r = _import(office, f, "--created-at", "2020-01-01")
    assert r.exit_code == 2 and "fixes created_at" in r.output
    r = _import(office, f, "--tz", "UTC")
    assert r.exit_code == 2 and "give --tz Asia/Ho_Chi_Minh" in r.output


def test_503_from_the_batch_endpoint_is_waited_out(office):
    office["service"].fail_batches = 1
    f = _members_csv(office["dir"] / "busy.csv", 3, full_every=0)
    r = _import(office, f)
    assert r.exit_code == 0, r.output
    assert office["service"].batch_requests == 2 and len(_members(office["service"])) == 3


def test_a_batch_the_node_could_not_forward_goes_again(office):
    office["service"].forward_failures = 1
    f = _members_csv(office["dir"] / "forward.csv", 3, full_every=0)
    r = _import(office, f)
    assert r.exit_code == 0, r.output
    assert "3 committed, 0 already committed (skipped), 0 refused" in r.output
    assert office["service"].batch_requests == 2 and len(_members(office["service"])) == 3


def test_refusals_by_the_node_are_reported_by_row(office):
    # x0001 admitted twice (two different rows: different dates): the node refuses the second
    f = _members_csv(office["dir"] / "twice.csv", 3, full_every=0, bad={(4, "member_id"): "x0001"})
    r = _import(office, f)
    assert r.exit_code == 1, r.output
    assert "1 refused" in r.output
    [problem] = _report(office["dir"] / "twice.csv.report.csv")
    assert problem["row"] == "4" and problem["stage"] == "node" and "HTTP 4" in problem["reason"]


def test_a_document_rejected_when_its_block_applies_is_reported_at_its_row(leader):
    """x0001's admission passes the leader's check, but another office's admission of x0001
    reaches the block first: the block rejects the import's, which learns it from the block
    and names row and column."""
    from client.sdk import sign_document

    org = leader["org"]
    secretary = org._officer("central/p1", "secretary")
    leader["service"].ahead = [sign_document({"type": "member_status", "org": CELL, "body": {
        "member": "x0001", "change": "admitted", "effective_at": _ms(1980, 1, 1), "reason": ""}},
        [(secretary, org.seed_of(secretary))])]
    f = _members_csv(leader["dir"] / "taken.csv", 3, full_every=0)
    r = _import(leader, f)
    assert r.exit_code == 1, r.output
    assert "2 committed, 0 already committed (skipped), 1 refused" in r.output
    [problem] = _report(leader["dir"] / "taken.csv.report.csv")
    assert (problem["row"], problem["column"], problem["stage"]) == ("3", "member_id (B)", "node")
    assert "already exists" in problem["reason"] and "HTTP 422 rejected" in problem["reason"]
    assert leader["service"].batch_requests == 1


def test_a_document_no_block_shows_is_sent_again(leader):
    leader["service"].lost = 1
    f = _members_csv(leader["dir"] / "lost.csv", 4, full_every=0)
    r = _import(leader, f, "--timeout", "1")
    assert r.exit_code == 0, r.output
    assert "4 committed, 0 already committed (skipped), 0 refused" in r.output
    assert leader["service"].batch_requests == 2  # the round that sent the lost one again
    assert sorted(d["body"]["member"] for d in _members(leader["service"])) == [f"x{i:04d}" for i in range(4)]


def test_the_same_row_twice_is_a_problem(office):
    f = office["dir"] / "dup.csv"
    _members_csv(f, 2, full_every=0)
    f.write_text(f.read_text() + f.read_text().splitlines()[1] + "\n")
    r = _import(office, str(f))
    assert r.exit_code == 2 and "row 4: the same record as row 2" in r.output


def _resolutions_csv(path, rows: list[tuple[str, str]]) -> str:
    """A resolutions CSV of CELL: one row per (number, title)."""
    lines = [["unit", "number", "title", "adopted_at", "for", "against", "abstain", "eligible"]]
    lines += [[CELL, number, title, "2019-11-20T19:30", "12", "0", "1", "15"] for number, title in rows]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(lines)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return str(path)


def _resolutions(service, number: str) -> list[dict]:
    return [d for d in accepted_docs(service, "resolution") if d["body"]["number"] == number]


def test_a_rerun_that_lost_its_resume_file_finds_its_records_committed(office):
    """A re-run that makes other documents for the same acts (its resume file gone, so another
    created_at) meets 409 duplicate_record: a record held that says what the row says is the
    row already committed, not an error; one that says something else is a conflict at its row."""
    f = _resolutions_csv(office["dir"] / "nq.csv", [("1/NQ-CB", "Nghị quyết một"), ("2/NQ-CB", "Nghị quyết hai")])
    r = _import(office, f, "--created-at", "2026-01-05")
    assert r.exit_code == 0 and "2 committed" in r.output, r.output
    (office["dir"] / "nq.csv.resume").unlink()
    r = _import(office, f, "--created-at", "2026-01-06")
    assert r.exit_code == 0, r.output
    assert "0 committed, 2 already committed (skipped), 0 refused" in r.output
    assert len(_resolutions(office["service"], "1/NQ-CB")) == 1 and len(_resolutions(office["service"], "2/NQ-CB")) == 1
    again = _import(office, f)  # the resume file of that run lists them: not even sent
    assert again.exit_code == 0 and "0 committed, 2 already committed" in again.output
    [held] = _resolutions(office["service"], "2/NQ-CB")
    other = _resolutions_csv(office["dir"] / "nq2.csv", [("3/NQ-CB", "Nghị quyết ba"), ("2/NQ-CB", "Tên khác")])
    r = _import(office, other)
    assert r.exit_code == 1, r.output
    assert "1 committed, 0 already committed (skipped), 1 refused" in r.output
    [problem] = _report(office["dir"] / "nq2.csv.report.csv")
    assert (problem["row"], problem["column"], problem["stage"]) == ("3", "number (B)", "node")
    ledger = office["service"].ledger
    leaf = next(i for i, d in enumerate(accepted_docs(office["service"])) if d == held)
    existing = Envelope.from_bytes(ledger.envelope_at(leaf)).doc_id
    assert f"another record of this act is in the ledger, document {existing}" in problem["reason"]
    assert "Tên khác" not in problem["reason"] and "HTTP 409 duplicate_record" in problem["reason"]
    assert _resolutions(office["service"], "2/NQ-CB") == [held]


def test_two_rows_recording_one_act_are_a_problem(office):
    f = _resolutions_csv(office["dir"] / "same-act.csv", [("9/NQ-CB", "Một"), ("8/NQ-CB", "Hai"), ("9/NQ-CB", "Ba")])
    r = _import(office, f)
    assert r.exit_code == 2, r.output
    assert "row 4, column number (B): the same act as row 2" in r.output
    assert office["service"].batch_requests == 0


def test_vietnamese_csv_with_bom_semicolons_and_decomposed_text(office):
    f = _members_csv(office["dir"] / "vn.csv", 2, full_every=0, delimiter=";", bom=True,
                     bad={(2, "name"): unicodedata.normalize("NFD", "Đặng Thị Hồng Nhung")})
    r = _import(office, f)
    assert r.exit_code == 0, r.output
    first = next(d for d in _members(office["service"]) if d["body"]["member"] == "x0000")
    assert first["body"]["name"] == unicodedata.normalize("NFC", "Đặng Thị Hồng Nhung")


def test_not_utf8_is_one_line_naming_the_line(office):
    f = office["dir"] / "latin.csv"
    f.write_bytes("unit,member_id,name,admitted_at\n".encode() + f"{CELL},x1,Tr\xe2n,1990-01-01\n".encode("cp1258"))
    r = _import(office, str(f))
    assert r.exit_code == 2
    assert r.output.strip() == 'error: latin.csv, line 2: not UTF-8 text (save the file as "CSV UTF-8")'


def test_unknown_column_is_named(office):
    f = office["dir"] / "cols.csv"
    f.write_text("unit,member_id,ngay_ket_nap\n")
    r = _import(office, str(f), "--template", "members")
    assert r.exit_code == 2 and "column ngay_ket_nap (C): not a column of the members template" in r.output


def test_xlsx_with_excel_dates_and_a_number_in_a_date_column(office):
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["unit", "member_id", "name", "admitted_at", "full_at"])
    ws.append([CELL, "x0001", "Lê Văn Tám", datetime.datetime(1990, 5, 19), datetime.datetime(1991, 5, 19)])
    ws.append([CELL, "x0002", "Võ Thị Sáu", 33012, None])
    f = office["dir"] / "members.xlsx"
    book.save(f)
    r = _import(office, str(f))
    assert r.exit_code == 2 and "row 3, column admitted_at (D): a number, not a date" in r.output
    ws["D3"] = datetime.date(1990, 5, 20)
    book.save(f)
    r = _import(office, str(f))
    assert r.exit_code == 0, r.output
    assert "3 committed" in r.output
    tam = next(d for d in _members(office["service"]) if d["body"]["member"] == "x0001"
               and d["body"]["change"] == "admitted")
    assert tam["body"]["effective_at"] == _ms(1990, 5, 19)


def test_jsonl_is_checked_first_and_resumable(office):
    org = office["org"]
    unit = "central/p2/k2/s1"
    key = str(office["dir"] / "keys" / "members" / f"{org._officer(unit, 'secretary')}.json")
    lines = [json.dumps({
        "type": "resolution", "org": unit, "created_at": ANCHOR + 5_000 + i,
        "body": {"number": f"{i}/NQ-ARCHIVE", "title": f"Nghị quyết lưu trữ {i}", "text": "Số hoá từ sổ giấy",
                 "adopted_at": ANCHOR - (100 + i) * 86_400_000, "minutes": None,
                 "tally": {"for": 10, "against": 0, "abstain": 1, "eligible": 15}, "tasks": []},
    }, ensure_ascii=False) for i in range(4)]
    f = office["dir"] / "archive.jsonl"
    f.write_text("\n".join(lines[:2]) + "\n")
    r = run("import", str(f), "--key", key, "--node", office["url"], "--quiet")
    assert r.exit_code == 0 and "2 committed, 0 already committed" in r.output
    f.write_text("\n".join(lines) + "\n")
    r = run("import", str(f), "--key", key, "--node", office["url"], "--quiet")
    assert r.exit_code == 0 and "2 committed, 2 already committed (skipped), 0 refused" in r.output
    f.write_text('{"type": "resolution"}\nnot json\n' + lines[0] + "\n")
    r = run("import", str(f), "--key", key, "--node", office["url"], "--quiet")
    assert r.exit_code == 2 and "nothing was sent" in r.output
    assert "line 1, column created_at: required" in r.output and "line 2: not valid JSON" in r.output
    r = run("import", str(f), "--key", key, "--node", office["url"], "--quiet", "--skip-bad")
    assert r.exit_code == 1 and "0 committed, 1 already committed (skipped), 0 refused, 2 lines with problems" \
        in r.output


def test_the_bulk_signer_makes_the_envelope_make_envelope_makes():
    from client.importer import EnvelopeSigner
    from ledger.documents import Document, Envelope, make_envelope
    from ledger.keys import KeyFile, public_key

    seeds = [bytes([i]) * 32 for i in (1, 2)]
    keys = [KeyFile(id_field="member_id", id=f"m{i}", public_key=public_key(s), seed=s) for i, s in enumerate(seeds)]
    signer = EnvelopeSigner(keys)
    for body_text in ("", "Biên bản", "x" * 70_000):
        doc = Document.new(type="org_unit", org="central", body={"action": "create", "path": "central/a",
                                                                  "name": body_text or "A", "kind": "cell"})
        data = signer.envelope(doc.canonical)
        assert data == make_envelope(doc, [(k.id, k.seed) for k in keys]).to_bytes()
        Envelope.from_bytes(data).verify_signatures()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_tables_plan_signs_the_documents_the_ledger_would_build(tmp_path, monkeypatch, jobs):
    """The plan's bytes, ids and envelopes are those of ledger.documents (canonical,
    make_envelope), whether the rows are read here or by a pool of processes."""
    import client.importer as importer
    from ledger.documents import Document, make_envelope
    from ledger.encoding import decode_canonical
    from ledger.keys import KeyFile, public_key
    from ledger.timefmt import zone

    monkeypatch.setattr(importer, "PARALLEL_FROM_ROWS", 10)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 7)
    seed = b"\x05" * 32
    key = KeyFile(id_field="member_id", id="m0005", public_key=public_key(seed), seed=seed)
    f = _members_csv(tmp_path / "m.csv", 40, bad={(5, "name"): "Đặng Thị Hồng Nhung"})
    plan = plan_table(read_table(f), TEMPLATES["members"], created_at=ANCHOR, tz=zone("Asia/Ho_Chi_Minh"),
                      sign_with=[key], jobs=jobs)
    assert plan.problems == [] and len(plan.items) == 60 and plan.rows == 40
    assert [i.row for i in plan.items][:3] == [2, 2, 3]  # file order, whatever process read the row
    for item in plan.items:
        doc = Document.from_obj(decode_canonical(item.envelope)["doc"])
        assert item.envelope == make_envelope(doc, [(key.id, seed)]).to_bytes()
        assert item.doc_id == doc.doc_id and item.facts == facts_of(doc)
        assert item.wave == (doc.body["change"] == "made_full")


def test_jsonl_dates_are_read_as_submit_reads_them(office):
    """Issue fault: import refused the ISO dates that submit accepts. A JSONL record's times may be
    ISO 8601, read in the display zone when they have no offset."""
    org = office["org"]
    unit = "central/p2/k2/s1"
    key = str(office["dir"] / "keys" / "members" / f"{org._officer(unit, 'secretary')}.json")
    f = office["dir"] / "iso.jsonl"
    f.write_text(json.dumps({
        "type": "resolution", "org": unit, "created_at": "2026-11-21T08:00+07:00",
        "body": {"number": "7/NQ-ISO", "title": "Nghị quyết ghi ngày ISO", "text": "", "adopted_at": "2026-11-20T19:30",
                 "minutes": None, "tally": {"for": 10, "against": 0, "abstain": 1, "eligible": 15},
                 "tasks": [{"owner": org._officer(unit, "secretary"), "due": "2027-01-31", "description": "Báo cáo"}]},
    }, ensure_ascii=False) + "\n")
    r = run("import", str(f), "--key", key, "--node", office["url"], "--quiet")
    assert r.exit_code == 0, r.output
    [doc] = [d for d in accepted_docs(office["service"], "resolution") if d["body"]["number"] == "7/NQ-ISO"]
    assert doc["body"]["adopted_at"] == _ms(2026, 11, 20, 19, 30)
    assert doc["body"]["tasks"][0]["due"] == _ms(2027, 1, 31) and doc["created_at"] == _ms(2026, 11, 21, 8)


# -- waves -----------------------------------------------------------------------


def test_waves_put_each_document_after_what_it_depends_on():
    from ledger.documents import Document

    def item(row, type_, org, body, signer="m1"):
        doc = Document.new(type=type_, org=org, body=body, created_at=1)
        return Item(row=row, doc_id=doc.doc_id, document=doc, keys=(_Key(signer),), facts=facts_of(doc, [signer]))

    unit = {"action": "create", "path": "central/a", "name": "A", "kind": "cell"}
    admit = {"member": "m9", "change": "admitted", "effective_at": 1, "reason": ""}
    full = {"member": "m9", "change": "made_full", "effective_at": 2, "reason": ""}
    other = {"member": "m8", "change": "admitted", "effective_at": 1, "reason": ""}
    items = [item(1, "org_unit", "central", unit), item(2, "member_status", "central/a", admit),
             item(3, "member_status", "central/a", other), item(4, "member_status", "central/a", full),
             item(5, "member_status", "central", {**other, "member": "m7"})]
    assign_waves(items)
    assert [i.wave for i in items] == [0, 1, 1, 2, 0]


class _Key:
    def __init__(self, ident: str) -> None:
        self.id = ident


def test_the_readme_documents_every_template_column():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Import (`minutebook import`)"):]
    for template in TEMPLATES.values():
        block = section[section.index(f"`{template.name}` → "):]
        block = block[:block.index("\n\n", block.index("| column |"))]
        assert [line.split("`")[1] for line in block.splitlines() if line.startswith("| `")] == list(template.names)
