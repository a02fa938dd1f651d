"""Hot reload: from saving a handler to the first invocation that the new code serves.

A generated one-function project runs with the reload service and its default
settings. Each sample saves app.py with a new return value, then invokes
back to back (warm invokes on the old code cost about a millisecond) until
one answers with the new value. The figure is the time from the save to the
end of that invocation: the watcher's latency, the debounce, hashing, the
pre-warm of the new version and the invocation itself. Also reported: when
the reload was applied (the `reload` event) and the configured debounce.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.percentiles import percentiles
from lambdatop.runtime.services import attach_hot_reload

HANDLER = "def handler(event, context):\n    return {value}\n"
CONFIG = "functions:\n  edited:\n    handler: app.handler\n    code: code\n"
SAMPLE_TIMEOUT_S = 10.0


async def measure_reload(samples: int) -> dict[str, Any]:
    """Median and p99 of save → first invocation served by the new code, in ms (plus what makes it up)."""
    samples = max(1, samples)
    root = Path(tempfile.mkdtemp(prefix="lambdatop-bench-reload-"))
    try:
        (root / "code").mkdir()
        app = root / "code" / "app.py"
        app.write_text(HANDLER.format(value=0))
        (root / "lambdatop.yaml").write_text(CONFIG)
        fleet = Fleet(root / "lambdatop.yaml")
        service = attach_hot_reload(fleet)
        events = fleet.subscribe("bench-reload")
        to_new_code: list[float] = []
        to_reload: list[float] = []
        cold = 0
        async with fleet:
            await fleet.invoke("edited", {})
            for sample in range(1, samples + 1):
                await service.settled()
                await asyncio.sleep(0.2)  # let the previous sample's worker go: samples are independent
                events.drain()
                saved = time.monotonic()
                app.write_text(HANDLER.format(value=sample))
                reloaded_at: float | None = None
                while True:
                    result = await fleet.invoke("edited", {})
                    now = time.monotonic()
                    for item in events.drain():
                        if isinstance(item, FleetEvent) and item.kind == "reload" and reloaded_at is None:
                            reloaded_at = now
                    if json.loads(result.response) == sample:
                        to_new_code.append(now - saved)
                        to_reload.append((reloaded_at or now) - saved)
                        cold += result.record.cold_start
                        break
                    if now - saved > SAMPLE_TIMEOUT_S:
                        raise RuntimeError(f"sample {sample}: new code not served within {SAMPLE_TIMEOUT_S} s")
                    await asyncio.sleep(0.001)
        ms = [value * 1000 for value in to_new_code]
        p50_ms, p99_ms = percentiles(ms, 0.50, 0.99)
        return {
            "samples": samples,
            "p50_ms": p50_ms,
            "p99_ms": p99_ms,
            "min_ms": min(ms),
            "max_ms": max(ms),
            "reload_applied_p50_ms": percentiles((value * 1000 for value in to_reload), 0.50)[0],
            "debounce_ms": service.settings.debounce_ms,
            "note": f"default settings (debounce {service.settings.debounce_ms} ms, inotify); "
                    f"{cold}/{samples} first invocations were cold starts on a pre-warmed environment",
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure_reload(20)), indent=2))
