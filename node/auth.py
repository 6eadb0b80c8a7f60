"""Who is asking: authenticated callers for the HTTP API (README "Signed requests").

Theory of operation
-------------------
Every route declares an **access class** in its ``openapi_extra``
(``**access(Access.MEMBER)``), so the class is in the OpenAPI document too,
where a test walks every route (tests/access/test_access_classes.py). One
FastAPI dependency, :func:`authenticate`, runs for every route after
routing, before the handler:

1. If the request carries ``Signature-Input``/``Signature``, the signature is
   checked whatever the route's class (a bad one is never ignored):
   ledger/httpsig.py's profile (``@method``, ``@path``, ``@query``, and
   ``content-digest``, which must match the body, whenever there is one);
   ``created``/``expires`` inside the window (``expires - created <=
   access.max_window_s``, each end with ``access.clock_skew_s`` of slack);
   ``keyid`` a member id or a node id the registry knows, and the signature
   verifies under one of its keys; a member key must not be revoked and the
   member must be active (probationary or full); then the nonce must be new
   (:class:`ReplayCache`, which keeps ``(keyid, nonce)`` until the
   signature's ``expires`` plus the slack, so its size is bounded by the
   request rate times the window, and refuses with 503 past
   ``access.replay_capacity`` rather than forget a nonce early).
2. Otherwise a session cookie (``mb_session``) from a page login
   (:class:`Sessions`, node/routes/auth.py) is honoured, re-checked on
   every request: a key revoked or a member suspended since the login ends
   the session at once.
3. The caller (or None) becomes a :class:`~node.scopes.Scope`
   (:func:`scope_of`, computed on first use), and the class is enforced:

   | class | who may call |
   |---|---|
   | ``public`` | anyone |
   | ``documents`` | anyone: the body's documents carry their own signatures (submit) |
   | ``member`` | an authenticated caller; the handler filters by scope (403 ``out_of_scope``) |
   | ``auditor`` | a caller whose scope reads everything: a node key, an inspector of the root |
   | ``operator`` | a node key |

   A route without a class is treated as ``member``: a route added without
   thought is closed, not open.

Unauthenticated on a closed route: 401 ``unauthenticated`` naming what to
send. A malformed, wrong, expired or replayed signature, an unknown
``keyid`` or a revoked key: 401 ``bad_request_signature`` saying which.

Node-to-node traffic does not come through here: forwarded submissions use
the ``documents`` route, and catch-up and certification run over the
mutual-TLS peer links (node/transport.py), which carry the peer identity.

Replay across nodes: each node keeps its own nonces, so a signed request
captured in transit could be replayed once at each *other* node within its
window. The window is short (the SDK signs for 60 s); serve the API over TLS
so requests cannot be captured.
"""

from __future__ import annotations

import enum
import hashlib
import heapq
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import Request

from ledger.errors import BadRequestSignature
from ledger.httpsig import check_content_digest, parse_request_signature, verify_request_signature
from ledger.jsonfmt import b64e
from ledger.keys import verify
from ledger.registry import ACTIVE, Registry

from .config import AccessSettings
from .errors import NodeError, OutOfScope, Unauthenticated
from .scopes import RECORDS, Scope, can_read_document, can_read_member, scope_for

__all__ = [
    "Access", "access", "route_access", "Caller", "AccessSettings", "ReplayCache", "Sessions", "Challenges",
    "Authenticator", "authenticate", "scope_of", "caller_of", "LOGIN_DOMAIN", "SESSION_COOKIE", "ReplayCacheFull",
    "can_read", "require_document", "require_unit", "require_member",
]

LOGIN_DOMAIN = b"minutebook/login/v1\0"
SESSION_COOKIE = "mb_session"
MAX_KEYS_TRIED = 16  # a member with more registered keys than this authenticates with the newest 16
_NONCE_CHARS = (8, 128)


class Access(enum.Enum):
    """A route's access class (module doc)."""

    PUBLIC = "public"
    DOCUMENTS = "documents"
    MEMBER = "member"
    AUDITOR = "auditor"
    OPERATOR = "operator"


def access(level: Access, *, public_types: bool = False) -> dict:
    """``openapi_extra`` for a route of class `level`: ``@app.get(..., openapi_extra=access(Access.PUBLIC))``.
    `public_types`: a ``member`` route answering one document, which a deployment may open to the
    public for the types in ``access.public_types`` (its handler then calls ``require_document``)."""
    extra = {"x-access": level.value}
    if public_types:
        extra["x-public-types"] = True
    return extra


def route_access(route: Any) -> Access:
    """The class a route declared; ``member`` when it declared none (closed by default)."""
    extra = getattr(route, "openapi_extra", None) or {}
    try:
        return Access(extra.get("x-access", Access.MEMBER.value))
    except ValueError:
        return Access.MEMBER


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: ``kind`` "member" or "node", by ``via``
    "signature" or "session", with the public key that proved it."""

    kind: str
    id: str
    via: str
    key: bytes

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class ReplayCacheFull(NodeError):
    http_status = 503
    code = "busy"

    def __init__(self) -> None:
        self.retry_after = 1.0
        super().__init__("too many signed requests in the replay window; retry shortly")


class ReplayCache:
    """Nonces seen, each kept until its signature's window has passed."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._until: dict[tuple, float] = {}
        self._heap: list[tuple[float, tuple]] = []

    def __len__(self) -> int:
        return len(self._until)

    def add(self, key: tuple, until: float, now: float) -> bool:
        """Remember `key` until `until`; False if it was seen and still kept."""
        heap, kept = self._heap, self._until
        while heap and heap[0][0] < now:
            _, old = heapq.heappop(heap)
            if kept.get(old, now) < now:
                del kept[old]
        if key in kept:
            return False
        if len(kept) >= self.capacity:
            raise ReplayCacheFull()
        kept[key] = until
        heapq.heappush(heap, (until, key))
        return True


class Sessions:
    """Page sessions: an opaque 32-byte token in an HttpOnly cookie; only its
    SHA-256 is kept, in memory (a restart logs everybody out)."""

    def __init__(self, lifetime_s: int, capacity: int) -> None:
        self.lifetime_s = lifetime_s
        self.capacity = capacity
        self._by_hash: dict[bytes, tuple[Caller, float]] = {}

    def open(self, caller: Caller, now: float) -> str:
        self._purge(now)
        if len(self._by_hash) >= self.capacity:
            oldest = min(self._by_hash, key=lambda k: self._by_hash[k][1])
            del self._by_hash[oldest]
        token = b64e(os.urandom(32))
        self._by_hash[hashlib.sha256(token.encode()).digest()] = (caller, now + self.lifetime_s)
        return token

    def get(self, token: str, now: float) -> Caller | None:
        entry = self._by_hash.get(hashlib.sha256(token.encode()).digest())
        if entry is None or entry[1] < now:
            return None
        return entry[0]

    def close(self, token: str) -> bool:
        return self._by_hash.pop(hashlib.sha256(token.encode()).digest(), None) is not None

    def _purge(self, now: float) -> None:
        for key in [k for k, (_, until) in self._by_hash.items() if until < now]:
            del self._by_hash[key]


class Challenges:
    """Login challenges: 32 random bytes, each good once, for ``challenge_s``."""

    def __init__(self, lifetime_s: int, capacity: int = 10_000) -> None:
        self.lifetime_s = lifetime_s
        self.capacity = capacity
        self._until: dict[bytes, float] = {}

    def issue(self, now: float) -> tuple[bytes, float]:
        for old in [c for c, until in self._until.items() if until < now]:
            del self._until[old]
        if len(self._until) >= self.capacity:
            raise ReplayCacheFull()
        challenge = os.urandom(32)
        self._until[challenge] = now + self.lifetime_s
        return challenge, now + self.lifetime_s

    def take(self, challenge: bytes, now: float) -> bool:
        until = self._until.pop(challenge, None)
        return until is not None and until >= now


class Authenticator:
    """Checks request signatures and sessions against the registry (module doc)."""

    def __init__(self, ledger: Any, settings: AccessSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.settings = settings
        self.clock = clock
        self.replay = ReplayCache(settings.replay_capacity)
        self.sessions = Sessions(settings.session_s, settings.max_sessions)
        self.challenges = Challenges(settings.challenge_s)

    def registry(self) -> Registry:
        return Registry(self.ledger.store)

    # -- keys ----------------------------------------------------------------------

    def _candidates(self, registry: Registry, keyid: str) -> list[tuple[str, dict]]:
        """(kind, key record) for every key `keyid` may have signed with: its
        member keys (revoked ones too, so a revoked key is named as such) and
        its node key."""
        out = []
        if registry.member(keyid) is not None:
            keys = sorted(registry.member_keys(keyid), key=lambda k: k["added_at"], reverse=True)
            out += [("member", k) for k in keys[:MAX_KEYS_TRIED]]
        node_key = registry.node_key(keyid)
        if node_key is not None:
            out.append(("node", {"public_key": node_key, "revoked_at": None}))
        return out

    def _admit_key(self, registry: Registry, kind: str, ident: str, record: dict, now_ms: int) -> None:
        """Raise if the key that verified may not authenticate now."""
        if kind != "member":
            return
        revoked = record.get("revoked_at")
        if revoked is not None and now_ms >= revoked:
            raise BadRequestSignature(f"the key of {ident} that signed this request was revoked at {revoked} "
                                      f"(unix ms)")
        member = registry.member(ident) or {}
        if member.get("status") not in ACTIVE:
            raise BadRequestSignature(f"member {ident} is {member.get('status')}; only active members' keys "
                                      f"authenticate requests")

    # -- signatures ----------------------------------------------------------------------

    def check_signature(self, *, method: str, path: str, query: str, signature_input: str, signature: str,
                        content_digest: str | None, body: bytes) -> Caller:
        """The caller who signed this request, or BadRequestSignature saying why not."""
        parsed = parse_request_signature(signature_input, signature)
        settings = self.settings
        now = self.clock()
        skew = settings.clock_skew_s
        if parsed.expires < parsed.created:
            raise BadRequestSignature(f"expires ({parsed.expires}) is before created ({parsed.created})")
        if parsed.expires - parsed.created > settings.max_window_s:
            raise BadRequestSignature(f"the window from created to expires is {parsed.expires - parsed.created} s; "
                                      f"at most {settings.max_window_s} s is accepted")
        if parsed.created > now + skew:
            raise BadRequestSignature(f"created ({parsed.created}) is in the future (now {int(now)}); check the "
                                      f"clock of the signing machine")
        if now > parsed.expires + skew:
            raise BadRequestSignature(f"the signature expired at {parsed.expires} (now {int(now)})")
        if not _NONCE_CHARS[0] <= len(parsed.nonce) <= _NONCE_CHARS[1]:
            raise BadRequestSignature(f"nonce must be {_NONCE_CHARS[0]} to {_NONCE_CHARS[1]} characters")
        if body and not parsed.covers_digest:
            raise BadRequestSignature("a request with a body must cover content-digest")
        registry = self.registry()
        candidates = self._candidates(registry, parsed.keyid)
        if not candidates:
            raise BadRequestSignature(f"keyid {parsed.keyid!r} is no registered member or node")
        for kind, record in candidates:
            if verify_request_signature(parsed, record["public_key"], method=method, path=path, query=query,
                                        content_digest_field=content_digest):
                break
        else:
            raise BadRequestSignature(f"the signature does not verify under any registered key of "
                                      f"{parsed.keyid!r} (is the request changed, or the key not registered?)")
        self._admit_key(registry, kind, parsed.keyid, record, int(now * 1000))
        if parsed.covers_digest:
            check_content_digest(content_digest or "", body)
        if not self.replay.add((kind, parsed.keyid, parsed.nonce), parsed.expires + skew, now):
            raise BadRequestSignature(f"replayed: this signature's nonce was already used (keyid "
                                      f"{parsed.keyid!r}); sign each request afresh")
        return Caller(kind=kind, id=parsed.keyid, via="signature", key=record["public_key"])

    # -- sessions --------------------------------------------------------------------------

    def login(self, member_id: str, challenge: bytes, sig: bytes) -> tuple[Caller, str]:
        """Check a signed login challenge; open a session. BadRequestSignature if refused."""
        now = self.clock()
        if not self.challenges.take(challenge, now):
            raise BadRequestSignature("the challenge is unknown, used or expired; ask for a new one")
        registry = self.registry()
        if registry.member(member_id) is None:
            raise BadRequestSignature(f"{member_id!r} is no registered member")
        for kind, record in self._candidates(registry, member_id):
            if kind == "member" and verify(record["public_key"], LOGIN_DOMAIN, challenge, sig):
                self._admit_key(registry, kind, member_id, record, int(now * 1000))
                caller = Caller(kind="member", id=member_id, via="session", key=record["public_key"])
                return caller, self.sessions.open(caller, now)
        raise BadRequestSignature(f"the challenge's signature does not verify under any registered key of "
                                  f"{member_id!r}")

    def session_caller(self, token: str) -> Caller | None:
        """The session's caller if it is live and its key still may authenticate."""
        now = self.clock()
        caller = self.sessions.get(token, now)
        if caller is None:
            return None
        registry = self.registry()
        record = next((r for k, r in self._candidates(registry, caller.id)
                       if k == "member" and r["public_key"] == caller.key), None)
        try:
            if record is None:
                raise BadRequestSignature("key gone")
            self._admit_key(registry, "member", caller.id, record, int(now * 1000))
        except BadRequestSignature:
            self.sessions.close(token)
            return None
        return caller

    def scope(self, caller: Caller | None) -> Scope:
        return scope_for(caller, self.registry(), self.settings.public_types)


# -- the dependency -----------------------------------------------------------------------


def _effective(level: Access, route: Any, settings: AccessSettings) -> Access:
    if settings.public_metrics and getattr(route, "path", None) == "/metrics":
        return Access.PUBLIC
    return level


async def authenticate(request: Request) -> None:
    """Authenticate the caller and enforce the route's class (module doc)."""
    auth: Authenticator = request.app.state.auth
    route = request.scope.get("route")
    level = _effective(route_access(route), route, auth.settings)
    headers = request.headers
    caller = None
    expired_session = False
    if "signature-input" in headers or "signature" in headers:
        if "signature-input" not in headers or "signature" not in headers:
            raise BadRequestSignature("a signed request carries both Signature-Input and Signature")
        digest = headers.getlist("content-digest")
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        caller = auth.check_signature(
            method=request.method, path=request.scope.get("raw_path", b"").decode("latin-1") or "/",
            query=request.scope.get("query_string", b"").decode("latin-1"),
            signature_input=", ".join(headers.getlist("signature-input")),
            signature=", ".join(headers.getlist("signature")),
            content_digest=", ".join(digest) if digest else None,
            body=await request.body() if has_body or digest else b"")
    elif SESSION_COOKIE in request.cookies:
        caller = auth.session_caller(request.cookies[SESSION_COOKIE])
        expired_session = caller is None
    request.state.caller = caller
    if level in (Access.PUBLIC, Access.DOCUMENTS):
        return
    if caller is None and auth.settings.public_types and (getattr(route, "openapi_extra", None) or {}).get(
            "x-public-types"):
        return  # a document route a deployment opened for some types: the handler decides (401 if not those)
    where = f"{request.method} {getattr(route, 'path', request.url.path)}"
    if caller is None:
        if expired_session:
            raise Unauthenticated(f"{where}: the session has expired or was closed; log in again")
        raise Unauthenticated(f"{where} needs a signed request (RFC 9421 Signature-Input and Signature, keyid = "
                              f"your member id or node id; `minutebook ... --key KEY_FILE` signs) or a session "
                              f"from POST /v1/auth/login")
    scope = scope_of(request)
    if level is Access.AUDITOR and not scope.reads_all:
        raise OutOfScope(scope.describe(), f"{where} (every envelope of a block)")
    if level is Access.OPERATOR and caller.kind != "node":
        raise OutOfScope(scope.describe(), f"{where} (for node operators)")


def caller_of(request: Request) -> Caller | None:
    return getattr(request.state, "caller", None)


def scope_of(request: Request) -> Scope:
    """The caller's scope, computed once per request from the registry."""
    scope = getattr(request.state, "scope", None)
    if scope is None:
        scope = request.app.state.auth.scope(caller_of(request))
        request.state.scope = scope
    return scope


# -- guards for routes: "which unit / member does this answer concern" -----------------------


def _registry(request: Request) -> Registry:
    return request.app.state.auth.registry()


def can_read(request: Request, doc: dict) -> bool:
    """Whether the caller reads the document `doc` (decoded, as in ``Ledger.document()["doc"]``):
    for filtering lists."""
    return can_read_document(scope_of(request), doc, _registry(request))


def require_document(request: Request, doc: dict, what: str) -> None:
    """403 out_of_scope unless the caller reads `doc` (401 for nobody, on a route
    opened to ``access.public_types``)."""
    scope = scope_of(request)
    if not can_read_document(scope, doc, _registry(request)):
        if not scope.authenticated:
            raise Unauthenticated(f"{what} is not among the document types open to the public; sign the request")
        raise OutOfScope(scope.describe(), what)


def require_unit(request: Request, path: str, cls: str = RECORDS, field: str = "path") -> Scope:
    """403 out_of_scope unless the caller reads records of class `cls` of unit `path`
    (or it is the caller's own unit, for ``records``)."""
    scope = scope_of(request)
    if not (scope.reads(path, cls) or (cls == RECORDS and scope.own_unit == path)):
        raise OutOfScope(scope.describe(), f"unit {path}", field)
    return scope


def require_member(request: Request, member_id: str, unit: str | None) -> Scope:
    """403 out_of_scope unless the caller reads the profile of `member_id` (in `unit`)."""
    scope = scope_of(request)
    if not can_read_member(scope, member_id, unit):
        raise OutOfScope(scope.describe(), f"the profile of {member_id}", "member_id")
    return scope
