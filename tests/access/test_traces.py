"""Access leaves a trace (node/traces.py): reads of profiles and findings are
counted per caller with bounded labels, and logged to a file when configured."""

from __future__ import annotations

import json

from node.config import AccessSettings
from node.metrics import Metrics
from node.traces import TopReaders

from .conftest import build_world


def test_profile_and_finding_reads_are_counted_and_logged(tmp_path):
    log = tmp_path / "reads.jsonl"

    class Config:
        access = AccessSettings(read_log=str(log))

    w = build_world(Config())
    w.service.metrics = Metrics("n1")
    from node.api import create_app

    w.app = create_app(w.service)
    finding = w.docs("inspection_finding")[0]["doc_id"]
    minutes = next(d["doc_id"] for d in w.docs("minutes") if d["doc"]["org"].startswith("central/p1/"))
    assert w.client("m0010").get("/v1/members/m0012").status_code == 200
    assert w.client("m0006").get(f"/v1/documents/{finding}").status_code == 200
    assert w.client("m0006").get(f"/v1/documents/{minutes}").status_code == 200  # not traced: not a finding
    assert w.client("m0012").get("/v1/members/m0013").status_code == 403  # refused: nothing was read
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(e["caller"], e["what"], e["subject"], e["via"]) for e in lines] == [
        ("member m0010", "member", "m0012", "signature"), ("member m0006", "finding", finding, "signature")]
    assert lines[0]["route"] == "/v1/members/{member_id}" and lines[1]["unit"] == "central/p1/k2"
    text = w.client("n1").get("/metrics").text
    assert 'minutebook_content_reads_total{caller_kind="member",what="member"} 1.0' in text
    assert 'minutebook_content_reads_top_total{caller="member m0006",what="finding"} 1.0' in text


def test_the_top_list_is_bounded_and_keeps_heavy_readers():
    top = TopReaders(capacity=10)
    for i in range(5000):
        top.add((f"member m{i:05d}", "member"))  # one read each by 5,000 members
        if i % 2 == 0:
            top.add(("member mass-reader", "member"))  # and one caller reading half of everything
    assert len(top.counts) == 10
    count, error = top.counts[("member mass-reader", "member")]
    assert count - error <= 2500 <= count  # space-saving: never undercounts, error bounded
