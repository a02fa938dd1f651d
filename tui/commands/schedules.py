"""`lambdatop schedules list|fire`: the config's schedules and their next fire times; fire one now.

`list` reads the config only (no fleet): each schedule with its function,
expression, time zone, state and next fire times from now (a rate counts from
when lambdatop starts, so its next time is "one period after a start now").

`fire NAME` fires one schedule now the way `lambdatop invoke --async` invokes:
in a short-lived fleet, its payload (the Scheduled Event, or its Input) is
committed to the durable async queue with the trigger `schedule`, then
delivered here with Lambda's retries while the log streams to stderr; exit 0
once delivered, 1 when it failed for good. That is what a developer expects of
"run my cron job now": the job's own output and exit code in this terminal,
whether or not a dashboard is open. It lands in the same store, so a running
dashboard lists the invocation in its history; `--no-wait` instead leaves the
event queued for the running dashboard or `lambdatop serve` to deliver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.errors import LambdaServiceError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus, Trigger
from lambdatop.runtime.config.cron import UTC, RateExpression
from lambdatop.runtime.config.schedule_firing import next_fire_time, payload_for
from lambdatop.runtime.config.schedules import (
    ScheduleDefinition,
    ScheduleKind,
    find_schedule,
    read_schedules,
)
from lambdatop.tui.commands.common import (
    EXIT_FUNCTION_ERROR,
    EXIT_OK,
    EXIT_SERVICE_ERROR,
    EXIT_USAGE,
    UsageError,
    load_or_exit,
    template_inputs,
)



# -- list -----------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        if args.next < 1:
            raise UsageError("--next must be at least 1")
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(UTC)
    rows = [_describe(schedule, now, args.next) for schedule in read_schedules(config)]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no schedules: add a Schedule or ScheduleV2 event to a function, or an AWS::Events::Rule with a ScheduleExpression")
    else:
        print(_table(rows))
    return EXIT_OK


def _describe(schedule: ScheduleDefinition, now: datetime, count: int) -> dict[str, Any]:
    times: list[str] = []
    after, inclusive = now, True
    while schedule.enabled and len(times) < count:
        at = next_fire_time(schedule, anchor=now, after=after, inclusive=inclusive)
        if at is None:
            break
        times.append(at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        after, inclusive = at, False
    counts_from_start = isinstance(schedule.expression, RateExpression) and (
        schedule.kind is not ScheduleKind.SCHEDULE_V2 or schedule.start is None)
    return {
        "name": schedule.name, "key": schedule.key, "kind": str(schedule.kind), "functions": list(schedule.functions),
        "expression": schedule.expression_text, "timezone": schedule.timezone, "enabled": schedule.enabled,
        "next": times, "counts_from_start": counts_from_start, "flexible_window_minutes": schedule.window_min,
        "unresolved": schedule.unresolved, "arn": schedule.arn, "description": schedule.description, "source": schedule.source,
    }


def _table(rows: list[dict[str, Any]]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("SCHEDULE", "FUNCTION", "EXPRESSION", "ZONE", "STATE", "NEXT FIRE (UTC)"):
        table.add_column(column)
    notes = False
    for row in rows:
        state = "unresolved" if row["unresolved"] else "enabled" if row["enabled"] else "disabled"
        times = [t.replace("T", " ").rstrip("Z") for t in row["next"]] or ["–"]
        if row["counts_from_start"] and row["next"]:
            times[0] += " *"
            notes = True
        if row["flexible_window_minutes"] and row["next"]:
            times[0] += f" (+ up to {row['flexible_window_minutes']} min)"
        upcoming = "\n".join(times)
        table.add_row(row["name"], ", ".join(row["functions"]), row["expression"], row["timezone"], state, upcoming)
    console = Console(width=160, highlight=False)
    with console.capture() as capture:
        console.print(table)
        if notes:
            console.print("* a rate counts from when lambdatop starts (a Scheduler rate without StartDate fires at once): "
                          "these are the times for a start now")
    return "\n".join(line.rstrip() for line in capture.get().rstrip().splitlines())


# -- fire ---------------------------------------------------------------------------------


def run_fire(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        schedules = read_schedules(config)
        schedule = find_schedule(schedules, args.name)
        if schedule is None:
            known = ", ".join(s.name for s in schedules) or "none"
            raise UsageError(f"no schedule named {args.name!r} (known: {known})")
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_fire(config, schedule, wait=args.wait))


async def _fire(config: FleetConfig, schedule: ScheduleDefinition, *, wait: bool) -> int:
    from lambdatop.runtime.services import attach_command_services

    fleet = Fleet(config)
    attach_command_services(fleet, command="schedules fire")  # the store and its async queue, as `invoke --async`
    async with fleet:
        attempts = fleet.subscribe("schedules-fire", maxlen=1000)
        now = datetime.now(UTC)
        accepted: dict[str, str] = {}
        for target in schedule.targets:
            try:
                request_id = await fleet.enqueue(target.function, payload_for(schedule, target, config, now), trigger=Trigger.SCHEDULE)
            except LambdaServiceError as exc:
                print(f"An error occurred ({exc.code}) when calling the Invoke operation: {exc.message}", file=sys.stderr)
                return EXIT_SERVICE_ERROR
            accepted[request_id] = target.function
            print(json.dumps({"StatusCode": 202, "RequestId": request_id, "FunctionName": target.function,
                              "Schedule": schedule.name}), flush=True)
        if not wait or fleet.async_queue is None:
            return EXIT_OK
        return await _follow(fleet, accepted, attempts)


async def _follow(fleet: Fleet, accepted: dict[str, str], attempts: Any) -> int:
    """Stream each delivery's log until every event settles; 1 if any failed for good."""
    assert fleet.async_queue is not None
    settled = {request_id: fleet.async_queue.settled(request_id) for request_id in accepted}
    while True:
        for item in await attempts.wait(0.2):
            if isinstance(item, InvocationResult) and item.record.request_id in accepted:
                sys.stderr.write(item.log_text if item.log_lines else f"{item.record.status} ({item.record.error_type})\n")
                sys.stderr.flush()
        if all(future.done() for future in settled.values()):
            break
    failed = 0
    for request_id, future in settled.items():
        last = future.result()  # the last delivery's result (None: settled without running, e.g. reserved concurrency 0)
        if last is None or last.record.status is not InvocationStatus.SUCCESS:
            failed += 1
            why = f"{last.record.error_type}: {last.record.error_message}" if last is not None else "not run"
            print(f"lambdatop: event {request_id} for {accepted[request_id]} failed for good ({why}); it is in the "
                  "dashboard's DLQ screen (d) to redrive", file=sys.stderr)
    if not failed:
        print(f"lambdatop: delivered {len(accepted)} event(s)", file=sys.stderr)
    return EXIT_FUNCTION_ERROR if failed else EXIT_OK
