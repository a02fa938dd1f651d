"""What the dashboard tests share: starting the app, waiting on its own state, reading the screen, quitting.

Waits poll the app's state between Pilot pauses (never a fixed sleep), and
`screen_text` reads the characters the screen shows, toasts included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import psutil
from textual.pilot import Pilot
from textual.screen import Screen

from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.widgets.invocation_stream import InvocationStream

from .conftest import lambdatop_processes

ScreenT = TypeVar("ScreenT", bound=Screen[Any])


async def wait_for(pilot: Pilot, predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    assert predicate(), f"{what} not met within {timeout} s"


async def shown(pilot: Pilot, kind: type[ScreenT], what: str = "") -> ScreenT:
    """The screen on top, once it is a `kind`, is mounted and has handled what it asked for on mount.

    `isinstance(app.screen, kind)` turns true at the push, before the screen composes and before its
    first frame fills it: reading its widgets then races the app."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, kind) and app.screen.is_mounted, what=what or f"{kind.__name__} shown")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, kind)
    return screen


async def started(pilot: Pilot) -> LambdatopApp:
    """The app, once its fleet and every service beside it have started and a frame has shown it.

    `fleet.running` turns true before the services start (the AWS sidecar takes seconds): waiting on
    the app's own state means a test never acts on a dashboard that is still starting."""
    app = pilot.app
    assert isinstance(app, LambdatopApp)
    await wait_for(pilot, lambda: app.state == "running" and app.last_snapshot is not None, timeout=60,
                   what="dashboard started")
    shown = app.activity.absorbed, app.last_snapshot
    await wait_for(pilot, lambda: app.last_snapshot is not shown[1], what="a frame after start")
    return app


def stream_rows(stream: InvocationStream) -> list[dict[str, str]]:
    """The stream's rows as shown, newest first: column key -> stripped text."""
    return [{key: value.strip() for key, value in row.items()} for row in stream.row_cells()]


def screen_text(app: LambdatopApp) -> list[str]:
    """The lines the screen on top shows now (toasts and dialogs included)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def quit_and_check(pilot: Pilot) -> None:
    """`q`, then no worker or zygote of this test may be left."""
    app = pilot.app
    assert isinstance(app, LambdatopApp)
    await pilot.press("q")
    await wait_for(pilot, lambda: app.state == "stopped", timeout=30, what="stopped")
    alive = [p for p in lambdatop_processes() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left behind: {alive}"
