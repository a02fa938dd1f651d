"""`lambdatop invoke FN`: one invocation (or N, C at a time) in real workers, from the shell.

The response payload goes to stdout and the function's log (START / END /
REPORT as Lambda writes them) to stderr, so `lambdatop invoke fn | jq` works.
The exit code tells what happened: 0 success, 1 function error, 2 bad usage
or config, 3 a Lambda service error (throttled, not found, payload too large).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.errors import FunctionNotFound, LambdaServiceError, Throttled
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.percentiles import percentile
from lambdatop.runtime.records import InvocationResult, InvocationStatus, InvocationType, Trigger
from lambdatop.runtime.store.reader import DeadLetter
from lambdatop.tui.commands.common import (
    EXIT_FUNCTION_ERROR, EXIT_OK, EXIT_SERVICE_ERROR, EXIT_USAGE, UsageError, client_context, default_event_path,
    find_function, load_or_exit, read_event, unknown_function_hint, template_inputs,
)



def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        if args.count < 1 or args.concurrency < 1:
            raise UsageError("-n and --concurrency must be at least 1")
        args.client_context = client_context(args.client_context)
        function = find_function(config, args.function)  # None for an ARN or name:$LATEST; the fleet resolves those
        payload = read_event(args.event, default_event_path(function.event_dirs, function.name) if function else None)
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_invoke(args, config, payload))


async def _invoke(args: argparse.Namespace, config: Any, payload: bytes) -> int:
    from lambdatop.runtime.services import attach_command_services

    fleet = Fleet(config)
    # Recorded and traced like any run (so `lambdatop replay --request-id` and `traces export` work on
    # it); with --async, only this command's own event is delivered here.
    attach_command_services(fleet, command="invoke")
    notices = fleet.subscribe("invoke-notices", maxlen=1000)
    async with fleet:
        printer = asyncio.create_task(_print_notices(notices))
        try:
            try:
                fleet.resolve(args.function)
            except FunctionNotFound as exc:  # in Lambda's words, then what was probably meant
                _print_service_error(exc)
                print(f"lambdatop: {unknown_function_hint(config, args.function)}", file=sys.stderr)
                return EXIT_SERVICE_ERROR
            if args.asynchronous and fleet.async_queue is not None:
                return await _enqueue(fleet, args, payload)
            if args.count == 1:
                return await _single(fleet, args, payload)
            return await _many(fleet, args, payload)
        finally:
            printer.cancel()
            _write_notices(notices.drain())


_NOTICE_KINDS = ("warning", "packages", "broken")  # a Runtime with no matching Python; requirements.txt installs


async def _print_notices(notices: Any) -> None:
    """What the fleet says while this command runs (installing requirements.txt, a missing Python), on stderr."""
    while True:
        _write_notices(await notices.wait(1.0))


def _write_notices(items: list[object]) -> None:
    for item in items:
        if isinstance(item, FleetEvent) and item.kind in _NOTICE_KINDS:
            where = f" {item.function}" if item.function else ""
            print(f"lambdatop: [{item.kind}{where}] {item.message}", file=sys.stderr, flush=True)


async def _enqueue(fleet: Fleet, args: argparse.Namespace, payload: bytes) -> int:
    """Accept (202, printed as soon as the event is committed), then follow its deliveries until it settles."""
    attempts = fleet.subscribe("invoke-async", maxlen=1000)
    try:
        accepted = await fleet.enqueue(args.function, payload, trigger=Trigger.CLI)
    except LambdaServiceError as exc:
        _print_service_error(exc)
        return EXIT_SERVICE_ERROR
    print(json.dumps({"StatusCode": 202, "RequestId": accepted}), flush=True)
    if not args.wait:
        return EXIT_OK
    queue, store = fleet.async_queue, fleet.store
    assert queue is not None and store is not None  # `invoke --async` attaches both (or enqueue failed above)
    settled = queue.settled(accepted)
    tries = 0
    while True:
        done = settled.done()  # read before the wait, so the attempts published before it settled are all shown
        for item in await attempts.wait(0.2):
            if isinstance(item, InvocationResult) and item.record.request_id == accepted:
                tries += 1
                sys.stderr.write(item.log_text if item.log_lines else f"{item.record.status} ({item.record.error_type})\n")
                sys.stderr.flush()
        if done:
            break
    # Settling commits the dead letter in the store's next batch, after the future resolves: wait for it.
    await store.flush()
    function = fleet.resolve(args.function)
    letters = [d for d in store.dead_letters(function.name) if d.request_id == accepted]
    if letters:
        settings = queue.function_settings(function)
        labels = {target.describe(): label for target, label in (
            (settings.dead_letter, "the DLQ"), (settings.on_failure, "the on-failure destination")) if target is not None}
        print(f"lambdatop: {failed_for_good(letters[0], tries, labels)}", file=sys.stderr)
        return EXIT_FUNCTION_ERROR
    print(f"lambdatop: event {accepted} delivered after {tries} attempt(s)", file=sys.stderr)
    return EXIT_OK


def failed_for_good(letter: DeadLetter, tries: int, labels: dict[str, str]) -> str:
    """Why the event failed and everywhere it went: the DLQ, the on-failure destination, always the dead-letter list.

    `labels` names the routes (`queue:orders-dlq` -> "the DLQ") as the function's async settings define them.
    """
    routed = [f"{labels.get(where, 'the destination')} {where}" for where in letter.routed_to if not where.startswith("nowhere")]
    sent = f"sent to {' and '.join(routed)}" if routed else "no DLQ or on-failure destination is configured"
    error = f"{letter.error_type}: {letter.error_message}" if letter.error_type else (letter.error_message or "")
    return (f"event {letter.request_id} failed for good after {tries} attempt(s): {letter.condition}"
            f"{', ' + error if error else ''}; {sent}; kept in the dead-letter list (the dashboard's DLQ screen, d, "
            f"redrives it)")


async def _single(fleet: Fleet, args: argparse.Namespace, payload: bytes) -> int:
    invocation_type = InvocationType.EVENT if args.asynchronous else InvocationType.REQUEST_RESPONSE
    try:
        result = await fleet.invoke(
            args.function, payload, trigger=Trigger.CLI, invocation_type=invocation_type, client_context=args.client_context,
        )
    except LambdaServiceError as exc:
        _print_service_error(exc)
        return EXIT_SERVICE_ERROR
    if args.json:
        print(json.dumps(_result_json(result), indent=2))
    else:
        sys.stderr.write(result.log_text)
        sys.stderr.flush()
        sys.stdout.write(result.response.decode("utf-8", "replace") + "\n")
    return EXIT_FUNCTION_ERROR if result.record.is_error else EXIT_OK


async def _many(fleet: Fleet, args: argparse.Namespace, payload: bytes) -> int:
    semaphore = asyncio.Semaphore(args.concurrency)
    results: list[InvocationResult] = []
    throttles = 0
    service_errors: dict[str, int] = {}

    async def one() -> None:
        nonlocal throttles
        async with semaphore:
            try:
                results.append(await fleet.invoke(args.function, payload, trigger=Trigger.CLI,
                                                  client_context=args.client_context))
            except Throttled:
                throttles += 1
            except LambdaServiceError as exc:
                service_errors[exc.code] = service_errors.get(exc.code, 0) + 1

    await asyncio.gather(*(one() for _ in range(args.count)))
    summary = summarize(results, throttles)
    if service_errors:
        summary["service_errors"] = service_errors
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(args.function, summary))
    return EXIT_FUNCTION_ERROR if summary["errors"] or throttles or service_errors else EXIT_OK


def summarize(results: list[InvocationResult], throttles: int) -> dict[str, Any]:
    durations = sorted(r.record.duration_ms for r in results)
    by_status: dict[str, int] = {}
    for r in results:
        by_status[str(r.record.status)] = by_status.get(str(r.record.status), 0) + 1
    return {
        "invocations": len(results) + throttles,
        "ok": sum(1 for r in results if r.record.status is InvocationStatus.SUCCESS),
        "errors": sum(1 for r in results if r.record.is_error),
        "throttles": throttles,
        "cold": sum(1 for r in results if r.record.cold_start),
        "warm": sum(1 for r in results if not r.record.cold_start),
        "environments": len({r.record.env_id for r in results}),
        "by_status": by_status,
        "p50_ms": percentile(durations, 0.50),
        "p99_ms": percentile(durations, 0.99),
    }


def format_summary(function: str, s: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} ms"

    return (
        f"{function}: {s['invocations']} invocations  ok {s['ok']}  errors {s['errors']}  throttles {s['throttles']}\n"
        f"  cold {s['cold']}  warm {s['warm']}  environments {s['environments']}\n"
        f"  duration p50 {ms(s['p50_ms'])}  p99 {ms(s['p99_ms'])}"
    )


def _result_json(result: InvocationResult) -> dict[str, Any]:
    data = result.record.to_dict()
    try:
        data["response"] = json.loads(result.response) if result.response else None
    except ValueError:
        data["response"] = result.response.decode("utf-8", "replace")
    data["function_error"] = result.function_error
    data["log"] = result.log_lines
    return data


def _print_service_error(exc: LambdaServiceError) -> None:
    """As the AWS CLI words it, plus the body Lambda would send."""
    print(f"An error occurred ({exc.code}) when calling the Invoke operation: {exc.message}", file=sys.stderr)
    print(json.dumps(exc.body()), file=sys.stderr)
