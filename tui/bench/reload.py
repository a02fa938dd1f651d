"""Hot reload: from saving a handler to the first invocation that the new code serves.

A generated one-function project runs with the reload service and its default
settings. Each sample saves app.py with a new return value, then invokes
back to back (warm invokes on the old code cost about a millisecond) until
one answers with the new value. The figure is the time from the save to the
end of that invocation: the watcher's latency (a 5 ms step), settling (no
fixed wait: `runtime/reload/settle.py`), hashing, the pre-warm of the new
version and the invocation itself. Saves are written in place (the main
figure) and, in as many samples again, as JetBrains' safe write does (a temp
file, renamed over the original). Also reported: when the reload was applied
(the `reload` event). The same-run baseline is the same measurement with a
fixed 100 ms debounce (`reload: {debounce_ms: 100}`, the default before).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lambdatop.runtime.bus import FleetEvent, Subscription
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.percentiles import percentiles
from lambdatop.runtime.services import attach_hot_reload

HANDLER = "def handler(event, context):\n    return {value}\n"
CONFIG = "functions:\n  edited:\n    handler: app.handler\n    code: code\n"
SAMPLE_TIMEOUT_S = 10.0


async def measure_reload(samples: int, *, debounce_ms: int | None = None, safe_write: bool = True) -> dict[str, Any]:
    """Median and p99 of save → first invocation served by the new code, in ms (plus what makes it up).

    `debounce_ms` sets `reload: {debounce_ms: N}` (a fixed quiet time: the same-run baseline);
    `safe_write` adds as many samples saved through a temp file and a rename.
    """
    samples = max(1, samples)
    root = Path(tempfile.mkdtemp(prefix="lambdatop-bench-reload-"))
    try:
        (root / "code").mkdir()
        app = root / "code" / "app.py"
        app.write_text(HANDLER.format(value=0))
        (root / "lambdatop.yaml").write_text(CONFIG + ("" if debounce_ms is None else f"reload: {{debounce_ms: {debounce_ms}}}\n"))
        fleet = Fleet(root / "lambdatop.yaml")
        service = attach_hot_reload(fleet)
        events = fleet.subscribe("bench-reload")
        in_place, safe_writes = Samples(), Samples()
        async with fleet:
            await fleet.invoke("edited", {})
            for sample in range(1, (2 if safe_write else 1) * samples + 1):
                await service.settled()
                await asyncio.sleep(0.2)  # let the previous sample's worker go: samples are independent
                events.drain()
                pattern = safe_writes if safe_write and sample % 2 == 0 else in_place
                await pattern.take(fleet, events, app, sample, safe=pattern is safe_writes)
        ms = in_place.ms()
        p50_ms, p99_ms = percentiles(ms, 0.50, 0.99)
        measured: dict[str, Any] = {
            "samples": samples,
            "p50_ms": p50_ms,
            "p99_ms": p99_ms,
            "min_ms": min(ms),
            "max_ms": max(ms),
            "reload_applied_p50_ms": percentiles(in_place.reload_ms(), 0.50)[0],
            "note": f"{'default settings' if debounce_ms is None else f'debounce_ms {debounce_ms}'}, inotify; written in "
                    f"place; {in_place.cold}/{samples} first invocations were cold starts on a pre-warmed environment",
        }
        if safe_write:
            measured["safe_write_p50_ms"] = percentiles(safe_writes.ms(), 0.50)[0]
        return measured
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Samples:
    """Save → new code (and save → `reload` event) times of one save pattern, in seconds."""

    def __init__(self) -> None:
        self.to_new_code: list[float] = []
        self.to_reload: list[float] = []
        self.cold = 0

    def ms(self) -> list[float]:
        return [value * 1000 for value in self.to_new_code]

    def reload_ms(self) -> list[float]:
        return [value * 1000 for value in self.to_reload]

    async def take(self, fleet: Fleet, events: Subscription, app: Path, value: int, *, safe: bool) -> None:
        """Save `value` into app.py, then invoke until the new code answers."""
        saved = time.monotonic()
        if safe:  # JetBrains' safe write: the new content goes to a temp file renamed over the original
            temp = app.with_name(app.name + "___jb_tmp___")
            temp.write_text(HANDLER.format(value=value))
            os.replace(temp, app)
        else:
            app.write_text(HANDLER.format(value=value))
        reloaded_at: float | None = None
        while True:
            result = await fleet.invoke("edited", {})
            now = time.monotonic()
            for item in events.drain():
                if isinstance(item, FleetEvent) and item.kind == "reload" and reloaded_at is None:
                    reloaded_at = now
            if json.loads(result.response) == value:
                self.to_new_code.append(now - saved)
                self.to_reload.append((reloaded_at or now) - saved)
                self.cold += result.record.cold_start
                return
            if now - saved > SAMPLE_TIMEOUT_S:
                raise RuntimeError(f"sample {value}: new code not served within {SAMPLE_TIMEOUT_S} s")
            await asyncio.sleep(0.001)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure_reload(20)), indent=2))
    print(json.dumps(asyncio.run(measure_reload(20, debounce_ms=100, safe_write=False)), indent=2))
