"""`lambdatop record`: move recorded event sets in and out of the store, as JSONL you can keep in git.

    lambdatop record runs                                  the recorded runs, newest first
    lambdatop record export [--run ID|last] [--function FN] > events.jsonl
    lambdatop record import events.jsonl                   becomes a run you can `lambdatop replay --run`
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lambdatop.runtime.identifiers import request_id as new_request_id, segment_id
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus
from lambdatop.runtime.replay import ReplayError, from_store, read_jsonl, write_jsonl
from lambdatop.runtime.store import Store
from lambdatop.runtime.store_reader import process_alive, StoreReader
from lambdatop.runtime.store_schema import StoreError
from lambdatop.runtime.store_settings import store_path, StoreSettings
from lambdatop.tui.commands.common import (
    EXIT_OK, EXIT_USAGE, UsageError, config_option, function_option, load_or_exit, run_option, selected_run,
)


def register(subparsers: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config)
        path = store_path(config)
        if args.action == "export":
            return _export(args, path)
        if args.action == "import":
            return _import(args, path, config)
        return _runs(path)
    except (UsageError, StoreError, ReplayError) as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _export(args: argparse.Namespace, path: Path) -> int:
    with StoreReader.open(path) as reader:
        events = from_store(reader, request_ids=args.request_id, run=selected_run(reader, args.run), function=args.function,
                            limit=args.limit)
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115 - closed below unless stdout
    try:
        out.writelines(write_jsonl(events))
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {len(events)} event(s)", file=sys.stderr)
    return EXIT_OK


def _import(args: argparse.Namespace, path: Path, config: object) -> int:
    events = read_jsonl(Path(args.file))
    store = Store(path, StoreSettings.from_config(config))  # type: ignore[arg-type]
    try:
        run_id = store.begin_run(getattr(config, "path", None) and str(config.path), f"lambdatop record import {args.file}")
        now = time.time()
        for n, event in enumerate(events):
            expected = event.expected
            record = InvocationRecord(
                request_id=event.request_id or new_request_id(), function=event.function, version="$LATEST",
                code_version="imported", trigger=event.trigger or "import", invocation_type=event.invocation_type,
                # Without recorded times, keep the file's order one millisecond apart.
                started_at=event.at if event.at is not None else now + n / 1000,
                status=InvocationStatus(expected.status) if expected else InvocationStatus.SUCCESS,
                error_type=expected.error_type if expected else None, segment_id=segment_id(),
            )
            record.ended_at = record.started_at
            store.write(InvocationResult(record, event.payload, (expected.response or b"") if expected else b""), run_id)
        store.end_run()
        store.flush_sync()
    finally:
        store.close()
    print(f"imported {len(events)} event(s) as run {run_id}; replay them with: lambdatop replay --run {run_id}")
    return EXIT_OK


def _runs(path: Path) -> int:
    with StoreReader.open(path) as reader:
        runs = reader.runs()
    print(f"{'RUN':>5}  {'STARTED (UTC)':<19}  {'ENDED':<8}  {'INVOCATIONS':>11}  COMMAND")
    for info in runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(info.started_at))
        ended = "ok" if info.ended_at else ("running" if process_alive(info.pid) else "killed")
        print(f"{info.id:>5}  {started:<19}  {ended:<8}  {info.invocations:>11}  {info.command or ''}")
    return EXIT_OK
