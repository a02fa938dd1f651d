"""How numbers and states look in a cell: durations, rates, statuses, sparklines, gauges.

One place, so the tables, the header and the screens colour a throttle or a
cold start the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text

from lambdatop.runtime.records import InvocationRecord, InvocationStatus

SPARK_BLOCKS = " ▁▂▃▄▅▆▇█"

STATUS_STYLE: dict[str, str] = {
    InvocationStatus.SUCCESS: "green",
    InvocationStatus.ERROR: "bold red",
    InvocationStatus.TIMEOUT: "bold magenta",
    InvocationStatus.THROTTLED: "bold yellow",
    InvocationStatus.OUT_OF_MEMORY: "bold red",
    InvocationStatus.CRASHED: "bold red",
}

STATUS_LABEL: dict[str, str] = {
    InvocationStatus.SUCCESS: "ok",
    InvocationStatus.ERROR: "error",
    InvocationStatus.TIMEOUT: "timeout",
    InvocationStatus.THROTTLED: "throttled",
    InvocationStatus.OUT_OF_MEMORY: "oom",
    InvocationStatus.CRASHED: "crashed",
}

ALARM_STYLE = {"OK": "green", "ALARM": "bold white on red", "INSUFFICIENT_DATA": "dim"}
ALARM_LABEL = {"OK": "ok", "ALARM": "ALARM", "INSUFFICIENT_DATA": "-"}


def ms(value: float | None, *, unit: bool = True) -> str:
    """A duration in milliseconds, with as many decimals as are worth reading."""
    if value is None:
        return "-"
    if value >= 10_000:
        text = f"{value / 1000:.1f}s"
        return text if unit else text[:-1]
    if value >= 100:
        text = f"{value:.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text}ms" if unit else text


def rate(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def pct(value: float) -> str:
    return f"{value:.0f}%" if value >= 1 or value == 0 else "<1%"


def age(seconds: float) -> str:
    """htop-style age: 42s, 3m07s, 1h02m."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def ago(at: float, now: float) -> str:
    """How long ago `at` was: 42s ago, 3m07s ago, 1h02m ago."""
    return f"{age(now - at)} ago"


def clock(epoch: float, *, millis: bool = True) -> str:
    local = time.localtime(epoch)
    text = time.strftime("%H:%M:%S", local)
    return f"{text}.{int((epoch % 1) * 1000):03d}" if millis else text


def format_usd(amount: float) -> str:
    """Small amounts stay readable: $0.0000034, $0.0123, $12.34."""
    if amount == 0:
        return "$0"
    if amount < 0.01:
        return f"${amount:.7f}".rstrip("0")
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"


def status_text(status: str) -> Text:
    return Text(STATUS_LABEL.get(status, str(status)), style=STATUS_STYLE.get(status, ""))


def start_text(record: InvocationRecord) -> Text:
    if record.status is InvocationStatus.THROTTLED:
        return Text("-", style="dim")
    return Text("cold", style="bold cyan") if record.cold_start else Text("warm", style="dim")


def sparkline(values: Sequence[float], width: int, *, ceiling: float | None = None, style: str = "cyan") -> Text:
    """The last `width` values as block characters, scaled to `ceiling` (default: their maximum)."""
    tail = list(values)[-width:]
    tail = [0.0] * (width - len(tail)) + tail
    top = ceiling if ceiling else max(tail, default=0) or 1
    chars = []
    for value in tail:
        if value <= 0:
            chars.append(" " if value == 0 else SPARK_BLOCKS[1])
            continue
        level = min(len(SPARK_BLOCKS) - 1, max(1, round(value / top * (len(SPARK_BLOCKS) - 1))))
        chars.append(SPARK_BLOCKS[level])
    return Text("".join(chars), style=style)


def gauge(used: int, limit: int, width: int) -> Text:
    """A bar for `used` of `limit`: green, yellow past 70%, red at the limit."""
    width = max(4, width)
    share = min(1.0, used / limit) if limit else 0.0
    filled = round(share * width)
    if used and not filled:
        filled = 1
    style = "bold red" if share >= 1 else "yellow" if share >= 0.7 else "green"
    bar = Text()
    bar.append("▕", style="dim")
    bar.append("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    bar.append("▏", style="dim")
    return bar
