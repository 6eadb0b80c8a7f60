"""`minutebook export` (client/export.py, client/cli_export.py): one table per
document type with typed columns, child tables for lists of items, read back
with pyarrow and queried with DuckDB, checked against the documents the
ledger holds; CSV too; an export continued from a height."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from client.export import document_tables
from client.sample_org import SampleOrg
from tests.client.sample_service import ANCHOR, NODE_SEEDS, accepted_docs, loaded_service, run
from tests.node.service_double import serve


@pytest.fixture(scope="module")
def ledger_node(tmp_path_factory):
    from ledger.keys import write_key_file

    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    _, service = loaded_service(org)
    key = tmp_path_factory.mktemp("keys") / "n1.json"  # a node key reads every block's envelopes
    write_key_file(key, id_field="node_id", id="n1", seed=NODE_SEEDS["n1"])
    with serve(service) as url:
        yield {"service": service, "url": url, "docs": accepted_docs(service), "key": str(key)}


def _export(node, out, *extra):
    return run("export", "--out", str(out), "--node", node["url"], "--no-monthly", "--quiet", "--key", node["key"],
               *extra)


def test_parquet_tables_hold_every_accepted_document_with_typed_columns(ledger_node, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    r = _export(ledger_node, tmp_path / "x")
    assert r.exit_code == 0, r.output
    docs = ledger_node["docs"]
    by_type = Counter(d["type"] for d in docs)
    manifest = json.loads((tmp_path / "x" / "export.json").read_text())
    assert manifest["height"] == ledger_node["service"].ledger.height
    assert manifest["log_size"] == len(docs)
    for doc_type, n in by_type.items():
        assert manifest["tables"][doc_type]["rows"] == n
        assert pq.read_table(tmp_path / "x" / f"{doc_type}.parquet").num_rows == n
    minutes = pq.read_table(tmp_path / "x" / "minutes.parquet")
    assert minutes.schema.field("held_at").type == pa.timestamp("ms", tz="UTC")
    assert minutes.schema.field("signers").type == pa.list_(pa.string())
    first = next(d for d in docs if d["type"] == "minutes")
    row = minutes.slice(0, 1).to_pylist()[0]
    assert row["meeting_id"] == first["body"]["meeting_id"]
    assert int(row["held_at"].timestamp() * 1000) == first["body"]["held_at"]
    assert row["agenda"] == first["body"]["agenda"]
    attendees = pq.read_table(tmp_path / "x" / "minutes_attendees.parquet")
    assert attendees.num_rows == sum(len(d["body"]["attendees"]) for d in docs if d["type"] == "minutes")
    assert attendees.schema.field("present").type == pa.bool_()
    resolutions = pq.read_table(tmp_path / "x" / "resolution.parquet")
    assert resolutions.schema.field("tally_eligible").type == pa.int64()


def test_duckdb_reads_the_export(ledger_node, tmp_path):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is a test extra (pip install -e '.[test]')")
    assert _export(ledger_node, tmp_path / "x").exit_code == 0
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT m.org, count(DISTINCT m.doc_id) AS meetings, avg(CASE WHEN a.present THEN 1 ELSE 0 END) AS present "
        f"FROM '{tmp_path}/x/minutes.parquet' m JOIN '{tmp_path}/x/minutes_attendees.parquet' a USING (doc_id) "
        f"GROUP BY m.org ORDER BY m.org").fetchall()
    expected = Counter(d["org"] for d in ledger_node["docs"] if d["type"] == "minutes")
    assert {org: n for org, n, _ in rows} == dict(expected)
    assert all(0 < share <= 1 for *_, share in rows)


def test_csv_export_with_times_in_the_display_zone(ledger_node, tmp_path):
    r = _export(ledger_node, tmp_path / "c", "--format", "csv", "--type", "member_status", "--org", "central/p1")
    assert r.exit_code == 0, r.output
    with open(tmp_path / "c" / "member_status.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [d for d in ledger_node["docs"] if d["type"] == "member_status"
                and (d["org"] == "central/p1" or d["org"].startswith("central/p1/"))]
    assert len(rows) == len(expected) and list((tmp_path / "c").glob("*.csv")) == [tmp_path / "c" / "member_status.csv"]
    assert rows[0]["effective_at"].endswith("+07:00")
    assert {r["member"] for r in rows} == {d["body"]["member"] for d in expected}


def test_an_export_continues_from_a_height(ledger_node, tmp_path):
    service = ledger_node["service"]
    half = service.ledger.height // 2
    r = _export(ledger_node, tmp_path / "h", "--from-height", str(half))
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "h" / "export.json").read_text())
    later = sum(d["status"] == "accepted" for h in range(half + 1, service.ledger.height + 1)
                for d in service.ledger.block(h)["documents"])
    from ledger.schemas import BODY_SCHEMAS

    assert sum(t["rows"] for name, t in manifest["tables"].items() if name in BODY_SCHEMAS) == later
    assert manifest["from_height"] == half


def test_export_refuses_a_folder_holding_other_files(ledger_node, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    r = _export(ledger_node, tmp_path)
    assert r.exit_code == 2 and "holds other files" in r.output


def test_every_type_has_a_table_derived_from_its_schema():
    from ledger.schemas import BODY_SCHEMAS

    for doc_type in BODY_SCHEMAS:
        tables = document_tables(doc_type)
        names = [c for c, _ in tables[0].columns]
        assert names[:3] == ["doc_id", "leaf_index", "height"] and len(names) == len(set(names))
    minutes = {t.name: t for t in document_tables("minutes")}
    assert set(minutes) == {"minutes", "minutes_attendees", "minutes_opinions", "minutes_votes"}
    assert dict(minutes["minutes"].columns)["held_at"] == "time"
