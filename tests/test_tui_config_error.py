"""A config error found by a live reload stays in the header until the file is fixed (issue 12 item 6).

It used to show only as a 3-second toast: look away and the dashboard ran the
old config with nothing on screen saying the file was broken. Here the real
reload service watches a real lambdatop.yaml that is broken, then fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp

from .reload_support import save
from .tui_pilot import quit_and_check, started, wait_for

pytestmark = pytest.mark.timeout(90)

GREET = """
def handler(event, context):
    return "hi"
"""
GOOD = """\
functions:
  greet:
    handler: app.handler
    memory_size: 256
reload:
  debounce_ms: 100
"""


def header(app: LambdatopApp) -> str:
    return str(app.screen_stack[0].query_one("#fleet-header").render())


async def test_a_broken_config_stays_in_the_header_after_its_toast_until_the_file_is_fixed(
    make_project: Callable[..., Path],
) -> None:
    config = make_project({"greet": GREET}, GOOD)
    app = LambdatopApp(config, options=ServiceOptions(port=None, watch=True, store=False))
    async with app.run_test(size=(120, 30)) as pilot:
        await started(pilot)
        assert "✗" not in header(app)

        save(config, GOOD.replace("memory_size: 256", "memory_size: 99999"))
        await wait_for(pilot, lambda: "lambdatop.yaml:4" in header(app), what="the config error in the header")
        text = header(app)
        assert "memory_size: must be between 128 and 10240, got 99999" in text
        assert "the last good config keeps running" in text
        await wait_for(pilot, lambda: not app._notifications, timeout=20, what="every toast gone")
        await pilot.pause()
        assert "lambdatop.yaml:4" in header(app), "the error must outlive its toast"

        save(config, GOOD)
        await wait_for(pilot, lambda: "lambdatop.yaml:4" not in header(app) and "✗" not in header(app), what="the header clears once the file is fixed")
        assert app.refresh_failures == []
        await quit_and_check(pilot)


def test_the_header_says_when_the_store_cannot_write() -> None:
    """History that is not being kept is said where it is seen, with the store's own error."""
    from lambdatop.runtime.snapshot import FleetSnapshot, StoreView
    from lambdatop.tui.widgets.fleet_header import problems_text

    def snapshot(errors: int, failing: bool = True) -> FleetSnapshot:
        store = StoreView(path="/p/.lambdatop/lambdatop.db", run_id=1, written=10, backlog=3, errors=errors,
                          last_error="disk I/O error" if errors else None, failing=bool(errors) and failing,
                          unrecorded=errors * 5)
        return FleetSnapshot(at=0.0, account_limit=1000, in_use=0, functions=[], recent=[], invocations_per_s=0.0,
                             errors_per_s=0.0, throttles_per_s=0.0, cold_share_pct=0.0, extras={"store": store})

    assert problems_text(snapshot(0)).plain == ""
    assert problems_text(snapshot(2)).plain.strip() == "✗ store: writes failing, 10 invocations not recorded: disk I/O error"
    # Once writes resume, the header still says history has a gap, less loudly.
    assert problems_text(snapshot(2, failing=False)).plain.strip() == (
        "! store: 2 writes failed, then resumed (10 invocations not recorded)")
