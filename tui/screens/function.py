"""One function up close: its environments, charts, recent invocations, log tail and config.

Opened with Enter on the functions table; Esc goes back. `K` here kills the
environment under the cursor (or the function's busiest one), Enter on an
invocation opens it (each attempt of a retried async event is its own row),
`l` searches the log; j/k, g/G and ctrl+d/ctrl+u scroll the screen. Everything
shown is a window: the last five minutes of charts, the last hundred
invocations, the last few hundred log lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Log, Sparkline, Static

from lambdatop.runtime.fleet import FleetSnapshot, FunctionSnapshot
from lambdatop.runtime.snapshot import VersionsView
from lambdatop.tui.screens.base import DetailScroll, LambdatopScreen
from lambdatop.tui.widgets.cells import age, ms, pct, rate
from lambdatop.tui.widgets.function_metrics import FunctionMetrics
from lambdatop.tui.widgets.invocation_stream import InvocationStream

if TYPE_CHECKING:
    from lambdatop.tui.app import LambdatopApp

ENV_STATE_STYLE = {"busy": "bold green", "idle": "cyan", "initializing": "yellow", "shutting_down": "dim", "gone": "dim"}


class EnvironmentsTable(DataTable):
    """The function's execution environments, busy ones first (K kills the one under the cursor)."""

    # j/k move the cursor; g/G and ctrl+d/ctrl+u are left to the screen, which scrolls as a whole.
    BINDINGS = [Binding("j", "cursor_down", show=False), Binding("k", "cursor_up", show=False)]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._ids: list[str] = []

    def on_mount(self) -> None:
        for key, label, width in (
            ("id", "ENV", 10), ("pid", "PID", 7), ("state", "STATE", 12), ("age", "AGE", 7), ("idle", "IDLE", 7),
            ("inv", "INVOKES", 7), ("rss", "RSS MB", 7), ("ver", "VER", 4), ("note", "NOTE", 30),
        ):
            self.add_column(label, width=width, key=key)

    @property
    def selected_env(self) -> str | None:
        return self._ids[self.cursor_row] if 0 <= self.cursor_row < len(self._ids) else None

    def refresh_from(self, function: FunctionSnapshot) -> None:
        selected = self.selected_env
        envs = sorted(function.envs, key=lambda e: (e.state != "busy", e.id))
        self.clear()
        for env in envs:
            notes = []
            if env.request_id:
                notes.append(f"serving {env.request_id[:8]}")
            if env.frozen:
                notes.append("frozen")
            if env.stale:
                notes.append("stale (old code)")
            if env.version != "$LATEST":
                notes.append(f"version {env.version}")
            self.add_row(
                env.id, str(env.pid or "-"), Text(env.state, style=ENV_STATE_STYLE.get(env.state, "")), age(env.age_s),
                age(env.idle_s) if env.state == "idle" else "-", str(env.invocations), f"{env.rss_mb:.1f}",
                env.code_version, ", ".join(notes), key=env.id,
            )
        self._ids = [e.id for e in envs]
        if selected in self._ids:
            self.move_cursor(row=self._ids.index(selected), animate=False)


def _metrics_panel(function: str, app: LambdatopApp) -> Widget:
    """observability: CloudWatch-like metrics, EMF custom metrics, cost and alarms of this function."""
    config = app.fleet.functions.get(function)
    return FunctionMetrics(function, config.architecture if config else "x86_64", id="fn-metrics")


class FunctionScreen(LambdatopScreen[None]):
    """One function up close (see the module docstring)."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.function_name = name
        self._log_seen = 0

    def compose(self) -> ComposeResult:
        yield Static(id="fn-title")
        with DetailScroll(id="fn-body"):
            with Horizontal(id="fn-charts"):
                with Vertical(classes="chart"):
                    yield Static("concurrency", id="conc-label", classes="chart-label")
                    yield Sparkline([], id="conc-chart")
                with Vertical(classes="chart"):
                    yield Static("duration", id="dur-label", classes="chart-label")
                    yield Sparkline([], id="dur-chart")
            with Vertical(id="fn-envs-box", classes="box"):
                yield EnvironmentsTable(id="fn-envs")
            with Vertical(id="fn-stream-box", classes="box"):
                yield InvocationStream(function=self.function_name, id="fn-stream", attempts=self.app.activity.attempts)
                yield Static(classes="stream-hint")
            # observability: CloudWatch-like metrics, EMF custom metrics, cost and alarms of this function.
            # Below what changes by the second (environments, invocations), at its full height.
            with Vertical(id="fn-metrics-box", classes="box"):
                yield _metrics_panel(self.function_name, self.app)
            with Horizontal(id="fn-bottom"):
                with Vertical(id="fn-log-box", classes="box"):
                    yield Log(max_lines=400, id="fn-log", auto_scroll=True)
                with Vertical(id="fn-config-box", classes="box"):
                    yield Static(id="fn-config")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#fn-envs-box").border_title = "environments"
        self.query_one("#fn-stream-box").border_title = "recent invocations"
        self.query_one("#fn-log-box").border_title = "log tail"
        self.query_one("#fn-config-box").border_title = "config"
        self.query_one("#fn-metrics-box").border_title = "metrics · cost · alarms"
        self.query_one("#fn-envs", EnvironmentsTable).focus()
        # After the first layout: a frame skips a screen still mounting, and one before layout would draw at
        # guessed widths (the charts' span, whether the metrics panel stacks) until the next frame.
        self.call_after_refresh(self.app.refresh_now)

    # -- what the app's keys act on ----------------------------------------------------

    def selected_function(self) -> str | None:
        return self.function_name

    def selected_invocation(self) -> str | None:
        stream = self.query_one("#fn-stream", InvocationStream)
        return stream.selected_request_id if self.focused is stream else None

    def selected_attempt(self) -> int | None:
        stream = self.query_one("#fn-stream", InvocationStream)
        return stream.selected_attempt if self.focused is stream else None

    def selected_environment(self) -> str | None:
        table = self.query_one("#fn-envs", EnvironmentsTable)
        return table.selected_env if self.focused is table else None

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "fn-stream" or not event.row_key.value:
            return
        event.stop()
        row = self.query_one("#fn-stream", InvocationStream).shown_row(event.row_key.value)
        if row is not None:
            self.app.open_invocation(row[0].request_id, row[1])

    # -- refreshing -------------------------------------------------------------------

    def refresh_from(self, snapshot: FleetSnapshot, status: str = "") -> None:
        function = next((f for f in snapshot.functions if f.name == self.function_name), None)
        title = self.query_one("#fn-title", Static)
        if function is None:
            title.update(Text(f" {self.function_name}: no longer in the configuration (removed by a reload)", style="bold red"))
            return
        activity = self.app.activity
        title.update(self._title(function, snapshot))
        concurrency, durations = activity.history(function.name, snapshot.at)
        # The gate's own per-second peaks catch spikes shorter than one screen refresh.
        recent_peaks = function.concurrency_history
        for offset, peak in enumerate(reversed(recent_peaks)):
            index = len(concurrency) - 1 - offset
            if index >= 0 and peak > concurrency[index]:
                concurrency[index] = float(peak)
        width = max(10, self.query_one("#conc-chart").size.width or 60)
        self.query_one("#conc-chart", Sparkline).data = concurrency[-width:]
        self.query_one("#dur-chart", Sparkline).data = durations[-width:]
        span = min(width, len(concurrency))
        self.query_one("#conc-label", Static).update(
            Text.assemble(("concurrency", "bold"), f" · last {age(span)} · peak {max(concurrency[-span:], default=0):.0f} of {function.limit}")
        )
        shown = [d for d in durations[-span:] if d]
        self.query_one("#dur-label", Static).update(
            Text.assemble(("duration", "bold"), f" · last {age(span)} · mean/s peak {ms(max(shown) if shown else None)}")
        )
        for panel in self.query("#fn-metrics").results(FunctionMetrics):
            panel.refresh_from(snapshot)
        self.query_one("#fn-envs", EnvironmentsTable).refresh_from(function)
        self.query_one("#fn-envs-box").border_title = f"environments · {function.busy} busy · {function.idle} idle · {function.initializing} initializing"
        self.query_one("#fn-stream", InvocationStream).refresh_from(activity.recent_records(function.name))
        self._append_log()
        self.query_one("#fn-config", Static).update(self._config(function, snapshot))

    def _append_log(self) -> None:
        log = self.query_one("#fn-log", Log)
        tail = self.app.activity.log_tail(self.function_name)
        total = self.app.activity.log_counts.get(self.function_name, 0)
        new = min(total - self._log_seen, len(tail))
        if new > 0:
            log.write_lines(tail[-new:])
        self._log_seen = total

    def _title(self, f: FunctionSnapshot, snapshot: FleetSnapshot) -> Text:
        text = Text()
        text.append(f" {f.name} ", style="bold black on #ff9900")
        cpu = "" if f.cpu_share is None else f" ({f.cpu_share:.2f} vCPU{'' if f.cpu_enforced else ', not applied'})"
        text.append(f" {f.code_version}  {f.handler}  {f.config.runtime}  {f.memory_size} MB{cpu}  {f.timeout}s timeout\n")
        text.append(f" in use {f.in_use}/{f.limit}", style="bold")
        text.append(f"  inv/s {rate(f.invocations_per_s)}  err {f.totals.errors} ({pct(f.error_pct)})  thr {f.totals.throttles}"
                    f"  t/o {f.totals.timeouts}  cold {pct(f.cold_pct)}")
        # Durations are the metrics panel's (p50/p90/p99 over the last minute and hour): one set of
        # percentiles on this screen, not a second one over another window beside it.
        reload = (snapshot.reload or {}).get(f.name)
        broken = reload.broken if reload else None
        if broken:
            where = f" at {broken.where}" if broken.where else ""
            text.append(f"\n ✗ reload failed: {broken.error_type}: {broken.message}{where} (still serving the last good version)",
                        style="bold white on red")
        install = (snapshot.packages or {}).get(f.name)
        if install is not None and install.state == "failed":  # the installer's own message, whole (runtime/packages/)
            text.append(f"\n ✗ {install.requirements} did not install:\n{install.detail}", style="bold white on red")
        elif install is not None and install.state == "installing":
            text.append(f"\n ⧗ installing {install.requirements}: {install.detail}", style="bold black on yellow")
        return text

    def _config(self, f: FunctionSnapshot, snapshot: FleetSnapshot) -> Text:
        config = f.config
        lines: list[tuple[str, str]] = [
            ("FunctionName", config.function_name or config.name),
            ("Handler", config.handler),
            ("Runtime", f"{config.runtime} ({config.architecture})"),
            ("CodeUri", _shown_path(config.code_dir)),
            ("MemorySize", f"{config.memory_size} MB"),
            *_cpu_rows(f),
            ("Timeout", f"{config.timeout} s"),
            ("ReservedConcurrency", "-" if config.reserved_concurrency is None else str(config.reserved_concurrency)),
            ("Tracing", config.tracing),
            ("Idle timeout", f"{config.idle_timeout:g} s" + ("" if config.freeze else ", not frozen")),
            *_isolation_rows(snapshot),
        ]
        if config.layers:
            lines.append(("Layers", ", ".join(config.layers)))
        if config.cannot_run is not None:
            lines.insert(0, ("Cannot run", config.cannot_run.reason))
        if config.source:
            lines.append(("Defined at", config.source))
        text = Text()
        for key, value in lines:
            text.append(f"{key:<20}", style="bold")
            text.append(f"{value}\n")
        if config.environment:
            text.append("Environment\n", style="bold")
            for key, value in sorted(config.environment.items()):
                text.append(f"  {key}={value}\n")
        if config.events:
            text.append("Events\n", style="bold")
            for name, spec in config.events.items():
                kind = spec.get("Type", "?") if isinstance(spec, dict) else "?"
                text.append(f"  {name}: {kind}\n")
        if config.event_invoke_config:
            text.append("Async config ", style="bold")
            text.append(json.dumps(dict(config.event_invoke_config), default=str) + "\n")
        queue = (snapshot.async_queues or {}).get(f.name)
        if queue:
            text.append("Async queue ", style="bold")
            text.append(f"depth {queue.queue_depth}, DLQ {queue.dlq}")
            if queue.oldest_age_s is not None:
                text.append(f", oldest {age(queue.oldest_age_s)}")
            if queue.next_retry_at is not None:
                text.append(f", next retry in {max(0.0, queue.next_retry_at - snapshot.at):.1f}s", style="yellow")
            text.append("\n")
        _append_versions(text, f.versions)
        reload = (snapshot.reload or {}).get(f.name)
        if reload and reload.versions:
            text.append("Code versions\n", style="bold")
            for version in reload.versions[-5:]:
                text.append(f"  {version.version}  {version.hash}\n")
        return text


def _append_versions(text: Text, view: VersionsView | None) -> None:
    """Each published version's traffic side by side (a canary beside the version it may replace), then the aliases."""
    if view is None:
        return
    text.append("Versions             invocations  errors      p99  busy  idle\n", style="bold")
    for v in view.versions:
        p99 = "-" if v.p99_ms is None else f"{v.p99_ms:.1f} ms"
        text.append(f"  {v.version:<8} {v.code_version:<6} {v.invocations:>11}  ")
        text.append(f"{v.errors:>6}", style="red" if v.errors else "")
        text.append(f"  {p99:>9}  {v.busy:>4}  {v.idle:>4}\n")
        if v.snapstart:
            text.append(f"           SnapStart: {v.snapstart}\n", style="red" if "failed" in v.snapstart else "magenta")
    for alias in view.aliases:
        routing = "".join(f" + {version} at {weight:.0%}" for version, weight in alias.weights.items())
        text.append(f"  alias {alias.name} → {alias.function_version}{routing}", style="bold")
        text.append(f"  {alias.deployment}\n" if alias.deployment else "\n",
                    style="red" if alias.deployment and "rolled_back" in alias.deployment else "dim")


def _shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _cpu_rows(f: FunctionSnapshot) -> list[tuple[str, str]]:
    """`cpu: proportional`: the share each environment gets, and whether a cgroup quota really applies it."""
    if f.cpu_share is None:
        return []
    share = f"{f.cpu_share:.2f} vCPU (proportional: {f.memory_size} MB / 1769 MB)"
    return [("CPU", share if f.cpu_enforced else share + ", not applied: no writable cpu cgroup")]


def _isolation_rows(snapshot: FleetSnapshot) -> list[tuple[str, str]]:
    """What holds each environment together (its cgroup, or the fallback), without the folders' paths."""
    if not snapshot.isolation:
        return []
    return [("Isolation", snapshot.isolation.removeprefix("isolation: ").split(" under ")[0].split(";")[0])]
