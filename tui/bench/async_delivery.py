"""Asynchronous invocations: accepted → delivered latency and the durable enqueue rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext


async def run(ctx: BenchContext) -> list[Figure]:
    if not hasattr(Fleet, "enqueue"):
        return [Figure("async", "accepted → delivered", "ms", skipped="Fleet.enqueue is not built yet")]
    raise NotImplementedError("wire fleet.enqueue")
