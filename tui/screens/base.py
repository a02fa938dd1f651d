"""`LambdatopScreen`: what every dashboard screen shares: the app, typed, and the scrolling keys.

Screens reach the app (its fleet, its recent activity, its "open this" methods)
through `self.app`, narrowed here to `LambdatopApp` once instead of a
`# type: ignore` at every call. `Selection` is what the app's keys ask the screen
on top: which function, invocation and environment are selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen

if TYPE_CHECKING:
    from lambdatop.tui.app import LambdatopApp

ResultType = TypeVar("ResultType")


class Selection(Protocol):
    """What a screen answers when a key acts on "the selected …" (None: nothing of that kind here)."""

    def selected_function(self) -> str | None: ...

    def selected_invocation(self) -> str | None: ...


class LambdatopScreen(Screen[ResultType]):
    """A screen of the lambdatop dashboard."""

    @property
    def app(self) -> LambdatopApp:  # type: ignore[override]
        return cast("LambdatopApp", super().app)

    def selected_function(self) -> str | None:
        return None

    def selected_invocation(self) -> str | None:
        return None

    def selected_attempt(self) -> int | None:
        """Which attempt of the selected invocation (async retries share a request id); None: the latest."""
        return None

    def selected_environment(self) -> str | None:
        return None


class DetailScroll(VerticalScroll):
    """The scrolling body of a detail screen, with less/vim keys: j k, g G, ctrl+d ctrl+u (half a page)."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
        Binding("ctrl+d", "half_page_down", "Half page down", show=False),
        Binding("ctrl+u", "half_page_up", "Half page up", show=False),
    ]

    def action_half_page_down(self) -> None:
        self.scroll_relative(y=max(1, self.scrollable_content_region.height // 2), animate=False)

    def action_half_page_up(self) -> None:
        self.scroll_relative(y=-max(1, self.scrollable_content_region.height // 2), animate=False)
