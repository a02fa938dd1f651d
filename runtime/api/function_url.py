"""Function URLs: an HTTP request in, a payload-format-2.0 event to the function, its answer back as HTTP.

Every function gets a URL on the endpoint's port: `http://HOST:PORT/fn/{name}/`.
Whatever follows the function name is the request path the function sees
(`/fn/hello/a/b?x=1` arrives as rawPath `/a/b`, rawQueryString `x=1`), as if
`https://<url-id>.lambda-url.<region>.on.aws/a/b?x=1` had been called with
auth type NONE. `{name}` is the logical id, the FunctionName or an ARN.

The event and the response mapping follow the Developer Guide's
"Invoking Lambda function URLs" (payload format 2.0, cookies, inferred
responses). Where the guide is silent, the choices are marked below.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from aiohttp import web

from lambdatop.runtime.apigateway.binary import is_text
from lambdatop.runtime.apigateway.events import ApiContext, IncomingRequest, build_v2
from lambdatop.runtime.apigateway.responses import ProxyResponse, map_v2
from lambdatop.runtime.records import InvocationResult

URL_PREFIX = "/fn"
URL_INTERNAL_ERROR = b'{"Message":"Internal Server Error"}'

UrlResponse = ProxyResponse  # what the client sees: status, headers (Set-Cookie may repeat), body bytes
__all__ = ["URL_PREFIX", "UrlResponse", "build_event", "function_path", "is_text", "map_response", "url_id"]


def url_id(account_id: str, function_name: str) -> str:
    """A stable 32-character url-id, like the `<url-id>` in `<url-id>.lambda-url.<region>.on.aws`."""
    digest = hashlib.sha256(f"{account_id}:{function_name}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:32]


def function_path(name: str) -> str:
    """The local URL path of a function's URL (with the trailing slash, like a real function URL's root)."""
    return f"{URL_PREFIX}/{name}/"


def build_event(
    request: web.BaseRequest,
    body: bytes,
    *,
    raw_path: str,
    request_id: str,
    account_id: str,
    function_name: str,
    trace_header: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload-format-2.0 event Lambda builds for a function URL request (routeKey and stage `$default`)."""
    identifier = url_id(account_id, function_name)
    incoming = IncomingRequest.from_aiohttp(request, body, raw_path=raw_path)
    context = ApiContext(
        api_id=identifier, stage="$default", account_id=account_id, request_id=request_id,
        trace_header=trace_header, domain_name=incoming.host, time=now,
    )
    # What auth type NONE reports as the caller's account.
    event = build_v2(incoming, context, account_in_context="anonymous")
    event["requestContext"]["domainPrefix"] = identifier
    return event


def map_response(result: InvocationResult) -> UrlResponse:
    """Turn the function's answer into the HTTP response its URL sends (a function error is 502)."""
    return map_v2(result, URL_INTERNAL_ERROR)
