"""Routes over the registry and the read models: members, org units, meeting analytics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ..analytics import member_history, org_stats, org_view
from ..responses import respond

__all__ = ["add_routes"]

_ERRORS = {
    400: {"description": "malformed input; `field` names what is wrong"},
    404: {"description": "no such member or unit"},
}


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.get("/v1/members/{member_id}", tags=["registry"], responses=_ERRORS)
    async def get_member(request: Request, member_id: str) -> Response:
        """A member's profile and history (admission, transfers, awards, discipline)."""
        return respond(request, member_history(ledger, member_id))

    @app.get("/v1/orgs/{path:path}/stats", tags=["registry"], responses=_ERRORS)
    async def get_org_stats(
        request: Request, path: str,
        since: int | None = Query(None, description="unix ms; default 6 months before `until`"),
        until: int | None = Query(None, description="unix ms; default now"),
    ) -> Response:
        """Meeting analytics for the unit, rolled up over its sub-units."""
        return respond(request, org_stats(ledger, path, since_ms=since, until_ms=until))

    @app.get("/v1/orgs/{path:path}", tags=["registry"], responses=_ERRORS)
    async def get_org(request: Request, path: str) -> Response:
        """A unit, its children and its member count."""
        return respond(request, org_view(ledger, path))
