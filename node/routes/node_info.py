"""Routes about this node: status, health, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ..auth import Access, access
from ..responses import plain, respond

__all__ = ["add_routes", "root_unit"]


def root_unit(ledger: Any) -> str | None:
    """The genesis unit without a parent (where the web pages start)."""
    try:
        units = ledger.genesis.to_json().get("units", [])
        paths = [u["path"] for u in units]
        return min(paths, key=lambda p: (p.count("/"), p)) if paths else None
    except Exception:  # a presentation hint only
        return None


def add_routes(app: FastAPI, service: Any) -> None:
    ledger = service.ledger

    @app.get("/v1/status", tags=["node"], openapi_extra=access(Access.PUBLIC))
    async def get_status(request: Request) -> Response:
        """Raft role, term, leader, commit and applied index, height, peers."""
        status = plain(dict(service.status()))
        status.setdefault("node_id", service.node_id)
        status.setdefault("height", ledger.height)
        status.setdefault("root_unit", root_unit(ledger))
        return respond(request, status)

    @app.get("/metrics", tags=["node"], response_class=Response, openapi_extra=access(Access.OPERATOR))
    async def get_metrics() -> Response:
        """Prometheus text format. For node keys (it names the heaviest readers), unless
        `access.public_metrics` opens it."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics = getattr(service, "metrics", None)
        registry = getattr(metrics, "registry", None)
        if registry is None:
            return Response(b"", media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["node"], openapi_extra=access(Access.PUBLIC))
    async def healthz(request: Request) -> Response:
        """`{ok: true, node_id, height}` while the process serves requests."""
        return respond(request, {"ok": True, "node_id": service.node_id, "height": ledger.height})
