"""An HTTP request as API Gateway hands it to a function: payload format 1.0 or 2.0.

Format 1.0 (REST APIs, and HTTP APIs with `PayloadFormatVersion: "1.0"`)
keeps header case, holds the last value of a repeated header or query
parameter in `headers` / `queryStringParameters` and all of them in the
`multiValue…` twins. Format 2.0 (HTTP APIs, function URLs) lower-cases
header names, joins repeats with commas, moves `Cookie` into `cookies`, and
has `routeKey`, `rawPath` and `rawQueryString`. Shapes follow the API Gateway
Developer Guide ("Working with AWS Lambda proxy integrations for HTTP APIs",
"Input format of a Lambda function for proxy integration").
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from lambdatop.runtime.apigateway.binary import as_text, matches_media_type


@dataclass(frozen=True)
class IncomingRequest:
    """What an event is built from, read once off the aiohttp request."""

    method: str
    path: str  # decoded, as matched against routes
    raw_path: str  # as the client sent it (still percent-encoded)
    raw_query: str
    headers: tuple[tuple[str, str], ...]  # in order, repeats kept, names as sent
    query: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    protocol: str
    scheme: str
    host: str
    port: int | None
    user_agent: str = ""

    @classmethod
    def from_aiohttp(cls, request: web.BaseRequest, body: bytes, *, raw_path: str | None = None) -> IncomingRequest:
        return cls(
            method=request.method, path=request.path, raw_path=raw_path or request.rel_url.raw_path,
            raw_query=request.rel_url.raw_query_string, headers=tuple(request.headers.items()),
            query=tuple(request.rel_url.query.items()), body=body, source_ip=request.remote or "127.0.0.1",
            protocol=f"HTTP/{request.version.major}.{request.version.minor}", scheme=request.scheme,
            host=request.headers.get("Host", request.host), port=_local_port(request),
            user_agent=request.headers.get("User-Agent", ""),
        )

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), as API Gateway's single-value maps hold it."""
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found

    def query_value(self, name: str) -> str | None:
        found = None
        for key, value in self.query:
            if key == name:
                found = value
        return found

    def cookies(self) -> list[str]:
        return [part.strip() for key, value in self.headers if key.lower() == "cookie"
                for part in value.split(";") if part.strip()]


@dataclass(frozen=True)
class ApiContext:
    """Where the request arrived, as the event's requestContext tells it."""

    api_id: str
    stage: str
    account_id: str
    request_id: str
    trace_header: str
    domain_name: str = ""
    route_key: str = "$default"  # 2.0; `GET /pets/{id}`
    resource_path: str = "/"  # 1.0's resource: the route's path as declared
    path_parameters: dict[str, str] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None
    time: float | None = None


def forwarded_headers(request: IncomingRequest, trace_header: str) -> list[tuple[str, str]]:
    """The request's headers plus what API Gateway adds: X-Forwarded-*, X-Amzn-Trace-Id."""
    headers = [(k, v) for k, v in request.headers if k.lower() != "x-amzn-trace-id"]
    present = {k.lower() for k, _ in headers}
    extra = [("X-Forwarded-For", request.source_ip), ("X-Forwarded-Proto", request.scheme)]
    if request.port is not None:
        extra.append(("X-Forwarded-Port", str(request.port)))
    headers += [(k, v) for k, v in extra if k.lower() not in present]
    headers.append(("X-Amzn-Trace-Id", trace_header))
    return headers


def _domain(context: ApiContext, request: IncomingRequest) -> tuple[str, str]:
    domain = context.domain_name or request.host or f"{context.api_id}.execute-api.localhost"
    return domain, domain.split(".", 1)[0].split(":", 1)[0]


def _clock(context: ApiContext) -> tuple[float, str]:
    now = time.time() if context.time is None else context.time
    return now, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _body(request: IncomingRequest, binary: bool) -> tuple[str | None, bool]:
    """(body, isBase64Encoded); `binary` is the API's decision to send it base64."""
    if not request.body:
        return None, False
    if not binary:
        text = request.body.decode("utf-8", "replace")
        return text, False
    return base64.b64encode(request.body).decode(), True


def build_v2(request: IncomingRequest, context: ApiContext, *, account_in_context: str | None = None) -> dict[str, Any]:
    """Payload format 2.0 (HTTP APIs; function URLs with routeKey and stage `$default`)."""
    now, stamp = _clock(context)
    headers: dict[str, str] = {}
    for name, value in forwarded_headers(request, context.trace_header):
        key = name.lower()
        if key == "cookie":
            continue
        # Repeated headers are joined with commas, as the guide's "value1,value2" shows.
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in request.query:
        query[name] = f"{query[name]},{value}" if name in query else value
    domain, prefix = _domain(context, request)
    raw_path = request.raw_path if context.stage == "$default" else f"/{context.stage}{request.raw_path}"
    request_context: dict[str, Any] = {
        "accountId": account_in_context or context.account_id,
        "apiId": context.api_id,
        "domainName": domain,
        "domainPrefix": prefix,
        "http": {"method": request.method, "path": raw_path, "protocol": request.protocol,
                 "sourceIp": request.source_ip, "userAgent": request.user_agent},
        "requestId": context.request_id,
        "routeKey": context.route_key,
        "stage": context.stage,
        "time": stamp,
        "timeEpoch": int(now * 1000),
    }
    if context.authorizer is not None:
        request_context["authorizer"] = context.authorizer
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": context.route_key, "rawPath": raw_path, "rawQueryString": request.raw_query,
    }
    cookies = request.cookies()
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = request_context
    if context.path_parameters:
        event["pathParameters"] = dict(context.path_parameters)
    if context.stage_variables:
        event["stageVariables"] = dict(context.stage_variables)
    text = as_text(request.body, request.header("Content-Type") or "") if request.body else None
    body, encoded = _body(request, text is None)
    event["isBase64Encoded"] = encoded
    if body is not None:
        event["body"] = body
    return event


def build_v1(request: IncomingRequest, context: ApiContext, *, binary_media_types: tuple[str, ...] = (),
             http_api: bool = False) -> dict[str, Any]:
    """Payload format 1.0: REST APIs (`http_api` for an HTTP API route with PayloadFormatVersion 1.0)."""
    now, stamp = _clock(context)
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in forwarded_headers(request, context.trace_header):
        headers[name] = value  # the last value of a repeated header
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query:
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    domain, prefix = _domain(context, request)
    stage_path = request.path if context.stage == "$default" else f"/{context.stage}{request.path}"
    request_context: dict[str, Any] = {
        "resourceId": context.api_id[:6],
        "resourcePath": context.resource_path,
        "httpMethod": request.method,
        "extendedRequestId": context.request_id,
        "requestTime": stamp,
        "path": stage_path,
        "accountId": context.account_id,
        "protocol": request.protocol,
        "stage": context.stage,
        "domainPrefix": prefix,
        "requestTimeEpoch": int(now * 1000),
        "requestId": context.request_id,
        "identity": _identity(request),
        "domainName": domain,
        "apiId": context.api_id,
    }
    if context.authorizer is not None:
        request_context["authorizer"] = context.authorizer
    elif http_api:
        request_context["authorizer"] = {"claims": None, "scopes": None}
    content_type = request.header("Content-Type") or ""
    binary = (matches_media_type(content_type, binary_media_types) if not http_api
              else as_text(request.body, content_type) is None)
    body, encoded = _body(request, binary)
    event: dict[str, Any] = {"version": "1.0"} if http_api else {}
    event |= {
        "resource": context.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(context.path_parameters) or None,
        "stageVariables": dict(context.stage_variables) or None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": encoded,
    }
    return event


def _identity(request: IncomingRequest) -> dict[str, Any]:
    """1.0's requestContext.identity: who called, as far as an unauthenticated local caller goes."""
    identity: dict[str, Any] = {key: None for key in (
        "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "apiKey", "principalOrgId",
        "accessKey", "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "apiKeyId", "user")}
    return identity | {"sourceIp": request.source_ip, "userAgent": request.user_agent}


def _local_port(request: web.BaseRequest) -> int | None:
    transport = request.transport
    if transport is None:
        return None
    sockname = transport.get_extra_info("sockname")
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None
