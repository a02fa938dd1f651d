"""The side panel a wide terminal gets on the main screen: the selected function at a glance.

Its limits and environments, a concurrency chart of the last minute, its
latest invocations' outcomes and the tail of its log, so a large terminal
shows what the function screen would without leaving the fleet view.
Hidden below 150×40 (the function screen, one Enter away, has all of it).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from lambdatop.runtime.fleet import FleetSnapshot
from lambdatop.tui.activity import RecentActivity
from lambdatop.tui.log_style import line_style
from lambdatop.tui.widgets.cells import age, ms, start_text, status_text

LOG_LINES = 12
RECENT = 6


class FunctionPeek(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="peek-title")
        yield Static("concurrency · last 60s", id="peek-conc-label")
        yield Sparkline([], id="peek-conc")
        yield Static(id="peek-body")

    def refresh_from(self, snapshot: FleetSnapshot, function_name: str | None, activity: RecentActivity) -> None:
        function = next((f for f in snapshot.functions if f.name == function_name), None)
        title = self.query_one("#peek-title", Static)
        body = self.query_one("#peek-body", Static)
        if function is None:
            title.update(Text("no function selected", style="dim"), layout=False)
            body.update("", layout=False)
            return
        self.border_title = function.name
        head = Text()
        head.append(f"{function.code_version}  {function.handler}  {function.memory_size} MB  {function.timeout}s\n", style="dim")
        head.append(f"in use {function.in_use}/{function.limit}", style="bold")
        head.append(f"   envs {function.busy} busy · {function.idle} idle · {function.initializing} init")
        title.update(head, layout=False)
        self.query_one("#peek-conc", Sparkline).data = [float(v) for v in function.concurrency_history]
        self.query_one("#peek-conc-label", Static).update(
            f"concurrency · last 60s · peak {max(function.concurrency_history, default=0)}", layout=False
        )
        text = Text(no_wrap=True, overflow="ellipsis")
        if function.envs:
            text.append("environments\n", style="bold")
            for env in sorted(function.envs, key=lambda e: (e.state != "busy", e.id))[:5]:
                text.append(f" {env.id:<14} pid {env.pid or '-':<7} {env.state:<12} {age(env.age_s):>6}  {env.invocations:>4} inv\n")
        recent = activity.recent_records(function.name)[:RECENT]
        if recent:
            text.append("latest\n", style="bold")
            for record in recent:
                text.append(f" {record.request_id[:8]}  ")
                text.append_text(start_text(record))
                text.append(f" {ms(record.duration_ms) if record.status != 'throttled' else '-':>8}  ")
                text.append_text(status_text(record.status))
                text.append("\n")
        lines = activity.log_tail(function.name)[-LOG_LINES:]
        if lines:
            text.append("log\n", style="bold")
            for line in lines:
                text.append(f" {line}\n", style=line_style(line))
        body.update(text, layout=False)
