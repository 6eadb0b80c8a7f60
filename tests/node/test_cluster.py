"""Multi-process acceptance tests: real node processes on 127.0.0.1, real LevelDB in tmp dirs.

Each test builds a cluster with tests/node/cluster.py; the ``make_cluster``
fixture kills every process it started, even when the test fails.
"""

from __future__ import annotations

import concurrent.futures
import json
import random
import signal
import subprocess
import sys
import time

import httpx
import pytest

from client.verify import verify_receipt
from ledger.documents import Envelope

from tests.node.cluster import CELLS, REPO, Cluster, Load

pytestmark = pytest.mark.slow



@pytest.fixture
def make_cluster(tmp_path):
    clusters: list[Cluster] = []

    def make(**kwargs) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster{len(clusters)}", **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.close()


def _identical_blocks(cluster: Cluster, nodes: list[str]) -> bool:
    """Same heights, block hashes and full certificates on every node."""
    views = []
    for node in nodes:
        views.append([(b["height"], b["block_hash"], tuple((s["node"], s["sig"]) for s in b["certificate"]))
                      for b in cluster.all_blocks(node)])
    return all(v == views[0] for v in views) and bool(views[0])


def assert_converged(cluster: Cluster, acked: list[str], timeout: float) -> None:
    """Every node at the same height, every acknowledged document accepted on every node,
    identical block hashes and full certificates everywhere."""
    cluster.wait_for(lambda: (hs := {(cluster.status(n) or {}).get("height") for n in cluster.nodes})
                     and len(hs) == 1 and None not in hs, timeout, what="equal heights")
    for node in cluster.nodes:
        for doc_id in acked:
            response = cluster.get(node, f"/v1/documents/{doc_id}")
            assert response.status_code == 200 and response.json()["status"] == "accepted", (node, doc_id)
    cluster.wait_for(lambda: _identical_blocks(cluster, list(cluster.nodes)), timeout,
                     what="identical block hashes and certificates")


def test_document_submitted_to_a_follower_commits_and_its_receipt_verifies(make_cluster, tmp_path):
    cluster = make_cluster()
    cluster.start_all(via_cli=True)  # `minutebook node start --config ...`
    leader, _ = cluster.wait_leader()
    follower = next(n for n in cluster.nodes if n != leader)
    envelope = cluster.org.minutes(CELLS[0]).to_bytes()

    response = cluster.submit(follower, envelope, wait=True)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "committed"
    verified = verify_receipt(result["receipt"], cluster.genesis)
    assert verified.doc_id == result["doc_id"]
    # The same receipt, from any node, verifies offline with the CLI too.
    receipt = cluster.wait_for(lambda: (r := cluster.get(follower, f"/v1/documents/{result['doc_id']}/receipt"))
                               .status_code == 200 and r.json(), 10, what="receipt on the follower")
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt), encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "client.cli", "verify", str(path), "--genesis",
                          str(cluster.genesis_path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    # A second submission of the same document is 409 with the receipt, passed through from the leader.
    again = cluster.submit(follower, envelope)
    assert again.status_code == 409 and again.json()["error"] == "already_committed"


def test_batches_and_plain_submissions_through_a_follower_are_forwarded_over_the_peer_link(make_cluster):
    """A follower forwards over the peer link (node/forwarding.py): concurrent plain submissions
    share frames, a batch's results come back one per envelope and in order, and with
    wait=committed every result carries a receipt that verifies."""
    import msgpack

    cluster = make_cluster()
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    follower = next(n for n in cluster.nodes if n != leader)
    cluster.wait_for(lambda: (cluster.status(follower) or {}).get("leader") == leader, 20, what="follower knows")
    plain = [cluster.org.minutes(CELLS[i % len(CELLS)]).to_bytes() for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda e: cluster.submit(follower, e), plain))
    assert [a.status_code for a in answers] == [202] * len(plain), [a.text for a in answers if a.status_code != 202]
    frames = cluster.metric(follower, "minutebook_transport_frames_sent_total")
    assert frames > 0

    refused = cluster.org.minutes(CELLS[0], signers=[cluster.org.officer(CELLS[1], "secretary")]).to_bytes()
    envelopes = [cluster.org.minutes(CELLS[i % len(CELLS)]).to_bytes() for i in range(300)]
    body = envelopes[:100] + [refused, plain[0]] + envelopes[100:]
    response = cluster.http.post(cluster.nodes[follower].api_url + "/v1/documents:batch",
                                 params={"wait": "committed", "timeout": "60"},
                                 content=msgpack.packb(body, use_bin_type=True),
                                 headers={"content-type": "application/msgpack"}, timeout=90)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["committed"] * 100 + ["error", "committed"] + ["committed"] * 200 or \
        [r["status"] for r in results] == ["committed"] * 100 + ["error", "already_committed"] + ["committed"] * 200
    assert results[100]["http_status"] == 403 and results[100]["error"] == "not_permitted"
    for envelope, result in zip(body, results):
        if result["status"] != "error":
            assert result["doc_id"] == Envelope.from_bytes(envelope).doc_id
    for result in random.Random(3).sample([r for r in results if r["status"] != "error"], 20):
        assert verify_receipt(result["receipt"], cluster.genesis).doc_id == result["doc_id"]
    acked = [Envelope.from_bytes(e).doc_id for e in plain + envelopes]
    assert_converged(cluster, acked, timeout=60)


def test_leader_killed_under_load_fails_over_and_loses_no_acknowledged_document(make_cluster):
    cluster = make_cluster(tick_ms=100, election_ticks=10)
    cluster.start_all()
    old_leader, old_term = cluster.wait_leader()
    with Load(cluster, CELLS, threads=4) as load:
        cluster.wait_for(lambda: len(load.acked) >= 20, 30, what="a steady stream")
        before_kill = len(load.acked)
        old_leader, old_term = cluster.wait_leader()
        killed_at = time.monotonic()
        cluster.kill(old_leader)
        survivors = [n for n in cluster.nodes if n != old_leader]
        new_leader, new_term = cluster.wait_for(
            lambda: (found := cluster.leader(survivors)) and found[1] > old_term and found, 10, interval=0.02,
            what="a new leader")
        failover = time.monotonic() - killed_at
        print(f"failover: {failover:.2f}s ({old_leader} term {old_term} -> {new_leader} term {new_term})")
        cluster.wait_for(lambda: len(load.acked) >= before_kill + 20, 30, what="acks after failover")
        cluster.start(old_leader)
        time.sleep(2.0)
    acked = load.acked
    print(f"acknowledged {len(acked)} documents; refusals by status: {load.refused}")
    # How fast (the 3 s goal) is measured by scripts/bench_failover.py, not asserted here.
    assert_converged(cluster, acked, timeout=30)


def test_learner_added_by_a_node_document_catches_up_on_20000_documents(make_cluster):
    cluster = make_cluster(max_documents=2000, linger_ms=50, snapshot_every=8)
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    envelopes = [cluster.org.minutes(CELLS[i % len(CELLS)]).to_bytes() for i in range(20_000)]
    started = time.monotonic()

    def post(chunk: list[bytes]) -> int:
        ok = 0
        with httpx.Client(timeout=60) as client:
            for envelope in chunk:
                response = cluster.submit(leader, envelope, client=client)
                ok += response.status_code == 202
        return ok

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(post, [envelopes[i::8] for i in range(8)]))
    assert admitted == len(envelopes)
    cluster.wait_for(lambda: cluster.get(leader, "/v1/tree-head").json()["log_size"] >= 20_000, 120,
                     what="20,000 documents committed")
    print(f"loaded 20000 documents in {time.monotonic() - started:.1f}s")

    cluster.add_node("n4")
    response = cluster.submit(leader, cluster.node_document("add", "n4", role="learner"), wait=True)
    assert response.status_code == 200, response.text
    started = time.monotonic()
    cluster.start("n4")
    target = cluster.status(leader)["height"]
    cluster.wait_for(lambda: (st := cluster.status("n4")) and st["height"] >= target and not st["catching_up"],
                     180, interval=0.5, what="the learner caught up")
    print(f"learner caught up on {target} blocks in {time.monotonic() - started:.1f}s")
    assert cluster.status("n4")["learner"]
    assert cluster.metric("n4", "minutebook_catchup_blocks_total") > 0  # it came through fetched blocks
    for envelope in random.Random(1).sample(envelopes, 5):
        doc_id = Envelope.from_bytes(envelope).doc_id
        receipt = cluster.wait_for(lambda: (r := cluster.get("n4", f"/v1/documents/{doc_id}/receipt"))
                                   .status_code == 200 and r.json(), 20, what="receipt from the learner")
        assert verify_receipt(receipt, cluster.genesis).doc_id == doc_id


def test_a_node_with_an_unregistered_key_cannot_join(make_cluster):
    cluster = make_cluster()
    cluster.start_all()
    leader, term = cluster.wait_leader()
    assert cluster.submit(leader, cluster.org.minutes(CELLS[0]).to_bytes(), wait=True).status_code == 200
    # every member has applied that block (a follower applies it a moment after the leader answers)
    def applied_everywhere() -> dict | None:
        seen = {n: (cluster.status(n) or {}).get("height") for n in cluster.nodes}
        return seen if len(set(seen.values())) == 1 and None not in seen.values() else None

    heights = cluster.wait_for(applied_everywhere, 20, what="equal heights")
    cluster.add_node("n9")  # a key no node document registered
    cluster.start("n9")
    members = [n for n in heights]
    cluster.wait_for(lambda: sum(cluster.metric(n, "minutebook_transport_handshake_rejected_total")
                                 for n in members) >= 2, 20, what="refused handshakes")
    rogue = cluster.wait_for(lambda: cluster.status("n9"), 10, what="the rogue's API")
    assert rogue["leader"] == "" and rogue["height"] == 0
    for node in members:
        st = cluster.status(node)
        assert st["height"] == heights[node] and st["leader"] == leader and st["term"] == term
        assert "n9" not in st["peers"] and "n9" not in st["voters"] + st["learners"]


def test_a_voter_down_past_log_compaction_catches_up_by_snapshot_and_fetched_blocks(make_cluster):
    cluster = make_cluster(snapshot_every=8, max_documents=20)
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    victim = next(n for n in cluster.nodes if n != leader)
    assert cluster.submit(leader, cluster.org.minutes(CELLS[0]).to_bytes(), wait=True).status_code == 200
    cluster.kill(victim)
    for i in range(30):  # 30 blocks: the leader's Raft log is compacted well past the victim's
        assert cluster.submit(leader, cluster.org.minutes(CELLS[i % 4]).to_bytes(), wait=True).status_code == 200
    cluster.start(victim)
    cluster.wait_for(lambda: (st := cluster.status(victim)) and not st["catching_up"]
                     and st["height"] == cluster.status(leader)["height"], 60, what="the victim caught up")
    assert cluster.metric(victim, "minutebook_catchup_blocks_total") > 0
    cluster.wait_for(lambda: _identical_blocks(cluster, list(cluster.nodes)), 30,
                     what="identical block hashes and certificates")
    # It serves writes again (forwarded) and survives a clean restart on what it fetched.
    assert cluster.submit(victim, cluster.org.minutes(CELLS[0]).to_bytes(), wait=True).status_code == 200
    cluster.kill(victim, signal.SIGTERM)
    assert cluster.procs[victim].returncode == 0
    cluster.start(victim)
    cluster.wait_for(lambda: (st := cluster.status(victim)) and st["height"] == cluster.status(leader)["height"],
                     30, what="the victim back after a clean restart")


def _signed_raw(org, doc_obj: dict, signers: list[str]) -> bytes:
    """An envelope built by hand (so its body may break the schema), properly signed."""
    from ledger.encoding import canonical
    from ledger.keys import DOC_DOMAIN, public_key, sign

    data = canonical(doc_obj)
    sigs = [{"signer": s, "key": public_key(org.seeds[s]), "sig": sign(org.seeds[s], DOC_DOMAIN, data)}
            for s in signers]
    return canonical({"doc": doc_obj, "sigs": sigs})


def test_bad_submissions_get_their_documented_errors_and_change_nothing(make_cluster):
    """A forged signature (401), a signer without the role (403), a malformed body (400 naming the
    field), non-NFC text (400 not_canonical) and an oversized body (413), sent to the leader and to
    a follower of a real cluster: each gets its documented error, and no node's ledger changes."""
    import msgpack

    from ledger.encoding import canonical

    cluster = make_cluster()
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    follower = next(n for n in cluster.nodes if n != leader)
    org = cluster.org
    cell = CELLS[0]
    assert cluster.submit(leader, org.minutes(cell).to_bytes(), wait=True).status_code == 200
    cluster.wait_for(lambda: len(sizes := {cluster.log_size(n) for n in cluster.nodes}) == 1 and None not in sizes,
                     30, what="equal logs")
    before = cluster.get(leader, "/v1/tree-head").json()

    good = org.minutes(cell)
    forged = good.to_obj()
    forged["sigs"][0]["sig"] = bytes([forged["sigs"][0]["sig"][0] ^ 1]) + forged["sigs"][0]["sig"][1:]
    malformed = org.minutes(cell).doc.to_obj()
    malformed["body"]["votes"][0]["for"] = -1
    decomposed = org.minutes(cell).doc.to_obj()
    decomposed["body"]["text"] = "Bie\u0302n ba\u0309n"  # NFD spelling of "Biên bản"
    cases = [
        ("forged signature", canonical(forged), 401, "bad_signature", None),
        ("signer without the role", org.resolution(cell, signers=[org.plain(cell)]).to_bytes(), 403,
         "not_permitted", None),
        ("malformed body", _signed_raw(org, malformed, [s.signer for s in good.sigs]), 400,
         "invalid_input", "body.votes[0].for"),
        ("non-NFC text", msgpack.packb({"doc": decomposed, "sigs": []}, use_bin_type=True), 400,
         "not_canonical", "doc.body.text"),
        ("oversized", b"\x00" * (2 << 20), 413, "too_large", None),
    ]
    for node in (leader, follower):
        for what, data, status, code, field in cases:
            response = cluster.submit(node, data)
            body = response.json()
            assert response.status_code == status and body["error"] == code, (node, what, response.text)
            if field is not None:
                assert body.get("field") == field, (node, what, body)
            assert "Traceback" not in response.text
    for node in cluster.nodes:
        assert cluster.get(node, "/v1/tree-head").json()["log_size"] == before["log_size"]
        assert cluster.get(node, f"/v1/documents/{good.doc_id}").status_code == 404
    # the cluster still works, and the log grows by exactly the one good document
    assert cluster.submit(follower, good.to_bytes(), wait=True).status_code == 200
    cluster.wait_for(lambda: {cluster.get(n, "/v1/tree-head").json()["log_size"] for n in cluster.nodes}
                     == {before["log_size"] + 1}, 10, what="one more leaf everywhere")


def test_a_pending_acknowledgement_survives_the_leader_being_killed_before_its_block(make_cluster):
    """202 "pending" is durable: the leader journals a document (fsync) before answering. Killed
    (SIGKILL) while the documents still wait for their block, it submits them again on restart,
    and every one ends up accepted on every node."""
    # A long linger keeps the documents in the leader's pool until the kill; the check on the
    # survivors below states that they never reached a block (no timing is asserted).
    cluster = make_cluster(linger_ms=8000, max_documents=1000)
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    envelopes = [cluster.org.minutes(CELLS[i % len(CELLS)]) for i in range(30)]
    for envelope in envelopes:
        response = cluster.submit(leader, envelope.to_bytes())
        assert response.status_code == 202 and response.json()["status"] == "pending", response.text
    cluster.kill(leader)
    survivors = [n for n in cluster.nodes if n != leader]
    for node in survivors:  # no block took them: they lived only in the dead leader's pool and journal
        for envelope in (envelopes[0], envelopes[-1]):
            assert cluster.get(node, f"/v1/documents/{envelope.doc_id}").status_code == 404
    cluster.start(leader)
    last = envelopes[-1].doc_id

    def everywhere() -> bool:
        try:
            return all(cluster.get(n, f"/v1/documents/{last}").status_code == 200 for n in cluster.nodes)
        except httpx.HTTPError:  # the restarted node's API is not up yet
            return False

    cluster.wait_for(everywhere, 40, interval=0.5, what="the journaled documents committed")
    assert_converged(cluster, [e.doc_id for e in envelopes], timeout=40)


def test_a_learner_is_promoted_to_voter_and_the_leader_itself_is_removed(make_cluster):
    """Membership through the ledger on a real cluster: a learner added by a node document is
    promoted by another (it then counts in certificates), and the leader removes itself with a
    third (it steps down; the others elect a leader and go on). A receipt certified by the new
    voter set verifies offline from genesis through its membership receipts."""
    cluster = make_cluster()
    cluster.start_all()
    leader, _ = cluster.wait_leader()
    cluster.add_node("n4")
    assert cluster.submit(leader, cluster.node_document("add", "n4", role="learner"), wait=True).status_code == 200
    cluster.start("n4")
    cluster.wait_for(lambda: (st := cluster.status("n4")) and st["learner"] and not st["catching_up"]
                     and st["height"] >= cluster.status(leader)["height"], 30, what="the learner caught up")

    response = cluster.submit(leader, cluster.node_document("add", "n4", role="voter"), wait=True)
    assert response.status_code == 200, response.text
    cluster.wait_for(lambda: "n4" in (cluster.status(leader) or {}).get("voters", []), 20,
                     what="n4 a voter in Raft's configuration")
    assert not cluster.status("n4")["learner"]

    rest = [n for n in cluster.nodes if n != leader]
    # Sent through a node that stays: the removed one drops its peer links once the removal
    # applies, so it could not collect the signatures that certify that very block.
    removal = cluster.org.node("remove", leader).to_bytes()
    response = cluster.submit(rest[0], removal, wait=True)
    assert response.status_code == 200, response.text
    new_leader, _ = cluster.wait_for(lambda: (found := cluster.leader(rest)) and found, 20,
                                     what="a leader among the remaining voters")
    cluster.wait_for(lambda: leader not in (cluster.status(new_leader) or {}).get("voters", [leader]), 20,
                     what="the old leader out of the configuration")

    envelope = cluster.org.minutes(CELLS[0])
    response = cluster.submit(new_leader, envelope.to_bytes(), wait=True)
    assert response.status_code == 200, response.text
    receipt = response.json()["receipt"]
    signers = {s["node"] for s in receipt["block"]["certificate"]}
    assert leader not in signers or len(signers - {leader}) >= 2  # a majority of {n2, n3, n4} without it
    assert len(receipt.get("membership", [])) == 3  # add n4, promote n4, remove the old leader
    verified = verify_receipt(receipt, cluster.genesis)
    assert sorted(verified.voters) == sorted(rest)
