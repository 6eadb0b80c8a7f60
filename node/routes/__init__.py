"""The HTTP API's routes, one module per area; each exposes ``add_routes(app, service)``.

| module | routes |
|---|---|
| ``documents.py`` | submit, read a document, its receipt |
| ``log.py`` | tree heads, consistency proofs, blocks (for auditors) |
| ``views.py`` | the read models: stats, a unit's documents and members, a member's documents |
| ``registry.py`` | a member's profile and timeline, an org unit |
| ``node_info.py`` | status, health, metrics, the explorer page |

``node/api.py`` builds the app and calls each in ``ROUTE_MODULES`` order (a
route with a more general path, e.g. ``/v1/orgs/{path:path}``, must come after
the more specific ones, here or in an earlier module: ``views`` before ``registry``).
Answers and errors are shaped in ``node/responses.py`` only; queries of the read
models run on reader threads (``node/reads.py``).
"""

from __future__ import annotations

__all__ = ["ROUTE_MODULES"]

ROUTE_MODULES = ("documents", "log", "views", "registry", "node_info")
