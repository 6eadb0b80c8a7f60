"""Prometheus metrics of one node, on a registry of its own (not the global one).

Theory of operation
-------------------
Everything the runtime counts lives on :class:`Metrics`, created once per
``NodeRuntime``: several nodes can run in one process (tests) without their
series mixing, which the global ``prometheus_client.REGISTRY`` would do.

- Raft and ledger progress are gauges the runtime sets after each Ready
  (``raft_term``, ``raft_commit_index``, ``applied_height``), counters it bumps
  (``leader_changes_total``, ``blocks_applied_total``, ``stale_proposals_total``,
  ``documents_total{status}`` with status ``accepted``/``rejected``).
- ``uncommitted_documents`` and ``uncommitted_oldest_seconds``: what this
  node answered 202 for and has not yet seen applied (its intake journal),
  bounded by ``limits.max_pending_documents``.
- ``trail_behind_blocks``: blocks the trailing views (views/projection.py
  "Trailing views": the near-duplicate index) have still to be fed; their
  answers say the height they stand at (``as_of_height``).
- ``fsync_seconds{what}``: time spent in the fsynced writes Raft waits on
  (``raft_save`` around ``LevelDBLogStorage.save``, ``ledger_block`` around
  ``Ledger.apply_block``).
- ``api_request_seconds{route, method, status}``: observed by node/api.py.
- ``clock_offset_seconds{peer}`` and ``clock_off``: node/clock.py's warning.
- ``http_connections_open`` and ``http_connections_dropped_total{reason}``:
  the HTTP bounds of node/http_limits.py and node/api.py's body timeout.
- Transport counters come from node/transport.py's ``TransportStats`` at
  scrape time (a custom collector), so the transport needs no reference to
  prometheus: ``minutebook_transport_<counter>_total``.

``render()`` returns the text format for ``GET /metrics``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _TransportCollector:
    """Reads ``TransportStats.as_dict()`` at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, int] | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[CounterMetricFamily]:
        stats = self._stats() or {}
        for name in sorted(stats):
            family = CounterMetricFamily(f"minutebook_transport_{name}", f"peer transport: {name.replace('_', ' ')}")
            family.add_metric([], float(stats[name]))
            yield family


class Metrics:
    """The node's series; see the module docstring."""

    def __init__(self, node_id: str = "") -> None:
        self.node_id = node_id
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.raft_term = Gauge("minutebook_raft_term", "current Raft term", registry=r)
        self.raft_commit_index = Gauge("minutebook_raft_commit_index", "Raft commit index", registry=r)
        self.raft_applied_index = Gauge("minutebook_raft_applied_index", "Raft index applied to the ledger", registry=r)
        self.applied_height = Gauge("minutebook_applied_height", "ledger height (blocks applied)", registry=r)
        self.is_leader = Gauge("minutebook_is_leader", "1 while this node is the Raft leader", registry=r)
        self.leader_changes_total = Counter("minutebook_leader_changes", "leader changes seen", registry=r)
        self.blocks_applied_total = Counter("minutebook_blocks_applied", "blocks applied to the ledger", registry=r)
        self.blocks_certified_total = Counter("minutebook_blocks_certified", "blocks seen certified", registry=r)
        self.documents_total = Counter("minutebook_documents", "documents applied, by status", ["status"],
                                       registry=r)
        self.stale_proposals_total = Counter("minutebook_stale_proposals",
                                             "block proposals applied as no-ops (stale height or prev_hash)",
                                             registry=r)
        self.submissions_total = Counter("minutebook_submissions", "submissions handled, by outcome", ["outcome"],
                                         registry=r)
        self.catchup_blocks_total = Counter("minutebook_catchup_blocks", "blocks fetched from peers and applied",
                                            registry=r)
        self.bad_frames_total = Counter("minutebook_bad_frames", "peer frames dropped by the runtime, by kind",
                                        ["kind"], registry=r)
        self.pending_documents = Gauge("minutebook_pending_documents", "documents in the leader's pending pool",
                                       registry=r)
        self.uncommitted_documents = Gauge(
            "minutebook_uncommitted_documents",
            "documents this node answered 202 for and has not yet seen in an applied block", registry=r)
        self.trail_behind_blocks = Gauge(
            "minutebook_trail_behind_blocks", "blocks applied that the trailing views (near-duplicates) have not "
            "yet been fed", registry=r)
        self.uncommitted_oldest_seconds = Gauge(
            "minutebook_uncommitted_oldest_seconds", "how long the oldest of those has waited", registry=r)
        self.fsync_seconds = Histogram("minutebook_fsync_seconds", "time in fsynced writes", ["what"],
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.clock_offset_seconds = Gauge("minutebook_clock_offset_seconds",
                                          "each peer's wall clock minus ours, estimated from its frames",
                                          ["peer"], registry=r)
        self.clock_off = Gauge("minutebook_clock_off", "1 while a majority of the voters see this node's clock "
                               "beyond the bound (node/clock.py): it proposes nothing", registry=r)
        self.http_connections_dropped_total = Counter(
            "minutebook_http_connections_dropped", "HTTP connections closed by node/http_limits.py, by reason "
            "(header_timeout, displaced, over_cap) or by the API guard (body_timeout)", ["reason"], registry=r)
        self.http_connections_open = Gauge("minutebook_http_connections_open", "HTTP connections open now",
                                           registry=r)
        self.api_request_seconds = Histogram("minutebook_api_request_seconds", "HTTP API request time by route",
                                             ["route", "method", "status"], buckets=_LATENCY_BUCKETS, registry=r)
        self._transport_stats: Callable[[], dict[str, int] | None] = lambda: None
        r.register(_TransportCollector(lambda: self._transport_stats()))

    def watch_transport(self, stats: Callable[[], Any]) -> None:
        """Export the transport's counters; `stats()` returns a ``TransportStats`` (or a dict)."""

        def read() -> dict[str, int] | None:
            value = stats()
            if value is None:
                return None
            return value.as_dict() if hasattr(value, "as_dict") else dict(value)

        self._transport_stats = read

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)
