"""Typed snapshots of a running fleet: what the dashboard and scripts read, at their own pace.

`Fleet.snapshot()` builds a `FleetSnapshot` of plain data (no live objects), so
the screen can render it while the pool keeps changing. The services beside
the pool (store, async queue, reload, observability, endpoint) add their own
views under `extras`; typed accessors below read them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.execution.stats import Counters
from lambdatop.runtime.records import InvocationRecord

__all__ = ["ApiSnapshot", "EndpointView", "EnvSnapshot", "FleetSnapshot", "FunctionSnapshot", "RouteView", "ScheduleView", "SchedulesSnapshot"]


@dataclass(frozen=True, slots=True)
class RouteView:
    """One row of the APIs view."""

    api: str
    kind: str
    stage: str
    method: str
    path: str
    function: str
    authorizer: str | None
    payload_version: str
    requests: int
    client_errors: int
    server_errors: int
    p50_ms: float | None
    p99_ms: float | None
    last_status: int | None

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class ApiSnapshot:
    """What the API service shows the screen: its URL, every route with its figures, and warnings."""

    url: str | None
    routes: tuple[RouteView, ...] = ()
    warnings: tuple[str, ...] = ()
    unmatched: int = 0  # requests no route took (403 / 404)

    def routes_of(self, function: str) -> list[RouteView]:
        return [r for r in self.routes if r.function == function]

    def route_lines(self) -> list[str]:
        """`GET     http://127.0.0.1:3000/hello  → HelloWorldFunction  (ServerlessRestApi, REST, stage Prod)`."""
        lines = []
        for route in sorted(self.routes, key=lambda r: (r.path == "$default", r.path, r.method)):
            where = "/*" if route.path == "$default" else route.path
            auth = f", authorizer {route.authorizer}" if route.authorizer else ""
            lines.append(f"{route.method:<7} {self.url}{where}  → {route.function}  "
                         f"({route.api}, {route.kind}, stage {route.stage}{auth})")
        return lines


@dataclass(slots=True)
class ScheduleView:
    """One schedule on the screen."""

    name: str
    key: str
    kind: str
    functions: tuple[str, ...]
    expression: str
    timezone: str
    enabled: bool
    next_fire_at: float | None  # epoch s; with a flexible window, the picked time inside it
    scheduled_for: float | None  # the schedule's own time for that firing (before the window's offset)
    window_min: int
    last_fired_at: float | None
    fired: int
    errors: int
    last_error: str | None
    description: str
    unresolved: str | None
    arn: str


@dataclass(slots=True)
class SchedulesSnapshot:
    schedules: list[ScheduleView]
    fired: int  # firings since start, all schedules


@dataclass(frozen=True, slots=True)
class EndpointView:
    """The Lambda endpoint as the banner and the header show it."""

    url: str
    requests: int
    remote_warning: str | None  # set when it listens beyond loopback (no authentication)
    function_urls: Mapping[str, str]  # function name -> its local function URL


@dataclass(slots=True)
class EnvSnapshot:
    id: str
    pid: int | None
    state: str
    age_s: float
    idle_s: float
    invocations: int
    rss_mb: float
    code_version: str
    stale: bool
    frozen: bool
    request_id: str | None


@dataclass(slots=True)
class FunctionSnapshot:
    name: str
    code_version: str
    handler: str
    memory_size: int
    timeout: int
    reserved: int | None
    limit: int
    in_use: int
    busy: int
    idle: int
    initializing: int
    envs: list[EnvSnapshot]
    totals: Counters
    invocations_per_s: float
    errors_per_s: float
    throttles_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_memory_used_mb: int
    concurrency_history: list[int]
    config: FunctionConfig

    @property
    def error_pct(self) -> float:
        return 100.0 * self.totals.errors / self.totals.invocations if self.totals.invocations else 0.0

    @property
    def cold_pct(self) -> float:
        return 100.0 * self.totals.cold_starts / self.totals.invocations if self.totals.invocations else 0.0


@dataclass(slots=True)
class FleetSnapshot:
    at: float
    account_limit: int
    in_use: int
    functions: list[FunctionSnapshot]
    recent: list[InvocationRecord]  # newest first
    invocations_per_s: float
    errors_per_s: float
    throttles_per_s: float
    cold_share_pct: float
    endpoint: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint_view(self) -> EndpointView | None:
        view = self.extras.get("endpoint")
        return view if isinstance(view, EndpointView) else None

    @property
    def schedules(self) -> SchedulesSnapshot | None:
        """The schedules service's schedules with their next and last firings (None without it)."""
        view = self.extras.get("schedules")
        return view if isinstance(view, SchedulesSnapshot) else None

    @property
    def api(self) -> ApiSnapshot | None:
        """The API Gateway service's routes and figures (None without the API port)."""
        view = self.extras.get("api")
        return view if isinstance(view, ApiSnapshot) else None
