"""`lambdatop`: the dashboard with no subcommand, or one of the headless commands.

Each subcommand lives in its own module under `lambdatop.tui.commands`; its
arguments and help are in `lambdatop.tui.commands.arguments`, which sets
`handler` to the module's function that takes the parsed arguments and returns
the exit code, imported only when that command runs: building the parser
(every run, `--help` too) loads no runtime. This module only builds the parser
and dispatches; what the commands share (exit codes, common arguments) is in
`lambdatop.tui.commands.common`, so the commands never import this module back.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from lambdatop.tui.commands.arguments import add_commands
from lambdatop.tui.commands.common import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, aws_options, config_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdatop",
        description="top for a local fleet of AWS Lambda-style functions. With no command, opens the dashboard.",
    )
    parser.add_argument("--version", action=_Version)
    config_option(parser)
    parser.add_argument(
        "--port", type=int, default=None,
        help="the dashboard's HTTP endpoint port (default: the config's http.port, else 3001; 0 picks a free port)",
    )
    parser.add_argument("--host", default=None, help="HTTP endpoint address (default: the config's http.host, else 127.0.0.1)")
    parser.add_argument("--allow-remote", action="store_true", help="allow --host to be a non-loopback address")
    parser.add_argument("--no-http", action="store_true", help="run the dashboard without the HTTP endpoint")
    parser.add_argument("--api-port", type=int, default=None,
                        help="port of the template's API routes (default: the config's api.port, else 3000; 0 picks a free port)")
    parser.add_argument("--no-api", action="store_true", help="don't serve the template's Api/HttpApi routes")
    aws_options(parser)
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)  # inside: `--help | head` writes to the pipe too
        if args.command is None:
            from lambdatop.tui.commands.dashboard import run_dashboard

            code: int = run_dashboard(args)
        else:
            code = args.handler(args)
        sys.stdout.flush()  # so a reader that went away shows here, not in the interpreter's exit flush
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `lambdatop logs fn | head`: the reader has what it wanted. Stop quietly, as a Unix tool killed by
        # SIGPIPE would; what is still buffered goes to /dev/null so the exit flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


class _Version(argparse._VersionAction):
    """`--version`, read when asked: importlib.metadata takes longer to import than the rest of `--help` takes to run."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        self.version = f"lambdatop {_version()}"
        super().__call__(parser, namespace, values, option_string)


def _version() -> str:
    """The installed distribution's version (pyproject.toml's), not a second copy of it in the code."""
    import importlib.metadata

    try:
        return importlib.metadata.version("lambdatop")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed; pip install -e .)"


if __name__ == "__main__":
    sys.exit(main())
