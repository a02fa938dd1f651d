"""Throughput with the dashboard open (headless, Textual's test driver) against the same run without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext


async def run(ctx: BenchContext) -> list[Figure]:
    absent = missing("lambdatop.tui.app", "LambdatopApp")
    if absent:
        return [Figure("ui", "throughput with the dashboard open", "inv/s", skipped=absent)]
    raise NotImplementedError("wire LambdatopApp")
