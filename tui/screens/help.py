"""The `?` screen: every key, grouped by the screen it works on, and the text that explains them.

The app's own keys are listed from its BINDINGS with the descriptions in
`ACTION_HELP` (the command palette uses the same descriptions), so the footer,
the palette and this screen cannot disagree; each other screen's section lists
its keys (a test checks every binding of every screen appears here).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

ACTION_HELP: dict[str, str] = {
    "invoke": "invoke the selected function with its default event (events/basic.json, else the first events/*.json, else {})",
    "event": "pick an event (the function's events/*.json, the selected invocation's, AWS source templates), edit it, invoke",
    "burst": "fire N concurrent invocations (default 2× the function's limit) to watch throttling",
    "reinvoke": "re-invoke the selected invocation's event (the function's latest when none is selected)",
    "async_invoke": "invoke asynchronously (InvocationType Event: 202, queued, retried)",
    "kill": "kill a worker process of the selected function (SIGKILL) to watch the fleet recover",
    "logs": "search the selected function's log lines (store history, else the dashboard's tail)",
    "dlq": "dead-letter queue: failed async events, to inspect and redrive",
    "alarms": "alarms and their states",
    "apis": "the APIs view (\"web routes\"): every API route → function, requests, 4xx/5xx, p50/p99, last status",
    "schedules": "schedules: next and last fire time of each; f fires the selected one now",
    "plumbing": "event sources (mappings, push sources) and the AWS resources; send to a queue, bucket, topic, bus or table",
    "tune": "power tuning: run the selected function N times at each memory size, see speed and cost per size",
    "help": "this screen",
    "quit": "quit: in-flight invocations finish (or time out), every worker stops",
}

SCROLL_HELP: list[tuple[str, str]] = [
    ("j k", "scroll a line (in a table: move the cursor)"),
    ("g G", "top / bottom"),
    ("ctrl+d ctrl+u", "half a page down / up"),
]

NAVIGATION_HELP: list[tuple[str, str]] = [
    ("↑ ↓  j k", "move the cursor"),
    ("tab", "switch between the functions table and the invocation stream"),
    ("enter", "open the function / invocation under the cursor (each attempt of a retried event is a row)"),
    ("esc", "back (or clear the filter)"),
    ("/", "filter functions and invocations by name, request id or status"),
    ("s  S", "cycle the sort column / reverse it (functions table)"),
    ("o", "order by: pick the functions table's sort column from a list"),
    ("g  home", "invocation stream: follow the newest again (functions table: top)"),
    ("G", "bottom of the table"),
    ("ctrl+d ctrl+u", "a page down / up"),
    ("ctrl+p", "command palette: every action, plus per-function commands"),
]

SCREEN_HELP: list[tuple[str, list[tuple[str, str]]]] = [
    ("On the function screen (enter on a function)", [
        ("K", "kill the environment under the cursor (environments table)"),
        ("enter", "open the invocation under the cursor"),
        ("l", "search this function's log"),
        *SCROLL_HELP,
        ("esc", "back"),
    ]),
    ("On the invocation screen (enter on an invocation)", [
        ("enter", "open the attempt under the cursor (attempts of this request id)"),
        ("r  e", "re-invoke this event / edit it first"),
        *SCROLL_HELP,
        ("esc", "back"),
    ]),
    ("On the dead-letter queue screen (d)", [
        ("r  enter", "redrive the highlighted event (queue it again as a new async invocation)"),
        ("R", "redrive every event"),
        ("j k  g G", "move / top / bottom"),
        ("esc  d", "back"),
    ]),
    ("On the log search screen (l)", [
        ("type", "filter: every word must appear (request id, level, text)"),
        ("/", "back to the filter box"),
        ("↑ ↓  enter", "pick a line (shown whole below, JSON pretty-printed)"),
        ("j k  g G", "move / top / bottom (in the lines table)"),
        ("esc", "back"),
    ]),
    ("On the alarms screen (A)", [
        ("↑ ↓  j k", "pick an alarm (its history shows below)"),
        ("g G", "top / bottom"),
        ("esc  A", "back"),
    ]),
    ("On the tune screen (T)", [
        ("enter", "run the sweep: the memory sizes (MB, comma-separated) × N invocations"),
        ("j k  g G  ctrl+d ctrl+u", "move in the results table: a row, top / bottom, a page"),
        ("esc", "back (a sweep under way stops after the invocation in flight)"),
    ]),
    ("In the event editor (e)", [
        ("enter", "load the highlighted event into the editor"), ("ctrl+s", "invoke"),
        ("ctrl+f", "format the JSON"), ("esc", "cancel"),
    ]),
]


def binding_keys(binding: Binding) -> str:
    """How a binding's keys are written in the help: `K  ctrl+k` for "K,ctrl+k"."""
    keys = binding.key.split(",")
    return "  ".join([binding.key_display or keys[0], *keys[1:]])


def help_sections(app_bindings: Sequence[BindingType]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every section of the help screen: the app's keys first (from its bindings), then each screen's."""
    keys_by_action: dict[str, list[str]] = {}  # one row per action: `q  ctrl+c` for quit's two bindings
    for binding in app_bindings:
        if isinstance(binding, Binding) and binding.action in ACTION_HELP:
            keys_by_action.setdefault(binding.action, []).append(binding_keys(binding))
    actions = [("  ".join(keys), ACTION_HELP[action]) for action, keys in keys_by_action.items()]
    return [
        ("Act on the selected function or invocation (every screen)", actions),
        ("Move around (main screen)", NAVIGATION_HELP),
        *SCREEN_HELP,
    ]


class HelpScreen(ModalScreen[None]):
    """The key reference, grouped by screen."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        Binding("j", "scroll_down", show=False),
        Binding("k", "scroll_up", show=False),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(self.render_sections())

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "lambdatop keys"
        dialog.border_subtitle = "esc, ? or q to close · j k scroll"
        dialog.focus()

    def render_sections(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold #ff9900", no_wrap=True)
        table.add_column()
        for index, (title, rows) in enumerate(self.sections):
            if index:
                table.add_row("", "")
            table.add_row("", Text(title, style="bold underline"))
            for key, description in rows:
                table.add_row(key, description)
        return table

    def action_scroll_down(self) -> None:
        self.query_one("#help-dialog", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#help-dialog", VerticalScroll).scroll_up()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
