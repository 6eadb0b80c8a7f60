"""A multi-process test cluster: keys, genesis and node configs in a tmp dir; real node processes.

``Cluster(tmp_path, voters=3)`` writes, from ``tests/ledger/factory.py``'s
sample organisation, a genesis whose nodes listen on free 127.0.0.1 ports, one
key file and one ``node.toml`` per node, and starts each node with
``python -m node --config ...`` (``start``). Every ``Popen`` is tracked;
``close()`` kills them all (the ``cluster`` fixture calls it even when a test
fails). ``add_node`` makes the files of a node that is NOT in genesis (a
learner to be added by a ``node`` document, or an impostor).

Talking to nodes: ``status(node)``, ``submit(node, envelope, wait)``,
``get(node, path)`` use httpx with short timeouts; ``wait_for(predicate)``
polls. Reads are signed (client/signing.py) as the root unit's inspector,
whose scope reads every record (and outlives any node being removed);
``metric`` signs as the node asked, since /metrics is for node keys.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx

from client.signing import RequestSigner
from ledger.jsonfmt import b64e
from ledger.keys import KeyFile, public_key, write_key_file
from tests.ledger.factory import Org, make_org
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]

# Cells the load generators and cluster tests write minutes for (all in make_org's sample organisation).
CELLS = ["central/p1/k1/s1", "central/p1/k1/s2", "central/p1/k2/s1", "central/p2/k1/s1"]


@dataclass
class NodeFiles:
    node_id: str
    seed: bytes
    peer_port: int
    api_port: int
    config: Path
    data_dir: Path
    log: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def peer_addr(self) -> str:
        return f"127.0.0.1:{self.peer_port}"


class Cluster:
    def __init__(self, root: Path, *, voters: int = 3, tick_ms: int = 100, election_ticks: int = 10,
                 max_documents: int = 500, linger_ms: int = 0, snapshot_every: int = 10_000, seed: int = 7) -> None:
        self.root = Path(root)
        self.raft = {"tick_ms": tick_ms, "election_ticks": election_ticks, "heartbeat_ticks": 1,
                     "snapshot_every": snapshot_every}
        self.blocks = {"max_documents": max_documents, "max_bytes": 8 << 20, "linger_ms": linger_ms}
        self.org: Org = make_org(seed)
        self.nodes: dict[str, NodeFiles] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        reader = self.org.inspector("central")
        self.reader = KeyFile(id_field="member_id", id=reader, public_key=public_key(self.org.seeds[reader]),
                              seed=self.org.seeds[reader])
        self.http = httpx.Client(timeout=10.0, auth=RequestSigner(self.reader))
        for i in range(1, voters + 1):
            self._files(f"n{i}", hashlib.sha256(f"cluster/{seed}/n{i}".encode()).digest())
        genesis = dict(self.org.genesis)
        genesis["nodes"] = [{"node_id": n.node_id, "public_key": b64e(public_key(n.seed)), "peer_addr": n.peer_addr,
                             "role": "voter"} for n in self.nodes.values()]
        self.genesis = genesis
        self.genesis_path = self.root / "genesis.json"
        import json
        self.genesis_path.write_text(json.dumps(genesis, indent=1), encoding="utf-8")
        for node_id in self.nodes:
            self._write_config(node_id)

    # ------------------------------------------------------------- files

    def _files(self, node_id: str, seed: bytes) -> NodeFiles:
        (self.root / "keys").mkdir(parents=True, exist_ok=True)
        files = NodeFiles(node_id=node_id, seed=seed, peer_port=free_port(), api_port=free_port(),
                          config=self.root / f"{node_id}.toml", data_dir=self.root / "data" / node_id,
                          log=self.root / f"{node_id}.log")
        write_key_file(self.root / "keys" / f"{node_id}.json", id_field="node_id", id=node_id, seed=seed)
        self.nodes[node_id] = files
        return files

    def _write_config(self, node_id: str) -> None:
        files = self.nodes[node_id]
        lines = [f'node_id = "{node_id}"', f'key_file = "keys/{node_id}.json"', 'genesis = "genesis.json"',
                 f'data_dir = "data/{node_id}"', f'peer_listen = "{files.peer_addr}"',
                 f'api_listen = "127.0.0.1:{files.api_port}"', ""]
        for other in self.nodes.values():
            if other.node_id != node_id:
                lines += [f"[peers.{other.node_id}]", f'peer_addr = "{other.peer_addr}"',
                          f'api_url = "{other.api_url}"', ""]
        for name, section in (("raft", self.raft), ("blocks", self.blocks)):
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in section.items()]
            lines.append("")
        files.config.write_text("\n".join(lines), encoding="utf-8")

    def add_node(self, node_id: str, seed: bytes | None = None) -> NodeFiles:
        """Files for a node outside genesis; existing configs learn its addresses (restart to apply)."""
        files = self._files(node_id, seed or hashlib.sha256(f"cluster/extra/{node_id}".encode()).digest())
        for other in self.nodes:
            self._write_config(other)
        return files

    def node_document(self, action: str, node_id: str, role: str = "learner") -> bytes:
        """A ``node`` document (signed by the root unit's secretary) adding or removing `node_id`."""
        body: dict[str, Any] = {"action": action, "node_id": node_id}
        if action == "add":
            files = self.nodes[node_id]
            body.update(public_key=public_key(files.seed), peer_addr=files.peer_addr, role=role)
        return self.org.envelope("node", "central", body, [self.org.secretary("central")]).to_bytes()

    # ------------------------------------------------------------- processes

    def start(self, node_id: str, *, via_cli: bool = False, module: str = "node") -> subprocess.Popen:
        """Start `node_id` with ``python -m node`` (or ``minutebook node start`` with `via_cli`, or
        ``python -m <module>``: a test's wrapper that changes something, then runs the node)."""
        files = self.nodes[node_id]
        command = ["-m", "client.cli", "node", "start"] if via_cli else ["-m", module]
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        log = open(files.log, "ab")
        proc = subprocess.Popen([sys.executable, *command, "--config", str(files.config)], cwd=self.root,
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.procs[node_id] = proc
        return proc

    def start_all(self, *, via_cli: bool = False, module: str = "node") -> None:
        for node_id in self.nodes:
            self.start(node_id, via_cli=via_cli, module=module)

    def kill(self, node_id: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(node_id)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=20)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.http.close()

    def log_tail(self, node_id: str, lines: int = 40) -> str:
        try:
            return "\n".join(self.nodes[node_id].log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ------------------------------------------------------------- HTTP

    def get(self, node_id: str, path: str, **kwargs) -> httpx.Response:
        return self.http.get(self.nodes[node_id].api_url + path, **kwargs)

    def log_size(self, node_id: str) -> int | None:
        """The node's log size, or None while it does not answer (still starting, say)."""
        try:
            response = self.get(node_id, "/v1/tree-head", timeout=2.0)
        except httpx.HTTPError:
            return None
        return response.json()["log_size"] if response.status_code == 200 else None

    def status(self, node_id: str) -> dict | None:
        try:
            response = self.get(node_id, "/v1/status", timeout=2.0)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def submit(self, node_id: str, envelope: bytes, *, wait: bool = False, timeout: float = 30.0,
               client: httpx.Client | None = None) -> httpx.Response:
        params = {"wait": "committed", "timeout": str(timeout)} if wait else {}
        return (client or self.http).post(self.nodes[node_id].api_url + "/v1/documents", params=params,
                                          content=envelope, headers={"content-type": "application/msgpack"},
                                          timeout=timeout + 15.0)

    def leader(self, among: list[str] | None = None) -> tuple[str, int] | None:
        """(node_id, term) of a node that reports itself leader, or None."""
        for node_id in among or list(self.nodes):
            st = self.status(node_id) if self.procs.get(node_id) and self.procs[node_id].poll() is None else None
            if st and st.get("role") == "leader":
                return node_id, st["term"]
        return None

    def wait_for(self, predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            time.sleep(interval)

    def wait_leader(self, timeout: float = 60.0) -> tuple[str, int]:
        # Generous: on a loaded machine starting Python processes alone can take tens of seconds;
        # how fast a leader is elected is scripts/bench_failover.py's business, not a test's.
        return self.wait_for(lambda: self.leader(), timeout, what="a leader")

    def node_signer(self, node_id: str) -> RequestSigner:
        files = self.nodes[node_id]
        return RequestSigner(KeyFile(id_field="node_id", id=node_id, public_key=public_key(files.seed), seed=files.seed))

    def metric(self, node_id: str, name: str) -> float:
        text = self.get(node_id, "/metrics", auth=self.node_signer(node_id)).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                head, _, value = line.rpartition(" ")
                if head == name or head.startswith(name + "{"):
                    total += float(value)
        return total

    def all_blocks(self, node_id: str) -> list[dict]:
        """Every block of `node_id` (hash and certificate) in height order."""
        height = self.status(node_id)["height"]
        out: list[dict] = []
        start = 1
        while start <= height:
            page = self.get(node_id, "/v1/blocks", params={"from": start, "limit": 100}).json()["blocks"]
            out.extend(page)
            start += 100
        return out[:height]


class Load:
    """A steady stream of submissions: `threads` threads each sign minutes for a random cell
    and submit them with ``?wait=committed`` to a random live node, until :meth:`stop`.
    ``acked`` lists the doc ids some node acknowledged (2xx: committed and certified);
    ``refused`` counts the other answers by HTTP status. Use as a context manager."""

    def __init__(self, cluster: Cluster, cells: list[str], *, threads: int = 4, seed: int = 0) -> None:
        import random
        import threading

        self.cluster = cluster
        self.cells = cells
        self.acked: list[str] = []
        self.refused: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(random.Random(seed * 100 + i),), daemon=True)
                         for i in range(threads)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, rng) -> None:
        cluster = self.cluster
        with httpx.Client() as client:
            while not self._stop.is_set():
                with self._lock:  # the org's document maker is not thread-safe
                    envelope = cluster.org.minutes(rng.choice(self.cells))
                alive = [n for n, p in cluster.procs.items() if p.poll() is None]
                if not alive:
                    time.sleep(0.1)
                    continue
                try:
                    response = cluster.submit(rng.choice(alive), envelope.to_bytes(), wait=True, timeout=20,
                                              client=client)
                except httpx.HTTPError:
                    continue
                with self._lock:
                    if 200 <= response.status_code < 300:
                        self.acked.append(envelope.doc_id)
                    else:
                        self.refused[response.status_code] = self.refused.get(response.status_code, 0) + 1
                if not 200 <= response.status_code < 300:
                    time.sleep(0.05)
