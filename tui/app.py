"""`LambdatopApp`: the dashboard. The Fleet runs on Textual's event loop; the screen renders from snapshots.

Data flow, and why it stays cheap at any invocation rate: every refresh tick
(4 Hz by default) drains one bounded bus subscription into `RecentActivity`
(a few hundred items at most: the bus drops older ones), takes one
`fleet.snapshot()` and hands it to the screen on top. No UI message is ever
sent per invocation, and every table shows a fixed window.

Keys that act on "the selected function" (i, e, b, a, K) or "the selected
invocation" (r) are defined here and ask the screen on top what is selected,
so they work the same on the main, function and invocation screens. Every
invocation runs in a Textual worker, so keys keep being answered; throttles
and errors come back as notifications, never as exceptions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.events import Resize
from textual.screen import Screen

from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.errors import LambdaServiceError, Throttled
from lambdatop.runtime.fleet import Fleet, FleetSnapshot
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus, InvocationType, Trigger
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.tui.activity import SUBSCRIPTION_LENGTH, RecentActivity
from lambdatop.tui.commands.common import default_event_path
from lambdatop.tui.sample_events import load_templates
from lambdatop.tui.screens.burst import BurstPrompt
from lambdatop.tui.screens.event_editor import EventChoice, EventEditorScreen
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.help import HelpScreen
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.screens.main import MainScreen
from lambdatop.tui.widgets.cells import STATUS_LABEL, ms

REFRESH_HZ = 4.0
STREAM_WINDOW = 100  # invocations the main stream shows (newest first)
EXIT_STARTUP_FAILED = 2
FRAME_BUDGET = 0.02  # share of the event loop one frame's own work may take (Textual's paint costs 2-3× more again)
MAX_FRAME_INTERVAL_S = 0.5  # never slower than 2 Hz
NOTIFY_S = 3.0  # short: at 80x24 a toast covers half the stream

NAVIGATION_HELP: list[tuple[str, str]] = [
    ("↑ ↓  j k", "move the cursor"),
    ("tab", "switch between the functions table and the invocation stream"),
    ("enter", "open the function / invocation under the cursor"),
    ("esc", "back (or clear the filter)"),
    ("/", "filter functions and invocations by name, request id or status"),
    ("s  S", "cycle the sort column / reverse it (functions table)"),
    ("g  home", "invocation stream: follow the newest again"),
    ("ctrl+p", "command palette: every action, plus per-function commands"),
]


class LambdatopApp(App[int]):
    """The lambdatop dashboard over one Fleet (started on mount, stopped on quit unless it was already running)."""

    CSS_PATH = Path(__file__).with_name("lambdatop.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "lambdatop"
    BINDINGS = [
        # The footer shows these in this order and cuts what does not fit (at 80 columns, the last
        # three): what a first look needs comes first; `?` and the palette list them all.
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("i", "invoke", "Invoke"),
        Binding("e", "event", "Event"),
        Binding("b", "burst", "Burst"),
        Binding("r", "reinvoke", "Again"),
        Binding("a", "async_invoke", "Async"),
        Binding("K,ctrl+k", "kill", "Kill env", key_display="K"),
        Binding("d", "dlq", "DLQ"),
        Binding("A", "alarms", "Alarms"),
        Binding("p", "plumbing", "Plumbing", show=False),  # in help and the palette; the footer is full
        Binding("ctrl+c", "quit", "Quit", show=False),
    ]
    HELP: dict[str, str] = {
        "invoke": "invoke the selected function with its default event (events/basic.json, else the first events/*.json, else {})",
        "event": "pick an event (the function's events/*.json, the selected invocation's, AWS source templates), edit it, invoke",
        "burst": "fire N concurrent invocations (default 2× the function's limit) to watch throttling",
        "reinvoke": "re-invoke the selected invocation's event (the function's latest when none is selected)",
        "async_invoke": "invoke asynchronously (InvocationType Event: 202, queued, retried)",
        "kill": "kill a worker process of the selected function (SIGKILL) to watch the fleet recover",
        "dlq": "dead-letter queue: failed async events, to inspect and redrive",
        "alarms": "alarms and their states",
        "plumbing": "event sources (mappings, push sources) and the AWS resources; send to a queue, bucket, topic, bus or table",
        "help": "this screen",
        "quit": "quit: in-flight invocations finish (or time out), every worker stops",
    }

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
        self.last_snapshot: FleetSnapshot | None = None
        self.startup_error: str | None = None
        self.state = "starting"  # starting -> running -> stopping -> stopped
        self._owns_fleet = False
        self._subscription = self.fleet.subscribe("dashboard", SUBSCRIPTION_LENGTH)
        self._tick_failed = False
        self._next_frame_at = 0.0

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

    def on_mount(self) -> None:
        self._set_size_classes(self.size.width, self.size.height)
        self.set_interval(1 / self.refresh_hz, self.refresh_screen, name="lambdatop-refresh")
        self.run_worker(self._start_fleet(), name="start fleet", group="lifecycle", exit_on_error=False)

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
        try:
            events = self.activity.absorb(self._subscription.drain())
            snapshot = self.take_snapshot()
            self.last_snapshot = snapshot
            for function in snapshot.functions:
                self.activity.sample_concurrency(function.name, snapshot.at, function.in_use)
            for screen in reversed(self.screen_stack):
                refresh = getattr(screen, "refresh_from", None)
                if refresh is not None:
                    refresh(snapshot, self.status_text)
                    break
            for event in events[-3:]:
                severity = "error" if "error" in event.kind or "fail" in event.kind else "information"
                self.notify(event.message, title=event.kind, severity=severity, timeout=NOTIFY_S)
        except Exception as exc:  # noqa: BLE001 - a rendering bug must not take the fleet down with it
            if not self._tick_failed:
                self._tick_failed = True
                self.notify(f"screen refresh failed: {type(exc).__name__}: {exc}", severity="error", timeout=10)
                self.log.error("refresh failed", exc_info=exc)
        cost = time.monotonic() - started
        self._next_frame_at = started + min(cost / FRAME_BUDGET, MAX_FRAME_INTERVAL_S)

    @property
    def status_text(self) -> str:
        return {"starting": "starting…", "stopping": "stopping…", "stopped": "stopped"}.get(self.state, "")

    # -- what is selected -------------------------------------------------------------

    def selected_function(self) -> str | None:
        ask = getattr(self.screen, "selected_function", None)
        if ask is None:
            ask = getattr(self.screen_stack[0], "selected_function", None)
        return ask() if ask else None

    def selected_invocation(self) -> str | None:
        ask = getattr(self.screen, "selected_invocation", None)
        return ask() if ask else None

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
        path = default_event_path(self.fleet.functions[function].events_dir)
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
        choices, initial = self._event_choices(name, self.selected_invocation())

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
                self.run_worker(self._burst(name, self.default_event(name), count), group="invocations", exit_on_error=False)

        self.push_screen(BurstPrompt(name, limit, function.reserved_concurrency), fire)

    def action_reinvoke(self) -> None:
        if not self._running_or_warn():
            return
        request_id = self.selected_invocation()
        result = self.activity.result(request_id) if request_id else None
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
            self.run_worker(self._invoke_async(name, self.default_event(name)), group="invocations", exit_on_error=False)

    def action_kill(self) -> None:
        name = self._function_or_warn()
        if name is None or not self._running_or_warn():
            return
        ask = getattr(self.screen, "selected_environment", None)
        env_id = ask() if ask else None
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

    def action_dlq(self) -> None:
        try:
            from lambdatop.tui.screens.dlq import DeadLetterScreen  # type: ignore[import-not-found]
        except ImportError as exc:
            self.notify(f"the dead-letter queue screen is not available yet ({exc})", severity="warning")
            return
        self.push_screen(DeadLetterScreen(self.fleet))

    def action_alarms(self) -> None:
        try:
            from lambdatop.tui.screens.alarms import AlarmsScreen  # type: ignore[import-not-found]
        except ImportError as exc:
            self.notify(f"the alarms screen is not available yet ({exc})", severity="warning")
            return
        self.push_screen(AlarmsScreen(self.fleet))

    def action_plumbing(self) -> None:
        from lambdatop.tui.screens.plumbing import PlumbingScreen

        self.push_screen(PlumbingScreen(self.fleet))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        actions: list[tuple[str, str]] = []
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action in self.HELP:
                keys = binding.key_display or binding.key
                if binding.key.startswith("K,"):
                    keys = "K  ctrl+k"
                actions.append((keys, self.HELP[binding.action]))
        return [
            ("Act on the selected function or invocation", actions),
            ("Move around", NAVIGATION_HELP),
            ("On the function screen", [("K", "kill the environment under the cursor (environments table)"),
                                        ("enter", "open the invocation under the cursor")]),
            ("In the event editor", [("enter", "load the highlighted event into the editor"), ("ctrl+s", "invoke"),
                                     ("ctrl+f", "format the JSON"), ("esc", "cancel")]),
        ]

    # -- screens ----------------------------------------------------------------------

    def open_function(self, name: str) -> None:
        if name in self.fleet.functions:
            self.push_screen(FunctionScreen(name))

    def open_invocation(self, request_id: str) -> None:
        result = self.activity.result(request_id)
        record: InvocationRecord | None = result.record if result else None
        if record is None and self.last_snapshot is not None:
            record = next((r for r in self.last_snapshot.recent if r.request_id == request_id), None)
        if record is None:
            self.notify("that invocation is no longer in the dashboard's window", severity="warning")
            return
        self.push_screen(InvocationScreen(record, result))

    def _event_choices(self, function: str, request_id: str | None) -> tuple[list[EventChoice], int]:
        choices: list[EventChoice] = []
        initial = 0
        result = self.activity.result(request_id) if request_id else None
        if result is not None and result.record.function == function:
            label = f"event of {result.record.request_id[:8]} ({STATUS_LABEL.get(result.record.status, result.record.status)})"
            choices.append(EventChoice(label, "invocation", lambda: _pretty(result.request)))
        events_dir = self.fleet.functions[function].events_dir
        default = default_event_path(events_dir)
        if events_dir.is_dir():
            for path in sorted(events_dir.glob("*.json")):
                if path == default and not choices:
                    initial = len(choices)
                choices.append(EventChoice(f"events/{path.name}", "function", lambda p=path: p.read_text(encoding="utf-8")))
        for template in load_templates().values():
            choices.append(EventChoice(f"{template.name:<26}", "template", lambda t=template: t.render_json(),
                                       detail=template.description))
        return choices, initial

    # -- running invocations ----------------------------------------------------------

    def invoke_in_background(self, function: str, payload: bytes) -> None:
        self.run_worker(self._invoke_one(function, payload), group="invocations", exit_on_error=False)

    async def _invoke_one(self, function: str, payload: bytes) -> InvocationResult | None:
        try:
            result = await self.fleet.invoke(function, payload, trigger=Trigger.KEY)
        except Throttled as exc:
            self.notify(f"{function}: throttled: {exc.message}", title="TooManyRequestsException", severity="warning")
            return None
        except LambdaServiceError as exc:
            self.notify(f"{function}: {exc.message}", title=exc.code, severity="error")
            return None
        except Exception as exc:  # noqa: BLE001 - keys never crash the dashboard
            self.notify(f"{function}: {type(exc).__name__}: {exc}", severity="error")
            return None
        self.notify(describe(result), title=function, severity="error" if result.record.is_error else "information",
                    timeout=NOTIFY_S)
        return result

    async def _burst(self, function: str, payload: bytes, count: int) -> dict[str, int]:
        outcomes = await asyncio.gather(
            *(self.fleet.invoke(function, payload, trigger=Trigger.KEY) for _ in range(count)), return_exceptions=True,
        )
        summary: dict[str, int] = {}
        for outcome in outcomes:
            if isinstance(outcome, InvocationResult):
                key = STATUS_LABEL.get(outcome.record.status, str(outcome.record.status))
            elif isinstance(outcome, Throttled):
                key = "throttled"
            elif isinstance(outcome, LambdaServiceError):
                key = outcome.code
            else:
                key = type(outcome).__name__
            summary[key] = summary.get(key, 0) + 1
        parts = ", ".join(f"{n} {k}" for k, n in sorted(summary.items(), key=lambda kv: -kv[1]))
        throttled = summary.get("throttled", 0)
        self.notify(f"burst of {count}: {parts}", title=function, severity="warning" if throttled else "information")
        return summary

    async def _invoke_async(self, function: str, payload: bytes) -> None:
        try:
            enqueue = getattr(self.fleet, "enqueue", None)
            if enqueue is not None:
                request_id = await enqueue(function, payload, trigger=Trigger.KEY)
                self.notify(f"{function}: accepted (202), queued as {request_id}", title="async")
                return
            self.notify(f"{function}: accepted (202)", title="async")
            result = await self.fleet.invoke(function, payload, trigger=Trigger.KEY, invocation_type=InvocationType.EVENT)
            if result.record.is_error:
                self.notify(describe(result), title=f"{function} (async)", severity="error")
        except Throttled as exc:
            self.notify(f"{function}: throttled: {exc.message}", title="TooManyRequestsException", severity="warning")
        except LambdaServiceError as exc:
            self.notify(f"{function}: {exc.message}", title=exc.code, severity="error")
        except Exception as exc:  # noqa: BLE001 - keys never crash the dashboard
            self.notify(f"{function}: {type(exc).__name__}: {exc}", severity="error")

    # -- command palette --------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        titles = {
            "invoke": "Invoke", "event": "Invoke with an event…", "burst": "Burst…", "reinvoke": "Re-invoke",
            "async_invoke": "Invoke asynchronously", "kill": "Kill a worker", "dlq": "Dead-letter queue",
            "alarms": "Alarms", "plumbing": "Plumbing: event sources and AWS resources", "help": "Help: keys",
        }
        for action, title in titles.items():
            yield SystemCommand(title, self.HELP[action], getattr(self, f"action_{action}"))
        for name in self.fleet.functions:
            yield SystemCommand(f"Open {name}", f"the function screen of {name}", lambda n=name: self.open_function(n), discover=False)
            yield SystemCommand(f"Invoke {name}", f"invoke {name} with its default event",
                                lambda n=name: self.invoke_in_background(n, self.default_event(n)), discover=False)


def describe(result: InvocationResult) -> str:
    record = result.record
    start = "cold" if record.cold_start else "warm"
    text = f"{STATUS_LABEL.get(record.status, record.status)} in {ms(record.duration_ms)} ({start})"
    if record.status is not InvocationStatus.SUCCESS and record.error_type:
        text += f": {record.error_type}: {record.error_message or ''}"
    return text


def _pretty(payload: bytes) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2)
    except ValueError:
        return payload.decode("utf-8", "replace")
