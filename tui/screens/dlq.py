"""`DeadLetterScreen`: async events that failed for good, with their error; redrive one or all.

Lists the store's `dead_letters` (every event that exhausted its retries, grew
too old, or met reserved concurrency 0, whether or not a DLQ or on-failure
destination was configured, and where it was sent). The highlighted event's
payload and error show below. `r`/enter redrives it, `R` redrives them all: a
redrive queues the original event again as a new asynchronous invocation.
The header shows each function's queue depth, oldest event and next retry.
Refreshes once a second (one indexed SQLite read).
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from lambdatop.tui.screens.base import LambdatopScreen
from lambdatop.tui.widgets.cells import ago
from lambdatop.tui.widgets.vim_table import VimTable

REFRESH_S = 1.0



class DeadLetterScreen(LambdatopScreen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("d", "back", "Back", show=False),
        Binding("r", "redrive", "Redrive"),
        Binding("enter", "redrive", "Redrive", show=False),
        Binding("R", "redrive_all", "Redrive all"),
    ]
    DEFAULT_CSS = """
    DeadLetterScreen #dlq-title { height: 1; padding: 0 1; background: $panel; }
    DeadLetterScreen #dlq-queues { height: auto; max-height: 6; padding: 0 1; }
    DeadLetterScreen #dlq-table-box { height: 1fr; border: round $primary; }
    DeadLetterScreen #dlq-detail-box { height: 1fr; border: round $primary; padding: 0 1; }
    DeadLetterScreen #dlq-table-box:focus-within { border: heavy $accent; }
    DeadLetterScreen DataTable { height: 1fr; }
    DeadLetterScreen #dlq-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, fleet: Any) -> None:
        super().__init__(id="dlq")
        self.fleet = fleet
        self.letters: list[Any] = []
        self._ids: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="dlq-title")
        yield Static("", id="dlq-queues")
        with Vertical(id="dlq-table-box"):
            yield Static("", id="dlq-empty")
            table: DataTable[Any] = VimTable(id="dlq-table", cursor_type="row", zebra_stripes=True)
            yield table
        with Vertical(id="dlq-detail-box"):
            yield Static("", id="dlq-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#dlq-table", DataTable)
        table.add_column("failed", key="failed", width=10)
        table.add_column("function", key="function")
        table.add_column("request id", key="request_id", width=36)
        table.add_column("condition", key="condition")
        table.add_column("tries", key="attempts", width=5)
        table.add_column("error", key="error")
        table.add_column("sent to", key="routed")
        self.query_one("#dlq-table-box").border_title = "dead letters (failed async events)"
        self.query_one("#dlq-detail-box").border_title = "event"
        self.refresh_letters()
        self.set_interval(REFRESH_S, self.refresh_letters)
        table.focus()

    # -- data -------------------------------------------------------------------------

    @property
    def queue(self) -> Any:
        return self.fleet.async_queue if self.fleet is not None else None

    def refresh_letters(self) -> None:
        store = self.fleet.store if self.fleet is not None else None
        self.letters = store.dead_letters(limit=500) if store is not None else []
        now = time.time()
        title = Text(" Dead-letter queue ", style="bold black on #ff9900")
        title.append(f"  {len(self.letters)} failed event{'s' if len(self.letters) != 1 else ''}",
                     style="bold red" if self.letters else "")
        title.append("  · r redrive · R redrive all · esc back", style="dim")
        self.query_one("#dlq-title", Static).update(title)
        self.query_one("#dlq-queues", Static).update(self._queues_text(now))
        empty = self.query_one("#dlq-empty", Static)
        table = self.query_one("#dlq-table", DataTable)
        if store is None:
            empty.update("the dead-letter queue needs the store (it is off: store.enabled is false, or --no-store)")
        else:
            empty.update("no failed async events. Events land here when they exhaust MaximumRetryAttempts, "
                         "outlive MaximumEventAgeInSeconds, or meet reserved concurrency 0.")
        empty.display = not self.letters
        # The (empty) table stays: it holds the focus, so the focused panel stays marked.
        ids = [letter.id for letter in self.letters]
        cursor = table.cursor_row
        selected = self._ids[cursor] if 0 <= cursor < len(self._ids) else None
        if ids != self._ids:
            table.clear()
            for letter in self.letters:
                table.add_row(*self._cells(letter, now), key=str(letter.id))
            self._ids = ids
            if selected in ids:
                table.move_cursor(row=ids.index(selected))
        else:
            for letter in self.letters:
                table.update_cell(str(letter.id), "failed", ago(letter.failed_at, now))
        self._show_detail()

    def _queues_text(self, now: float) -> Text:
        data = self.fleet.snapshot().async_queues or {}
        text = Text()
        busy = {name: q for name, q in sorted(data.items()) if q.queue_depth or q.dlq}
        if not busy:
            text.append("async queues empty", style="dim")
        for name, q in busy.items():
            text.append(f"{name}: ", style="bold")
            text.append(f"{q.queue_depth} queued")
            if q.oldest_age_s is not None:
                text.append(f", oldest {q.oldest_age_s:.1f}s")
            if q.next_retry_at is not None:
                text.append(f", next retry in {max(0.0, q.next_retry_at - now):.1f}s", style="yellow")
            text.append(f", {q.dlq} dead\n")
        return text

    @staticmethod
    def _cells(letter: Any, now: float) -> tuple[Any, ...]:
        error = f"{letter.error_type or ''}: {letter.error_message or ''}".strip(": ")
        return (ago(letter.failed_at, now), letter.function, letter.request_id, letter.condition, str(letter.attempts),
                Text(error[:80], style="red"), ", ".join(letter.routed_to))

    def selected(self) -> Any | None:
        table = self.query_one("#dlq-table", DataTable)
        row = table.cursor_row
        return self.letters[row] if self.letters and 0 <= row < len(self.letters) else None

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        letter = self.selected()
        detail = self.query_one("#dlq-detail", Static)
        if letter is None:
            detail.update("")
            return
        text = Text()
        text.append(f"{letter.function}  {letter.request_id}\n", style="bold")
        text.append(f"{letter.condition} after {letter.attempts} attempt(s), error code {letter.error_code}\n")
        text.append(f"{letter.error_type}: {letter.error_message}\n", style="red")
        text.append(f"sent to: {', '.join(letter.routed_to)}\n\n", style="dim")
        try:
            payload = json.dumps(json.loads(letter.payload), indent=2)
        except (ValueError, UnicodeDecodeError):
            payload = letter.payload.decode("utf-8", "replace")
        text.append(payload[:4000])
        detail.update(text)

    # -- actions ------------------------------------------------------------------------

    async def action_redrive(self) -> None:
        letter = self.selected()
        if letter is None:
            self.notify("nothing to redrive", severity="warning")
            return
        await self._redrive([letter.id], f"{letter.function}: redriven {letter.request_id}")

    async def action_redrive_all(self) -> None:
        if not self.letters:
            self.notify("nothing to redrive", severity="warning")
            return
        await self._redrive(None, "")

    async def _redrive(self, ids: list[int] | None, message: str) -> None:
        if self.queue is None:
            self.notify("redrive needs the async queue (the store is off)", severity="error")
            return
        try:
            new_ids = await self.queue.redrive(ids)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the screen stays up
            self.notify(f"redrive failed: {exc}", severity="error")
            return
        self.notify(message + f" as {new_ids[0]}" if ids is not None and new_ids else f"redriven {len(new_ids)} event(s)")
        self.refresh_letters()

    def action_back(self) -> None:
        self.app.pop_screen()
