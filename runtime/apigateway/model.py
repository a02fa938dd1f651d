"""What an API is made of, as read from the template: APIs, routes, authorizers, CORS."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000  # API Gateway's default (and, for REST, its usual maximum)
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
ANY = "ANY"
DEFAULT_ROUTE = "$default"  # an HTTP API's catch-all route key


class ApiKind(enum.StrEnum):
    REST = "REST"  # AWS::Serverless::Api, `Api` events: payload format 1.0
    HTTP = "HTTP"  # AWS::Serverless::HttpApi, `HttpApi` events: payload format 2.0 unless told 1.0


class AuthorizerType(enum.StrEnum):
    TOKEN = "TOKEN"  # REST Lambda authorizer fed one header's token
    REQUEST = "REQUEST"  # REST or HTTP Lambda authorizer fed the request's identity sources
    JWT = "JWT"  # HTTP API JWT authorizer, or a REST Cognito user pool: claims decoded, signature NOT verified


@dataclass(frozen=True)
class Authorizer:
    """One authorizer of an API's `Auth.Authorizers`."""

    name: str
    type: AuthorizerType
    function: str | None = None  # the authorizer function's logical id (Lambda authorizers)
    identity_sources: tuple[str, ...] = ()  # e.g. "$request.header.Authorization", "method.request.querystring.key"
    ttl_s: int = 300  # ResultTtlInSeconds / ReauthorizeEvery (0 = no caching)
    validation_regex: str | None = None  # TOKEN: ReValidationRegex
    payload_version: str = "1.0"  # HTTP API Lambda authorizers: AuthorizerPayloadFormatVersion
    simple_responses: bool = False  # HTTP API: EnableSimpleResponses
    audience: tuple[str, ...] = ()  # JWT: what the token's aud / client_id must be (checked; the signature is not)
    issuer: str | None = None


@dataclass(frozen=True)
class Cors:
    """An API's CORS configuration, with quotes of REST's `"'*'"` style already removed."""

    allow_origins: tuple[str, ...] = ("*",)
    allow_methods: tuple[str, ...] = ("*",)
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class ApiDefinition:
    """One REST or HTTP API: its stage, and what applies to all of its routes."""

    logical_id: str
    kind: ApiKind
    stage: str
    api_id: str  # the 10-character id API Gateway would have given it (stable per logical id)
    cors: Cors | None = None
    binary_media_types: tuple[str, ...] = ()  # REST only; HTTP APIs decide by content type alone
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    default_authorizer: str | None = None
    stage_variables: dict[str, str] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class Route:
    """One method + path of an API, integrated with one function of the template."""

    api: ApiDefinition
    method: str  # upper case, or ANY
    path: str  # as written: "/pets/{id}", "/{proxy+}", or "$default"
    function: str  # the function's logical id
    payload_version: str = "1.0"
    timeout_ms: int = DEFAULT_INTEGRATION_TIMEOUT_MS
    authorizer: str | None = None  # a name in api.authorizers; None = open (Auth: {Authorizer: NONE} or no default)
    source: str = ""  # where it was declared: "HelloWorldFunction.Events.HelloWorld" or "MyApi.DefinitionBody"

    @property
    def route_key(self) -> str:
        """`GET /pets/{id}` (HTTP API's routeKey), or `$default`."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    @property
    def label(self) -> str:
        """What the store and the dashboard show: `GET /hello (ServerlessRestApi)`."""
        return f"{self.route_key} ({self.api.logical_id})"
