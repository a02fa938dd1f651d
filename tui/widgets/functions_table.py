"""The functions table: one row per function, refreshed in place from each snapshot.

Rows are keyed by function name; each row is one DataTable cell holding the
whole line (see `columns.join_cells`: far cheaper to paint). A refresh
re-renders only the rows whose text changed; the rows are rebuilt only when
the visible set, their order or the columns change (filter, sort, resize, a
function added by a reload), and the cursor stays on the same function.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from lambdatop.runtime.fleet import FleetSnapshot, FunctionSnapshot
from lambdatop.tui.widgets.cells import ALARM_LABEL, ALARM_STYLE, ms, pct, rate, sparkline
from lambdatop.tui.widgets.columns import Column, fit_columns, header_line, join_cells, line_width

SPARK_WIDTH = 20
ROW = "row"  # the one DataTable column: each row is rendered as one line (see columns.join_cells)

# What `s` cycles through and `o` picks from: (column key, label shown in help, descending by default).
SORTS: list[tuple[str, str, bool]] = [
    ("name", "name", False),
    ("conc", "concurrency in use", True),
    ("inv", "invocations/s", True),
    ("total", "total invocations", True),
    ("err", "error %", True),
    ("thr", "throttles", True),
    ("p99", "p99 duration", True),
    ("cold", "cold-start %", True),
    ("mem", "max memory used", True),
]


def _columns(name_width: int, snapshot: FleetSnapshot) -> list[Column]:
    columns = [
        Column("name", "FUNCTION", name_width, 0),
        Column("ver", "VER", 4, 2),
        Column("envs", "B/I/N", 7, 1, "right"),
        Column("conc", "CONC", 9, 0, "right"),
        Column("inv", "INV/S", 6, 0, "right"),
        Column("total", "TOTAL", 6, 0, "right"),
        Column("err", "ERR%", 5, 0, "right"),
        Column("thr", "THR", 5, 0, "right"),
        Column("tmo", "T/O", 4, 3, "right"),
        Column("p50", "P50", 7, 3, "right"),
        Column("p99", "P99", 7, 1, "right"),
        Column("cold", "COLD%", 5, 2, "right"),
        Column("mem", "MEM MB", 8, 2, "right"),
    ]
    if snapshot.async_queues is not None:
        columns.append(Column("queue", "QUEUE", 7, 2, "right"))
    if snapshot.alarms is not None:
        columns.append(Column("alarm", "ALARM", 5, 2))
    columns.append(Column("spark", "CONCURRENCY 60s", SPARK_WIDTH, 3))
    return columns


class FunctionsTable(DataTable):
    """Sortable, filterable table of functions (Enter posts DataTable.RowSelected)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("ctrl+d", "page_down", "Page down", show=False),
        Binding("ctrl+u", "page_up", "Page up", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.filter_text = ""
        self.sort_index = 0
        self.sort_reverse = False
        self._layout: list[tuple[str, int]] = []
        self._order: list[str] = []
        self._cells: dict[str, dict[str, Text]] = {}
        self._last: FleetSnapshot | None = None
        self._needs_rebuild = True

    # -- what the screen asks -----------------------------------------------------------

    @property
    def selected_function(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    @property
    def visible_functions(self) -> list[str]:
        return list(self._order)

    @property
    def sort_label(self) -> str:
        _, label, descending = SORTS[self.sort_index]
        arrow = "▲" if descending == self.sort_reverse else "▼"
        return f"{label} {arrow}"

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._needs_rebuild = True
        self._redraw()

    @property
    def sort_key(self) -> str:
        return SORTS[self.sort_index][0]

    def sort_by(self, key: str) -> None:
        """Sort by one column (a key of SORTS), in its natural direction; an unknown key is ignored."""
        index = next((i for i, (k, _, _) in enumerate(SORTS) if k == key), None)
        if index is None:
            return
        self.sort_index = index
        self.sort_reverse = False
        self._needs_rebuild = True
        self._redraw()

    def cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.sort_reverse = False
        self._needs_rebuild = True
        self._redraw()

    def reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._needs_rebuild = True
        self._redraw()

    def cell(self, function: str, column: str) -> str:
        """What one column shows for one function (the plain text), as on screen."""
        cells = self._cells.get(function, {})
        return cells[column].plain if column in cells else ""

    def select_function(self, name: str) -> None:
        if name in self._order:
            self.move_cursor(row=self._order.index(name), animate=False)

    # -- refreshing ---------------------------------------------------------------------

    def refresh_from(self, snapshot: FleetSnapshot) -> None:
        self._last = snapshot
        self._redraw()

    def on_resize(self, event: Resize) -> None:
        self._needs_rebuild = True
        self._redraw()

    def _redraw(self) -> None:
        snapshot = self._last
        if snapshot is None:
            return
        functions = [f for f in snapshot.functions if self.filter_text in f.name.lower()]
        functions = self._sorted(functions, snapshot)
        order = [f.name for f in functions]
        name_width = min(24, max([10] + [len(f.name) + 1 for f in snapshot.functions]))
        available = max(40, self.size.width - 1 if self.size.width else 80)
        columns = fit_columns(_columns(name_width, snapshot), available)
        keys = [c.key for c in columns]
        layout = [(c.key, c.width) for c in columns]
        rows = {f.name: self._row(f, snapshot) for f in functions}
        if self._needs_rebuild or layout != self._layout or order != self._order:
            self._rebuild(columns, order, rows)
            return
        for name in order:
            old = self._cells.get(name, {})
            if any(old.get(key) != rows[name][key] for key in keys):
                try:
                    self.update_cell(name, ROW, join_cells(columns, rows[name]))
                except RowDoesNotExist:
                    self._needs_rebuild = True
            self._cells[name] = rows[name]

    def _rebuild(self, columns: list[Column], order: list[str], rows: dict[str, dict[str, Text]]) -> None:
        selected = self.selected_function
        self.clear(columns=True)
        sort_key = SORTS[self.sort_index][0]
        arrow = "▼" if SORTS[self.sort_index][2] != self.sort_reverse else "▲"
        label = header_line(columns, styles={sort_key: "bold"}, marks={sort_key: arrow})
        self.add_column(label, width=line_width(columns), key=ROW)
        for name in order:
            self.add_row(join_cells(columns, rows[name]), key=name)
        self._layout = [(c.key, c.width) for c in columns]
        self._order = order
        self._cells = rows
        self._needs_rebuild = False
        if selected in order:
            self.move_cursor(row=order.index(selected), animate=False)

    def _sorted(self, functions: list[FunctionSnapshot], snapshot: FleetSnapshot) -> list[FunctionSnapshot]:
        key, _, descending = SORTS[self.sort_index]
        getters: dict[str, Any] = {
            "name": lambda f: f.name,
            "conc": lambda f: (f.in_use, f.busy),
            "inv": lambda f: (f.invocations_per_s, f.totals.invocations),
            "total": lambda f: f.totals.invocations,
            "err": lambda f: (f.error_pct, f.totals.errors),
            "thr": lambda f: (f.throttles_per_s, f.totals.throttles),
            "p99": lambda f: f.p99_ms or 0.0,
            "cold": lambda f: f.cold_pct,
            "mem": lambda f: f.max_memory_used_mb,
        }
        reverse = descending != self.sort_reverse
        # Ties keep alphabetical order, so rows do not jump around between refreshes.
        ordered = sorted(functions, key=lambda f: f.name)
        return sorted(ordered, key=getters[key], reverse=reverse)

    def _row(self, f: FunctionSnapshot, snapshot: FleetSnapshot) -> dict[str, Text]:
        reload = (snapshot.reload or {}).get(f.name)
        install = (snapshot.packages or {}).get(f.name)
        broken = (reload.broken if reload else None) or (install is not None and install.state == "failed")
        alarms, queues = snapshot.alarms, snapshot.async_queues
        alarm_state = alarms.states.get(f.name) if alarms else None
        queue = queues.get(f.name) if queues is not None else None

        if broken or alarm_state == "ALARM" or f.errors_per_s > 0:
            name_style = "bold red"
        elif f.throttles_per_s > 0:
            name_style = "bold yellow"
        elif f.busy or f.initializing:
            name_style = "bold green"
        else:
            name_style = ""
        name = Text(("✗ " if broken else "") + f.name, style=name_style)
        cannot_run = f.config.cannot_run is not None
        if cannot_run:  # lambdatop cannot run it (another runtime, a container image...): greyed, said on `enter`
            name = Text("⊘ " + f.name, style="dim")

        version = reload.versions[-1].version if reload and reload.versions else f.code_version
        ver = Text("-" if cannot_run else version, style="dim" if cannot_run else "bold red" if broken else "")

        envs = Text(justify="right")
        envs.append(str(f.busy), style="bold green" if f.busy else "dim")
        envs.append("/")
        envs.append(str(f.idle), style="cyan" if f.idle else "dim")
        envs.append("/")
        envs.append(str(f.initializing), style="yellow" if f.initializing else "dim")

        share = f.in_use / f.limit if f.limit else 0.0
        conc_style = "bold red" if share >= 1 else "yellow" if share >= 0.7 else ("green" if f.in_use else "")
        conc = Text(f"{f.in_use}/{f.limit}", style=conc_style, justify="right")

        inv = Text(rate(f.invocations_per_s), justify="right", style="bold" if f.invocations_per_s else "dim")
        total = Text(str(f.totals.invocations), justify="right", style="" if f.totals.invocations else "dim")
        err_style = "bold red" if f.errors_per_s > 0 else ("red" if f.totals.errors else "dim")
        err = Text(pct(f.error_pct), style=err_style, justify="right")
        thr_style = "bold black on yellow" if f.throttles_per_s > 0 else ("yellow" if f.totals.throttles else "dim")
        thr = Text(str(f.totals.throttles), style=thr_style, justify="right")
        tmo = Text(str(f.totals.timeouts), style="magenta" if f.totals.timeouts else "dim", justify="right")
        p50 = Text(ms(f.p50_ms), justify="right")
        p99 = Text(ms(f.p99_ms), justify="right")
        cold = Text(pct(f.cold_pct) if f.totals.invocations else "-", justify="right", style="" if f.totals.invocations else "dim")
        mem_share = f.max_memory_used_mb / f.memory_size if f.memory_size else 0
        mem = Text(f"{f.max_memory_used_mb}/{f.memory_size}", justify="right",
                   style="bold red" if mem_share >= 0.9 else ("yellow" if mem_share >= 0.7 else ""))
        row = {
            "name": name, "ver": ver, "envs": envs, "conc": conc, "inv": inv, "total": total, "err": err, "thr": thr, "tmo": tmo,
            "p50": p50, "p99": p99, "cold": cold, "mem": mem,
        }
        if queues is not None:
            depth = queue.queue_depth if queue else 0
            dlq = queue.dlq if queue else 0
            text = Text(justify="right")
            text.append(str(depth), style="bold" if depth else "dim")
            if dlq:
                text.append(f" +{dlq}", style="bold red")
            row["queue"] = text
        if alarms is not None:
            state = alarm_state or "INSUFFICIENT_DATA"
            row["alarm"] = Text(ALARM_LABEL.get(state, state), style=ALARM_STYLE.get(state, ""))
        history = f.concurrency_history
        spark_style = "red" if f.throttles_per_s > 0 else "green"
        row["spark"] = sparkline(history, SPARK_WIDTH, ceiling=max(max(history, default=0), 1), style=spark_style)
        return row
