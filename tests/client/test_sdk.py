"""client/sdk.py over a fake transport (httpx.MockTransport): retries on 503 and
connection errors, Retry-After honoured, every API error mapped to its class."""

from __future__ import annotations

import random

import httpx
import pytest

from client import errors
from client.sdk import Client

RECEIPT = {"doc_id": "ab" * 32, "leaf_index": 3}


def _client(handler, **kw) -> tuple[Client, list[float]]:
    slept: list[float] = []
    client = Client("http://node.test", transport=httpx.MockTransport(handler), rng=random.Random(1),
                    sleep=slept.append, **kw)
    return client, slept


def test_retries_503_honouring_retry_after_then_succeeds():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, headers={"Retry-After": "2"},
                                  json={"error": "no_leader", "message": "no leader yet", "retry_after": 2})
        return httpx.Response(202, json={"doc_id": "ab" * 32, "status": "pending"})

    client, slept = _client(handler)
    assert client.submit(b"\x81") == {"doc_id": "ab" * 32, "status": "pending"}
    assert len(calls) == 3
    assert slept and all(s >= 2 for s in slept)
    assert calls[0].headers["content-type"] == "application/msgpack"
    assert calls[0].content == b"\x81"


def test_gives_up_after_retries_with_typed_error():
    def handler(request):
        return httpx.Response(503, headers={"Retry-After": "1"}, json={"error": "no_leader", "message": "none"})

    client, slept = _client(handler, retries=2)
    with pytest.raises(errors.NoLeaderError) as info:
        client.status()
    assert info.value.status == 503 and info.value.retry_after == 1.0
    assert len(slept) == 2


def test_backoff_grows_exponentially_with_jitter():
    client, _ = _client(lambda r: httpx.Response(200, json={}), backoff=0.5)
    caps = [0.5 * 2**a for a in range(5)]
    for attempt, cap in enumerate(caps):
        for _ in range(20):
            assert 0 <= client._delay(attempt, None) <= min(cap, 10.0)


def test_connection_errors_are_retried_then_reported():
    attempts = []

    def handler(request):
        attempts.append(1)
        raise httpx.ConnectError("refused", request=request)

    client, slept = _client(handler, retries=3)
    with pytest.raises(errors.ConnectionFailed) as info:
        client.tree_head()
    assert len(attempts) == 4 and len(slept) == 3
    assert "cannot reach http://node.test" in str(info.value)


def test_retried_submit_that_finds_document_committed_is_success():
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("lost the answer", request=request)
        return httpx.Response(409, json={"error": "already_committed", "message": "already", "doc_id": "ab" * 32,
                                         "receipt": RECEIPT})

    client, _ = _client(handler)
    result = client.submit(b"\x81", wait=True)
    assert result == {"doc_id": "ab" * 32, "status": "already_committed", "receipt": RECEIPT}
    with pytest.raises(errors.AlreadyCommittedError) as info:
        client.submit(b"\x81", accept_committed=False)
    assert info.value.receipt == RECEIPT and info.value.doc_id == "ab" * 32


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (400, "invalid_input", errors.MalformedRequest),
        (400, "not_canonical", errors.NotCanonicalRequest),
        (401, "bad_signature", errors.BadSignatureError),
        (403, "not_permitted", errors.NotPermittedError),
        (404, "not_found", errors.NotFoundError),
        (413, "too_large", errors.TooLargeError),
        (422, "rejected", errors.RejectedError),
        (500, "internal", errors.InternalError),
        (502, "forward_failed", errors.ForwardFailedError),
        (504, "timeout", errors.TimeoutError_),
    ],
)
def test_error_codes_map_to_classes(status, code, cls):
    def handler(request):
        return httpx.Response(status, json={"error": code, "message": "what went wrong", "field": "body.org"})

    client, slept = _client(handler)
    with pytest.raises(cls) as info:
        client.get_document("ab" * 32)
    err = info.value
    assert (err.status, err.code, err.message, err.field) == (status, code, "what went wrong", "body.org")
    assert not slept  # only 503 and connection errors are retried


def test_non_json_error_still_typed():
    client, _ = _client(lambda r: httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(errors.ForwardFailedError) as info:
        client.status()
    assert "Bad Gateway" in info.value.message


def test_msgpack_answers_are_decoded():
    import msgpack

    def handler(request):
        return httpx.Response(200, content=msgpack.packb({"height": 4}), headers={"content-type": "application/msgpack"})

    client, _ = _client(handler)
    assert client.block(4) == {"height": 4}


def test_query_parameters():
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, json={"height": 0, "blocks": []})

    client, _ = _client(handler)
    client.blocks(start=5, limit=10)
    client.consistency(2, 9)
    client.stats("central/p1")
    assert seen[0] == "http://node.test/v1/blocks?limit=10&from=5"
    assert seen[1] == "http://node.test/v1/proofs/consistency?first=2&second=9"
    assert seen[2] == "http://node.test/v1/orgs/central/p1/stats"


def test_async_client_retries_and_maps_errors():
    import asyncio

    from client.sdk import AsyncClient

    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(503, headers={"Retry-After": "1"}, json={"error": "no_leader", "message": "wait"})
        if len(calls) == 2:
            return httpx.Response(409, json={"error": "already_committed", "message": "m", "doc_id": "ab" * 32,
                                             "receipt": RECEIPT})
        return httpx.Response(404, json={"error": "not_found", "message": "document x not found"})

    slept = []

    async def fake_sleep(s):
        slept.append(s)

    async def go():
        async with AsyncClient("http://node.test", transport=httpx.MockTransport(handler), sleep=fake_sleep) as c:
            assert (await c.submit(b"\x81"))["status"] == "already_committed"
            with pytest.raises(errors.NotFoundError):
                await c.get_document("ab" * 32)

    asyncio.run(go())
    assert slept and slept[0] >= 1


def test_retries_send_the_same_bytes():
    """A retry re-sends the bytes that were signed, never a new signature."""
    bodies = []

    def handler(request):
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ReadTimeout("the answer was lost", request=request)
        if len(bodies) == 2:
            return httpx.Response(503, headers={"Retry-After": "1"}, json={"error": "no_leader", "message": "wait"})
        return httpx.Response(202, json={"doc_id": "ab" * 32, "status": "pending"})

    client, _ = _client(handler)
    client.submit(b"\x82\xa3doc-bytes")
    assert bodies == [b"\x82\xa3doc-bytes"] * 3


def test_a_409_other_than_already_committed_is_a_refusal():
    """A second record of the same meeting answers 409 too: that is no success."""
    def handler(request):
        return httpx.Response(409, json={"error": "duplicate_record", "message": "minutes of this meeting exist",
                                         "field": "body.meeting_id", "existing": "cd" * 32})

    client, _ = _client(handler)
    with pytest.raises(errors.ApiError) as info:
        client.submit(b"\x81", wait=True)
    assert info.value.code == "duplicate_record" and info.value.field == "body.meeting_id"


def test_submit_batch_chunks_in_order_and_resends_a_chunk_refused_overloaded():
    import msgpack

    from client.sdk import batch_chunks

    seen: list[list[bytes]] = []
    refused = []

    def handler(request):
        assert request.url.path == "/v1/documents:batch"
        assert request.headers["content-type"] == "application/msgpack"
        envelopes = msgpack.unpackb(request.content)
        if len(seen) == 1 and not refused:  # the second chunk is refused once, whole
            refused.append(1)
            return httpx.Response(503, headers={"Retry-After": "3"},
                                  json={"error": "overloaded", "message": "full", "retry_after": 3})
        seen.append(envelopes)
        return httpx.Response(200, json={"results": [{"doc_id": e.hex() * 32, "status": "pending"} for e in envelopes],
                                         "counts": {}})

    client, slept = _client(handler)
    envelopes = [bytes([i]) for i in range(7)]
    results = client.submit_batch(envelopes, max_documents=3)
    assert [r["doc_id"] for r in results] == [e.hex() * 32 for e in envelopes]
    assert seen == [envelopes[0:3], envelopes[3:6], envelopes[6:7]]
    assert slept and slept[0] >= 3  # Retry-After honoured
    assert batch_chunks([b"x" * 10] * 5, max_documents=100, max_bytes=32) == [[b"x" * 10] * 2] * 2 + [[b"x" * 10]]
    with pytest.raises(errors.OverloadedError):
        _client(lambda r: httpx.Response(503, json={"error": "overloaded", "message": "full"}), retries=1)[0] \
            .submit_batch([b"\x81"])
