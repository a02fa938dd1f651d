"""`lambdatop stats`: per-function CloudWatch-style figures and what the work would cost on Lambda.

Computed from the project's store: invocations, errors, throttles, timeouts,
cold starts, duration p50/p90/p99/max, init duration, max memory used, and the
cost (requests plus GB-seconds at the published price for each function's
architecture, us-east-1, no free tier).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from lambdatop.runtime.errors import StoreError
from lambdatop.runtime.observability.summary import summarize
from lambdatop.runtime.store.reader import StoreReader
from lambdatop.tui.commands.common import (
    EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, parse_age, require_function, selected_run, template_inputs,
)
from lambdatop.tui.widgets.cells import format_usd

SCAN_LIMIT = 200_000  # the store keeps 100,000 invocations by default



def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        function = require_function(config, args.function).name if args.function else None
        since = time.time() - parse_age(args.since) if args.since else None
        try:
            reader = StoreReader.for_config(config)
        except StoreError as exc:
            raise UsageError(str(exc)) from exc
        with reader:
            rows = reader.invocations(function=function, run=selected_run(reader, args.run), since=since, limit=SCAN_LIMIT)
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    figures = summarize(rows, {name: f.architecture for name, f in config.functions.items()})
    if args.json:
        print(json.dumps({"functions": {k: v for k, v in figures.items() if k != "*"}, "fleet": figures.get("*")}, indent=2))
        return EXIT_OK
    print_table(figures)
    return EXIT_OK


def _ms(value: float | None) -> str:
    """Milliseconds, always: the columns say "ms" (900000.0, a 15-minute timeout, still fits in 8)."""
    return "-" if value is None else f"{value:.1f}"


def print_table(figures: dict[str, dict[str, Any]]) -> None:
    if not figures:
        print("no invocations recorded")
        return
    header = (f"{'FUNCTION':18} {'INVOC':>7} {'ERR':>5} {'THR':>5} {'T/O':>4} {'COLD':>5} {'p50 ms':>8} {'p90 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8} {'MEM MB':>6} {'GB-s':>10} {'COST':>11} {'$/1M':>8}")
    print(header)
    names = sorted(k for k in figures if k != "*") + (["*"] if "*" in figures else [])
    for name in names:
        f = figures[name]
        cost = f["cost"]
        label = "(fleet)" if name == "*" else name[:18]
        print(f"{label:18} {f['invocations']:>7} {f['errors']:>5} {f['throttles']:>5} {f['timeouts']:>4} {f['cold_starts']:>5} "
              f"{_ms(f['duration_p50_ms']):>8} {_ms(f['duration_p90_ms']):>8} {_ms(f['duration_p99_ms']):>8} "
              f"{_ms(f['duration_max_ms']):>8} {f['max_memory_used_mb']:>6} {cost['gb_seconds']:>10.3f} "
              f"{format_usd(cost['total_usd']):>11} {'$' + format(cost['per_million_usd'], '.2f'):>8}")
    print("cost: us-east-1 list price per request ($0.20/M) and GB-second (x86_64 $0.0000166667, arm64 $0.0000133334), "
          "no free tier", file=sys.stderr)
