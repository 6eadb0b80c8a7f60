#!/usr/bin/env python3
"""What checking a request signature costs (node/auth.py, ledger/httpsig.py), on one core.

Everything runs in this one process and thread: the node's FastAPI app
(over tests/node/service_double.py with the sample organisation loaded) is
called through httpx's ASGI transport, so the numbers are the node's own
work per request, without sockets. Requests are signed before the clock
starts (each with its own nonce), so the client's signing is not counted
against the node; it has its own row.

Rows, interleaved in rounds so that the machine's load hits each alike:

- the bare Ed25519 check (pynacl) of one signature base;
- ``Authenticator.check_signature`` alone: parse the two fields, check the
  window, look the key up in the registry, verify, remember the nonce;
- ``GET /v1/tree-head`` unsigned and signed (a public route: the signature
  is still checked), and ``GET /v1/documents/{id}`` signed by a member (the
  scope check too);
- signing one request in the SDK (client/signing.py).

    scripts/bench_auth.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from client.sample_org import SampleOrg  # noqa: E402
from client.sdk import sign_document  # noqa: E402
from client.signing import RequestSigner  # noqa: E402
from ledger.jsonfmt import b64e  # noqa: E402
from ledger.keys import public_key, sign, verify  # noqa: E402
from node.api import create_app  # noqa: E402
from tests.node.service_double import ServiceDouble, key_file  # noqa: E402

ANCHOR = 1_760_000_000_000
NODE_SEEDS = {f"n{i}": hashlib.sha256(f"bench-auth-node-{i}".encode()).digest() for i in (1, 2, 3)}
READER = "m0010"  # the secretary of central/p1/k1/s1


def build():
    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    nodes = [{"node_id": n, "public_key": b64e(public_key(s)), "peer_addr": f"127.0.0.1:{7100 + i}", "role": "voter"}
             for i, (n, s) in enumerate(sorted(NODE_SEEDS.items()), start=1)]
    service = ServiceDouble(org.genesis(nodes), NODE_SEEDS, start_ms=ANCHOR + 60_000)
    for _, docs in org.phases():
        service.apply([sign_document(doc, [(m, org.seed_of(m)) for m in signers]) for doc, signers in docs])
    doc_id = next(d["doc_id"] for d in service.ledger.documents_by("type", "minutes", limit=None)
                  if d["doc"]["org"] == "central/p1/k1/s1")
    return org, service, create_app(service), doc_id


def presigned(signer: RequestSigner, url: str, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        request = httpx.Request("GET", "http://node" + url)
        signer.sign(request)
        out.append({k: v for k, v in request.headers.items() if k in ("signature-input", "signature")})
    return out


async def rate(client: httpx.AsyncClient, url: str, headers: list[dict | None], expect: int) -> float:
    started = time.perf_counter()
    for h in headers:
        r = await client.get(url, headers=h)
        if r.status_code != expect:
            raise SystemExit(f"{url}: expected {expect}, got {r.status_code} {r.text[:200]}")
    return len(headers) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per row per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.requests < 1 or args.rounds < 1:
        ap.error("--requests and --rounds must be at least 1")
    org, service, app, doc_id = build()
    auth = app.state.auth
    auth.replay.capacity = 10 * args.requests * args.rounds + 10
    member = key_file(READER, org.seed_of(READER))
    signer = RequestSigner(member, lifetime=300)
    results: dict[str, list[float]] = {}

    def record(name: str, per_second: float) -> None:
        results.setdefault(name, []).append(per_second)

    base = b'"@method": GET\n"@path": /v1/tree-head\n"@query": ?\n"@signature-params": ("@method" "@path" "@query")'
    sig = sign(member.seed, b"", base)

    async def round_() -> None:
        n = args.requests
        started = time.perf_counter()
        for _ in range(n):
            verify(member.public_key, b"", base, sig)
        record("Ed25519 verify alone (pynacl)", n / (time.perf_counter() - started))

        headers = presigned(signer, "/v1/tree-head", n)
        started = time.perf_counter()
        for h in headers:
            auth.check_signature(method="GET", path="/v1/tree-head", query="", signature_input=h["signature-input"],
                                 signature=h["signature"], content_digest=None, body=b"")
        record("check_signature (parse, window, key lookup, verify, nonce)", n / (time.perf_counter() - started))

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as client:
            record("GET /v1/tree-head unsigned", await rate(client, "/v1/tree-head", [None] * n, 200))
            record("GET /v1/tree-head signed", await rate(client, "/v1/tree-head",
                                                          presigned(signer, "/v1/tree-head", n), 200))
            url = f"/v1/documents/{doc_id}"
            record("GET /v1/documents/{id} signed, scope checked", await rate(client, url,
                                                                               presigned(signer, url, n), 200))
        started = time.perf_counter()
        for _ in range(n):
            signer.sign(httpx.Request("GET", "http://node/v1/tree-head"))
        record("SDK: sign one request", n / (time.perf_counter() - started))

    for _ in range(args.rounds):
        asyncio.run(round_())

    width = max(len(k) for k in results)
    print(f"one core, one process; {args.requests} requests per row, median of {args.rounds} rounds "
          f"(pid {os.getpid()})")
    print(f"{'what':<{width}}  {'per second':>12}  {'µs each':>9}")
    for name, values in results.items():
        per_second = statistics.median(values)
        print(f"{name:<{width}}  {per_second:>12,.0f}  {1e6 / per_second:>9.1f}")
    unsigned = statistics.median(results["GET /v1/tree-head unsigned"])
    signed = statistics.median(results["GET /v1/tree-head signed"])
    print(f"signed / unsigned requests per second on the same route: {signed / unsigned:.2f} "
          f"({1e6 / signed - 1e6 / unsigned:.0f} µs more per request)")


if __name__ == "__main__":
    main()
