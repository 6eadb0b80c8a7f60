"""Measure the node's I/O floor: frames/s over a loopback TLS peer link, and `save` fsync latency.

    .venv/bin/python scripts/bench_node_io.py [--frames 20000] [--payload 200] [--saves 300]

Both numbers bound what Raft can do: every replicated entry crosses a peer link
and every Ready waits for one `LevelDBLogStorage.save` before its messages leave.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.peer_tls import public_key_of_seed  # noqa: E402
from consensus import ConfState, Entry, EntryType, HardState  # noqa: E402
from node.raft_storage import LevelDBLogStorage  # noqa: E402
from node.transport import PeerTransport  # noqa: E402


async def bench_link(frames: int, payload: int) -> None:
    seeds = {name: hashlib.sha256(name.encode()).digest() for name in ("n1", "n2")}
    registry = {name: public_key_of_seed(seed) for name, seed in seeds.items()}
    received = 0
    done = asyncio.Event()

    def on_message(peer: str, frame: dict) -> None:
        nonlocal received
        received += 1
        if received == frames:
            done.set()

    n2 = PeerTransport("n2", seeds["n2"], "127.0.0.1:0", {}, lambda: registry, on_message)
    await n2.start()
    n1 = PeerTransport("n1", seeds["n1"], "127.0.0.1:0", {"n2": n2.listen_address}, lambda: registry, lambda p, f: None,
                       queue_frames=frames)
    await n1.start()
    try:
        n1.send("n2", {"kind": "warmup"})
        while not n1.connected_peers().get("n2", {}).get("outbound"):
            await asyncio.sleep(0.01)
        received = 0
        body = {"kind": "raft", "payload": {"entries": [b"x" * payload]}}
        started = time.perf_counter()
        for i in range(frames):
            n1.send("n2", body)
            if i % 1000 == 999:
                await asyncio.sleep(0)  # let the writer run, as the runtime's loop would
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - started
        print(f"link: {frames} frames of ~{payload} B in {elapsed:.2f} s = {frames / elapsed:,.0f} frames/s, "
              f"{n1.stats.bytes_sent / elapsed / 1e6:.1f} MB/s (sender and receiver in one process, one core)")
    finally:
        await n1.stop()
        await n2.stop()


def bench_save(saves: int) -> None:
    with tempfile.TemporaryDirectory(dir=".") as directory:
        storage = LevelDBLogStorage(str(Path(directory) / "raft"), ConfState(voters=("n1",)))
        latencies = []
        for batch in range(1, saves + 1):
            entries = [Entry(term=1, index=batch, type=EntryType.NORMAL, data=b"y" * 1024)]
            started = time.perf_counter()
            storage.save(HardState(term=1, vote="n1", commit=batch - 1), entries)
            latencies.append((time.perf_counter() - started) * 1000)
        storage.close()
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"save (1 KiB entry + hard state, fsync): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--payload", type=int, default=200)
    parser.add_argument("--saves", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(bench_link(args.frames, args.payload))
    bench_save(args.saves)


if __name__ == "__main__":
    main()
