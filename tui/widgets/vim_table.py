"""`VimTable`: a row-cursor DataTable with the keys a k9s or less user reaches for first."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

VIM_TABLE_BINDINGS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "scroll_top", "Top", show=False),
    Binding("G", "scroll_bottom", "Bottom", show=False),
    Binding("ctrl+d", "page_down", "Page down", show=False),
    Binding("ctrl+u", "page_up", "Page up", show=False),
]


class VimTable(DataTable[Any]):
    """A DataTable with j k (move), g G (top / bottom) and ctrl+d ctrl+u (a page down / up)."""

    BINDINGS = VIM_TABLE_BINDINGS
