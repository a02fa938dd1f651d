"""`FunctionMetrics`: one function's CloudWatch-like figures, custom (EMF) metrics, cost and alarms.

A Static that renders from the fleet snapshot's typed `metrics` and `alarms` views
(the observability service refreshes them once a second), so it costs the
same whatever the invocation rate. Mounted on the function screen.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from lambdatop.runtime.observability.figures import FunctionMetricsView, WindowFigures
from lambdatop.runtime.snapshot import FleetSnapshot
from lambdatop.tui.widgets.cells import format_usd

STATE_STYLES = {"ALARM": "bold white on red", "OK": "green", "INSUFFICIENT_DATA": "grey58"}


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.2f} ms"
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _n(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return f"{int(value):,}"


def _errors(window: WindowFigures) -> str:
    rate = window.error_rate
    return f"{window.errors}" + (f" ({rate * 100:.1f}%)" if rate else "")


def metrics_table(figures: FunctionMetricsView) -> Table:
    """Last minute and last hour side by side, CloudWatch's metric names down the side."""
    minute, hour = figures.minute, figures.hour
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("last minute", justify="right")
    table.add_column("last hour", justify="right")
    rows = [
        ("Invocations", _n(minute.invocations), _n(hour.invocations)),
        ("Errors", _errors(minute), _errors(hour)),
        ("Throttles", _n(minute.throttles), _n(hour.throttles)),
        ("Timeouts", _n(minute.timeouts), _n(hour.timeouts)),
        ("ColdStarts", _n(minute.cold_starts), _n(hour.cold_starts)),
        ("Duration p50", _ms(minute.duration_p50), _ms(hour.duration_p50)),
        ("Duration p90", _ms(minute.duration_p90), _ms(hour.duration_p90)),
        ("Duration p99", _ms(minute.duration_p99), _ms(hour.duration_p99)),
        ("Duration max", _ms(minute.duration_max), _ms(hour.duration_max)),
        ("InitDuration avg", _ms(minute.init_duration_avg), _ms(hour.init_duration_avg)),
        ("MaxMemoryUsed", _n(minute.max_memory_used) + " MB", _n(hour.max_memory_used) + " MB"),
        ("ConcurrentExecutions max", _n(minute.concurrent_executions_max), _n(hour.concurrent_executions_max)),
    ]
    if minute.async_queue_depth is not None or hour.async_queue_depth is not None:
        rows.append(("AsyncQueueDepth max", _n(minute.async_queue_depth), _n(hour.async_queue_depth)))
        rows.append(("AsyncEventAge max", _ms(minute.async_event_age_max), _ms(hour.async_event_age_max)))
    for row in rows:
        style = "red" if row[0] in ("Errors", "Throttles", "Timeouts") and row[1] not in ("0", "-") else ""
        table.add_row(*row, style=style)
    return table


def render_function(function: str, snapshot: FleetSnapshot, architecture: str = "x86_64", *, stacked: bool = False) -> Table | Text:
    """The panel's content: the metrics table with cost, custom metrics and alarms beside it (below it when `stacked`)."""
    figures = snapshot.metrics
    metrics = figures.functions.get(function) if figures else None
    if metrics is None:
        note = "no metrics yet" if figures else "metrics need the observability service (lambdatop / lambdatop serve)"
        return Text(note, style="dim")
    outer = Table.grid(padding=(0, 4))
    outer.add_column()
    outer.add_column()
    right = Text()
    cost = metrics.cost
    right.append("Cost ", style="bold")
    right.append(f"({architecture}, us-east-1 list price)\n", style="dim")
    right.append(f"  {cost.requests:,} requests  {cost.gb_seconds:.3f} GB-s\n")
    right.append(f"  {format_usd(cost.total_usd)}", style="bold")
    right.append(f"  ≈ ${cost.per_million_usd:.2f} per 1M invocations\n\n")
    custom = metrics.custom
    right.append("Custom metrics (EMF)\n", style="bold")
    if not custom:
        right.append("  none: print Embedded Metric Format lines (Powertools Metrics) to add some\n", style="dim")
    for metric in custom[:12]:
        right.append(f"  {metric.metric}", style="cyan")
        right.append(f" [{metric.unit or 'None'}]  last min {_n(metric.last_minute_sum)}  total {_n(metric.sum)}  n={metric.samples}\n")
    alarms = snapshot.alarms.of(function) if snapshot.alarms else []
    if alarms:
        right.append("\nAlarms\n", style="bold")
        for alarm in alarms:
            right.append(f"  {alarm.state:<17}", style=STATE_STYLES.get(alarm.state, ""))
            right.append(f" {alarm.name}  ")
            right.append(f"{alarm.description}\n", style="dim")
    if stacked:
        stack = Table.grid()
        stack.add_column()
        stack.add_row(metrics_table(metrics))
        stack.add_row(right)
        return stack
    outer.add_row(metrics_table(metrics), right)
    return outer


class FunctionMetrics(Static):
    """The metrics panel of one function; call `refresh_from(snapshot)` at the screen's refresh rate."""

    DEFAULT_CSS = "FunctionMetrics { height: auto; padding: 0 1; }"
    STACK_BELOW = 110  # columns: narrower, cost and custom metrics go below the table instead of beside it

    def __init__(self, function: str, architecture: str = "x86_64", **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.function = function
        self.architecture = architecture
        self._stamp: Any = None

    def refresh_from(self, snapshot: FleetSnapshot) -> None:
        stacked = 0 < self.size.width < self.STACK_BELOW
        metrics, alarms = snapshot.metrics, snapshot.alarms
        stamp = (metrics.at if metrics else None, alarms.open if alarms else None, stacked)
        if stamp == self._stamp and stamp[:2] != (None, None):
            return  # the service refreshes once a second: nothing new to draw
        self._stamp = stamp
        self.update(render_function(self.function, snapshot, self.architecture, stacked=stacked))
