"""`lambdatop tune FN`: power tuning from the shell, a table and a terminal plot (or `--json`).

Exit codes: 0 a size was advised, 1 every size failed (the errors are in the table), 2 bad usage or
config (an unknown function, a memory size Lambda refuses), 3 the function cannot run here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.tuning import TuningError, TuningReport, check_sweep, parse_memory_sizes, tune
from lambdatop.tui.commands.common import (
    EXIT_FUNCTION_ERROR, EXIT_OK, EXIT_SERVICE_ERROR, EXIT_USAGE, UsageError, default_event_path, load_or_exit,
    read_event, require_function, template_inputs,
)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        sizes = parse_memory_sizes(args.memory)
        check_sweep(sizes, args.count)
        function = require_function(config, args.function)
        payload = read_event(args.event, default_event_path(function.event_dirs, function.name))
    except (UsageError, TuningError) as exc:
        print(f"lambdatop: {exc}" if isinstance(exc, UsageError) else f"lambdatop: --memory/-n: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_tune(args, config, function.name, sizes, payload))


async def _tune(args: argparse.Namespace, config: FleetConfig, name: str, sizes: list[int], payload: bytes) -> int:
    from lambdatop.runtime.services import attach_command_services

    fleet = Fleet(config)
    attach_command_services(fleet, command="tune")  # recorded like any run; joins a running sidecar
    async with fleet:
        def said(report: TuningReport, done: int, count: int) -> None:
            if not args.json and sys.stderr.isatty():
                print(f"\r{report.results[-1].memory_mb} MB: {done}/{count}", end="", file=sys.stderr, flush=True)

        try:
            report = await tune(fleet, name, sizes, payload, args.count, said)
        except TuningError as exc:  # the sweep and the name were checked above: the function cannot run here
            print(f"lambdatop: {exc}", file=sys.stderr)
            return EXIT_SERVICE_ERROR
    if not args.json and sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render(report))
    return EXIT_OK if report.cheapest is not None else EXIT_FUNCTION_ERROR


def render(report: TuningReport) -> str:
    """The table, the plot and the advice, as the terminal shows them."""
    rows = report.table()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"{report.function}: {report.count} invocation(s) per memory size ({report.architecture}, us-east-1 prices)"]
    for row in rows:
        # Numbers right-aligned; the size and the advice marks left.
        cells = [cell.rjust(width) if 0 < i < len(row) - 1 else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.extend(report.plot())
    lines.append("")
    lines.extend(report.advice())
    return "\n".join(lines)
