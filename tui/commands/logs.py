"""`lambdatop logs FN [--follow] [--filter TEXT]`: a function's log, as `sam logs` prints CloudWatch's.

Each invocation's captured output (INIT_START, START, the function's own lines,
END, REPORT) comes from the project's store, oldest first, each line prefixed
with the environment (log stream) and the invocation's time. `--follow` keeps
polling the store for new invocations, written by a running `lambdatop` or
`lambdatop serve`; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable

from lambdatop.runtime.store.reader import StoredInvocation, StoreReader
from lambdatop.runtime.errors import StoreError
from lambdatop.tui.commands.common import (
    EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, parse_age, require_function, template_inputs,
)

POLL_INTERVAL_S = 0.5



def format_invocation(stored: StoredInvocation, text_filter: str | None = None, pretty: bool = False) -> list[str]:
    """The invocation's log lines as `sam logs` shows them: `<stream> <timestamp> <message>`."""
    record = stored.record
    stream = record.env_id or "-"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.started_at)) + f".{int(record.started_at % 1 * 1e6):06d}"
    out = []
    for line in stored.log_lines:
        message = line.rstrip("\n")
        if text_filter and text_filter not in message:
            continue
        if pretty and message.lstrip().startswith("{"):
            try:
                out.append(f"{stream} {stamp} {json.dumps(json.loads(message), indent=2)}")
                continue
            except ValueError:
                pass
        # A multi-line event (a traceback) keeps the prefix on each of its lines, so grep finds them all.
        out.extend(f"{stream} {stamp} {part}" for part in message.split("\n"))
    return out


def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(args.config, template_inputs(args))
        function = require_function(config, args.function)
        if args.limit < 1:
            raise UsageError("-n must be at least 1")
        since = time.time() - parse_age(args.since) if args.since else None
        reader = _open(config, wait=args.follow)
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if reader is None:
        print(f"lambdatop: no history for {function.name} yet: nothing has been recorded in this project "
              "(run `lambdatop` or `lambdatop serve` here first, or use --follow to wait)", file=sys.stderr)
        return EXIT_USAGE
    with reader:
        seen: set[int] = set()
        rows = reader.invocations(function=function.name, since=since, request_id=args.request_id, limit=args.limit, payloads=True)
        last = _emit(reversed(rows), seen, args)
        while args.follow:
            time.sleep(POLL_INTERVAL_S)
            rows = reader.invocations(function=function.name, since=last, limit=1000, newest_first=False, payloads=True)
            last = max(last or 0.0, _emit(rows, seen, args) or 0.0) or last
    return EXIT_OK


def _emit(rows: Iterable[StoredInvocation], seen: set[int], args: argparse.Namespace) -> float | None:
    newest = None
    for stored in rows:
        newest = max(newest or 0.0, stored.record.started_at)
        if stored.seq in seen:
            continue
        seen.add(stored.seq)
        for line in format_invocation(stored, args.filter, args.json):
            print(line)
    sys.stdout.flush()
    return newest


def _open(config: object, wait: bool) -> StoreReader | None:
    while True:
        try:
            return StoreReader.for_config(config)  # type: ignore[arg-type]
        except StoreError:
            if not wait:
                return None
            time.sleep(POLL_INTERVAL_S)
