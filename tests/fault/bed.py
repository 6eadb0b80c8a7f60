"""The fault bed: a real cluster in network namespaces, concurrent clients, nemeses, a checker.

Theory of operation
-------------------
:func:`run_schedule` runs one schedule, all of it drawn from one seed:

1. **Cluster.** 3 or 5 node processes, each in its own network namespace
   (tests/fault/netbed.py), its data directory on its own small tmpfs, its
   inbound peer port behind a relay in its namespace (tests/fault/relay.py)
   that can make links slow or lossy, and its wall clock readable from an
   offset file (node/clock.py's fault injection).
2. **Clients.** Threads that sign minutes and submit them to random nodes,
   half plain (202 ``pending``: journaled on the leader), half
   ``?wait=committed`` (200: committed and certified); every 2xx (and a 409
   for a retry) is an *acknowledgement*, recorded with its doc id. A refused
   or unanswered submission is retried with the very same bytes on another
   node, as the SDK does (so retries must never make duplicates). A monitor
   records certified tree heads from random nodes.
3. **Nemeses**, one after another with quiet gaps, each chosen at random:
   ``partition`` (a random minority cut off), ``isolate-leader``, ``bridge``
   (two sides that hear each other only through one node), ``one-way`` (a's
   packets to b dropped), ``link-down``, ``slow`` and ``lossy`` links,
   ``kill`` (-9, then restart), ``pause`` (SIGSTOP for seconds, SIGCONT),
   ``clock`` (a node's clock jumped 10 minutes forward or back, then
   restored), ``disk-full`` (a node's tmpfs filled; the node must stop
   cleanly, exit 75, and catch up once space returns and it restarts),
   ``learner`` (a new node added by a ``node`` document mid-run; with
   ``kill-snapshot`` it is killed -9 while it installs its snapshot and
   catches up).
4. **Heal, then check.** Every fault is undone and every node restarted; the
   clients stop. The checker then requires: every node at the same height
   within a bound; identical block hashes at every height (**forks**: heights
   where two nodes differ); every acknowledged document accepted on every
   node (**lost**: acknowledged but not accepted somewhere) and accepted only
   once in the chain (**duplicated**); every node's chain passes
   ``minutebook audit``'s replay, which checks every certificate against the
   voters at its height (**bad certificates**: nodes whose audit fails); every
   pair of observed certified tree heads consistent (**inconsistent heads**:
   consecutive sizes whose RFC 9162 consistency proof does not verify, or
   equal sizes with different roots; consistency is transitive, so
   consecutive pairs cover all pairs); a ``?wait=committed`` submission
   succeeds within ``RECOVERY_BOUND`` seconds of healing (**recovery**); no
   traceback in any node's log; a node whose disk filled exited 75 (or never
   needed to write) and caught up.

Everything a schedule creates (namespaces, links, mounts, processes) is
removed by :meth:`FaultCluster.close`, also when a check fails; then the
nodes' data directories are first copied off their tmpfs into the (now
plain) directories the configs name, so a finding can be read from the stores
(``ledger.store.read_only_copy``) as well as from the logs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from tests.disk import fill
from tests.node.cluster import CELLS, REPO, Cluster, NodeFiles

from .netbed import NetBed

__all__ = ["NEMESES", "Row", "FaultCluster", "run_schedule", "format_table"]

PEER_PORT, RELAY_PORT, API_PORT = 7100, 7101, 8100
TMPFS_BYTES = 96 << 20
STOP_BOUND = 30.0  # seconds a node stopping on a refused write may take (uvicorn's graceful shutdown is 10)
RECOVERY_BOUND = 45.0  # seconds from healing to a committed and certified document
CONVERGE_BOUND = 120.0
LATE_BOUND = 60.0  # seconds after healing for every 202 (journaled) document to commit

NEMESES = ("partition", "isolate-leader", "bridge", "one-way", "link-down", "slow", "lossy", "kill", "pause",
           "clock", "disk-full", "learner", "kill-snapshot")


@dataclass
class FaultNodeFiles(NodeFiles):
    ip: str = ""

    @property
    def api_url(self) -> str:
        return f"http://{self.ip}:{API_PORT}"

    @property
    def peer_addr(self) -> str:
        return f"{self.ip}:{RELAY_PORT}"


class FaultCluster(Cluster):
    """tests/node/cluster.py's Cluster, with each node in its own namespace on its own tmpfs."""

    def __init__(self, root: Path, bed: NetBed, *, voters: int, **kwargs: Any) -> None:
        self.bed = bed
        self.relays: dict[str, subprocess.Popen] = {}
        self.mounts: list[Path] = []
        self.exits: dict[str, list[int]] = {}
        self.keep_data = False  # close(): move each data directory off its tmpfs first (a schedule's findings)
        self.org_lock = threading.Lock()  # the sample org's document maker is not thread-safe
        super().__init__(root, voters=voters, **kwargs)

    def minutes(self, cell: str) -> Any:
        with self.org_lock:
            return self.org.minutes(cell)

    def node_document(self, action: str, node_id: str, role: str = "learner") -> bytes:
        with self.org_lock:
            return super().node_document(action, node_id, role)

    # -- files: addresses in the namespaces, data on tmpfs ---------------------

    def _files(self, node_id: str, seed: bytes) -> NodeFiles:
        (self.root / "keys").mkdir(parents=True, exist_ok=True)
        ip = self.bed.ips.get(node_id) or self.bed.add(node_id)
        files = FaultNodeFiles(node_id=node_id, seed=seed, peer_port=PEER_PORT, api_port=API_PORT,
                               config=self.root / f"{node_id}.toml", data_dir=self.root / "data" / node_id,
                               log=self.root / f"{node_id}.log", ip=ip)
        from ledger.keys import write_key_file

        write_key_file(self.root / "keys" / f"{node_id}.json", id_field="node_id", id=node_id, seed=seed)
        files.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(files.data_dir)],
                       check=True, timeout=30)
        self.mounts.append(files.data_dir)
        self.clock_file(node_id).write_text("0")
        self.link_file(node_id).write_text("{}")
        self.nodes[node_id] = files
        return files

    def clock_file(self, node_id: str) -> Path:
        return self.root / f"clock-{node_id}"

    def link_file(self, node_id: str) -> Path:
        return self.root / f"links-{node_id}.json"

    def _write_config(self, node_id: str) -> None:
        files = self.nodes[node_id]
        lines = [f'node_id = "{node_id}"', f'key_file = "keys/{node_id}.json"', 'genesis = "genesis.json"',
                 f'data_dir = "data/{node_id}"', f'peer_listen = "127.0.0.1:{PEER_PORT}"',
                 f'api_listen = "{files.ip}:{API_PORT}"', ""]
        for other in self.nodes.values():
            if other.node_id != node_id:
                lines += [f"[peers.{other.node_id}]", f'peer_addr = "{other.peer_addr}"',
                          f'api_url = "{other.api_url}"', ""]
        for name, section in (("raft", self.raft), ("blocks", self.blocks)):
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in section.items()]
            lines.append("")
        files.config.write_text("\n".join(lines), encoding="utf-8")

    # -- processes --------------------------------------------------------------

    def start(self, node_id: str, *, via_cli: bool = False, module: str = "node") -> subprocess.Popen:
        files = self.nodes[node_id]
        prefix = self.bed.exec_prefix(node_id)
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
                   MINUTEBOOK_CLOCK_OFFSET_FILE=str(self.clock_file(node_id)))
        if node_id not in self.relays or self.relays[node_id].poll() is not None:
            self.relays[node_id] = subprocess.Popen(
                [*prefix, sys.executable, "-m", "tests.fault.relay", "--listen", files.peer_addr,
                 "--target", f"127.0.0.1:{PEER_PORT}", "--control", str(self.link_file(node_id))],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(self.root / f"relay-{node_id}.log", "ab"))
        log = open(files.log, "ab")
        proc = subprocess.Popen([*prefix, sys.executable, "-m", module, "--config", str(files.config)], cwd=self.root,
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.procs[node_id] = proc
        return proc

    def alive(self, node_id: str) -> bool:
        proc = self.procs.get(node_id)
        return proc is not None and proc.poll() is None

    def reap(self, node_id: str) -> None:
        """Record the exit status of a node process that ended."""
        proc = self.procs.get(node_id)
        if proc is not None and proc.poll() is not None and not getattr(proc, "_reaped", False):
            proc._reaped = True  # type: ignore[attr-defined]
            self.exits.setdefault(node_id, []).append(proc.returncode)

    def close(self) -> None:
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)
                except OSError:
                    pass
        super().close()
        for proc in self.relays.values():
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for mount in reversed(self.mounts):
            kept = mount.with_name(f".{mount.name}-kept")
            if self.keep_data:  # the processes are gone: copy the stores as they were left (not the ballast)
                try:
                    shutil.copytree(mount, kept, ignore=shutil.ignore_patterns("ballast"), dirs_exist_ok=True)
                except OSError as exc:  # keep cleaning up; the logs are kept anyway
                    print(f"cannot keep {mount}: {exc}", file=sys.stderr)
            subprocess.run(["umount", "-l", str(mount)], check=False, timeout=30, capture_output=True)
            if kept.is_dir():  # back where the configs point, in the now empty mount point
                shutil.copytree(kept, mount, dirs_exist_ok=True)
                shutil.rmtree(kept, ignore_errors=True)
        self.mounts.clear()


# =============================================================================== clients


class Clients:
    """Submitting threads and a tree-head monitor (module doc, step 2)."""

    def __init__(self, cluster: FaultCluster, rng: random.Random, threads: int = 4) -> None:
        self.cluster = cluster
        self.acked: dict[str, str] = {}  # doc_id -> "pending" | "committed" | "already_committed"
        self.attempts = 0
        self.refused: dict[str, int] = {}
        self.heads: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        seeds = [rng.randrange(1 << 30) for _ in range(threads + 1)]
        self._threads = [threading.Thread(target=self._submit, args=(random.Random(s), i % 2 == 1), daemon=True)
                         for i, s in enumerate(seeds[:threads])]
        self._threads.append(threading.Thread(target=self._monitor, args=(random.Random(seeds[-1]),), daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _nodes(self) -> list[str]:
        return [n for n in self.cluster.nodes if self.cluster.alive(n)]

    def _submit(self, rng: random.Random, wait: bool) -> None:
        cluster = self.cluster
        with httpx.Client(timeout=httpx.Timeout(25.0, connect=3.0)) as client:
            envelope = None
            tries = 0
            while not self._stop.is_set():
                if envelope is None:
                    envelope = cluster.minutes(rng.choice(CELLS))
                    tries = 0
                nodes = self._nodes()
                if not nodes:
                    time.sleep(0.2)
                    continue
                node = rng.choice(nodes)
                params = {"wait": "committed", "timeout": "15"} if wait else {}
                try:
                    r = client.post(cluster.nodes[node].api_url + "/v1/documents", params=params,
                                    content=envelope.to_bytes(), headers={"content-type": "application/msgpack"})
                    status = r.status_code
                    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                except (httpx.HTTPError, ValueError):
                    status, body = 0, {}
                with self._lock:
                    self.attempts += 1
                    if status in (200, 202, 409):
                        self.acked[envelope.doc_id] = body.get("status", "already_committed")
                    else:
                        key = str(status) + (f" {body.get('error')}" if body.get("error") else "")
                        self.refused[key] = self.refused.get(key, 0) + 1
                if status in (200, 202, 409):
                    envelope = None
                    continue
                tries += 1
                if status in (400, 401, 403, 422) or tries > 50:
                    envelope = None  # refused for what it is (should not happen) or given up on
                time.sleep(min(0.05 * tries, 0.5))

    def _monitor(self, rng: random.Random) -> None:
        from client.signing import RequestSigner

        with httpx.Client(timeout=3.0, auth=RequestSigner(self.cluster.reader)) as client:  # as an auditor reads
            while not self._stop.is_set():
                nodes = self._nodes()
                if nodes:
                    node = rng.choice(nodes)
                    try:
                        head = client.get(self.cluster.nodes[node].api_url + "/v1/tree-head",
                                          params={"certified": "true"}).json()
                        if head.get("log_size"):
                            with self._lock:
                                self.heads.append({**head, "node": node})
                    except (httpx.HTTPError, ValueError):
                        pass
                self._stop.wait(0.3)


# =============================================================================== nemeses


class Nemesis:
    """One fault: ``begin()`` applies it, ``end()`` undoes it."""

    name = "?"

    def __init__(self, bed: "Schedule") -> None:
        self.s = bed
        self.label = self.name

    def begin(self) -> None: ...

    def end(self) -> None: ...


class Partition(Nemesis):
    name = "partition"

    def begin(self) -> None:
        nodes = sorted(self.s.cluster.nodes)
        side = set(self.s.rng.sample(nodes, self.s.rng.randint(1, (len(nodes) - 1) // 2)))
        self.label = f"partition {'+'.join(sorted(side))}"
        self.s.bed.partition(side)

    def end(self) -> None:
        self.s.bed.heal()


class IsolateLeader(Partition):
    name = "isolate-leader"

    def begin(self) -> None:
        leader = self.s.leader() or self.s.rng.choice(sorted(self.s.cluster.nodes))
        self.label = f"isolate-leader {leader}"
        self.s.bed.partition({leader})


class Bridge(Partition):
    name = "bridge"

    def begin(self) -> None:
        nodes = sorted(self.s.cluster.nodes)
        self.s.rng.shuffle(nodes)
        middle, rest = nodes[0], nodes[1:]
        left, right = set(rest[: len(rest) // 2]), set(rest[len(rest) // 2:])
        for a in left:
            for b in right:
                self.s.bed.cut(a, b)
                self.s.bed.cut(b, a)
        self.label = f"bridge {'+'.join(sorted(left))}|{middle}|{'+'.join(sorted(right))}"


class OneWay(Partition):
    name = "one-way"

    def begin(self) -> None:
        a, b = self.s.rng.sample(sorted(self.s.cluster.nodes), 2)
        if self.s.rng.random() < 0.5 and (leader := self.s.leader()):
            a = leader
            b = self.s.rng.choice([n for n in sorted(self.s.cluster.nodes) if n != a])
        self.label = f"one-way {a}->{b}"
        self.s.bed.cut(a, b)


class LinkDown(Nemesis):
    name = "link-down"

    def begin(self) -> None:
        self.node = self.s.rng.choice(sorted(self.s.cluster.nodes))
        self.label = f"link-down {self.node}"
        self.s.bed.link(self.node, up=False)

    def end(self) -> None:
        self.s.bed.link(self.node, up=True)


class SlowLinks(Nemesis):
    name = "slow"
    rule = {"delay_ms": 250, "loss": 0.0}

    def begin(self) -> None:
        cluster = self.s.cluster
        self.node = self.s.rng.choice(sorted(cluster.nodes))
        self.label = f"{self.name} {self.node}"
        for other in cluster.nodes:
            rules = {"*": self.rule} if other == self.node else {cluster.nodes[self.node].ip: self.rule}
            cluster.link_file(other).write_text(json.dumps(rules))

    def end(self) -> None:
        for other in self.s.cluster.nodes:
            self.s.cluster.link_file(other).write_text("{}")


class LossyLinks(SlowLinks):
    name = "lossy"
    rule = {"delay_ms": 20, "loss": 0.2}


class Kill(Nemesis):
    name = "kill"

    def begin(self) -> None:
        leader = self.s.leader()
        self.node = leader if leader and self.s.rng.random() < 0.5 else self.s.rng.choice(sorted(self.s.cluster.nodes))
        self.label = f"kill {self.node}{' (leader)' if self.node == leader else ''}"
        self.s.kill9(self.node)

    def end(self) -> None:
        self.s.ensure_running(self.node)


class Pause(Nemesis):
    name = "pause"

    def begin(self) -> None:
        leader = self.s.leader()
        self.node = leader if leader and self.s.rng.random() < 0.5 else self.s.rng.choice(sorted(self.s.cluster.nodes))
        self.label = f"pause {self.node}{' (leader)' if self.node == leader else ''}"
        self.proc = self.s.cluster.procs.get(self.node)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def end(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)


class ClockJump(Nemesis):
    name = "clock"

    def begin(self) -> None:
        leader = self.s.leader()
        self.node = leader if leader and self.s.rng.random() < 0.5 else self.s.rng.choice(sorted(self.s.cluster.nodes))
        offset = self.s.rng.choice([600_000, -600_000])
        self.label = f"clock {self.node} {offset // 1000:+d}s"
        self.s.cluster.clock_file(self.node).write_text(str(offset))

    def end(self) -> None:
        self.s.cluster.clock_file(self.node).write_text("0")


class DiskFull(Nemesis):
    name = "disk-full"

    def begin(self) -> None:
        self.node = self.s.rng.choice(sorted(self.s.cluster.nodes))
        self.label = f"disk-full {self.node}"
        self.ballast = self.s.cluster.nodes[self.node].data_dir / "ballast"
        fill(self.ballast)  # the node's tmpfs, to the last byte
        self.s.disk_full.add(self.node)

    def end(self) -> None:
        proc = self.s.cluster.procs.get(self.node)
        if proc is not None and proc.poll() is not None:
            self.label += f" (it stopped, exit {proc.returncode})"
        else:
            self.label += " (it wrote nothing meanwhile)" if self._quiet() else " (stopping, exit 75 next)"
            if not self._quiet() and proc is not None:
                self.s.stopping[self.node] = proc
        try:
            self.ballast.unlink()
        except OSError:
            pass
        self.s.cluster.reap(self.node)
        self.s.ensure_running(self.node)

    def _quiet(self) -> bool:
        return "refused a write" not in self.s.cluster.nodes[self.node].log.read_text(errors="replace")


class Learner(Nemesis):
    """A node outside genesis added as a learner by a ``node`` document mid-run."""

    name = "learner"
    kill_during_install = False

    def begin(self) -> None:
        cluster = self.s.cluster
        self.node = f"n{len(cluster.nodes) + 1}"
        if self.s.learner_added:  # one per schedule (_pick draws no second; `allowed` may hold nothing else)
            self.node = ""
            self.label = f"{self.name} (skipped: one per schedule)"
            return
        self.s.learner_added = True
        self.kill_during_install = self.kill_during_install or self.s.rng.random() < 0.5
        cluster.add_node(self.node)
        for other in cluster.nodes:  # the others learn its address from the document; configs for restarts
            cluster._write_config(other)
        envelope = cluster.node_document("add", self.node, role="learner")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            leader = self.s.leader()
            if leader:
                r = self.s.post(leader, envelope, wait=True)
                if r is not None and r.status_code in (200, 409):
                    break
            time.sleep(0.5)
        else:
            self.label = f"{self.name} {self.node} (not admitted)"
            return
        cluster.start(self.node)
        self.label = f"{self.name} {self.node}"
        if self.kill_during_install:
            # kill -9 while it is still behind the leader: installing the snapshot, fetching blocks
            target = (cluster.status(self.s.leader() or "n1") or {}).get("height") or 0
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                st = cluster.status(self.node)
                if st is not None and (st.get("catching_up") or st.get("height", 0) < target):
                    self.s.kill9(self.node)
                    self.label += f" killed while catching up (height {st.get('height')} of {target})"
                    time.sleep(0.5)
                    cluster.start(self.node)
                    return
                if st is not None:
                    break
                time.sleep(0.02)
            self.label += " (caught up before a kill)"

    def end(self) -> None:
        if self.node:
            self.s.ensure_running(self.node)


class KillDuringSnapshot(Learner):
    name = "kill-snapshot"
    kill_during_install = True


NEMESIS_CLASSES: dict[str, type[Nemesis]] = {c.name: c for c in (
    Partition, IsolateLeader, Bridge, OneWay, LinkDown, SlowLinks, LossyLinks, Kill, Pause, ClockJump, DiskFull,
    Learner, KillDuringSnapshot)}


# =============================================================================== a schedule


@dataclass
class Row:
    schedule: int
    seed: int
    nodes: int
    nemeses: list[str] = field(default_factory=list)
    acked: int = 0
    lost: int = 0
    duplicated: int = 0
    forks: int = 0
    bad_certificates: int = 0
    inconsistent_heads: int = 0
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)  # anything wrong that the counts do not show
    info: list[str] = field(default_factory=list)  # what clients were told while faults were on

    @property
    def ok(self) -> bool:
        return (self.lost == self.duplicated == self.forks == self.bad_certificates == self.inconsistent_heads == 0
                and self.recovery_s is not None and not self.notes)


class Schedule:
    def __init__(self, cluster: FaultCluster, bed: NetBed, rng: random.Random) -> None:
        self.cluster = cluster
        self.bed = bed
        self.rng = rng
        self.disk_full: set[str] = set()
        self.stopping: dict[str, subprocess.Popen] = {}  # node -> its process that refused a write, still stopping
        self.learner_added = False
        self.http = httpx.Client(timeout=httpx.Timeout(30.0, connect=3.0))

    def leader(self) -> str | None:
        for node in sorted(self.cluster.nodes):
            if self.cluster.alive(node):
                st = self.cluster.status(node)
                if st and st.get("role") == "leader":
                    return node
        return None

    def post(self, node: str, envelope: bytes, *, wait: bool) -> httpx.Response | None:
        params = {"wait": "committed", "timeout": "20"} if wait else {}
        try:
            return self.http.post(self.cluster.nodes[node].api_url + "/v1/documents", params=params, content=envelope,
                                  headers={"content-type": "application/msgpack"})
        except httpx.HTTPError:
            return None

    def kill9(self, node: str) -> None:
        proc = self.cluster.procs.get(node)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(timeout=20)
            proc._reaped = True  # type: ignore[attr-defined]  (killed on purpose: not an exit to judge)

    def ensure_running(self, node: str) -> None:
        """Start `node` again if it is down, as a supervisor would; a node stopping because its
        disk refused a write (exit 75 next, after its HTTP server's graceful shutdown) is waited
        for first, else it would be left down once it exits."""
        proc = self.cluster.procs.get(node)
        if proc is not None and proc.poll() is None and self.stopping.get(node) is proc:
            proc.send_signal(signal.SIGCONT)
            try:
                proc.wait(timeout=STOP_BOUND)
            except subprocess.TimeoutExpired:
                pass  # still up: the checker's view of its log and exits tells
        if not self.cluster.alive(node):
            self.cluster.reap(node)
            self.cluster.start(node)


def _pick(rng: random.Random, allowed: list[str], nodes: int, *, learner_added: bool) -> str:
    """A nemesis from `allowed`; one learner per schedule (after it, learner nemeses are not drawn)."""
    choices = [n for n in allowed if not (n == "bridge" and nodes < 3)
               and not (learner_added and n in ("learner", "kill-snapshot"))]
    return rng.choice(choices or allowed)


def run_schedule(root: Path, *, schedule: int, seed: int, nodes: int = 3, duration: float = 60.0,
                 nemeses: list[str] | None = None, run: int = 0, log: Callable[[str], None] = print) -> Row:
    """One schedule (module doc); everything it made is gone when it returns."""
    rng = random.Random(seed)
    allowed = list(nemeses or NEMESES)
    row = Row(schedule=schedule, seed=seed, nodes=nodes)
    bed = NetBed(run, [f"n{i}" for i in range(1, nodes + 1)])
    cluster = None
    clients = None
    try:
        cluster = FaultCluster(root, bed, voters=nodes, tick_ms=100, election_ticks=10, snapshot_every=30,
                               linger_ms=20, seed=seed % 1000)
        cluster.start_all()
        cluster.wait_leader(timeout=60)
        s = Schedule(cluster, bed, rng)
        clients = Clients(cluster, rng)
        clients.start()
        ends = time.monotonic() + duration
        time.sleep(min(3.0, duration / 10))
        while time.monotonic() < ends - 4:
            name = _pick(rng, allowed, nodes, learner_added=s.learner_added)
            nemesis = NEMESIS_CLASSES[name](s)
            nemesis.begin()
            log(f"  schedule {schedule}: {nemesis.label}")
            time.sleep(rng.uniform(2.0, min(8.0, max(2.0, ends - time.monotonic() - 3))))
            nemesis.end()
            row.nemeses.append(nemesis.label)
            time.sleep(rng.uniform(1.0, 3.0))
        bed.heal()
        for node in cluster.nodes:
            cluster.clock_file(node).write_text("0")
            cluster.link_file(node).write_text("{}")
            proc = cluster.procs.get(node)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
            s.ensure_running(node)
        healed = time.monotonic()
        row.recovery_s = _recovery(s, healed)
        clients.stop()
        _check(row, s, clients)
    except Exception as exc:  # noqa: BLE001 -- a harness failure is a finding of the schedule too
        row.notes.append(f"harness: {type(exc).__name__}: {exc}")
    finally:
        try:
            if clients is not None:
                clients.stop()
        finally:
            try:
                if cluster is not None:
                    cluster.keep_data = not row.ok
                    cluster.close()
            finally:
                bed.close()
    return row


def _recovery(s: Schedule, healed: float) -> float | None:
    """Seconds from healing until a ``?wait=committed`` submission succeeds (None: not within the bound)."""
    deadline = healed + RECOVERY_BOUND
    while time.monotonic() < deadline:
        envelope = s.cluster.minutes(CELLS[0]).to_bytes()
        node = s.leader() or s.rng.choice(sorted(s.cluster.nodes))
        r = s.post(node, envelope, wait=True)
        if r is not None and r.status_code == 200:
            return round(time.monotonic() - healed, 1)
        time.sleep(0.3)
    return None


# =============================================================================== the checker


def _check(row: Row, s: Schedule, clients: Clients) -> None:
    from client.cli_audit import audit_node
    from client.sdk import Client
    from ledger.merkle import verify_consistency
    from ledger.errors import ProofFailed

    cluster = s.cluster
    row.acked = len(clients.acked)
    nodes = sorted(cluster.nodes)
    # A 202 is a promise the leader journaled: one that a deposed or killed leader still holds is
    # submitted again by it (node/intake.py), which can take a while after the heal. Wait for them.
    deadline = time.monotonic() + LATE_BOUND
    missing = set(clients.acked)
    while missing and time.monotonic() < deadline:
        for doc_id in sorted(missing):
            r = _get(cluster, nodes[0], f"/v1/documents/{doc_id}")
            if r is not None and r.status_code == 200 and r.json().get("status") == "accepted":
                missing.discard(doc_id)
        if missing:
            time.sleep(1.0)
    if missing:
        kinds = sorted({clients.acked[d] for d in missing})
        row.notes.append(f"{len(missing)} acknowledged ({', '.join(kinds)}) not accepted {LATE_BOUND:g} s after "
                         f"healing, e.g. {sorted(missing)[:3]}")
    try:
        cluster.wait_for(lambda: (hs := {(cluster.status(n) or {}).get("height") for n in nodes})
                         and len(hs) == 1 and None not in hs, CONVERGE_BOUND, interval=0.5, what="equal heights")
    except AssertionError as exc:
        heights = {n: (cluster.status(n) or {}).get("height") for n in nodes}
        row.notes.append(f"no convergence: {exc} {heights}")
    # blocks and forks
    blocks = {}
    for node in nodes:
        try:
            blocks[node] = cluster.all_blocks(node)
        except Exception as exc:  # noqa: BLE001
            row.notes.append(f"cannot read {node}'s blocks: {exc}")
    heights = set().union(*[range(1, len(b) + 1) for b in blocks.values()]) if blocks else set()
    for h in sorted(heights):
        hashes = {b[h - 1]["block_hash"] for b in blocks.values() if len(b) >= h}
        row.forks += len(hashes) > 1
    # lost and duplicated
    for node, chain in blocks.items():
        accepted: dict[str, int] = {}
        for block in chain:
            for d in block["documents"]:
                if d["status"] == "accepted" and d["doc_id"]:
                    accepted[d["doc_id"]] = accepted.get(d["doc_id"], 0) + 1
        row.duplicated = max(row.duplicated, sum(1 for c in accepted.values() if c > 1))
        row.lost = max(row.lost, sum(1 for doc_id in clients.acked if doc_id not in accepted))
    # certificates (and everything else the audit replays), per node
    for node in nodes:
        with Client(cluster.nodes[node].api_url, retries=2, timeout=30, key=cluster.reader) as client:
            report = audit_node(client, node, cluster.genesis)
        if report.failure is not None:
            row.bad_certificates += 1
            row.notes.append(str(report.failure))
    # tree heads
    by_size: dict[int, set[str]] = {}
    for head in clients.heads:
        by_size.setdefault(head["log_size"], set()).add(head["log_root"])
    sizes = sorted(by_size)
    row.inconsistent_heads += sum(1 for size in sizes if len(by_size[size]) > 1)
    node = nodes[0]
    for m, n in zip(sizes, sizes[1:]):
        answer = _get(cluster, node, "/v1/proofs/consistency", params={"first": m, "second": n})
        if answer is None or answer.status_code != 200:
            row.notes.append(f"no consistency proof {m} -> {n} from {node}")
            continue
        proof = answer.json()
        try:
            verify_consistency(m, n, bytes.fromhex(next(iter(by_size[m]))), bytes.fromhex(next(iter(by_size[n]))),
                               [bytes.fromhex(h) for h in proof["proof"]])
        except (ProofFailed, KeyError, ValueError):
            row.inconsistent_heads += 1
    # logs and exits
    for node in nodes:
        cluster.reap(node)
        text = cluster.nodes[node].log.read_text(errors="replace")
        tracebacks = text.count("Traceback")
        if tracebacks:
            row.notes.append(f"{node}: {tracebacks} traceback(s) in its log")
        disk_refusal = "No space left on device" in text  # a restart refused, one line, while its disk was full
        bad_exits = [code for code in cluster.exits.get(node, [])
                     if code not in (0, 75, -9) and not (code == 1 and disk_refusal)]
        if bad_exits:
            row.notes.append(f"{node}: exited {bad_exits}")
    if clients.refused:
        refusals = ", ".join(f"{k}: {v}" for k, v in sorted(clients.refused.items()))
        row.info.append(f"{clients.attempts} submissions; refused or unanswered while faulted: {refusals}")


def _get(cluster: FaultCluster, node: str, path: str, **kwargs: Any) -> httpx.Response | None:
    """A GET that answers None when the node cannot be reached (restarting, paused, cut off)."""
    try:
        return cluster.get(node, path, **kwargs)
    except httpx.HTTPError:
        return None


def format_table(rows: list[Row]) -> str:
    head = ("schedule", "seed", "nodes", "acked", "lost", "dup", "forks", "bad certs", "inconsistent heads",
            "recovery s", "nemeses")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(str(v) for v in (
            r.schedule, r.seed, r.nodes, r.acked, r.lost, r.duplicated, r.forks, r.bad_certificates,
            r.inconsistent_heads, "-" if r.recovery_s is None else r.recovery_s, "; ".join(r.nemeses))) + " |")
    return "\n".join(lines)

