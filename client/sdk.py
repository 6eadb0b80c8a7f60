"""The Python SDK: sign documents and talk to a node's HTTP API.

::

    from client.sdk import Client
    from ledger.keys import read_key_file

    chair, secretary = read_key_file("keys/m0001.json"), read_key_file("keys/m0002.json")
    with Client("http://127.0.0.1:8101") as node:
        envelope = node.sign({"type": "minutes", "org": "central/p1/c1", "body": {...}}, [chair, secretary])
        result = node.submit(envelope, wait=True)        # {"doc_id", "status": "committed", "receipt"}
        node.verify_receipt(result["receipt"], genesis)   # offline checks, client/verify.py

Errors are the typed classes of ``client/errors.py``, one per API error code.

Reading content needs a key: ``Client(url, key=read_key_file(...))`` signs
every request (RFC 9421, client/signing.py) as that member or node; without
one, only the public routes answer (tree heads, proofs, blocks, status) and
content routes raise :class:`~client.errors.UnauthenticatedError`.

Retries: a 503 (no leader yet, ``overloaded``: the node holds as much
uncommitted work as it may, or ``busy``; the ``Retry-After`` header is honoured) and a
connection failure are retried with exponential back-off and full jitter, up
to ``retries`` times, for every call. That is safe for ``submit`` too: a
document's id is the hash of its bytes, so submitting it twice cannot add it
twice; a retry that finds it committed gets 409 with the receipt, which
``submit`` returns as success with ``"status": "already_committed"`` (pass
``accept_committed=False`` to get :class:`~client.errors.AlreadyCommittedError`
instead).

Batches: ``submit_batch(envelopes)`` sends many envelopes per request
(``POST /v1/documents:batch``, in chunks of at most ``BATCH_DOCUMENTS``
envelopes and ``BATCH_BYTES`` bytes) and returns one result per envelope, in
order: ``pending``, ``committed`` or ``already_committed`` (with the receipt),
or ``error`` with the node's ``error``, ``message``, ``field`` and
``http_status``. A chunk refused whole (503) is sent again as it was.
"""

from __future__ import annotations

import base64
import os
import random
import time
from typing import Any, Iterable, Sequence

import httpx

from ledger.encoding import normalize

from .errors import AlreadyCommittedError, ApiError, ConnectionFailed, UnavailableError, error_from_response
from .signing import RequestSigner

__all__ = ["Client", "AsyncClient", "sign_document", "sign_confidential", "open_sealed", "batch_chunks",
           "DEFAULT_TIMEOUT", "BATCH_DOCUMENTS", "BATCH_BYTES"]

DEFAULT_TIMEOUT = 30.0
MAX_BACKOFF = 10.0
BATCH_DOCUMENTS = 500  # envelopes per batch request (a node takes up to limits.max_batch_documents, 1000)
BATCH_BYTES = 4 << 20  # envelope bytes per batch request (a node takes up to limits.max_batch_bytes, 8 MiB)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _key_pairs(keys: Iterable[Any]) -> list[tuple[str, bytes]]:
    """(signer id, seed) from KeyFile objects or (id, seed) pairs."""
    pairs = []
    for key in keys:
        if isinstance(key, tuple):
            pairs.append((str(key[0]), bytes(key[1])))
        else:
            pairs.append((key.id, key.seed))
    if not pairs:
        raise ValueError("at least one key is needed to sign")
    return pairs


def sign_document(doc: dict, keys: Sequence[Any], *, now_ms: int | None = None) -> bytes:
    """The canonical envelope bytes of `doc` signed with each of `keys`.

    NFC-normalises every string first (the ledger rejects non-NFC input rather
    than repairing it) and fills ``v`` (1), ``nonce`` (16 random bytes),
    ``created_at`` (now, unix ms) and ``refs`` ([]) when missing. A ``nonce``
    given as a base64url string (as JSON and YAML files hold it) is decoded.
    Raises ``InvalidInput`` naming the field if the document breaks a rule.
    """
    from ledger.documents import Document, make_envelope
    from ledger.jsonfmt import b64d

    obj = normalize(dict(doc))
    obj.setdefault("v", 1)
    obj.setdefault("refs", [])
    obj.setdefault("created_at", now_ms if now_ms is not None else _now_ms())
    if "nonce" not in obj or obj["nonce"] is None:
        obj["nonce"] = os.urandom(16)
    elif isinstance(obj["nonce"], str):
        obj["nonce"] = b64d(obj["nonce"], "nonce")
    document = Document.from_obj(obj)
    return make_envelope(document, _key_pairs(keys)).to_bytes()


def sign_confidential(doc: dict, keys: Sequence[Any], recipients: dict[str, list[bytes]], *,
                      meta: dict | None = None, now_ms: int | None = None) -> bytes:
    """The submission bytes of a confidential document: its body replaced by
    the salted commitment with ``recipients`` (``{member id: [Ed25519 public
    keys]}``) and public ``meta``, signed with each of `keys`, together with the
    body sealed to every listed key (ledger/sealing.py). Submit them as any
    envelope (``Client.submit``)."""
    from ledger.sealing import seal_confidential, submission_bytes

    obj = normalize(dict(doc))
    body, boxes = seal_confidential(obj["type"], obj["body"], recipients, meta=normalize(meta or {}))
    obj["body"] = body
    return submission_bytes(sign_document(obj, keys, now_ms=now_ms), boxes)


def open_sealed(document: dict, boxes: list[dict], key: Any) -> dict:
    """The public body of a confidential `document` (as ``get_document`` gives it)
    from the box among `boxes` sealed to `key`, proved to match the
    document's commitment; ProofFailed names what failed."""
    from ledger.documents import Envelope
    from ledger.errors import ProofFailed
    from ledger.jsonfmt import b64d
    from ledger.sealing import SealedBox, open_document

    doc = Envelope.from_bytes(b64d(document["envelope"], "envelope")).doc
    mine = [SealedBox.from_json(b, f"boxes[{i}]") for i, b in enumerate(boxes)]
    mine = [b for b in mine if b.key == key.public_key]
    if not mine:
        raise ProofFailed("sealed_box", f"no box of {document['doc_id']} is sealed to this key of {key.id}")
    return open_document(doc, mine[0].box, key.seed)


def batch_chunks(envelopes: Sequence[bytes], *, max_documents: int = BATCH_DOCUMENTS,
                 max_bytes: int = BATCH_BYTES) -> list[list[bytes]]:
    """`envelopes` cut, in order, into requests of at most `max_documents` envelopes and about
    `max_bytes` bytes (an envelope larger than that goes alone)."""
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for envelope in envelopes:
        if current and (len(current) >= max_documents or size + len(envelope) > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(bytes(envelope))
        size += len(envelope) + 5  # msgpack bin header
    if current:
        chunks.append(current)
    return chunks


def _batch_request(chunk: list[bytes], wait: bool, timeout: float) -> dict[str, Any]:
    import msgpack

    return {"params": {"wait": "committed", "timeout": timeout} if wait else {},
            "content": msgpack.packb(chunk, use_bin_type=True),
            "headers": {"Content-Type": "application/msgpack"}, "timeout": timeout + 10 if wait else None}


class Client:
    """A sync client for one node. Thread-safe as httpx.Client is."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, retries: int = 5,
                 backoff: float = 0.2, transport: httpx.BaseTransport | None = None,
                 rng: random.Random | None = None, sleep=time.sleep, key: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  auth=RequestSigner(key) if key is not None else None,
                                  headers={"Accept": "application/json", "User-Agent": "minutebook-sdk/1"})

    # -- plumbing --

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential back-off, never shorter than Retry-After."""
        cap = min(MAX_BACKOFF, self.backoff * (2 ** attempt))
        delay = self._rng.uniform(0, cap)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF * 3))
        return delay

    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                extra = {"timeout": timeout} if timeout is not None else {}
                response = self._http.request(method, path, **kwargs, **extra)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ConnectionFailed(self.base_url, _reason(exc)) from None
                self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            error = error_from_response(response.status_code, _body(response), response.headers.get("retry-after"))
            if isinstance(error, UnavailableError) and attempt < self.retries:
                self._sleep(self._delay(attempt, error.retry_after))
                attempt += 1
                continue
            raise error

    def _get(self, path: str, **params: Any) -> Any:
        return _body(self._request("GET", path, params={k: v for k, v in params.items() if v is not None}))

    # -- documents --

    def sign(self, doc: dict, keys: Sequence[Any]) -> bytes:
        """See :func:`sign_document`."""
        return sign_document(doc, keys)

    def submit(self, envelope: bytes, *, wait: bool = False, timeout: float = 30.0,
               accept_committed: bool = True) -> dict:
        """Submit canonical envelope bytes.

        Returns ``{doc_id, status: "pending"}``, or with ``wait`` ``{doc_id,
        status: "committed", receipt}``. A document already committed (a
        retry, a resumed import) returns ``{doc_id, status:
        "already_committed", receipt}`` unless ``accept_committed=False``.
        """
        params = {"wait": "committed", "timeout": timeout} if wait else {}
        try:
            response = self._request("POST", "/v1/documents", params=params, content=bytes(envelope),
                                     headers={"Content-Type": "application/msgpack"},
                                     timeout=timeout + 10 if wait else None)
        except AlreadyCommittedError as exc:
            if not accept_committed or not _is_committed_answer(exc):
                raise
            return {"doc_id": exc.doc_id, "status": "already_committed", "receipt": exc.receipt}
        return _body(response)

    def submit_batch(self, envelopes: Sequence[bytes], *, wait: bool = False, timeout: float = 30.0,
                     max_documents: int = BATCH_DOCUMENTS, max_bytes: int = BATCH_BYTES) -> list[dict]:
        """Submit many canonical envelopes (``POST /v1/documents:batch``, chunked); one result
        per envelope, in order (module docstring). With `wait`, each chunk is answered once its
        documents are committed and certified (or timed out, per document)."""
        results: list[dict] = []
        for chunk in batch_chunks(envelopes, max_documents=max_documents, max_bytes=max_bytes):
            response = self._request("POST", "/v1/documents:batch", **_batch_request(chunk, wait, timeout))
            results.extend(_body(response)["results"])
        return results

    def get_document(self, doc_id: str) -> dict:
        return self._get(f"/v1/documents/{doc_id}")

    def receipt(self, doc_id: str) -> dict:
        return self._get(f"/v1/documents/{doc_id}/receipt")

    # -- log --

    def tree_head(self, *, certified: bool = False) -> dict:
        return self._get("/v1/tree-head", certified="true" if certified else None)

    def consistency(self, first: int, second: int) -> dict:
        return self._get("/v1/proofs/consistency", first=first, second=second)

    def block(self, height: int) -> dict:
        return self._get(f"/v1/blocks/{int(height)}")

    def blocks(self, start: int | None = None, limit: int = 20) -> dict:
        """``{height, blocks: [...]}`` from height `start` (default: the latest page)."""
        return self._get("/v1/blocks", limit=limit, **({"from": start} if start is not None else {}))

    def block_envelopes(self, height: int) -> list[bytes]:
        """The canonical envelopes of block `height`, in block order."""
        body = self._get(f"/v1/blocks/{int(height)}/envelopes")
        return [base64.urlsafe_b64decode(e + "=" * (-len(e) % 4)) for e in body["envelopes"]]

    # -- registry --

    def member(self, member_id: str, *, cursor: str | None = None, limit: int | None = None) -> dict:
        """The member's profile and one page of their timeline (``next_cursor`` for the next)."""
        return self._get(f"/v1/members/{member_id}", cursor=cursor, limit=limit)

    def member_keys(self, member_id: str) -> list[dict]:
        """The member's registered keys: ``[{public_key, added_at, revoked_at}]``."""
        return self._get(f"/v1/members/{member_id}/keys")["keys"]

    def session(self) -> dict:
        """Who the node takes this client for: ``{caller, kind, via, scope}``."""
        return self._get("/v1/auth/session")

    def recipient_keys(self, member_ids: Iterable[str]) -> dict[str, list[bytes]]:
        """``{member id: [unrevoked Ed25519 keys]}``, to seal a confidential body to."""
        from ledger.jsonfmt import b64d

        out = {}
        for member in member_ids:
            keys = [b64d(k["public_key"], "public_key") for k in self.member_keys(member) if k["revoked_at"] is None]
            if not keys:
                raise ValueError(f"{member} has no registered key that is not revoked")
            out[member] = keys
        return out

    def sealed(self, doc_id: str) -> list[dict]:
        """Your own sealed boxes of a confidential document (you must be a recipient)."""
        return self._get(f"/v1/documents/{doc_id}/sealed")["boxes"]

    def open(self, doc_id: str, key: Any) -> dict:
        """The body of confidential document `doc_id`, opened with `key` and checked
        against its commitment (see :func:`open_sealed`)."""
        return open_sealed(self.get_document(doc_id), self.sealed(doc_id), key)

    def org(self, path: str) -> dict:
        return self._get(f"/v1/orgs/{path.strip('/')}")

    def stats(self, path: str, *, since: int | str | None = None, until: int | str | None = None,
              by: str | None = None) -> dict:
        """Meeting figures; since/until are unix ms or ISO 8601 dates; ``by="month"`` adds the series."""
        return self._get(f"/v1/orgs/{path.strip('/')}/stats", since=since, until=until, by=by)

    def unit_documents(self, path: str, **query: Any) -> dict:
        """One page of a unit's records (query: type, since, until, cursor, limit, order)."""
        return self._get(f"/v1/orgs/{path.strip('/')}/documents", **query)

    def unit_members(self, path: str, **query: Any) -> dict:
        """One page of a unit's members (query: status, cursor, limit)."""
        return self._get(f"/v1/orgs/{path.strip('/')}/members", **query)

    def member_documents(self, member_id: str, **query: Any) -> dict:
        """One page of the records naming a member (query: type, since, until, cursor, limit, order)."""
        return self._get(f"/v1/members/{member_id}/documents", **query)

    # -- committee work --

    def directives(self, path: str, **query: Any) -> dict:
        """The directives addressed to a unit and those it issued (query: state, until)."""
        return self._get(f"/v1/orgs/{path.strip('/')}/directives", **query)

    def directive(self, doc_id: str, **query: Any) -> dict:
        """A directive's figures, rolled up (query: path, until)."""
        return self._get(f"/v1/directives/{doc_id}", **query)

    def tasks(self, path: str, **query: Any) -> dict:
        """Task figures of a subtree and one page of the unit's tasks (query: state, until, cursor, limit)."""
        return self._get(f"/v1/orgs/{path.strip('/')}/tasks", **query)

    def resolution_tasks(self, doc_id: str) -> dict:
        return self._get(f"/v1/resolutions/{doc_id}/tasks")

    def polls(self, path: str, **query: Any) -> dict:
        return self._get(f"/v1/orgs/{path.strip('/')}/polls", **query)

    def poll(self, doc_id: str) -> dict:
        """A poll's state, roll, fingerprint and (once closed) tally, as the registry holds them."""
        return self._get(f"/v1/polls/{doc_id}")

    def poll_ballots(self, doc_id: str, **query: Any) -> dict:
        """One page of every ballot of a poll, in log order (query: cursor, limit)."""
        return self._get(f"/v1/polls/{doc_id}/ballots", **query)

    def duplicates(self, path: str, **query: Any) -> dict:
        """Near-duplicate minutes and resolutions, repeated opinions (query: since, until, type, min_similarity)."""
        return self._get(f"/v1/orgs/{path.strip('/')}/duplicates", **query)

    def warnings(self, path: str, **query: Any) -> dict:
        """Early warnings of a subtree (query: kind, since, until, min_similarity)."""
        return self._get(f"/v1/orgs/{path.strip('/')}/warnings", **query)

    def due(self, path: str) -> dict:
        """What is due or late in a subtree now."""
        return self._get(f"/v1/orgs/{path.strip('/')}/due")

    # -- node --

    def status(self) -> dict:
        return self._get("/v1/status")

    def health(self) -> dict:
        return self._get("/healthz")

    # -- checkpoints, witnesses, anchors (README "Checkpoints, witnesses and anchors") --

    def checkpoint(self, height: int | None = None) -> str:
        """The latest signed checkpoint (or block `height`'s) as C2SP signed-note text."""
        path = "/checkpoint" if height is None else f"/v1/checkpoints/{int(height)}"
        return self._request("GET", path).text

    def verifier_keys(self, height: int | None = None) -> dict:
        """``{origin, height, signatures_required, keys: [{node_id, vkey}], witness?}``."""
        return self._get("/v1/verifier-keys", height=height)

    def witnessed_checkpoint(self, origin: str) -> str:
        """A witness's latest cosigned checkpoint of `origin` (tlog-witness monitoring route)."""
        from ledger.checkpoint import witnessed_path

        return self._request("GET", witnessed_path(origin)).text

    def anchor(self, origin: str) -> dict:
        """The latest anchor of the lower ledger `origin` in this ledger: ``{origin, doc_id, size,
        root_hash, at_ms}``."""
        return self._get("/v1/anchors", origin=origin)

    @staticmethod
    def verify_receipt(receipt: dict, genesis: dict) -> Any:
        """Check a receipt offline (client/verify.py); raises ProofFailed naming the check."""
        from .verify import verify_receipt

        return verify_receipt(receipt, genesis)


class AsyncClient:
    """The asyncio twin of :class:`Client` (same methods, awaited; same retries)."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, retries: int = 5,
                 backoff: float = 0.2, transport: httpx.AsyncBaseTransport | None = None,
                 rng: random.Random | None = None, sleep=None, key: Any = None) -> None:
        import asyncio

        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._sleep = sleep or asyncio.sleep
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport,
                                       auth=RequestSigner(key) if key is not None else None,
                                       headers={"Accept": "application/json", "User-Agent": "minutebook-sdk/1"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    _delay = Client._delay

    async def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                extra = {"timeout": timeout} if timeout is not None else {}
                response = await self._http.request(method, path, **kwargs, **extra)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ConnectionFailed(self.base_url, _reason(exc)) from None
                await self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            error = error_from_response(response.status_code, _body(response), response.headers.get("retry-after"))
            if isinstance(error, UnavailableError) and attempt < self.retries:
                await self._sleep(self._delay(attempt, error.retry_after))
                attempt += 1
                continue
            raise error

    async def _get(self, path: str, **params: Any) -> Any:
        return _body(await self._request("GET", path, params={k: v for k, v in params.items() if v is not None}))

    def sign(self, doc: dict, keys: Sequence[Any]) -> bytes:
        return sign_document(doc, keys)

    async def submit(self, envelope: bytes, *, wait: bool = False, timeout: float = 30.0,
                     accept_committed: bool = True) -> dict:
        """See :meth:`Client.submit`."""
        params = {"wait": "committed", "timeout": timeout} if wait else {}
        try:
            response = await self._request("POST", "/v1/documents", params=params, content=bytes(envelope),
                                           headers={"Content-Type": "application/msgpack"},
                                           timeout=timeout + 10 if wait else None)
        except AlreadyCommittedError as exc:
            if not accept_committed or not _is_committed_answer(exc):
                raise
            return {"doc_id": exc.doc_id, "status": "already_committed", "receipt": exc.receipt}
        return _body(response)

    async def submit_batch(self, envelopes: Sequence[bytes], *, wait: bool = False, timeout: float = 30.0,
                           max_documents: int = BATCH_DOCUMENTS, max_bytes: int = BATCH_BYTES) -> list[dict]:
        """See :meth:`Client.submit_batch`."""
        results: list[dict] = []
        for chunk in batch_chunks(envelopes, max_documents=max_documents, max_bytes=max_bytes):
            response = await self._request("POST", "/v1/documents:batch", **_batch_request(chunk, wait, timeout))
            results.extend(_body(response)["results"])
        return results

    async def get_document(self, doc_id: str) -> dict:
        return await self._get(f"/v1/documents/{doc_id}")

    async def receipt(self, doc_id: str) -> dict:
        return await self._get(f"/v1/documents/{doc_id}/receipt")

    async def tree_head(self, *, certified: bool = False) -> dict:
        return await self._get("/v1/tree-head", certified="true" if certified else None)

    async def consistency(self, first: int, second: int) -> dict:
        return await self._get("/v1/proofs/consistency", first=first, second=second)

    async def block(self, height: int) -> dict:
        return await self._get(f"/v1/blocks/{int(height)}")

    async def blocks(self, start: int | None = None, limit: int = 20) -> dict:
        return await self._get("/v1/blocks", limit=limit, **({"from": start} if start is not None else {}))

    async def block_envelopes(self, height: int) -> list[bytes]:
        body = await self._get(f"/v1/blocks/{int(height)}/envelopes")
        return [base64.urlsafe_b64decode(e + "=" * (-len(e) % 4)) for e in body["envelopes"]]

    async def member(self, member_id: str, *, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._get(f"/v1/members/{member_id}", cursor=cursor, limit=limit)

    async def member_keys(self, member_id: str) -> list[dict]:
        return (await self._get(f"/v1/members/{member_id}/keys"))["keys"]

    async def session(self) -> dict:
        return await self._get("/v1/auth/session")

    async def org(self, path: str) -> dict:
        return await self._get(f"/v1/orgs/{path.strip('/')}")

    async def stats(self, path: str, *, since: int | str | None = None, until: int | str | None = None,
                    by: str | None = None) -> dict:
        return await self._get(f"/v1/orgs/{path.strip('/')}/stats", since=since, until=until, by=by)

    async def unit_documents(self, path: str, **query: Any) -> dict:
        return await self._get(f"/v1/orgs/{path.strip('/')}/documents", **query)

    async def unit_members(self, path: str, **query: Any) -> dict:
        return await self._get(f"/v1/orgs/{path.strip('/')}/members", **query)

    async def member_documents(self, member_id: str, **query: Any) -> dict:
        return await self._get(f"/v1/members/{member_id}/documents", **query)

    async def status(self) -> dict:
        return await self._get("/v1/status")

    verify_receipt = staticmethod(Client.verify_receipt)


def _is_committed_answer(exc: AlreadyCommittedError) -> bool:
    """A 409 is success for a submission only when it says ``already_committed``
    (another 409, such as a second record of the same meeting, is a refusal)."""
    return exc.code == "already_committed"


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({text})"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return text


def _body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    if "application/msgpack" in content_type:
        import msgpack

        return msgpack.unpackb(response.content, raw=False)
    try:
        return response.json()
    except ValueError:
        if response.status_code >= 400:
            return {"message": response.text[:200] or f"HTTP {response.status_code}"}
        raise ApiError(response.status_code, "bad_response", f"the node answered non-JSON: {response.text[:200]!r}")
