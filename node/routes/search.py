"""Route: search by what a person types into the pages' search box.

``GET /v1/search?q=TEXT`` answers ``{q, results: [...], complete, height}``,
each result one reading of the query that names something the ledger holds:

| ``kind`` | when ``q`` is | fields |
|---|---|---|
| ``document`` | a document id (64 lowercase hex) | ``doc_id, type, org, status, height`` |
| ``block`` | a block height that exists | ``height`` |
| ``unit`` | a unit path (``central/p1/k1``, slashes around it ignored), or words of its name | ``path, name, unit_kind, status, match`` |
| ``member`` | a member id, or words of their name | ``member_id, name, unit, status, match`` |

A text can read several ways (``m0010`` is a member id and a valid unit
path): every reading that exists is listed, exact ones first (``match:
"exact"``: documents, blocks, units, members), then names (``match:
"name"``, views/names.py: each word of the query begins a word of the name,
diacritics and case aside; units first). ``complete`` is false when the name
search stopped at its bound (a more precise query finds the rest). Each exact
reading is one keyed read, and the name search one bounded key range, so a
search costs the same however large the ledger is; nothing is scanned whole.

Every result says which unit or member it concerns (``org``, ``path``,
``unit``), and the route keeps only what the caller's scope reads
(node/scopes.py) in one pass over ``results``: a block is public, a document
as ``GET /v1/documents/{id}`` would answer it, a unit as ``GET /v1/orgs/{path}``,
a member as ``GET /v1/members/{id}``. So the route is ``public``: anyone may
search, and finds only what they may open. Reads run on the read pool, over
one store snapshot (node/reads.py), as the other read-model routes do.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ledger.documents import is_member_id, is_org_path
from ledger.errors import NotFound
from ledger.registry import Registry
from views import search_names

from ..auth import Access, access, scope_of
from ..reads import pool_of
from ..responses import plain, respond
from ..scopes import RECORDS, can_read_document, can_read_member
from .views import reader_for

__all__ = ["add_routes", "search", "visible", "MAX_QUERY_CHARS", "MAX_NAME_RESULTS"]

MAX_QUERY_CHARS = 200
MAX_NAME_RESULTS = 30
_DOC_ID = re.compile(r"^[0-9a-f]{64}$")
_HEIGHT = re.compile(r"^[0-9]{1,18}$")


def _unit(path: str, unit: dict, match: str) -> dict:
    return {"kind": "unit", "path": path, "name": unit.get("name"), "unit_kind": unit.get("kind"),
            "status": unit.get("status"), "match": match}


def _member(member_id: str, member: dict, match: str) -> dict:
    return {"kind": "member", "member_id": member_id, "name": member.get("name"), "unit": member.get("unit"),
            "status": member.get("status"), "match": match}


def search(ledger: Any, r: Any, q: str) -> dict:
    """The readings of `q` that name something held (module docstring); `r` a views Reader."""
    text = q.strip()
    results: list[dict] = []
    if _DOC_ID.match(text):
        try:
            record = ledger.document(text)
        except NotFound:
            record = None
        if record is not None:
            results.append({"kind": "document", "doc_id": text, "type": record["doc"].get("type"),
                            "org": record["doc"].get("org"), "status": record["status"], "height": record["height"],
                            "match": "exact"})
    if _HEIGHT.match(text) and 1 <= int(text) <= r.height:
        results.append({"kind": "block", "height": int(text), "match": "exact"})
    registry = Registry(r)
    path = text.strip("/")
    exact: set[tuple[str, str]] = set()
    if is_org_path(path):
        unit = registry.unit(path)
        if unit is not None:
            results.append(_unit(path, unit, "exact"))
            exact.add(("unit", path))
    if is_member_id(text):
        member = registry.member(text)
        if member is not None:
            results.append(_member(text, member, "exact"))
            exact.add(("member", text))
    names = search_names(r, text, limit=MAX_NAME_RESULTS)
    for hit in names["results"]:
        if (hit["kind"], hit["id"]) in exact:
            continue
        if hit["kind"] == "unit":
            unit = registry.unit(hit["id"])
            if unit is not None:
                results.append(_unit(hit["id"], unit, "name"))
        else:
            member = registry.member(hit["id"])
            if member is not None:
                results.append(_member(hit["id"], member, "name"))
    return {"q": text, "results": plain(results), "complete": names["complete"], "height": r.height}


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
    reads = pool_of(app)
    reader = reader_for(app, service)

    @app.get("/v1/search", tags=["registry"], responses={400: {"description": "`q` missing or too long"},
                                                          503: {"description": "the node is busy answering queries"}},
             openapi_extra=access(Access.PUBLIC))
    async def get_search(
        request: Request,
        q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS,
                       description="a document id, a block height, a unit path, a member id, or words of a name"),
    ) -> Response:
        """What the text names, as far as your scope reads it: `{q, results: [{kind: document|block|unit|member,
        match: exact|name, ...}], complete, height}`."""
        scope = scope_of(request)

        def answer() -> Response:
            with reader() as r:
                found = search(ledger, r, q)
                registry = Registry(r)
                found["results"] = [x for x in found["results"] if visible(scope, registry, ledger, x)]
                return respond(request, found)

        return await reads.run(answer)
