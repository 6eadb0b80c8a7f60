"""`minutebook audit`: download every block from each node, replay it from
genesis, and cross-check the nodes.

Theory of operation
-------------------
For each node, :class:`ChainAuditor` replays the ledger in memory
(``Ledger(MemoryStore(), genesis)``), block by block, from the block JSON and
the block's canonical envelopes (``GET /v1/blocks/{h}/envelopes``). For block
``h`` it checks, in order, and names the first check that fails:

``header``       the header bytes decode and hash to ``block_hash``, and
                 ``header_fields`` and ``height`` say the same as the bytes
``prev_hash``    the header's ``prev_hash`` is the hash of block ``h-1`` (block 1:
                 the genesis hash)
``certificate``  a strict majority of the voters in force before ``h`` (from
                 genesis, following the ``node`` documents replayed so far)
                 signed ``b"minutebook/block/v1\\0" + block_hash``; at the tip
                 a missing majority is only a note (certification may be in
                 flight)
``tx_root``      the RFC 9162 root over all the block's envelopes (accepted
                 and rejected)
``replay``       applying the envelopes to the replayed ledger gives the
                 same ``log_size`` and ``log_root`` (the running Merkle log,
                 which holds the accepted envelopes only) and the same status
                 and leaf for every document (``leaf_index`` null for a rejected
                 one)

The statuses a node serves are not covered by the block certificate; the
replay is what checks them (a receipt needs no status: only accepted
envelopes are leaves, so its inclusion proof proves acceptance).

The first failure stops that node's replay (what follows it cannot be
trusted). Then the nodes are compared: the first height at which two nodes
serve different block hashes is a **fork** and is reported with both hashes.

The auditor trusts only `genesis.json`; each node is a witness to be checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from .cli_common import EXIT_CODES_HELP, EXIT_FAILED, EXIT_INPUT, cli_errors, fail, key_option, node_option, request_key

__all__ = ["AuditFailure", "ChainAuditor", "NodeReport", "find_forks", "audit"]

PAGE = 100


@dataclass(frozen=True)
class AuditFailure:
    node: str
    height: int
    check: str
    message: str

    def __str__(self) -> str:
        return f"FAILED {self.node} height {self.height} {self.check}: {self.message}"


@dataclass
class NodeReport:
    node: str
    height: int = 0  # blocks checked and found good
    documents: int = 0
    hashes: dict[int, str] = field(default_factory=dict)
    failure: AuditFailure | None = None
    notes: list[str] = field(default_factory=list)


class ChainAuditor:
    """Replays one node's chain from genesis; :meth:`check` takes the blocks in order."""

    def __init__(self, node: str, genesis: dict) -> None:
        from ledger.ledger import Ledger
        from ledger.store import MemoryStore

        self.report = NodeReport(node=node)
        self._ledger = Ledger(MemoryStore(), genesis)

    def _fail(self, height: int, check: str, message: str) -> AuditFailure:
        failure = AuditFailure(self.report.node, height, check, message)
        self.report.failure = failure
        return failure

    def check(self, block: dict, envelopes: list[bytes], *, is_tip: bool = False) -> AuditFailure | None:
        """Check block ``self.report.height + 1``; None if it holds."""
        from ledger.blocks import BlockProposal, BlockSignature, Header, check_certificate
        from ledger.errors import MinutebookError, ProofFailed
        from ledger.jsonfmt import b64d
        from ledger.merkle import EMPTY_ROOT, leaf_hash, root

        height = self.report.height + 1
        ledger = self._ledger
        # header
        try:
            header = Header.from_bytes(b64d(block.get("header"), "header"))
        except MinutebookError as exc:
            return self._fail(height, "header", f"header bytes do not decode: {exc.message}")
        if header.block_hash != block.get("block_hash"):
            return self._fail(height, "header", f"sha256(header) = {header.block_hash} but the block says "
                                                f"{block.get('block_hash')}")
        if block.get("height") != height or header.height != height:
            return self._fail(height, "header", f"expected height {height}, the block says {block.get('height')} "
                                                f"and its header {header.height}")
        if block.get("header_fields") != header.fields_json():
            return self._fail(height, "header", "header_fields do not match the header bytes")
        # prev_hash
        if header.prev_hash != ledger.head_hash:
            return self._fail(height, "prev_hash", f"prev_hash {header.prev_hash.hex()} is not the hash of block "
                                                   f"{height - 1} ({ledger.head_hash.hex()})")
        # certificate, against the voters before this block
        try:
            certificate = [BlockSignature.from_json(c, f"certificate[{i}]")
                           for i, c in enumerate(block.get("certificate") or [])]
            check_certificate(header.hash, certificate, ledger.voters_at(height))
        except ProofFailed as exc:
            if not (is_tip and "strict majority needs" in exc.message):
                return self._fail(height, "certificate", exc.message.removeprefix("certificate: "))
            self.report.notes.append(f"block {height} (the tip) is not certified yet: "
                                     f"{exc.message.removeprefix('certificate: ')}")
        except MinutebookError as exc:
            return self._fail(height, "certificate", exc.message)
        # tx_root
        calculated = root([leaf_hash(e) for e in envelopes]) if envelopes else EMPTY_ROOT
        if calculated != header.tx_root:
            return self._fail(height, "tx_root", f"the {len(envelopes)} envelopes hash to {calculated.hex()}, the "
                                                 f"header says {header.tx_root.hex()}")
        # replay
        try:
            replayed = ledger.apply_block(BlockProposal(
                height=height, prev_hash=header.prev_hash, timestamp=header.timestamp, proposer=header.proposer,
                term=header.term, envelopes=tuple(envelopes)))
        except Exception as exc:  # noqa: BLE001 -- any failure to replay is the finding
            return self._fail(height, "replay", f"cannot apply the block: {exc}")
        mine = replayed.header
        if (mine.log_size, mine.log_root) != (header.log_size, header.log_root):
            return self._fail(height, "replay", f"the log after this block is {mine.log_size} leaves with root "
                                                f"{mine.log_root.hex()}; the header says {header.log_size} leaves "
                                                f"with root {header.log_root.hex()}")
        served = [(d.get("doc_id"), d.get("leaf_index"), d.get("status")) for d in block.get("documents") or []]
        replay_statuses = [(d.doc_id, d.leaf_index, d.status) for d in replayed.documents]
        if served != replay_statuses:
            for i, (a, b) in enumerate(zip(served + [None] * len(replay_statuses), replay_statuses + [None] * len(served))):
                if a != b:
                    return self._fail(height, "replay", f"document {i}: the node says {a}, replay gives {b}")
        if mine.hash != header.hash:
            return self._fail(height, "replay", f"replayed header hashes to {mine.block_hash}, not {header.block_hash}")
        self.report.height = height
        self.report.documents += len(envelopes)
        self.report.hashes[height] = header.block_hash
        return None


def find_forks(reports: list[NodeReport]) -> list[AuditFailure]:
    """For each pair of nodes, the first height where they serve different blocks."""
    forks = []
    for i, a in enumerate(reports):
        for b in reports[i + 1:]:
            for height in sorted(set(a.hashes) & set(b.hashes)):
                if a.hashes[height] != b.hashes[height]:
                    forks.append(AuditFailure(
                        f"{a.node} vs {b.node}", height, "fork",
                        f"{a.node} has {a.hashes[height]}, {b.node} has {b.hashes[height]}"))
                    break
    return sorted(forks, key=lambda f: f.height)


def _served_blocks(client: Any, tip: int, on_error: Callable[[int, str], None],
                   start: int = 1) -> Iterator[tuple[dict, list[bytes]]]:
    """Blocks start..tip with their envelopes; stops (after on_error) at a download failure."""
    from . import errors as api_errors

    height = start
    while height <= tip:
        try:
            page = client.blocks(start=height, limit=min(PAGE, tip - height + 1))["blocks"]
        except api_errors.SdkError as exc:
            on_error(height, f"cannot download blocks from {height}: {exc}")
            return
        if not page:
            on_error(height, f"the node served no block {height} (its tree head said {tip})")
            return
        for block in page:
            h = block.get("height")
            try:
                envelopes = client.block_envelopes(h)
            except api_errors.SdkError as exc:
                on_error(height, f"cannot download the envelopes of block {h}: {exc}")
                return
            yield block, envelopes
            height += 1


def audit_node(client: Any, node: str, genesis: dict, advance: Callable[[int], None] = lambda n: None,
               set_total: Callable[[int], None] = lambda n: None) -> NodeReport:
    from . import errors as api_errors

    auditor = ChainAuditor(node, genesis)
    try:
        tip = int(client.tree_head()["height"])
    except api_errors.SdkError as exc:
        auditor._fail(1, "download", f"cannot read the tree head: {exc}")
        return auditor.report
    set_total(tip)

    def on_error(height: int, message: str) -> None:
        auditor._fail(height, "download", message)

    for block, envelopes in _served_blocks(client, tip, on_error):
        if auditor.check(block, envelopes, is_tip=block.get("height") == tip):
            break
        advance(1)
    return auditor.report


def audit_local(data_dir: str, genesis: dict, advance: Callable[[int], None] = lambda n: None,
                set_total: Callable[[int], None] = lambda n: None, scratch: str | None = None) -> NodeReport:
    """Audit a stopped node's own LevelDB: every value's checksum, then the
    same replay as over HTTP, reading blocks and envelopes from the store.

    The store is never opened itself (opening a LevelDB writes to it): a
    private copy is (``ledger.store.read_only_copy``, under `scratch`), so the
    audit changes no byte of the directory it audits."""
    from ledger.store import read_only_copy

    label = f"local:{data_dir}"
    auditor = ChainAuditor(label, genesis)
    path = Path(data_dir)
    if (path / "ledger").is_dir():
        path = path / "ledger"
    if not path.is_dir():
        raise fail(f"no ledger data at {data_dir} (give the node's data_dir)", EXIT_INPUT)
    try:
        with read_only_copy(str(path), scratch) as copy:
            _audit_copy(copy, str(path), genesis, auditor, advance, set_total)
    except OSError as exc:  # not a LevelDB directory, the node still runs, no room for the copy
        hint = " (stop the node first)" if "another process" in str(exc) else ""
        raise fail(f"cannot read {path}: {exc}{hint}", EXIT_INPUT) from None
    return auditor.report


def _audit_copy(copy: str, path: str, genesis: dict, auditor: ChainAuditor, advance: Callable[[int], None],
                set_total: Callable[[int], None]) -> None:
    from ledger.errors import CorruptionError
    from ledger.store import LevelDBStore

    try:
        store = LevelDBStore(copy, create=False)
    except CorruptionError as exc:
        auditor._fail(0, "store", str(exc).replace(copy, path))
        return
    try:
        _replay_local(store, genesis, auditor, advance, set_total, path, copy)
    finally:
        store.close()


def _replay_local(store: Any, genesis: dict, auditor: ChainAuditor, advance: Callable[[int], None],
                  set_total: Callable[[int], None], path: str, copy: str) -> None:
    from ledger.errors import CorruptionError, MinutebookError
    from ledger.ledger import Ledger
    from ledger.sealing import envelope_of

    try:
        store.verify_all()
    except CorruptionError as exc:
        auditor._fail(0, "store", str(exc).replace(copy, path))
        return
    try:
        ledger = Ledger(store, genesis)
    except (MinutebookError, CorruptionError) as exc:
        auditor._fail(0, "store", f"cannot open the ledger: {exc}".replace(copy, path))
        return
    set_total(ledger.height)
    for height in range(1, ledger.height + 1):
        try:
            block = ledger.block(height)
            # a sealed document's item carries its boxes: the envelope alone is what tx_root covers
            envelopes = [envelope_of(e) for e in ledger.proposal(height).envelopes]
        except (MinutebookError, CorruptionError) as exc:
            auditor._fail(height, "store", f"cannot read block {height}: {exc}")
            break
        if auditor.check(block, envelopes, is_tip=height == ledger.height):
            break
        advance(1)


@click.command(epilog=EXIT_CODES_HELP)
@node_option(multiple=True)
@click.option("--local", "local_dirs", multiple=True, type=click.Path(file_okay=False), metavar="DATA_DIR",
              help="Also audit a stopped node's data directory directly (checksums of every stored value, then "
                   "the same replay); repeatable. The store is not changed: a private copy is opened.")
@click.option("--scratch", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Where --local makes its private copy of the store (default: the system temp directory; "
                   "on the store's own file system its table files are hard-linked, not copied).")
@click.option("--genesis", "-g", "genesis_path", required=True, type=click.Path(dir_okay=False),
              envvar="MINUTEBOOK_GENESIS", help="The genesis.json you trust (or $MINUTEBOOK_GENESIS).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@key_option()
@cli_errors
def audit(nodes: tuple[str, ...], local_dirs: tuple[str, ...], scratch: str | None, genesis_path: str,
          as_json: bool, key_path: str | None) -> None:
    """Replay every block from each node and cross-check the nodes for forks.

    For every block: the header hash, the prev_hash chain, the certificate
    against the voters at that height (following node documents from
    genesis), the tx_root over its envelopes, and a replay of the Merkle log
    and of every document's accepted/rejected status. Then nodes are compared
    and the first height where two differ is reported as a fork.

    With --local DATA_DIR it reads a stopped node's LevelDB instead of its
    API, first checking the checksum of every stored value. LevelDB cannot
    open a store without writing to it, so the audit opens a private copy
    (made under --scratch) and leaves every byte of DATA_DIR as it was.

    Block envelopes are content: --key must be a node key or the key of an
    inspector of the root unit (the auditors' scope).

    Prints one FAILED line per problem, naming node, height and check, and
    exits 1 if there is any.

    \b
    Example:
      minutebook audit --genesis devnet/genesis.json --key devnet/keys/n1.json \\
          --node http://127.0.0.1:8101 --node http://127.0.0.1:8102 --node http://127.0.0.1:8103
      minutebook audit --genesis devnet/genesis.json --local devnet/data/n3
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .sdk import Client

    if not nodes and not local_dirs:
        raise click.UsageError("give at least one --node URL (or --local DATA_DIR)")
    try:
        genesis = json.loads(Path(genesis_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"no such genesis file: {genesis_path}", EXIT_INPUT) from None
    except ValueError as exc:
        raise fail(f"{genesis_path} is not valid JSON: {exc}", EXIT_INPUT) from None
    console = Console(stderr=True)
    key = request_key(key_path)
    if nodes and key is None:
        raise click.UsageError("give --key (a node key, or a root inspector's): block envelopes are content")
    reports = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        for url in nodes:
            task = progress.add_task(url, total=None)
            with Client(url, retries=2, key=key) as client:
                reports.append(audit_node(
                    client, url, genesis,
                    advance=lambda n, t=task: progress.advance(t, n),
                    set_total=lambda n, t=task: progress.update(t, total=n)))
        for data_dir in local_dirs:
            task = progress.add_task(f"local {data_dir}", total=None)
            reports.append(audit_local(
                data_dir, genesis, scratch=scratch,
                advance=lambda n, t=task: progress.advance(t, n),
                set_total=lambda n, t=task: progress.update(t, total=n)))
    failures = [r.failure for r in reports if r.failure] + find_forks(reports)
    if as_json:
        click.echo(json.dumps({
            "ok": not failures,
            "nodes": [{"node": r.node, "blocks_ok": r.height, "documents": r.documents, "notes": r.notes}
                      for r in reports],
            "failures": [f.__dict__ for f in failures],
        }, indent=2))
    else:
        for r in reports:
            status = "FAILED" if r.failure else "OK"
            click.echo(f"{status} {r.node}: {r.height} blocks, {r.documents} documents checked")
            for note in r.notes:
                click.echo(f"  note: {note}")
        for f in failures:
            click.echo(str(f))
    if failures:
        raise SystemExit(EXIT_FAILED)


COMMANDS = [audit]
