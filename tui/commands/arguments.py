"""Every command's arguments and help text, and which function runs it: what `lambdatop --help` is built from.

The parser is built on every run, `--help` included, so nothing here may load
the runtime, Textual or Rich: a command's module (`lambdatop.tui.commands.<name>`,
which imports the fleet, aiohttp...) is imported only when that command runs,
through `deferred`. tests/test_cli_imports.py holds that line.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from lambdatop.runtime.config.ports import DEFAULT_API_PORT, DEFAULT_HOST, DEFAULT_PORT
from lambdatop.tui.bench import SCENARIOS
from lambdatop.tui.commands.common import EXIT_USAGE, aws_options, config_option, function_option, run_option, template_options

Handler = Callable[[argparse.Namespace], int]


def deferred(command: str, function: str = "run") -> Handler:
    """`function` of `lambdatop.tui.commands.<command>`, imported when the command runs, not when the parser is built."""

    def handler(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"lambdatop.tui.commands.{command}")
        code: int = getattr(module, function)(args)
        return code

    return handler


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Every subcommand, in the order `lambdatop --help` lists them."""
    for add in (_invoke, _serve, _events, _schedules, _replay, _record, _logs, _traces, _stats, _tune, _bench):
        add(subparsers)


def _invoke(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("invoke", help="invoke a function once (or -n times) and print the response")
    parser.add_argument("function", help="function name (logical id, FunctionName or ARN)")
    parser.add_argument("--event", "-e", metavar="FILE", help="event JSON file, or - for stdin (default: the function's events/basic.json, else {})")
    parser.add_argument("--json", action="store_true", help="print the whole InvocationRecord (with response and log) as JSON")
    parser.add_argument("--async", dest="asynchronous", action="store_true",
                        help="invocation type Event: committed to the durable queue (202), then delivered with Lambda's retries; "
                             "waits until the event is settled (delivered, or failed for good) unless --no-wait")
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="with --async: exit once the event is safely queued; the dashboard or `lambdatop serve` delivers it")
    parser.add_argument("-n", "--count", type=int, default=1, metavar="N", help="invoke N times and print a summary")
    parser.add_argument("--concurrency", "-C", type=int, default=1, metavar="C", help="with -n: keep C invocations in flight")
    parser.add_argument("--client-context", metavar="JSON",
                        help="client context, a JSON object the function sees as context.client_context (sync only, "
                             "as on Lambda)")
    config_option(parser)
    parser.set_defaults(handler=deferred("invoke"))


def _tune(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune", help="power tuning: run a function N times at each memory size (CPU in proportion, as on Lambda) "
                     "and print speed and cost per size, the cheapest and the fastest")
    parser.add_argument("function", help="function name (logical id, FunctionName or ARN)")
    parser.add_argument("--memory", "-m", metavar="MB,MB,...", default="128,256,512,1024,1769,3008",
                        help="memory sizes to try, comma-separated (default: 128,256,512,1024,1769,3008)")
    parser.add_argument("--event", "-e", metavar="FILE", help="event JSON file, or - for stdin (default: the function's events/basic.json, else {})")
    parser.add_argument("-n", "--count", type=int, default=10, metavar="N",
                        help="measured invocations per memory size, after one cold start each (default: 10)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    config_option(parser)
    parser.set_defaults(handler=deferred("tune"))


def _serve(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the functions headless behind a Lambda-compatible HTTP endpoint (boto3, AWS CLI, function URLs)",
        description="Run the fleet headless with Lambda's Invoke API on HOST:PORT (like `sam local start-lambda`) "
                    "and a function URL per function at /fn/NAME/. Ctrl-C stops it.",
    )
    # Own dests: the top-level parser has --host/--port/--allow-remote too (`lambdatop --port 4000 serve` works).
    parser.add_argument("--host", dest="serve_host", metavar="HOST", default=None,
                        help=f"address to listen on (default: http.host in the config, else {DEFAULT_HOST})")
    parser.add_argument("--port", "-p", dest="serve_port", metavar="PORT", type=int, default=None,
                        help=f"port (default: http.port in the config, else {DEFAULT_PORT}, the one `sam local start-lambda` "
                             f"uses; 0 picks a free port)")
    parser.add_argument("--allow-remote", dest="serve_allow_remote", action="store_true",
                        help="allow a non-loopback --host (the endpoint has no authentication)")
    parser.add_argument("--api-port", dest="serve_api_port", metavar="PORT", type=int, default=None,
                        help=f"port of the template's API routes (default: api.port in the config, else {DEFAULT_API_PORT}, "
                             f"the one `sam local start-api` uses; 0 picks a free port)")
    parser.add_argument("--no-api", dest="serve_no_api", action="store_true",
                        help="don't serve the template's Api/HttpApi routes")
    aws_options(parser, prefix="serve_")
    template_options(parser)
    parser.add_argument("--no-watch", dest="watch", action="store_false", help="don't hot-reload code on save")
    parser.add_argument("--no-store", dest="store", action="store_false", help="don't record invocations in .lambdatop/")
    parser.add_argument("--quiet", "-q", action="store_true", help="don't print each invocation's log")
    parser.add_argument("--config", "-c", metavar="PATH", default=argparse.SUPPRESS,
                        help="lambdatop.yaml or SAM template.yaml (default: ./lambdatop.yaml, ./template.yaml, ./sample_functions/template.yaml)")
    parser.set_defaults(handler=deferred("serve"))


def _events(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "events", help="sample events for AWS sources (API Gateway, S3, SQS, ...), like sam local generate-event",
        description="Print sample events in the shapes AWS sends them, to pipe into `lambdatop invoke FN --event -`.",
    )
    actions = parser.add_subparsers(dest="events_command", metavar="ACTION")
    listing = actions.add_parser("list", help="list the event templates (and a function's own events)")
    function_option(listing, "also list this function's events/*.json")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    config_option(listing)
    generate = actions.add_parser(
        "generate", help="print one sample event as JSON", add_help=False,
        usage="lambdatop events generate SOURCE [--PARAM VALUE ...]  (SOURCE --help lists the parameters)",
    )
    generate.add_argument("source", nargs="?", help="template name or alias, e.g. s3-put, sqs, apigateway-v2")
    generate.add_argument("params", nargs=argparse.REMAINDER, help="--name value pairs")
    generate.add_argument("--compact", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=deferred("events"), events_parser=parser)


def _schedules(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schedules", help="the config's schedules (Schedule, ScheduleV2, scheduled rules); fire one now")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every schedule with its next fire times (from the config; no fleet needed)")
    listing.add_argument("--json", action="store_true", help="one JSON object per schedule, in a list")
    listing.add_argument("--next", type=int, default=1, metavar="N", help="show the next N fire times (default 1)")
    config_option(listing)
    listing.set_defaults(handler=deferred("schedules", "run_list"))
    fire = actions.add_parser("fire", help="fire one schedule now, as an async invocation (like `invoke --async`)")
    fire.add_argument("name", help="the schedule's name, Function/EventId, or an event id only one function uses")
    fire.add_argument("--no-wait", dest="wait", action="store_false",
                      help="exit once the event is queued; the running dashboard or `lambdatop serve` delivers it")
    config_option(fire)
    fire.set_defaults(handler=deferred("schedules", "run_fire"))


def _replay(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="replay recorded invocations (one, a run, a function's, or a JSONL file); --compare for CI",
        description="Replay recorded events with their original invocation types and timing (scaled by --speed).",
    )
    parser.add_argument("file", nargs="?", metavar="FILE.jsonl", help="a JSONL event set (from `lambdatop record export`)")
    parser.add_argument("--request-id", action="append", metavar="ID", help="replay this recorded request (repeatable)")
    run_option(parser, "replay a recorded run")
    function_option(parser, "only this function's events (alone: all it has recorded)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the last N events of the selection")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="divide the original inter-arrival times by this (default 1 = real time; 0 = as fast as allowed)")
    parser.add_argument("--concurrency", "-C", type=int, default=10, metavar="C", help="at most C replayed invocations in flight (default 10)")
    parser.add_argument("--compare", action="store_true",
                        help="report responses or error types that differ from the recording; exit 1 if any do")
    parser.add_argument("--ignore-key", action="append", default=[], metavar="KEY",
                        help="with --compare: a JSON key whose value may differ (timestamps...), repeatable")
    parser.add_argument("--json", action="store_true", help="one JSON object per replayed event on stdout")
    config_option(parser)
    parser.set_defaults(handler=deferred("replay"))


def _record(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("record", help="export recorded events as JSONL, import them, list recorded runs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write recorded events as JSONL to stdout (or -o FILE)")
    run_option(export, "one run")
    function_option(export, "only this function's events (as recorded: it may since have left the config)")
    export.add_argument("--request-id", action="append", metavar="ID", help="only this request (repeatable)")
    export.add_argument("--limit", type=int, metavar="N", help="only the last N events")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    config_option(export)
    imported = actions.add_parser("import", help="load a JSONL event set into the store as a new run")
    imported.add_argument("file", metavar="FILE.jsonl")
    config_option(imported)
    runs = actions.add_parser("runs", help="list recorded runs, newest first")
    config_option(runs)
    parser.set_defaults(handler=deferred("record"))


def _logs(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("logs", help="print (or --follow) a function's log lines, like `sam logs`")
    parser.add_argument("function", help="function name (logical id or FunctionName)")
    parser.add_argument("--follow", "-t", "--tail", action="store_true", help="keep printing new invocations' logs")
    parser.add_argument("--filter", metavar="TEXT", help="only lines containing TEXT (case-sensitive, like a CloudWatch term)")
    parser.add_argument("--since", "-s", metavar="AGE", default=None, help="only invocations newer than AGE (30s, 10m, 2h, 1d)")
    parser.add_argument("-n", "--limit", type=int, default=100, metavar="N", help="the last N invocations (default 100)")
    parser.add_argument("--request-id", metavar="ID", help="only this invocation")
    parser.add_argument("--json", action="store_true", help="pretty-print structured (JSON) lines, e.g. Powertools Logger")
    config_option(parser)
    parser.set_defaults(handler=deferred("logs"))


def _traces(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("traces", help="list or export recorded X-Ray-like traces (X-Ray JSON or Chrome trace)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="the most recent traces, newest first")
    export = actions.add_parser("export", help="write traces as X-Ray BatchGetTraces JSON or Chrome trace-event JSON")
    # No -f: that is --function, as in every other command.
    export.add_argument("--format", choices=("xray", "chrome"), default="xray",
                        help="xray: BatchGetTraces' {Traces:[{Id,Duration,Segments}]}; chrome: trace events Perfetto opens")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    for sub in (listing, export):
        sub.add_argument("--request-id", metavar="ID", help="only the trace of this invocation")
        function_option(sub, "only traces of this function's invocations")
        run_option(sub, "only this run of lambdatop (see `lambdatop record runs`)")
        sub.add_argument("-n", "--limit", type=int, default=20, metavar="N", help="at most N traces (default 20)")
        config_option(sub)
        sub.set_defaults(handler=deferred("traces"))
    parser.set_defaults(handler=lambda args: (parser.print_help(), EXIT_USAGE)[1])


def _stats(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stats", help="per-function metrics (counts, latency percentiles, memory) and cost")
    function_option(parser, "only this function")
    parser.add_argument("--since", "-s", metavar="AGE", help="only invocations newer than AGE (30s, 10m, 2h, 1d)")
    run_option(parser, "only this run of lambdatop (see `lambdatop record runs`)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    config_option(parser)
    parser.set_defaults(handler=deferred("stats"))


def _bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure warm/cold overhead, throughput, scale... against baselines from the same run",
        description="Run the performance scenarios on generated no-op handlers and print each figure beside a "
        "baseline measured in the same run, the ratio, the target and whether it was met.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller samples, under a minute (what CI runs)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE ('-' for stdout)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE (as the README shows it)")
    parser.add_argument(
        "--compare", metavar="FILE",
        help="an earlier run's --json report: print how each figure's ratio (else value) moved since then",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", choices=SCENARIOS,
        help=f"run only these scenarios ({', '.join(SCENARIOS)}); the baselines always run",
    )
    parser.set_defaults(handler=deferred("bench"))
