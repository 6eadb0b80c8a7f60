"""Routes of committee work (issue 10's read side): directives, tasks, polls, near-duplicate
minutes, early warnings and reminders.

Each handler works as node/routes/views.py's do: it checks its input, names **the unit the answer
concerns** (``concerns = ...``: the path asked, or the unit of the directive, resolution or poll
asked about) and asks the caller's scope about it (403 ``out_of_scope``); it computes the answer
on a reader thread from the read models (``views/``) and, for a poll's state and tally, from the
registry in the same snapshot; and it answers through ``node/responses.py``. Every route is of
access class ``member``. Warnings about members and findings (``views.warnings.SENSITIVE_KINDS``)
are discipline-level data: they are answered only to a caller who reads ``sensitive`` records of
the unit (its inspectors), and named in ``withheld`` otherwise.

Times in query strings are unix ms or ISO 8601 (without an offset: the chain's zone).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.errors import InvalidInput, NotFound
from ledger.registry import Registry
from ledger.timefmt import parse_time
from views.directives import directive_figures, issued_directives, unit_directives
from views.paging import MAX_LIMIT, check_limit
from views.polls import poll_ballots, poll_close, unit_polls
from views.reminders import due_items
from views.similarity import DEFAULT_THRESHOLD, check_threshold, near_duplicates, repeated_opinions
from views.tasks import resolution_tasks, task_figures, unit_tasks
from views.warnings import KINDS, SENSITIVE_KINDS, warnings_for

from ..auth import Access, access, require_unit
from ..reads import pool_of
from ..responses import check_doc_id, respond
from ..scopes import SENSITIVE
from .views import check_unit_path, reader_for

__all__ = ["add_routes", "TASK_STATES"]

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    401: {"description": "no signed request or session, or a bad request signature"},
    403: {"description": "outside the caller's scope (`out_of_scope`)"},
    404: {"description": "no such unit, directive, resolution or poll"},
    503: {"description": "the node is busy answering queries; see Retry-After"},
}
_MEMBER = access(Access.MEMBER)
_TIME_HELP = "unix ms or an ISO 8601 date / date-time (without an offset: the chain's time zone)"
TASK_STATES = ("open", "overdue", "done_on_time", "done_late")


def _now() -> int:
    return int(time.time() * 1000)


def _time(value: str | None, field: str, zone: str) -> int | None:
    return None if value is None else parse_time(value, field, tz=zone)


def _choice(value: str | None, field: str, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidInput(field, f"expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _kinds(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    for k in kinds:
        _choice(k, "kind", KINDS)
    return kinds or None


def _threshold(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput("min_similarity", f"expected a number, got {value!r}") from None
    return check_threshold(number)


def _registered_unit(registry: Registry, kind: str, doc_id: str) -> str:
    """The unit of the record `doc_id` of `kind` (the registry's), for the scope check; 404 if none."""
    record = registry.record(doc_id) if kind != "poll" else registry.poll(doc_id)
    if record is None or (kind != "poll" and record["type"] != kind):
        raise NotFound(f"{kind} {doc_id}")
    return record["org"]


def add_routes(app: FastAPI, service: Any) -> None:
    reads = pool_of(app)
    reader = reader_for(app, service)
    ledger = service.ledger
    settings = getattr(getattr(service, "config", None), "views", None)
    default_threshold = getattr(settings, "similarity_threshold", DEFAULT_THRESHOLD)

    def zone() -> str:
        return service.views.zone_name

    def registry() -> Registry:
        return Registry(ledger.store)

    # -- directives --

    @app.get("/v1/orgs/{path:path}/directives", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_directives(
        request: Request, path: str,
        state: str = Query("open", description="`open` (no final report from the unit yet) or `all`"),
        until: str | None = Query(None, description=f"{_TIME_HELP}; lateness is judged at min(until, now)"),
    ) -> Response:
        """The directives addressed to the unit (from units above it) with its answers, and the
        directives it issued with their figures over its subtree (definitions: views/directives.py)."""
        concerns = check_unit_path(path)
        which = _choice(state, "state", ("open", "all"))
        until_ms = _time(until, "until", zone())
        require_unit(request, concerns)
        now = _now()
        as_of = now if until_ms is None else min(until_ms, now)

        def answer() -> Response:
            with reader() as r:
                return respond(request, {"unit": concerns, "as_of": as_of,
                                         "addressed": unit_directives(r, concerns, as_of=as_of,
                                                                      include_done=which == "all"),
                                         "issued": issued_directives(r, concerns, as_of=as_of), "height": r.height})

        return await reads.run(answer)

    @app.get("/v1/directives/{doc_id}", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_directive(
        request: Request, doc_id: str,
        path: str | None = Query(None, description="figures over this unit's subtree (default: the issuer's)"),
        until: str | None = Query(None, description=f"{_TIME_HELP}; lateness is judged at min(until, now)"),
    ) -> Response:
        """A directive's figures: units addressed, acknowledged (late), reported (late), not yet,
        delays (median, p90), rolled up, with one row per sub-unit of `path`."""
        directive = check_doc_id(doc_id)
        unit = check_unit_path(path) if path is not None else None
        until_ms = _time(until, "until", zone())
        concerns = unit or _registered_unit(registry(), "directive", directive)
        require_unit(request, concerns)
        now = _now()
        as_of = now if until_ms is None else min(until_ms, now)

        def answer() -> Response:
            with reader() as r:
                return respond(request, directive_figures(r, directive, path=unit, as_of=as_of))

        return await reads.run(answer)

    # -- tasks --

    @app.get("/v1/orgs/{path:path}/tasks", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_tasks(
        request: Request, path: str,
        state: str | None = Query(None, description=f"list only tasks in this state: {', '.join(TASK_STATES)}"),
        until: str | None = Query(None, description=f"{_TIME_HELP}; open / overdue at min(until, now)"),
        cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> Response:
        """Task figures rolled up over the subtree (open, done on time, done late, overdue, blocked),
        one row per sub-unit, and the unit's own tasks by due date, a page at a time."""
        concerns = check_unit_path(path)
        wanted = _choice(state, "state", TASK_STATES)
        until_ms = _time(until, "until", zone())
        limit = check_limit(limit)
        require_unit(request, concerns)
        now = _now()
        as_of = now if until_ms is None else min(until_ms, now)

        def answer() -> Response:
            with reader() as r:
                page = unit_tasks(r, concerns, as_of=as_of, cursor=cursor, limit=limit, state=wanted)
                return respond(request, {**task_figures(r, concerns, as_of=as_of), "state": wanted,
                                         "items": page["items"], "next_cursor": page["next_cursor"]})

        return await reads.run(answer)

    @app.get("/v1/resolutions/{doc_id}/tasks", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_resolution_tasks(request: Request, doc_id: str) -> Response:
        """A resolution's tasks in force (the original's doc id), each with every progress report."""
        resolution = check_doc_id(doc_id)
        concerns = _registered_unit(registry(), "resolution", resolution)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                return respond(request, resolution_tasks(r, resolution, as_of=_now()))

        return await reads.run(answer)

    # -- polls --

    @app.get("/v1/orgs/{path:path}/polls", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_polls(
        request: Request, path: str,
        cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> Response:
        """The unit's polls, oldest first."""
        concerns = check_unit_path(path)
        limit = check_limit(limit)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                return respond(request, {**unit_polls(r, concerns, cursor=cursor, limit=limit), "height": r.height})

        return await reads.run(answer)

    @app.get("/v1/polls/{doc_id}", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_poll(request: Request, doc_id: str) -> Response:
        """A poll as the registry holds it: motion, options, quorum, the roll fixed at opening and
        its fingerprint, state, and once closed the tally the ledger computed; with the close's doc id."""
        poll_id = check_doc_id(doc_id)
        concerns = _registered_unit(registry(), "poll", poll_id)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                reg = Registry(r)
                poll = reg.poll(poll_id)
                return respond(request, {**poll, "roll": reg.poll_roll(poll_id), "close": poll_close(r, poll_id),
                                         "height": r.height})

        return await reads.run(answer)

    @app.get("/v1/polls/{doc_id}/ballots", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_poll_ballots(
        request: Request, doc_id: str,
        cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> Response:
        """Every ballot accepted for the poll, in log order (a voter's later ballot replaces the earlier:
        recount with `minutebook poll verify`)."""
        poll_id = check_doc_id(doc_id)
        limit = check_limit(limit)
        concerns = _registered_unit(registry(), "poll", poll_id)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                return respond(request, {**poll_ballots(r, poll_id, cursor=cursor, limit=limit), "height": r.height})

        return await reads.run(answer)

    # -- near-duplicates, warnings, reminders --

    @app.get("/v1/orgs/{path:path}/duplicates", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_duplicates(
        request: Request, path: str,
        since: str | None = Query(None, description=f"{_TIME_HELP}: records dated from"),
        until: str | None = Query(None, description=f"{_TIME_HELP}: records dated until"),
        type: str | None = Query(None, description="minutes or resolution (default: both)"),
        min_similarity: str | None = Query(None, description="0.5..1 (default: the node's "
                                                                "views.similarity_threshold)"),
    ) -> Response:
        """Groups of near-duplicate minutes or resolutions with a record of the subtree (each with its
        members and the similarity of its links), and opinion wordings repeated across meetings or
        within one (definitions: views/similarity.py)."""
        concerns = check_unit_path(path)
        kind = _choice(type, "type", ("minutes", "resolution"))
        since_ms, until_ms = _time(since, "since", zone()), _time(until, "until", zone())
        if since_ms is not None and until_ms is not None and since_ms > until_ms:
            raise InvalidInput("since", f"requires since <= until, got {since_ms} > {until_ms}")
        threshold = _threshold(min_similarity, default_threshold)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                groups = near_duplicates(r, concerns, since=since_ms, until=until_ms, threshold=threshold, kind=kind)
                opinions = repeated_opinions(r, concerns, since=since_ms, until=until_ms)
                return respond(request, {**groups, "opinions": {k: opinions[k] for k in
                                                                ("min_meetings", "wordings", "meetings_repeating")}})

        return await reads.run(answer)

    @app.get("/v1/orgs/{path:path}/warnings", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_warnings(
        request: Request, path: str,
        kind: str | None = Query(None, description=f"comma-separated kinds: {', '.join(KINDS)} (default: all)"),
        since: str | None = Query(None, description=f"{_TIME_HELP}: near-duplicates and repeated opinions "
                                                      "of records dated from"),
        until: str | None = Query(None, description=f"{_TIME_HELP}; warnings as of min(until, now)"),
        min_similarity: str | None = Query(None, description="near-duplicates: 0.5..1 (default: the node's)"),
    ) -> Response:
        """Early warnings for the subtree, each with its evidence documents (rules: views/warnings.py)."""
        concerns = check_unit_path(path)
        kinds = _kinds(kind)
        since_ms, until_ms = _time(since, "since", zone()), _time(until, "until", zone())
        threshold = _threshold(min_similarity, default_threshold)
        scope = require_unit(request, concerns)
        sensitive = scope.reads(concerns, SENSITIVE)

        def answer() -> Response:
            with reader() as r:
                found = warnings_for(r, concerns, now=_now(), until=until_ms, since=since_ms, kinds=kinds,
                                     sensitive=sensitive, threshold=threshold)
                if not sensitive:
                    found["withheld"] = sorted(k for k in SENSITIVE_KINDS if kinds is None or k in kinds)
                return respond(request, found)

        return await reads.run(answer)

    @app.get("/v1/orgs/{path:path}/due", tags=["committee"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_due(request: Request, path: str) -> Response:
        """What is due or late in the subtree now: units that have not filed this month's regular
        minutes, directives to acknowledge or report on, tasks due in the next 7 days and tasks late."""
        concerns = check_unit_path(path)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                return respond(request, due_items(r, concerns, now=_now()))

        return await reads.run(answer)
