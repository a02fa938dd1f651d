"""What a bench run produces: one `Figure` per measured quantity, and the report around them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lambdatop.runtime.observability.percentiles import percentile


@dataclass(slots=True)
class Figure:
    """One measured quantity: a latency (p50/p99) or a rate, with the baseline it is judged against.

    `ratio` is value / baseline (for latencies: p50 over the baseline's p50; for
    rates: our rate over the baseline's rate). `met` is None where the issue sets
    no target ("report").
    """

    scenario: str
    figure: str
    unit: str  # "µs", "ms", "inv/s", "MB", "envs"
    p50: float | None = None
    p99: float | None = None
    value: float | None = None  # a rate or a single number, when there is no distribution
    samples: int = 0
    baseline_name: str | None = None
    baseline: float | None = None
    ratio: float | None = None
    target: str = "report"
    met: bool | None = None
    note: str = ""
    error: str | None = None
    skipped: str | None = None  # why a scenario whose capability is not built yet was not measured

    @property
    def headline(self) -> float | None:
        """The number the ratio is taken of: p50 for latencies, else the value."""
        return self.p50 if self.p50 is not None else self.value

    def judge(self, baseline_name: str, baseline: float | None, target: str, limit: float | None, *, at_least: bool = False) -> Figure:
        """Set the baseline and ratio; `met` is ratio <= limit (or >= limit when `at_least`)."""
        self.baseline_name, self.baseline, self.target = baseline_name, baseline, target
        headline = self.headline
        if baseline and headline is not None:
            self.ratio = headline / baseline
            if limit is not None:
                self.met = self.ratio >= limit if at_least else self.ratio <= limit
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchReport:
    """A whole run: when, where, how, and every figure."""

    started_at: str
    machine: dict[str, Any]
    command: str
    quick: bool
    scenarios: list[str]
    figures: list[Figure] = field(default_factory=list)
    duration_s: float = 0.0
    leftover_processes: int = 0

    def by_scenario(self) -> dict[str, list[Figure]]:
        grouped: dict[str, list[Figure]] = {}
        for figure in self.figures:
            grouped.setdefault(figure.scenario, []).append(figure)
        return grouped

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at, "machine": self.machine, "command": self.command, "quick": self.quick,
            "duration_s": round(self.duration_s, 2), "leftover_processes": self.leftover_processes,
            "scenarios": {name: [f.to_dict() for f in figures] for name, figures in self.by_scenario().items()},
        }


def latency(scenario: str, figure: str, samples_s: Sequence[float], *, unit: str = "µs", note: str = "") -> Figure:
    """A latency figure from samples in seconds, shown in µs or ms."""
    scale = 1e6 if unit == "µs" else 1e3
    ordered = sorted(samples_s)
    return Figure(
        scenario, figure, unit, p50=_required(percentile(ordered, 0.50)) * scale, p99=_required(percentile(ordered, 0.99)) * scale,
        samples=len(ordered), note=note,
    )


def _required(value: float | None) -> float:
    if value is None:
        raise ValueError("no samples")
    return value
