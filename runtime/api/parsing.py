"""Reading Lambda API requests: qualifiers, invocation and log types, the client context, bounded bodies."""

from __future__ import annotations

import base64
import binascii
import json

from aiohttp import web

from lambdatop.runtime.api import function_url
from lambdatop.runtime.errors import SYNC_PAYLOAD_LIMIT, InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from lambdatop.runtime.records import InvocationType

CLIENT_CONTEXT_LIMIT = 3583  # bytes of the base64 X-Amz-Client-Context header
# aiohttp refuses bodies over client_max_size itself; keep that well above Lambda's 6 MB so the
# 413 a client sees is Lambda's own RequestEntityTooLargeException, with Lambda's wording.
CLIENT_MAX_SIZE = 4 * SYNC_PAYLOAD_LIMIT


def qualified_name(name: str, qualifier: str | None) -> str:
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


def invocation_type(value: str | None) -> InvocationType:
    if value is None or value == "":
        return InvocationType.REQUEST_RESPONSE
    try:
        return InvocationType(value)
    except ValueError:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at 'invocationType' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ) from None


def log_type(value: str | None) -> str:
    if value is None or value in ("", "None"):
        return "None"
    if value == "Tail":
        return value
    raise InvalidParameterValue(
        f"1 validation error detected: Value '{value}' at 'logType' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [Tail, None]"
    )


def client_context(header: str | None) -> str | None:
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


async def read_body(request: web.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > CLIENT_MAX_SIZE:
        raise RequestTooLarge(declared, limit)
    body = await request.read()
    if len(body) > limit:
        raise RequestTooLarge(len(body), limit)
    return body


def raw_function_path(request: web.Request) -> str:
    """The path after `/fn/{name}`, still percent-encoded as the client sent it; `/` at least."""
    raw = request.rel_url.raw_path
    prefix_end = raw.find("/", len(function_url.URL_PREFIX) + 1)
    rest = raw[prefix_end:] if prefix_end != -1 else ""
    return rest or "/"


def size_of(exc: web.HTTPRequestEntityTooLarge, request: web.Request) -> int:
    """The size to report for a body aiohttp refused itself."""
    return request.content_length or getattr(exc, "actual_size", 0) or CLIENT_MAX_SIZE
