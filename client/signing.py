"""Signing requests: every SDK and CLI request carries an RFC 9421 signature
made with the caller's key file (ledger/httpsig.py has the profile, node/auth.py
the checks).

::

    from client.sdk import Client
    from ledger.keys import read_key_file

    with Client("http://127.0.0.1:8101", key=read_key_file("keys/m0012.json")) as node:
        node.member("m0012")

:class:`RequestSigner` is an ``httpx.Auth``: httpx runs it on every request
it sends, retries included, so each attempt gets its own ``created``,
``expires`` and ``nonce`` (a retry is never refused as a replay). The path
and query signed are the bytes httpx puts on the wire.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Generator

import httpx

from ledger.httpsig import sign_request
from ledger.jsonfmt import b64e

__all__ = ["RequestSigner", "SIGNATURE_SECONDS"]

SIGNATURE_SECONDS = 60  # how long a signed request stays good (the node accepts at most its max_window_s)


class RequestSigner(httpx.Auth):
    """Signs each request as ``key`` (a ledger.keys.KeyFile, member or node)."""

    requires_request_body = True

    def __init__(self, key: Any, *, lifetime: int = SIGNATURE_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.keyid = key.id
        self._seed = key.seed
        self.lifetime = lifetime
        self.clock = clock

    def sign(self, request: httpx.Request) -> None:
        raw = request.url.raw_path
        path, _, query = raw.partition(b"?")
        created = int(self.clock())
        headers = sign_request(method=request.method, path=path.decode("ascii"), query=query.decode("ascii"),
                               body=request.content, keyid=self.keyid, seed=self._seed, created=created,
                               expires=created + self.lifetime, nonce=b64e(os.urandom(16)))
        request.headers.update(headers)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def __repr__(self) -> str:  # never show the seed
        return f"RequestSigner(keyid={self.keyid!r})"
