"""`lambdatop`: the dashboard with no subcommand, or one of the headless commands.

Each subcommand lives in its own module under `lambdatop.tui.commands` and
registers itself with `register(subparsers)`, setting `handler` to a function
that takes the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order here is the order `lambdatop --help` lists them.
COMMANDS = ("invoke", "serve", "events", "replay", "record", "logs", "traces", "stats", "bench")

EXIT_OK = 0
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2
EXIT_SERVICE_ERROR = 3
EXIT_INTERRUPTED = 130


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", metavar="PATH", default=None,
        help="lambdatop.yaml or SAM template.yaml (default: ./lambdatop.yaml, ./template.yaml, ./sample_functions/template.yaml)",
    )


def aws_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """--aws-port and --no-aws, for the dashboard and `serve` (`prefix` keeps their dests apart)."""
    parser.add_argument("--aws-port", dest=f"{prefix}aws_port", type=int, default=None,
                        help="the AWS services sidecar's port (default: the config's aws.port, else 4566; 0 picks a free port)")
    parser.add_argument("--no-aws", dest=f"{prefix}no_aws", action="store_true",
                        help="run without the AWS services sidecar (no local resources, no event sources)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdatop",
        description="top for a local fleet of AWS Lambda-style functions. With no command, opens the dashboard.",
    )
    config_option(parser)
    parser.add_argument(
        "--port", type=int, default=None,
        help="the dashboard's HTTP endpoint port (default: the config's http.port, else 3001; 0 picks a free port)",
    )
    parser.add_argument("--host", default=None, help="HTTP endpoint address (default: the config's http.host, else 127.0.0.1)")
    parser.add_argument("--allow-remote", action="store_true", help="allow --host to be a non-loopback address")
    parser.add_argument("--no-http", action="store_true", help="run the dashboard without the HTTP endpoint")
    aws_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"lambdatop.tui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"lambdatop.tui.commands.{name}":
                raise
            continue  # a command not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from lambdatop.tui.commands.dashboard import run_dashboard

            return run_dashboard(args)
        return args.handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
