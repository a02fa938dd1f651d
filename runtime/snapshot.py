"""Typed snapshots of a running fleet: what the dashboard and scripts read, at their own pace.

`Fleet.snapshot()` builds a `FleetSnapshot` of plain data (no live objects), so
the screen can render it while the pool keeps changing. The services beside
the pool (async queue, reload, observability, endpoint, API, schedules, AWS,
triggers, store, traces, packages) each add one typed view, read back through the
accessors of `FleetSnapshot` (`snapshot.reload`, `.alarms`, `.metrics`...): the
dashboard never digs through dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.execution.stats import Counters
from lambdatop.runtime.observability.figures import AlarmsSnapshot, MetricsSnapshot, TracesView
from lambdatop.runtime.records import InvocationRecord

if TYPE_CHECKING:  # their services build them; importing those here would import the services
    from lambdatop.runtime.aws.service import AwsSnapshot
    from lambdatop.runtime.triggers.mapping_state import MappingSnapshot

__all__ = ["ApiSnapshot", "AsyncQueueView", "BrokenView", "CodeVersionView", "ConfigErrorView", "EndpointView", "EnvSnapshot", "FleetSnapshot", "FunctionSnapshot", "InstallView", "ReloadView", "RouteView", "ScheduleView", "SchedulesSnapshot", "StoreView"]


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


@dataclass(frozen=True, slots=True)
class AsyncQueueView:
    """One function's durable async queue, as the table's `async` column and the function screen show it."""

    queue_depth: int
    in_flight: int
    oldest_age_s: float | None
    next_retry_at: float | None
    dlq: int  # dead letters kept for this function


@dataclass(frozen=True, slots=True)
class CodeVersionView:
    version: str  # v1, v2, ... in the order lambdatop saw them
    hash: str  # short
    sha256: str
    at: float


@dataclass(frozen=True, slots=True)
class BrokenView:
    """The last save that failed to load; the function keeps serving the last good version."""

    version: str
    error_type: str
    message: str
    file: str | None
    line: int | None
    where: str | None
    at: float


@dataclass(frozen=True, slots=True)
class ReloadView:
    """One function's code versions and breakage, from the hot-reload service."""

    versions: tuple[CodeVersionView, ...]
    current: str
    broken: BrokenView | None


@dataclass(frozen=True, slots=True)
class InstallView:
    """A function's requirements.txt install (runtime/packages/)."""

    requirements: str  # the file, as shown
    target: str  # the folder it installs into
    state: str  # installing | ready | failed
    detail: str  # the installer's latest progress line, or its whole error message
    seconds: float | None  # how long the install took, once done


@dataclass(frozen=True, slots=True)
class StoreView:
    """The store's writer: where it writes, how far behind it is, and whether writes fail."""

    path: str
    run_id: int | None
    written: int  # rows committed this run
    backlog: int  # waiting for the next batch
    errors: int  # batches that failed to commit
    last_error: str | None
    failing: bool = False  # the last batch failed: history is not being recorded now
    unrecorded: int = 0  # invocations lost to failed batches this run


@dataclass(frozen=True, slots=True)
class ConfigErrorView:
    """A bad save of the config file that the last good config keeps running despite."""

    file: str
    line: int | None
    key: str | None
    function: str | None
    message: str
    text: str  # the whole error as the CLI prints it
    at: float | None


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
    version: str = "$LATEST"  # the Lambda version it runs: $LATEST or a published number (runtime/versions/)


@dataclass(frozen=True, slots=True)
class VersionView:
    """One version of a function ($LATEST or a number): its traffic over the run and its environments now."""

    version: str
    code_version: str  # lambdatop's code version it runs ("v2")
    invocations: int
    errors: int  # function errors (raised, timed out, out of memory, crashed)
    p99_ms: float | None  # of its last 1,000 durations
    busy: int  # environments serving an invocation now: its share of the function's concurrency
    idle: int
    snapstart: str | None = None  # its SnapStart snapshot, in words ("snapshot ready · Init 1003 ms · 4 restores")


@dataclass(frozen=True, slots=True)
class AliasView:
    name: str
    function_version: str
    weights: Mapping[str, float]  # AdditionalVersionWeights
    deployment: str | None  # the latest traffic shift, in words ("Canary10Percent5Minutes 1 → 2: in_progress, 10%")


@dataclass(frozen=True, slots=True)
class VersionsView:
    versions: tuple[VersionView, ...]  # $LATEST first, then the numbers
    aliases: tuple[AliasView, ...]


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
    # `cpu: proportional`: the CPUs each environment may use (memory / 1,769 MB); None when the function is unlimited.
    cpu_share: float | None = None
    cpu_enforced: bool = False  # a cgroup CPU quota applies it (False: no writable cpu controller here)
    versions: VersionsView | None = None  # published versions and aliases, side by side (None: none published)

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
    # What holds each environment together (sandbox.SandboxInfo.describe): "isolation: cgroup v1 (...) under ...".
    isolation: str = ""

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

    @property
    def reload(self) -> Mapping[str, ReloadView] | None:
        """Per function: its code versions and the last failed save (None without hot reload)."""
        view = self.extras.get("reload")
        return view if isinstance(view, Mapping) else None

    @property
    def config_error(self) -> ConfigErrorView | None:
        view = self.extras.get("config_error")
        return view if isinstance(view, ConfigErrorView) else None

    @property
    def async_queues(self) -> Mapping[str, AsyncQueueView] | None:
        """Per function: its async queue (None without the async service)."""
        view = self.extras.get("async")
        return view if isinstance(view, Mapping) else None

    @property
    def alarms(self) -> AlarmsSnapshot | None:
        view = self.extras.get("alarms")
        return view if isinstance(view, AlarmsSnapshot) else None

    @property
    def metrics(self) -> MetricsSnapshot | None:
        """CloudWatch-style figures per function (None without the observability service)."""
        view = self.extras.get("metrics")
        return view if isinstance(view, MetricsSnapshot) else None

    @property
    def aws(self) -> AwsSnapshot | None:
        """The AWS services and the template's resources there (None without the AWS service)."""
        return self.extras.get("aws")

    @property
    def mappings(self) -> list[MappingSnapshot] | None:
        """Every event source mapping with its state and figures (None without the triggers service)."""
        return self.extras.get("triggers")

    @property
    def packages(self) -> Mapping[str, InstallView] | None:
        """Per function with a requirements.txt: its install (None while no function has one)."""
        view = self.extras.get("packages")
        return view if isinstance(view, Mapping) else None

    @property
    def store(self) -> StoreView | None:
        view = self.extras.get("store")
        return view if isinstance(view, StoreView) else None

    @property
    def traces(self) -> TracesView | None:
        view = self.extras.get("traces")
        return view if isinstance(view, TracesView) else None
