"""``python -m tests.node.slow_reads --config node.toml``: a node whose stats queries are slow.

TEST WRAPPER. Before the node starts, the stats entry point (``views.unit_stats``; in code
from before the views, ``node.analytics.org_stats``) is wrapped so that each call first
spins the CPU in pure Python for ``$SLOW_READ_SECONDS`` (default 4): a stand-in for a
question that is expensive however the figures are kept. Then the node runs as
``python -m node`` does.
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys
import time

SECONDS = float(os.environ.get("SLOW_READ_SECONDS", "4"))


def _slow(fn):
    def wrapper(*args, **kwargs):
        end = time.monotonic() + SECONDS
        spins = 0
        while time.monotonic() < end:  # holds the GIL but for the interpreter's switch interval
            spins += 1
        return fn(*args, **kwargs)

    return wrapper


def _patch() -> str:
    try:
        views = importlib.import_module("views")
    except ImportError:
        analytics = importlib.import_module("node.analytics")
        analytics.org_stats = _slow(analytics.org_stats)
        return "node.analytics.org_stats"
    stats = importlib.import_module("views.stats")
    views.unit_stats = stats.unit_stats = _slow(stats.unit_stats)
    return "views.unit_stats"


if __name__ == "__main__":
    print(f"slow_reads: {_patch()} spins {SECONDS}s per call", file=sys.stderr, flush=True)
    sys.argv[0] = "node"
    runpy.run_module("node", run_name="__main__")
