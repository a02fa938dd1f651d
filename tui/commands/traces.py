"""`lambdatop traces`: list recorded traces, or export them as X-Ray JSON or a Chrome trace (Perfetto).

History comes from the project's store (`.lambdatop/lambdatop.db`), written by
`lambdatop` and `lambdatop serve`. Each invocation's row holds the whole trace
it belongs to: Lambda's segments and the subsegments its code sent to the
local X-Ray daemon, callers and child invocations included.

    lambdatop traces list [--function FN] [-n 20]
    lambdatop traces export --format xray|chrome [--request-id ID | --function FN | --run ID] [-n N] [-o FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lambdatop.runtime.store.reader import StoredInvocation, StoreReader
from lambdatop.runtime.errors import StoreError
from lambdatop.runtime.observability.views import RequestTrace, Span, Trace, chrome_trace, flatten
from lambdatop.tui.commands.common import (
    EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, require_function, selected_run, template_inputs,
)



def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        if args.limit < 1:
            raise UsageError("-n must be at least 1")
        function = require_function(config, args.function).name if args.function else None
        try:
            reader = StoreReader.for_config(config)
        except StoreError as exc:
            raise UsageError(str(exc)) from exc
        with reader:
            traces = collect(reader, request_id=args.request_id, function=function, run=selected_run(reader, args.run),
                             limit=args.limit)
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.request_id and not traces:
        print(f"lambdatop: no invocation {args.request_id} in the store", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "list":
        print_list(traces)
        return EXIT_OK
    document = xray_export(traces) if args.format == "xray" else chrome_trace(
        [{"Id": t["trace_id"], "documents": t["documents"]} for t in traces])
    text = json.dumps(document, indent=1 if args.format == "xray" else None)
    if args.output:
        Path(args.output).write_text(text + "\n")
        count = sum(len(t["documents"]) for t in traces)
        print(f"wrote {len(traces)} trace(s), {count} segment document(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK


def trace_of(stored: StoredInvocation) -> dict[str, Any]:
    """An invocation's stored trace, or, for one recorded without the observability service, Lambda's segments rebuilt."""
    trace = stored.trace
    if isinstance(trace, dict) and isinstance(trace.get("documents"), list):
        return {"trace_id": trace.get("trace_id") or stored.record.trace_id, "documents": trace["documents"]}
    rebuilt = Trace(stored.record.trace_id or f"untraced-{stored.request_id}")
    rebuilt.requests[stored.request_id] = RequestTrace(stored.request_id, attempts=[stored.record])
    return {"trace_id": rebuilt.trace_id, "documents": rebuilt.segment_documents()}


def collect(reader: StoreReader, *, request_id: str | None = None, function: str | None = None,
            run: int | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Distinct traces, newest first; when several invocations share a trace, the fullest copy wins."""
    rows = reader.invocations(function=function, run=run, request_id=request_id, limit=limit * 4, payloads=True)
    by_id: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for stored in rows:
        trace = trace_of(stored)
        trace["request_id"] = stored.request_id
        trace["function"] = stored.record.function
        known = by_id.get(trace["trace_id"])
        if known is None:
            by_id[trace["trace_id"]] = trace
            order.append(trace["trace_id"])
        elif len(trace["documents"]) > len(known["documents"]):
            by_id[trace["trace_id"]] = trace
    return [by_id[t] for t in order[:limit]]


def xray_export(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """BatchGetTraces' response shape: Documents are JSON strings, as X-Ray returns them."""
    out = []
    for trace in traces:
        docs = trace["documents"]
        starts = [d.get("start_time", 0.0) for d in docs]
        ends = [d.get("end_time", d.get("start_time", 0.0)) for d in docs]
        out.append({
            "Id": trace["trace_id"],
            "Duration": round(max(ends) - min(starts), 6) if docs else 0.0,
            "Segments": [{"Id": d.get("id"), "Document": json.dumps(d, separators=(",", ":"))} for d in docs],
        })
    return {"Traces": out, "UnprocessedTraceIds": []}


def print_list(traces: list[dict[str, Any]]) -> None:
    if not traces:
        print("no traces recorded yet")
        return
    print(f"{'TRACE ID':37} {'FUNCTION':18} {'START (UTC)':19} {'DURATION':>10} {'SEGMENTS':>8}  STATUS")
    for trace in traces:
        spans = flatten(trace["documents"])
        if not spans:
            continue
        start = min(s.start for s in spans)
        duration = (max(s.end for s in spans) - start) * 1000
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
        root = spans[0].name  # the first segment of the trace: the caller, when there is one
        print(f"{trace['trace_id']:37} {root[:18]:18} {stamp:19} {duration:>8.1f}ms {len(spans):>8}  {status(spans)}")


def status(spans: list[Span]) -> str:
    """X-Ray's three flags in one word: a fault (the function failed) outranks a throttle, which outranks an error."""
    if any(s.fault for s in spans):
        return "error"
    if any(s.throttle for s in spans):
        return "throttled"
    return "error" if any(s.error for s in spans) else "ok"
