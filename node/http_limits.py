"""Bounds on HTTP connections: a header-read timeout and a connection cap.

Theory of operation
-------------------
uvicorn bounds a request's size (node/api.py's guard bounds its body) but not
the time a caller may take to send its headers, nor how many connections may
wait: 3,000 slowloris connections (each sending a header line now and then)
stayed open for a minute, bounded only by the open-files limit. This module
is the HTTP protocol uvicorn runs (``Config(http=guarded_protocol(...))``), a
subclass of uvicorn's httptools protocol (llhttp, the fast C parser; uvicorn's
pure-Python h11 protocol where httptools is not installed) that adds two rules:

- **Header timeout.** From the moment a connection opens, and again from the
  moment each response is complete (a kept-alive connection waiting for its
  next request), the caller has ``header_timeout`` seconds to finish a
  request's headers. If it has not, the connection is closed (counted
  ``header_timeout``). A request whose headers arrived is then the
  application's: its body is bounded in time by the API guard
  (``body_timeout``, node/api.py), and waiting for a block with
  ``?wait=committed`` is bounded by its own ``timeout``.
- **Connection cap.** At most ``max_connections`` are open. A new connection
  beyond that displaces the oldest connection that has been *waiting for
  headers* for at least ``GRACE`` (an idle keep-alive or a slow sender: it has
  no request in progress, so nothing is lost but a socket; counted
  ``displaced``); if there is none, the newcomer is closed at once (counted
  ``over_cap``). The grace keeps a prompt caller, whose request is in flight
  but not yet read while a burst of connections is being accepted, from being
  displaced by that burst. So a flood of slow senders can never starve a
  caller that sends its request promptly: newcomers push the oldest laggards
  out, and laggards are gone within ``header_timeout`` anyway. (A caller that
  connects while more than ``max_connections`` connections opened within the
  last ``GRACE`` is refused: then it cannot be told from the flood. The grace
  is a second, so a loaded node that reads a prompt request late still keeps
  it.)

Only the public asyncio ``Protocol`` methods and uvicorn's ``cycle`` (the
request in progress, ``None`` before the first) and ``on_response_complete``
are relied on; a test (tests/node/test_http_limits.py) runs a real uvicorn
server so an upgrade that changes them fails there.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # both protocols keep `cycle`, `connections` and `on_response_complete` alike
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
except ImportError:  # pragma: no cover - httptools is a dependency; h11 is uvicorn's own fallback
    _BaseProtocol = H11Protocol

__all__ = ["DEFAULT_HEADER_TIMEOUT", "DEFAULT_BODY_TIMEOUT", "DEFAULT_MAX_CONNECTIONS", "GRACE", "guarded_protocol"]

DEFAULT_HEADER_TIMEOUT = 10.0  # seconds: a few KiB of headers over the worst field link
DEFAULT_BODY_TIMEOUT = 60.0  # seconds: a 1 MiB envelope at ~20 KiB/s
DEFAULT_MAX_CONNECTIONS = 512  # well under the open-files limit, with LevelDB's files beside it
GRACE = 1.0  # seconds a new connection is safe from displacement (capped at half the header timeout)

Count = Callable[[str], None]  # count(reason): "header_timeout", "displaced", "over_cap"


def guarded_protocol(*, header_timeout: float = DEFAULT_HEADER_TIMEOUT,
                     max_connections: int = DEFAULT_MAX_CONNECTIONS,
                     count: Count = lambda reason: None, base: type = _BaseProtocol) -> type:
    """uvicorn's HTTP protocol class (`base`: httptools', else h11's) with the module doc's two
    rules, for ``uvicorn.Config(http=...)``."""
    if header_timeout <= 0 or max_connections < 1:
        raise ValueError("header_timeout must be > 0 and max_connections >= 1")
    grace = min(GRACE, header_timeout / 2)

    class GuardedProtocol(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_deadline: asyncio.TimerHandle | None = None
            self._waiting_since = time.monotonic()

        # -- the rules -------------------------------------------------------

        def _waiting_for_headers(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._waiting_since = time.monotonic()
            self._header_deadline = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if self._waiting_for_headers() and not self.transport.is_closing():
                count("header_timeout")
                self.transport.close()

        def _make_room(self) -> bool:
            """Under the cap, or made so by displacing the oldest connection waiting for headers."""
            if sum(1 for c in self.connections if not c.transport.is_closing()) <= max_connections:
                return True
            now = time.monotonic()
            waiting = [c for c in self.connections
                       if c is not self and isinstance(c, GuardedProtocol) and c._waiting_for_headers()
                       and not c.transport.is_closing() and now - c._waiting_since >= grace]
            if not waiting:
                return False
            oldest = min(waiting, key=lambda c: c._waiting_since)
            count("displaced")
            oldest._disarm()
            oldest.transport.close()
            return True

        # -- asyncio.Protocol and uvicorn hooks ----------------------------

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not self._make_room():
                count("over_cap")
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._header_deadline is not None and not self._waiting_for_headers():
                self._disarm()  # a request's headers are in: the application takes it from here

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._waiting_for_headers():
                self._arm()  # kept alive: the next request's headers are due in header_timeout

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedProtocol
