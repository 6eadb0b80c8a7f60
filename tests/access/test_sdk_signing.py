"""The SDK signs every request (client/signing.py): sync and async, each
attempt afresh (a retry is never a replay), over the exact path and query
httpx sends."""

from __future__ import annotations

import asyncio
import hashlib

import httpx

from client.sdk import AsyncClient, Client
from ledger.httpsig import parse_request_signature, verify_request_signature
from ledger.keys import public_key
from tests.node.service_double import key_file

SEED = hashlib.sha256(b"sdk-signing").digest()
KEY = key_file("m0042", SEED)


def _recorder(seen: list, fail_first: int = 0):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= fail_first:
            return httpx.Response(503, json={"error": "no_leader", "message": "later"}, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"ok": True})
    return handler


def _check(request: httpx.Request) -> str:
    parsed = parse_request_signature(request.headers["signature-input"], request.headers["signature"])
    path, _, query = request.url.raw_path.partition(b"?")
    assert parsed.keyid == "m0042" and parsed.expires - parsed.created == 60
    assert verify_request_signature(parsed, public_key(SEED), method=request.method, path=path.decode(),
                                    query=query.decode(), content_digest_field=request.headers.get("content-digest"))
    return parsed.nonce


def test_sync_client_signs_each_attempt_afresh():
    seen: list = []
    with Client("http://node", key=KEY, transport=httpx.MockTransport(_recorder(seen, fail_first=2)),
                sleep=lambda s: None) as client:
        client.stats("central/p1", since=1, until=2)
    assert len(seen) == 3
    nonces = [_check(r) for r in seen]
    assert len(set(nonces)) == 3
    assert seen[0].url.raw_path == b"/v1/orgs/central/p1/stats?since=1&until=2"


def test_a_submitted_body_is_covered_by_its_digest():
    seen: list = []
    with Client("http://node", key=KEY, transport=httpx.MockTransport(_recorder(seen))) as client:
        client.submit(b"\x82\xa3doc", wait=False)
    assert "content-digest" in seen[0].headers and '"content-digest"' in seen[0].headers["signature-input"]
    _check(seen[0])


def test_without_a_key_nothing_is_signed():
    seen: list = []
    with Client("http://node", transport=httpx.MockTransport(_recorder(seen))) as client:
        client.tree_head()
    assert "signature" not in seen[0].headers


def test_async_client_signs_too():
    seen: list = []

    async def go():
        async with AsyncClient("http://node", key=KEY, transport=httpx.MockTransport(_recorder(seen))) as client:
            await client.member("m0042")

    asyncio.run(go())
    _check(seen[0])


def test_the_signer_never_shows_its_seed():
    from client.signing import RequestSigner

    assert repr(RequestSigner(KEY)) == "RequestSigner(keyid='m0042')"
