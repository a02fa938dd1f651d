"""`ApiGatewayService`: the template's API routes on the API port (127.0.0.1:3000 by default, SAM's `start-api`).

An aiohttp application on the supervisor's loop, attached to a `Fleet` as a
service like the Lambda endpoint. It reads the routes when it starts and again
when the fleet's config is reloaded (the route table follows the template),
answers every path with one handler that hands the request to `Gateway`, and
publishes a typed `ApiSnapshot` (`fleet.snapshot().api`).
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

from aiohttp import web

from lambdatop.runtime.apigateway.authorizers import UNSIGNED_JWT_NOTE
from lambdatop.runtime.apigateway.events import IncomingRequest
from lambdatop.runtime.apigateway.gateway import TOO_LONG, Gateway
from lambdatop.runtime.apigateway.model import AuthorizerType, Route
from lambdatop.runtime.apigateway.responses import gateway_error
from lambdatop.runtime.apigateway.routes import RouteTable
from lambdatop.runtime.config.api_settings import DEFAULT_API_HOST, DEFAULT_API_PORT
from lambdatop.runtime.apigateway.stats import route_view
from lambdatop.runtime.snapshot import ApiSnapshot
from lambdatop.runtime.apigateway.template import read_routes
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.httpserver import start_guarded

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

PAYLOAD_LIMIT = 10 * 1024 * 1024  # API Gateway's request payload quota: 10 MB, then 413
SHUTDOWN_GRACE_S = 5.0


class ApiUnavailable(ConfigError):
    """The API port could not be bound (in use, not local, no permission), or its host is not loopback."""


class ApiGatewayService:
    """`fleet.add_service(ApiGatewayService(port=0))`; `.url` and `.routes` once started."""

    def __init__(self, host: str = DEFAULT_API_HOST, port: int = DEFAULT_API_PORT, *, allow_remote: bool = False,
                 integration_timeout_s: float | None = None) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"API port {port} is out of range (0-65535; 0 picks a free port)")
        from lambdatop.runtime.api.endpoint import is_loopback

        if not is_loopback(host) and not allow_remote:
            raise ApiUnavailable(f"refusing to serve the API routes on {host}: not a loopback address "
                                 f"(no authentication); pass --allow-remote to do it anyway")
        self.host = host
        self.requested_port = port
        self.integration_timeout_s = integration_timeout_s
        self.port = port
        self.url = ""
        self.fleet: Fleet | None = None
        self.gateway: Gateway | None = None
        self.warnings: list[str] = []
        self._runner: web.AppRunner | None = None
        self._config_seen: object = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.gateway = Gateway(fleet, self._read_table(fleet), integration_timeout_s=self.integration_timeout_s)
        app = web.Application(client_max_size=PAYLOAD_LIMIT)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        try:
            runner = await start_guarded(app, self.host, self.requested_port, error_response=_server_error,
                                         shutdown_timeout=SHUTDOWN_GRACE_S)
        except OSError as exc:
            hint = (" (is another lambdatop or `sam local start-api` running? pick another with --api-port, "
                    "or --no-api)") if exc.errno == errno.EADDRINUSE else ""
            raise ApiUnavailable(f"cannot listen on {self.host}:{self.requested_port} for the API: "
                                 f"{exc.strerror or exc}{hint}") from exc
        self._runner = runner
        self.port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.url = f"http://{shown}:{self.port}"
        fleet.snapshot_providers["api"] = self.snapshot
        now = time.time()
        routes = self.routes
        fleet.bus.publish(FleetEvent("api", f"{len(routes)} API route{'s' if len(routes) != 1 else ''} at {self.url}",
                                     now, detail={"url": self.url}))
        for note in self.notes():
            fleet.bus.publish(FleetEvent("warning", note, now))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.fleet is not None:
            self.fleet.snapshot_providers.pop("api", None)

    # -- what it serves --------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        return list(self.gateway.table.routes) if self.gateway else []

    def notes(self) -> list[str]:
        """Startup lines worth saying: routes that could not be read, and the unverified JWT signatures."""
        notes = [f"API: {w}" for w in self.warnings]
        if self.gateway and any(a.type is AuthorizerType.JWT for r in self.gateway.table.routes
                                for a in r.api.authorizers.values()):
            notes.append(f"API: {UNSIGNED_JWT_NOTE}")
        return notes

    def snapshot(self) -> ApiSnapshot:
        gateway = self.gateway
        if gateway is None:
            return ApiSnapshot(self.url or None)
        self._follow_config()
        return ApiSnapshot(
            url=self.url or None,
            routes=tuple(route_view(route, gateway.stats.get(route.label)) for route in gateway.table.routes),
            warnings=tuple(self.notes()), unmatched=gateway.unmatched,
        )

    # -- internals -------------------------------------------------------------------------

    def _read_table(self, fleet: Fleet) -> RouteTable:
        found = read_routes(fleet.config)
        table = RouteTable.of(found.routes)
        self.warnings = found.warnings + [
            f"{dropped.route_key} of {dropped.source} is also declared by {kept.source}; the first one serves"
            for kept, dropped in table.conflicts
        ]
        self._config_seen = fleet.config
        return table

    def _follow_config(self) -> None:
        """A reloaded config (hot reload) brings its routes; the counters of unchanged routes carry on."""
        fleet, gateway = self.fleet, self.gateway
        if fleet is None or gateway is None or fleet.config is self._config_seen:
            return
        gateway.table = self._read_table(fleet)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self.gateway is not None
        self._follow_config()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return gateway_error(413, TOO_LONG, f"the request body is over {PAYLOAD_LIMIT} bytes").to_web()
        incoming = IncomingRequest.from_aiohttp(request, body)
        try:
            response = await self.gateway.handle(incoming, f"{self.url}{request.rel_url}")
        except Exception as exc:  # noqa: BLE001 - a bug here answers API Gateway's 500, never drops the connection
            if self.fleet is not None:
                self.fleet.bus.publish(FleetEvent("error", f"API: {request.method} {request.path}: {exc!r}", time.time()))
            response = gateway_error(500, b'{"message": "Internal server error"}', f"lambdatop failed: {exc!r}")
        return response.to_web()


def _server_error(status: int, message: str) -> web.Response:
    """aiohttp's own refusals (a URL or header over 8 KB, a bad method) as API Gateway words its own errors."""
    error_type = "BadRequestException" if status == 400 else "InternalServerErrorException"
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})
