#!/usr/bin/env python3
"""Entries committed per second through a 3-node Raft cluster in one process.

Pure core cost: a perfect network (messages handed to ``step`` synchronously, in
order), ``MemoryLogStorage`` as the disk, no invariant checks. Each batch
proposes ``--batch`` entries at the leader, then runs the Ready loop on every
node until the network is quiet and the leader has applied the whole batch.

    scripts/bench_consensus.py [--entries 20000] [--batch 100] [--runs 5] [--profile]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from consensus import Config, ConfState, MemoryLogStorage, RawNode, Role  # noqa: E402

IDS = ("n1", "n2", "n3")


class Cluster:
    def __init__(self, seed: int = 1) -> None:
        conf = ConfState(voters=IDS, learners=())
        self.storage = {i: MemoryLogStorage(conf) for i in IDS}
        self.nodes = {
            i: RawNode(Config(node_id=i, election_tick=10, heartbeat_tick=1,
                                        rng=random.Random(f"{seed}/{i}"), pre_vote=True,
                                        check_quorum=True, max_inflight=256,
                                        max_bytes_per_msg=1 << 20, applied=0),
                            self.storage[i])
            for i in IDS
        }
        self.applied = {i: 0 for i in IDS}
        self.inbox: list = []
        self.nodes["n1"].campaign()
        self.settle()
        assert self.nodes["n1"].status().role == Role.LEADER

    def handle(self, node_id: str) -> None:
        node = self.nodes[node_id]
        storage = self.storage[node_id]
        while node.has_ready():
            rd = node.ready()
            if rd.entries:
                storage.append(rd.entries)
            if rd.hard_state is not None:
                storage.set_hard_state(rd.hard_state)
            self.inbox.extend(rd.messages)
            if rd.committed_entries:
                self.applied[node_id] = rd.committed_entries[-1].index
            node.advance(rd)

    def settle(self) -> None:
        for node_id in IDS:
            self.handle(node_id)
        while self.inbox:
            batch, self.inbox = self.inbox, []
            for msg in batch:
                self.nodes[msg.dst].step(msg)
                self.handle(msg.dst)

    def run(self, entries: int, batch: int) -> float:
        leader = self.nodes["n1"]
        payload = b"x" * 64
        started = time.perf_counter()
        done = 0
        while done < entries:
            for _ in range(batch):
                leader.propose(payload)
            done += batch
            self.settle()
        elapsed = time.perf_counter() - started
        target = self.storage["n1"].last_index()
        if self.applied["n1"] < target:
            raise SystemExit(f"leader applied {self.applied['n1']} < {target}: did not commit")
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--batch", type=int, nargs="*", default=[100])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one run, top 25")
    args = parser.parse_args()
    if args.profile:
        import cProfile
        import pstats

        cluster = Cluster()
        profiler = cProfile.Profile()
        profiler.enable()
        cluster.run(args.entries, args.batch[0])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0
    print(f"{'batch':>6} {'entries':>8} {'seconds':>8} {'entries/s':>10}  (median of {args.runs})")
    for batch in args.batch:
        times = [Cluster().run(args.entries, batch) for _ in range(args.runs)]
        median = statistics.median(times)
        print(f"{batch:>6} {args.entries:>8} {median:>8.3f} {args.entries / median:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
