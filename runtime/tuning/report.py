"""What a power-tuning run found: per memory size, speed and cost; the cheapest and the fastest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.observability.cost import CostEstimate
from lambdatop.runtime.observability.percentiles import percentile


@dataclass(slots=True)
class MemoryResult:
    """The measured invocations of one memory size (the cold start that began them is kept apart)."""

    memory_mb: int
    durations_ms: list[float] = field(default_factory=list)
    billed_ms: list[int] = field(default_factory=list)
    errors: int = 0
    error_types: dict[str, int] = field(default_factory=dict)
    init_ms: float | None = None  # the Init Duration of the environment the run started
    cost: CostEstimate = field(default_factory=CostEstimate)

    @property
    def invocations(self) -> int:
        return len(self.durations_ms)

    @property
    def p50_ms(self) -> float:
        return percentile(sorted(self.durations_ms), 0.50) or 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(sorted(self.durations_ms), 0.99) or 0.0

    @property
    def mean_billed_ms(self) -> float:
        return sum(self.billed_ms) / len(self.billed_ms) if self.billed_ms else 0.0

    @property
    def per_million_usd(self) -> float:
        """What a million invocations like these cost: requests plus GB-seconds (observability/cost.py)."""
        return self.cost.per_million()

    @property
    def usable(self) -> bool:
        """Every measured invocation succeeded: a size that errors (out of memory, timeouts) is never advised."""
        return self.invocations > 0 and self.errors == 0

    def add(self, duration_ms: float, billed_ms: int, architecture: str, error_type: str | None) -> None:
        self.durations_ms.append(duration_ms)
        self.billed_ms.append(billed_ms)
        self.cost.add(billed_ms, self.memory_mb, architecture)
        if error_type is not None:
            self.refused(error_type)

    def refused(self, code: str) -> None:
        """An error of this size: a failed invocation's type, or a refusal (throttled) that has no duration."""
        self.errors += 1
        self.error_types[code] = self.error_types.get(code, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory_mb": self.memory_mb, "invocations": self.invocations, "errors": self.errors,
            "error_types": dict(self.error_types), "init_ms": round(self.init_ms, 2) if self.init_ms is not None else None,
            "p50_ms": round(self.p50_ms, 3), "p99_ms": round(self.p99_ms, 3), "mean_billed_ms": round(self.mean_billed_ms, 3),
            "per_million_usd": round(self.per_million_usd, 4),
        }


@dataclass(slots=True)
class TuningReport:
    """One function's run over its memory sizes, in the order they were tried."""

    function: str
    architecture: str
    count: int  # measured invocations per memory size
    results: list[MemoryResult] = field(default_factory=list)
    cpu_limited: bool = True  # False: no writable cpu controller here, so memory does not buy CPU
    stopped: str | None = None  # why the run ended early (the fleet stopped), else None

    @property
    def cheapest(self) -> MemoryResult | None:
        usable = [r for r in self.results if r.usable]
        return min(usable, key=lambda r: (r.per_million_usd, r.p50_ms)) if usable else None

    @property
    def fastest(self) -> MemoryResult | None:
        usable = [r for r in self.results if r.usable]
        return min(usable, key=lambda r: (r.p50_ms, r.per_million_usd)) if usable else None

    def to_dict(self) -> dict[str, Any]:
        cheapest, fastest = self.cheapest, self.fastest
        return {
            "function": self.function, "architecture": self.architecture, "invocations_per_size": self.count,
            "cpu_limited": self.cpu_limited, "stopped": self.stopped,
            "results": [r.to_dict() for r in self.results],
            "cheapest_mb": cheapest.memory_mb if cheapest else None, "fastest_mb": fastest.memory_mb if fastest else None,
        }

    def advice(self) -> list[str]:
        """What to pick (the cheapest and the fastest size), or why nothing can be; what limits the figures."""
        cheapest, fastest = self.cheapest, self.fastest
        if cheapest is None or fastest is None:
            lines = ["no memory size ran without errors"]
        else:
            lines = [f"cheapest: {cheapest.memory_mb} MB (${cheapest.per_million_usd:.4f} per 1M, p50 {cheapest.p50_ms:.2f} ms); "
                     f"fastest: {fastest.memory_mb} MB (p50 {fastest.p50_ms:.2f} ms, ${fastest.per_million_usd:.4f} per 1M)"]
        if not self.cpu_limited:
            lines.append("note: no writable cpu controller here, so memory does not buy CPU: durations will not follow memory")
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        return lines

    def table(self) -> list[list[str]]:
        """The rows people read: a header, then one per memory size (marks: $ cheapest, » fastest)."""
        cheapest, fastest = self.cheapest, self.fastest
        rows = [["memory", "p50 ms", "p99 ms", "mean billed", "$ / 1M", "errors", "init ms", ""]]
        for r in self.results:
            marks = " ".join(m for m, hit in (("$ cheapest", r is cheapest), ("» fastest", r is fastest)) if hit)
            errors = str(r.errors) + (f" ({', '.join(sorted(r.error_types))})" if r.error_types else "")
            rows.append([f"{r.memory_mb} MB", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.mean_billed_ms:.1f}",
                         f"{r.per_million_usd:.4f}", errors, f"{r.init_ms:.1f}" if r.init_ms is not None else "-", marks])
        return rows

    def plot(self, width: int = 40) -> list[str]:
        """Bars of p50 duration and cost per memory size, scaled to the largest of each (a terminal plot)."""
        if not self.results:
            return []
        top_ms = max(r.p50_ms for r in self.results) or 1.0
        top_usd = max(r.per_million_usd for r in self.results) or 1.0
        label = max(len(f"{r.memory_mb} MB") for r in self.results)
        lines = []
        for r in self.results:
            name = f"{r.memory_mb} MB".rjust(label)
            lines.append(f"{name} time {_bar(r.p50_ms / top_ms, width)} {r.p50_ms:.2f} ms")
            lines.append(f"{' ' * label} cost {_bar(r.per_million_usd / top_usd, width)} ${r.per_million_usd:.4f}")
        return lines


_EIGHTHS = " ▏▎▍▌▋▊▉"


def _bar(share: float, width: int) -> str:
    """A bar of `share` (0..1) of `width` cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)
