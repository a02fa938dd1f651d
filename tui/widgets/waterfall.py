"""`TraceWaterfall`: an invocation's X-Ray-like trace drawn as a waterfall, like the X-Ray console's timeline.

One row per segment and subsegment, indented by depth: the name, a bar placed
and sized to scale on the trace's time axis (eighth-block precision), and the
duration. Faults and errors are red, throttles magenta, Lambda's own phases
(Initialization / Invocation / Overhead) in their own colours, user
subsegments cyan. The highlighted row's annotations, metadata and error cause
are shown below the table.

The documents come from the live observability service (user subsegments
can land a moment after the invocation ends, so the view polls for a few
seconds) or, for an older invocation, from the store.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.observability.views import FUNCTION_ORIGIN, SERVICE_ORIGIN, Span, flatten
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static

if TYPE_CHECKING:
    from lambdatop.runtime.records import InvocationRecord

POLL_INTERVAL_S = 0.5
POLL_FOR_S = 5.0
NAME_WIDTH = 30
DURATION_WIDTH = 10
_EIGHTHS = " ▏▎▍▌▋▊▉"
_PHASE_COLOURS = {"Initialization": "#d7af00", "Invocation": "#5fafff", "Overhead": "grey58",
                  "Dwell Time": "grey58"}


def span_style(span: Span) -> str:
    if span.fault or span.error and not span.throttle:
        return "red"
    if span.throttle:
        return "magenta"
    if span.origin in (SERVICE_ORIGIN, FUNCTION_ORIGIN):
        return "#ff9900"
    if span.name.startswith("Attempt #"):
        return "#ffaf5f"
    return _PHASE_COLOURS.get(span.name, "cyan")


def bar(start: float, end: float, origin: float, total: float, width: int, style: str) -> Text:
    """A bar from `start` to `end` on an axis of `total` seconds from `origin`, `width` cells wide."""
    width = max(width, 1)
    scale = width * 8 / total if total > 0 else 0.0
    left = int((start - origin) * scale) if scale else 0
    right = max(left + 1, round((end - origin) * scale)) if scale else width * 8
    left, right = max(0, min(left, width * 8 - 1)), max(1, min(right, width * 8))
    text = Text(" " * (left // 8))
    cells = left // 8
    lead = left % 8
    if lead:  # a bar that starts inside a cell: draw its right part in reverse video
        text.append(_EIGHTHS[lead], style=f"reverse {style}")
        cells += 1
    full = max(0, (right - max(left, cells * 8)) // 8)
    text.append("█" * full, style=style)
    cells += full
    tail = (right - cells * 8) if right > cells * 8 else 0
    if tail and cells < width:
        text.append(_EIGHTHS[tail], style=style)
        cells += 1
    if cells < width:
        text.append(" " * (width - cells))
    return text


def detail_text(span: Span, origin: float) -> Text:
    """What the X-Ray console shows for a selected segment: timing, flags, annotations, metadata, cause."""
    text = Text()
    text.append(span.name, style="bold")
    text.append(f"  {span.kind}{' · ' + span.origin if span.origin else ''}  id {span.id}\n", style="dim")
    text.append(f"starts +{(span.start - origin) * 1000:.2f} ms, lasts {span.duration_ms:.2f} ms")
    if span.in_progress:
        text.append("  (in progress)", style="yellow")
    flags = [name for name, on in (("fault", span.fault), ("error", span.error), ("throttle", span.throttle)) if on]
    if flags:
        text.append("  " + " ".join(flags), style="bold red")
    text.append("\n")
    if span.annotations:
        text.append("annotations  ", style="bold")
        text.append("  ".join(f"{k}={v!r}" for k, v in span.annotations.items()) + "\n")
    if span.metadata:
        text.append("metadata  ", style="bold")
        rendered = json.dumps(span.metadata, default=str)
        text.append((rendered if len(rendered) < 600 else rendered[:600] + " …") + "\n")
    cause = span.cause
    if isinstance(cause, dict):
        for exc in cause.get("exceptions") or []:
            text.append(f"{exc.get('type', 'Error')}: {exc.get('message', '')}\n", style="red")
            for frame in (exc.get("stack") or [])[:5]:
                text.append(f"  {frame.get('path', '?')}:{frame.get('line', '?')} {frame.get('label', '')}\n", style="dim red")
    return text


class TraceWaterfall(Vertical):
    """The trace of one invocation (with its caller and children), drawn to scale."""

    DEFAULT_CSS = """
    TraceWaterfall { height: auto; }
    TraceWaterfall > #wf-table { height: auto; max-height: 24; }
    TraceWaterfall > #wf-detail { height: auto; padding: 0 1; }
    TraceWaterfall > #wf-empty { color: $text-muted; padding: 0 1; }
    """

    def __init__(
        self,
        fleet: Any = None,
        record: InvocationRecord | None = None,
        documents: list[dict[str, Any]] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.fleet = fleet
        self.record = record
        self.documents = documents
        self.spans: list[Span] = []
        self._signature: tuple[Any, ...] = ()
        self._polls = 0
        self._width = 0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="wf-empty")
        table: DataTable[Any] = DataTable(id="wf-table", cursor_type="row", show_header=True, zebra_stripes=False)
        yield table
        yield Static("", id="wf-detail")

    def on_mount(self) -> None:
        self.reload()
        if self.documents is None:
            self._timer = self.set_interval(POLL_INTERVAL_S, self._poll, name="waterfall-poll")

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._render_rows()

    # -- data -------------------------------------------------------------------------------------

    def lookup(self) -> list[dict[str, Any]]:
        """The trace's documents: given, from the live observability service, else from the store."""
        if self.documents is not None:
            return self.documents
        if self.record is None:
            return []
        docs = self.fleet.trace_documents(self.record.request_id) if self.fleet is not None else []
        if docs:
            return docs
        store = self.fleet.store if self.fleet is not None else None
        # The store is read from disk: once when the view opens, once when polling ends, never per poll.
        if store is not None and (self._polls == 0 or self._polls * POLL_INTERVAL_S >= POLL_FOR_S):
            try:
                stored = store.get(self.record.request_id)
            except Exception:  # noqa: BLE001 - a store problem shows as "no trace", not a crash
                stored = None
            trace = getattr(stored, "trace", None)
            if isinstance(trace, dict) and isinstance(trace.get("documents"), list):
                return trace["documents"]
        return []

    def reload(self) -> None:
        spans = flatten(self.lookup())
        signature = tuple((s.id, s.end, s.fault) for s in spans)
        if signature == self._signature:
            return
        self._signature = signature
        self.spans = spans
        self._render_rows()

    def _poll(self) -> None:
        self._polls += 1
        self.reload()
        if self._polls * POLL_INTERVAL_S >= POLL_FOR_S and self._timer is not None:
            self._timer.stop()  # the trace has settled: stop asking

    # -- drawing ----------------------------------------------------------------------------------

    def _render_rows(self) -> None:
        if not self.is_mounted:
            return
        table = self.query_one("#wf-table", DataTable)
        empty = self.query_one("#wf-empty", Static)
        table.clear(columns=True)
        if not self.spans:
            empty.update("no trace for this invocation yet" if self.record is not None else "no trace")
            empty.display = True
            table.display = False
            return
        empty.display = False
        table.display = True
        self._width = self.size.width
        origin = min(s.start for s in self.spans)
        total = max(s.end for s in self.spans) - origin
        bar_width = max(20, (self.size.width or 100) - NAME_WIDTH - DURATION_WIDTH - 8)
        table.add_column("segment", width=NAME_WIDTH, key="name")
        table.add_column(Text(f"0 ms … {total * 1000:.1f} ms", style="dim"), width=bar_width, key="bar")
        table.add_column(Text("duration", justify="right"), width=DURATION_WIDTH, key="duration")
        for index, span in enumerate(self.spans):
            style = span_style(span)
            label = Text("  " * span.depth)
            label.append(span.name, style="bold" if span.kind == "segment" else ("red" if style == "red" else ""))
            label.truncate(NAME_WIDTH, overflow="ellipsis")
            duration = Text(f"{span.duration_ms:.1f} ms", justify="right", style="red" if style == "red" else "")
            table.add_row(label, bar(span.start, span.end, origin, total, bar_width, style), duration, key=str(index))
        self._show_detail(table.cursor_row if 0 <= table.cursor_row < len(self.spans) else 0)

    def _show_detail(self, row: int) -> None:
        if not self.spans or not 0 <= row < len(self.spans):
            return
        origin = min(s.start for s in self.spans)
        self.query_one("#wf-detail", Static).update(detail_text(self.spans[row], origin))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail(event.cursor_row)
