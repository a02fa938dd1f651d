"""`LambdaEndpoint`: Lambda's HTTP API on loopback, so boto3 and the AWS CLI reach lambdatop unmodified.

An aiohttp application on the supervisor's own event loop, attached to a
`Fleet` as a service. It speaks the rest-json protocol of Lambda's
2015-03-31 API (LAMBDA.md §4, §5, §14): Invoke and InvokeAsync, the control
plane's reads and the write calls that make sense locally (routes.py has the
table), and each function's URL under /fn/{FunctionName}/ (function_url.py).

Anything else is a 404 `UnknownOperationException` that names the operation. Every answer carries
`x-amzn-RequestId`; every error carries `x-amzn-ErrorType` and a JSON body in
the shape botocore turns into its modelled exception classes.

When it starts, its URL is the fleet's `fleet.endpoint`, and it puts it in
`AWS_ENDPOINT_URL_LAMBDA` for every new worker, so boto3 inside a function
calls lambdatop with no code change; botocore forwards the worker's
`_X_AMZN_TRACE_ID` as `X-Amzn-Trace-Id`, which makes such a call a child of
the caller in the trace.

The pieces, one job each: routes.py (the routing table), parsing.py (reading
requests), invoke_handlers.py (Invoke and function URLs), control_handlers.py
(the control-plane handlers) over control_plane.py (functions, account),
function_settings.py (settings read from the template), layers_api.py (the
template's layers) and updates.py (the write calls), responses.py (answers and
errors), addresses.py (where it listens). This module is the service and its server.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from lambdatop.runtime.api import function_url
from lambdatop.runtime.api.addresses import bound_port, is_loopback, url_host
from lambdatop.runtime.api.control_handlers import ControlHandlers
from lambdatop.runtime.api.control_plane import ControlPlane
from lambdatop.runtime.api.invoke_handlers import InvokeHandlers
from lambdatop.runtime.api.parsing import CLIENT_MAX_SIZE, size_of
from lambdatop.runtime.api.responses import error_response, server_error
from lambdatop.runtime.api.routes import route_table, unknown_operation_message
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config.http_settings import DEFAULT_HOST, DEFAULT_PORT
from lambdatop.runtime.httpserver import GuardedRunner, start_guarded
from lambdatop.runtime.errors import (
    SYNC_PAYLOAD_LIMIT,
    EndpointUnavailable,
    LambdaServiceError,
    RemoteAccessRefused,
    RequestTooLarge,
    UnknownOperation,
)
from lambdatop.runtime.snapshot import EndpointView

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

__all__ = ["LambdaEndpoint", "RemoteAccessRefused", "is_loopback"]

SHUTDOWN_GRACE_S = 5.0  # how long stop() lets open requests finish after the fleet has drained

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LambdaEndpoint:
    """The HTTP endpoint as a fleet service: `fleet.add_service(LambdaEndpoint(port=0))`."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, allow_remote: bool = False) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range (0-65535; 0 picks a free port)")
        self.host = host
        self.requested_port = port
        self.allow_remote = allow_remote
        self.remote_warning: str | None = None
        if not is_loopback(host):
            if not allow_remote:
                raise RemoteAccessRefused(
                    f"refusing to serve the Lambda endpoint on {host}: it is not a loopback address, so anyone "
                    f"who can reach it could invoke your functions (no authentication). "
                    f"Pass --allow-remote to do it anyway, or use --host 127.0.0.1."
                )
            self.remote_warning = (
                f"warning: the Lambda endpoint listens on {host}, beyond this machine; it has no authentication, "
                f"so anyone who can reach it can invoke your functions"
            )
        self.port: int = port
        self.url: str = ""
        self.fleet: Fleet | None = None
        self.control: ControlPlane | None = None
        self._runner: web.AppRunner | None = None
        self._requests = 0

    # -- service lifecycle ----------------------------------------------------------------

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.control = ControlPlane(fleet)
        runner = await self._serve(self.build_app())
        self._runner = runner
        self.port = bound_port(runner)
        self.url = f"http://{url_host(self.host)}:{self.port}"
        fleet.worker_environment["AWS_ENDPOINT_URL_LAMBDA"] = self.url
        fleet.snapshot_providers["endpoint"] = self._snapshot
        now = time.time()
        fleet.bus.publish(FleetEvent("endpoint", f"Lambda API and function URLs at {self.url}", now, detail={"url": self.url}))
        if self.remote_warning:
            fleet.bus.publish(FleetEvent("warning", self.remote_warning, now))

    def listening_url(self) -> str | None:
        return self.url if self._runner is not None else None

    async def stop(self) -> None:
        """Stop taking requests; open ones get SHUTDOWN_GRACE_S to finish (the fleet has drained by now)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.fleet is not None:
            if self.fleet.worker_environment.get("AWS_ENDPOINT_URL_LAMBDA") == self.url:
                del self.fleet.worker_environment["AWS_ENDPOINT_URL_LAMBDA"]
            self.fleet.snapshot_providers.pop("endpoint", None)

    def function_url(self, name: str) -> str:
        """The local URL of a function's function URL."""
        return self.url + function_url.function_path(name)

    # -- the server -----------------------------------------------------------------------

    async def _serve(self, app: web.Application) -> GuardedRunner:
        """The one place the server is built and bound (runner options, the listening socket)."""
        # Guarded: read timeouts for slow or stuck clients, a connection cap, aiohttp's own 400s in Lambda's shape.
        try:
            runner = await start_guarded(app, self.host, self.requested_port, error_response=server_error,
                                         shutdown_timeout=SHUTDOWN_GRACE_S)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            hint = " (is another lambdatop or `sam local start-lambda` running? pick another with --port)" if exc.errno == errno.EADDRINUSE else ""
            raise EndpointUnavailable(f"cannot listen on {self.host}:{self.requested_port}: {reason}{hint}") from exc
        return runner

    def build_app(self) -> web.Application:
        fleet, control = self._fleet(), self._control()
        invoke = InvokeHandlers(fleet, self.function_url)
        handlers = ControlHandlers(fleet, control, self.function_url)
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[self._errors])
        app.add_routes(route_table(invoke, handlers))
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every failure leaves in Lambda's rest-json error shape, never as aiohttp's HTML pages."""
        self._requests += 1
        try:
            return await handler(request)
        except LambdaServiceError as exc:
            record = getattr(exc, "record", None)
            return error_response(exc, record.request_id if record is not None else None)
        except web.HTTPRequestEntityTooLarge as exc:
            return error_response(RequestTooLarge(size_of(exc, request), SYNC_PAYLOAD_LIMIT))
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return error_response(UnknownOperation(unknown_operation_message(request)))
        except web.HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must answer 500, not drop the connection
            if self.fleet is not None:
                self.fleet.bus.publish(FleetEvent("error", f"endpoint: {request.method} {request.path}: {exc!r}", time.time()))
            service_error = LambdaServiceError(f"lambdatop failed to handle the request: {exc}")
            return error_response(service_error)

    # -- internals ------------------------------------------------------------------------

    def _fleet(self) -> Fleet:
        assert self.fleet is not None, "LambdaEndpoint used before start()"
        return self.fleet

    def _control(self) -> ControlPlane:
        assert self.control is not None, "LambdaEndpoint used before start()"
        return self.control

    def _snapshot(self) -> EndpointView:
        functions = sorted(self.fleet.functions) if self.fleet is not None else []
        return EndpointView(self.url, self._requests, self.remote_warning, {name: self.function_url(name) for name in functions})
