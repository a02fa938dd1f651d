"""The main screen: fleet header, functions table, live invocation stream.

Enter on a function opens its screen, Enter on an invocation opens that
invocation (that attempt of it); `/` filters both tables, `s` cycles the sort
column and `o` picks it from a list. The keys that act on "the selected
function" (i, e, b, K, a, r, l) are the app's: they ask the screen what is
selected through `selected_function()` / `selected_invocation()`.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Key
from textual.widgets import DataTable, Footer, Input, Static

from lambdatop.runtime.fleet import FleetSnapshot
from lambdatop.tui.screens.base import LambdatopScreen
from lambdatop.tui.screens.sort_picker import SortPicker
from lambdatop.tui.widgets.fleet_header import FleetHeader
from lambdatop.tui.widgets.function_peek import FunctionPeek
from lambdatop.tui.widgets.functions_table import FunctionsTable
from lambdatop.tui.widgets.invocation_stream import InvocationStream


class MainScreen(LambdatopScreen[None]):
    """The fleet at a glance: header, functions table, invocation stream (and, wide, the selected function)."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("o", "pick_sort", "Order by", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, source: str) -> None:
        super().__init__(id="main")
        self.source = source
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield FleetHeader(self.source, id="fleet-header")
        yield Input(placeholder="filter: function name, request id or status (enter keeps it, esc clears)", id="filter")
        with Vertical(id="functions-box"):
            yield FunctionsTable(id="functions")
        with Horizontal(id="lower"):
            with Vertical(id="stream-box"):
                yield InvocationStream(id="stream", attempts=self.app.activity.attempts)
                yield Static(classes="stream-hint")
            yield FunctionPeek(id="peek", classes="box")  # shown on wide, tall terminals only
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self._update_titles()
        self.query_one("#functions", FunctionsTable).focus()
        self.call_after_refresh(self.app.refresh_screen)

    # -- refreshing -------------------------------------------------------------------

    def refresh_from(self, snapshot: FleetSnapshot, status: str = "") -> None:
        self.query_one(FleetHeader).refresh_from(snapshot, status)
        self.query_one("#functions", FunctionsTable).refresh_from(snapshot)
        self.query_one("#stream", InvocationStream).refresh_from(snapshot.recent)
        peek = self.query_one("#peek", FunctionPeek)
        if peek.display:
            peek.refresh_from(snapshot, self.query_one("#functions", FunctionsTable).selected_function, self.app.activity)

    def _update_titles(self) -> None:
        table = self.query_one("#functions", FunctionsTable)
        stream = self.query_one("#stream", InvocationStream)
        filtered = f" · filter “{self.filter_text}”" if self.filter_text else ""
        self.query_one("#functions-box").border_title = f"functions · sort {table.sort_label}{filtered}"
        live = "live" if stream.following else "paused (g to follow)"
        self.query_one("#stream-box").border_title = f"invocations · {live}{filtered}"

    # -- what the app's keys act on ----------------------------------------------------

    def selected_function(self) -> str | None:
        stream = self.query_one("#stream", InvocationStream)
        if self.focused is stream and stream.selected_record is not None:
            return stream.selected_record.function
        return self.query_one("#functions", FunctionsTable).selected_function

    def selected_invocation(self) -> str | None:
        stream = self.query_one("#stream", InvocationStream)
        return stream.selected_request_id if self.focused is stream else None

    def selected_attempt(self) -> int | None:
        stream = self.query_one("#stream", InvocationStream)
        return stream.selected_attempt if self.focused is stream else None

    # -- events and actions ------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "functions":
            self.app.open_function(key)
        elif event.data_table.id == "stream" and (row := self.query_one("#stream", InvocationStream).shown_row(key)):
            record, attempt = row
            self.app.open_invocation(record.request_id, attempt)

    def on_invocation_stream_follow_changed(self, event: InvocationStream.FollowChanged) -> None:
        self._update_titles()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._apply_filter(event.value)
            if not self.filter_text:
                event.input.display = False
            self.query_one("#functions", FunctionsTable).focus()

    def on_key(self, event: Key) -> None:
        # Esc inside the filter box clears it and gives the keys back to the tables.
        if event.key == "escape" and self.focused is self.query_one("#filter", Input):
            event.stop()
            self.action_clear_filter()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self._apply_filter("")
        self.query_one("#functions", FunctionsTable).focus()

    def _apply_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.query_one("#functions", FunctionsTable).set_filter(self.filter_text)
        self.query_one("#stream", InvocationStream).set_filter(self.filter_text)
        self._update_titles()

    def action_sort(self) -> None:
        self.query_one("#functions", FunctionsTable).cycle_sort()
        self._update_titles()

    def action_reverse_sort(self) -> None:
        self.query_one("#functions", FunctionsTable).reverse_sort()
        self._update_titles()

    def action_pick_sort(self) -> None:
        table = self.query_one("#functions", FunctionsTable)

        def picked(key: str | None) -> None:
            if key is not None:
                table.sort_by(key)
                self._update_titles()

        self.app.push_screen(SortPicker(table.sort_key), picked)
