"""Benchmark the Merkle log over LevelDBStore: append cost, proof latency, bytes per leaf.

    .venv/bin/python scripts/bench_merkle.py --leaves 1000000 --batch 1000

Builds a log of --leaves leaves in blocks of --batch (one Overlay commit, i.e.
one synced LevelDB batch, per block), then times root, inclusion and
consistency proofs (p50/p99) at random sizes, and the checksum cost per read.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ledger.merkle import leaf_hash, verify_inclusion  # noqa: E402
from ledger.merkle_log import MerkleLog  # noqa: E402
from ledger.store import LevelDBStore, Overlay  # noqa: E402


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"p50 {p50 * 1e6:7.1f} us   p99 {p99 * 1e6:7.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="leaves per block (one synced write)")
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--dir", default=None, help="where to put the database (default: a temp dir)")
    args = parser.parse_args()

    directory = args.dir or tempfile.mkdtemp(prefix="bench_merkle_")
    path = os.path.join(directory, "db")
    store = LevelDBStore(path)
    try:
        started = time.perf_counter()
        added = 0
        while added < args.leaves:
            count = min(args.batch, args.leaves - added)
            overlay = Overlay(store)
            MerkleLog(overlay).append_leaf_hashes([leaf_hash(b"envelope %d" % i) for i in range(added, added + count)])
            overlay.commit()
            added += count
        seconds = time.perf_counter() - started
        print(f"built {added} leaves in {seconds:.1f} s: {seconds / added * 1e6:.1f} us per leaf "
              f"(blocks of {args.batch}, one synced batch each)")
        store.compact()
        on_disk = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith((".ldb", ".log")))
        print(f"on disk after compaction: {on_disk / added:.1f} bytes per leaf "
              f"(one record per leaf: avg 2 hashes = 64 bytes + key + 4-byte checksum)")

        log = MerkleLog(store)  # read straight from the store, as an API handler would
        n = log.size
        rng = random.Random(1)
        roots, inclusions, consistencies = [], [], []
        for _ in range(args.queries):
            size = rng.choice([n, rng.randrange(1, n + 1)])
            index = rng.randrange(size)
            m = rng.randrange(1, size + 1)
            t0 = time.perf_counter()
            root_hash = log.root(size)
            t1 = time.perf_counter()
            proof = log.inclusion_proof(index, size)
            t2 = time.perf_counter()
            log.consistency_proof(m, size)
            t3 = time.perf_counter()
            roots.append(t1 - t0)
            inclusions.append(t2 - t1)
            consistencies.append(t3 - t2)
            verify_inclusion(leaf_hash(b"envelope %d" % index), index, size, proof, root_hash)
        print(f"root              {percentiles(roots)}")
        print(f"inclusion proof   {percentiles(inclusions)}")
        print(f"consistency proof {percentiles(consistencies)}")

        value = os.urandom(32)
        t0 = time.perf_counter()
        for _ in range(100_000):
            zlib.crc32(value, zlib.crc32(b"m/h12345678"))
        print(f"checksum per 32-byte read: {(time.perf_counter() - t0) / 100_000 * 1e9:.0f} ns; "
              f"mean of inclusion proof: {statistics.mean(inclusions) * 1e6:.1f} us")
        started = time.perf_counter()
        checked = store.verify_all()
        print(f"verify_all: {checked} values in {time.perf_counter() - started:.1f} s")
    finally:
        store.close()
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
