"""`AlarmsScreen`: every alarm with its state, condition and reason, and the history of state changes.

Rows are coloured by state (ALARM red, INSUFFICIENT_DATA grey, OK green);
the highlighted alarm's history (CloudWatch's "History" tab: time, old → new,
reason) shows below, newest first. Refreshes once a second from the
observability service's `alarms` snapshot.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from lambdatop.runtime.observability.figures import AlarmsSnapshot, AlarmView
from lambdatop.tui.screens.base import LambdatopScreen
from lambdatop.tui.widgets.cells import ago
from lambdatop.tui.widgets.vim_table import VimTable

STATE_STYLES = {"ALARM": "bold white on red", "OK": "green", "INSUFFICIENT_DATA": "grey58"}
REFRESH_S = 1.0


def state_text(state: str) -> Text:
    return Text(f" {state} " if state == "ALARM" else state, style=STATE_STYLES.get(state, ""))



class AlarmsScreen(LambdatopScreen[None]):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("A", "back", "Back", show=False)]
    DEFAULT_CSS = """
    AlarmsScreen #alarms-title { height: 1; padding: 0 1; background: $panel; }
    AlarmsScreen #alarms-table-box { height: 1fr; border: round $primary; }
    AlarmsScreen #alarms-history-box { height: 1fr; border: round $primary; }
    AlarmsScreen #alarms-table-box:focus-within, AlarmsScreen #alarms-history-box:focus-within { border: heavy $accent; }
    AlarmsScreen DataTable { height: 1fr; }
    AlarmsScreen #alarms-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, fleet: Any) -> None:
        super().__init__(id="alarms")
        self.fleet = fleet
        self.data = AlarmsSnapshot(open=0, states={}, alarms=(), transitions=())
        self._names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="alarms-title")
        with Vertical(id="alarms-table-box"):
            yield Static("alarms need the observability service (run `lambdatop` or `lambdatop serve`)", id="alarms-empty")
            table: DataTable[Any] = VimTable(id="alarms-table", cursor_type="row", zebra_stripes=True)
            yield table
        with Vertical(id="alarms-history-box"):
            history: DataTable[Any] = VimTable(id="alarms-history", cursor_type="row")
            yield history
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#alarms-table", DataTable)
        table.add_column("state", key="state", width=19)
        table.add_column("alarm", key="alarm")
        table.add_column("function", key="function")
        table.add_column("condition", key="condition")
        table.add_column("since", key="since", width=12)
        table.add_column("last datapoints", key="datapoints")
        history = self.query_one("#alarms-history", DataTable)
        history.add_column("time (UTC)", key="time", width=10)
        history.add_column("alarm", key="alarm")
        history.add_column("change", key="change", width=36)
        history.add_column("reason", key="reason")
        self.query_one("#alarms-table-box").border_title = "alarms"
        self.query_one("#alarms-history-box").border_title = "history"
        self.refresh_alarms()
        self.set_interval(REFRESH_S, self.refresh_alarms)
        table.focus()

    def refresh_alarms(self) -> None:
        self.data = self.fleet.snapshot().alarms or AlarmsSnapshot(open=0, states={}, alarms=(), transitions=())
        alarms = list(self.data.alarms)
        now = time.time()
        empty = self.query_one("#alarms-empty", Static)
        table = self.query_one("#alarms-table", DataTable)
        empty.display = not alarms
        # The (empty) table stays: it holds the focus, so the focused panel stays marked.
        title = Text(" Alarms ", style="bold black on #ff9900")
        title.append(f"  {self.data.open} in ALARM", style="bold red" if self.data.open else "")
        title.append(f"  · {len(alarms)} defined  · esc back", style="dim")
        self.query_one("#alarms-title", Static).update(title)
        # Most urgent first: ALARM, then INSUFFICIENT_DATA, then OK; by name within a state.
        order = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
        alarms = sorted(alarms, key=lambda a: (order.get(a.state, 3), a.name))
        names = [a.name for a in alarms]
        cursor = table.cursor_row
        selected = self._names[cursor] if 0 <= cursor < len(self._names) else None
        if names != self._names:
            table.clear()
            for alarm in alarms:
                table.add_row(*self._cells(alarm, now), key=alarm.name)
            self._names = names
            if selected in names:
                table.move_cursor(row=names.index(selected))
        else:
            for alarm in alarms:
                for column, value in zip(("state", "alarm", "function", "condition", "since", "datapoints"), self._cells(alarm, now), strict=True):
                    table.update_cell(alarm.name, column, value)
        self._show_history()

    def _cells(self, alarm: AlarmView, now: float) -> tuple[Any, ...]:
        points = ", ".join("–" if v is None else f"{v:g}" for v in alarm.datapoints)
        style = "bold red" if alarm.state == "ALARM" else ""
        return (state_text(alarm.state), Text(alarm.name, style=style), alarm.function, alarm.description,
                ago(alarm.since, now), points or "–")

    def _show_history(self) -> None:
        table = self.query_one("#alarms-table", DataTable)
        history = self.query_one("#alarms-history", DataTable)
        row = table.cursor_row
        name = self._names[row] if 0 <= row < len(self._names) else None
        alarm = next((a for a in self.data.alarms if a.name == name), None)
        entries = alarm.history if alarm else self.data.transitions
        box = self.query_one("#alarms-history-box")
        box.border_title = f"history · {name}" if alarm else "history"
        history.clear()
        for entry in entries[:200]:
            change = Text()
            change.append_text(state_text(entry.old))
            change.append(" → ")
            change.append_text(state_text(entry.new))
            history.add_row(time.strftime("%H:%M:%S", time.gmtime(entry.at)), entry.alarm, change, entry.reason)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "alarms-table":
            self._show_history()

    def action_back(self) -> None:
        self.app.pop_screen()
