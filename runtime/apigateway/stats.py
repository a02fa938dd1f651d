"""Per-route counters, and the rows of the typed `ApiSnapshot` the dashboard's APIs view renders.

Counted per client-visible answer (a 504 counts even though the function
kept running), with latency as the client saw it, bounded to the last
`LATENCY_SAMPLES` requests per route.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from lambdatop.runtime.apigateway.model import Route
from lambdatop.runtime.observability.percentiles import percentile
from lambdatop.runtime.snapshot import RouteView

LATENCY_SAMPLES = 1000


@dataclass(slots=True)
class RouteStats:
    requests: int = 0
    client_errors: int = 0  # 4xx
    server_errors: int = 0  # 5xx
    last_status: int | None = None
    latencies_ms: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=LATENCY_SAMPLES))
    _ordered: list[float] | None = None  # sorted latencies, kept until the next request (the screen asks at 4 Hz)

    def add(self, status: int, latency_ms: float) -> None:
        self.requests += 1
        if 400 <= status < 500:
            self.client_errors += 1
        elif status >= 500:
            self.server_errors += 1
        self.last_status = status
        self.latencies_ms.append(latency_ms)
        self._ordered = None

    def percentile(self, fraction: float) -> float | None:
        if self._ordered is None:
            self._ordered = sorted(self.latencies_ms)
        return percentile(self._ordered, fraction)


def route_view(route: Route, stats: RouteStats | None) -> RouteView:
    stats = stats or RouteStats()
    return RouteView(
        api=route.api.logical_id, kind=str(route.api.kind), stage=route.api.stage, method=route.method,
        path=route.path, function=route.function, authorizer=route.authorizer,
        payload_version=route.payload_version, requests=stats.requests,
        client_errors=stats.client_errors, server_errors=stats.server_errors, p50_ms=stats.percentile(0.5),
        p99_ms=stats.percentile(0.99), last_status=stats.last_status,
    )
