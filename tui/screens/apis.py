"""`ApisScreen` (`w`, "web routes"): every API route → its function, with requests, 4xx/5xx, p50/p99, last status.

Renders the API service's typed `ApiSnapshot` (`fleet.snapshot().api`), once
a second. Enter opens the function screen of the route under the cursor.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lambdatop.runtime.snapshot import ApiSnapshot, RouteView
from lambdatop.tui.widgets.cells import ms

REFRESH_S = 1.0
COLUMNS = (("method", 7), ("path", 28), ("api", 22), ("function", 22), ("requests", 9), ("4xx", 6), ("5xx", 6),
           ("p50", 9), ("p99", 9), ("last", 5))


def status_text(status: int | None) -> Text:
    if status is None:
        return Text("–", style="dim")
    return Text(str(status), style="red" if status >= 500 else "yellow" if status >= 400 else "green")


class ApisScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("w", "back", "Back", show=False)]
    DEFAULT_CSS = """
    ApisScreen #apis-title { height: 1; padding: 0 1; background: $panel; }
    ApisScreen #apis-box { height: 1fr; border: round $primary; }
    ApisScreen DataTable { height: 1fr; }
    ApisScreen #apis-empty { padding: 1 2; color: $text-muted; }
    ApisScreen #apis-notes { height: auto; max-height: 4; padding: 0 1; color: $warning; }
    """

    def __init__(self, fleet: Any) -> None:
        super().__init__(id="apis")
        self.fleet = fleet
        self.snapshot: ApiSnapshot | None = None
        self._keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="apis-title")
        with Vertical(id="apis-box"):
            yield Static("no API routes: the template has no Api or HttpApi events (or the API port is off: --no-api)",
                         id="apis-empty")
            yield DataTable(id="apis-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="apis-notes")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#apis-table", DataTable)
        for name, width in COLUMNS:
            table.add_column(name, key=name, width=width)
        self.query_one("#apis-box").border_title = "routes"
        self.refresh_routes()
        self.set_interval(REFRESH_S, self.refresh_routes)
        table.focus()

    def refresh_routes(self) -> None:
        self.snapshot = snapshot = self.fleet.snapshot().api
        routes = list(snapshot.routes) if snapshot else []
        table = self.query_one("#apis-table", DataTable)
        self.query_one("#apis-empty", Static).display = not routes
        table.display = bool(routes)
        title = Text(" APIs ", style="bold black on #ff9900")
        if snapshot and snapshot.url:
            title.append(f"  {snapshot.url}", style="bold")
        title.append(f"  {len(routes)} route{'s' if len(routes) != 1 else ''}", style="dim")
        if snapshot and snapshot.unmatched:
            title.append(f"  · {snapshot.unmatched} unmatched (403/404)", style="yellow")
        title.append("  · enter opens the function · esc back", style="dim")
        self.query_one("#apis-title", Static).update(title)
        self.query_one("#apis-notes", Static).update("\n".join(snapshot.warnings) if snapshot else "")
        keys = [f"{r.api}|{r.route_key}" for r in routes]
        if keys != self._keys:
            cursor = table.cursor_row
            table.clear()
            for key, route in zip(keys, routes, strict=True):
                table.add_row(*self._cells(route), key=key)
            self._keys = keys
            if 0 <= cursor < len(keys):
                table.move_cursor(row=cursor)
            return
        for key, route in zip(keys, routes, strict=True):
            for (column, _), value in zip(COLUMNS, self._cells(route), strict=True):
                table.update_cell(key, column, value)

    @staticmethod
    def _cells(route: RouteView) -> tuple[Any, ...]:
        path = "$default (everything else)" if route.path == "$default" else route.path
        api = f"{route.api} ({route.kind} {route.stage})"
        auth = Text(f" 🔒{route.authorizer}", style="dim") if route.authorizer else Text("")
        return (
            Text(route.method, style="bold"), Text(path) + auth, api, route.function, str(route.requests),
            Text(str(route.client_errors), style="yellow" if route.client_errors else "dim"),
            Text(str(route.server_errors), style="red" if route.server_errors else "dim"),
            ms(route.p50_ms), ms(route.p99_ms),
            status_text(route.last_status),
        )

    def selected_function(self) -> str | None:
        table = self.query_one("#apis-table", DataTable)
        snapshot = self.snapshot
        row = table.cursor_row
        if snapshot is None or not 0 <= row < len(snapshot.routes):
            return None
        return snapshot.routes[row].function

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        name = self.selected_function()
        if name is not None:
            self.app.open_function(name)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app.pop_screen()
