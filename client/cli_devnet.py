"""`minutebook init` and `minutebook devnet up | down`: a local cluster in one command.

Layout of a dev cluster directory (DESIGN.md "Formats that outside tools rely on")::

    D/genesis.json          the chain's genesis (units, officers, voter nodes)
    D/cluster.json          {nodes: [{node_id, api_url, peer_addr, data_dir}]}
    D/nodes/nX.toml         each node's config (minutebook node start --config ...)
    D/keys/nX.json          node keys (mode 0600)
    D/keys/members/ID.json  member keys of the sample organisation (mode 0600)
    D/members.json          [{member_id, org, roles, key_file}] (key_file relative to D)
    D/examples/resolution.yaml  a document to try `minutebook submit` with
    D/data/nX/              each node's LevelDB data
    D/logs/nX.log           each node's output while run by `devnet up`
    D/devnet.pid            the `devnet up` supervisor's pid while it runs
    D/loaded.json           written once the sample organisation is fully loaded

`devnet up` is the supervisor: it starts every node as a child process, waits
for a leader, loads the sample organisation through the real HTTP API (once;
a re-run skips it, and an interrupted load resumes because every sample
document is deterministic and a committed one answers 409), prints the URLs,
and on Ctrl-C or SIGTERM stops the children (SIGTERM, wait, then SIGKILL) and
exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from .cli_common import EXIT_CODES_HELP, EXIT_FAILED, EXIT_INPUT, EXIT_UNREACHABLE, cli_errors, fail

__all__ = ["init", "devnet", "init_cluster", "example_document", "COMMANDS"]

DEFAULT_DIR = "devnet"
DEFAULT_BASE_PORT = 8100
PEER_PORT_OFFSET = -1000  # api 8101 -> peer 7101
LEADER_TIMEOUT = 60.0


def _node_ids(count: int) -> list[str]:
    return [f"n{i}" for i in range(1, count + 1)]


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def init_cluster(directory: Path, *, nodes: int = 3, base_port: int = DEFAULT_BASE_PORT, seed: int = 7,
                 now_ms: int | None = None) -> dict:
    """Write keys, genesis.json, node configs and cluster.json into `directory`.

    Returns the cluster object. Refuses a directory that already has a genesis.
    """
    from ledger.keys import generate_seed, public_key, write_key_file
    from ledger.jsonfmt import b64e
    from node.config import NodeConfig, PeerConfig, dump_config

    from .sample_org import SampleOrg

    directory = directory.resolve()
    if (directory / "genesis.json").exists():
        raise fail(f"{directory}/genesis.json exists; this directory is initialised already "
                   "(use another --dir, or delete it to start over)", EXIT_INPUT)
    if not 1 <= nodes <= 9:
        raise fail(f"--nodes: expected 1 to 9, got {nodes}", EXIT_INPUT)
    if not (1024 < base_port + PEER_PORT_OFFSET and base_port + nodes < 65536):
        raise fail(f"--base-port: {base_port} leaves no room for peer ports {base_port + PEER_PORT_OFFSET}+",
                   EXIT_INPUT)
    ids = _node_ids(nodes)
    (directory / "keys").mkdir(parents=True, exist_ok=True)
    node_entries, cluster_nodes = [], []
    for i, node_id in enumerate(ids, start=1):
        seed_bytes = generate_seed()
        write_key_file(directory / "keys" / f"{node_id}.json", id_field="node_id", id=node_id, seed=seed_bytes)
        peer_addr = f"127.0.0.1:{base_port + PEER_PORT_OFFSET + i}"
        api_url = f"http://127.0.0.1:{base_port + i}"
        node_entries.append({"node_id": node_id, "public_key": b64e(public_key(seed_bytes)),
                             "peer_addr": peer_addr, "role": "voter"})
        cluster_nodes.append({"node_id": node_id, "api_url": api_url, "peer_addr": peer_addr,
                              "data_dir": str(directory / "data" / node_id)})
    org = SampleOrg(seed=seed, now_ms=now_ms)
    genesis = org.genesis(node_entries)
    _write_json(directory / "genesis.json", genesis)
    for member in org.genesis_members():
        org.write_key(directory, member)
    (directory / "nodes").mkdir(parents=True, exist_ok=True)
    for i, entry in enumerate(cluster_nodes):
        peers = tuple(PeerConfig(node_id=p["node_id"], peer_addr=p["peer_addr"], api_url=p["api_url"])
                      for p in cluster_nodes if p is not entry)
        cfg = NodeConfig(
            node_id=entry["node_id"],
            key_file=directory / "keys" / f"{entry['node_id']}.json",
            genesis=directory / "genesis.json",
            data_dir=Path(entry["data_dir"]),
            peer_listen=entry["peer_addr"],
            api_listen=entry["api_url"].removeprefix("http://"),
            peers=peers,
        )
        (directory / "nodes" / f"{entry['node_id']}.toml").write_text(dump_config(cfg, relative_to=directory / "nodes"),
                                                                      encoding="utf-8")
    cluster = {"nodes": cluster_nodes}
    _write_json(directory / "cluster.json", cluster)
    _write_json(directory / "members.json", org.members_json(directory))
    (directory / "examples").mkdir(exist_ok=True)
    (directory / "examples" / "resolution.yaml").write_text(org.example_resolution_yaml(), encoding="utf-8")
    return cluster


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--dir", "-d", "directory", default=DEFAULT_DIR, show_default=True, type=click.Path(file_okay=False),
              help="Directory to create the cluster in.")
@click.option("--nodes", "-n", default=3, show_default=True, type=click.IntRange(1, 9), help="Voter nodes.")
@click.option("--base-port", default=DEFAULT_BASE_PORT, show_default=True, type=click.IntRange(2025, 65000),
              help="Node i serves its API on base-port+i and peers on base-port-1000+i.")
@click.option("--seed", default=7, show_default=True, help="Seed of the sample organisation (names, keys).")
@cli_errors
def init(directory: str, nodes: int, base_port: int, seed: int) -> None:
    """Create keys, genesis.json and node configs for a new cluster.

    Writes D/genesis.json (the root unit, its officers and the voter nodes),
    D/cluster.json, D/nodes/nX.toml, node keys under D/keys/ and the sample
    organisation's member keys under D/keys/members/ (listed in
    D/members.json). Start a node with `minutebook node start --config
    D/nodes/n1.toml`, or everything at once with `minutebook devnet up`.

    \b
    Example:
      minutebook init --dir devnet --nodes 3
    """
    cluster = init_cluster(Path(directory), nodes=nodes, base_port=base_port, seed=seed)
    click.echo(f"initialised {directory}: {len(cluster['nodes'])} nodes")
    for n in cluster["nodes"]:
        click.echo(f"  {n['node_id']}  api {n['api_url']}  peer {n['peer_addr']}  config {directory}/nodes/"
                   f"{n['node_id']}.toml")


# -- devnet ------------------------------------------------------------------


@click.group()
def devnet() -> None:
    """Run a local cluster with a sample organisation (for trying things out).

    \b
    Example:
      minutebook devnet up --nodes 3 --dir devnet     # Ctrl-C stops it
      minutebook devnet down --dir devnet             # or from another terminal
    """


def _node_command(config: str) -> list[str]:
    """`minutebook node start --config C` (N2's command) in this interpreter;
    `python -m node --config C` (the same entry point) if the CLI lacks it."""
    from .cli import main

    node = getattr(main, "commands", {}).get("node")
    if node is not None and "start" in getattr(node, "commands", {}):
        return [sys.executable, "-m", "client.cli", "node", "start", "--config", config]
    return [sys.executable, "-m", "node", "--config", config]


class _Supervisor:
    """Child node processes; stops them on SIGINT/SIGTERM."""

    def __init__(self, directory: Path, cluster: dict) -> None:
        self.directory = directory
        self.cluster = cluster
        self.children: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Any] = {}
        self.stopping = False

    def start(self) -> None:
        (self.directory / "logs").mkdir(exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for node in self.cluster["nodes"]:
            node_id = node["node_id"]
            log = open(self.directory / "logs" / f"{node_id}.log", "ab")
            self.logs[node_id] = log
            self.children[node_id] = subprocess.Popen(
                _node_command(str(self.directory / "nodes" / f"{node_id}.toml")),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the children in order
            )

    def dead(self) -> list[str]:
        return [n for n, p in self.children.items() if p.poll() is not None]

    def log_tail(self, node_id: str, lines: int = 8) -> str:
        try:
            text = (self.directory / "logs" / f"{node_id}.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping = True
        for p in self.children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.children.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs.values():
            log.close()


def _wait_for_leader(sup: _Supervisor, timeout: float = LEADER_TIMEOUT) -> str:
    """The api_url of a node that knows a leader; raises with the node logs if none in time."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = sup.dead()
        if dead:
            tails = "\n".join(f"  {n} (exit {sup.children[n].returncode}), last lines of its log:\n{sup.log_tail(n)}"
                              for n in dead)
            raise fail(f"node {', '.join(dead)} exited while starting:\n{tails}", EXIT_FAILED)
        for node in sup.cluster["nodes"]:
            try:
                status = httpx.get(node["api_url"] + "/v1/status", timeout=1.0).json()
            except (httpx.HTTPError, ValueError):
                continue
            if status.get("leader"):
                return node["api_url"]
        time.sleep(0.3)
    raise fail(f"no leader elected within {timeout:.0f}s; see {sup.directory}/logs/", EXIT_UNREACHABLE)


def load_sample(directory: Path, api_url: str, *, concurrency: int = 16, quiet: bool = False) -> dict:
    """Load the sample organisation through the API, phase by phase (each phase
    depends on the previous one being committed). Resumable: see module doc."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ledger.documents import Envelope

    from .sample_org import SampleOrg
    from .sdk import Client, sign_document

    genesis = json.loads((directory / "genesis.json").read_text(encoding="utf-8"))
    org = SampleOrg.from_genesis(genesis)
    phases = org.phases()
    expected = org.expected_refusals()
    total = sum(len(docs) for _, docs in phases)
    counts = {"committed": 0, "already_committed": 0}
    refused: list[str] = []
    refused_as_expected: list[str] = []
    with Client(api_url, timeout=60, retries=8) as client, Progress(
        TextColumn("[bold]loading sample organisation"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[phase]}"), TimeElapsedColumn(), disable=quiet,
    ) as progress:
        task = progress.add_task("load", total=total, phase="")

        def one(item: tuple[dict, list[str]]) -> None:
            from . import errors as api_errors

            from ledger.errors import MinutebookError

            doc, signers = item
            try:
                envelope = sign_document(doc, [(m, org.seed_of(m)) for m in signers])
            except MinutebookError as exc:  # a bug in the sample: report it, load the rest
                refused.append(f"{doc['type']} in {doc['org']}: {exc.message}")
                progress.advance(task)
                return
            doc_id = Envelope.from_bytes(envelope).doc_id
            try:
                result = client.submit(envelope, wait=True, timeout=45)
            except (api_errors.RejectedError, api_errors.NotPermittedError, api_errors.BadSignatureError,
                    api_errors.MalformedRequest) as exc:
                line = f"{doc['type']} in {doc['org']}: {exc.message} ({exc.code})"
                (refused_as_expected if expected.get(doc_id) == exc.code else refused).append(line)
            else:
                counts["committed" if result["status"] != "already_committed" else "already_committed"] += 1
                if doc_id in expected:
                    refused.append(f"{doc['type']} in {doc['org']} was accepted; the sample expects it refused "
                                   f"({expected[doc_id]})")
            progress.advance(task)

        pool = ThreadPoolExecutor(max_workers=concurrency)
        try:
            for name, docs in phases:
                progress.update(task, phase=name)
                list(pool.map(one, docs))
        finally:  # on Ctrl-C: drop what is queued, let the few in flight finish
            pool.shutdown(wait=True, cancel_futures=True)
    return {"documents": total, **counts, "refused": refused, "refused_as_expected": refused_as_expected}


def example_document(directory: Path, unit: str = "central/p1/k1/s1") -> str | None:
    """The id of the first sample minutes of `unit` (sample documents are
    deterministic, so the id is known without asking a node)."""
    from ledger.documents import Document
    from ledger.encoding import normalize

    from .sample_org import SampleOrg

    genesis = json.loads((directory / "genesis.json").read_text(encoding="utf-8"))
    for _, docs in SampleOrg.from_genesis(genesis).phases():
        for doc, _signers in docs:
            if doc["type"] == "minutes" and doc["org"] == unit:
                return Document.from_obj(normalize(dict(doc))).doc_id
    return None


def _print_welcome(directory: Path, cluster: dict) -> None:
    first = cluster["nodes"][0]["api_url"]
    members = json.loads((directory / "members.json").read_text(encoding="utf-8"))
    cell = "central/p1/k1/s1"
    secretary = next((m for m in members if "secretary" in m["roles"] and m["org"] == cell), members[0])
    root = members[0]["org"].split("/")[0]
    root_secretary = next((m for m in members if "secretary" in m["roles"] and m["org"] == root), members[0])
    plain = next((m for m in members if not m["roles"] and m["org"] == cell), secretary)
    node_key = f"{directory}/keys/{cluster['nodes'][0]['node_id']}.json"
    doc_id = example_document(directory, cell)
    click.echo("")
    click.echo("minutebook devnet is running:")
    for n in cluster["nodes"]:
        click.echo(f"  {n['node_id']}  API {n['api_url']}   web pages {n['api_url']}/   API docs {n['api_url']}/docs")
    click.echo("")
    click.echo("Every read of content is a signed request (RFC 9421): --key names whose scope you read with.")
    click.echo("Try:")
    if doc_id:
        click.echo(f"  minutebook get {doc_id} --key {directory}/{secretary['key_file']} --node {first}")
        click.echo(f"      # minutes of {cell}, read as its secretary {secretary['member_id']}")
    click.echo(f"  minutebook whoami --key {directory}/{plain['key_file']} --node {first}")
    click.echo(f"  minutebook stats {root} --key {directory}/{root_secretary['key_file']} --node {first}")
    click.echo(f"  minutebook audit --genesis {directory}/genesis.json --key {node_key} " +
               " ".join(f"--node {n['api_url']}" for n in cluster["nodes"]))
    click.echo(f"  minutebook submit {directory}/examples/resolution.yaml --key {directory}/{secretary['key_file']}"
               f" --node {first} --wait > receipt.json")
    click.echo(f"  minutebook verify receipt.json --genesis {directory}/genesis.json")
    click.echo(f"Pages: log in at {first}/login with a member's key file (it stays in the browser).")
    click.echo(f"Members and their keys: {directory}/members.json. Logs: {directory}/logs/. Ctrl-C stops the cluster.")


@devnet.command("up", epilog=EXIT_CODES_HELP)
@click.option("--nodes", "-n", default=3, show_default=True, type=click.IntRange(1, 9), help="Voter nodes (first run).")
@click.option("--dir", "-d", "directory", default=DEFAULT_DIR, show_default=True, type=click.Path(file_okay=False),
              help="Cluster directory; created (as by `init`) if missing, resumed if present.")
@click.option("--base-port", default=DEFAULT_BASE_PORT, show_default=True, type=click.IntRange(2025, 65000),
              help="Node i serves its API on base-port+i (first run).")
@click.option("--no-sample", is_flag=True, help="Do not load the sample organisation.")
@click.option("--detach-after-load", is_flag=True, hidden=True, help="Exit after loading, stopping the nodes (tests).")
@cli_errors
def devnet_up(nodes: int, directory: str, base_port: int, no_sample: bool, detach_after_load: bool) -> None:
    """Start a local cluster with a sample organisation, in one command.

    Creates DIR if needed (as `minutebook init` does), starts the nodes as
    child processes, waits for a leader, loads a sample organisation through
    the API (units, about 200 members with keys and roles, a year of
    minutes and resolutions, status changes, profile entries, an inspection
    finding, one amendment, and one duplicate record the ledger refuses, as
    printed; once only), prints the URLs and example commands, and runs until
    Ctrl-C, which stops the nodes cleanly. Run it again to resume from DIR.

    \b
    Example:
      minutebook devnet up --nodes 3 --dir devnet
    """
    path = Path(directory).resolve()
    if not (path / "genesis.json").exists():
        click.echo(f"initialising {directory} ({nodes} nodes)")
        init_cluster(path, nodes=nodes, base_port=base_port)
    try:
        cluster = json.loads((path / "cluster.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"{path}/cluster.json cannot be read ({exc}); is {directory} a devnet directory?", EXIT_INPUT)
    pid_file = path / "devnet.pid"
    if pid_file.exists():
        try:
            other = int(pid_file.read_text())
            os.kill(other, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        else:
            raise fail(f"a devnet already runs from {directory} (pid {other}); `minutebook devnet down --dir "
                       f"{directory}` stops it", EXIT_FAILED)
    sup = _Supervisor(path, cluster)
    stop_requested = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop_requested["flag"] = True
        raise KeyboardInterrupt

    # SIGINT is handled explicitly too, as the nodes do: a shell script that starts
    # `devnet up &` hands it SIGINT ignored, and Ctrl-C or `kill -INT` must still stop it.
    old_term = signal.signal(signal.SIGTERM, on_signal)
    old_int = signal.signal(signal.SIGINT, on_signal)
    pid_file.write_text(str(os.getpid()))
    try:
        sup.start()
        click.echo(f"started {len(sup.children)} nodes; waiting for a leader…")
        leader_url = _wait_for_leader(sup)
        if not no_sample and not (path / "loaded.json").exists():
            result = load_sample(path, leader_url)
            if result["refused"]:
                click.echo(f"warning: {len(result['refused'])} sample documents were refused:", err=True)
                for line in result["refused"][:10]:
                    click.echo(f"  {line}", err=True)
            for line in result["refused_as_expected"]:
                click.echo(f"refused, as the sample means it to be: {line}")
            _write_json(path / "loaded.json", {k: v for k, v in result.items() if not k.startswith("refused")}
                        | {"refused": len(result["refused"]),
                           "refused_as_expected": len(result["refused_as_expected"])})
            click.echo(f"loaded {result['committed']} documents ({result['already_committed']} already there)")
        _print_welcome(path, cluster)
        if detach_after_load:
            return
        while True:
            time.sleep(1.0)
            dead = sup.dead()
            if dead:
                click.echo(f"warning: node {', '.join(dead)} exited; see {directory}/logs/", err=True)
                for n in dead:
                    sup.children.pop(n)
    except KeyboardInterrupt:
        click.echo("\nstopping the nodes…")
    finally:
        sup.stop()
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
        pid_file.unlink(missing_ok=True)
    click.echo("stopped")


@devnet.command("down", epilog=EXIT_CODES_HELP)
@click.option("--dir", "-d", "directory", default=DEFAULT_DIR, show_default=True, type=click.Path(file_okay=False),
              help="Cluster directory of the running devnet.")
@cli_errors
def devnet_down(directory: str) -> None:
    """Stop a devnet started with `devnet up` in another terminal.

    \b
    Example:
      minutebook devnet down --dir devnet
    """
    pid_file = Path(directory) / "devnet.pid"
    try:
        pid = int(pid_file.read_text())
    except FileNotFoundError:
        raise fail(f"no devnet runs from {directory} (no {pid_file})", EXIT_FAILED) from None
    except ValueError:
        raise fail(f"{pid_file} is damaged; stop the processes by hand", EXIT_FAILED) from None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        raise fail(f"the devnet supervisor (pid {pid}) is gone; removed the stale {pid_file}", EXIT_FAILED) from None
    for _ in range(150):
        if not pid_file.exists():
            click.echo("stopped")
            return
        time.sleep(0.1)
    raise fail(f"pid {pid} did not stop within 15s", EXIT_FAILED)


COMMANDS = [init, devnet]
