"""A test double of ``node.service.NodeService`` for API and CLI tests.

TEST DOUBLE, not the runtime: one in-process "node" over a real ``Ledger`` on a
``MemoryStore`` that, for each submission, runs the leader's admission check
(``Ledger.check_submission``), applies a block holding just that document, and
certifies it at once with the genesis voters' keys. No Raft, no peers, no
batching: it lets the HTTP layer be tested against real ledger objects
(blocks, receipts, proofs) before and apart from ``node/runtime.py``.

``serve(service)`` runs the app with uvicorn on a free local port in a thread,
for tests that need a real URL (the CLI, the SDK end to end).
``sample_service(node_seeds, anchor_ms)`` is one over client/sample_org.py's
organisation, loaded one block per phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Iterator

from ledger.blocks import BlockProposal
from ledger.documents import Envelope
from ledger.errors import MinutebookError
from ledger.keys import BLOCK_DOMAIN, KeyFile, public_key, sign
from ledger.ledger import Ledger
from ledger.sealing import envelope_of
from ledger.store import MemoryStore
from node.errors import NoLeader
from views import Views
from tests.ports import free_port


def key_file(ident: str, seed: bytes, *, node: bool = False) -> KeyFile:
    """A KeyFile held in memory (member or node), to sign requests with (client/signing.py)."""
    return KeyFile(id_field="node_id" if node else "member_id", id=ident, public_key=public_key(seed), seed=seed)


def signed_client(app: object, key: KeyFile | None):
    """A TestClient over `app` that signs every request as `key` (None: unsigned)."""
    from fastapi.testclient import TestClient

    from client.signing import RequestSigner

    client = TestClient(app, raise_server_exceptions=False)
    if key is not None:
        client.auth = RequestSigner(key)
    return client


def _created_at(item: bytes) -> int:
    """The signed time of a proposal item (0 if it is not a readable envelope: the ledger rejects it)."""
    try:
        return Envelope.from_bytes(envelope_of(item)).doc.created_at
    except MinutebookError:
        return 0


class ServiceDouble:
    """See the module docstring. `no_leader = True` makes submit raise NoLeader."""

    def __init__(self, genesis: dict, node_seeds: dict[str, bytes], *, node_id: str = "n1",
                 start_ms: int = 1_750_000_000_000, store: object | None = None) -> None:
        self.node_id = node_id
        self.views = Views()
        self.ledger = Ledger(store if store is not None else MemoryStore(), genesis, observers=[self.views])
        self.node_seeds = node_seeds
        self.no_leader = False
        self._clock = start_ms
        self._lock = asyncio.Lock()

    async def submit(self, envelope: bytes, *, wait: bool, timeout: float = 30.0) -> dict:
        if self.no_leader:
            raise NoLeader(retry_after=1.0)
        async with self._lock:
            self._clock += 1000
            checked = self.ledger.check_submission(envelope, at_ms=self._clock)
            self.apply([envelope])
        doc_id = checked.doc_id
        if not wait:
            return {"doc_id": doc_id, "status": "pending"}
        return {"doc_id": doc_id, "status": "committed", "receipt": self.ledger.receipt(doc_id)}

    async def submit_batch(self, envelopes: list[bytes], *, wait: bool, timeout: float = 30.0) -> list[dict]:
        """Each envelope through `submit`, its error kept as its result (node/batch.py shapes)."""
        from ledger.documents import salvage_doc_id
        from ledger.errors import MinutebookError
        from node import batch

        if self.no_leader:
            raise NoLeader(retry_after=1.0)
        results = []
        for envelope in envelopes:
            try:
                results.append(await self.submit(envelope, wait=wait, timeout=timeout))
            except MinutebookError as exc:
                results.append(batch.failed(salvage_doc_id(envelope), exc))
        return results

    def apply(self, envelopes: list[bytes]) -> None:
        """Apply one block of `envelopes` (no admission check) and certify it."""
        ledger = self.ledger
        head = ledger.head()
        # A leader's clock is not behind the documents it stamps (a block may not hold a document
        # from its future, node/clock.py), so a block loading test data is at least their newest time.
        self._clock = max(self._clock, head.timestamp + 1 if head else 0, *map(_created_at, envelopes))
        proposal = BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash, timestamp=self._clock,
                                 proposer=self.node_id, term=1, envelopes=tuple(envelopes))
        block = ledger.apply_block(proposal)
        for node, seed in self.node_seeds.items():
            if node in ledger.voters_at(block.height):
                ledger.add_block_signature(block.height, node, sign(seed, BLOCK_DOMAIN, block.header.hash))

    def status(self) -> dict:
        return {"role": "leader", "term": 1, "leader": self.node_id, "commit_index": self.ledger.height,
                "applied_index": self.ledger.height, "height": self.ledger.height, "peers": {}}

    async def read_barrier(self) -> None:
        return None


def sample_service(node_seeds: dict[str, bytes], anchor_ms: int, *, phases: int | None = None):
    """(org, genesis, service): the sample organisation (seed 7) with `node_seeds` as its voters,
    its first `phases` loading phases (all by default) applied, one block each."""
    from client.sample_org import SampleOrg
    from client.sdk import sign_document
    from ledger.jsonfmt import b64e
    from ledger.keys import public_key

    org = SampleOrg(seed=7, anchor_ms=anchor_ms)
    nodes = [{"node_id": n, "public_key": b64e(public_key(s)), "peer_addr": f"127.0.0.1:{7100 + i}", "role": "voter"}
             for i, (n, s) in enumerate(sorted(node_seeds.items()), start=1)]
    genesis = org.genesis(nodes)
    # The clock starts after the documents tests sign (created_at up to anchor + 2e6 ms): a block may
    # not hold a document from more than 5 minutes after its own time.
    service = ServiceDouble(genesis, node_seeds, start_ms=anchor_ms + 2 * 10**6)
    for _, docs in org.phases()[:phases]:  # as fast as the ledger applies them
        service.apply([sign_document(doc, [(m, org.seed_of(m)) for m in signers]) for doc, signers in docs])
    return org, genesis, service


@contextlib.contextmanager
def serve(service: object) -> Iterator[str]:
    """Serve create_app(service) on 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    from node.api import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
