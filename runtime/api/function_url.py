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
import binascii
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from lambdatop.runtime.records import InvocationResult

URL_PREFIX = "/fn"

# Bodies of these content types reach the function as text; anything else is base64.
# Inferred (the guide only says "if the content type of the request is binary"):
# form posts arrive base64-encoded on real function URLs, so they count as binary here.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/yaml",
               "application/x-yaml", "application/graphql", "application/ld+json")
_TEXT_SUFFIXES = ("+json", "+xml", "+yaml")


@dataclass(slots=True)
class UrlResponse:
    """What the client sees: status, headers (Set-Cookie may repeat) and body bytes."""

    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes = b""

    def to_web(self) -> web.Response:
        return web.Response(status=self.status, headers=self.headers, body=self.body)


def url_id(account_id: str, function_name: str) -> str:
    """A stable 32-character url-id, like the `<url-id>` in `<url-id>.lambda-url.<region>.on.aws`."""
    digest = hashlib.sha256(f"{account_id}:{function_name}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:32]


def function_path(name: str) -> str:
    """The local URL path of a function's URL (with the trailing slash, like a real function URL's root)."""
    return f"{URL_PREFIX}/{name}/"


def is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(_TEXT_SUFFIXES)


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
    """The payload-format-2.0 event Lambda builds for a function URL request."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # Repeated headers are joined with commas, as the guide's "value1,value2" shows.
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    peer = request.remote or "127.0.0.1"
    headers.setdefault("x-forwarded-for", peer)
    headers.setdefault("x-forwarded-proto", request.scheme)
    port = _local_port(request)
    if port is not None:
        headers.setdefault("x-forwarded-port", str(port))
    headers["x-amzn-trace-id"] = trace_header

    query: dict[str, str] = {}
    for name, value in request.rel_url.query.items():
        query[name] = f"{query[name]},{value}" if name in query else value

    identifier = url_id(account_id, function_name)
    host = request.headers.get("Host", request.host)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": request.rel_url.raw_query_string,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",  # what auth type NONE reports
            "apiId": identifier,
            "domainName": host,
            "domainPrefix": identifier,
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": peer,
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        text = _as_text(body, request.headers.get("Content-Type", ""))
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def map_response(result: InvocationResult) -> UrlResponse:
    """Turn the function's answer into the HTTP response its URL sends."""
    headers: CIMultiDict[str] = CIMultiDict()
    if result.function_error:
        # Inferred: a function error (exception, timeout, crash) reaches a URL client as 502.
        headers["Content-Type"] = "application/json"
        return UrlResponse(502, headers, b'{"Message":"Internal Server Error"}')
    try:
        answer = json.loads(result.response) if result.response.strip() else None
    except ValueError:
        return _bad_gateway("the function's response is not JSON")
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # The guide: valid JSON without a statusCode is sent as it is, 200, application/json.
        headers["Content-Type"] = "application/json"
        return UrlResponse(200, headers, result.response)
    try:
        status = int(answer["statusCode"])
    except (TypeError, ValueError):
        return _bad_gateway(f"statusCode {answer['statusCode']!r} is not a number")
    if not 100 <= status <= 599:
        return _bad_gateway(f"statusCode {status} is not an HTTP status")
    response_headers = answer.get("headers") or {}
    cookies = answer.get("cookies") or []
    if not isinstance(response_headers, dict) or not isinstance(cookies, list):
        return _bad_gateway("headers must be an object and cookies a list of strings")
    for name, value in response_headers.items():
        if not isinstance(name, str) or "\n" in name or "\r" in name or "\n" in str(value) or "\r" in str(value):
            return _bad_gateway(f"header {name!r} is not a valid HTTP header")
        headers[name] = _header_value(value)
    for cookie in cookies:
        if "\n" in str(cookie) or "\r" in str(cookie):
            return _bad_gateway("a cookie holds a line break")
        headers.add("Set-Cookie", str(cookie))
    body = answer.get("body")
    if body is None:
        payload = b""
    elif answer.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            return _bad_gateway("isBase64Encoded is true but the body is not base64")
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = json.dumps(body).encode()
    # Inferred: without a Content-Type of its own, a structured response is sent as application/json.
    headers.setdefault("Content-Type", "application/json")
    return UrlResponse(status, headers, payload)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bad_gateway(reason: str) -> UrlResponse:
    headers: CIMultiDict[str] = CIMultiDict()
    headers["Content-Type"] = "application/json"
    headers["X-Lambdatop-Reason"] = reason
    return UrlResponse(502, headers, b'{"Message":"Internal Server Error"}')


def _as_text(body: bytes, content_type: str) -> str | None:
    if not is_text(content_type):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _local_port(request: web.BaseRequest) -> int | None:
    transport = request.transport
    if transport is None:
        return None
    sockname = transport.get_extra_info("sockname")
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None
