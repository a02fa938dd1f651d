"""CORS as the API's `Cors` / `CorsConfiguration` says, answered the way each kind of API does.

- Preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on
  a path that has routes is answered by lambdatop, never by the function:
  REST APIs as SAM's generated mock integration does (200, empty body, the
  Allow-* headers; Allow-Methods defaults to the path's methods), HTTP APIs
  as API Gateway's built-in CORS does (204; an origin it does not allow gets
  no CORS headers).
- Other responses: an HTTP API adds Access-Control-Allow-Origin (and
  Expose-Headers, Allow-Credentials) itself, over whatever the function sent.
  A REST API with a proxy integration does not: the function's own headers
  are what the browser sees, as on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import CIMultiDict

from lambdatop.runtime.apigateway.model import ANY, ApiKind, Cors
from lambdatop.runtime.apigateway.responses import ProxyResponse

_ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return method == "OPTIONS" and "Origin" in headers and "Access-Control-Request-Method" in headers


def allowed_origin(cors: Cors, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials and origin else "*"
    if origin and origin in cors.allow_origins:
        return origin
    return None


def preflight(kind: ApiKind, cors: Cors, origin: str | None, path_methods: list[str]) -> ProxyResponse:
    headers: CIMultiDict[str] = CIMultiDict()
    if kind is ApiKind.REST:
        # SAM's mock integration sends its configured values as they are, whatever the Origin.
        headers["Access-Control-Allow-Origin"] = ",".join(cors.allow_origins)
        methods = cors.allow_methods if cors.allow_methods != ("*",) else _path_methods(path_methods)
        headers["Access-Control-Allow-Methods"] = ",".join(methods)
        if cors.allow_headers:
            headers["Access-Control-Allow-Headers"] = ",".join(cors.allow_headers)
        _common(headers, cors)
        headers["Content-Type"] = "application/json"
        return ProxyResponse(200, headers, b"")
    value = allowed_origin(cors, origin)
    if value is not None:
        headers["Access-Control-Allow-Origin"] = value
        headers["Access-Control-Allow-Methods"] = ",".join(cors.allow_methods)
        if cors.allow_headers:
            headers["Access-Control-Allow-Headers"] = ",".join(cors.allow_headers)
        _common(headers, cors)
    return ProxyResponse(204, headers, b"")


def add_response_headers(kind: ApiKind, cors: Cors | None, origin: str | None, response: ProxyResponse) -> None:
    """HTTP APIs put their CORS headers on every response (replacing the function's); REST APIs leave it alone."""
    if kind is not ApiKind.HTTP or cors is None:
        return
    value = allowed_origin(cors, origin)
    if value is None:
        return
    for name in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials"):
        response.headers.popall(name, None)
    response.headers["Access-Control-Allow-Origin"] = value
    if cors.expose_headers:
        response.headers["Access-Control-Expose-Headers"] = ",".join(cors.expose_headers)
    if cors.allow_credentials:
        response.headers["Access-Control-Allow-Credentials"] = "true"


def _common(headers: CIMultiDict[str], cors: Cors) -> None:
    if cors.max_age is not None:
        headers["Access-Control-Max-Age"] = str(cors.max_age)
    if cors.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"


def _path_methods(methods: list[str]) -> tuple[str, ...]:
    chosen = set(_ALL_METHODS) if ANY in methods else {*methods, "OPTIONS"}
    return tuple(sorted(chosen))
