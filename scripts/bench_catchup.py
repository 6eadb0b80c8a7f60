"""How fast a node that has nothing catches up, and how soon a node holding many documents is ready.

    .venv/bin/python scripts/bench_catchup.py [--docs 100000] [--start-docs 1000000] [--dir D]

1. **Catch-up rate**, in one process, both ways in the same run: a source
   ledger (LevelDB, fsync) of ``--docs`` two-signature minutes in certified
   blocks of ``--block`` documents; a fresh ledger fetches them through
   node/catchup.py exactly as a learner does (``fetch_blocks`` replies of up to
   64 blocks, each block applied only under a majority's certificate), served
   by the source's own ``on_fetch_blocks``. Once with the fast path (the reply
   carries the certified header: signatures not verified again) and once
   without (every signature verified), alternating ``--repeat`` times; the
   peer link is left out (tests/node/test_cluster.py's learner test crosses it).
2. **Ready after start**: a one-voter node whose ledger holds ``--start-docs``
   documents is started as a process (``python -m node``); the time from the
   start until it answers a receipt (``GET /v1/documents/{id}/receipt`` 200)
   and until it is leader again (reads signed as the harness's reader). Building
   that ledger takes long; ``--dir D`` keeps it, and ``--ready-only --dir D``
   times the start of the node kept there again (after a change, say).

    .venv/bin/python scripts/bench_catchup.py --docs 2000 --start-docs 1000000 --dir /tmp/1m
    .venv/bin/python scripts/bench_catchup.py --ready-only --dir /tmp/1m
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from bench_cluster import Documents  # noqa: E402
from bench_ledger import print_table  # noqa: E402
from client.signing import RequestSigner  # noqa: E402
from ledger.blocks import BlockProposal  # noqa: E402
from ledger.keys import BLOCK_DOMAIN, KeyFile, public_key, sign  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.store import LevelDBStore  # noqa: E402
from node.catchup import CatchUp, SnapshotTarget  # noqa: E402
from node.metrics import Metrics  # noqa: E402
from tests.ledger.factory import make_org  # noqa: E402
from tests.node.cluster import REPO, Cluster  # noqa: E402

T0 = 1_760_000_000_000


def build(ledger: Ledger, docs: Documents, count: int, block: int, seeds: dict[str, bytes], progress: str) -> None:
    """Apply `count` fresh documents in certified blocks of `block`."""
    done = 0
    started = time.monotonic()
    while done < count:
        envelopes = docs.take(min(block * 10, count - done))
        for first in range(0, len(envelopes), block):
            proposal = BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                     timestamp=T0 + ledger.height, proposer="n1", term=1,
                                     envelopes=tuple(envelopes[first:first + block]))
            applied = ledger.apply_block(proposal)
            for node, seed in seeds.items():
                ledger.add_block_signature(applied.header.height, node, sign(seed, BLOCK_DOMAIN, applied.header.hash))
        done += len(envelopes)
        rate = done / (time.monotonic() - started)
        print(f"\r{progress}: {done:,}/{count:,} documents ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def catch_up(source: Ledger, genesis: dict, directory: str, *, fast: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for a fresh LevelDB ledger to catch up on
    `source` through CatchUp. CPU time says what it costs whatever else the machine runs."""
    path = tempfile.mkdtemp(dir=directory)
    store = LevelDBStore(path)
    fresh = Ledger(store, genesis)
    replies: list[dict] = []
    server = CatchUp(source, Metrics("source"), send=lambda peer, frame: replies.append(frame), peers=lambda: [],
                     apply_fetched=None)
    client = CatchUp(fresh, Metrics("fresh"), send=lambda *a: None, peers=lambda: [],
                     apply_fetched=lambda proposal, certificate, vouch, certified=None: fresh.apply_block(
                         proposal, vouch=vouch, certified=certified))
    client.target = SnapshotTarget(source.height, source.head_hash, 1)
    started, cpu = time.perf_counter(), time.process_time()
    while fresh.height < source.height:
        server.on_fetch_blocks("fresh", {"from_height": fresh.height + 1, "limit": client.batch})
        frame = replies.pop()
        if not fast:
            for item in frame["items"]:
                item.pop("header")
        if not client._apply_reply("source", frame):
            raise SystemExit(f"catch-up refused a reply at height {fresh.height + 1}")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if fresh.head() != source.head():
        raise SystemExit("caught up to another head")
    store.close()
    shutil.rmtree(path, ignore_errors=True)
    return seconds, cpu


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reader_key() -> KeyFile:
    """The member the cluster harness reads as (tests/node/cluster.py): reads are signed."""
    org = make_org(7)
    reader = org.inspector("central")
    return KeyFile(id_field="member_id", id=reader, public_key=public_key(org.seeds[reader]), seed=org.seeds[reader])


def last_doc_id(ledger_dir: Path, genesis: dict) -> str:
    ledger = Ledger(LevelDBStore(str(ledger_dir)), genesis)
    try:
        return ledger.block(ledger.height)["documents"][-1]["doc_id"]
    finally:
        ledger.store.close()


def node_env() -> dict[str, str]:
    """The environment of the node processes: bytecode cached (in the bench's own directory), as
    an installed node has it; an environment with PYTHONDONTWRITEBYTECODE would otherwise
    compile every module from source at every start (a fifth of the start on this machine)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
               PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "minutebook-bench-pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def ready_after_start(node_root: Path, doc_id: str, timeout: float = 60.0) -> tuple[float, float, float]:
    """(seconds until a receipt is answered, the node's CPU seconds by then, seconds until leader)
    from starting the process of the one-voter node whose files are in `node_root` (n1.toml)."""
    config = node_root / "n1.toml"
    port = next(line.split(":")[-1].strip().strip('"') for line in config.read_text().splitlines()
                if line.startswith("api_listen"))
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with open(node_root / "n1.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "node", "--config", str(config)], cwd=node_root,
                                stdout=log, stderr=subprocess.STDOUT, env=node_env())
    cpu = 0.0
    receipt_at = leader_at = None
    try:
        with httpx.Client(timeout=1.0, auth=RequestSigner(reader_key())) as http:
            while time.monotonic() - started < timeout and (receipt_at is None or leader_at is None):
                try:
                    if receipt_at is None and http.get(f"{url}/v1/documents/{doc_id}/receipt").status_code == 200:
                        receipt_at = time.monotonic() - started
                        cpu = cpu_seconds(proc.pid)
                    if leader_at is None and http.get(f"{url}/v1/status").json().get("role") == "leader":
                        leader_at = time.monotonic() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait(timeout=20)
    if receipt_at is None or leader_at is None:
        tail = "\n".join((node_root / "n1.log").read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"the node was not ready within {timeout:.0f} s:\n{tail}")
    return receipt_at, cpu, leader_at


def ready_rows(node_root: Path, genesis: dict, starts: int = 2) -> list[tuple[str, str, str]]:
    ledger_dir = node_root / "data" / "n1" / "ledger"
    doc_id = last_doc_id(ledger_dir, genesis)
    held = Ledger(LevelDBStore(str(ledger_dir)), genesis)
    count = held.head().log_size
    held.store.close()
    rows = []
    imports = [sys.executable, "-c", "import node.serve, node.api"]
    subprocess.run(imports, cwd=REPO, check=True, env=node_env())  # bytecode written once, as at install
    for attempt in range(starts):
        receipt_s, cpu, leader_s = ready_after_start(node_root, doc_id)
        rows.append((f"node holding {count:,} documents, start #{attempt + 1}", f"{receipt_s:.2f} s",
                     f"to answer a receipt (goal < 2 s), {cpu:.2f} CPU-s by then; leader after {leader_s:.2f} s"))
    started = time.monotonic()
    before = os.times()
    subprocess.run(imports, cwd=REPO, check=True, env=node_env())
    after = os.times()
    rows.append(("python start and imports alone", f"{time.monotonic() - started:.2f} s",
                 f"python -c 'import node.serve, node.api'; "
                 f"{after.children_user + after.children_system - before.children_user - before.children_system:.2f}"
                 f" CPU-s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents to catch up on")
    parser.add_argument("--block", type=int, default=2000, help="documents per block")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--start-docs", type=int, default=1_000_000, help="documents of the node started (0: skip)")
    parser.add_argument("--dir", default="", help="build (and keep) the ledgers in this new directory")
    parser.add_argument("--ready-only", action="store_true",
                        help="only start the node kept in --dir by an earlier run (its documents stay) and time it")
    args = parser.parse_args()
    if args.ready_only:
        node_root = Path(args.dir) / "node"
        if not args.dir or not (node_root / "n1.toml").exists():
            raise SystemExit("--ready-only needs --dir of an earlier run with --start-docs")
        print_table(ready_rows(node_root, json.loads((node_root / "genesis.json").read_text())))
        return
    if args.dir and Path(args.dir).exists():
        raise SystemExit(f"--dir {args.dir} exists; give a new directory")
    directory = args.dir or tempfile.mkdtemp(prefix="bench-catchup-")
    Path(directory).mkdir(parents=True, exist_ok=True)
    docs = Documents(seed=7)
    rows = []
    try:
        cluster = Cluster(Path(directory) / "node", voters=1)
        seeds = {"n1": cluster.nodes["n1"].seed}
        source_path = os.path.join(directory, "source")
        source = Ledger(LevelDBStore(source_path), cluster.genesis)
        build(source, docs, args.docs, args.block, seeds, "source ledger")
        count = source.head().log_size
        times = {True: [], False: []}
        for _ in range(args.repeat):
            for fast in (True, False):
                times[fast].append(catch_up(source, cluster.genesis, directory, fast=fast))
        for fast in (True, False):
            wall, cpu = min(times[fast])
            rows.append((f"catch-up from empty, {'certified headers (fast path)' if fast else 'every signature verified'}",
                         f"{count / wall:,.0f} docs/s", f"{count:,} docs in {wall:.2f} s (best of {args.repeat}); "
                                                         f"{count / cpu:,.0f} docs per CPU-second; goal >= 20,000/s"))
        source.store.close()
        if args.start_docs:
            node_ledger = cluster.nodes["n1"].data_dir / "ledger"
            node_ledger.parent.mkdir(parents=True, exist_ok=True)
            ledger = Ledger(LevelDBStore(str(node_ledger)), cluster.genesis)
            build(ledger, docs, args.start_docs, args.block, seeds, "node ledger")
            ledger.store.close()
            rows += ready_rows(cluster.root, cluster.genesis)
        cluster.close()
    finally:
        docs.close()
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
