"""node/api.py over the real NodeRuntime as a single-node cluster (one voter
elects itself), in-process: documents go through Raft, LevelDB, block
production and certification; receipts from the API verify offline."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from client.cli_devnet import init_cluster
from client.sample_org import SampleOrg
from client.sdk import sign_document
from client.verify import verify_receipt
from node.api import create_app
from node.config import load_config
from tests.ports import devnet_base_port

runtime_mod = pytest.importorskip("node.runtime")


async def _leader(client: httpx.AsyncClient, timeout: float = 20.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = (await client.get("/v1/status")).json()
        if status.get("role") == "leader":
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no leader: {status}")
        await asyncio.sleep(0.1)


def test_single_node_runtime_through_the_api(tmp_path):
    d = tmp_path / "dn"
    init_cluster(d, nodes=1, base_port=devnet_base_port(1))
    genesis = json.loads((d / "genesis.json").read_text())
    org = SampleOrg.from_genesis(genesis)
    provinces = org.phases()[0][1]

    async def scenario() -> None:
        runtime = runtime_mod.NodeRuntime(load_config(d / "nodes" / "n1.toml"))
        await runtime.start()
        try:
            app = create_app(runtime)
            from client.signing import RequestSigner
            from ledger.keys import read_key_file

            signer = RequestSigner(read_key_file(d / "keys" / "n1.json"))  # the operator reads everything
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node",
                                         auth=signer) as client:
                await _leader(client)
                envelopes = [sign_document(doc, [(m, org.seed_of(m)) for m in signers]) for doc, signers in provinces]
                answers = await asyncio.gather(*(
                    client.post("/v1/documents?wait=committed", content=e,
                                headers={"Content-Type": "application/msgpack"}) for e in envelopes))
                assert [a.status_code for a in answers] == [200] * len(envelopes), [a.text for a in answers]
                for a in answers:
                    body = a.json()
                    assert verify_receipt(body["receipt"], genesis).doc_id == body["doc_id"]
                again = await client.post("/v1/documents", content=envelopes[0],
                                          headers={"Content-Type": "application/msgpack"})
                assert again.status_code == 409 and again.json()["receipt"]["doc_id"] == answers[0].json()["doc_id"]
                head = (await client.get("/v1/tree-head?certified=true")).json()
                assert head["log_size"] == len(envelopes) and head["certificate"][0]["node"] == "n1"
                org_view = (await client.get("/v1/orgs/central")).json()
                assert len(org_view["children"]) == 2
                metrics = (await client.get("/metrics")).text
                assert 'route="/v1/documents"' in metrics
        finally:
            await runtime.stop()

    asyncio.run(scenario())
