"""minutebook's node: the asyncio runtime that drives the Raft core over
mutual-TLS peer links, produces and certifies blocks, and serves the HTTP API.

Names are imported lazily (PEP 562) so that small tools importing one module
(``node.config``, ``node.framing``) do not load FastAPI and the runtime.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "NodeRuntime": "node.runtime",
    "NodeService": "node.service",
    "create_app": "node.api",
    "run_node": "node.serve",
    "NodeConfig": "node.config",
    "load_config": "node.config",
    "dump_config": "node.config",
    "NodeError": "node.errors",
    "NoLeader": "node.errors",
    "SubmitTimeout": "node.errors",
    "ForwardFailed": "node.errors",
    "TransportError": "node.errors",
    "PeerRejected": "node.errors",
    "FrameError": "node.errors",
    "Unauthenticated": "node.errors",
    "OutOfScope": "node.errors",
    "AccessSettings": "node.config",
    "Access": "node.auth",
    "Caller": "node.auth",
    "Scope": "node.scopes",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'node' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
