"""Access leaves a trace: reads of member profiles and of inspection findings,
counted per caller in metrics and, if configured, logged to a file for the
security office (README "Read traces").

Theory of operation
-------------------
Routes that answer a member's profile or a finding (and lists of them) call
:meth:`ReadTrace.read` with what was read and whom it was about. Two traces:

- **Metrics.** ``minutebook_content_reads_total{what, caller_kind}`` counts
  every such read by what (``member``, ``finding``) and the kind of caller
  (``member``, ``node``, ``public``): a handful of series whatever the number
  of members. Per caller, a label per member id would be millions of series,
  so ``minutebook_content_reads_top{caller, what}`` keeps only the
  :data:`TOP_CALLERS` heaviest readers since the node started (the
  space-saving algorithm of Metwally, Agrawal and El Abbadi, 2005: a caller
  that read more than 1/TOP_CALLERS of all reads is always listed, each
  count overstated by at most its ``error``, exported as
  ``minutebook_content_reads_top_error``). Early warning of a mass reader is
  what a security office wants from metrics; the full record is the log.
- **The read log** (``access.read_log``, off by default): one JSON object per
  line, ``{at, caller, via, what, subject, unit, route}`` (``at`` unix ms,
  ``caller`` "member m0012" / "node n1", ``via`` "signature" or "session").
  With ``access.read_log_fsync = "always"`` (the default) each line is
  written and fsynced before the answer leaves, so no read that was answered
  is missing from the log after a crash; "never" leaves flushing to the OS
  (faster; the last lines can be lost in a crash). The file is opened for
  appending and never rotated by the node (rotate by renaming it and
  sending nothing: the next line reopens the path).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["ReadTrace", "TopReaders", "TOP_CALLERS"]

TOP_CALLERS = 100


class TopReaders:
    """Space-saving heavy hitters over (caller, what): at most `capacity` entries."""

    def __init__(self, capacity: int = TOP_CALLERS) -> None:
        self.capacity = capacity
        self.counts: dict[tuple[str, str], list[int]] = {}  # key -> [count, error]
        self._lock = threading.Lock()

    def add(self, key: tuple[str, str]) -> None:
        with self._lock:
            entry = self.counts.get(key)
            if entry is not None:
                entry[0] += 1
                return
            if len(self.counts) < self.capacity:
                self.counts[key] = [1, 0]
                return
            victim = min(self.counts, key=lambda k: self.counts[k][0])
            floor = self.counts.pop(victim)[0]
            self.counts[key] = [floor + 1, floor]

    def collect(self):
        with self._lock:
            items = sorted(self.counts.items())
        top = CounterMetricFamily("minutebook_content_reads_top", "reads of profiles and findings by the heaviest "
                                  "readers (space-saving top list; see node/traces.py)", labels=["caller", "what"])
        error = GaugeMetricFamily("minutebook_content_reads_top_error", "upper bound of the overcount of each "
                                  "top-list entry", labels=["caller", "what"])
        for (caller, what), (count, err) in items:
            top.add_metric([caller, what], float(count))
            error.add_metric([caller, what], float(err))
        yield top
        yield error


class ReadTrace:
    """See the module docstring. `metrics` is node/metrics.py's (or None)."""

    def __init__(self, metrics: Any, read_log: str = "", fsync: str = "always") -> None:
        self.top = TopReaders()
        self.total: dict[tuple[str, str], int] = {}
        self._counter = None
        registry = getattr(metrics, "registry", None)
        if registry is not None:
            from prometheus_client import Counter

            self._counter = Counter("minutebook_content_reads", "reads of member profiles and findings",
                                    ["what", "caller_kind"], registry=registry)
            registry.register(self.top)
        self.path = read_log
        self.fsync = fsync == "always"
        self._lock = threading.Lock()

    async def read(self, request: Any, what: str, subject: str, unit: str | None = None) -> None:
        """Count one read of `what` ("member" or "finding") about `subject`; log it if configured."""
        caller = getattr(request.state, "caller", None)
        kind = caller.kind if caller is not None else "public"
        name = str(caller) if caller is not None else "public"
        self.total[(what, kind)] = self.total.get((what, kind), 0) + 1
        self.top.add((name, what))
        if self._counter is not None:
            self._counter.labels(what, kind).inc()
        if self.path:
            route = request.scope.get("route")
            entry = {"at": int(time.time() * 1000), "caller": name, "via": caller.via if caller else None,
                     "what": what, "subject": subject, "unit": unit,
                     "route": getattr(route, "path", request.url.path)}
            line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
            if self.fsync:
                await asyncio.to_thread(self._append, line)
            else:
                self._append(line)

    def _append(self, line: bytes) -> None:
        with self._lock:
            new = not os.path.exists(self.path)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if new and self.fsync:  # the file's name is durable too
                dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
