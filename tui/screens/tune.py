"""`TuneScreen` (`T`): power tuning of the selected function, from the dashboard.

The memory sizes and the invocations per size are asked first (aws-lambda-power-tuning's usual
sweep and 10, editable); enter runs the sweep (`lambdatop.runtime.tuning`) on the running fleet,
so its invocations show in the stream as they happen (trigger `tune`), each size on a version
published for it and deleted after. The table fills in size by size; the plot of duration and cost
and the advice (cheapest, fastest) follow. `esc` goes back; a sweep under way stops after the
invocation in flight.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.tuning import DEFAULT_MEMORY_SIZES, TuningError, TuningReport, check_sweep, parse_memory_sizes, tune
from lambdatop.tui.screens.base import LambdatopScreen
from lambdatop.tui.widgets.vim_table import VimTable

DEFAULT_COUNT = 10


class TuneScreen(LambdatopScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    TuneScreen #tune-title { height: 1; padding: 0 1; background: $panel; }
    TuneScreen #tune-form { height: auto; padding: 0 1; }
    TuneScreen #tune-form Input { width: 1fr; }
    TuneScreen #tune-form #tune-count { width: 12; }
    TuneScreen #tune-status { height: auto; padding: 0 1; }
    TuneScreen #tune-results { height: 1fr; border: round $primary; }
    TuneScreen #tune-table { height: auto; max-height: 12; }
    TuneScreen #tune-plot { height: 1fr; padding: 0 1; }
    """

    def __init__(self, fleet: Fleet, function: str, payload: bytes) -> None:
        super().__init__(id="tune")
        self.fleet = fleet
        self.function = function
        self.payload = payload
        self.report: TuningReport | None = None
        self.running = False
        self._stop = False

    def selected_function(self) -> str | None:
        return self.function

    def compose(self) -> ComposeResult:
        yield Static(f"tune [b]{self.function}[/b]: memory buys CPU (cpu: proportional), as on Lambda", id="tune-title")
        with Horizontal(id="tune-form"):
            yield Input(",".join(map(str, DEFAULT_MEMORY_SIZES)), id="tune-memory", placeholder="memory sizes, MB")
            yield Input(str(DEFAULT_COUNT), id="tune-count", type="integer", placeholder="N")
        yield Static("[dim]memory sizes (MB) and invocations per size · enter run · esc back[/dim]", id="tune-status")
        with Vertical(id="tune-results"):
            yield VimTable(id="tune-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="tune-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tune-results").border_title = "memory size → speed and cost"
        self.query_one("#tune-memory", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.running:
            return
        status = self.query_one("#tune-status", Static)
        try:
            sizes = parse_memory_sizes(self.query_one("#tune-memory", Input).value)
            written = self.query_one("#tune-count", Input).value.strip()
            if not written:
                raise TuningError("say how many invocations per memory size (N)")
            count = int(written)
            check_sweep(sizes, count)
        except (TuningError, ValueError) as exc:
            status.update(f"[red]{exc}[/red]")
            return
        if not self.fleet.running:
            status.update("[red]the fleet is not running[/red]")
            return
        self.running, self._stop = True, False
        status.update(f"starting {sizes[0]} MB…")
        # On the app, not this screen: esc pops the screen and the sweep still deletes its version.
        self.app.run_worker(self._sweep(sizes, count), group="tune", exit_on_error=False)

    async def _sweep(self, sizes: list[int], count: int) -> None:
        try:
            self.report = await tune(self.fleet, self.function, sizes, self.payload, count, self._progress,
                                     lambda: self._stop)
        except TuningError as exc:
            self._say(f"[red]{exc}[/red]")
            return
        finally:
            self.running = False
        self._show(self.report)
        self._say(advice(self.report))

    def _progress(self, report: TuningReport, done: int, count: int) -> None:
        self.report = report
        self._show(report)
        self._say(f"{report.results[-1].memory_mb} MB: {done}/{count} · esc stops after the invocation in flight")

    def _say(self, markup: str) -> None:
        if self.is_mounted:
            self.query_one("#tune-status", Static).update(markup)

    def _show(self, report: TuningReport) -> None:
        if not self.is_mounted:
            return
        table = self.query_one("#tune-table", VimTable)
        rows = report.table()
        if not table.columns:
            for column in rows[0]:
                table.add_column(column or "advice", key=column or "advice")
        table.clear()
        for row in rows[1:]:
            table.add_row(*row, key=row[0])
        self.query_one("#tune-plot", Static).update("\n".join(report.plot(width=max(10, self.size.width - 40))))

    def action_back(self) -> None:
        self._stop = True
        self.app.pop_screen()


def advice(report: TuningReport) -> str:
    """The report's advice on one line: green when a size is advised, red when none ran without errors."""
    colour = "green" if report.cheapest is not None else "red"
    return f"[{colour}]{escape(' · '.join(report.advice()))}[/{colour}]"
