"""Routes over the registry and the read models: members, org units, meeting analytics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.errors import NotFound
from ledger.jsonfmt import b64e

from ..analytics import member_history, org_stats, org_view
from ..auth import Access, access, require_member, require_unit
from ..responses import respond
from ..scopes import filter_history, redact_stats

__all__ = ["add_routes"]

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    401: {"description": "no signed request or session, or a bad request signature"},
    403: {"description": "outside the caller's scope (`out_of_scope`)"},
    404: {"description": "no such member or unit"},
}
_MEMBER = access(Access.MEMBER)


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.get("/v1/members/{member_id}", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_member(request: Request, member_id: str) -> Response:
        """A member's profile and history (admission, transfers, awards; discipline for inspectors
        and the member themself)."""
        answer = member_history(ledger, member_id)
        unit = answer["member"].get("unit")
        scope = require_member(request, member_id, unit)
        await request.app.state.trace.read(request, "member", member_id, unit)
        history = filter_history(scope, member_id, unit, answer["history"])
        if len(history) != len(answer["history"]):
            answer = dict(answer, history=history, withheld=["discipline"])
        return respond(request, answer)

    @app.get("/v1/members/{member_id}/keys", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_member_keys(request: Request, member_id: str) -> Response:
        """`{member_id, keys: [{public_key, added_at, revoked_at}]}`: the member's registered Ed25519
        keys, for sealing a confidential body to them. Any authenticated caller (public keys are no
        secret; the list of members is not public)."""
        from ledger.registry import Registry

        registry = Registry(ledger.store)
        if registry.member(member_id) is None:
            raise NotFound(f"member {member_id!r}")
        keys = [{"public_key": b64e(k["public_key"]), "added_at": k["added_at"], "revoked_at": k["revoked_at"]}
                for k in registry.member_keys(member_id)]
        return respond(request, {"member_id": member_id, "keys": keys})

    @app.get("/v1/orgs/{path:path}/stats", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org_stats(
        request: Request, path: str,
        since: int | None = Query(None, description="unix ms; default 6 months before `until`"),
        until: int | None = Query(None, description="unix ms; default now"),
    ) -> Response:
        """Meeting analytics for the unit, rolled up over its sub-units (findings and discipline
        counts only for inspectors)."""
        path = path.strip("/")
        scope = require_unit(request, path)
        return respond(request, redact_stats(scope, path, org_stats(ledger, path, since_ms=since, until_ms=until)))

    @app.get("/v1/orgs/{path:path}", tags=["registry"], responses=_ERRORS, openapi_extra=_MEMBER)
    async def get_org(request: Request, path: str) -> Response:
        """A unit, its children and its member count."""
        require_unit(request, path.strip("/"))
        return respond(request, org_view(ledger, path))
