"""Per-function figures from recorded invocations: what `lambdatop stats` prints.

CloudWatch-style counts and latency percentiles (the same `Stat` the live
metrics keep, so a p99 here and on the screen are computed alike) and the cost
of the work at Lambda's published price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lambdatop.runtime.observability.cost import CostEstimate
from lambdatop.runtime.observability.samples import Stat
from lambdatop.runtime.records import InvocationStatus

__all__ = ["summarize"]


def summarize(rows: Iterable[Any], architectures: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Figures per function and for the fleet ("*") from stored invocations (anything with a `.record`)."""
    acc: dict[str, dict[str, Any]] = {}
    for stored in rows:
        record = stored.record
        for key in (record.function, "*"):
            a = acc.setdefault(key, {"invocations": 0, "errors": 0, "throttles": 0, "timeouts": 0, "cold_starts": 0,
                                     "duration": Stat(), "init": Stat(), "memory": 0, "cost": CostEstimate()})
            if record.status is InvocationStatus.THROTTLED:
                a["throttles"] += 1
                continue
            a["invocations"] += 1
            a["errors"] += record.is_error
            a["timeouts"] += record.status is InvocationStatus.TIMEOUT
            a["cold_starts"] += record.cold_start
            a["duration"].add(record.duration_ms, histogram=True)
            if record.init_duration_ms is not None:
                a["init"].add(record.init_duration_ms)
            a["memory"] = max(a["memory"], record.max_memory_used_mb)
            a["cost"].add(record.billed_duration_ms, record.memory_size_mb, architectures.get(record.function, "x86_64"))
    out = {}
    for key, a in acc.items():
        duration: Stat = a["duration"]
        out[key] = {
            "invocations": a["invocations"], "errors": a["errors"], "throttles": a["throttles"], "timeouts": a["timeouts"],
            "cold_starts": a["cold_starts"],
            "error_rate": a["errors"] / a["invocations"] if a["invocations"] else None,
            "duration_p50_ms": duration.percentile(0.5), "duration_p90_ms": duration.percentile(0.9),
            "duration_p99_ms": duration.percentile(0.99), "duration_max_ms": duration.maximum if duration.count else None,
            "init_duration_avg_ms": a["init"].statistic("Average"), "max_memory_used_mb": a["memory"],
            "architecture": architectures.get(key, "mixed" if key == "*" else "x86_64"), "cost": a["cost"].to_dict(),
        }
    return out
