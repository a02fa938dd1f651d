"""Authorizers: Lambda authorizers of the template allow and deny, pass context, cache; JWT claims pass through."""

from __future__ import annotations

import base64
import json

import pytest

from lambdatop.runtime.records import InvocationResult

from tests.apigw_support import api_running, call, write_sam_project

ECHO = """
    import json

    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"""
TOKEN_AUTH = """
    def handler(event, context):
        token = event["authorizationToken"]
        if token == "deny":
            effect = "Deny"
        elif token.startswith("allow-"):
            effect = "Allow"
        else:
            raise Exception("Unauthorized")
        return {"principalId": token,
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
                "context": {"user": token[6:], "tier": 3}}
"""
REQUEST_AUTH = """
    def handler(event, context):
        ok = event["queryStringParameters"].get("key") == "open-sesame"
        arn = event.get("methodArn") or event.get("routeArn")
        return {"principalId": "req", "context": {"via": event["type"]},
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow" if ok else "Deny", "Resource": arn}]}}
"""
SIMPLE_AUTH = """
    def handler(event, context):
        return {"isAuthorized": event["identitySource"] == ["let-me-in"], "context": {"team": "blue"}}
"""
TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler}
    Resources:
      Rest:
        Type: AWS::Serverless::Api
        Properties:
          StageName: prod
          Auth:
            DefaultAuthorizer: TokenAuth
            Authorizers:
              TokenAuth:
                FunctionArn: !GetAtt TokenAuthFn.Arn
                Identity: {Header: Authorization, ReauthorizeEvery: 300}
              RequestAuth:
                FunctionPayloadType: REQUEST
                FunctionArn: !GetAtt RequestAuthFn.Arn
                Identity: {QueryStrings: [key], ReauthorizeEvery: 0}
      Http:
        Type: AWS::Serverless::HttpApi
        Properties:
          Auth:
            Authorizers:
              Simple:
                FunctionArn: !GetAtt SimpleAuthFn.Arn
                AuthorizerPayloadFormatVersion: "2.0"
                EnableSimpleResponses: true
                Identity: {Headers: [Authorization]}
              Jwt:
                IdentitySource: $request.header.Authorization
                JwtConfiguration: {issuer: "https://issuer.example", audience: [my-app]}
      TokenAuthFn:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: TokenAuthFn/}
      RequestAuthFn:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: RequestAuthFn/}
      SimpleAuthFn:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: SimpleAuthFn/}
      Echo:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Echo/
          Events:
            Private: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /private, Method: get}}
            Public: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /public, Method: get, Auth: {Authorizer: NONE}}}
            Req: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /req, Method: get, Auth: {Authorizer: RequestAuth}}}
            Simple: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /simple, Method: get, Auth: {Authorizer: Simple}}}
            Claims: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /claims, Method: get, Auth: {Authorizer: Jwt}}}
"""
SOURCES = {"Echo": ECHO, "TokenAuthFn": TOKEN_AUTH, "RequestAuthFn": REQUEST_AUTH, "SimpleAuthFn": SIMPLE_AUTH}


def unsigned_jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'kid': 'k1'})}.{part(claims)}.not-a-real-signature"


@pytest.fixture
def project(tmp_path):
    return write_sam_project(tmp_path, TEMPLATE, SOURCES)


def invocations_of(items: list, function: str) -> list[InvocationResult]:
    return [i for i in items if isinstance(i, InvocationResult) and i.record.function == function]


async def test_a_token_authorizer_allows_with_context_and_its_answer_is_cached(project):
    async with api_running(project) as api:
        subscription = api.fleet.subscribe("test")
        for _ in range(2):
            status, _, body = await call("GET", f"{api.url}/private", headers={"Authorization": "allow-ada"})
            assert status == 200
            assert json.loads(body) == {"user": "ada", "tier": 3, "principalId": "allow-ada", "integrationLatency": 0}
        await call("GET", f"{api.url}/public")  # no authorizer there
        authorizer_runs = invocations_of(subscription.drain(), "TokenAuthFn")
        assert len(authorizer_runs) == 1  # the second request used the cached policy (ReauthorizeEvery 300)
        assert authorizer_runs[0].record.trigger == "api"
        sent = json.loads(authorizer_runs[0].request)
        assert sent["type"] == "TOKEN" and sent["methodArn"].endswith("/prod/GET/private")


async def test_a_token_authorizer_denies_and_a_missing_token_is_401(project):
    async with api_running(project) as api:
        status, _, body = await call("GET", f"{api.url}/private", headers={"Authorization": "deny"})
        assert status == 403
        assert json.loads(body) == {"Message": "User is not authorized to access this resource with an explicit deny"}
        status, _, body = await call("GET", f"{api.url}/private", headers={"Authorization": "garbage"})
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
        status, _, body = await call("GET", f"{api.url}/private")
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
        status, _, body = await call("GET", f"{api.url}/public")
        assert (status, json.loads(body)) == (200, None)  # Auth: {Authorizer: NONE}


async def test_a_request_authorizer_reads_its_identity_sources(project):
    async with api_running(project) as api:
        status, _, body = await call("GET", f"{api.url}/req?key=open-sesame")
        assert status == 200 and json.loads(body)["via"] == "REQUEST"
        status, _, _ = await call("GET", f"{api.url}/req?key=wrong")
        assert status == 403
        status, _, _ = await call("GET", f"{api.url}/req")
        assert status == 401  # the identity source is missing: the authorizer is not even called


async def test_an_http_api_simple_response_authorizer(project):
    async with api_running(project) as api:
        status, _, body = await call("GET", f"{api.url}/simple", headers={"Authorization": "let-me-in"})
        assert (status, json.loads(body)) == (200, {"lambda": {"team": "blue"}})
        status, _, body = await call("GET", f"{api.url}/simple", headers={"Authorization": "no"})
        assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


async def test_jwt_claims_pass_through_unverified(project):
    token = unsigned_jwt({"sub": "user-1", "iss": "https://issuer.example", "aud": "my-app", "scope": "read write",
                          "groups": ["a", "b"]})
    async with api_running(project) as api:
        assert any("signature is NOT verified" in note for note in api.notes())
        status, _, body = await call("GET", f"{api.url}/claims", headers={"Authorization": f"Bearer {token}"})
        assert status == 200
        jwt = json.loads(body)["jwt"]
        assert jwt["claims"]["sub"] == "user-1" and jwt["claims"]["groups"] == "[a b]"
        assert jwt["scopes"] == ["read", "write"]
        wrong_audience = unsigned_jwt({"sub": "u", "iss": "https://issuer.example", "aud": "other"})
        status, _, _ = await call("GET", f"{api.url}/claims", headers={"Authorization": f"Bearer {wrong_audience}"})
        assert status == 401
        status, _, _ = await call("GET", f"{api.url}/claims")
        assert status == 401
