"""The function screen's panels get the room they need (issue 12 item 4).

The "metrics · cost · alarms" panel used to be squeezed to 0 rows (at 80x24 and
at 200x50): its box took a share of what was left of a scrolling body that the
panels below had already filled. Measured here on the real screen, laid out by
Textual, with the fixed snapshot of test_tui_snapshot (metrics for `worker`).
"""

from __future__ import annotations

import pytest

from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.widgets.function_metrics import FunctionMetrics

from .test_tui_snapshot import FrozenApp, frozen_app, utc  # noqa: F401 - fixtures
from .tui_pilot import wait_for


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
async def test_the_metrics_panel_shows_every_metric_row_whatever_the_terminal_size(frozen_app: FrozenApp,
                                                                                  size: tuple[int, int]) -> None:
    async with frozen_app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: frozen_app.last_snapshot is not None, what="first frame")
        frozen_app.open_function("worker")
        await wait_for(pilot, lambda: isinstance(frozen_app.screen, FunctionScreen) and frozen_app.screen.query("#fn-metrics"),
                       what="function screen")
        panel = frozen_app.screen.query_one("#fn-metrics", FunctionMetrics)
        box = frozen_app.screen.query_one("#fn-metrics-box")
        # 12 metric rows + their header, inside the box's border: every one visible once scrolled to. The
        # panel is filled by the screen's first refresh after it mounts, not at once: wait for that frame
        # (it stayed one line of "no metrics yet" when this read the size right after the push).
        await wait_for(pilot, lambda: panel._stamp is not None and not frozen_app.screen._layout_required, what="panel drawn")
        await pilot.pause()
        assert panel.size.height >= 13, panel.size
        assert box.size.height >= panel.size.height
        body = frozen_app.screen.query_one("#fn-body")
        body.scroll_to_widget(box, animate=False)
        await pilot.pause()
        visible = body.region.intersection(box.region)
        assert box.region.height >= 15 and visible.height >= min(15, body.region.height), (box.region, body.region)
