"""The live invocation stream: the latest invocations across the fleet, newest on top.

It shows the snapshot's `recent` window (a fixed number of records), so its
cost per refresh does not depend on the invocation rate. While the cursor is
on the top row the stream follows new invocations; move the cursor down and it
holds still so the row under the cursor can be read and opened (`g` or Home
follows again), like `less +F`.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable

from lambdatop.runtime.records import InvocationRecord, InvocationStatus
from lambdatop.tui.widgets.cells import clock, ms, start_text, status_text
from lambdatop.tui.widgets.columns import Column, fit_columns, header_line, join_cells, line_width

ROW = "row"  # one DataTable column: each invocation is rendered as one line (see columns.join_cells)


def _columns(name_width: int, long_ids: bool) -> list[Column]:
    return [
        Column("time", "TIME", 12, 0),
        Column("fn", "FUNCTION", name_width, 0),
        Column("rid", "REQUEST ID" if long_ids else "REQUEST", 36 if long_ids else 8, 0),
        Column("start", "START", 5, 0),
        Column("dur", "DURATION", 8, 0, "right"),
        Column("status", "STATUS", 9, 0),
        Column("billed", "BILLED", 7, 3, "right"),
        Column("mem", "MEM MB", 7, 3, "right"),
        Column("trigger", "TRIGGER", 7, 2),
        Column("ver", "VER", 4, 4),
        Column("error", "ERROR", 30, 5),
    ]


class InvocationStream(DataTable):
    """Newest-first table of recent invocations (Enter posts DataTable.RowSelected)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "follow", "Follow", show=False),
        Binding("home", "follow", "Follow", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    class FollowChanged(Message):
        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, *, function: str | None = None, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.function = function  # only this function's invocations (the function screen)
        self.filter_text = ""
        self._records: list[InvocationRecord] = []
        self._shown_ids: list[str] = []
        self._layout: list[tuple[str, int]] = []
        self._row_cells: dict[str, dict[str, Text]] = {}
        self._following = True

    @property
    def selected_request_id(self) -> str | None:
        if not self._shown_ids or not (0 <= self.cursor_row < len(self._shown_ids)):
            return None
        return self._shown_ids[self.cursor_row]

    @property
    def selected_record(self) -> InvocationRecord | None:
        wanted = self.selected_request_id
        return next((r for r in self._records if r.request_id == wanted), None) if wanted else None

    def row_cells(self) -> list[dict[str, str]]:
        """The rows as shown, newest first: column key -> plain text."""
        return [{key: cell.plain for key, cell in self._row_cells[rid].items()} for rid in self._shown_ids]

    @property
    def following(self) -> bool:
        return self._following

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._redraw(force=True)

    def action_follow(self) -> None:
        self.move_cursor(row=0, animate=False)
        self._set_following(True)
        self._redraw(force=True)

    def refresh_from(self, records: list[InvocationRecord]) -> None:
        """`records` newest first (a bounded window)."""
        self._records = records
        self._redraw()

    def on_resize(self, event: Resize) -> None:
        self._redraw(force=True)

    def watch_cursor_coordinate(self, old: Any, new: Any) -> None:
        super().watch_cursor_coordinate(old, new)
        self._set_following(new.row == 0)

    def _set_following(self, following: bool) -> None:
        if following != self._following:
            self._following = following
            self.post_message(self.FollowChanged(following))

    def _matches(self, record: InvocationRecord) -> bool:
        if self.function is not None and record.function != self.function:
            return False
        if not self.filter_text:
            return True
        text = self.filter_text
        return text in record.function.lower() or text in record.request_id or text in str(record.status)

    def _redraw(self, force: bool = False) -> None:
        if not force and not self._following and self._shown_ids:
            return  # holding still while the user reads
        # Rows beyond what fits are not worth building while following (most of a frame's cost).
        limit = max(10, self.size.height * 2) if self._following else len(self._records)
        records = [r for r in self._records if self._matches(r)][:limit]
        ids = [r.request_id for r in records]
        width = self.size.width - 2 if self.size.width else 80
        name_width = min(20, max([8] + [len(r.function) for r in records]))
        long_ids = width >= 120
        columns = fit_columns(_columns(name_width, long_ids), max(40, width))
        # The error message takes whatever room is left on a wide terminal.
        spare = width - sum(c.width + 2 for c in columns)
        if all(c.key != "error" for c in columns) and spare >= 22:
            columns.append(Column("error", "ERROR", spare - 2, 5))
        layout = [(c.key, c.width) for c in columns]
        if not force and ids == self._shown_ids and layout == self._layout:
            return
        selected = self.selected_request_id
        self.clear(columns=layout != self._layout)
        if layout != self._layout:
            self.add_column(header_line(columns), width=line_width(columns), key=ROW)
            self._layout = layout
        self._row_cells = {}
        for record in records:
            cells = _cells(record, long_ids)
            self._row_cells[record.request_id] = cells
            self.add_row(join_cells(columns, cells), key=record.request_id)
        self._shown_ids = ids
        if not self._following and selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)


def _cells(record: InvocationRecord, long_ids: bool) -> dict[str, Text]:
    status = record.status
    throttled = status is InvocationStatus.THROTTLED
    row_style = "red" if record.is_error else ("yellow" if throttled else "")
    return {
        "time": Text(clock(record.started_at), style="dim"),
        "fn": Text(record.function, style=row_style or "bold"),
        "rid": Text(record.request_id if long_ids else record.request_id[:8], style=row_style),
        "start": start_text(record),
        "dur": Text("-" if throttled else ms(record.duration_ms), justify="right", style=row_style),
        "status": status_text(status),
        "billed": Text("-" if throttled else str(record.billed_duration_ms), justify="right", style="dim"),
        "mem": Text("-" if throttled else f"{record.max_memory_used_mb}", justify="right", style="dim"),
        "trigger": Text(str(record.trigger), style="dim"),
        "ver": Text(record.code_version, style="dim"),
        "error": Text(_error_text(record), style=row_style),
    }


def _error_text(record: InvocationRecord) -> str:
    if not record.error_type:
        return ""
    message = record.error_message or ""
    # Lambda's timeout message starts with the request id, which the row already shows.
    if message.startswith("RequestId: ") and " Error: " in message:
        message = message.split(" Error: ", 1)[1]
    return f"{record.error_type}: {message}"
