"""`SchedulesScreen` (`t`, "timers"): every schedule with its next and last firing; `f` fires the selected one now.

Rows come from the schedules service's typed snapshot (`SchedulesSnapshot`):
name, function(s), expression, time zone, state, next fire time (with a
flexible window, the moment picked inside it), last fire and counts, soonest
first. The highlighted schedule's kind, ARN, description and last error show
below. Firing now enqueues its payload as a scheduled firing would, beside
its own timer. Refreshes once a second.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from lambdatop.runtime.errors import FleetStopped, LambdaServiceError, ScheduleNotFound
from lambdatop.runtime.snapshot import SchedulesSnapshot, ScheduleView
from lambdatop.tui.widgets.cells import age, ago
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

REFRESH_S = 1.0
COLUMNS = ("schedule", "function", "expression", "zone", "state", "next fire (UTC)", "last fire", "fired", "errors")


def state_text(view: ScheduleView) -> Text:
    if view.unresolved:
        return Text("unresolved", style="yellow")
    if not view.enabled:
        return Text("disabled", style="grey58")
    if view.next_fire_at is None:
        return Text("done", style="grey58")
    return Text("enabled", style="green")


def next_fire_text(view: ScheduleView, now: float) -> Text:
    if view.next_fire_at is None:
        return Text("–", style="grey58")
    text = Text(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(view.next_fire_at)))
    text.append(f"  in {age(max(0.0, view.next_fire_at - now))}", style="cyan")
    return text


class SchedulesScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("t", "back", "Back", show=False),
        Binding("f", "fire", "Fire now"),
    ]
    DEFAULT_CSS = """
    SchedulesScreen #schedules-title { height: 1; padding: 0 1; background: $panel; }
    SchedulesScreen #schedules-table-box { height: 1fr; border: round $primary; }
    SchedulesScreen #schedules-detail { height: auto; max-height: 8; border: round $primary; padding: 0 1; }
    SchedulesScreen DataTable { height: 1fr; }
    SchedulesScreen #schedules-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, fleet: Any) -> None:
        super().__init__(id="schedules")
        self.fleet = fleet
        self.data = SchedulesSnapshot([], 0)
        self._names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="schedules-title")
        with Vertical(id="schedules-table-box"):
            yield Static("no schedules: add a Schedule or ScheduleV2 event to a function, or an AWS::Events::Rule "
                         "with a ScheduleExpression", id="schedules-empty")
            yield DataTable(id="schedules-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="schedules-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#schedules-table", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.query_one("#schedules-table-box").border_title = "schedules"
        self.refresh_schedules()
        self.set_interval(REFRESH_S, self.refresh_schedules)
        table.focus()

    def selected(self) -> ScheduleView | None:
        row = self.query_one("#schedules-table", DataTable).cursor_row
        name = self._names[row] if 0 <= row < len(self._names) else None
        return next((v for v in self.data.schedules if v.name == name), None)

    def refresh_schedules(self) -> None:
        self.data = self.fleet.snapshot().schedules or SchedulesSnapshot([], 0)
        views, now = self.data.schedules, time.time()
        title = Text(" Schedules ", style="bold black on #ff9900")
        title.append(f"  {sum(1 for v in views if v.enabled and v.next_fire_at)} armed · {len(views)} defined"
                     f" · fired {self.data.fired} · f fire now · esc back", style="dim")
        self.query_one("#schedules-title", Static).update(title)
        table = self.query_one("#schedules-table", DataTable)
        self.query_one("#schedules-empty", Static).display = not views
        table.display = bool(views)
        selected = self.selected()
        names = [v.name for v in views]
        if names != self._names:
            table.clear()
            for view in views:
                table.add_row(*self._cells(view, now), key=view.name)
            self._names = names
            if selected is not None and selected.name in names:
                table.move_cursor(row=names.index(selected.name))
        else:
            for view in views:
                for column, value in zip(COLUMNS, self._cells(view, now), strict=True):
                    table.update_cell(view.name, column, value)
        self._show_detail()

    def _cells(self, view: ScheduleView, now: float) -> tuple[Any, ...]:
        return (view.name, ", ".join(view.functions), view.expression, view.timezone, state_text(view),
                next_fire_text(view, now), ago(view.last_fired_at, now) if view.last_fired_at else "–", str(view.fired),
                Text(str(view.errors), style="bold red") if view.errors else "0")

    def _show_detail(self) -> None:
        view = self.selected()
        detail = self.query_one("#schedules-detail", Static)
        if view is None:
            detail.update("")
            return
        text = Text(f"{view.kind}  {view.arn}", style="bold")
        if view.description:
            text.append(f"\n{view.description}")
        if view.window_min and view.scheduled_for:
            text.append(f"\nflexible window {view.window_min} min: due "
                        f"{time.strftime('%H:%M:%S', time.gmtime(view.scheduled_for))} UTC, fires at the picked moment")
        if view.unresolved:
            text.append(f"\n{view.unresolved}", style="yellow")
        if view.last_error:
            text.append(f"\nlast error: {view.last_error}", style="red")
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def action_fire(self) -> None:
        view = self.selected()
        if view is None:
            self.notify("no schedule selected", severity="warning")
            return
        self.run_worker(self._fire(view.name), exclusive=False)

    async def _fire(self, name: str) -> None:
        try:
            accepted = await self.fleet.fire_schedule(name)
        except (ScheduleNotFound, FleetStopped, LambdaServiceError) as exc:
            self.notify(f"{name}: {exc}", severity="error")
            return
        self.notify(f"{name}: fired now → {', '.join(accepted) or 'nothing accepted'}", title="schedule")
        self.refresh_schedules()

    def action_back(self) -> None:
        self.app.pop_screen()
