"""The `b` prompt: how many concurrent invocations to fire at once."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MAX_BURST = 500  # each concurrent invocation may need its own worker process


def default_burst(limit: int, reserved: int | None) -> int:
    """Twice the function's limit, so half are throttled; without reserved concurrency the account's
    limit is out of reach of a laptop, so a modest 10 (every one of them may be a cold start)."""
    if reserved is not None:
        return max(1, min(2 * reserved, 100))
    return max(1, min(2 * limit, 10))


class BurstPrompt(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, function: str, limit: int, reserved: int | None) -> None:
        super().__init__()
        self.function = function
        self.limit = limit
        self.reserved = reserved

    def compose(self) -> ComposeResult:
        kind = f"reserved concurrency {self.reserved}" if self.reserved is not None else f"account limit {self.limit}"
        with Vertical(id="burst-dialog", classes="dialog"):
            yield Static(f"Fire N invocations of [b]{self.function}[/b] at once ({kind}).\n"
                         f"More than {self.limit} in flight are throttled (429 TooManyRequestsException).")
            yield Input(str(default_burst(self.limit, self.reserved)), type="integer", id="burst-count")
            yield Static("", id="burst-error")
            yield Static(f"[dim]enter fire · esc cancel · 1 to {MAX_BURST}[/dim]")

    def on_mount(self) -> None:
        self.query_one("#burst-dialog").border_title = f"burst {self.function}"
        self.query_one("#burst-count", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            count = int(event.value)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_BURST:
            self.query_one("#burst-error", Static).update(f"[red]enter a number from 1 to {MAX_BURST}[/red]")
            return
        self.dismiss(count)

    def action_cancel(self) -> None:
        self.dismiss(None)
