"""One request through the API: match, preflight, authorize, invoke, map, count, trace.

`Gateway.handle` is the whole pipeline for one `IncomingRequest`; it knows
nothing of aiohttp. Every invocation goes through `Fleet.invoke` with trigger
`api` and the route on the record. The integration timeout is API Gateway's:
past it the client gets 504 while the function runs on to its own timeout,
and its record says how that ended.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.apigateway import cors
from lambdatop.runtime.apigateway.authorizers import AuthorizerRunner, Decision
from lambdatop.runtime.apigateway.events import ApiContext, IncomingRequest, build_v1, build_v2
from lambdatop.runtime.apigateway.model import ApiKind, Route
from lambdatop.runtime.apigateway.responses import (
    HTTP_INTERNAL_ERROR,
    REST_INTERNAL_ERROR,
    ProxyResponse,
    gateway_error,
    map_v1,
    map_v2,
)
from lambdatop.runtime.apigateway.routes import RouteTable
from lambdatop.runtime.apigateway.segments import ApiRequestSpan, api_segment
from lambdatop.runtime.apigateway.stats import RouteStats
from lambdatop.runtime.errors import FleetStopped, FunctionNotFound, LambdaServiceError, RequestTooLarge, Throttled
from lambdatop.runtime.identifiers import parse_trace_header, request_id as new_request_id, segment_id, trace_header
from lambdatop.runtime.identifiers import trace_id as new_trace_id
from lambdatop.runtime.records import InvocationResult, Trigger

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

MISSING_TOKEN = b'{"message":"Missing Authentication Token"}'
NOT_FOUND = b'{"message":"Not Found"}'
TIMED_OUT = b'{"message": "Endpoint request timed out"}'
TOO_LONG = b'{"message":"Request Too Long"}'


@dataclass
class _Trace:
    trace_id: str
    segment_id: str
    header: str  # handed to Fleet.invoke: the API segment is the invocation's parent


class Gateway:
    """The API Gateway of the fleet's template: `await gateway.handle(request)` → the client's response."""

    def __init__(self, fleet: Fleet, table: RouteTable, *, integration_timeout_s: float | None = None) -> None:
        self.fleet = fleet
        self.table = table
        self.integration_timeout_s = integration_timeout_s
        self.stats: dict[str, RouteStats] = {}  # by route label, so a reload keeps the counts
        self.unmatched = 0
        self.authorizers = AuthorizerRunner(self._invoke_authorizer, region=fleet.config.region,
                                            account_id=fleet.config.account_id)
        self._running: set[asyncio.Task[InvocationResult]] = set()  # invocations the client stopped waiting for

    async def handle(self, request: IncomingRequest, url: str) -> ProxyResponse:
        started = time.time()
        if cors.is_preflight(request.method, dict(request.headers)):
            at_path = self.table.api_at(request.path)
            if at_path is not None and at_path.api.cors is not None:
                return cors.preflight(at_path.api.kind, at_path.api.cors, request.header("Origin"),
                                      self.table.methods_at(request.path))
        match = self.table.match(request.method, request.path)
        if match is None:
            self.unmatched += 1
            return self._no_route(request)
        route = match.route
        trace = self._trace(request)
        request_id = new_request_id()
        response = await self._serve(request, route, match.path_parameters, trace, request_id)
        cors.add_response_headers(route.api.kind, route.api.cors, request.header("Origin"), response)
        if route.api.kind is ApiKind.REST:
            response.headers["x-amzn-RequestId"] = request_id
            response.headers["X-Amzn-Trace-Id"] = f"Root={trace.trace_id}"
        else:
            response.headers["apigw-requestid"] = request_id
        ended = time.time()
        self.stats.setdefault(route.label, RouteStats()).add(response.status, (ended - started) * 1000)
        self._file_segment(ApiRequestSpan(
            trace.trace_id, trace.segment_id, route.api, request.method, url, request.source_ip, request.user_agent,
            route.route_key, request_id, started, ended, response.status, self.fleet.config.account_id,
            self.fleet.config.region,
        ))
        return response

    # -- the pipeline -------------------------------------------------------------------

    async def _serve(self, request: IncomingRequest, route: Route, parameters: dict[str, str], trace: _Trace,
                     request_id: str) -> ProxyResponse:
        context = ApiContext(
            api_id=route.api.api_id, stage=route.api.stage, account_id=self.fleet.config.account_id,
            request_id=request_id, trace_header=trace.header, route_key=route.route_key, resource_path=route.path,
            path_parameters=parameters, stage_variables=route.api.stage_variables,
        )
        event = self._event(request, route, context)
        if route.authorizer is not None:
            authorizer = route.api.authorizers.get(route.authorizer)
            if authorizer is None:
                return gateway_error(500, self._internal_error(route), f"authorizer {route.authorizer!r} is not defined")
            decision = await self.authorizers.decide(authorizer, route, request, event, trace.header)
            if not decision.allowed:
                return self._denied(route, decision)
            context = ApiContext(**{**context.__dict__, "authorizer": decision.context})
            event = self._event(request, route, context)
        payload = json.dumps(event).encode()
        result = await self._invoke(route, payload, trace, request_id)
        if isinstance(result, ProxyResponse):
            return result
        if route.payload_version == "1.0":
            return map_v1(result, binary_media_types=route.api.binary_media_types, accept=request.header("Accept") or "",
                          error_body=self._internal_error(route))
        return map_v2(result)

    def _event(self, request: IncomingRequest, route: Route, context: ApiContext) -> dict[str, Any]:
        if route.payload_version == "1.0":
            return build_v1(request, context, binary_media_types=route.api.binary_media_types,
                            http_api=route.api.kind is ApiKind.HTTP)
        return build_v2(request, context)

    async def _invoke(self, route: Route, payload: bytes, trace: _Trace, request_id: str) -> InvocationResult | ProxyResponse:
        timeout = route.timeout_ms / 1000.0
        if self.integration_timeout_s is not None:
            timeout = min(timeout, self.integration_timeout_s)
        task = asyncio.ensure_future(self.fleet.invoke(
            route.function, payload, trigger=Trigger.API, trace=trace.header, request_id=request_id, route=route.label,
        ))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            # API Gateway stops waiting; Lambda does not stop the function.
            self._running.add(task)
            task.add_done_callback(self._forget)
            return gateway_error(504, TIMED_OUT, f"the function ran past the integration timeout ({timeout:g} s)",
                                 "IntegrationTimeout")
        except Throttled:
            if route.api.kind is ApiKind.REST:
                return gateway_error(429, b'{"message":"Too Many Requests"}', "the function was throttled")
            return gateway_error(503, b'{"message":"Service Unavailable"}', "the function was throttled")
        except RequestTooLarge as exc:
            return gateway_error(413, TOO_LONG, str(exc))
        except (FunctionNotFound, FleetStopped, LambdaServiceError) as exc:
            status = 503 if isinstance(exc, FleetStopped) else 500
            return gateway_error(status, self._internal_error(route), f"Lambda refused the invocation: {exc}")

    async def _invoke_authorizer(self, function: str, event: dict[str, Any], trace: str, route: str) -> InvocationResult:
        return await self.fleet.invoke(function, event, trigger=Trigger.API, trace=trace, route=route)

    # -- answers the gateway gives itself ------------------------------------------------

    def _no_route(self, request: IncomingRequest) -> ProxyResponse:
        at_path = self.table.api_at(request.path)
        kinds = self.table.kinds
        rest = (at_path.api.kind is ApiKind.REST) if at_path is not None else (ApiKind.REST in kinds or not kinds)
        if rest:
            return gateway_error(403, MISSING_TOKEN, f"no route for {request.method} {request.path}",
                                 "MissingAuthenticationTokenException")
        return gateway_error(404, NOT_FOUND, f"no route for {request.method} {request.path}")

    def _denied(self, route: Route, decision: Decision) -> ProxyResponse:
        body = json.dumps({"message": decision.message} if route.api.kind is ApiKind.HTTP or decision.status != 403
                          else {"Message": decision.message}).encode()
        error_type = {401: "UnauthorizedException", 403: "AccessDeniedException"}.get(decision.status)
        return gateway_error(decision.status, body, "the authorizer said no", error_type)

    @staticmethod
    def _internal_error(route: Route) -> bytes:
        return REST_INTERNAL_ERROR if route.api.kind is ApiKind.REST else HTTP_INTERNAL_ERROR

    # -- traces -------------------------------------------------------------------------

    def _trace(self, request: IncomingRequest) -> _Trace:
        incoming = parse_trace_header(request.header("X-Amzn-Trace-Id"))
        root = incoming.get("Root") or new_trace_id()
        own = segment_id()
        return _Trace(root, own, trace_header(root, own, True))

    def _file_segment(self, span: ApiRequestSpan) -> None:
        from lambdatop.runtime.observability.service import find

        service = find(self.fleet)
        if service is not None:
            service.add_segment(api_segment(span))

    def _forget(self, task: asyncio.Task[InvocationResult]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so a late failure is not reported as "never retrieved"
