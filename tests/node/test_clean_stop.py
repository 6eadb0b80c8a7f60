"""A clean stop is silent: SIGTERM a node of a real cluster under load, again and again,
and its log must hold no traceback and no error, and it must exit 0 (README "Running a node").

The load keeps ``?wait=committed`` submissions in flight on every node, block signatures
travelling and blocks applying at the moment of each stop, which is when a store closed
under a queued write used to show as ``RuntimeError: Database or iterator is closed``."""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.node.cluster import CELLS, Cluster, Load
from tests.node.test_cluster import assert_converged

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

STOPS = 8


def test_sigterm_under_load_stops_cleanly_every_time(tmp_path):
    cluster = Cluster(tmp_path / "cluster", voters=3)
    try:
        cluster.start_all()
        cluster.wait_leader()
        rng = random.Random(3)
        with Load(cluster, CELLS, threads=4, seed=3) as load:
            cluster.wait_for(lambda: len(load.acked) >= 10, 60, what="a steady stream")
            for i in range(STOPS):
                leader = cluster.leader()
                victim = leader[0] if leader and i % 2 == 0 else rng.choice(sorted(cluster.nodes))
                before = len(load.acked)
                # A running node (one still importing Python has no handler yet: the default kills it)
                cluster.wait_for(lambda: cluster.status(victim), 60, what=f"{victim} serving")
                proc = cluster.procs[victim]
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0, cluster.log_tail(victim)
                cluster.start(victim)
                cluster.wait_for(lambda: len(load.acked) >= before + 5, 60, what=f"commits after stop {i + 1}")
                time.sleep(rng.uniform(0.0, 0.5))
        assert_converged(cluster, load.acked, timeout=60)
        for node_id, files in cluster.nodes.items():
            text = files.log.read_text(errors="replace")
            bad = [line for line in text.splitlines()
                   if "Traceback" in line or " ERROR " in line or " CRITICAL " in line or "is closed" in line]
            assert bad == [], f"{node_id}: " + "\n".join(bad[:20])
    finally:
        cluster.close()
