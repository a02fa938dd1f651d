"""Function URLs as the template declares them: a function's `FunctionUrlConfig` (AuthType, Cors, InvokeMode).

Only functions with a `FunctionUrlConfig` (their own, or `Globals.Function`'s)
have a function URL on AWS, so only they answer GetFunctionUrlConfig; their
`Cors` is applied to `/fn/NAME/` the way Lambda applies it (preflight answered
by Lambda, headers added to responses). `/fn/NAME/` itself answers for every
function: a lambdatop convenience. AuthType AWS_IAM is reported, not enforced
(SigV4 is not checked locally).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.apigateway.model import Cors
from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.errors import LambdaServiceError


class FunctionUrlNotFound(LambdaServiceError):
    """GetFunctionUrlConfig on a function the template gives no FunctionUrlConfig."""

    status = 404
    code = "ResourceNotFoundException"
    error_kind = "User"
    message_key = "Message"

    def __init__(self) -> None:
        super().__init__("The resource you requested does not exist.")


@dataclass(frozen=True)
class FunctionUrlSettings:
    auth_type: str = "NONE"
    invoke_mode: str = "BUFFERED"
    cors: Cors | None = None

    def cors_body(self) -> dict[str, Any] | None:
        """The `Cors` object of GetFunctionUrlConfig's answer."""
        if self.cors is None:
            return None
        cors = self.cors
        body: dict[str, Any] = {"AllowOrigins": list(cors.allow_origins), "AllowMethods": list(cors.allow_methods),
                                "AllowHeaders": list(cors.allow_headers), "ExposeHeaders": list(cors.expose_headers),
                                "AllowCredentials": cors.allow_credentials}
        if cors.max_age is not None:
            body["MaxAge"] = cors.max_age
        return body


def url_settings(config: FleetConfig, function: str) -> FunctionUrlSettings | None:
    """The function's FunctionUrlConfig from the template, or None when it has no function URL."""
    template = config.template or {}
    resource = (template.get("Resources") or {}).get(function)
    props = resource.get("Properties") if isinstance(resource, Mapping) else None
    own = (props or {}).get("FunctionUrlConfig")
    inherited = ((template.get("Globals") or {}).get("Function") or {}).get("FunctionUrlConfig")
    spec = own if own is not None else inherited
    if not isinstance(spec, Mapping):
        return None
    cors = spec.get("Cors")
    return FunctionUrlSettings(
        auth_type=str(spec.get("AuthType", "NONE")), invoke_mode=str(spec.get("InvokeMode", "BUFFERED")),
        cors=_cors(cors) if isinstance(cors, Mapping) else None,
    )


def _cors(spec: Mapping[str, Any]) -> Cors:
    def items(key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in spec.get(key) or ())

    max_age = spec.get("MaxAge")
    return Cors(
        allow_origins=items("AllowOrigins") or ("*",), allow_methods=items("AllowMethods") or ("*",),
        allow_headers=items("AllowHeaders"), expose_headers=items("ExposeHeaders"),
        max_age=int(max_age) if max_age is not None else None, allow_credentials=bool(spec.get("AllowCredentials", False)),
    )
