"""What users meet on a real cluster, measured against the machine's own limit.

    .venv/bin/python scripts/bench_cluster.py [--json out.json] [--seconds 10] [--rates 100,200,500,1000]
    .venv/bin/python scripts/bench_cluster.py --smoke            # CI: a few seconds; asserts nothing about speed
    .venv/bin/python scripts/bench_cluster.py --soak 600         # + RSS of each node over 10 min at 70% of saturation
    .venv/bin/python scripts/bench_cluster.py --profile DIR      # + py-spy on every node during saturation

One run, one table (and the same numbers as JSON with ``--json``). The
cluster is tests/node/cluster.py's: ``--nodes`` real node processes on
loopback, LevelDB with fsync, default block settings. Documents are
pre-signed two-signature minutes (about 900 bytes), made by worker processes
before the clock starts. The client is a raw asyncio HTTP/1.1 client in this
process (no HTTP library in the way); its connections are spread round-robin
over every node, so (n-1)/n of submissions enter at a follower.

Phases, in this order:

1. **Ed25519 ceiling**: pynacl verifications per second on one core over the
   documents' own signatures, measured in this run with the cluster idle.
   CPU ceiling = cores / (nodes x signatures per document x verify time): no
   cluster of this shape can commit faster on this machine, since every node
   verifies every signature once.
2. **Open loop** at each of ``--rates`` for ``--seconds``: request i is sent at
   t0 + i/rate whatever happened to the others, with ``?wait=committed``;
   latency is counted from that *scheduled* time, so a stall is not hidden by
   the client slowing down. p50/p90/p99/max of 200 answers, errors by status,
   and how long the load took to be answered (10 s of load answered in 10.0 s
   is sustained; in 16 s is not).
3. **Closed-loop saturation**: ``--connections`` connections each send their
   next plain submission (202) as soon as the last is answered; then the same
   with the batch endpoint (``--batch`` envelopes per request). Committed
   docs/s = documents / time until the leader's log holds them all; as a
   percentage of the CPU ceiling.
4. With ``--soak S``: open loop at 70% of the plain saturation rate for S
   seconds (plain submissions, signed on the fly by worker processes), RSS of
   every node sampled every 10 s; growth = last sample / first sample after
   the first minute.

For every phase: leader changes (the sum over nodes of the change in
``minutebook_leader_changes``; 0 means no node saw a new leader) and the CPU
milliseconds every node process spent per committed document (from /proc: on
a busy machine this, not the wall clock, says what a change bought), and
from them "CPU-bound %": nodes x signatures x verify time / the nodes' CPU
per document, the share of the ceiling the cluster would reach if it had the
cores to itself and nothing but CPU limited it. Peak RSS per node (VmHWM) at
the end.

Timing is for this script's table only; tests assert nothing about speed
(``--smoke`` checks that every acknowledged document is committed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgpack  # noqa: E402

from bench_ledger import ed25519_per_second  # noqa: E402
from tests.node.cluster import CELLS, Cluster  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------- documents


def _sign_chunk(args: tuple[int, int, int]) -> list[bytes]:
    """`count` two-signature minutes from the cluster's organisation (seed `seed`), numbered from
    `start` so that no two workers make the same document (meeting ids and nonces differ)."""
    seed, start, count = args
    from tests.ledger.factory import make_org

    org = make_org(seed)
    org.counter[0] = start
    out = [org.minutes(CELLS[i % len(CELLS)]).to_bytes() for i in range(count)]
    if org.counter[0] > start + _numbers(count):
        raise RuntimeError(f"{count} minutes took {org.counter[0] - start} numbers, more than reserved")
    return out


def _numbers(count: int) -> int:
    """The factory numbers `count` minutes take: two each (the meeting id and the nonce), and a
    margin. A chunk that reserved fewer would repeat the next chunk's meeting ids, and the node
    rightly answers those 409 (the soak once counted 75,552)."""
    return 2 * count + 10


class Documents:
    """Pre-signed envelopes, made by worker processes; ``take(n)`` hands out fresh ones."""

    def __init__(self, seed: int, workers: int = 2) -> None:
        self.seed = seed
        self.next = 1_000_000
        self.pool = multiprocessing.get_context("spawn").Pool(workers)
        self.workers = workers

    def take(self, count: int, chunk: int = 2000) -> list[bytes]:
        jobs = []
        for first in range(0, count, chunk):
            n = min(chunk, count - first)
            jobs.append((self.seed, self.next, n))
            self.next += _numbers(n)
        out: list[bytes] = []
        for part in self.pool.imap(_sign_chunk, jobs):
            out.extend(part)
        return out

    def stream(self, chunk: int = 2000):
        """An endless iterator of chunks of fresh envelopes, made ahead by the workers."""

        def jobs():
            while True:
                yield (self.seed, self.next, chunk)
                self.next += _numbers(chunk)

        return self.pool.imap(_sign_chunk, jobs(), chunksize=1)

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


def verify_cpu_seconds(envelopes: list[bytes], count: int = 3000) -> float:
    """CPU seconds (this process's, not the wall clock) of one Ed25519 verification over the
    documents' own signatures: comparable with the nodes' CPU time however busy the machine."""
    import nacl.signing

    from ledger.documents import Envelope
    from ledger.keys import DOC_DOMAIN

    work = []
    for data in envelopes[:200]:
        env = Envelope.from_bytes(data)
        work += [(nacl.signing.VerifyKey(s.key), DOC_DOMAIN + env.doc.canonical, s.sig) for s in env.sigs]
    started = time.process_time()
    for i in range(count):
        key, message, sig = work[i % len(work)]
        key.verify(message, sig)
    return (time.process_time() - started) / count


# ----------------------------------------------------------------- raw HTTP/1.1


class Connection:
    """One keep-alive HTTP/1.1 connection; ``request`` sends and reads one exchange."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        return cls(reader, writer)

    async def request(self, method: str, target: str, body: bytes = b"",
                      content_type: str = "application/msgpack") -> tuple[int, bytes, bool]:
        """(status, body, keep) -- keep is False when the server closes the connection."""
        head = (f"{method} {target} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, keep = 0, True
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        data = await self.reader.readexactly(length) if length else b""
        return status, data, keep

    def close(self) -> None:
        self.writer.close()


class Client:
    """Connections to every node; request i goes to node i mod n (round robin)."""

    def __init__(self, urls: list[str]) -> None:
        self.addrs = []
        for url in urls:
            host, _, port = url.removeprefix("http://").rpartition(":")
            self.addrs.append((host, int(port)))
        self.idle: list[list[Connection]] = [[] for _ in urls]

    async def call(self, node: int, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        idle = self.idle[node]
        conn = idle.pop() if idle else await Connection.open(*self.addrs[node])
        try:
            status, data, keep = await conn.request(method, target, body)
        except BaseException:
            conn.close()
            raise
        if keep:
            idle.append(conn)
        else:
            conn.close()
        return status, data

    def close(self) -> None:
        for idle in self.idle:
            for conn in idle:
                conn.close()
            idle.clear()


# ----------------------------------------------------------------- measuring


def percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


@dataclass
class Phase:
    name: str
    offered: str
    documents: int
    ok: int = 0
    errors: dict = field(default_factory=dict)
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    load_s: float = 0.0  # how long the load was meant to take (open loop) or took to send (closed loop)
    answered_s: float = 0.0  # until the last answer
    committed_s: float | None = None  # until the leader's log held every document (saturation)
    committed_per_s: float | None = None
    ceiling_pct: float | None = None
    leader_changes: int = 0
    cpu_ms_per_doc: dict = field(default_factory=dict)
    cpu_bound_pct: float | None = None  # % of the ceiling the nodes' CPU per document allows (see render)

    def latencies(self, samples: list[float]) -> None:
        for name, q in (("p50_ms", .5), ("p90_ms", .9), ("p99_ms", .99), ("max_ms", 1.0)):
            v = percentile(samples, q)
            setattr(self, name, None if v is None else round(v * 1000, 1))


class Watch:
    """Per-node CPU time, leader-change counters and RSS, read from /proc and /metrics."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def cpu(self) -> dict[str, float]:
        out = {}
        for node_id, proc in self.cluster.procs.items():
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[node_id] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return out

    def _read(self, what, attempts: int = 10):
        """`what()`, retried: a node under full load may answer its own metrics slowly."""
        import httpx

        for attempt in range(attempts):
            try:
                return what()
            except (httpx.HTTPError, ValueError, KeyError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5)

    def leader_changes(self) -> float:
        return sum(self._read(lambda: self.cluster.metric(n, "minutebook_leader_changes_total"))
                   for n in self.cluster.nodes)

    def memory(self, key: str = "VmRSS") -> dict[str, int]:
        out = {}
        for node_id, proc in self.cluster.procs.items():
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    out[node_id] = int(line.split()[1]) * 1024
        return out

    def log_size(self, leader: str) -> int:
        return self._read(lambda: self.cluster.get(leader, "/v1/tree-head", timeout=30).json()["log_size"])

    def begin(self) -> tuple[dict, float]:
        return self.cpu(), self.leader_changes()

    def end(self, phase: Phase, started: tuple[dict, float], committed: int, work_ms: float) -> None:
        """`work_ms`: the ceiling's CPU per document (nodes x signatures x verify time), in ms."""
        cpu0, changes0 = started
        cpu1 = self.cpu()
        phase.leader_changes = int(round(self.leader_changes() - changes0))
        phase.cpu_ms_per_doc = {n: round((cpu1[n] - cpu0[n]) * 1000 / max(1, committed), 3) for n in cpu1}
        total = sum(phase.cpu_ms_per_doc.values())
        phase.cpu_bound_pct = round(100 * work_ms / total, 1) if total > 0 else None


async def open_loop(client: Client, envelopes: list[bytes], rate: float, *, wait: bool = True,
                    timeout: float = 60.0) -> tuple[list[float], dict, float, float]:
    """Send envelope i at t0 + i/rate; latencies from the scheduled time. Returns
    (latencies of 2xx, errors by status, intended load seconds, seconds until the last answer)."""
    loop = asyncio.get_running_loop()
    target = f"/v1/documents?wait=committed&timeout={timeout}" if wait else "/v1/documents"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    nodes = len(client.addrs)

    async def one(i: int, at: float) -> None:
        try:
            status, _ = await client.call(i % nodes, "POST", target, envelopes[i])
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        if 200 <= status < 300:
            latencies.append(loop.time() - at)
        else:
            errors[str(status)] = errors.get(str(status), 0) + 1

    t0 = loop.time() + 0.1
    tasks = []
    for i in range(len(envelopes)):
        at = t0 + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(i, at)))
    await asyncio.gather(*tasks)
    return latencies, errors, len(envelopes) / rate, loop.time() - t0


async def closed_loop(client: Client, items: list[bytes], connections: int, target: str,
                      per_item: int = 1) -> tuple[list[float], dict, int, float]:
    """`connections` workers send the next item as soon as the last is answered. Returns
    (latencies of 2xx, errors by status, documents answered 2xx, seconds)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    ok = [0]
    queue = list(reversed(items))
    nodes = len(client.addrs)

    async def worker(k: int) -> None:
        node = k % nodes
        while queue:
            item = queue.pop()
            sent = loop.time()
            try:
                status, data = await client.call(node, "POST", target, item)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            if 200 <= status < 300:
                latencies.append(loop.time() - sent)
                if per_item == 1:
                    ok[0] += 1
                else:
                    results = json.loads(data)["results"]
                    ok[0] += sum(r["status"] != "error" for r in results)
                    for r in results:
                        if r["status"] == "error":
                            errors[str(r["http_status"])] = errors.get(str(r["http_status"]), 0) + 1
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
                if status == 503:
                    queue.append(item)  # back-pressure: send it again after a pause
                    await asyncio.sleep(0.05)

    started = loop.time()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return latencies, errors, ok[0], loop.time() - started


def wait_log(watch: Watch, leader: str, size: int, timeout: float = 600.0) -> float:
    deadline = time.monotonic() + timeout
    while watch.log_size(leader) < size:
        if time.monotonic() > deadline:
            raise SystemExit(f"the log did not reach {size} documents within {timeout:.0f} s")
        time.sleep(0.02)
    return time.monotonic()


# ----------------------------------------------------------------- profiling


def start_profiles(cluster: Cluster, directory: Path, seconds: int, phase: str, gil: bool) -> list[subprocess.Popen]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([py_spy, "record", "--pid", str(proc.pid), "--duration", str(seconds), "--rate", "200",
                              "--format", "raw", "--threads", "--nonblocking", "-o", str(directory / f"{phase}-{node}.txt")]
                             + (["--gil"] if gil else []),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for node, proc in cluster.procs.items()]


def top_frames(path: Path, count: int = 15) -> list[tuple[str, float, float]]:
    """(frame, % of samples with it on top, % with it anywhere) from py-spy's raw (collapsed) output."""
    own: dict[str, int] = {}
    anywhere: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith("thread ") and not f.startswith("process ")]
        if not frames:
            continue
        n_i = int(n)
        total += n_i
        own[frames[-1]] = own.get(frames[-1], 0) + n_i
        for f in set(frames):
            anywhere[f] = anywhere.get(f, 0) + n_i
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:count]
    return [(f, 100 * n / max(1, total), 100 * anywhere[f] / max(1, total)) for f, n in ranked]


# ----------------------------------------------------------------- the run


def render(report: dict) -> str:
    lines = [f"machine: {report['machine']}; {report['nodes']} nodes; Ed25519 {report['verify_per_s']:,.0f} "
             f"verifies/s on one core; CPU ceiling {report['ceiling_per_s']:,.0f} docs/s "
             f"({report['cores']} cores / ({report['nodes']} nodes x {report['sigs_per_doc']} sigs x "
             f"{1e6 / report['verify_per_s']:.1f} us))", "",
             "| phase | offered | answered | p50 ms | p90 ms | p99 ms | max ms | load s | answered s | committed/s "
             "| % ceiling | errors | leader changes | node CPU ms/doc | CPU-bound % |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in report["phases"]:
        cpu = " ".join(f"{n}:{v:.2f}" for n, v in sorted(p["cpu_ms_per_doc"].items()))
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(p["errors"].items())) or "none"
        fmt = lambda v, spec=".1f": "" if v is None else format(v, spec)  # noqa: E731
        lines.append(f"| {p['name']} | {p['offered']} | {p['ok']}/{p['documents']} | {fmt(p['p50_ms'])} | "
                     f"{fmt(p['p90_ms'])} | {fmt(p['p99_ms'])} | {fmt(p['max_ms'])} | {p['load_s']:.1f} | "
                     f"{p['answered_s']:.1f} | {fmt(p['committed_per_s'], ',.0f')} | {fmt(p['ceiling_pct'])} | "
                     f"{errors} | {p['leader_changes']} | {cpu} | {fmt(p['cpu_bound_pct'])} |")
    lines.append("")
    lines.append("CPU-bound %: the share of the ceiling that the nodes' CPU per committed document would allow "
                 f"with the cores to themselves: nodes x sigs x {report['verify_cpu_us']:.0f} us (one verify's CPU "
                 "time, this run) / the nodes' CPU per document, the client's CPU left out. It says what a "
                 "change buys however busy the machine.")
    lines.append("peak RSS (VmHWM): " + ", ".join(f"{n} {v / 2**20:.0f} MiB" for n, v in
                                                  sorted(report["peak_rss"].items())))
    if report.get("soak"):
        s = report["soak"]
        lines.append(f"soak: {s['seconds']} s at {s['rate']:.0f} docs/s; RSS growth after the first minute: " +
                     ", ".join(f"{n} {v:+.1f}%" for n, v in sorted(s["growth_pct"].items())))
    return "\n".join(lines)


async def run(args: argparse.Namespace, cluster: Cluster, docs: Documents) -> dict:
    watch = Watch(cluster)
    leader, _ = cluster.wait_leader()
    cluster.wait_for(lambda: all((cluster.status(n) or {}).get("leader") == leader for n in cluster.nodes), 30,
                     what="every node to know the leader")
    urls = [cluster.nodes[n].api_url for n in sorted(cluster.nodes)]
    client = Client(urls)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    print("signing documents ...", file=sys.stderr)
    sample = docs.take(500)
    cores = os.cpu_count() or 1
    verify = ed25519_per_second(sample, seconds=2.0 if not args.smoke else 0.5)
    sigs = 2
    ceiling = cores * verify / (len(urls) * sigs)
    verify_cpu = verify_cpu_seconds(sample)
    work_ms = 1000 * len(urls) * sigs * verify_cpu  # CPU per document that no cluster of this shape can avoid
    phases: list[Phase] = []

    # warm up: connections to every node, first blocks
    latencies, errors, _, _ = await open_loop(client, sample[:60], 100.0)

    for rate in rates:
        envelopes = docs.take(int(rate * args.seconds))
        phase = Phase(name=f"open loop, wait=committed", offered=f"{rate:.0f} docs/s", documents=len(envelopes))
        print(f"open loop at {rate:.0f}/s ...", file=sys.stderr)
        started = watch.begin()
        latencies, errors, phase.load_s, phase.answered_s = await open_loop(client, envelopes, rate)
        phase.ok, phase.errors = len(latencies), errors
        phase.latencies(latencies)
        watch.end(phase, started, phase.ok, work_ms)
        phases.append(phase)

    for label, per in (("plain 202", 1), (f"batch of {args.batch}", args.batch)):
        if per == 0:
            continue  # --batch 0: no batch phase (a build without the batch route)
        envelopes = docs.take(args.saturation_docs)
        base = watch.log_size(leader)
        if per == 1:
            items, target = envelopes, "/v1/documents"
        else:
            items = [msgpack.packb(envelopes[i:i + per], use_bin_type=True) for i in range(0, len(envelopes), per)]
            target = "/v1/documents:batch"
        phase = Phase(name=f"saturation, {label}", offered=f"{args.connections} connections", documents=len(envelopes))
        print(f"saturation, {label} ...", file=sys.stderr)
        profiling = []
        if args.profile:
            profiling = start_profiles(cluster, Path(args.profile), max(5, int(args.saturation_docs / 2000)),
                                       "plain" if per == 1 else "batch", args.profile_gil)
        started = watch.begin()
        t0 = time.monotonic()
        latencies, errors, phase.ok, phase.load_s = await closed_loop(
            client, items, args.connections if per == 1 else max(2, args.connections // 16), target, per)
        phase.answered_s = phase.load_s
        done = await asyncio.to_thread(wait_log, watch, leader, base + phase.ok)
        phase.committed_s = round(done - t0, 2)
        phase.committed_per_s = round(phase.ok / (done - t0), 1)
        phase.ceiling_pct = round(100 * phase.committed_per_s / ceiling, 1)
        phase.errors = errors
        phase.latencies(latencies)
        watch.end(phase, started, phase.ok, work_ms)
        phases.append(phase)
        for p in profiling:
            p.wait(timeout=120)

    soak = None
    if args.soak:
        plain = next(p for p in phases if p.name.startswith("saturation, plain"))
        rate = 0.7 * (plain.committed_per_s or 100)
        print(f"soak at {rate:.0f}/s for {args.soak} s ...", file=sys.stderr)
        samples: list[tuple[float, dict]] = []
        stream = docs.stream(chunk=max(100, int(rate * 10)))
        loop = asyncio.get_running_loop()
        t_end = loop.time() + args.soak
        started = watch.begin()
        phase = Phase(name="soak, plain 202", offered=f"{rate:.0f} docs/s", documents=0)
        all_latencies: list[float] = []
        while loop.time() < t_end:
            chunk = next(stream)
            latencies, errors, _, _ = await open_loop(client, chunk, rate, wait=False)
            phase.documents += len(chunk)
            phase.ok += len(latencies)
            all_latencies.extend(latencies)
            for k, v in errors.items():
                phase.errors[k] = phase.errors.get(k, 0) + v
            samples.append((args.soak - (t_end - loop.time()), watch.memory()))
        phase.load_s = phase.answered_s = float(args.soak)
        phase.latencies(all_latencies)
        watch.end(phase, started, phase.ok, work_ms)
        phases.append(phase)
        after = [m for t, m in samples if t >= 60] or [samples[-1][1]]
        growth = {n: 100 * (after[-1][n] / after[0][n] - 1) for n in after[0]}
        soak = {"seconds": args.soak, "rate": rate, "growth_pct": growth,
                "rss_samples": [{"t": round(t, 1), **m} for t, m in samples]}

    client.close()
    return {
        "machine": f"{platform.node()} {platform.machine()}, {cores} cores, {platform.python_implementation()} "
                   f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the end",
        "cores": cores, "nodes": len(urls), "sigs_per_doc": sigs, "doc_bytes": sum(map(len, sample)) // len(sample),
        "verify_per_s": round(verify), "ceiling_per_s": round(ceiling), "verify_cpu_us": round(verify_cpu * 1e6, 1),
        "phases": [asdict(p) for p in phases], "peak_rss": watch.memory("VmHWM"), "soak": soak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rates", default="100,200,500,1000", help="open-loop rates, docs/s (comma separated)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each open-loop phase")
    parser.add_argument("--connections", type=int, default=64, help="closed-loop connections (plain)")
    parser.add_argument("--saturation-docs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=250, help="envelopes per batch request (0: no batch phase)")
    parser.add_argument("--soak", type=int, default=0, help="seconds of soak at 70%% of saturation (RSS)")
    parser.add_argument("--profile", default="", help="directory for py-spy profiles of the saturation phases")
    parser.add_argument("--profile-gil", action="store_true",
                        help="profile only samples holding the GIL: the Python code's CPU (Ed25519 and fsync run "
                             "without it)")
    parser.add_argument("--json", default="", help="write the report here")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI: checks it works, not how fast")
    args = parser.parse_args()
    if args.smoke:
        args.rates, args.seconds, args.saturation_docs, args.connections, args.batch = "20", 1.0, 300, 8, 100
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        cluster = Cluster(Path(tmp), voters=args.nodes)
        docs = Documents(seed=7)
        try:
            cluster.start_all()
            report = asyncio.run(run(args, cluster, docs))
        finally:
            docs.close()
            cluster.close()
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.profile:
        for path in sorted(Path(args.profile).glob("*.txt")):
            print(f"\ntop frames (self) of {path.stem}:")
            for frame, own, anywhere in top_frames(path):
                print(f"  {own:5.1f}% self {anywhere:5.1f}% total  {frame}")
    if args.smoke:
        bad = [p for p in report["phases"] if p["ok"] != p["documents"]]
        if bad:
            print(f"smoke: not every document was committed: {[(p['name'], p['ok'], p['documents']) for p in bad]}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
