"""Smoke test of the whole system: `minutebook devnet up` with 3 node processes,
the sample organisation loaded through the API, `audit` passes; then one
node's stored copy of an envelope is altered on disk (node stopped, value
rewritten through LevelDBStore so its checksum is valid), the cluster resumes,
and `audit` names that node, the block and the check."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from client.cli import main
from tests import devnet
from tests.ports import devnet_base_port

pytestmark = pytest.mark.slow


NODES = os.environ.get("MINUTEBOOK_SMOKE_NODES", "3")  # 1 runs the same flow on a single-node cluster


def test_devnet_load_audit_then_tamper(tmp_path):
    d = tmp_path / "dn"
    base = devnet_base_port(int(NODES))
    proc = devnet.start(d, base, NODES)
    try:
        out = devnet.wait_running(proc)
    except BaseException:
        devnet.stop_hard(proc)
        raise
    try:
        assert "loaded" in out and (d / "loaded.json").exists()
        members = json.loads((d / "members.json").read_text())
        assert len(members) > 190
        cluster = json.loads((d / "cluster.json").read_text())
        urls = [n["api_url"] for n in cluster["nodes"]]
        args = ["audit", "--genesis", str(d / "genesis.json"), "--key", str(d / "keys" / "n1.json")] + [
            a for u in urls for a in ("--node", u)]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        root_secretary = next(m for m in members if m["org"] == "central" and "secretary" in m["roles"])
        year = str(int(time.time() * 1000) - 400 * 86_400_000)  # the sample's whole history
        stats = CliRunner().invoke(main, ["stats", "central", "--since", year, "--json", "--node", urls[0], "--key",
                                          str(d / root_secretary["key_file"])])
        assert json.loads(stats.output)["meetings"]["regular"] > 100
        # the ready-signed example the welcome prints works as printed
        line = next(line.strip() for line in out.splitlines() if line.strip().startswith("minutebook get "))
        got = CliRunner().invoke(main, line.split()[1:])
        assert got.exit_code == 0, got.output
        assert json.loads(got.output)["doc"]["org"] == "central/p1/k1/s1"
        unsigned = CliRunner().invoke(main, line.split()[1:3] + ["--node", urls[0]])
        assert unsigned.exit_code == 1 and "needs your key" in unsigned.output
    finally:
        devnet.down(proc)

    # Rewrite one envelope in n3's ledger, with a valid store checksum.
    from ledger.store import LevelDBStore

    victim = len(urls) - 1
    store = LevelDBStore(str(Path(cluster["nodes"][victim]["data_dir"]) / "ledger"), create=False)
    key, value = next(iter(store.scan(b"l/", start=b"l/" + (7).to_bytes(8, "big"))))
    tampered = bytearray(value)
    tampered[-1] ^= 1
    store.write({key: bytes(tampered)})
    store.close()

    proc = devnet.start(d, base, NODES, sigint_ignored=True)  # resumed from a script
    try:
        out = devnet.wait_running(proc)
        assert "loading sample" not in out  # resumed, not reloaded
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1
        assert f"FAILED {urls[victim]} height" in r.output and "tx_root" in r.output
        if victim:
            assert f"OK {urls[0]}" in r.output
    finally:
        devnet.down(proc)
