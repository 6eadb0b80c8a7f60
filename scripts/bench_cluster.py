"""Throughput of a local 3-node cluster (real processes, real LevelDB): documents/s end to end.

    .venv/bin/python scripts/bench_cluster.py --docs 5000 --threads 8 [--wait] [--to follower]

Starts the cluster of tests/node/cluster.py in a temporary directory, signs
`--docs` minutes documents up front, submits them from `--threads` client
threads (to the leader, or with ``--to follower`` to a follower, which
forwards), and reports the admission rate (2xx answers/s) and the commit rate
(documents in the leader's log / s, from the first submission until the log
holds them all). With ``--wait`` every submission uses ``?wait=committed``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.node.cluster import CELLS, Cluster  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--to", choices=["leader", "follower"], default="leader")
    parser.add_argument("--max-documents", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        cluster = Cluster(Path(tmp), max_documents=args.max_documents, linger_ms=20)
        try:
            cluster.start_all()
            leader, _ = cluster.wait_leader()
            target = leader if args.to == "leader" else next(n for n in cluster.nodes if n != leader)
            envelopes = [cluster.org.minutes(CELLS[i % len(CELLS)]).to_bytes() for i in range(args.docs)]

            def post(chunk: list[bytes]) -> int:
                ok = 0
                with httpx.Client(timeout=120) as client:
                    for envelope in chunk:
                        ok += 200 <= cluster.submit(target, envelope, wait=args.wait, client=client).status_code < 300
                return ok

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
                admitted = sum(pool.map(post, [envelopes[i::args.threads] for i in range(args.threads)]))
            admit_s = time.monotonic() - started
            cluster.wait_for(lambda: cluster.get(leader, "/v1/tree-head").json()["log_size"] >= args.docs, 300)
            commit_s = time.monotonic() - started
            height = cluster.status(leader)["height"]
            print(f"{args.docs} docs, {args.threads} threads, to {args.to}, wait={args.wait}: "
                  f"{admitted} admitted in {admit_s:.1f}s ({admitted / admit_s:.0f}/s); all committed in "
                  f"{commit_s:.1f}s ({args.docs / commit_s:.0f} docs/s) in {height} blocks")
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
