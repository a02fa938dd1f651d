"""Lambda API answers: JSON bodies with a request id, rest-json errors, the log tail header."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from lambdatop.runtime.errors import InvalidRequestContent, LambdaServiceError
from lambdatop.runtime.identifiers import request_id as new_request_id
from lambdatop.runtime.records import InvocationResult

LOG_TAIL_BYTES = 4096  # X-Amz-Log-Result carries the last 4 KB of the log


def json_response(body: dict[str, Any], status: int = 200, request_id: str | None = None) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-amzn-RequestId": request_id or new_request_id()},
    )


def server_error(status: int, message: str) -> web.Response:
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
