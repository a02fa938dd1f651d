"""`lambdatop` with no command: the dashboard, with the full set of services (HTTP endpoint, store, reload...).

    lambdatop                      on ./lambdatop.yaml, ./template.yaml or ./sample_functions/template.yaml
    lambdatop -c path/template.yaml --no-http    no HTTP endpoint
    lambdatop --api-port 0 / --no-api            the template's API routes on a free port / not at all
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.config import HttpSettings
from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.commands.common import EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, template_inputs
from lambdatop.tui.commands.serve import api_settings


def run_dashboard(args: argparse.Namespace) -> int:
    try:
        config = load_or_exit(getattr(args, "config", None), template_inputs(args))
        # The same endpoint settings as `lambdatop serve`: the config's `http:` section, then the flags.
        try:
            settings = HttpSettings.from_config(config).overridden(
                host=getattr(args, "host", None), port=getattr(args, "port", None),
                allow_remote=bool(getattr(args, "allow_remote", False)),
            )
        except ConfigError as exc:
            raise UsageError(f"config error: {exc}") from exc
        if not _is_loopback(settings.host) and not settings.allow_remote:
            raise UsageError(f"--host {settings.host} is not a loopback address; add --allow-remote to serve other machines")
        if not 0 <= settings.port <= 65535:
            raise UsageError(f"--port {settings.port} is out of range (0-65535; 0 picks a free port)")
        port = None if getattr(args, "no_http", False) or not settings.enabled else settings.port
        api = api_settings(config, getattr(args, "api_port", None), bool(getattr(args, "no_api", False)))
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from lambdatop.tui.app import LambdatopApp  # Textual loads only when the dashboard runs

    options = ServiceOptions(host=settings.host, port=port, watch=True, store=True, allow_remote=settings.allow_remote,
                             api=api, aws=not getattr(args, "no_aws", False),
                             aws_port=getattr(args, "aws_port", None))
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
