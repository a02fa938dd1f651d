"""The `context` object a handler receives, as the Python runtime builds it.

Members and types follow awslambdaric's `lambda_context.py`: note that
`memory_limit_in_mb` is a *string*, as on AWS.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},cognito_identity_pool_id={self.cognito_identity_pool_id}])"


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, client: dict[str, Any]) -> None:
        self.installation_id = client.get("installation_id")
        self.app_title = client.get("app_title")
        self.app_version_name = client.get("app_version_name")
        self.app_version_code = client.get("app_version_code")
        self.app_package_name = client.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict[str, Any]) -> None:
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """What `handler(event, context)` gets as `context`."""

    def __init__(
        self,
        *,
        aws_request_id: str,
        deadline_ms: int,
        invoked_function_arn: str,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: str,
        log_group_name: str | None,
        log_stream_name: str | None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.tenant_id = tenant_id
        self._epoch_deadline_time_in_ms = deadline_ms
        identity = _json_object(cognito_identity)
        self.identity = CognitoIdentity(identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId"))
        client = _json_object(client_context)
        self._w3c_fields = _w3c_fields(client)
        self.client_context = ClientContext(client) if client_context else None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._epoch_deadline_time_in_ms - int(round(time.time() * 1000)))

    def w3c(self) -> dict[str, str]:
        """The W3C trace context the caller sent in the client context (awslambdaric 4.2 lambda_context.py)."""
        return dict(self._w3c_fields)

    def log(self, msg: str) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity},tenant_id={self.tenant_id}])"
        )


# lambda_context.W3C_ALLOWED_FIELDS: only these string fields of clientContext.w3c reach w3c().
W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")


def _w3c_fields(client_context: dict[str, Any]) -> dict[str, str]:
    """`_extract_and_strip_w3c`: pops `w3c` from the client context, so `context.client_context` never shows it."""
    raw = client_context.pop("w3c", None)
    if not isinstance(raw, dict):
        return {}
    return {key: raw[key] for key in W3C_ALLOWED_FIELDS if isinstance(raw.get(key), str)}


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
