"""Throughput with the dashboard open (headless, Textual's test driver) against the same load without it.

The dashboard renders from `Fleet.snapshot()` on a timer, never once per
invocation, so its cost must not grow with the rate: the target is that the
fleet keeps at least 80% of its throughput with the UI open. Runs alternate
(without, with, without, with) on one fleet, so drift on a noisy machine
falls on both sides.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.results import Figure
from lambdatop.tui.bench.throughput import sustained

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from lambdatop.tui.bench.runner import BenchContext

ROUNDS = 2
UI_SHARE_TARGET = 0.8


@contextlib.asynccontextmanager
async def dashboard_open(fleet: Fleet) -> AsyncIterator[Pilot[int]]:
    """The dashboard over `fleet` (Textual headless, 160×48), mounted and painting; it must have rendered by the end."""
    from lambdatop.tui.app import LambdatopApp

    app = LambdatopApp(fleet)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)  # mounted and painting before the load starts
        yield pilot
        await pilot.pause()
    if app.last_snapshot is None or not app.last_snapshot.functions:
        raise RuntimeError("the dashboard never rendered a snapshot under load")


async def run(ctx: BenchContext) -> list[Figure]:
    absent = missing("lambdatop.tui.app", "LambdatopApp")
    if absent:
        return [Figure("ui", "throughput with the dashboard open", "inv/s", skipped=absent)]

    seconds = ctx.budget.ui_s / ROUNDS
    without: list[float] = []
    with_ui: list[float] = []
    async with Fleet(ctx.project.config_path) as fleet:
        for _ in range(ROUNDS):
            without.append((await sustained(fleet, "noop", seconds)).rate)
            async with dashboard_open(fleet) as pilot:
                with_ui.append((await sustained(fleet, "noop", seconds)).rate)
                await pilot.press("j")  # still answering keys under load
    base = sum(without) / len(without)
    ui_rate = sum(with_ui) / len(with_ui)
    open_ = Figure(
        "ui", "throughput with the dashboard open", "inv/s", value=ui_rate, samples=ROUNDS,
        note=f"{ROUNDS} alternating rounds of {seconds:.1f} s; Textual headless (run_test), 160×48",
    )
    open_.judge("same load, no UI", base, "≥ 80% of baseline", UI_SHARE_TARGET, at_least=True)
    return [open_, Figure("ui", "throughput without the dashboard", "inv/s", value=base, samples=ROUNDS)]
