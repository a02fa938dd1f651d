"""`JoinRunningServices`: what a short-lived command (`lambdatop invoke`, `replay`) uses for AWS.

It starts no sidecar of its own: if a dashboard or `lambdatop serve` of the
same project already runs one on the configured port, the command's workers
get that endpoint (AWS_ENDPOINT_URL) and the config is resolved against the
resources already there (read from the stack, never re-created), so
`lambdatop invoke Writer` writes the same table the running fleet's stream
function reads. Without one, workers keep dummy keys and no endpoint: their
AWS calls fail rather than reach the host's account.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lambdatop.runtime.config.aws_settings import AwsSettings, Credentials, Endpoint
from lambdatop.runtime.config import ResourceValues, load_config
from lambdatop.runtime.fleet import Fleet

if TYPE_CHECKING:
    from lambdatop.runtime.aws.clients import AwsClients
    from lambdatop.runtime.aws.stack import LocalStack, StackPlan

PROBE_TIMEOUT_S = 0.3


class JoinRunningServices:
    """A `Service` (see `Fleet.add_service`) for commands: joins running AWS services, or does nothing."""

    def __init__(self) -> None:
        self.endpoint_url: str | None = None

    async def start(self, fleet: Fleet) -> None:
        settings = AwsSettings.from_config(fleet.config)
        if settings.credentials is Credentials.HOST:
            from lambdatop.runtime.aws.service import _host_credentials

            fleet.worker_environment.update(_host_credentials())
        if not settings.enabled or settings.endpoint is Endpoint.REAL:
            return
        url = settings.endpoint_url or f"http://127.0.0.1:{settings.port}"
        if not await asyncio.to_thread(_listening, url):
            return
        self.endpoint_url = url
        fleet.worker_environment["AWS_ENDPOINT_URL"] = url
        # boto3 only now, with services to join: importing it would double a one-shot command's start.
        from lambdatop.runtime.aws.clients import AwsClients
        from lambdatop.runtime.aws.stack import LocalStack, plan_stack, stack_name_for

        config = fleet.config
        clients = AwsClients(url, config.region)
        stack = LocalStack(clients.client("cloudformation"), url, stack_name_for(config))
        try:
            values = await asyncio.to_thread(_read, stack, plan_stack(config, stack.name), clients)
        except Exception:  # noqa: BLE001 - no stack there (another project's emulator): keep the placeholders
            return
        resolved = await asyncio.to_thread(functools.partial(load_config, config.path, resources=values, inputs=config.inputs))
        fleet.replace_config(resolved)
        for name, function in resolved.functions.items():
            if name in fleet.pools:
                fleet.update_function(function, recycle=False)

    async def stop(self) -> None:
        return None


def _read(stack: LocalStack, plan: StackPlan, clients: AwsClients) -> ResourceValues:
    """The running fleet's resources: the stack's, and the secrets it made beside it (never created here)."""
    from lambdatop.runtime.aws.secrets import apply_secrets

    values = stack.read(plan) if not plan.empty else ResourceValues()
    secrets = apply_secrets(clients.client("secretsmanager"), plan.hand_made, stack.name, create=False)
    return ResourceValues(names={**values.names, **secrets}, attributes=values.attributes)


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False
