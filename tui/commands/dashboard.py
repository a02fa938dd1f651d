"""`lambdatop` with no command: the dashboard, with the full set of services (HTTP endpoint, store, reload...).

    lambdatop                      on ./lambdatop.yaml, ./template.yaml or ./sample_functions/template.yaml
    lambdatop -c path/template.yaml --port 0     no HTTP endpoint
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.cli import EXIT_OK, EXIT_USAGE
from lambdatop.tui.commands.common import UsageError, load_or_exit


def run_dashboard(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(getattr(args, "config", None))
        host = getattr(args, "host", "127.0.0.1")
        if not _is_loopback(host) and not getattr(args, "allow_remote", False):
            raise UsageError(f"--host {host} is not a loopback address; add --allow-remote to serve other machines")
        port = getattr(args, "port", 3001)
        if port is not None and not 0 <= port <= 65535:
            raise UsageError(f"--port must be 0-65535, got {port}")
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from lambdatop.tui.app import LambdatopApp  # Textual loads only when the dashboard runs

    options = ServiceOptions(host=host, port=None if not port else port, watch=True, store=True,
                             allow_remote=bool(getattr(args, "allow_remote", False)))
    app = LambdatopApp(Fleet(config), options=options)
    app.run()
    if app.startup_error:
        return app.return_code or EXIT_USAGE
    return app.return_code or EXIT_OK


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
