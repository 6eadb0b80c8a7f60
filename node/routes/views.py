"""Routes over the read models (``views/``): stats, a unit's documents and members, a member's documents.

Every handler does three things, in this order: it checks its input and names
**the unit or member the answer concerns** (``concerns = ...``) and asks the
caller's scope about it (node/auth.py: 403 ``out_of_scope`` outside it); it
computes the answer on a reader thread (``node/reads.py``: never on the event
loop that drives Raft), filtered to the scope (a list keeps only the
documents the caller reads, stats lose findings and discipline counts unless
the caller reads them: node/scopes.py); and it answers through
``node/responses.py``.

Times in query strings (``since``, ``until``) are unix ms or ISO 8601 dates
(``ledger.timefmt``); a date or time without an offset is read in the
**chain's** time zone, so every node answers the same question the same way.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.documents import is_member_id, is_org_path
from ledger.errors import InvalidInput, MinutebookError
from ledger.registry import Registry, TRANSITIONS
from ledger.timefmt import parse_time
from views import member_documents, unit_documents, unit_members, unit_stats
from views.paging import MAX_LIMIT, check_limit
from views.stats import default_period

from ..auth import Access, access, require_member, require_unit
from ..reads import QUERY_KEYS, pool_of
from ..responses import respond
from ..scopes import can_read_document, redact_stats

__all__ = ["add_routes", "check_unit_path", "check_member_id", "reader_for", "readable"]

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    401: {"description": "no signed request or session, or a bad request signature"},
    403: {"description": "outside the caller's scope (`out_of_scope`)"},
    404: {"description": "no such unit or member"},
    503: {"description": "the node is busy answering queries; see Retry-After"},
}
_MEMBER = access(Access.MEMBER)
_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
MEMBER_STATUSES = tuple(sorted({"probationary", "full"} | {r for _, r in TRANSITIONS.values() if r}))
_TIME_HELP = "unix ms or an ISO 8601 date / date-time (without an offset: the chain's time zone)"


def check_unit_path(path: str) -> str:
    path = path.strip("/")
    if not is_org_path(path):
        raise InvalidInput("path", f"expected an org unit path such as central/p1/k1, got {path!r}")
    return path


def check_member_id(member_id: str) -> str:
    if not is_member_id(member_id):
        raise InvalidInput("member_id", f"expected a member id, got {member_id!r}")
    return member_id


def _check_type(value: str | None) -> str | None:
    if value is not None and not (0 < len(value) <= 40 and set(value) <= _TYPE_CHARS):
        raise InvalidInput("type", f"expected a document type such as minutes, got {value!r}")
    return value


def _check_status(value: str | None) -> str | None:
    if value is not None and value not in MEMBER_STATUSES:
        raise InvalidInput("status", f"expected one of {', '.join(MEMBER_STATUSES)}, got {value!r}")
    return value


def _time(value: str | None, field: str, zone: str) -> int | None:
    return None if value is None else parse_time(value, field, tz=zone)


def _order(value: str) -> bool:
    if value not in ("asc", "desc"):
        raise InvalidInput("order", f"expected asc or desc, got {value!r}")
    return value == "desc"


def reader_for(app: FastAPI, service: Any):
    """A function returning a fresh views Reader with the pool's deadline and key budget."""
    reads = pool_of(app)

    def reader():
        return service.views.reader(max_keys=QUERY_KEYS, deadline=reads.deadline())

    return reader


def readable(ledger: Any, scope: Any, registry: Any):
    """A `keep` for list queries: the items whose document the scope reads (node/scopes.py)."""
    def keep(item: dict) -> bool:
        if scope.everything:
            return True
        try:
            doc = ledger.document(item["doc_id"])["doc"]
        except MinutebookError:
            return False
        return can_read_document(scope, doc, registry)

    return keep


def add_routes(app: FastAPI, service: Any) -> None:
    reads = pool_of(app)
    reader = reader_for(app, service)
    ledger = service.ledger

    def zone() -> str:
        return service.views.zone_name

    @app.get("/v1/orgs/{path:path}/stats", tags=["views"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_stats(
        request: Request, path: str,
        since: str | None = Query(None, description=f"{_TIME_HELP}; default: the start of the month five "
                                                      "months before `until`'s"),
        until: str | None = Query(None, description=f"{_TIME_HELP}; default: now"),
        by: str | None = Query(None, description="`month`: add `series`, every figure per calendar month"),
    ) -> Response:
        """Meeting figures of the unit, rolled up over its sub-units, with one row per sub-unit and one
        for the unit's own records (definitions: README "Stats")."""
        concerns = check_unit_path(path)
        since_ms, until_ms = _time(since, "since", zone()), _time(until, "until", zone())
        if by not in (None, "month"):
            raise InvalidInput("by", f"expected month, got {by!r}")
        scope = require_unit(request, concerns)
        now = int(time.time() * 1000)

        def answer() -> Response:
            with reader() as r:
                first, last = default_period(now, until_ms, since_ms, r.zone)
                stats = unit_stats(r, concerns, since=first, until=last, now=now, by_month=by == "month")
                return respond(request, redact_stats(scope, concerns, stats))

        return await reads.run(answer)

    @app.get("/v1/orgs/{path:path}/documents", tags=["views"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_documents(
        request: Request, path: str,
        type: str | None = Query(None, description="only this document type, e.g. minutes"),
        since: str | None = Query(None, description=_TIME_HELP),
        until: str | None = Query(None, description=_TIME_HELP),
        cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        order: str = Query("asc", description="asc (oldest first) or desc"),
    ) -> Response:
        """Records concerning the unit, by their own date (held_at, adopted_at, effective_at, else
        created_at), current versions only, a page at a time."""
        concerns = check_unit_path(path)
        kind, newest_first = _check_type(type), _order(order)
        since_ms, until_ms = _time(since, "since", zone()), _time(until, "until", zone())
        limit = check_limit(limit)
        scope = require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                keep = readable(ledger, scope, Registry(r))
                return respond(request, {**unit_documents(r, concerns, type=kind, since=since_ms, until=until_ms,
                                                          cursor=cursor, limit=limit, newest_first=newest_first,
                                                          keep=keep),
                                         "height": r.height})

        return await reads.run(answer)

    @app.get("/v1/orgs/{path:path}/members", tags=["views"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_members(
        request: Request, path: str,
        status: str | None = Query(None, description=f"one of {', '.join(MEMBER_STATUSES)}"),
        cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> Response:
        """The unit's own members now (not its sub-units'), by status then member id."""
        concerns = check_unit_path(path)
        wanted, limit = _check_status(status), check_limit(limit)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                return respond(request, {**unit_members(r, concerns, status=wanted, cursor=cursor, limit=limit),
                                         "height": r.height})

        return await reads.run(answer)

    @app.get("/v1/members/{member_id}/documents", tags=["views"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_member_documents(
        request: Request, member_id: str,
        type: str | None = Query(None, description="only this document type"),
        since: str | None = Query(None, description=_TIME_HELP),
        until: str | None = Query(None, description=_TIME_HELP),
        cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        order: str = Query("asc", description="asc (oldest first) or desc"),
    ) -> Response:
        """Records that name the member (signer, subject, chair, secretary, task owner), by their own date.
        Attendances and opinions are in the member's timeline (`GET /v1/members/{id}`)."""
        concerns = check_member_id(member_id)
        kind, newest_first = _check_type(type), _order(order)
        since_ms, until_ms = _time(since, "since", zone()), _time(until, "until", zone())
        limit = check_limit(limit)
        found = Registry(ledger.store).member(concerns)
        scope = require_member(request, concerns, found.get("unit") if found else None)

        def answer() -> Response:
            with reader() as r:
                keep = readable(ledger, scope, Registry(r))
                return respond(request, {**member_documents(r, concerns, type=kind, since=since_ms, until=until_ms,
                                                            cursor=cursor, limit=limit, newest_first=newest_first,
                                                            keep=keep),
                                         "height": r.height})

        return await reads.run(answer)
