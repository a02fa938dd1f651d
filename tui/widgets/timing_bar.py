"""One invocation's phases on a time line: dispatch, init (cold starts), invoke, finish.

    ░░░████████████████████████████▓▓▓▓▓▓▓▓░
    ■ dispatch 4.6ms  ■ init 212.4ms  ■ invoke 3.1ms  ■ finish 0.9ms  total 221.0ms

Built from the record's own timestamps: `started_at` (accepted by the fleet),
`init_started_at` / `invoke_started_at` / `invoke_ended_at` (the worker's
clock) and `ended_at`. The full trace (subsegments, downstream calls) is the
trace waterfall's job; this bar answers "was it the cold start?" at a glance.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lambdatop.runtime.records import InvocationRecord
from lambdatop.tui.widgets.cells import ms

PHASE_STYLES = {"dispatch": "grey50", "init": "bold #ff9900", "restore": "bold magenta", "invoke": "bold cyan", "after": "grey35"}


def phases(record: InvocationRecord) -> list[tuple[str, float]]:
    """(phase, milliseconds) in order; phases that did not happen are left out (the record computes them, so
    an environment initialised early by a reload shows its Init, not the idle wait since)."""
    return record.phases()


class TimingBar(Static):
    def __init__(self, record: InvocationRecord, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.record = record

    def on_mount(self) -> None:
        self.update(self.render_bar())

    def on_resize(self) -> None:
        self.update(self.render_bar())

    def render_bar(self) -> Text:
        parts = phases(self.record)
        if not parts:
            return Text("throttled: the invocation never reached an execution environment", style="yellow")
        width = max(20, (self.size.width or 60) - 2)
        total = sum(value for _, value in parts) or 1.0
        bar = Text()
        used = 0
        for index, (name, value) in enumerate(parts):
            cells = max(1, round(value / total * width)) if value > 0 else 0
            if index == len(parts) - 1:
                cells = max(1 if value > 0 else 0, width - used)
            used += cells
            bar.append("█" * cells, style=PHASE_STYLES[name])
        legend = Text()
        labels = {"dispatch": "dispatch", "init": "init", "restore": "restore", "invoke": "invoke", "after": "finish"}
        for name, value in parts:
            legend.append("■ ", style=PHASE_STYLES[name])
            legend.append(f"{labels[name]} {ms(value)}   ")
        legend.append(f"total {ms(total)}", style="bold")
        if self.record.init_duration_ms is not None:
            legend.append(f"   (Init Duration {self.record.init_duration_ms:.2f} ms)", style="dim")
        if self.record.restore_duration_ms is not None:
            legend.append(f"   (Restore Duration {self.record.restore_duration_ms:.2f} ms, SnapStart)", style="dim")
        return Text("\n").join([bar, legend])
