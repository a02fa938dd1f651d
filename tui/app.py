"""`LambdatopApp`: the dashboard. The Fleet runs on Textual's event loop; the screen renders from snapshots.

Data flow, and why it stays cheap at any invocation rate: every refresh tick
(4 Hz by default) drains one bounded bus subscription into `RecentActivity`
(a few hundred items at most: the bus drops older ones), takes one
`fleet.snapshot()` and hands it to the screen on top. No UI message is ever
sent per invocation, and every table shows a fixed window.

Keys that act on "the selected function" (i, e, b, a, K, l) or "the selected
invocation" (r) are defined here and ask the screen on top what is selected
(its `Selection` methods), so they work the same on the main, function and
invocation screens. Every invocation runs in a Textual worker, so keys keep
being answered; throttles and errors come back as notifications, never as
exceptions. A frame that fails is recorded in `refresh_failures` and reported
once ("screen refresh failed"); the dashboard keeps running.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable
from typing import Literal
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.events import Resize
from textual.notifications import Notify
from textual.screen import Screen

from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.fleet import Fleet, FleetSnapshot
from lambdatop.runtime.records import InvocationRecord
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.tui.activity import SUBSCRIPTION_LENGTH, RecentActivity
from lambdatop.tui.commands.common import default_event_path
from lambdatop.runtime.snapshot import RouteView
from lambdatop.tui.key_invocations import NOTIFY_S, KeyInvocations
from lambdatop.tui.screens.alarms import AlarmsScreen
from lambdatop.tui.screens.base import LambdatopScreen
from lambdatop.tui.screens.burst import BurstPrompt
from lambdatop.tui.screens.dlq import DeadLetterScreen
from lambdatop.tui.screens.event_editor import EventEditorScreen, event_choices
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.help import ACTION_HELP, HelpScreen, help_sections
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.screens.log_search import LogEntry, LogSearchScreen
from lambdatop.tui.screens.main import MainScreen

REFRESH_HZ = 4.0
CONFIG_NOTICE_S = 30.0  # the config's warnings: long enough to read a few lines
STREAM_WINDOW = 100  # invocations the main stream shows (newest first)
EXIT_STARTUP_FAILED = 2
FRAME_BUDGET = 0.02  # share of the event loop one frame's own work may take (Textual's paint costs 2-3× more again)
MAX_FRAME_INTERVAL_S = 0.5  # never slower than 2 Hz
FRAME_COSTS_KEPT = 240  # a minute of frames at 4 Hz
SHORT_TERMINAL_ROWS = 30  # below this, one compact toast at a time (it must not cover the newest rows)
REFRESH_FAILURES_KEPT = 20


class LambdatopApp(App[int]):
    """The lambdatop dashboard over one Fleet (started on mount, stopped on quit unless it was already running)."""

    CSS_PATH = Path(__file__).with_name("lambdatop.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "lambdatop"
    BINDINGS = [
        # The footer shows these in this order and cuts what does not fit (at 80 columns, from `a`
        # on): what a first look needs comes first; `?` and the palette list them all.
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("i", "invoke", "Invoke"),
        Binding("e", "event", "Event"),
        Binding("b", "burst", "Burst"),
        Binding("r", "reinvoke", "Again"),
        Binding("a", "async_invoke", "Async"),
        Binding("K,ctrl+k", "kill", "Kill env", key_display="K"),
        Binding("l", "logs", "Logs"),
        Binding("d", "dlq", "DLQ"),
        Binding("A", "alarms", "Alarms"),
        Binding("w", "apis", "APIs", show=False),  # listed by `?` and the palette; the footer stays as it was
        Binding("t", "schedules", "Schedules", show=False),  # "timers": listed by `?`, kept out of the footer
        Binding("p", "plumbing", "Plumbing", show=False),  # in help and the palette; the footer is full
        Binding("T", "tune", "Tune", show=False),  # power tuning: in help and the palette
        Binding("ctrl+c", "quit", "Quit", show=False),
    ]
    def __init__(
        self,
        fleet: Fleet | FleetConfig | Path | str | None = None,
        *,
        options: ServiceOptions | None = None,
        refresh_hz: float = REFRESH_HZ,
    ) -> None:
        """`fleet`: a Fleet (started or not), or a config to build one from. `options`: attach the standard
        services (HTTP endpoint, store, reload...) to a not-yet-started fleet; None attaches none."""
        super().__init__()
        self.fleet = fleet if isinstance(fleet, Fleet) else Fleet(fleet)
        if options is not None and not self.fleet.running:
            attach_standard_services(self.fleet, options)
        self.refresh_hz = refresh_hz
        self.activity = RecentActivity()
        self.invocations = KeyInvocations(self)
        self.last_snapshot: FleetSnapshot | None = None
        self.startup_error: str | None = None
        self.state = "starting"  # starting -> running -> stopping -> stopped
        self._owns_fleet = False
        self._subscription = self.fleet.subscribe("dashboard", SUBSCRIPTION_LENGTH)
        self.refresh_failures: list[str] = []  # "Type: message" of every frame that failed (the newest few)
        self._next_frame_at = 0.0
        # What each recent frame's own work cost (seconds; Textual's paint after it is not counted): how
        # `lambdatop bench` tells whether the dashboard keeps up with thousands of environments.
        self.frame_costs: collections.deque[float] = collections.deque(maxlen=FRAME_COSTS_KEPT)

    # -- lifecycle --------------------------------------------------------------------

    @property
    def source(self) -> str:
        path = Path(self.fleet.config.path)
        try:
            return str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def get_default_screen(self) -> Screen:
        return MainScreen(self.source)

    def on_resize(self, event: Resize) -> None:
        self._set_size_classes(event.size.width, event.size.height)

    def _set_size_classes(self, width: int, height: int) -> None:
        # Side-by-side panels (log | config, event | response) stack on narrow terminals;
        # wide and tall ones also get the selected function's panel beside the stream.
        self.set_class(width < 120, "-narrow")
        self.set_class(width >= 150 and height >= 40, "-wide")
        self.set_class(height < SHORT_TERMINAL_ROWS, "-short")

    def on_mount(self) -> None:
        self._set_size_classes(self.size.width, self.size.height)
        self.set_interval(1 / self.refresh_hz, self.refresh_screen, name="lambdatop-refresh")
        self.run_worker(self._start_fleet(), name="start fleet", group="lifecycle", exit_on_error=False)
        self._config_notice()

    def _config_notice(self) -> None:
        """The config's warnings (what is not emulated, functions that cannot run), once, as one notice: the
        terminal lines printed before the screen opened are hidden behind it."""
        warnings = self.fleet.config.warnings
        if warnings:
            root = f"{self.fleet.config.path.parent}/"
            text = "\n".join(f"• {warning.replace(root, '')}" for warning in warnings)
            self.notify(text, title="not emulated here", severity="warning", timeout=CONFIG_NOTICE_S)

    async def _start_fleet(self) -> None:
        if self.fleet.running:
            self.state = "running"  # somebody else's fleet: they start and stop it
            return
        self._owns_fleet = True
        try:
            await self.fleet.start()
        except Exception as exc:  # noqa: BLE001 - e.g. the HTTP port is taken: say so and leave
            self.startup_error = f"lambdatop could not start: {type(exc).__name__}: {exc}"
            self.state = "stopped"
            self.exit(EXIT_STARTUP_FAILED, return_code=EXIT_STARTUP_FAILED, message=self.startup_error)
            return
        self.state = "running" if self.state == "starting" else self.state
        isolation = self.fleet.snapshot().isolation
        if isolation.startswith("isolation: none"):  # the fallback: say so once, as serve's banner does
            self.notify(isolation, title="no cgroups", severity="warning", timeout=CONFIG_NOTICE_S)

    async def action_quit(self) -> None:
        if self.state == "stopping":
            self.notify("still stopping: waiting for in-flight invocations to finish or time out", severity="warning")
            return
        self.state = "stopping"
        in_flight = self.last_snapshot.in_use if self.last_snapshot else 0
        if in_flight:
            self.notify(f"stopping: waiting for {in_flight} in-flight invocation(s) to finish or time out")
        self.run_worker(self._stop_and_exit(), name="stop fleet", group="lifecycle", exit_on_error=False)

    async def _stop_and_exit(self) -> None:
        try:
            if self._owns_fleet and self.fleet.running:
                await self.fleet.stop()
        finally:
            self.state = "stopped"
            self.exit(0)

    async def on_unmount(self) -> None:
        # Reached without `q` (an exception, a test leaving early): never leave workers behind.
        if self._owns_fleet and self.fleet.running:
            await self.fleet.stop(drain_timeout=5)

    # -- refreshing -------------------------------------------------------------------

    def take_snapshot(self) -> FleetSnapshot:
        """The data one frame shows (a test subclass may return a fixed one)."""
        return self.fleet.snapshot(recent=STREAM_WINDOW)

    def refresh_screen(self) -> None:
        """One frame: drain the bus window, take one snapshot, hand it to the screen on top.

        The UI shares its event loop with the fleet, so frames have a budget: after a frame that
        cost c seconds (ours; Textual's paint that follows costs 2-3× as much again) the next one
        waits at least c / FRAME_BUDGET. Idle, that is the 4 Hz timer; under heavy load (thousands
        of invocations a second) the screen slows to about 2 Hz instead of taking throughput from
        the invocations.
        """
        started = time.monotonic()
        if started < self._next_frame_at:
            return
        self._frame()
        cost = time.monotonic() - started
        self.frame_costs.append(cost)
        self._next_frame_at = started + min(cost / FRAME_BUDGET, MAX_FRAME_INTERVAL_S)

    def refresh_now(self) -> None:
        """A frame now, whatever the frame budget (a screen that just opened shows data at once)."""
        self._frame()

    def _frame(self) -> None:
        try:
            events = self.activity.absorb(self._subscription.drain())
            snapshot = self.take_snapshot()
            self.last_snapshot = snapshot
            for function in snapshot.functions:
                self.activity.sample_concurrency(function.name, snapshot.at, function.in_use)
            for screen in reversed(self.screen_stack):
                if not screen.is_mounted:
                    break  # just pushed, still composing: it asks for a frame once mounted (refresh_now)
                refresh = getattr(screen, "refresh_from", None)
                if refresh is not None:
                    refresh(snapshot, self.status_text)
                    break
            for event in events[-3:]:
                severity: Literal["information", "error"] = "error" if "error" in event.kind or "fail" in event.kind else "information"
                self.notify(event.message, title=event.kind, severity=severity, timeout=NOTIFY_S)
        except Exception as exc:  # noqa: BLE001 - a rendering bug must not take the fleet down with it
            if not self.refresh_failures:
                self.notify(f"screen refresh failed: {type(exc).__name__}: {exc}", severity="error", timeout=10)
                self.log.error("refresh failed", exc_info=exc)
            self.refresh_failures = [*self.refresh_failures, f"{type(exc).__name__}: {exc}"][-REFRESH_FAILURES_KEPT:]

    @property
    def status_text(self) -> str:
        return {"starting": "starting…", "stopping": "stopping…", "stopped": "stopped"}.get(self.state, "")

    # -- what is selected -------------------------------------------------------------

    def _selecting_screen(self) -> LambdatopScreen | None:
        """The screen the keys act on: the one on top, or (under a dialog or foreign screen) the main one."""
        for screen in (self.screen, self.screen_stack[0]):
            if isinstance(screen, LambdatopScreen):
                return screen
        return None

    def selected_function(self) -> str | None:
        screen = self._selecting_screen()
        name = screen.selected_function() if screen else None
        if name is None and isinstance(self.screen_stack[0], LambdatopScreen):
            name = self.screen_stack[0].selected_function()
        return name

    def selected_invocation(self) -> str | None:
        return self.screen.selected_invocation() if isinstance(self.screen, LambdatopScreen) else None

    def selected_attempt(self) -> int | None:
        return self.screen.selected_attempt() if isinstance(self.screen, LambdatopScreen) else None

    def _function_or_warn(self) -> str | None:
        name = self.selected_function()
        if name is None:
            self.notify("select a function first", severity="warning")
            return None
        if name not in self.fleet.functions:
            self.notify(f"{name} is no longer in the configuration", severity="warning")
            return None
        return name

    def _running_or_warn(self) -> bool:
        if self.fleet.running:
            return True
        self.notify(f"the fleet is {self.state}", severity="warning")
        return False

    def default_event(self, function: str) -> bytes:
        path = default_event_path(self.fleet.functions[function].event_dirs, function)
        if path is None:
            return b"{}"
        try:
            return path.read_bytes()
        except OSError:
            return b"{}"

    # -- key actions ------------------------------------------------------------------

    def action_invoke(self) -> None:
        if (name := self._function_or_warn()) and self._running_or_warn():
            self.invoke_in_background(name, self.default_event(name))

    def action_event(self) -> None:
        name = self._function_or_warn()
        if name is None:
            return
        request_id = self.selected_invocation()
        invocation = self.activity.result(request_id, self.selected_attempt()) if request_id else None
        if invocation is not None and invocation.record.function != name:
            invocation = None
        choices, initial = event_choices(self.fleet.functions[name].event_dirs, invocation, self._routes_of(name), name)

        def chosen(payload: bytes | None) -> None:
            if payload is not None and self._running_or_warn():
                self.invoke_in_background(name, payload)

        self.push_screen(EventEditorScreen(name, choices, initial), chosen)

    def action_burst(self) -> None:
        name = self._function_or_warn()
        if name is None or not self._running_or_warn():
            return
        function = self.fleet.functions[name]
        snapshot = next((f for f in (self.last_snapshot.functions if self.last_snapshot else []) if f.name == name), None)
        limit = snapshot.limit if snapshot else (function.reserved_concurrency or self.fleet.config.account_concurrency)

        def fire(count: int | None) -> None:
            if count and self._running_or_warn():
                self.run_worker(self.invocations.burst(name, self.default_event(name), count), group="invocations",
                                exit_on_error=False)

        self.push_screen(BurstPrompt(name, limit, function.reserved_concurrency), fire)

    def action_reinvoke(self) -> None:
        if not self._running_or_warn():
            return
        request_id = self.selected_invocation()
        result = self.activity.result(request_id, self.selected_attempt()) if request_id else None
        if result is None:
            name = self.selected_function()
            result = self.activity.latest_result(name) if name else None
        if result is None:
            hint = "its event is no longer kept" if request_id else "select an invocation (tab to the stream) or invoke first"
            self.notify(f"nothing to re-invoke: {hint}", severity="warning")
            return
        self.invoke_in_background(result.record.function, result.request)

    def action_async_invoke(self) -> None:
        if (name := self._function_or_warn()) and self._running_or_warn():
            self.run_worker(self.invocations.invoke_async(name, self.default_event(name)), group="invocations",
                            exit_on_error=False)

    def action_kill(self) -> None:
        name = self._function_or_warn()
        if name is None or not self._running_or_warn():
            return
        env_id = self.screen.selected_environment() if isinstance(self.screen, LambdatopScreen) else None
        try:
            env = self.fleet.kill_environment(name, env_id)
        except (KeyError, ProcessLookupError) as exc:
            self.notify(f"{name}: could not kill: {exc}", severity="error")
            return
        if env is None:
            self.notify(f"{name}: no running environment to kill", severity="warning")
        else:
            self.notify(f"{name}: killed environment {env.id} (pid {env.pid}, {env.state}); the next invocation starts cold",
                        severity="warning")

    def action_logs(self) -> None:
        """observability: search the selected function's log lines (store history, else the dashboard's tail)."""
        name = self._function_or_warn()
        if name is None or isinstance(self.screen, LogSearchScreen):
            return
        now = time.time()
        tail = [LogEntry(now, "", line) for line in self.activity.log_tail(name)]
        self.push_screen(LogSearchScreen(self.fleet, name, tail))

    def action_dlq(self) -> None:
        self.push_screen(DeadLetterScreen(self.fleet))

    def action_alarms(self) -> None:
        self.push_screen(AlarmsScreen(self.fleet))

    def action_apis(self) -> None:
        from lambdatop.tui.screens.apis import ApisScreen

        if not isinstance(self.screen, ApisScreen):
            self.push_screen(ApisScreen(self.fleet))

    def action_schedules(self) -> None:
        from lambdatop.tui.screens.schedules import SchedulesScreen

        self.push_screen(SchedulesScreen(self.fleet))

    def action_plumbing(self) -> None:
        from lambdatop.tui.screens.plumbing import PlumbingScreen

        self.push_screen(PlumbingScreen(self.fleet))

    def action_tune(self) -> None:
        from lambdatop.tui.screens.tune import TuneScreen

        name = self._function_or_warn()
        if name is not None and self._running_or_warn():
            self.push_screen(TuneScreen(self.fleet, name, self.default_event(name)))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections(self.BINDINGS)))

    # -- screens ----------------------------------------------------------------------

    def open_function(self, name: str) -> None:
        if name in self.fleet.functions:
            self.push_screen(FunctionScreen(name))

    def open_invocation(self, request_id: str, attempt: int | None = None) -> None:
        """The invocation screen of one attempt of a request (None: its latest)."""
        result = self.activity.result(request_id, attempt)
        record: InvocationRecord | None = result.record if result else None
        if record is None and self.last_snapshot is not None:
            ledger = self.activity.attempts
            record = next((r for r in self.last_snapshot.recent if r.request_id == request_id
                           and (attempt is None or ledger.attempt(r) == attempt)), None)
        if record is None:
            self.notify("that invocation is no longer in the dashboard's window", severity="warning")
            return
        self.push_screen(InvocationScreen(record, result, attempt or self.activity.attempts.attempt(record)))

    def _routes_of(self, function: str) -> list[RouteView]:
        snapshot = self.fleet.snapshot().api
        return snapshot.routes_of(function) if snapshot else []

    # -- running invocations ----------------------------------------------------------

    def invoke_in_background(self, function: str, payload: bytes) -> None:
        self.run_worker(self.invocations.invoke_one(function, payload), group="invocations", exit_on_error=False)

    def on_notify(self, event: Notify) -> None:
        """On a short terminal only the newest toast stays: it covers the stream's oldest rows, never its newest."""
        if not self.has_class("-short"):
            return
        # Runs after Textual's own handler has added the new notification (Notify is a message, so
        # a burst of notify() calls arrives here one by one: only this point sees them all).
        for older in [n for n in self._notifications if n is not event.notification]:
            self._unnotify(older, refresh=False)
        self._refresh_notifications()

    # -- command palette --------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        titles = {
            "invoke": "Invoke", "event": "Invoke with an event…", "burst": "Burst…", "reinvoke": "Re-invoke",
            "async_invoke": "Invoke asynchronously", "kill": "Kill a worker", "logs": "Search the log",
            "dlq": "Dead-letter queue", "alarms": "Alarms", "apis": "APIs: routes", "schedules": "Schedules",
            "plumbing": "Plumbing: event sources and AWS resources",
            "help": "Help: keys",
        }
        for action, title in titles.items():
            yield SystemCommand(title, ACTION_HELP[action], getattr(self, f"action_{action}"))
        for name in self.fleet.functions:
            yield SystemCommand(f"Open {name}", f"the function screen of {name}", lambda n=name: self.open_function(n), discover=False)
            yield SystemCommand(f"Invoke {name}", f"invoke {name} with its default event",
                                lambda n=name: self.invoke_in_background(n, self.default_event(n)), discover=False)
