"""Heavy reads never stall consensus (issue 13 item 7: a stats query ran on the event loop that
drives Raft; one on a 30,000-document devnet took 5.5 s and the cluster elected a new leader).

Measured by what consensus sees, not by time: in-process, the loop's own ticks keep coming
while a slow query runs; in a real 3-node cluster whose stats queries spin the CPU for
seconds (tests/node/slow_reads.py), the leader keeps its term and its followers keep
hearing from it."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from node.api import create_app
from tests.ledger.factory import make_org

from client.signing import RequestSigner

from .cluster import Cluster
from .service_double import ServiceDouble, key_file


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_the_event_loop_keeps_ticking_while_a_slow_query_runs(monkeypatch):
    """A ticker on the API's loop counts 10 ms ticks while one stats query spins 1.5 s of CPU:
    run on the loop, it would starve the ticker completely (as a Raft tick would be)."""
    import views.stats

    slow_stats = views.stats.unit_stats

    def slow(*args, **kwargs):
        _spin(1.5)
        return slow_stats(*args, **kwargs)

    monkeypatch.setattr("node.routes.views.unit_stats", slow)
    org = make_org(2)
    app = create_app(ServiceDouble(org.genesis, org.node_seeds))

    async def scenario() -> tuple[int, int]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        transport = httpx.ASGITransport(app=app)
        signer = RequestSigner(key_file("n1", org.node_seeds["n1"], node=True))
        async with httpx.AsyncClient(transport=transport, base_url="http://node", auth=signer) as client:
            await asyncio.sleep(0.05)
            before = ticks
            response = await client.get("/v1/orgs/central/stats")
            during = ticks - before
        stop.set()
        await task
        return response.status_code, during

    status, during = asyncio.run(scenario())
    assert status == 200
    assert during >= 20, f"only {during} ticks of the loop ran during a 1.5 s query"


@pytest.mark.slow
def test_a_slow_stats_query_on_the_leader_leaves_it_leading(tmp_path):
    cluster = Cluster(tmp_path, voters=3)
    try:
        cluster.start_all(module="tests.node.slow_reads")
        leader, term = cluster.wait_leader(timeout=60)
        followers = [n for n in cluster.nodes if n != leader]
        # let the cluster settle: a second leader check a little later must agree
        cluster.wait_for(lambda: all((cluster.status(f) or {}).get("leader") == leader for f in followers),
                         timeout=30, what="followers that know the leader")
        answers: list[int] = []

        def ask() -> None:
            with httpx.Client(timeout=60, auth=RequestSigner(cluster.reader)) as client:
                answers.append(client.get(cluster.nodes[leader].api_url + "/v1/orgs/central/stats").status_code)

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        seen: list[tuple[str, int, str, int | None]] = []
        while any(t.is_alive() for t in threads):
            for follower in followers:
                st = cluster.status(follower)
                if st is not None:
                    contact = (st.get("peers") or {}).get(leader, {}).get("last_contact_ms")
                    seen.append((follower, st["term"], st.get("leader"), contact))
            time.sleep(0.2)
        for thread in threads:
            thread.join()
        assert answers == [200, 200]
        assert seen, "the followers answered no status while the queries ran"
        terms = {term_seen for _, term_seen, _, _ in seen}
        assert terms == {term}, f"the term moved from {term} to {sorted(terms)} while the leader answered a query"
        assert {leader_seen for _, _, leader_seen, _ in seen} == {leader}
        st = cluster.status(leader)
        assert st["role"] == "leader" and st["term"] == term
    finally:
        cluster.close()
