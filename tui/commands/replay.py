"""`lambdatop replay`: send recorded events again, from the store or a JSONL file; `--compare` makes it a regression check.

    lambdatop replay --request-id ID            one invocation (all its async retries count as one request)
    lambdatop replay --run 12 | --run last      everything a run of lambdatop saw, in order
    lambdatop replay --function hello --limit 20
    lambdatop replay events.jsonl --speed 0 --compare

Events go out with their original invocation types (Event ones through the
durable queue, with its retries) and the original inter-arrival times divided
by --speed (default 1; 0 = back to back). The replay is itself recorded as a
new run. Exit code: with --compare, 1 when any response or error type differs
from the recording; without, 1 when any replayed invocation failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.errors import ReplayError
from lambdatop.runtime.store.replay import RecordedEvent, ReplayOutcome, from_store, read_jsonl, replay
from lambdatop.runtime.services import attach_command_services
from lambdatop.runtime.store.reader import StoreReader
from lambdatop.runtime.errors import StoreError
from lambdatop.runtime.config import store_path
from lambdatop.tui.commands.common import (
    EXIT_FUNCTION_ERROR, EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, require_function,
    selected_run, template_inputs,
)



def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        if args.speed < 0:
            raise UsageError("--speed must be 0 (as fast as allowed) or more")
        if args.concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        events = select_events(args, config)
        if not events:
            raise UsageError("nothing to replay: the selection holds no recorded invocations")
    except (UsageError, ReplayError, StoreError) as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_replay(args, config, events))


def select_events(args: argparse.Namespace, config: FleetConfig) -> list[RecordedEvent]:
    sources = [bool(args.file), bool(args.request_id), args.run is not None]
    if sum(sources) > 1:
        raise UsageError("give one of FILE, --request-id, --run (--function may narrow --run or FILE)")
    if not any(sources) and not args.function:
        raise UsageError("what to replay? give FILE.jsonl, --request-id ID, --run ID|last or --function FN")
    if args.function:
        require_function(config, args.function)  # replayed events must find their function
    if args.file:
        events = read_jsonl(Path(args.file))
        if args.function:
            events = [e for e in events if e.function == args.function]
        return events[-args.limit:] if args.limit else events
    with StoreReader.open(store_path(config)) as reader:
        return from_store(reader, request_ids=args.request_id, run=selected_run(reader, args.run), function=args.function,
                          limit=args.limit)


async def _replay(args: argparse.Namespace, config: object, events: list[RecordedEvent]) -> int:
    fleet = Fleet(config)  # type: ignore[arg-type]
    attach_command_services(fleet, command="replay")
    total = len(events)

    def show(outcome: ReplayOutcome) -> None:
        if args.json:
            print(json.dumps(_outcome_json(outcome)), flush=True)
            return
        event = outcome.event
        took = f"{outcome.result.record.duration_ms:.1f} ms" if outcome.result else "-"
        mark = "DIFF" if outcome.differences else ("ok" if outcome.status == "success" else outcome.status)
        print(f"[{outcome.index + 1}/{total}] {mark:<8} {event.function} {event.invocation_type} {took} "
              f"{event.request_id or '-'} -> {outcome.request_id or '-'}", flush=True)
        for difference in outcome.differences:
            print(f"    {difference}", flush=True)

    async with fleet:
        outcomes = await replay(fleet, events, speed=args.speed, concurrency=args.concurrency, compare=args.compare,
                                ignore_keys=args.ignore_key, on_outcome=show)
        run_id = fleet.store.run_id if fleet.store is not None else None
    failed = [o for o in outcomes if o.status != "success"]
    differing = [o for o in outcomes if o.differences]
    summary = f"replayed {total} event(s)"
    if run_id is not None:
        summary += f" as run {run_id}"
    summary += f": {total - len(failed)} ok, {len(failed)} failed"
    if args.compare:
        compared = sum(1 for o in outcomes if o.compared)
        summary += f"; compared {compared}, {len(differing)} differ from the recording"
    print(summary, file=sys.stderr)
    if args.compare:
        return EXIT_FUNCTION_ERROR if differing else EXIT_OK
    return EXIT_FUNCTION_ERROR if failed else EXIT_OK


def _outcome_json(outcome: ReplayOutcome) -> dict[str, object]:
    return {
        "index": outcome.index, "function": outcome.event.function, "invocation_type": outcome.event.invocation_type,
        "original_request_id": outcome.event.request_id, "request_id": outcome.request_id, "status": outcome.status,
        "error_type": outcome.error_type, "differences": outcome.differences,
    }
