"""The HTTP API's routes, one module per area; each exposes ``add_routes(app, service)``.

| module | routes |
|---|---|
| ``documents.py`` | submit, read a document, its receipt |
| ``log.py`` | tree heads, consistency proofs, blocks (for auditors) |
| ``views.py`` | the read models: stats, a unit's documents and members, a member's documents |
| ``committee.py`` | committee work: directives, tasks, polls, near-duplicates, warnings, reminders |
| ``registry.py`` | a member's profile and timeline, an org unit |
| ``node_info.py`` | status, health, metrics |
| ``auth.py`` | page login (challenge, login, logout), the caller's own session |
| ``references.py`` | the documents that refer to a document |
| ``search.py`` | search by document id, block height, unit path, member id |
| ``web.py`` | the web pages (files under ``web/``, ``/login`` among them), ``/docs``, the favicon, ``/v1/site``, ``/v1/genesis`` |
| ``checkpoints.py`` | C2SP checkpoints, the voters' verifier keys, anchors |
| ``witness.py`` | the C2SP tlog-witness endpoints, when the node is a witness (last: its ``/{origin_hash}/checkpoint`` is general) |

``node/api.py`` builds the app and calls each in ``ROUTE_MODULES`` order (a
route with a more general path, e.g. ``/v1/orgs/{path:path}``, must come after
the more specific ones, here or in an earlier module: ``views`` and ``committee`` before ``registry``).
Answers and errors are shaped in ``node/responses.py`` only; queries of the read
models run on reader threads (``node/reads.py``).

Access (node/auth.py, node/scopes.py): **every route declares its access
class** in ``openapi_extra``, merged with anything else it puts there::

    from ..auth import Access, access, require_document, require_unit, scope_of

    @app.get("/v1/things/{id}", tags=[...], openapi_extra=access(Access.MEMBER))
    async def get_thing(request: Request, id: str) -> Response:
        thing = ...
        require_unit(request, thing["unit"])            # 403 out_of_scope outside the caller's scope
        return respond(request, thing)

Classes: ``public`` (integrity without content: tree heads, proofs, blocks,
health, status), ``documents`` (the body's documents carry their own
signatures), ``member`` (content: an authenticated caller, and the handler
checks the scope), ``auditor`` (every envelope: a scope that reads
everything), ``operator`` (a node key). A route that declares nothing is
``member``, and tests/access/test_access_classes.py fails on it: it walks the
OpenAPI document and asks every route unauthenticated. A route answering one
document that a deployment may open to the public (``access.public_types``)
declares ``access(Access.MEMBER, public_types=True)``. Tests read as any
sample member or node with ``tests/access/conftest.py``'s ``World.client(who)``
(a TestClient that signs every request).

A content handler keeps "which unit / member does this answer concern"
explicit and asks the scope before answering: ``require_document(request,
doc, what)``, ``require_unit(request, path, cls)``, ``require_member(request,
id, unit)``; a list keeps only what ``can_read(request, doc)`` allows
(never padded with other units' data); statistics go through
``node.scopes.redact_stats``. A read of a member's profile or of an
inspection finding calls ``await request.app.state.trace.read(request,
"member" | "finding", subject, unit)`` (node/traces.py).
"""

from __future__ import annotations

__all__ = ["ROUTE_MODULES"]

ROUTE_MODULES = ("documents", "log", "views", "committee", "registry", "node_info", "auth", "references", "search",
                 "web", "checkpoints", "witness")
