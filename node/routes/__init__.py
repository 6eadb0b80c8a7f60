"""The HTTP API's routes, one module per area; each exposes ``add_routes(app, service)``.

| module | routes |
|---|---|
| ``documents.py`` | submit, read a document, its receipt |
| ``log.py`` | tree heads, consistency proofs, blocks (for auditors) |
| ``registry.py`` | members, org units, meeting analytics |
| ``node_info.py`` | status, health, metrics |
| ``search.py`` | search by document id, block height, unit path, member id |
| ``web.py`` | the web pages (files under ``web/``), ``/docs``, the favicon, ``/v1/site``, ``/v1/genesis`` |

``node/api.py`` builds the app and calls each in ``ROUTE_MODULES`` order (a
route with a more general path, e.g. ``/v1/orgs/{path:path}``, must come after
the more specific ones in the same module). Answers and errors are shaped in
``node/responses.py`` only.
"""

from __future__ import annotations

__all__ = ["ROUTE_MODULES"]

ROUTE_MODULES = ("documents", "log", "registry", "node_info", "search", "web")
