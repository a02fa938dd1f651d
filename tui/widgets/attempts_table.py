"""Every attempt of one request: an async event that failed is retried under the same request id.

The invocation screen lists them (attempt number, when, status, duration,
environment, error), marks the attempt it shows, and opens another with Enter.
Attempts come from the dashboard's window and from the store, merged by start
time (the store has the ones older than the window, or from an earlier run).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from lambdatop.runtime.records import InvocationResult
from lambdatop.tui.widgets.cells import clock, ms, status_text


def merge_attempts(*sources: Iterable[InvocationResult]) -> list[InvocationResult]:
    """One result per attempt, oldest first: the same attempt from two sources (window, store) counts once.

    An attempt is known by its start time; the first source that has it wins (give the one with payloads first).
    """
    by_start: dict[float, InvocationResult] = {}
    for source in sources:
        for result in source:
            by_start.setdefault(round(result.record.started_at, 6), result)
    return [by_start[start] for start in sorted(by_start)]


class AttemptsTable(DataTable):
    """The attempts of one request id, oldest first; the row key is the attempt number."""

    # j/k move the cursor; g/G and ctrl+d/ctrl+u are left to the screen, which scrolls as a whole.
    BINDINGS = [Binding("j", "cursor_down", show=False), Binding("k", "cursor_up", show=False)]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._signature: tuple[object, ...] = ()

    def on_mount(self) -> None:
        for key, label, width in (("try", "TRY", 5), ("time", "STARTED", 12), ("status", "STATUS", 9),
                                  ("dur", "DURATION", 8), ("env", "ENV", 10), ("error", "ERROR", 18)):
            self.add_column(label, width=width, key=key)

    def show(self, attempts: list[InvocationResult], current: int) -> None:
        """`attempts` oldest first (attempt n is attempts[n-1]); `current`: the attempt the screen shows."""
        signature = (current, *((r.record.started_at, r.record.status) for r in attempts))
        if signature == self._signature:
            return
        self._signature = signature
        self.clear()
        for number, result in enumerate(attempts, start=1):
            record = result.record
            marker = "▶" if number == current else " "
            error = f"{record.error_type}: {record.error_message or ''}" if record.error_type else ""
            self.add_row(
                Text(f"{marker} {number}", style="bold" if number == current else ""), Text(clock(record.started_at), style="dim"),
                status_text(record.status), "-" if record.status == "throttled" else ms(record.duration_ms),
                record.env_id or "-", Text(error, style="red" if error else ""), key=str(number),
            )
        if 1 <= current <= len(attempts):
            self.move_cursor(row=current - 1, animate=False)
