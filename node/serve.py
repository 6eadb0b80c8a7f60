"""Run one node process: the runtime and its HTTP API on one asyncio loop.

``minutebook node start --config node.toml`` and ``python -m node --config
node.toml`` both end here. The API is ``node.api.create_app(runtime)`` served
by uvicorn in the same loop (``uvicorn.Server.serve``), so HTTP handlers call
the runtime directly; uvicorn runs node/http_limits.py's protocol (header
timeout, connection cap; ``[limits]`` in the config). SIGTERM and SIGINT make
uvicorn stop accepting; then the runtime stops (links closed, the disk thread
drained, both LevelDB stores closed). A runtime task that hits a broken
invariant also ends the process, with exit status 70; one whose data
directory refuses a write (a full disk) with 75, after one line in the log.

A clean stop is silent: on SIGTERM the runtime first answers every waiting
``?wait=committed`` with 503 (``begin_stop``), uvicorn then finishes what is
in flight (at most 10 s), and only then does the runtime stop; nothing reads
a store after it is closed (the certifier's queued completions are disarmed
first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import uvicorn

from ledger.errors import CorruptionError, InvalidInput, KeyFileError, MinutebookError

from ledger.store import StoreWriteError
from node.config import NodeConfig, load_config
from node.http_limits import guarded_protocol
from node.runtime import NodeRuntime

__all__ = ["run_node", "serve", "http_server"]

log = logging.getLogger("minutebook.node")


async def serve(config_path: str) -> int:
    config = load_config(config_path)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    server: uvicorn.Server | None = None
    runtime: NodeRuntime | None = None

    def shut_down(signum: int) -> None:
        log.info("signal %d: stopping", signum)
        stopping.set()
        if runtime is not None:
            runtime.begin_stop()  # waiting submissions answer 503 now, so uvicorn has nothing to wait for
        if server is not None:
            server.should_exit = True

    # Before anything else, so a SIGTERM while the node starts is a clean stop too.
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shut_down, signum)
    loop.set_exception_handler(_loop_exception_handler)
    runtime = NodeRuntime(config)
    await runtime.start()
    if stopping.is_set():
        runtime.begin_stop()
        await runtime.stop()
        return 0
    from node.api import create_app

    app = create_app(runtime, max_request_bytes=config.max_request_bytes, body_timeout=config.body_timeout)
    server = http_server(app, config, runtime.metrics)
    # uvicorn's own handlers would re-raise the signal after serving, killing us before the runtime stops.
    server.capture_signals = lambda: contextlib.nullcontext()
    serving = loop.create_task(server.serve())
    failed = loop.create_task(runtime.stopped.wait())
    await asyncio.wait({serving, failed}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await asyncio.gather(serving, return_exceptions=True)
    failed.cancel()
    broken = runtime._failed
    await runtime.stop()
    if isinstance(broken, StoreWriteError):
        return 75  # EX_TEMPFAIL: the disk refused a write; restart once there is room
    return 70 if broken is not None else 0


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """CPython 3.11's selector transport can run ``_call_connection_lost`` twice for a socket
    reset during a TLS handshake (seen on lossy links in the fault bed: ``AttributeError:
    'NoneType' object has no attribute 'connection_lost'``, then ``... 'close'``). The connection
    is already gone and nothing of ours is left half done, so that one case is a warning line;
    everything else goes to asyncio's own handler, trace and all."""
    exc = context.get("exception")
    handle = repr(context.get("handle", ""))
    if isinstance(exc, AttributeError) and "_call_connection_lost" in handle:
        log.warning("a peer connection reset during its handshake was closed twice by asyncio (harmless): %s",
                    exc)
        return
    loop.default_exception_handler(context)


def http_server(app: Any, config: NodeConfig, metrics: Any = None) -> uvicorn.Server:
    """The uvicorn server for `app` with the HTTP bounds of node/http_limits.py (header timeout,
    connection cap) from `config`; `metrics` (node.metrics.Metrics) gets their counts."""
    dropped = getattr(metrics, "http_connections_dropped_total", None)
    protocol = guarded_protocol(header_timeout=config.header_timeout, max_connections=config.max_connections,
                                count=(lambda reason: dropped.labels(reason).inc()) if dropped is not None
                                else (lambda reason: None))
    host, port = config.api_host_port
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                           access_log=False, timeout_keep_alive=30, http=protocol,
                                           timeout_graceful_shutdown=10))
    gauge = getattr(metrics, "http_connections_open", None)
    if gauge is not None:
        gauge.set_function(lambda: len(server.server_state.connections))
    return server


def run_node(config_path: str) -> int:
    """Run the node until SIGTERM/SIGINT. Exit codes: 0 stopped cleanly; 2 bad configuration,
    genesis or key file; 1 cannot start (store damaged or of another layout, address in use);
    70 stopped on a broken invariant (the log says which); 75 stopped because the data directory
    refused a write (a full disk: restart once there is room). Start-up problems are one line on
    stderr, never a trace."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per forwarded request otherwise
    try:
        return asyncio.run(serve(config_path))
    except (InvalidInput, KeyFileError) as exc:
        print(f"error: {config_path}: {exc.message}", file=sys.stderr)
        return 2
    except (MinutebookError, CorruptionError) as exc:
        print(f"error: cannot start the node of {config_path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: cannot start the node of {config_path}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
