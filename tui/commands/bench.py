"""`lambdatop bench`: measure lambdatop against baselines taken in the same run, and print the table.

    lambdatop bench                     # every scenario, full budget (< 5 min)
    lambdatop bench --quick             # smaller samples (< 1 min; what CI runs)
    lambdatop bench --only warm cold    # some scenarios (the baselines always run)
    lambdatop bench --json bench.json   # the same figures for machines
    lambdatop bench --compare old.json  # and how each ratio moved since an earlier --json run

The functions are generated no-op handlers in a temp project, so the figures do
not depend on the samples. Exit code 0 when every scenario ran (whether or not
its target was met: the table says), 1 when one failed to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from lambdatop.tui.bench.compare import Comparison, EarlierReportUnreadable, Movement, compare, load_figures
from lambdatop.tui.bench.results import BenchReport, Figure
from lambdatop.tui.bench.runner import run_bench
from lambdatop.tui.commands.common import EXIT_FUNCTION_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from rich.console import Console
from rich.table import Table
from rich.text import Text



def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    command = "lambdatop bench" + (" --quick" if args.quick else "") + (
        " --only " + " ".join(args.only) if args.only else ""
    ) + (f" --json {shlex.quote(args.json)}" if args.json else "") + (
        f" --markdown {shlex.quote(args.markdown)}" if args.markdown else ""
    ) + (f" --compare {shlex.quote(args.compare)}" if args.compare else "")

    earlier: dict[tuple[str, str], dict[str, Any]] | None = None
    if args.compare:
        try:  # before the run, so a wrong path does not cost minutes of measuring first
            earlier = load_figures(Path(args.compare))
        except EarlierReportUnreadable as exc:
            console.print(f"[red]lambdatop bench: --compare: {exc}[/]", highlight=False)
            return EXIT_USAGE

    def progress(message: str) -> None:
        console.print(f"[dim]bench: {message}[/]", highlight=False)

    try:
        report = asyncio.run(run_bench(quick=args.quick, only=args.only, command=command, progress=progress))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    # With `--json -` the JSON owns stdout, so the table goes to stderr.
    out = Console(width=max(Console().width, 140), stderr=args.json == "-")
    out.print(render(report))
    for number, note in enumerate(notes(report), 1):
        out.print(f"[dim]  [{number}] {note}[/]", highlight=False)
    comparisons = compare(report, earlier) if earlier is not None else None
    if comparisons is not None:
        out.print(render_comparison(comparisons, args.compare))
    if args.json:
        document = report.to_dict()
        if comparisons is not None:
            document["compared_to"] = {"file": args.compare, "figures": [c.to_dict() for c in comparisons]}
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w", encoding="utf-8") as file:
                file.write(text + "\n")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as file:
            file.write(markdown(report))
    if report.leftover_processes:
        console.print(f"[red]bench: {report.leftover_processes} process(es) were left behind and have been killed[/]")
    failed = [f for f in report.figures if f.error]
    return EXIT_FUNCTION_ERROR if failed or report.leftover_processes else EXIT_OK


def render(report: BenchReport) -> Table:
    machine = report.machine
    table = Table(
        title=f"lambdatop bench{' --quick' if report.quick else ''} · {report.started_at} · {machine['cores']} cores, "
        f"{machine['cpu']} · Python {machine['python']} · {report.duration_s:.0f} s",
        title_justify="left",
    )
    for column, justify in (
        ("scenario", "left"), ("figure", "left"), ("p50 / value", "right"), ("p99", "right"),
        ("baseline (same run)", "left"), ("ratio", "right"), ("target", "left"), ("met?", "center"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    numbered = 0
    for figure in report.figures:
        marker = ""
        if figure.note and not (figure.error or figure.skipped):
            numbered += 1
            marker = f" [dim][{numbered}][/]"
        table.add_row(*row(figure, marker))
    return table


def render_comparison(comparisons: list[Comparison], earlier: str) -> Table:
    table = Table(title=f"against {earlier} (ratios to the same-run baseline; ±10 % is noise)", title_justify="left")
    for column, justify in (("scenario", "left"), ("figure", "left"), ("then", "right"), ("now", "right"),
                            ("change", "right"), ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    style = {Movement.BETTER: "green", Movement.WORSE: "red", Movement.NOISE: "dim", Movement.NEW: "cyan", Movement.GONE: "yellow"}
    for c in comparisons:
        change = f"{c.change:+.0%}" if c.change is not None else ""
        table.add_row(c.scenario, c.figure, _moved(c.earlier, c.measure), _moved(c.now, c.measure), change,
                      f"[{style[c.movement]}]{c.movement.value}[/]")
    return table


def _moved(value: float | None, measure: str) -> str:
    if value is None:
        return ""
    return f"{value:.2f}×" if measure == "ratio" else _number(value, measure)


def markdown(report: BenchReport) -> str:
    """The table as Markdown, notes inline, under a line that says when, where and how it was made."""
    machine = report.machine
    lines = [
        f"`{report.command}` on {report.started_at}: {machine['cores']} cores, {machine['cpu']}, "
        f"{machine.get('memory_gb', '?')} GB, Linux {machine.get('kernel', '?')}, Python {machine['python']}; "
        f"{report.duration_s:.0f} s, {report.leftover_processes} processes left behind; load average "
        f"{machine.get('load_average_at_start', '?')} at the start, {machine.get('load_average_at_end', '?')} at the end.",
        "",
        "| scenario | figure | p50 / value | p99 | baseline (same run) | ratio | target | met? |",
        "|---|---|---:|---:|---|---:|---|:-:|",
    ]
    for figure in report.figures:
        note = f" ({figure.note})" if figure.note and not (figure.error or figure.skipped) else ""
        cells = [Text.from_markup(cell).plain for cell in row(figure, note)]
        if cells[-1] == "no":
            cells[-1] = "**no**"
        if cells[-2] == "report":
            cells[-2] = ""
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def notes(report: BenchReport) -> list[str]:
    """The figures' notes, numbered as the table marks them."""
    return [f"{f.scenario} / {f.figure}: {f.note}" for f in report.figures if f.note and not (f.error or f.skipped)]


def row(figure: Figure, marker: str = "") -> list[str]:
    if figure.error:
        return [figure.scenario, figure.figure, "", "", "", "", figure.target, f"[red]error: {figure.error}[/]"]
    if figure.skipped:
        return [figure.scenario, figure.figure, "", "", "", "", figure.target, f"[yellow]skipped: {figure.skipped}[/]"]
    headline = _number(figure.headline, figure.unit)
    p99 = _number(figure.p99, figure.unit) if figure.p99 is not None else ""
    baseline = f"{figure.baseline_name}: {_baseline(figure)}" if figure.baseline_name and figure.baseline is not None else ""
    ratio = f"{figure.ratio:.2f}×" if figure.ratio is not None else ""
    met = {True: "[green]yes[/]", False: "[red]no[/]", None: ""}[figure.met]
    label = figure.figure + marker
    return [figure.scenario, label, headline, p99, baseline, ratio, figure.target, met]


def _baseline(figure: Figure) -> str:
    unit = "inv/s" if figure.unit == "inv/s" else figure.unit
    return _number(figure.baseline, unit)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "inv/s":
        return f"{value:,.0f}/s"
    if unit == "envs":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"
