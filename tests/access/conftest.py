"""A node (tests/node/service_double.py over a real Ledger) loaded with the
sample organisation of client/sample_org.py, and clients that sign as any of
its members or nodes (client/signing.py). The world is built once per
module; tests that change the registry build their own."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from client.sample_org import SampleOrg
from client.sdk import sign_document
from ledger.jsonfmt import b64e
from ledger.keys import public_key
from node.api import create_app
from tests.node.service_double import ServiceDouble, key_file, signed_client

ANCHOR = 1_760_000_000_000
NODE_SEEDS = {f"n{i}": hashlib.sha256(f"access-test-node-{i}".encode()).digest() for i in (1, 2, 3)}


@dataclass
class World:
    org: SampleOrg
    genesis: dict
    service: ServiceDouble
    app: object

    def client(self, who: str | None):
        """A client signing as member `who`, node `who` ("n1"), or nobody (None)."""
        if who is None:
            return signed_client(self.app, None)
        if who in NODE_SEEDS:
            return signed_client(self.app, key_file(who, NODE_SEEDS[who], node=True))
        return signed_client(self.app, key_file(who, self.org.seed_of(who)))

    def docs(self, doc_type: str) -> list[dict]:
        return list(self.service.ledger.documents_by("type", doc_type, limit=None))

    def sign(self, doc: dict, signers: list[str]) -> bytes:
        return sign_document(doc, [(m, self.org.seed_of(m)) for m in signers])


def build_world(config=None) -> World:
    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    nodes = [{"node_id": n, "public_key": b64e(public_key(s)), "peer_addr": f"127.0.0.1:{7100 + i}", "role": "voter"}
             for i, (n, s) in enumerate(sorted(NODE_SEEDS.items()), start=1)]
    genesis = org.genesis(nodes)
    service = ServiceDouble(genesis, NODE_SEEDS, start_ms=ANCHOR + 60_000)
    if config is not None:
        service.config = config
    for _, docs in org.phases():
        service.apply([sign_document(doc, [(m, org.seed_of(m)) for m in signers]) for doc, signers in docs])
    return World(org, genesis, service, create_app(service))


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()
