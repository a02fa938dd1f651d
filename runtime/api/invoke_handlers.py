"""The data plane of the endpoint: Invoke, the deprecated InvokeAsync, and requests to function URLs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from lambdatop.runtime.api import function_url
from lambdatop.runtime.api.parsing import (
    client_context,
    invocation_type as parse_invocation_type,
    log_type,
    qualified_name,
    raw_function_path,
    read_body,
)
from lambdatop.runtime.api.responses import log_tail
from lambdatop.runtime.apigateway.cors import add_response_headers, is_preflight, preflight
from lambdatop.runtime.apigateway.model import ApiKind
from lambdatop.runtime.apigateway.url_configs import url_settings
from lambdatop.runtime.errors import ASYNC_PAYLOAD_LIMIT, SYNC_PAYLOAD_LIMIT
from lambdatop.runtime.identifiers import request_id as new_request_id, trace_id as new_trace_id
from lambdatop.runtime.records import InvocationType, Trigger

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet


class InvokeHandlers:
    """Request handlers that run functions; `url_of(name)` is the local URL of a function's function URL."""

    def __init__(self, fleet: Fleet, url_of: Callable[[str], str]) -> None:
        self.fleet = fleet
        self.url_of = url_of

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        fleet = self.fleet
        name = qualified_name(request.match_info["function"], request.query.get("Qualifier"))
        invocation_type = parse_invocation_type(request.headers.get("X-Amz-Invocation-Type"))
        tail = log_type(request.headers.get("X-Amz-Log-Type")) == "Tail"
        trace = request.headers.get("X-Amzn-Trace-Id")
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type is InvocationType.EVENT else SYNC_PAYLOAD_LIMIT
        payload = await read_body(request, limit)

        if invocation_type is InvocationType.EVENT:
            accepted = await self._accept_event(name, payload, trace)
            return web.Response(status=202, headers={"x-amzn-RequestId": accepted})

        # Lambda passes the client context (and returns a log tail) for synchronous calls only.
        context = client_context(request.headers.get("X-Amz-Client-Context"))
        result = await fleet.invoke(
            name, payload, invocation_type=invocation_type, trigger=Trigger.HTTP, client_context=context, trace=trace,
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
        payload = await read_body(request, ASYNC_PAYLOAD_LIMIT)
        accepted = await self._accept_event(request.match_info["function"], payload, request.headers.get("X-Amzn-Trace-Id"))
        return web.Response(status=202, headers={"x-amzn-RequestId": accepted, "Content-Type": "application/json"},
                            body=b'{"Status": 202}')

    async def _accept_event(self, name: str, payload: bytes, trace: str | None) -> str:
        """Hand an Event invocation to the fleet's async queue; its request id is the 202's (no waiting for the run)."""
        return await self.fleet.enqueue(name, payload, trigger=Trigger.HTTP, trace=trace, request_id=new_request_id())

    async def function_url_request(self, request: web.Request) -> web.StreamResponse:
        fleet = self.fleet
        name = request.match_info["function"]
        function = fleet.resolve(name)
        settings = url_settings(fleet.config, function.name)  # its FunctionUrlConfig: Cors is honoured
        if settings is not None and settings.cors is not None and is_preflight(request.method, request.headers):
            return preflight(ApiKind.HTTP, settings.cors, request.headers.get("Origin"), []).to_web()
        body = await read_body(request, SYNC_PAYLOAD_LIMIT)
        raw_path = raw_function_path(request)
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
