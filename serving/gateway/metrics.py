"""Prometheus metrics of one gateway instance (own registry: no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "paddock_gateway_requests",
            "Requests answered, by alias, upstream and HTTP status.",
            ["alias", "upstream", "status"],
            registry=r,
        )
        self.fallbacks = Counter(
            "paddock_gateway_fallbacks",
            "Requests sent to the fallback, by reason.",
            ["alias", "reason"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "paddock_gateway_upstream_errors",
            "Upstream failures, by upstream and reason.",
            ["alias", "upstream", "reason"],
            registry=r,
        )
        self.ttft = Histogram(
            "paddock_gateway_time_to_first_token_seconds",
            "Seconds from upstream send to first event.",
            ["alias", "upstream"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.added = Histogram(
            "paddock_gateway_added_latency_seconds",
            "Seconds the gateway spends before the upstream request is sent.",
            ["alias"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "paddock_gateway_in_flight", "Requests in flight, by alias.", ["alias"], registry=r
        )
        self.pinned_blocked = Counter(
            "paddock_gateway_pinned_unavailable",
            "Pinned-alias requests refused because the primary failed (never sent to Bedrock).",
            ["alias", "reason"],
            registry=r,
        )


class AliasMetrics:
    """One alias's metric children, bound once: ``labels()`` hashes its arguments and takes a lock on
    every call, so the per-request path looks children up in plain dicts instead."""

    def __init__(self, metrics: GatewayMetrics, alias: str) -> None:
        self.metrics, self.alias = metrics, alias
        self.in_flight = metrics.in_flight.labels(alias)
        self.added = metrics.added.labels(alias)
        self._requests: dict[tuple[str, int], Counter] = {}
        self._ttft: dict[str, Histogram] = {}

    def requests(self, upstream: str, status: int) -> Counter:
        """The ``paddock_gateway_requests`` child for this alias, ``upstream`` and HTTP ``status``."""
        child = self._requests.get((upstream, status))
        if child is None:
            child = self.metrics.requests.labels(self.alias, upstream, str(status))
            self._requests[(upstream, status)] = child
        return child

    def ttft(self, upstream: str) -> Histogram:
        """The time-to-first-token histogram child for this alias and ``upstream``."""
        child = self._ttft.get(upstream)
        if child is None:
            child = self._ttft[upstream] = self.metrics.ttft.labels(self.alias, upstream)
        return child
