"""The live invocation stream: the latest invocations across the fleet, newest on top.

It shows the snapshot's `recent` window (a fixed number of records), so its
cost per refresh does not depend on the invocation rate. While the cursor is
on the top row the stream follows new invocations; move the cursor down and it
holds still so the row under the cursor can be read and opened (`g` or Home
follows again), like `less +F`.

Each row is one attempt: an async event retried after a failure keeps its
request id (as on Lambda), so rows are keyed by `attempt_key` and the TRY
column shows the attempt number. With nothing to show, the hint below the
table (a `.stream-hint` beside it in the same box) says how to start.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable, Static

from lambdatop.runtime.records import InvocationRecord, InvocationStatus, InvocationType
from lambdatop.tui.activity import AttemptLedger, attempt_key
from lambdatop.tui.widgets.cells import clock, ms, start_text, status_text
from lambdatop.tui.widgets.columns import Column, fit_columns, header_line, join_cells, line_width

ROW = "row"  # one DataTable column: each invocation is rendered as one line (see columns.join_cells)
START_HINT = "no invocations yet · i invoke · e pick an event · b burst"


def _columns(name_width: int, long_ids: bool) -> list[Column]:
    return [
        Column("time", "TIME", 12, 0),
        Column("fn", "FUNCTION", name_width, 0),
        Column("rid", "REQUEST ID" if long_ids else "REQUEST", 36 if long_ids else 8, 0),
        Column("try", "TRY", 3, 0, "right"),
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
        Binding("ctrl+d", "page_down", "Page down", show=False),
        Binding("ctrl+u", "page_up", "Page up", show=False),
    ]

    class FollowChanged(Message):
        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, *, function: str | None = None, attempts: AttemptLedger | None = None, **kwargs: Any) -> None:
        """`attempts`: the dashboard's ledger of attempt numbers (shared, so every table numbers alike)."""
        super().__init__(cursor_type="row", **kwargs)
        self.function = function  # only this function's invocations (the function screen)
        self.attempts = attempts if attempts is not None else AttemptLedger()
        self.filter_text = ""
        self._records: list[InvocationRecord] = []
        self._shown_keys: list[str] = []
        self._shown: dict[str, tuple[InvocationRecord, int]] = {}  # row key -> (record, attempt number)
        self._layout: list[tuple[str, int]] = []
        self._row_cells: dict[str, dict[str, Text]] = {}
        self._following = True

    @property
    def selected_key(self) -> str | None:
        """The row key (`attempt_key`) under the cursor."""
        if not self._shown_keys or not (0 <= self.cursor_row < len(self._shown_keys)):
            return None
        return self._shown_keys[self.cursor_row]

    @property
    def selected_request_id(self) -> str | None:
        record = self.selected_record
        return record.request_id if record else None

    @property
    def selected_record(self) -> InvocationRecord | None:
        key = self.selected_key
        return self._shown[key][0] if key else None

    @property
    def selected_attempt(self) -> int | None:
        key = self.selected_key
        return self._shown[key][1] if key else None

    def shown_row(self, key: str) -> tuple[InvocationRecord, int] | None:
        """(record, attempt number) of a row by its key."""
        return self._shown.get(key)

    def row_cells(self) -> list[dict[str, str]]:
        """The rows as shown, newest first: column key -> plain text."""
        return [{key: cell.plain for key, cell in self._row_cells[row].items()} for row in self._shown_keys]

    @property
    def empty_hint(self) -> str | None:
        """What the hint below the table says (None while there are rows)."""
        if self._shown_keys:
            return None
        return f"no invocation matches “{self.filter_text}” · esc clears the filter" if self.filter_text else START_HINT

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
        if not force and not self._following and self._shown_keys:
            return  # holding still while the user reads
        # Rows beyond what fits are not worth building while following (most of a frame's cost).
        limit = max(10, self.size.height * 2) if self._following else len(self._records)
        records = [r for r in self._records if self._matches(r)][:limit]
        numbered = [(record, self.attempts.attempt(record)) for record in records]
        keys = [attempt_key(record.request_id, attempt) for record, attempt in numbered]
        width = self.size.width - 2 if self.size.width else 80
        name_width = min(20, max([8] + [len(r.function) for r in records]))
        long_ids = width >= 120
        columns = fit_columns(_columns(name_width, long_ids), max(40, width))
        # The error message takes whatever room is left on a wide terminal.
        spare = width - sum(c.width + 2 for c in columns)
        if all(c.key != "error" for c in columns) and spare >= 22:
            columns.append(Column("error", "ERROR", spare - 2, 5))
        layout = [(c.key, c.width) for c in columns]
        if not force and keys == self._shown_keys and layout == self._layout:
            return
        selected = self.selected_key
        self.clear(columns=layout != self._layout)
        if layout != self._layout:
            self.add_column(header_line(columns), width=line_width(columns), key=ROW)
            self._layout = layout
        self._row_cells = {}
        self._shown = {}
        for key, (record, attempt) in zip(keys, numbered, strict=True):
            if key in self._shown:
                continue  # the same attempt twice in one window (never expected): one row
            cells = _cells(record, attempt, long_ids)
            self._row_cells[key] = cells
            self._shown[key] = (record, attempt)
            self.add_row(join_cells(columns, cells), key=key)
        self._shown_keys = list(self._shown)
        self._show_hint()
        if not self._following and selected in self._shown:
            self.move_cursor(row=self._shown_keys.index(selected), animate=False)

    def _show_hint(self) -> None:
        hint_text = self.empty_hint
        self.set_class(hint_text is not None, "-empty")
        if self.parent is None:
            return
        for hint in self.parent.query(".stream-hint"):
            if isinstance(hint, Static):
                hint.update(hint_text or "")
                hint.display = hint_text is not None


def _cells(record: InvocationRecord, attempt: int, long_ids: bool) -> dict[str, Text]:
    status = record.status
    throttled = status is InvocationStatus.THROTTLED
    row_style = "red" if record.is_error else ("yellow" if throttled else "")
    return {
        "time": Text(clock(record.started_at), style="dim"),
        "fn": Text(record.function, style=row_style or "bold"),
        "rid": Text(record.request_id if long_ids else record.request_id[:8], style=row_style),
        # Async events are retried under the same request id: say which try this row is.
        "try": Text(str(attempt) if attempt > 1 or record.invocation_type == InvocationType.EVENT else "",
                    justify="right", style="bold yellow" if attempt > 1 else "dim"),
        "start": start_text(record),
        "dur": Text("-" if throttled else ms(record.duration_ms), justify="right", style=row_style),
        "status": status_text(status),
        "billed": Text("-" if throttled else str(record.billed_duration_ms), justify="right", style="dim"),
        "mem": Text("-" if throttled else f"{record.max_memory_used_mb}", justify="right", style="dim"),
        "trigger": Text(str(record.trigger), style="dim"),
        # A published version that ran (FN:1, an alias) shows its number before the code version: "1/v1".
        "ver": Text(record.code_version if record.version == "$LATEST" else f"{record.version}/{record.code_version}",
                    style="dim"),
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
