"""The function's answer as the HTTP response API Gateway (or a function URL) sends.

Format 2.0 (HTTP APIs, function URLs) is lenient: a valid JSON answer without
`statusCode` is sent as it is, 200 application/json; `cookies` become
Set-Cookie headers. Format 1.0 (REST) is strict: the answer must be an object
with `statusCode`, a string `body` and nothing but `headers`,
`multiValueHeaders` and `isBase64Encoded` beside them, else it is a
"Malformed Lambda proxy response" and the client gets 502.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from lambdatop.runtime.apigateway.binary import matches_media_type
from lambdatop.runtime.records import InvocationResult

REST_INTERNAL_ERROR = b'{"message": "Internal server error"}'
HTTP_INTERNAL_ERROR = b'{"message":"Internal Server Error"}'
_V1_KEYS = frozenset({"statusCode", "body", "headers", "multiValueHeaders", "isBase64Encoded"})


@dataclass(slots=True)
class ProxyResponse:
    """What the client sees: status, headers (Set-Cookie may repeat) and body bytes."""

    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes = b""
    reason: str | None = None  # why lambdatop answered an error itself (sent as X-Lambdatop-Reason)

    def to_web(self) -> web.Response:
        headers = CIMultiDict(self.headers)
        if self.reason:
            headers["X-Lambdatop-Reason"] = self.reason
        return web.Response(status=self.status, headers=headers, body=self.body)


def gateway_error(status: int, body: bytes, reason: str | None = None, error_type: str | None = None) -> ProxyResponse:
    """An answer API Gateway itself gives (not the function): JSON `{"message": ...}`."""
    headers: CIMultiDict[str] = CIMultiDict()
    headers["Content-Type"] = "application/json"
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return ProxyResponse(status, headers, body, reason)


def map_v2(result: InvocationResult, error_body: bytes = HTTP_INTERNAL_ERROR) -> ProxyResponse:
    """Payload format 2.0's response mapping (HTTP APIs and function URLs)."""
    bad = _bad_gateway_maker(error_body)
    if result.function_error:
        return bad("the function failed: " + (result.record.error_type or "Unhandled"))
    try:
        answer = json.loads(result.response) if result.response.strip() else None
    except ValueError:
        return bad("the function's response is not JSON")
    headers: CIMultiDict[str] = CIMultiDict()
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # The guide: valid JSON without a statusCode is sent as it is, 200, application/json.
        headers["Content-Type"] = "application/json"
        return ProxyResponse(200, headers, result.response)
    status = _status(answer["statusCode"])
    if status is None:
        return bad(_status_problem(answer["statusCode"]))
    response_headers = answer.get("headers") or {}
    cookies = answer.get("cookies") or []
    if not isinstance(response_headers, dict) or not isinstance(cookies, list):
        return bad("headers must be an object and cookies a list of strings")
    for name, value in response_headers.items():
        if not _valid_header(name, value):
            return bad(f"header {name!r} is not a valid HTTP header")
        headers[name] = _header_value(value)
    for cookie in cookies:
        if "\n" in str(cookie) or "\r" in str(cookie):
            return bad("a cookie holds a line break")
        headers.add("Set-Cookie", str(cookie))
    body = answer.get("body")
    if body is None:
        payload = b""
    elif answer.get("isBase64Encoded"):
        decoded = _b64(body)
        if decoded is None:
            return bad("isBase64Encoded is true but the body is not base64")
        payload = decoded
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = json.dumps(body).encode()
    # Inferred: without a Content-Type of its own, a structured response is sent as application/json.
    headers.setdefault("Content-Type", "application/json")
    return ProxyResponse(status, headers, payload)


def map_v1(result: InvocationResult, *, binary_media_types: tuple[str, ...] = (), accept: str = "",
           error_body: bytes = REST_INTERNAL_ERROR) -> ProxyResponse:
    """Payload format 1.0's response mapping (REST APIs; HTTP API routes with PayloadFormatVersion 1.0)."""
    bad = _bad_gateway_maker(error_body)
    if result.function_error:
        return bad("the function failed: " + (result.record.error_type or "Unhandled"))
    try:
        answer = json.loads(result.response) if result.response.strip() else None
    except ValueError:
        return bad("Malformed Lambda proxy response: not JSON")
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return bad("Malformed Lambda proxy response: no statusCode")
    extra = sorted(set(answer) - _V1_KEYS)
    if extra:
        return bad(f"Malformed Lambda proxy response: unexpected key(s) {', '.join(extra)}")
    status = _status(answer["statusCode"])
    if status is None:
        return bad(f"Malformed Lambda proxy response: statusCode {answer['statusCode']!r}")
    single = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict) or not all(isinstance(v, list) for v in multi.values()):
        return bad("Malformed Lambda proxy response: headers must be an object, multiValueHeaders an object of lists")
    headers = _v1_headers(single, multi)
    if isinstance(headers, str):
        return bad(headers)
    body = answer.get("body")
    if body is not None and not isinstance(body, str):
        return bad("Malformed Lambda proxy response: body must be a string")
    payload = (body or "").encode()
    headers.setdefault("Content-Type", "application/json")
    if answer.get("isBase64Encoded") and body:
        # API Gateway decodes only when the client's Accept names a binary media type of the API;
        # otherwise the base64 text goes through as it is.
        if matches_media_type(accept, binary_media_types):
            decoded = _b64(body)
            if decoded is None:
                return bad("isBase64Encoded is true but the body is not base64")
            payload = decoded
    return ProxyResponse(status, headers, payload)


def _v1_headers(single: dict[str, Any], multi: dict[str, list[Any]]) -> CIMultiDict[str] | str:
    """A 1.0 answer's headers (multiValueHeaders' values win for a name in both), or what is wrong with them."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name, values in multi.items():
        for value in values:
            if not _valid_header(name, value):
                return f"header {name!r} is not a valid HTTP header"
            headers.add(name, _header_value(value))
    for name, value in single.items():
        if not _valid_header(name, value):
            return f"header {name!r} is not a valid HTTP header"
        if name not in headers:
            headers.add(name, _header_value(value))
    return headers


def _bad_gateway_maker(error_body: bytes) -> Callable[[str], ProxyResponse]:
    return lambda reason: gateway_error(502, error_body, reason, "InternalServerErrorException")


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        status = int(value)
    except (TypeError, ValueError):
        return None
    return status if 100 <= status <= 599 else None


def _status_problem(value: Any) -> str:
    return f"statusCode {value!r} is not {'an HTTP status' if _status(value) is None and _numeric(value) else 'a number'}"


def _numeric(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def _b64(body: Any) -> bytes | None:
    try:
        return base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError):
        return None


def _valid_header(name: Any, value: Any) -> bool:
    return isinstance(name, str) and not any(c in name for c in "\r\n") and not any(c in str(value) for c in "\r\n")


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
