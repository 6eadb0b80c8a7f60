"""Benchmark the ledger: apply throughput against the Ed25519 ceiling, proof
latency at 1M leaves, receipt verification, bytes on disk.

    .venv/bin/python scripts/bench_ledger.py [--docs 4000] [--leaves 1000000]

Measured in one run, one core: pynacl ``VerifyKey.verify`` per second over
the applied documents' own signatures (the ceiling: a two-signature document
needs two verifications, and nothing can apply it faster); documents
validated and applied per second through ``Ledger.apply_block`` over
LevelDBStore in blocks of 500 (1 and 2 signatures); inclusion and consistency
proof generation p50/p99 on a MerkleLog of --leaves leaves over LevelDBStore
(built by appending leaf-hash batches directly); ``client.verify`` receipts per
second; bytes on disk per document against raw envelope bytes. Medians of
--repeat runs.
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nacl.signing  # noqa: E402

from ledger.keys import DOC_DOMAIN  # noqa: E402

from client.verify import verify_receipt  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.merkle import leaf_hash  # noqa: E402
from ledger.merkle_log import MerkleLog  # noqa: E402
from ledger.store import LevelDBStore, Overlay  # noqa: E402
from tests.ledger.ledger_builder import certify, drive, sample_world  # noqa: E402


def ed25519_per_second(envelopes: list[bytes], seconds: float = 1.0) -> float:
    """pynacl verifications per second over the signatures of `envelopes` themselves
    (same keys, same message lengths as the documents applied), one core."""
    from ledger.documents import Envelope

    work = []
    for data in envelopes[:500]:
        env = Envelope.from_bytes(data)
        signed = DOC_DOMAIN + env.doc.canonical
        work += [(nacl.signing.VerifyKey(s.key), signed, s.sig) for s in env.sigs]
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for verify_key, signed, sig in work:
            verify_key.verify(signed, sig)
        count += len(work)
    return count / (time.perf_counter() - start)


def du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def apply_rate(world, envelopes: list[bytes], block_size: int, directory: str) -> tuple[float, Ledger, LevelDBStore, str]:
    path = tempfile.mkdtemp(dir=directory)
    store = LevelDBStore(path)
    ledger = Ledger(store, world.genesis)
    start = time.perf_counter()
    for i in range(0, len(envelopes), block_size):
        drive(ledger, envelopes[i : i + block_size])
    return len(envelopes) / (time.perf_counter() - start), ledger, store, path


def percentile(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="bench_ledger_")
    rows: list[tuple[str, str, str]] = []
    try:
        world = sample_world()
        by_sigs = {sigs: [world.make_doc(i, sigs) for i in range(args.docs)] for sigs in (1, 2)}
        verifs = statistics.median(ed25519_per_second(by_sigs[2]) for _ in range(args.repeat))
        rows.append(("Ed25519 verifications/s (pynacl, 1 core)", f"{verifs:,.0f}",
                     "ceiling: the applied documents' own signatures, nothing else"))
        for sigs in (1, 2):
            envelopes = by_sigs[sigs]
            rates = []
            for _ in range(args.repeat):
                rate, ledger, store, path = apply_rate(world, envelopes, args.block, directory)
                rates.append(rate)
                if sigs == 2:
                    last = (ledger, store, path)
                else:
                    store.close()
            rate = statistics.median(rates)
            ceiling = verifs / sigs
            goal = ">= 60%" if sigs == 2 else ""
            rows.append((f"docs/s applied, {sigs} sig, blocks of {args.block}", f"{rate:,.0f}",
                         f"{rate / ceiling:.0%} of ceiling {ceiling:,.0f} {goal}"))
        ledger, store, path = last
        raw = sum(len(e) for e in envelopes)
        store.compact() if hasattr(store, "compact") else None
        store.close()
        on_disk = du(path)
        rows.append(("bytes on disk per document (2 sig)", f"{on_disk / args.docs:,.0f}",
                     f"{on_disk / raw:.2f}x raw envelope bytes ({raw / args.docs:,.0f} B/doc); goal < 2x"))
        store = LevelDBStore(path)
        ledger = Ledger(store, world.genesis)
        for h in range(1, ledger.height + 1):
            certify(ledger, h, ["n1", "n2"])
        doc_ids = [d["doc_id"] for h in range(1, ledger.height + 1) for d in ledger.block(h)["documents"]]
        receipts = [ledger.receipt(d) for d in random.Random(1).sample(doc_ids, min(200, len(doc_ids)))]
        start = time.perf_counter()
        for r in receipts:
            verify_receipt(r, world.genesis)
        rows.append(("receipts verified/s (client.verify)", f"{len(receipts) / (time.perf_counter() - start):,.0f}",
                     "envelope sigs + 2 certificate sigs each"))
        store.close()

        path = os.path.join(directory, "log")
        store = LevelDBStore(path)
        batch = 10_000
        start = time.perf_counter()
        for first in range(0, args.leaves, batch):
            overlay = Overlay(store)
            MerkleLog(overlay).append_leaf_hashes(
                [leaf_hash(b"leaf %d" % i) for i in range(first, min(args.leaves, first + batch))])
            overlay.commit()
        build = time.perf_counter() - start
        log = MerkleLog(store)
        rng = random.Random(2)
        n = log.size
        incl, cons = [], []
        for _ in range(args.queries):
            i = rng.randrange(n)
            t = time.perf_counter()
            log.inclusion_proof(i, n)
            incl.append(time.perf_counter() - t)
            m = rng.randrange(1, n)
            t = time.perf_counter()
            log.consistency_proof(m, n)
            cons.append(time.perf_counter() - t)
        for name, s in (("inclusion proof", incl), ("consistency proof", cons)):
            rows.append((f"{name} at {n:,} leaves", f"p50 {percentile(s, .5) * 1e3:.3f} ms",
                         f"p99 {percentile(s, .99) * 1e3:.3f} ms; goal p99 < 1 ms (log built in {build:.0f} s)"))
        store.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print_table(rows, "median")


def print_table(rows: list[tuple[str, str, str]], value_heading: str = "value") -> None:
    """The benchmarks' table: measure, value, notes."""
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {value_heading:>16}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
