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

from lambdatop.runtime.config import FleetConfig, store_path
from lambdatop.runtime.errors import ReplayError, StoreError
from lambdatop.runtime.store.reader import StoreReader, process_alive
from lambdatop.runtime.store.replay import from_store, import_events, read_jsonl, write_jsonl
from lambdatop.tui.commands.common import (
    EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, selected_run, template_inputs,
)



def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
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


def _import(args: argparse.Namespace, path: Path, config: FleetConfig) -> int:
    events = read_jsonl(Path(args.file))
    run_id = import_events(events, path, config, f"lambdatop record import {args.file}")
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
