"""Hot reload: save → first invocation served by the new code, p50 (measured by the hot-reload capability).

`lambdatop.tui.bench.reload.measure_reload(samples)` belongs to that
capability: it edits a handler on disk and times until an invocation returns
the new code's answer. This group calls it and reports its figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext


async def run(ctx: BenchContext) -> list[Figure]:
    absent = missing("lambdatop.tui.bench.reload", "measure_reload")
    if absent:
        return [Figure("reload", "save → first invocation on new code", "ms", skipped=absent)]
    from lambdatop.tui.bench.reload import measure_reload

    measured: dict[str, Any] = await measure_reload(ctx.budget.reload_samples)
    return figures_from(measured)


def figures_from(measured: dict[str, Any]) -> list[Figure]:
    """Turn measure_reload's dict into figures: `p50_ms`/`p99_ms` (+ `samples`, `note`), any other numbers as values."""
    samples = int(measured.get("samples", 0) or 0)
    figures = [Figure(
        "reload", "save → first invocation on new code", "ms", p50=measured.get("p50_ms"), p99=measured.get("p99_ms"),
        samples=samples, note=str(measured.get("note", "")),
    )]
    for key, value in measured.items():
        if key in ("p50_ms", "p99_ms", "samples", "note") or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        unit = "ms" if key.endswith("_ms") else ""
        figures.append(Figure("reload", key.removesuffix("_ms").replace("_", " "), unit, value=float(value)))
    return figures
