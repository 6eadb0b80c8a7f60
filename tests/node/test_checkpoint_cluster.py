"""Checkpoint signatures between real node processes: every voter's line
reaches every node (block_sig frames), and a node that was down gets the
lines it missed by anti-entropy after catching up."""

from __future__ import annotations

import httpx
import pytest

from ledger.checkpoint import verify_checkpoint
from ledger.signed_note import VerifierKey
from tests.node.cluster import CELLS, Cluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "cluster")
    yield c
    c.close()


def _get(cluster: Cluster, node: str, path: str) -> httpx.Response | None:
    try:
        return cluster.get(node, path, timeout=2.0)
    except httpx.HTTPError:  # not listening yet
        return None


def _checkpoint(cluster: Cluster, node: str, keys: list[VerifierKey]):
    response = _get(cluster, node, "/checkpoint")
    if response is None or response.status_code != 200:
        return None
    return verify_checkpoint(response.text, keys)


def test_every_node_serves_the_checkpoint_signed_by_every_voter(cluster):
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    keys = [VerifierKey.from_text(k["vkey"]) for k in cluster.get(leader, "/v1/verifier-keys").json()["keys"]]
    assert len(keys) == 3
    response = cluster.submit(leader, cluster.org.minutes(CELLS[0]).to_bytes(), wait=True)
    assert response.status_code == 200, response.text
    size = response.json()["receipt"]["block"]["header_fields"]["log_size"]

    def all_lines(node: str):
        verified = _checkpoint(cluster, node, keys)
        return verified if verified and verified.checkpoint.size >= size and len(verified.signers) == 3 else None

    for node in cluster.nodes:
        cluster.wait_for(lambda: all_lines(node), 30, what=f"{node}'s checkpoint with three voters' lines")

    down = next(n for n in cluster.nodes if n != leader)
    cluster.kill(down)
    for cell in CELLS[1:3]:
        response = cluster.submit(leader, cluster.org.minutes(cell).to_bytes(), wait=True)
        assert response.status_code == 200, response.text
    size = response.json()["receipt"]["block"]["header_fields"]["log_size"]
    cluster.start(down)
    verified = cluster.wait_for(lambda: all_lines(down), 60, what=f"{down} catching up on checkpoint lines")
    assert verified.checkpoint.size >= size
    height = response.json()["receipt"]["block"]["height"]
    exact = cluster.wait_for(lambda: (r := _get(cluster, down, f"/v1/checkpoints/{height}")) is not None
                             and r.status_code == 200
                             and len(verify_checkpoint(r.text, keys).signers) == 3, 30,
                             what=f"{down}'s checkpoint of block {height}, signed by all three")
    assert exact
