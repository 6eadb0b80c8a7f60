"""Network partitions on a real cluster: every peer link runs through a relay the
test can cut (tests/node/netproxy.py), while the node processes keep running.

- A follower cut off for several election timeouts must not disrupt the leader
  when it returns (pre-vote: its term does not grow while it is alone), and then
  catches up on what was committed without it.
- A leader cut off from the majority steps down (check-quorum), the majority
  elects a new leader and keeps committing, and after healing the old leader
  follows and every node holds the same blocks.
"""

from __future__ import annotations

import time

import pytest

from tests.node.cluster import Cluster, Load
from tests.node.netproxy import heal_all, partition, route_through_relays
from tests.node.cluster import CELLS
from tests.node.test_cluster import assert_converged

pytestmark = pytest.mark.slow

ELECTION_S = 1.0  # tick 100 ms x 10 ticks (randomised up to 2x)


@pytest.fixture
def cut_cluster(tmp_path):
    cluster = Cluster(tmp_path / "cluster", voters=3, tick_ms=100, election_ticks=10)
    relays = route_through_relays(cluster)
    yield cluster, relays
    cluster.close()
    for relay in relays.values():
        relay.close()


def test_a_follower_back_from_isolation_does_not_depose_the_leader(cut_cluster):
    cluster, relays = cut_cluster
    cluster.start_all()
    leader, term = cluster.wait_leader()
    follower = next(n for n in cluster.nodes if n != leader)
    assert cluster.submit(leader, cluster.org.minutes(CELLS[0]).to_bytes(), wait=True).status_code == 200

    partition(relays, {follower})
    committed_alone = []
    deadline = time.monotonic() + 6 * ELECTION_S
    while time.monotonic() < deadline:  # the majority keeps committing meanwhile
        envelope = cluster.org.minutes(CELLS[1])
        assert cluster.submit(leader, envelope.to_bytes(), wait=True, timeout=10).status_code == 200
        committed_alone.append(envelope.doc_id)
        time.sleep(0.2)
    cut_off = cluster.status(follower)
    assert cut_off["term"] == term, f"the isolated follower's term grew to {cut_off['term']} (no pre-vote?)"
    assert cut_off["role"] != "leader"

    heal_all(relays)
    cluster.wait_for(lambda: (st := cluster.status(follower)) and st["height"] == cluster.status(leader)["height"]
                     and st["leader"] == leader, 20, what="the follower caught up")
    for node in cluster.nodes:
        st = cluster.status(node)
        assert st["term"] == term and st["leader"] == leader, (node, st["term"], st["leader"])
    assert_converged(cluster, committed_alone, timeout=20)


def test_a_leader_cut_off_steps_down_and_the_majority_goes_on(cut_cluster):
    cluster, relays = cut_cluster
    cluster.start_all()
    old_leader, old_term = cluster.wait_leader()
    majority = [n for n in cluster.nodes if n != old_leader]
    with Load(cluster, CELLS, threads=2) as load:
        cluster.wait_for(lambda: len(load.acked) >= 10, 30, what="a steady stream")
        partition(relays, {old_leader})
        cut_at = time.monotonic()
        new_leader, new_term = cluster.wait_for(
            lambda: (found := cluster.leader(majority)) and found[1] > old_term and found, 15, interval=0.05,
            what="a new leader on the majority side")
        print(f"new leader {new_leader} (term {new_term}) {time.monotonic() - cut_at:.2f}s after the cut")
        # check-quorum: the old leader notices it lost the majority and steps down
        cluster.wait_for(lambda: (st := cluster.status(old_leader)) and st["role"] != "leader", 5 * ELECTION_S,
                         what="the cut-off leader stepping down")
        acked_at_cut = len(load.acked)
        cluster.wait_for(lambda: len(load.acked) >= acked_at_cut + 10, 30, what="commits on the majority side")
        heal_all(relays)
        cluster.wait_for(lambda: (st := cluster.status(old_leader)) and st["leader"] == new_leader, 20,
                         what="the old leader following the new one")
    print(f"acknowledged {len(load.acked)} documents; refusals by status: {load.refused}")
    assert_converged(cluster, load.acked, timeout=30)
