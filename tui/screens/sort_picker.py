"""The `o` prompt ("order by"): pick the functions table's sort column from a list, like htop's F6."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from lambdatop.tui.widgets.functions_table import SORTS


class SortPicker(ModalScreen[str | None]):
    """Lists every sort column; enter picks the highlighted one (its key is the result), esc keeps the current."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("o", "cancel", "Cancel", show=False),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
    ]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="sort-dialog", classes="dialog"):
            yield OptionList(*(Option(label, id=key) for key, label, _ in SORTS), id="sort-options")
            yield Static("[dim]enter sort · esc cancel · S reverses[/dim]")

    def on_mount(self) -> None:
        self.query_one("#sort-dialog").border_title = "order functions by"
        options = self.query_one("#sort-options", OptionList)
        options.highlighted = next((i for i, (key, _, _) in enumerate(SORTS) if key == self.current), 0)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cursor_down(self) -> None:
        self.query_one("#sort-options", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#sort-options", OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
