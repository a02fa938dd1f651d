"""Authorizers: Lambda authorizers run as functions of the template; JWTs decoded, NOT verified.

- REST `TOKEN`: the identity header's value (checked against
  `ValidationExpression`) goes to the authorizer as `authorizationToken`; it
  answers with an IAM policy, evaluated against the request's method ARN.
- REST `REQUEST`, HTTP API `REQUEST` (payload 1.0 or 2.0): the request's
  identity sources must all be present (else 401); the authorizer answers
  with a policy, or with `{"isAuthorized": ...}` when EnableSimpleResponses.
- The answer's `context` (and principalId) reaches the route's function in
  `requestContext.authorizer` (`.lambda` for HTTP API payload 2.0).
- Answers are cached per authorizer and identity for `ReauthorizeEvery`
  seconds (a cached policy is evaluated against each new method ARN).
- JWT (HTTP API) and Cognito user pools (REST): the token's claims are
  decoded into `requestContext.authorizer.jwt.claims` / `.claims`; `exp`,
  `iss` and `aud` are checked, the signature is not.

Each authorizer run is a real invocation through `Fleet.invoke` (trigger
`api`), a child of the API's trace segment.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.apigateway.events import IncomingRequest
from lambdatop.runtime.apigateway.model import ApiKind, Authorizer, AuthorizerType, Route
from lambdatop.runtime.records import InvocationResult

UNSIGNED_JWT_NOTE = "JWT authorizers decode the token's claims; its signature is NOT verified locally"
_CACHE_LIMIT = 10_000

# (authorizer function, its event, the trace header, the route label for its record) -> its result
InvokeAuthorizer = Callable[[str, dict[str, Any], str, str], Awaitable[InvocationResult]]


@dataclass(frozen=True)
class Decision:
    """An authorizer's verdict: allowed with what the route's requestContext.authorizer holds, or an HTTP answer."""

    allowed: bool
    status: int = 200
    message: str | None = None
    context: dict[str, Any] | None = None

    @classmethod
    def deny(cls, status: int, message: str | None) -> Decision:
        return cls(False, status, message)


@dataclass(frozen=True)
class _Cached:
    expires: float
    answer: dict[str, Any]


def unauthorized() -> Decision:
    return Decision.deny(401, "Unauthorized")


def method_arn(route: Route, method: str, path: str, region: str, account_id: str) -> str:
    api = route.api
    return f"arn:aws:execute-api:{region}:{account_id}:{api.api_id}/{api.stage}/{method}{path}"


class AuthorizerRunner:
    """Decides whether a request may reach its route, invoking Lambda authorizers through `invoke`."""

    def __init__(self, invoke: InvokeAuthorizer, *, region: str, account_id: str) -> None:
        self.invoke = invoke
        self.region = region
        self.account_id = account_id
        self._cache: dict[tuple[str, str, tuple[str, ...]], _Cached] = {}

    async def decide(self, authorizer: Authorizer, route: Route, request: IncomingRequest,
                     event: dict[str, Any], trace: str) -> Decision:
        """`event` is the route's event (its shape feeds REQUEST authorizers); `trace` the API segment's header."""
        if authorizer.type is AuthorizerType.JWT:
            return jwt_decision(authorizer, route, request)
        identity = identity_values(authorizer, request)
        if identity is None:
            return unauthorized()
        arn = method_arn(route, request.method, request.path, self.region, self.account_id)
        if authorizer.type is AuthorizerType.TOKEN and authorizer.validation_regex:
            if not re.fullmatch(authorizer.validation_regex, identity[0]):
                return unauthorized()
        key = (route.api.logical_id, authorizer.name, identity)
        cached = self._cache.get(key)
        if cached is not None and cached.expires > time.time():
            answer = cached.answer
        else:
            answer_or_denial = await self._run(authorizer, route, event, identity, arn, trace)
            if isinstance(answer_or_denial, Decision):
                return answer_or_denial
            answer = answer_or_denial
            if authorizer.ttl_s > 0 and identity:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = _Cached(time.time() + authorizer.ttl_s, answer)
        return _interpret(authorizer, route, answer, arn)

    async def _run(self, authorizer: Authorizer, route: Route, event: dict[str, Any], identity: tuple[str, ...],
                   arn: str, trace: str) -> dict[str, Any] | Decision:
        payload = _authorizer_event(authorizer, route, event, identity, arn)
        assert authorizer.function is not None
        result = await self.invoke(authorizer.function, payload, trace, f"authorizer {authorizer.name} of {route.label}")
        if result.function_error:
            # An authorizer that raises "Unauthorized" is API Gateway's 401; any other failure is a 500.
            if "Unauthorized" in (result.record.error_message or ""):
                return unauthorized()
            return Decision.deny(500, None)
        try:
            answer = json.loads(result.response)
        except ValueError:
            return Decision.deny(500, None)
        if not isinstance(answer, dict):
            return Decision.deny(500, None)
        return answer


def identity_values(authorizer: Authorizer, request: IncomingRequest) -> tuple[str, ...] | None:
    """The values of the authorizer's identity sources, or None when one is missing (API Gateway's 401)."""
    values = []
    for source in authorizer.identity_sources:
        value: str | None
        if source.startswith(("$request.header.", "method.request.header.")):
            value = request.header(source.rsplit(".", 1)[1])
        elif source.startswith(("$request.querystring.", "method.request.querystring.")):
            value = request.query_value(source.rsplit(".", 1)[1])
        else:
            value = None
        if not value:
            return None
        values.append(value)
    return tuple(values)


def _authorizer_event(authorizer: Authorizer, route: Route, event: dict[str, Any], identity: tuple[str, ...],
                      arn: str) -> dict[str, Any]:
    if authorizer.type is AuthorizerType.TOKEN:
        return {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": arn}
    if route.api.kind is ApiKind.HTTP and authorizer.payload_version == "2.0":
        shaped = {k: v for k, v in event.items() if k != "isBase64Encoded" and k != "body"}
        return {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": list(identity), **shaped}
    shaped = {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}
    return {"type": "REQUEST", "methodArn": arn, **shaped} | ({"identitySource": ",".join(identity)}
                                                              if route.api.kind is ApiKind.HTTP else {})


def _interpret(authorizer: Authorizer, route: Route, answer: dict[str, Any], arn: str) -> Decision:
    context: dict[str, Any] = answer["context"] if isinstance(answer.get("context"), dict) else {}
    http_v2 = route.api.kind is ApiKind.HTTP and authorizer.payload_version == "2.0"
    if authorizer.simple_responses and http_v2:
        if answer.get("isAuthorized") is True:
            return Decision(True, context={"lambda": context})
        return Decision.deny(403, "Forbidden")
    verdict = evaluate_policy(answer.get("policyDocument"), arn)
    if verdict is not True:
        if route.api.kind is ApiKind.HTTP:
            return Decision.deny(403, "Forbidden")
        return Decision.deny(403, "User is not authorized to access this resource" +
                             (" with an explicit deny" if verdict is False else ""))
    principal = answer.get("principalId")
    if http_v2:
        return Decision(True, context={"lambda": context, **({"principalId": principal} if principal else {})})
    return Decision(True, context={**context, "principalId": principal, "integrationLatency": 0})


def evaluate_policy(policy: Any, arn: str) -> bool | None:
    """IAM's rule for execute-api:Invoke on `arn`: an explicit Deny wins (False), then an Allow (True), else None."""
    if not isinstance(policy, dict):
        return None
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not _mentions(statement.get("Action"), "execute-api:Invoke"):
            continue
        if not _mentions(statement.get("Resource"), arn):
            continue
        if str(statement.get("Effect", "")).lower() == "deny":
            return False
        if str(statement.get("Effect", "")).lower() == "allow":
            allowed = True
    return True if allowed else None


def _mentions(value: Any, target: str) -> bool:
    patterns = value if isinstance(value, list) else [value]
    return any(isinstance(p, str) and fnmatch.fnmatchcase(target, p) for p in patterns)


# -- JWT ---------------------------------------------------------------------------------------


def decode_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT (header.payload.signature); the signature is not checked."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_decision(authorizer: Authorizer, route: Route, request: IncomingRequest) -> Decision:
    values = identity_values(authorizer, request)
    if values is None:
        return unauthorized()
    token = values[0].removeprefix("Bearer ").removeprefix("bearer ").strip()
    claims = decode_claims(token)
    if claims is None:
        return unauthorized()
    expires = claims.get("exp")
    if isinstance(expires, (int, float)) and expires < time.time():
        return unauthorized()
    if authorizer.issuer and claims.get("iss") != authorizer.issuer:
        return unauthorized()
    if authorizer.audience:
        audiences = claims.get("aud", claims.get("client_id"))
        given = audiences if isinstance(audiences, list) else [audiences]
        if not set(map(str, given)) & set(authorizer.audience):
            return unauthorized()
    if route.api.kind is ApiKind.REST:
        return Decision(True, context={"claims": claims})
    scope = claims.get("scope")
    return Decision(True, context={"jwt": {"claims": {k: _claim_text(v) for k, v in claims.items()},
                                           "scopes": str(scope).split() if scope else None}})


def _claim_text(value: Any) -> str:
    """HTTP APIs hand claims over as strings (lists as `[a b]`)."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
