"""scripts/bench_cluster.py --smoke: the benchmark still runs end to end on a real cluster (open
loop with wait=committed, closed-loop plain and batch saturation) and every document it sent is
committed. It asserts nothing about speed: the numbers are the script's to print."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.node.cluster import REPO

pytestmark = pytest.mark.slow


def test_bench_cluster_smoke_runs_every_phase_and_commits_everything(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "scripts/bench_cluster.py", "--smoke", "--json", str(out)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads(out.read_text())
    names = [p["name"] for p in report["phases"]]
    assert names[0].startswith("open loop") and any("plain" in n for n in names) and any("batch" in n for n in names)
    for phase in report["phases"]:
        assert phase["ok"] == phase["documents"] > 0, phase
        assert set(phase["cpu_ms_per_doc"]) == {"n1", "n2", "n3"}
    assert report["ceiling_per_s"] > 0 and set(report["peak_rss"]) == {"n1", "n2", "n3"}
    assert "| phase |" in run.stdout
