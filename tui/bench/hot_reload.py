"""Hot reload: save → first invocation served by the new code, p50 (measured by the hot-reload capability).

`lambdatop.tui.bench.reload.measure_reload(samples)` belongs to that
capability: it edits a handler on disk and times until an invocation returns
the new code's answer. This group calls it with the default settings and, as
the same-run baseline, with a fixed 100 ms debounce (the old default), and
judges the default's p50 against issue 17's target: ≤ 60 ms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

TARGET_MS = 60.0  # issue 17: save → first response from the new code, p50, for a no-op function
FIXED_DEBOUNCE_MS = 100  # the baseline: the fixed quiet time reloads waited before reload/settle.py


async def run(ctx: BenchContext) -> list[Figure]:
    absent = missing("lambdatop.tui.bench.reload", "measure_reload")
    if absent:
        return [Figure("reload", "save → first invocation on new code", "ms", skipped=absent)]
    from lambdatop.tui.bench.reload import measure_reload

    measured: dict[str, Any] = await measure_reload(ctx.budget.reload_samples)
    fixed: dict[str, Any] = await measure_reload(ctx.budget.reload_samples, debounce_ms=FIXED_DEBOUNCE_MS, safe_write=False)
    figures = figures_from(measured)
    figures[0].judge(f"a fixed {FIXED_DEBOUNCE_MS} ms debounce", fixed.get("p50_ms"), f"p50 ≤ {TARGET_MS:g} ms", None)
    if figures[0].p50 is not None:
        figures[0].met = figures[0].p50 <= TARGET_MS
    figures.append(Figure("reload", f"save → new code, a fixed {FIXED_DEBOUNCE_MS} ms debounce (baseline)", "ms",
                          p50=fixed.get("p50_ms"), p99=fixed.get("p99_ms"), samples=int(fixed.get("samples", 0) or 0)))
    return figures


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
