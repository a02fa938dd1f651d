"""`lambdatop serve`: the fleet headless, with the Lambda-compatible HTTP endpoint and the standard services.

What `sam local start-lambda` is to SAM: point boto3 or the AWS CLI at the
printed URL (`endpoint_url=...`, `--endpoint-url ...`) and they invoke the
local functions unmodified; each function also answers on its function URL.
Each invocation's log (START / END / REPORT and the function's output) goes to
stderr as it finishes. Runs until Ctrl-C or SIGTERM, then stops gracefully:
in-flight invocations finish, every worker and the zygote exit. A second
Ctrl-C stops at once.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any, TextIO

from lambdatop.runtime.config.api_settings import ApiSettings
from lambdatop.runtime.bus import FleetEvent, Subscription
from lambdatop.runtime.config import DEFAULT_HOST, DEFAULT_PORT, FleetConfig, HttpSettings
from lambdatop.runtime.errors import ConfigError, EndpointUnavailable, RemoteAccessRefused, SidecarUnavailable, StoreError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.runtime.snapshot import EndpointView
from lambdatop.tui.commands.common import (
    EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, template_inputs,
)

DRAIN_TIMEOUT_S = 30.0  # longest a graceful stop waits for in-flight invocations
FORCE_AFTER_S = 0.5  # a second Ctrl-C at least this long after the first stops at once



def run(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(getattr(args, "config", None), template_inputs(args))
        try:
            settings = HttpSettings.from_config(config).overridden(
                host=_given(args.serve_host, getattr(args, "host", None), DEFAULT_HOST),
                port=_given(args.serve_port, getattr(args, "port", None), DEFAULT_PORT),
                allow_remote=args.serve_allow_remote or bool(getattr(args, "allow_remote", False)),
            )
        except ConfigError as exc:
            raise UsageError(f"config error: {exc}") from exc
        if not 0 <= settings.port <= 65535:
            raise UsageError(f"--port {settings.port} is out of range (0-65535; 0 picks a free port)")
        api = api_settings(config, _given(args.serve_api_port, getattr(args, "api_port", None), None),
                           args.serve_no_api or bool(getattr(args, "no_api", False)))
        options = ServiceOptions(
            host=settings.host, port=settings.port if settings.enabled else None, watch=args.watch, store=args.store,
            allow_remote=settings.allow_remote, api=api,
            aws=not (args.serve_no_aws or getattr(args, "no_aws", False)),
            aws_port=_given(args.serve_aws_port, getattr(args, "aws_port", None), None),
        )
        fleet = Fleet(config)
        attach_standard_services(fleet, options)
    except (UsageError, RemoteAccessRefused, ConfigError) as exc:  # ConfigError: the API port's host or port
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_serve(fleet, config, quiet=args.quiet))


def api_settings(config: FleetConfig, port: int | None, disabled: bool) -> ApiSettings:
    """The `api:` section with `--api-port` / `--no-api` over it (the dashboard uses it too)."""
    try:
        api = ApiSettings.from_config(config).overridden(port=port, disabled=disabled)
    except ConfigError as exc:
        raise UsageError(f"config error: {exc}") from exc
    if not 0 <= api.port <= 65535:
        raise UsageError(f"--api-port {api.port} is out of range (0-65535; 0 picks a free port)")
    return api


def _given(own: Any, top_level: Any, default: Any) -> Any:
    """A flag's value if the user gave it, to `serve` or to `lambdatop` before the command; else None.

    The top-level parser leaves them None when not given, so the config's `http:` section applies.
    """
    return own if own is not None else top_level


async def _serve(fleet: Fleet, config: FleetConfig, *, quiet: bool) -> int:
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals_seen = 0
    first_signal_at = 0.0

    def on_signal() -> None:
        nonlocal signals_seen, first_signal_at
        now = loop.time()
        if signals_seen and now - first_signal_at < FORCE_AFTER_S:
            return  # the same stop delivered twice (to the process and its group, as `timeout` does)
        signals_seen += 1
        if signals_seen == 1:
            first_signal_at = now
            stop_requested.set()
        else:
            # A second Ctrl-C: no more waiting for in-flight invocations.
            print("lambdatop: stopping now", file=sys.stderr, flush=True)
            fleet.zygotes.kill_now()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    events = fleet.subscribe("serve-console", maxlen=10_000)
    try:
        try:
            await fleet.start()
        except (EndpointUnavailable, ConfigError, SidecarUnavailable, StoreError) as exc:  # a busy port; a service refusing its config section; a store it cannot use
            print(f"lambdatop: {exc}", file=sys.stderr)
            return EXIT_USAGE
        _print_banner(fleet, config, fleet.snapshot().endpoint_view, sys.stdout)
        console = asyncio.create_task(_echo(events, quiet, sys.stderr), name="lambdatop-serve-console")
        await stop_requested.wait()
        in_flight = fleet.invoker.in_flight
        waiting = f", waiting for {in_flight} in-flight invocation{'s' if in_flight != 1 else ''}" if in_flight else ""
        print(f"lambdatop: stopping{waiting} (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
        await fleet.stop(drain_timeout=DRAIN_TIMEOUT_S)
        console.cancel()
        await asyncio.gather(console, return_exceptions=True)
        _write(sys.stderr, _render(events.drain(), quiet))
        print("lambdatop: stopped", file=sys.stderr, flush=True)
        return EXIT_OK if signals_seen <= 1 else EXIT_INTERRUPTED
    finally:
        await fleet.stop(drain_timeout=0)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _print_banner(fleet: Fleet, config: FleetConfig, endpoint: EndpointView | None, out: TextIO) -> None:
    functions = fleet.functions
    lines = [f"lambdatop serve: {len(functions)} function{'s' if len(functions) != 1 else ''} from {config.path}"]
    isolation = fleet.snapshot().isolation  # what holds each environment: cgroups, or the fallback (runtime/execution/sandbox.py)
    if isolation:
        lines.append(f"  {isolation}")
    if endpoint is None:
        lines.append("  (no HTTP endpoint)")
    else:
        if endpoint.remote_warning:
            print(f"lambdatop: {endpoint.remote_warning}", file=sys.stderr, flush=True)
        lines += [
            f"Lambda API   {endpoint.url}",
            f"  aws lambda invoke --endpoint-url {endpoint.url} --function-name NAME out.json",
            f"  boto3.client(\"lambda\", endpoint_url=\"{endpoint.url}\")",
            "Function URLs",
        ]
        width = max((len(name) for name in functions), default=0)
        lines += [f"  {name:<{width}}  {url}" for name, url in endpoint.function_urls.items()]
    api = fleet.snapshot().api
    if api is not None and api.url:
        lines.append(f"API routes   {api.url}")
        lines += [f"  {line}" for line in api.route_lines()]
        lines += [f"  {note}" for note in api.warnings]
    aws = fleet.snapshot().aws
    if aws is not None and aws.endpoint_url:
        where = f"sidecar pid {aws.pid}" if aws.pid else "existing emulator"
        lines += [f"AWS services {aws.endpoint_url} ({where}; workers get it as AWS_ENDPOINT_URL)",
                  f"  aws --endpoint-url {aws.endpoint_url} sqs list-queues"]
        width = max((len(r.logical_id) for r in aws.resources), default=0)
        lines += [f"  {r.logical_id:<{width}}  {r.physical_id or '?'}" for r in aws.resources if r.created]
        lines += [f"  not run: {r.logical_id} ({r.type}): {r.note}" for r in aws.resources if not r.created]
    lines.append("Ctrl-C to stop.")
    out.write("\n".join(lines) + "\n")
    out.flush()


async def _echo(events: Subscription, quiet: bool, out: TextIO) -> None:
    """Print each finished invocation's log and every fleet event as they arrive."""
    while True:
        items = await events.wait(1.0)
        _write(out, _render(items, quiet))


def _render(items: list[object], quiet: bool) -> str:
    chunks: list[str] = []
    for item in items:
        if isinstance(item, InvocationResult) and not quiet:
            record = item.record
            prefix = f"[{record.function}] "
            if item.log_lines:
                chunks.extend(prefix + line + "\n" for line in item.log_text.splitlines())
            else:  # throttled or dry run: no log, one line
                chunks.append(f"{prefix}{record.status} {record.request_id} ({record.trigger})\n")
        elif isinstance(item, FleetEvent) and item.kind not in ("endpoint", "api", "aws") and not item.message.startswith("API: "):
            where = f" {item.function}" if item.function else ""
            chunks.append(f"lambdatop: [{item.kind}{where}] {item.message}\n")
    return "".join(chunks)


def _write(out: TextIO, text: str) -> None:
    if text:
        out.write(text)
        out.flush()
