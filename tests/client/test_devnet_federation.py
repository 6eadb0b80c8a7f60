"""`minutebook devnet up --federation`: a central ledger (3 nodes) and two
provincial ledgers (1 node each) as real processes; each province is
witnessed and anchored by the centre; a cell's minutes verify from a central
auditor's seat through the anchor chain, and fail when any link is altered;
the monitor follows a province through its node and the central witness."""

from __future__ import annotations

import copy
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from client.cli import main
from client.cli_devnet import PEER_PORT_OFFSET
from ledger.checkpoint import verify_checkpoint
from ledger.errors import ProofFailed
from ledger.signed_note import VerifierKey
from tests import devnet
from tests.ports import free_ports_at

pytestmark = pytest.mark.slow


def _base_port() -> int:
    offsets = []
    for ledger, nodes in ((0, 3), (100, 1), (200, 1)):
        for i in range(1, nodes + 1):
            offsets += [ledger + i, ledger + PEER_PORT_OFFSET + i]
    return free_ports_at(offsets)


@pytest.fixture()
def federation(tmp_path):
    d = tmp_path / "fed"
    proc = subprocess.Popen([sys.executable, "-m", "client.cli", "devnet", "up", "--federation", "--dir", str(d),
                             "--base-port", str(_base_port())], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        banner = devnet.wait_running(proc, banner=devnet.FEDERATION_BANNER_END)
        yield d, banner
        proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
        assert code == 0, f"devnet up exited {code}:\n{proc.stdout.read()}"
    finally:
        if proc.poll() is None:
            devnet.stop_hard(proc)


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_cells_minutes_verify_from_the_centre_and_fail_on_any_altered_link(federation, tmp_path):
    d, banner = federation
    fed = json.loads((d / "federation.json").read_text())
    assert [e["name"] for e in fed["ledgers"]] == ["central", "p1", "p2"]
    assert "anchored p1 in the central ledger" in banner and "anchored p2 in the central ledger" in banner
    p1 = fed["ledgers"][1]["nodes"][0]
    found = re.search(r"minutebook receipt ([0-9a-f]{64}) --key (\S+) --node", banner)
    doc_id, auditor_key = found.group(1), found.group(2)
    unsigned = _run("receipt", doc_id, "--node", p1)  # content is read with a key, as the banner says
    assert unsigned.exit_code != 0 and "--key" in unsigned.output, unsigned.output
    receipt = _run("receipt", doc_id, "--key", auditor_key, "--node", p1)
    assert receipt.exit_code == 0, receipt.output
    # the banner's public checkpoint: p1's voters signed it, the central witness cosigned it
    checkpoint_url = re.search(r"curl (\S+/checkpoint)", banner).group(1)
    assert checkpoint_url == p1 + "/checkpoint"
    voters = [VerifierKey.from_text(k["vkey"]) for k in json.loads(_run_get(p1, "/v1/verifier-keys"))["keys"]]
    central_witness = VerifierKey.from_text(fed["witnesses"][0]["vkey"])
    deadline = time.monotonic() + 60  # the witness answered before p1's node stored its cosignature
    while True:
        try:
            verify_checkpoint(_run_get(p1, "/checkpoint"), voters, origin=fed["ledgers"][1]["origin"],
                              witnesses=[central_witness])
            break
        except ProofFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    cell = tmp_path / "cell.json"
    cell.write_text(receipt.output, encoding="utf-8")
    assert json.loads(receipt.output)["block"]["header_fields"]["log_size"] > 0
    verify = ["verify", str(cell), "--genesis", str(d / "p1" / "genesis.json"), "--node", p1,
              "--anchor", str(d / "anchors" / "p1.json"), "--anchor-genesis", str(d / "central" / "genesis.json")]
    ok = _run(*verify, "--json")
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.output)
    assert result["org"] == "central/p1/k1/s1" and result["type"] == "minutes"
    assert result["anchor"]["type"] == "anchor" and result["pinned"]["position"] in ("before", "at")

    def fails(check: str, args: list[str]) -> None:
        out = _run(*args, "--json")
        assert out.exit_code == 1, out.output
        assert json.loads(out.output)["check"] == check, out.output

    # the anchor chain's links, one at a time
    anchor = json.loads((d / "anchors" / "p1.json").read_text())
    altered = copy.deepcopy(anchor)
    altered["block"]["certificate"] = altered["block"]["certificate"][:1]
    (tmp_path / "anchor-altered.json").write_text(json.dumps(altered), encoding="utf-8")
    fails("anchor_receipt", [a if a != str(d / "anchors" / "p1.json") else str(tmp_path / "anchor-altered.json")
                             for a in verify])
    fails("anchor_document", [a if a != str(d / "anchors" / "p1.json") else str(d / "anchors" / "p2.json")
                              for a in verify])
    fails("anchor_receipt", [a if a != str(d / "central" / "genesis.json") else str(d / "p2" / "genesis.json")
                             for a in verify])
    m = json.loads(receipt.output)["block"]["header_fields"]["log_size"]
    n = _anchored_size(anchor)
    if m < n:
        proof = json.loads(_run_get(p1, f"/v1/proofs/consistency?first={m}&second={n}"))
        proof["proof"][0] = "00" * 32
        (tmp_path / "proof.json").write_text(json.dumps(proof), encoding="utf-8")
        fails("consistency", [*[a for a in verify if a not in ("--node", p1)], "--consistency",
                              str(tmp_path / "proof.json")])
    tampered = json.loads(receipt.output)
    tampered["inclusion_proof"] = tampered["inclusion_proof"][::-1]
    (tmp_path / "cell-altered.json").write_text(json.dumps(tampered), encoding="utf-8")
    fails("inclusion", [a if a != str(cell) else str(tmp_path / "cell-altered.json") for a in verify])

    # the monitor follows p1 through its node and the central witness
    monitor = _run("monitor", "--genesis", str(d / "p1" / "genesis.json"), "--state", str(tmp_path / "m.json"),
                   "--once", "--ledger", p1, "--witness", fed["witnesses"][0]["api_url"])
    assert monitor.exit_code == 0 and monitor.output.count("OK ") == 2, monitor.output


def _anchored_size(anchor_receipt: dict) -> int:
    from ledger.documents import Envelope
    from ledger.jsonfmt import b64d

    body = Envelope.from_bytes(b64d(anchor_receipt["envelope"])).doc.body
    return int(body["checkpoint"].split("\n")[1])


def _run_get(url: str, path: str) -> str:
    import httpx

    return httpx.get(url + path, timeout=10).text
