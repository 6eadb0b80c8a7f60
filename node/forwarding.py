"""A follower forwards submissions to the leader's HTTP API.

Theory of operation
-------------------
Only the leader admits documents (node-runtime.md). A follower that gets
``POST /v1/documents`` sends the same envelope, with the same ``wait`` and
``timeout``, to the leader's ``api_url`` (from ``[peers.<id>]`` in the node
config) and hands back what the leader said: a 2xx answer is returned as the
submit result; any other answer is raised as :class:`LeaderAnswered`, which
carries the leader's status and JSON body so the API renders them unchanged
(a 409 keeps its receipt, a 403 its field). Transport failures (connection
refused, reset, a leader that does not answer in time) are ``ForwardFailed``
(502); an unknown leader or one without an ``api_url`` is ``NoLeader`` (503
with Retry-After) -- a client retries either.

One ``httpx.AsyncClient`` is kept for the node's life, so forwarding reuses
connections to the leader.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgpack

from node.errors import ForwardFailed, NoLeader, NodeError

__all__ = ["Forwarder", "LeaderAnswered"]

log = logging.getLogger("minutebook.forwarding")


class LeaderAnswered(NodeError):
    """The leader refused a forwarded submission; its status and body pass through unchanged."""

    code = "leader_answered"

    def __init__(self, leader: str, status: int, body: dict, retry_after: str | None = None) -> None:
        self.leader = leader
        self.http_status = status
        self.body = body
        self.retry_after = retry_after
        super().__init__(str(body.get("message", f"leader {leader} answered {status}")))

    def to_dict(self) -> dict:
        return dict(self.body)


class Forwarder:
    def __init__(self, api_urls: dict[str, str], *, connect_timeout: float = 3.0) -> None:
        self.api_urls = dict(api_urls)
        self._client: httpx.AsyncClient | None = None
        self.connect_timeout = connect_timeout

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        return self._client

    async def forward(self, leader: str, envelope: bytes, *, wait: bool, timeout: float) -> dict[str, Any]:
        params = {"wait": "committed", "timeout": str(timeout)} if wait else {}
        body = await self._post(leader, "/v1/documents", envelope, params, timeout)
        if not isinstance(body, dict):
            raise ForwardFailed(leader, f"answered with a JSON {type(body).__name__}")
        return body

    async def forward_batch(self, leader: str, envelopes: list[bytes], *, timeout: float) -> list[dict[str, Any]]:
        """Forward a batch (never with `wait`); the leader's per-envelope results, in order."""
        body = await self._post(leader, "/v1/documents:batch", msgpack.packb(list(envelopes), use_bin_type=True), {},
                                timeout)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(envelopes) or not all(
                isinstance(r, dict) and isinstance(r.get("status"), str) for r in results):
            raise ForwardFailed(leader, "answered a batch without one result per envelope")
        return results

    async def _post(self, leader: str, path: str, content: bytes, params: dict, timeout: float) -> Any:
        url = self.api_urls.get(leader, "")
        if not url:
            raise NoLeader(retry_after=1.0, message=f"leader {leader} has no api_url in this node's config")
        try:
            response = await self._http().post(
                url.rstrip("/") + path, params=params, content=content,
                headers={"content-type": "application/msgpack", "accept": "application/json"},
                timeout=httpx.Timeout(timeout + 10.0, connect=self.connect_timeout),
            )
        except httpx.HTTPError as exc:
            raise ForwardFailed(leader, f"{type(exc).__name__}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise ForwardFailed(leader, f"answered {response.status_code} with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise ForwardFailed(leader, f"answered {response.status_code} with a JSON {type(body).__name__}")
        if 200 <= response.status_code < 300:
            return body
        if response.status_code == 503 and body.get("error") == "no_leader":
            try:
                retry = float(response.headers.get("retry-after", "1"))
            except ValueError:
                retry = 1.0
            raise NoLeader(retry_after=retry, message=str(body.get("message", "no leader")))
        raise LeaderAnswered(leader, response.status_code, body, response.headers.get("retry-after"))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
