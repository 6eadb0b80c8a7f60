"""What the client tests share: a ServiceDouble (tests/node/service_double.py)
loaded with the sample organisation, click's runner, and reading back what a
ledger holds."""

from __future__ import annotations

import hashlib
import time

from click.testing import CliRunner

from client.cli import main
from client.sample_org import SampleOrg
from client.sdk import sign_document
from ledger.encoding import decode_canonical
from ledger.jsonfmt import b64e
from ledger.keys import public_key
from tests.node.service_double import ServiceDouble

__all__ = ["ANCHOR", "NODE_SEEDS", "run", "loaded_service", "accepted_docs", "officer_keys"]

ANCHOR = 1_760_000_000_000
NODE_SEEDS = {f"n{i}": hashlib.sha256(f"cli-test-node-{i}".encode()).digest() for i in (1, 2, 3)}


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def loaded_service(org: SampleOrg, phases: int | None = None, store=None,
                   cls: type[ServiceDouble] = ServiceDouble, start_ms: int | None = None) -> tuple[dict, ServiceDouble]:
    """A `cls` over the genesis of `org` with its first `phases` phases applied (all by default).
    Its clock starts at `start_ms`, by default now: the CLI signs created_at with the real clock,
    and a leader refuses a document from its future. Give one to make twins block for block."""
    nodes = [{"node_id": n, "public_key": b64e(public_key(s)), "peer_addr": f"127.0.0.1:{7100 + i}", "role": "voter"}
             for i, (n, s) in enumerate(sorted(NODE_SEEDS.items()), start=1)]
    genesis = org.genesis(nodes)
    if start_ms is None:
        start_ms = max(ANCHOR + 60_000, int(time.time() * 1000))
    service = cls(genesis, NODE_SEEDS, start_ms=start_ms, store=store)
    for _, docs in org.phases()[:phases]:
        service.apply([sign_document(doc, [(m, org.seed_of(m)) for m in signers]) for doc, signers in docs])
    return genesis, service


def accepted_docs(service: ServiceDouble, type_: str | None = None) -> list[dict]:
    """Every accepted document of the service's ledger (decoded), in log order."""
    ledger = service.ledger
    docs = [decode_canonical(ledger.envelope_at(i))["doc"] for i in range(ledger.tree_head()["log_size"])]
    return [d for d in docs if type_ is None or d["type"] == type_]


def officer_keys(org: SampleOrg, directory, unit: str = "central/p1/k1/s1") -> list[str]:
    """Key files of the unit's chair (its deputy secretary) and secretary."""
    return [str(directory / "keys" / "members" / f"{org._officer(unit, r)}.json")
            for r in ("deputy_secretary", "secretary")]
