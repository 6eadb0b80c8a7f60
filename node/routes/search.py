"""Route: search by what a person types into the pages' search box.

``GET /v1/search?q=TEXT`` answers ``{q, results: [...]}``, each result one
reading of the query that names something the ledger holds:

| ``kind`` | when ``q`` is | fields |
|---|---|---|
| ``document`` | a document id (64 lowercase hex) | ``doc_id, type, org, status, height`` |
| ``block`` | a block height that exists | ``height`` |
| ``unit`` | a unit path (``central/p1/k1``, slashes around it ignored) | ``path, name, unit_kind, status`` |
| ``member`` | a member id | ``member_id, name, unit, status`` |

A text can read several ways (``m0010`` is a member id and a valid unit
path): every reading that exists is listed, documents first, then blocks,
units, members. Each lookup is one keyed read of the ledger or the registry,
so a search costs the same however large the ledger is; nothing is scanned.
(Search by name needs an index of names kept as blocks apply; it belongs
with the read models and joins this route when they have one.)

Every result says which unit or member it concerns (``org``, ``path``,
``unit``), and the route keeps only what the caller's scope reads
(node/scopes.py) in one pass over ``results``: a block is public, a document
as ``GET /v1/documents/{id}`` would answer it, a unit as ``GET /v1/orgs/{path}``,
a member as ``GET /v1/members/{id}``. So the route is ``public``: anyone may
search, and finds only what they may open.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.documents import is_member_id, is_org_path
from ledger.errors import NotFound
from ledger.registry import Registry

from ..auth import Access, access, scope_of
from ..responses import respond
from ..scopes import RECORDS, can_read_document, can_read_member

__all__ = ["add_routes", "search", "visible", "MAX_QUERY_CHARS"]

MAX_QUERY_CHARS = 200
_DOC_ID = re.compile(r"^[0-9a-f]{64}$")
_HEIGHT = re.compile(r"^[0-9]{1,18}$")


def search(ledger: Any, q: str) -> dict:
    """The readings of `q` that name something held (module docstring)."""
    text = q.strip()
    results: list[dict] = []
    if _DOC_ID.match(text):
        try:
            record = ledger.document(text)
        except NotFound:
            record = None
        if record is not None:
            results.append({"kind": "document", "doc_id": text, "type": record["doc"].get("type"),
                            "org": record["doc"].get("org"), "status": record["status"], "height": record["height"]})
    if _HEIGHT.match(text) and 1 <= int(text) <= ledger.height:
        results.append({"kind": "block", "height": int(text)})
    registry = Registry(ledger.store)
    path = text.strip("/")
    if is_org_path(path):
        unit = registry.unit(path)
        if unit is not None:
            results.append({"kind": "unit", "path": path, "name": unit.get("name"), "unit_kind": unit.get("kind"),
                            "status": unit.get("status")})
    if is_member_id(text):
        member = registry.member(text)
        if member is not None:
            results.append({"kind": "member", "member_id": text, "name": member.get("name"),
                            "unit": member.get("unit"), "status": member.get("status")})
    return {"q": text, "results": results}


def visible(scope: Any, registry: Any, ledger: Any, result: dict) -> bool:
    """Whether `scope` reads what `result` names (module docstring)."""
    kind = result["kind"]
    if kind == "block":
        return True
    if kind == "document":
        return can_read_document(scope, ledger.document(result["doc_id"])["doc"], registry)
    if kind == "unit":
        return scope.reads(result["path"], RECORDS) or scope.own_unit == result["path"]
    return can_read_member(scope, result["member_id"], result.get("unit"))


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.get("/v1/search", tags=["registry"], responses={400: {"description": "`q` missing or too long"}},
             openapi_extra=access(Access.PUBLIC))
    async def get_search(
        request: Request,
        q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS,
                       description="a document id, a block height, a unit path or a member id"),
    ) -> Response:
        """What the text names, as far as your scope reads it: `{q, results: [{kind: document|block|unit|member,
        ...}]}`."""
        answer = search(ledger, q)
        scope, registry = scope_of(request), Registry(ledger.store)
        answer["results"] = [r for r in answer["results"] if visible(scope, registry, ledger, r)]
        return respond(request, answer)
