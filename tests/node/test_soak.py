"""Soak: a real 3-node cluster under a steady stream of submissions while nodes are
killed (SIGKILL or SIGTERM) and restarted at random, for minutes.

Behind the ``soak`` marker (not in the default run): ``scripts/soak.sh`` or
``scripts/test.sh -m soak``. ``MINUTEBOOK_SOAK_SECONDS`` sets the chaos phase
(default 120 s); ``MINUTEBOOK_SOAK_SEED`` the schedule.

At the end, with every node back: every acknowledged (``?wait=committed``)
document is accepted on every node, the nodes hold identical blocks and
certificates, and ``minutebook audit`` over all of them passes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.node.cluster import REPO, Cluster, Load
from tests.node.cluster import CELLS
from tests.node.test_cluster import assert_converged

pytestmark = pytest.mark.soak

SOAK_SECONDS = float(os.environ.get("MINUTEBOOK_SOAK_SECONDS", "120"))
SOAK_SEED = int(os.environ.get("MINUTEBOOK_SOAK_SEED", "1"))


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "soak", voters=3, tick_ms=50, election_ticks=10, snapshot_every=50)
    yield c
    c.close()


@pytest.mark.timeout(SOAK_SECONDS + 600)
def test_random_kills_and_restarts_lose_no_acknowledged_document(cluster):
    rng = random.Random(SOAK_SEED)
    cluster.start_all()
    cluster.wait_leader()
    kills = 0
    with Load(cluster, CELLS, threads=4, seed=SOAK_SEED) as load:
        deadline = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(1.0, 4.0))
            status = cluster.leader()
            victim = status[0] if status and rng.random() < 0.5 else rng.choice(list(cluster.nodes))
            cluster.kill(victim, rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGTERM]))
            kills += 1
            time.sleep(rng.uniform(0.2, 3.0))
            cluster.start(victim)
    acked = load.acked
    print(f"soak {SOAK_SECONDS:.0f}s seed {SOAK_SEED}: {kills} kills, {len(acked)} acknowledged, "
          f"refused {load.refused}")

    assert len(acked) > 0
    assert_converged(cluster, acked, timeout=60)
    nodes = [arg for n in cluster.nodes for arg in ("--node", cluster.nodes[n].api_url)]
    key = str(cluster.root / "keys" / "n1.json")  # block envelopes are for auditors: a node key
    audit = subprocess.run([sys.executable, "-m", "client.cli", "audit", "--genesis", str(cluster.genesis_path),
                            "--key", key, *nodes], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert audit.returncode == 0, audit.stdout + audit.stderr
