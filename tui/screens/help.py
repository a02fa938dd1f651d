"""The `?` screen: every key, grouped, from the same table the footer and command palette use."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(self._render_sections())

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "lambdatop keys"
        dialog.border_subtitle = "esc, ? or q to close"

    def _render_sections(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold #ff9900", no_wrap=True)
        table.add_column()
        for index, (title, rows) in enumerate(self.sections):
            if index:
                table.add_row("", "")
            table.add_row("", Text(title, style="bold underline"))
            for key, description in rows:
                table.add_row(key, description)
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
