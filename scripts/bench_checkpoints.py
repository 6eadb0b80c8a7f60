"""Benchmark what checkpoints cost a node and what a witness answers per second.

    .venv/bin/python scripts/bench_checkpoints.py --blocks 2000 --voters 3

Prints a table:

- per block, what a voter's certifier does for the block alone (sign the block
  hash, verify every other voter's) and with the checkpoint beside it (also
  sign the checkpoint text, verify the others' checkpoint signatures), the two
  interleaved in one run, and their ratio;
- verifying a served checkpoint note (strict majority of the voters);
- a witness's add-checkpoint (parse, verify the log's signatures, a
  consistency proof, cosign, one fsynced LevelDB write) on a temporary
  LevelDB, requests per second.

Timings depend on the machine and its load; the ratio is the number to read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ledger.blocks import quorum_size  # noqa: E402
from ledger.checkpoint import Checkpoint, verify_checkpoint  # noqa: E402
from ledger.keys import BLOCK_DOMAIN, public_key, sign, verify  # noqa: E402
from ledger.merkle_log import MerkleLog  # noqa: E402
from ledger.signed_note import Note, VerifierKey, b64std, sign_note  # noqa: E402
from ledger.store import LevelDBStore, MemoryStore, Overlay  # noqa: E402
from node.config import WitnessedLog  # noqa: E402
from node.witness import Witness  # noqa: E402

ORIGIN = "minutebook/bench/0011223344556677"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--voters", type=int, default=3)
    args = parser.parse_args()
    if args.blocks < 1 or args.voters < 1:
        parser.error("--blocks and --voters must be at least 1")
    seeds = [bytes([i + 1]) * 32 for i in range(args.voters)]
    keys = [public_key(s) for s in seeds]
    vkeys = [VerifierKey.of(ORIGIN, k) for k in keys]
    log = MerkleLog(Overlay(MemoryStore()))

    block_only, with_checkpoint = [], []
    for height in range(1, args.blocks + 1):
        log.append([f"document {height}".encode()])
        block_hash = os.urandom(32)
        text = Checkpoint(origin=ORIGIN, size=log.size, root_hash=log.root()).text
        body = text.encode()
        others = [sign(s, BLOCK_DOMAIN, block_hash) for s in seeds[1:]]
        other_notes = [sign_note(text, ORIGIN, s).signature for s in seeds[1:]]
        started = time.perf_counter()
        sign(seeds[0], BLOCK_DOMAIN, block_hash)
        for k, sig in zip(keys[1:], others):
            verify(k, BLOCK_DOMAIN, block_hash, sig)
        block_only.append(time.perf_counter() - started)
        started = time.perf_counter()
        sign(seeds[0], BLOCK_DOMAIN, block_hash)
        sign_note(text, ORIGIN, seeds[0])
        for k, sig, note_sig in zip(keys[1:], others, other_notes):
            verify(k, BLOCK_DOMAIN, block_hash, sig)
            verify(k, b"", body, note_sig)
        with_checkpoint.append(time.perf_counter() - started)

    text = Checkpoint(origin=ORIGIN, size=log.size, root_hash=log.root()).text
    note = Note(text=text, signatures=tuple(sign_note(text, ORIGIN, s) for s in seeds)).to_bytes()
    verify_times = []
    for _ in range(max(100, args.blocks // 10)):
        started = time.perf_counter()
        verify_checkpoint(note, vkeys, origin=ORIGIN)
        verify_times.append(time.perf_counter() - started)

    folder = tempfile.mkdtemp(prefix="bench-witness-")
    try:
        store = LevelDBStore(os.path.join(folder, "witness"))
        witness = Witness("bench/witness", bytes([99]) * 32,
                          [WitnessedLog(origin=ORIGIN, keys=tuple(vkeys), signatures=quorum_size(len(vkeys)))], store)
        wlog = MerkleLog(Overlay(MemoryStore()))
        old = 0
        answered = []
        for i in range(max(50, args.blocks // 20)):
            wlog.append([f"leaf {i}".encode()] * 10)
            size = wlog.size
            text = Checkpoint(origin=ORIGIN, size=size, root_hash=wlog.root()).text
            cp = Note(text=text, signatures=tuple(sign_note(text, ORIGIN, s) for s in seeds)).to_bytes()
            proof = wlog.consistency_proof(old, size) if old else []
            request = f"old {old}\n".encode() + b"".join(b64std(h).encode() + b"\n" for h in proof) + b"\n" + cp
            started = time.perf_counter()
            witness.add_checkpoint(request)
            answered.append(time.perf_counter() - started)
            old = size
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    median = statistics.median
    print(f"{'what':58} {'median':>12}")
    print(f"{'a voter per block: block signature only':58} {median(block_only) * 1e6:9.1f} us")
    print(f"{'a voter per block: block and checkpoint signatures':58} {median(with_checkpoint) * 1e6:9.1f} us")
    print(f"{'  ratio (same run, interleaved)':58} {median(with_checkpoint) / median(block_only):9.2f} x")
    print(f"{f'verify a checkpoint note ({args.voters} voters)':58} {median(verify_times) * 1e6:9.1f} us")
    print(f"{'witness add-checkpoint (fsynced LevelDB)':58} {median(answered) * 1e3:9.2f} ms "
          f"({1 / median(answered):.0f}/s)")


if __name__ == "__main__":
    main()
