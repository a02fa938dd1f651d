"""The template's APIs: `Api` / `HttpApi` events, `AWS::Serverless::Api` / `HttpApi` resources, OpenAPI bodies.

What SAM's transform would create is rebuilt here: the implicit
`ServerlessRestApi` (stage `Prod`) for `Api` events without `RestApiId`, the
implicit `ServerlessHttpApi` (stage `$default`) for `HttpApi` events without
`ApiId`, `Globals.Api` / `Globals.HttpApi` under each API's own properties,
and routes from a `DefinitionBody`'s `paths` whose
`x-amazon-apigateway-integration` names a function of the template.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.apigateway.model import (
    ANY,
    DEFAULT_INTEGRATION_TIMEOUT_MS,
    DEFAULT_ROUTE,
    IMPLICIT_HTTP_API,
    IMPLICIT_REST_API,
    ApiDefinition,
    ApiKind,
    Authorizer,
    AuthorizerType,
    Cors,
    Route,
)
from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.config.intrinsics import IntrinsicResolver

_RESOURCE_KIND = {"AWS::Serverless::Api": ApiKind.REST, "AWS::Serverless::HttpApi": ApiKind.HTTP}
_EVENT_KIND = {"Api": ApiKind.REST, "HttpApi": ApiKind.HTTP}
_OPENAPI_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method")
_FUNCTION_IN_URI = re.compile(r"function:([A-Za-z0-9_.-]+)(?::[^/]*)?/invocations")
_GETATT_PLACEHOLDER = re.compile(r"<GetAtt ([A-Za-z0-9]+)\.Arn>")
NO_AUTHORIZER = ("NONE", "AWS_IAM")  # AWS_IAM: SigV4 is not checked locally (the README says so)


@dataclass
class ApiRoutes:
    """Everything the template declares: its APIs and their routes, and what could not be read."""

    apis: dict[str, ApiDefinition] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def api_id_for(logical_id: str) -> str:
    """A stable 10-character id like API Gateway's (`a1b2c3d4e5`), so URLs and events stay the same across runs."""
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]


def read_routes(config: FleetConfig) -> ApiRoutes:
    """Every API route of the config's template and of its functions' events."""
    reader = _Reader(config)
    return reader.read()


def has_routes(config: FleetConfig) -> bool:
    """True when the config's template declares at least one API route (else no API port is opened).

    Here, not beside the server, so a run without routes never imports the gateway's HTTP side."""
    return bool(read_routes(config).routes)


class _Reader:
    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.template: Mapping[str, Any] = config.template or {}
        self.resources: Mapping[str, Any] = self.template.get("Resources") or {}
        self.result = ApiRoutes()
        physical = {(f.function_name or f.name): name for name, f in config.functions.items()}
        self.by_physical = physical | {name: name for name in config.functions}
        self.resolver = IntrinsicResolver(
            parameters=config.parameters or _parameter_defaults(self.template), pseudo=_pseudo(config),
            mappings=self.template.get("Mappings") or {}, conditions=self.template.get("Conditions") or {},
            function_arns={name: config.function_arn(f.function_name or name) for name, f in config.functions.items()},
            resource_names={rid: rid for rid in self.resources} | {n: f.function_name or n for n, f in config.functions.items()},
        )

    def read(self) -> ApiRoutes:
        for rid, resource in self.resources.items():
            if isinstance(resource, Mapping) and resource.get("Type") in _RESOURCE_KIND:
                self._api(rid, _RESOURCE_KIND[resource["Type"]], resource.get("Properties") or {})
        for name, function in self.config.functions.items():
            for event_name, event in (function.events or {}).items():
                if isinstance(event, Mapping) and event.get("Type") in _EVENT_KIND:
                    self._event_route(name, str(event_name), _EVENT_KIND[event["Type"]], event.get("Properties") or {})
        return self.result

    # -- APIs -----------------------------------------------------------------------------

    def _api(self, rid: str, kind: ApiKind, raw: Mapping[str, Any]) -> ApiDefinition:
        globals_key = "Api" if kind is ApiKind.REST else "HttpApi"
        props = {**(self.resolver.resolve((self.template.get("Globals") or {}).get(globals_key) or {})),
                 **self.resolver.resolve(dict(raw))}
        default_stage = "Prod" if kind is ApiKind.REST and rid == IMPLICIT_REST_API else "$default"
        auth = props.get("Auth") or {}
        api = ApiDefinition(
            logical_id=rid, kind=kind, stage=str(props.get("StageName") or default_stage), api_id=api_id_for(rid),
            cors=_cors(props.get("Cors") if kind is ApiKind.REST else props.get("CorsConfiguration"), kind),
            binary_media_types=tuple(str(t).replace("~1", "/") for t in props.get("BinaryMediaTypes") or ()),
            authorizers=self._authorizers(rid, kind, auth.get("Authorizers") or {}),
            default_authorizer=_text(auth.get("DefaultAuthorizer")),
            stage_variables={str(k): str(v) for k, v in (props.get("Variables") or props.get("StageVariables") or {}).items()},
            name=_text(props.get("Name")),
        )
        self.result.apis[rid] = api
        body = props.get("DefinitionBody")
        if isinstance(body, Mapping):
            self._openapi_routes(api, body)
        elif props.get("DefinitionUri"):
            self.result.warnings.append(f"{rid}: DefinitionUri is not read (inline the OpenAPI as DefinitionBody)")
        return api

    def _authorizers(self, rid: str, kind: ApiKind, specs: Mapping[str, Any]) -> dict[str, Authorizer]:
        found: dict[str, Authorizer] = {}
        for name, spec in specs.items():
            if not isinstance(spec, Mapping):
                continue
            identity = spec.get("Identity") or {}
            ttl = int(identity.get("ReauthorizeEvery", 300 if kind is ApiKind.REST else 0) or 0)
            if "JwtConfiguration" in spec or "UserPoolArn" in spec:
                jwt = spec.get("JwtConfiguration") or {}
                source = spec.get("IdentitySource") or identity.get("Header") or "$request.header.Authorization"
                found[name] = Authorizer(
                    name, AuthorizerType.JWT, identity_sources=(_header_source(str(source)),),
                    audience=tuple(str(a) for a in jwt.get("audience") or ()), issuer=_text(jwt.get("issuer")),
                )
                continue
            function = self._function_of(spec.get("FunctionArn"))
            if function is None:
                self.result.warnings.append(f"{rid}: authorizer {name!r}: FunctionArn is not a function of the template")
                continue
            if kind is ApiKind.REST and str(spec.get("FunctionPayloadType", "TOKEN")).upper() == "TOKEN":
                header = str(identity.get("Header") or "Authorization")
                found[name] = Authorizer(name, AuthorizerType.TOKEN, function, (f"$request.header.{header}",), ttl,
                                         validation_regex=_text(identity.get("ValidationExpression")))
                continue
            sources = [f"$request.header.{h}" for h in identity.get("Headers") or ()]
            sources += [f"$request.querystring.{q}" for q in identity.get("QueryStrings") or ()]
            found[name] = Authorizer(
                name, AuthorizerType.REQUEST, function, tuple(sources), ttl,
                payload_version=str(spec.get("AuthorizerPayloadFormatVersion") or "1.0") if kind is ApiKind.HTTP else "1.0",
                simple_responses=bool(spec.get("EnableSimpleResponses", False)),
            )
        return found

    def _ensure_api(self, ref: Any, kind: ApiKind) -> ApiDefinition | None:
        rid = _logical_id(ref) or (IMPLICIT_REST_API if kind is ApiKind.REST else IMPLICIT_HTTP_API)
        if rid in self.result.apis:
            return self.result.apis[rid]
        if rid in (IMPLICIT_REST_API, IMPLICIT_HTTP_API):
            return self._api(rid, kind, {})
        return None

    # -- routes ---------------------------------------------------------------------------

    def _event_route(self, function: str, event_name: str, kind: ApiKind, props: Mapping[str, Any]) -> None:
        where = f"{function}.Events.{event_name}"
        api = self._ensure_api(props.get("RestApiId") if kind is ApiKind.REST else props.get("ApiId"), kind)
        if api is None:
            self.result.warnings.append(f"{where}: its API is not an AWS::Serverless::{'Api' if kind is ApiKind.REST else 'HttpApi'} of the template")
            return
        path, method = props.get("Path"), props.get("Method")
        if kind is ApiKind.HTTP and path is None and method is None:
            path, method = DEFAULT_ROUTE, ANY
        if not isinstance(path, str) or (kind is ApiKind.REST and not method):
            self.result.warnings.append(f"{where}: needs a Path and a Method")
            return
        auth = props.get("Auth") or {}
        self._add(Route(
            api=api, method=_method(method or ANY), path=path, function=function,
            payload_version=str(props.get("PayloadFormatVersion") or ("1.0" if kind is ApiKind.REST else "2.0")),
            timeout_ms=int(props.get("TimeoutInMillis") or DEFAULT_INTEGRATION_TIMEOUT_MS),
            authorizer=_route_authorizer(api, auth.get("Authorizer") if isinstance(auth, Mapping) else None),
            source=where,
        ))

    def _openapi_routes(self, api: ApiDefinition, body: Mapping[str, Any]) -> None:
        for path, operations in (body.get("paths") or {}).items():
            if not isinstance(operations, Mapping):
                continue
            for verb in _OPENAPI_METHODS:
                operation = operations.get(verb)
                if not isinstance(operation, Mapping):
                    continue
                integration = operation.get("x-amazon-apigateway-integration") or {}
                function = self._function_of(integration.get("uri"))
                if function is None or str(integration.get("type", "aws_proxy")).lower() != "aws_proxy":
                    continue
                security = operation.get("security")
                named = next(iter(security[0]), None) if isinstance(security, list) and security and security[0] else None
                authorizer = named if named in api.authorizers else (None if security == [] else api.default_authorizer)
                default_version = "1.0" if api.kind is ApiKind.REST else "2.0"
                self._add(Route(
                    api=api, method=ANY if verb.startswith("x-") else verb.upper(),
                    path=DEFAULT_ROUTE if path == DEFAULT_ROUTE else str(path), function=function,
                    payload_version=str(integration.get("payloadFormatVersion") or default_version),
                    timeout_ms=int(integration.get("timeoutInMillis") or DEFAULT_INTEGRATION_TIMEOUT_MS),
                    authorizer=authorizer, source=f"{api.logical_id}.DefinitionBody",
                ))

    def _add(self, route: Route) -> None:
        self.result.routes.append(route)

    def _function_of(self, value: Any) -> str | None:
        """The logical id of the template function an ARN or integration URI names, else None."""
        if value is None:
            return None
        text = str(self.resolver.resolve(value))
        placeholder = _GETATT_PLACEHOLDER.search(text)
        if placeholder and placeholder.group(1) in self.config.functions:
            return placeholder.group(1)
        named = _FUNCTION_IN_URI.search(text) or re.search(r"function:([A-Za-z0-9_.-]+)", text)
        if named:
            return self.by_physical.get(named.group(1))
        return self.by_physical.get(text)


# -- values ----------------------------------------------------------------------------------


def _route_authorizer(api: ApiDefinition, given: Any) -> str | None:
    if given is None:
        return api.default_authorizer
    name = str(given)
    return None if name in NO_AUTHORIZER else name


def _logical_id(ref: Any) -> str | None:
    """`MyApi` from `{"Ref": "MyApi"}`, `"<MyApi>"` (the config's placeholder) or `"MyApi"`."""
    if ref is None:
        return None
    if isinstance(ref, Mapping) and "Ref" in ref:
        return str(ref["Ref"])
    text = str(ref)
    return text[1:-1].removeprefix("Ref ") if text.startswith("<") and text.endswith(">") else text


def _method(value: Any) -> str:
    method = str(value).upper()
    return ANY if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD", "*") else method


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _header_source(source: str) -> str:
    return source if source.startswith("$") or source.startswith("method.") else f"$request.header.{source}"


def _unquote(value: Any) -> str:
    """REST's CORS values are quoted for a mapping template: `"'*'"` → `*`."""
    text = str(value).strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _items(value: Any, *, quoted: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = value if isinstance(value, list) else (_unquote(value) if quoted else str(value)).split(",")
    return tuple(p.strip() for p in (str(x) for x in parts) if p.strip())


def _cors(value: Any, kind: ApiKind) -> Cors | None:
    if value is None or value is False:
        return None
    if value is True:
        return Cors(allow_headers=("*",))
    if not isinstance(value, Mapping):  # REST's short form: Cors: "'*'" is the allowed origin
        return Cors(allow_origins=(_unquote(value),))
    quoted = kind is ApiKind.REST
    origins = value.get("AllowOrigin") if quoted else value.get("AllowOrigins")
    max_age = value.get("MaxAge")
    return Cors(
        allow_origins=_items(origins, quoted=quoted) or ("*",),
        allow_methods=_items(value.get("AllowMethods"), quoted=quoted) or ("*",),
        allow_headers=_items(value.get("AllowHeaders"), quoted=quoted),
        expose_headers=_items(value.get("ExposeHeaders"), quoted=quoted),
        max_age=int(_unquote(max_age)) if max_age is not None else None,
        allow_credentials=str(_unquote(value.get("AllowCredentials", False))).lower() == "true",
    )


def _parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name, spec in (template.get("Parameters") or {}).items():
        default = spec.get("Default") if isinstance(spec, Mapping) else None
        out[str(name)] = str(default) if default is not None else f"<Parameter {name}>"
    return out


def _pseudo(config: FleetConfig) -> dict[str, Any]:
    stack = config.root.name or "lambdatop"
    return {"AWS::Region": config.region, "AWS::AccountId": config.account_id, "AWS::StackName": stack,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": []}
