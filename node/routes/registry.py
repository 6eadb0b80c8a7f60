"""Routes over the registry (the present state) joined with the read models: a member's profile
with its timeline, a member's keys, an org unit with its children.

As in ``node/routes/views.py``: each handler names the unit or member its answer concerns
(``concerns = ...``) and asks the caller's scope about it first (node/auth.py), reads one store
snapshot on a reader thread, and answers through ``node/responses.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.errors import NotFound
from ledger.jsonfmt import b64e
from ledger.registry import Registry
from views import member_timeline
from views.paging import MAX_LIMIT, check_limit

from ..auth import Access, access, require_member, require_unit
from ..reads import pool_of
from ..responses import plain, respond
from ..scopes import timeline_visible, timeline_withheld
from .views import check_member_id, check_unit_path, reader_for

__all__ = ["add_routes", "member_profile", "org_view"]

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    401: {"description": "no signed request or session, or a bad request signature"},
    403: {"description": "outside the caller's scope (`out_of_scope`)"},
    404: {"description": "no such member or unit"},
    503: {"description": "the node is busy answering queries; see Retry-After"},
}
_MEMBER = access(Access.MEMBER)


def member_profile(r: Any, member_id: str, *, cursor: str | None, limit: int, keep=None) -> dict:
    """``{member: {member_id, name?, unit, status, roles, keys}, timeline, next_cursor, height}``;
    `keep` filters the timeline's entries (a caller's scope)."""
    registry = Registry(r)
    member = registry.member(member_id)
    if member is None:
        raise NotFound(f"member {member_id!r}")
    member = dict(member, keys=[{"public_key": k["public_key"], "added_at": k["added_at"],
                                 "revoked_at": k["revoked_at"]} for k in registry.member_keys(member_id)])
    page = member_timeline(r, member_id, cursor=cursor, limit=limit, keep=keep)
    return {"member": plain(member), "timeline": page["entries"], "next_cursor": page["next_cursor"],
            "height": r.height}


def org_view(r: Any, path: str) -> dict:
    """``{unit, children: [{path, name, kind, status}], members, height}`` (members: the unit's own, any status)."""
    registry = Registry(r)
    unit = registry.unit(path)
    if unit is None:
        raise NotFound(f"org unit {path!r}")
    return {"unit": plain(unit), "children": [plain(c) for c in registry.children(path)],
            "members": len(registry.members_of(path)), "height": r.height}


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger
    reads = pool_of(app)
    reader = reader_for(app, service)

    @app.get("/v1/members/{member_id}", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_member(
        request: Request, member_id: str,
        cursor: str | None = Query(None, description="`next_cursor` of the previous timeline page"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT, description="timeline entries per page"),
    ) -> Response:
        """A member's identity, unit, status, roles and keys, and one timeline of every status change,
        profile entry, attendance, opinion and finding about them, each linked to its document
        (findings and discipline for inspectors, and the member's own discipline for themself)."""
        concerns = check_member_id(member_id)
        limit = check_limit(limit)
        found = Registry(ledger.store).member(concerns)
        unit = found.get("unit") if found else None
        scope = require_member(request, concerns, unit)
        await request.app.state.trace.read(request, "member", concerns, unit)

        def keep(entry: dict) -> bool:
            return timeline_visible(scope, concerns, unit, entry)

        withheld = timeline_withheld(scope, concerns, unit)

        def answer() -> Response:
            with reader() as r:
                profile = member_profile(r, concerns, cursor=cursor, limit=limit, keep=None if not withheld else keep)
                return respond(request, dict(profile, withheld=withheld) if withheld else profile)

        return await reads.run(answer)

    @app.get("/v1/members/{member_id}/keys", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_member_keys(request: Request, member_id: str) -> Response:
        """`{member_id, keys: [{public_key, added_at, revoked_at}]}`: the member's registered Ed25519
        keys, for sealing a confidential body to them. Any authenticated caller (public keys are no
        secret; the list of members is not public)."""
        concerns = check_member_id(member_id)
        registry = Registry(ledger.store)
        if registry.member(concerns) is None:
            raise NotFound(f"member {concerns!r}")
        keys = [{"public_key": b64e(k["public_key"]), "added_at": k["added_at"], "revoked_at": k["revoked_at"]}
                for k in registry.member_keys(concerns)]
        return respond(request, {"member_id": concerns, "keys": keys})

    @app.get("/v1/orgs/{path:path}", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org(request: Request, path: str) -> Response:
        """A unit, its children and its member count."""
        concerns = check_unit_path(path)
        require_unit(request, concerns)

        def answer() -> Response:
            with reader() as r:
                return respond(request, org_view(r, concerns))

        return await reads.run(answer)
