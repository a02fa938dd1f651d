"""`LambdaEndpoint`: Lambda's HTTP API on loopback, so boto3 and the AWS CLI reach lambdatop unmodified.

An aiohttp application on the supervisor's own event loop, attached to a
`Fleet` as a service. It speaks the rest-json protocol of Lambda's
2015-03-31 API (LAMBDA.md §4, §5, §14):

    POST /2015-03-31/functions/{FunctionName}/invocations    Invoke (RequestResponse, Event, DryRun)
    POST /2014-11-13/functions/{FunctionName}/invoke-async/  InvokeAsync (deprecated; an Event invocation)
    GET  /2015-03-31/functions/                              ListFunctions
    GET  /2015-03-31/functions/{FunctionName}                GetFunction
    GET  /2015-03-31/functions/{FunctionName}/configuration  GetFunctionConfiguration
    GET  /2019-09-30/functions/{FunctionName}/concurrency    GetFunctionConcurrency
    GET  /2016-08-19/account-settings/                       GetAccountSettings
    GET  /2015-03-31/functions/{FunctionName}/versions       ListVersionsByFunction ($LATEST only)
    GET  /2015-03-31/functions/{FunctionName}/aliases        ListAliases (none)
    GET  /2021-10-31/functions/{FunctionName}/url[s]         GetFunctionUrlConfig, ListFunctionUrlConfigs (FunctionUrlConfig only)
    ANY  /fn/{FunctionName}/{path...}                        the function's URL (see function_url.py)

Anything else is a 404 `UnknownOperationException`. Every answer carries
`x-amzn-RequestId`; every error carries `x-amzn-ErrorType` and a JSON body in
the shape botocore turns into its modelled exception classes.

When it starts it tells the fleet its URL (`fleet.endpoint`) and puts it in
`AWS_ENDPOINT_URL_LAMBDA` for every new worker, so boto3 inside a function
calls lambdatop with no code change; botocore forwards the worker's
`_X_AMZN_TRACE_ID` as `X-Amzn-Trace-Id`, which makes such a call a child of
the caller in the trace.
"""

from __future__ import annotations

import base64
import binascii
import errno
import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdatop.runtime.api import function_url
from lambdatop.runtime.apigateway.cors import add_response_headers, is_preflight, preflight
from lambdatop.runtime.apigateway.model import ApiKind
from lambdatop.runtime.apigateway.url_configs import FunctionUrlNotFound, url_settings
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.api.control_plane import ControlPlane
from lambdatop.runtime.errors import (
    ASYNC_PAYLOAD_LIMIT,
    SYNC_PAYLOAD_LIMIT,
    InvalidParameterValue,
    InvalidRequestContent,
    EndpointUnavailable,
    LambdaServiceError,
    RemoteAccessRefused,
    RequestTooLarge,
    UnknownOperation,
)
from lambdatop.runtime.config.http_settings import DEFAULT_HOST, DEFAULT_PORT
from lambdatop.runtime.identifiers import request_id as new_request_id, trace_id as new_trace_id
from lambdatop.runtime.httpserver import GuardedRunner
from lambdatop.runtime.records import InvocationResult, InvocationType, Trigger
from lambdatop.runtime.snapshot import EndpointView

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

LOG_TAIL_BYTES = 4096  # X-Amz-Log-Result carries the last 4 KB of the log
CLIENT_CONTEXT_LIMIT = 3583  # bytes of the base64 X-Amz-Client-Context header
# aiohttp refuses bodies over client_max_size itself; keep that well above Lambda's 6 MB so the
# 413 a client sees is Lambda's own RequestEntityTooLargeException, with Lambda's wording.
CLIENT_MAX_SIZE = 4 * SYNC_PAYLOAD_LIMIT
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
        runner = GuardedRunner(self.build_app(), error_response=_server_error, access_log=None,
                               shutdown_timeout=SHUTDOWN_GRACE_S, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = exc.strerror or str(exc)
            hint = " (is another lambdatop or `sam local start-lambda` running? pick another with --port)" if exc.errno == errno.EADDRINUSE else ""
            raise EndpointUnavailable(f"cannot listen on {self.host}:{self.requested_port}: {reason}{hint}") from exc
        self._runner = runner
        self.port = _bound_port(runner)
        self.url = f"http://{_url_host(self.host)}:{self.port}"
        fleet.endpoint = self.url
        fleet.worker_environment["AWS_ENDPOINT_URL_LAMBDA"] = self.url
        fleet.snapshot_providers["endpoint"] = self._snapshot
        now = time.time()
        fleet.bus.publish(FleetEvent("endpoint", f"Lambda API and function URLs at {self.url}", now, detail={"url": self.url}))
        if self.remote_warning:
            fleet.bus.publish(FleetEvent("warning", self.remote_warning, now))

    async def stop(self) -> None:
        """Stop taking requests; open ones get SHUTDOWN_GRACE_S to finish (the fleet has drained by now)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.fleet is not None:
            if self.fleet.worker_environment.get("AWS_ENDPOINT_URL_LAMBDA") == self.url:
                del self.fleet.worker_environment["AWS_ENDPOINT_URL_LAMBDA"]
            if self.fleet.endpoint == self.url:
                self.fleet.endpoint = None
            self.fleet.snapshot_providers.pop("endpoint", None)

    def function_url(self, name: str) -> str:
        """The local URL of a function's function URL."""
        return self.url + function_url.function_path(name)

    # -- the application ------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[self._errors])
        routes = [
            web.post("/2015-03-31/functions/{function}/invocations", self.invoke),
            web.post("/2015-03-31/functions/{function}/invocations/", self.invoke),
            web.post("/2014-11-13/functions/{function}/invoke-async/", self.invoke_async),
            web.post("/2014-11-13/functions/{function}/invoke-async", self.invoke_async),
            web.get("/2015-03-31/functions", self.list_functions, allow_head=False),
            web.get("/2015-03-31/functions/", self.list_functions, allow_head=False),
            web.get("/2015-03-31/functions/{function}", self.get_function, allow_head=False),
            web.get("/2015-03-31/functions/{function}/configuration", self.get_function_configuration, allow_head=False),
            web.get("/2015-03-31/functions/{function}/versions", self.list_versions, allow_head=False),
            web.get("/2015-03-31/functions/{function}/aliases", self.list_aliases, allow_head=False),
            web.get("/2019-09-30/functions/{function}/concurrency", self.get_function_concurrency, allow_head=False),
            web.get("/2021-10-31/functions/{function}/url", self.get_function_url_config, allow_head=False),
            web.get("/2021-10-31/functions/{function}/urls", self.list_function_url_configs, allow_head=False),
            web.get("/2016-08-19/account-settings", self.account_settings, allow_head=False),
            web.get("/2016-08-19/account-settings/", self.account_settings, allow_head=False),
            web.get("/2015-03-31/event-source-mappings/", self.list_event_source_mappings, allow_head=False),
            web.get("/2015-03-31/event-source-mappings", self.list_event_source_mappings, allow_head=False),
            web.get("/2015-03-31/event-source-mappings/{uuid}", self.get_event_source_mapping, allow_head=False),
            web.put("/2015-03-31/event-source-mappings/{uuid}", self.update_event_source_mapping),
            web.route("*", function_url.URL_PREFIX + "/{function}", self.function_url_request),
            web.route("*", function_url.URL_PREFIX + "/{function}/{path:.*}", self.function_url_request),
        ]
        app.add_routes(routes)
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
            return error_response(RequestTooLarge(_size_of(exc, request), SYNC_PAYLOAD_LIMIT))
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return error_response(UnknownOperation(_unknown_operation_message(request)))
        except web.HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must answer 500, not drop the connection
            if self.fleet is not None:
                self.fleet.bus.publish(FleetEvent("error", f"endpoint: {request.method} {request.path}: {exc!r}", time.time()))
            service_error = LambdaServiceError(f"lambdatop failed to handle the request: {exc}")
            return error_response(service_error)

    # -- Invoke ---------------------------------------------------------------------------

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        fleet = self._fleet()
        name = _qualified_name(request.match_info["function"], request.query.get("Qualifier"))
        invocation_type = _invocation_type(request.headers.get("X-Amz-Invocation-Type"))
        tail = _log_type(request.headers.get("X-Amz-Log-Type")) == "Tail"
        trace = request.headers.get("X-Amzn-Trace-Id")
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type is InvocationType.EVENT else SYNC_PAYLOAD_LIMIT
        payload = await _read_body(request, limit)

        if invocation_type is InvocationType.EVENT:
            accepted = await self._accept_event(fleet, name, payload, trace)
            return web.Response(status=202, headers={"x-amzn-RequestId": accepted})

        # Lambda passes the client context (and returns a log tail) for synchronous calls only.
        client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
        result = await fleet.invoke(
            name, payload, invocation_type=invocation_type, trigger=Trigger.HTTP, client_context=client_context, trace=trace,
        )
        record = result.record
        if invocation_type is InvocationType.DRY_RUN:
            return web.Response(status=204, headers={"x-amzn-RequestId": record.request_id})
        headers = {
            "x-amzn-RequestId": record.request_id,
            "X-Amz-Executed-Version": record.version,
            "Content-Type": "application/json",
        }
        if record.trace_id:
            headers["X-Amzn-Trace-Id"] = f"Root={record.trace_id}"
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if tail:
            headers["X-Amz-Log-Result"] = log_tail(result)
        return web.Response(status=200, body=result.response, headers=headers)

    async def invoke_async(self, request: web.Request) -> web.StreamResponse:
        """The deprecated InvokeAsync: an Event invocation under its old name, answered 202."""
        fleet = self._fleet()
        payload = await _read_body(request, ASYNC_PAYLOAD_LIMIT)
        accepted = await self._accept_event(fleet, request.match_info["function"], payload, request.headers.get("X-Amzn-Trace-Id"))
        return web.Response(status=202, headers={"x-amzn-RequestId": accepted, "Content-Type": "application/json"},
                            body=b'{"Status": 202}')

    async def _accept_event(self, fleet: Fleet, name: str, payload: bytes, trace: str | None) -> str:
        """Hand an Event invocation to the fleet's async queue; its request id is the 202's (no waiting for the run)."""
        return await fleet.enqueue(name, payload, trigger=Trigger.HTTP, trace=trace, request_id=new_request_id())

    # -- control plane --------------------------------------------------------------------

    async def list_functions(self, request: web.Request) -> web.StreamResponse:
        body = self._control().list_functions(request.query.get("Marker"), request.query.get("MaxItems"))
        return json_response(body)

    async def get_function(self, request: web.Request) -> web.StreamResponse:
        name = _qualified_name(request.match_info["function"], request.query.get("Qualifier"))
        return json_response(self._control().get_function(name))

    async def get_function_configuration(self, request: web.Request) -> web.StreamResponse:
        name = _qualified_name(request.match_info["function"], request.query.get("Qualifier"))
        return json_response(self._control().get_function_configuration(name))

    async def get_function_concurrency(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._control().get_function_concurrency(request.match_info["function"]))

    # Event source mappings: the bodies live with the pollers (runtime/triggers/mappings_api.py).
    async def list_event_source_mappings(self, request: web.Request) -> web.StreamResponse:
        from lambdatop.runtime.triggers import mappings_api

        query = request.query
        return json_response(mappings_api.list_mappings(self._fleet(), query.get("FunctionName"), query.get("EventSourceArn")))

    async def get_event_source_mapping(self, request: web.Request) -> web.StreamResponse:
        from lambdatop.runtime.triggers import mappings_api

        return json_response(mappings_api.get_mapping(self._fleet(), request.match_info["uuid"]))

    async def update_event_source_mapping(self, request: web.Request) -> web.StreamResponse:
        from lambdatop.runtime.triggers import mappings_api

        body = json.loads(await request.read() or b"{}")
        return json_response(mappings_api.update_mapping(self._fleet(), request.match_info["uuid"], body), status=202)

    async def account_settings(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._control().account_settings())

    async def list_versions(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._control().list_versions(request.match_info["function"]))

    async def list_aliases(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._control().list_aliases(request.match_info["function"]))

    async def get_function_url_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._url_config(request.match_info["function"]))

    async def list_function_url_configs(self, request: web.Request) -> web.StreamResponse:
        try:
            configs = [self._url_config(request.match_info["function"])]
        except FunctionUrlNotFound:
            configs = []  # a function without a FunctionUrlConfig has no URL to list
        return json_response({"FunctionUrlConfigs": configs})

    def _url_config(self, name: str) -> dict[str, Any]:
        function = self._fleet().resolve(name)
        return self._control().function_url_config(name, self.function_url(function.function_name or function.name))

    # -- function URLs --------------------------------------------------------------------

    async def function_url_request(self, request: web.Request) -> web.StreamResponse:
        fleet = self._fleet()
        name = request.match_info["function"]
        function = fleet.resolve(name)
        settings = url_settings(fleet.config, function.name)  # its FunctionUrlConfig: Cors is honoured
        if settings is not None and settings.cors is not None and is_preflight(request.method, request.headers):
            return preflight(ApiKind.HTTP, settings.cors, request.headers.get("Origin"), []).to_web()
        body = await _read_body(request, SYNC_PAYLOAD_LIMIT)
        raw_path = _raw_function_path(request)
        request_id = new_request_id()
        incoming = request.headers.get("X-Amzn-Trace-Id")
        trace = incoming or f"Root={new_trace_id()}"
        public_name = function.function_name or function.name
        event = function_url.build_event(
            request, body, raw_path=raw_path, request_id=request_id, account_id=fleet.config.account_id,
            function_name=public_name, trace_header=trace,
        )
        result = await fleet.invoke(
            function.name, json.dumps(event).encode(), trigger=Trigger.URL, trace=trace, request_id=request_id,
        )
        response = function_url.map_response(result)
        if settings is not None and settings.cors is not None:
            add_response_headers(ApiKind.HTTP, settings.cors, request.headers.get("Origin"), response)
        response.headers["x-amzn-RequestId"] = result.record.request_id
        if result.record.trace_id:
            response.headers["X-Amzn-Trace-Id"] = f"Root={result.record.trace_id}"
        return response.to_web()

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


# -- request parsing ------------------------------------------------------------------------


def _qualified_name(name: str, qualifier: str | None) -> str:
    """`name` with the `Qualifier` query parameter folded in; a conflicting pair is Lambda's 400."""
    if qualifier is None or qualifier == "":
        return name
    _, derived = split_qualifier(name)
    if derived is None:
        return f"{name}:{qualifier}"
    if derived != qualifier:
        raise InvalidParameterValue("The derived qualifier from the function name does not match the specified qualifier.")
    return name


def split_qualifier(name: str) -> tuple[str, str | None]:
    """(function part, qualifier or None) of a name, `name:qualifier`, or a partial or full ARN."""
    parts = name.split(":")
    if name.startswith("arn:"):
        return ":".join(parts[:7]), parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
        return ":".join(parts[:3]), parts[3] if len(parts) > 3 else None
    if len(parts) == 2:
        return parts[0], parts[1]
    return name, None


def _invocation_type(value: str | None) -> InvocationType:
    if value is None or value == "":
        return InvocationType.REQUEST_RESPONSE
    try:
        return InvocationType(value)
    except ValueError:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at 'invocationType' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ) from None


def _log_type(value: str | None) -> str:
    if value is None or value in ("", "None"):
        return "None"
    if value == "Tail":
        return value
    raise InvalidParameterValue(
        f"1 validation error detected: Value '{value}' at 'logType' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [Tail, None]"
    )


def _client_context(header: str | None) -> str | None:
    """The decoded JSON text of X-Amz-Client-Context (the function sees it as context.client_context)."""
    if not header:
        return None
    if len(header) > CLIENT_CONTEXT_LIMIT:
        raise InvalidParameterValue(f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes, base64-encoded.")
    try:
        text = base64.b64decode(header, validate=True).decode("utf-8")
        if not isinstance(json.loads(text), dict):
            raise ValueError("not an object")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequestContent("Client context must be a valid Base64-encoded JSON object.") from None
    return text


async def _read_body(request: web.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > CLIENT_MAX_SIZE:
        raise RequestTooLarge(declared, limit)
    body = await request.read()
    if len(body) > limit:
        raise RequestTooLarge(len(body), limit)
    return body


def _raw_function_path(request: web.Request) -> str:
    """The path after `/fn/{name}`, still percent-encoded as the client sent it; `/` at least."""
    raw = request.rel_url.raw_path
    prefix_end = raw.find("/", len(function_url.URL_PREFIX) + 1)
    rest = raw[prefix_end:] if prefix_end != -1 else ""
    return rest or "/"


def _unknown_operation_message(request: web.Request) -> str:
    if request.path in ("", "/"):
        return (
            "lambdatop serves Lambda's Invoke API at POST /2015-03-31/functions/{name}/invocations "
            "and function URLs at /fn/{name}/"
        )
    return f"Unknown operation: {request.method} {request.path}"


def _size_of(exc: web.HTTPRequestEntityTooLarge, request: web.Request) -> int:
    return request.content_length or getattr(exc, "actual_size", 0) or CLIENT_MAX_SIZE


# -- responses -----------------------------------------------------------------------------


def json_response(body: dict[str, Any], status: int = 200, request_id: str | None = None) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-amzn-RequestId": request_id or new_request_id()},
    )


def _server_error(status: int, message: str) -> web.Response:
    """aiohttp's own refusals (a URL or header over 8 KB, a bad method, a bad Content-Length) in Lambda's shape."""
    error = InvalidRequestContent(message) if status == 400 else LambdaServiceError(message)
    error.status = status
    return error_response(error)


def error_response(exc: LambdaServiceError, request_id: str | None = None) -> web.Response:
    """Lambda's error: status, `x-amzn-ErrorType` and the JSON body botocore maps to the exception class."""
    response = json_response(exc.body(), exc.status, request_id)
    response.headers.update(exc.headers())
    return response


def log_tail(result: InvocationResult) -> str:
    """X-Amz-Log-Result: base64 of the last 4 KB of the invocation's log."""
    return base64.b64encode(result.log_text.encode()[-LOG_TAIL_BYTES:]).decode()


# -- addresses -----------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True when every address `host` stands for is a loopback one (so nothing off this machine can connect)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(bare, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise EndpointUnavailable("the endpoint started but reports no listening socket")


def _url_host(host: str) -> str:
    """A host for URLs that clients on this machine can use (a wildcard bind is reached over loopback)."""
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bare == "::":
        return "[::1]"
    return f"[{bare}]" if ":" in bare else bare
