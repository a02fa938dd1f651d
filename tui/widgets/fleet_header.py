"""The fleet header: what the whole account is doing, in two lines (three when something is wrong).

    λ lambdatop  sample_functions/template.yaml  7 functions  http://127.0.0.1:3001      12:00:01
    concurrency ▕████░░░░░░░░▏ 12/1000  inv/s 40.2  err/s 0.4  thr/s 2.0  cold 12%  alarms 1

The third line names what is wrong until it is fixed: a config file that does
not load (the last good config keeps running), functions whose code reload
failed, and alarms that fire.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from lambdatop.runtime.fleet import FleetSnapshot
from lambdatop.runtime.snapshot import ConfigErrorView
from lambdatop.tui.widgets.cells import clock, gauge, pct, rate


class FleetHeader(Static):
    def __init__(self, source: str, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.source = source
        self.status = "starting…"
        self._shown: Text | None = None
        self._lines = -1

    def refresh_from(self, snapshot: FleetSnapshot | None, status: str = "") -> None:
        self.status = status
        text = self.render_header(snapshot)
        if text == self._shown:
            return
        lines = text.plain.count("\n")
        # A layout pass costs far more than the paint: only when the header grows or shrinks.
        self.update(text, layout=lines != self._lines)
        self._shown = text
        self._lines = lines

    def render_header(self, snapshot: FleetSnapshot | None) -> Text:
        width = max(40, self.size.width or 80)
        top = Text()
        top.append(" λ lambdatop ", style="bold black on #ff9900")
        top.append(f" {self.source}", style="bold")
        if snapshot is not None:
            top.append(f"  {len(snapshot.functions)} functions", style="dim")
            if snapshot.endpoint:
                top.append("  ")
                top.append(snapshot.endpoint, style="underline cyan")
        if self.status:
            top.append(f"  {self.status}", style="bold yellow")
        if snapshot is not None:
            stamp = clock(snapshot.at, millis=False)
            gap = width - top.cell_len - len(stamp) - 1
            if gap > 0:
                top.append(" " * gap)
                top.append(stamp, style="dim")
        top.truncate(width, overflow="ellipsis")  # one line, whatever the port or path: never wrapped
        if snapshot is None:
            return top

        rest = Text()
        rest.append(f" {snapshot.in_use}/{snapshot.account_limit}", style="bold")
        rest.append("  inv/s ", style="dim")
        rest.append(rate(snapshot.invocations_per_s), style="bold")
        rest.append("  err/s ", style="dim")
        rest.append(rate(snapshot.errors_per_s), style="bold red" if snapshot.errors_per_s else "bold")
        rest.append("  thr/s ", style="dim")
        rest.append(rate(snapshot.throttles_per_s), style="bold yellow" if snapshot.throttles_per_s else "bold")
        rest.append("  cold ", style="dim")
        rest.append(pct(snapshot.cold_share_pct), style="bold")
        alarms = snapshot.alarms
        if alarms is not None:
            open_count = alarms.open
            rest.append("  alarms ", style="dim")
            rest.append(str(open_count), style="bold white on red" if open_count else "bold green")
        label = " concurrency " if width >= 100 else " conc "
        bar_width = max(6, min(40, width - rest.cell_len - len(label) - 2))
        second = Text(label, style="dim")
        second.append_text(gauge(snapshot.in_use, snapshot.account_limit, bar_width))
        second.append_text(rest)
        lines = [top, second]

        problems = problems_text(snapshot)
        if problems.plain:
            lines.append(problems)
        return Text("\n").join(lines)


def problems_text(snapshot: FleetSnapshot) -> Text:
    """The header's third line: what is wrong right now (a bad config, broken code, failed installs or
    store writes, alarms), each as a red (or, while an install runs, yellow) chip; empty when all is well."""
    problems = config_error_text(snapshot.config_error)
    for name, info in sorted((snapshot.reload or {}).items()):
        broken = info.broken
        if broken:
            where = f" {broken.where}" if broken.where else ""
            problems.append(f" ✗ {name}: {broken.error_type}: {broken.message}{where} ", style="bold white on red")
            problems.append(" ")
    for name, install in sorted((snapshot.packages or {}).items()):
        if install.state == "installing":  # requirements.txt, installing (runtime/packages/)
            problems.append(f" ⧗ {name}: installing requirements.txt {install.detail}".rstrip() + " ", style="bold black on yellow")
            problems.append(" ")
        elif install.state == "failed":
            message = install.detail.splitlines()[-1:] or [""]
            problems.append(f" ✗ {name}: requirements.txt did not install: {message[0]} ", style="bold white on red")
            problems.append(" ")
    store = snapshot.store
    if store is not None and store.failing:  # history is not being kept: say so where it is seen
        problems.append(f" ✗ store: writes failing, {store.unrecorded} invocations not recorded"
                        f"{': ' + store.last_error if store.last_error else ''} ", style="bold white on red")
        problems.append(" ")
    elif store is not None and store.errors:  # it was not, for a while
        problems.append(f" ! store: {store.errors} write{'s' if store.errors != 1 else ''} failed, then resumed "
                        f"({store.unrecorded} invocations not recorded) ", style="bold black on yellow")
        problems.append(" ")
    states = snapshot.alarms.states if snapshot.alarms else {}
    in_alarm = sorted(name for name, state in states.items() if state == "ALARM")
    if in_alarm:
        problems.append(f" ALARM: {', '.join(in_alarm)} ", style="bold white on red")
    return problems


def config_error_text(error: ConfigErrorView | None) -> Text:
    """The header's note of a config file that failed to reload (empty when the config is fine)."""
    if error is None:
        return Text()
    where = Path(error.file or "config").name
    if error.line:
        where += f":{error.line}"
    subject = f"function '{error.function}': " if error.function else ""
    key = f"{error.key}: " if error.key else ""
    text = Text(f" ✗ {where}: {subject}{key}{error.message or error.text} (the last good config keeps running) ",
                style="bold white on red")
    text.append(" ")
    return text
