"""CORS from the API's configuration: lambdatop answers preflights; HTTP APIs add the headers to responses."""

from __future__ import annotations

import pytest

from tests.apigw_support import api_running, call, write_sam_project

HANDLER = """
    def handler(event, context):
        return {"statusCode": 200, "body": "ok", "headers": {"Access-Control-Allow-Origin": "https://wrong.example"}}
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
          StageName: dev
          Cors:
            AllowOrigin: "'https://app.example'"
            AllowHeaders: "'Content-Type,Authorization'"
            MaxAge: "'600'"
      Http:
        Type: AWS::Serverless::HttpApi
        Properties:
          CorsConfiguration:
            AllowOrigins: [https://app.example]
            AllowMethods: [GET, POST]
            AllowHeaders: [content-type]
            ExposeHeaders: [x-request-id]
            AllowCredentials: true
            MaxAge: 300
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Fn/
          Events:
            RestGet: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /things, Method: get}}
            RestPut: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /things, Method: put}}
            HttpGet: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /v2/things, Method: get}}
"""
PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}


@pytest.fixture
def project(tmp_path):
    return write_sam_project(tmp_path, TEMPLATE, {"Fn": HANDLER})


async def test_rest_preflight_is_answered_with_the_configured_headers(project):
    async with api_running(project) as api:
        subscription = api.fleet.subscribe("test")
        status, headers, body = await call("OPTIONS", f"{api.url}/things", headers=PREFLIGHT)
        assert (status, body) == (200, b"")
        assert headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert headers["Access-Control-Allow-Headers"] == "Content-Type,Authorization"
        assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,PUT"  # the path's methods
        assert headers["Access-Control-Max-Age"] == "600"
        assert subscription.drain() == []  # no function ran
        # A REST proxy response carries only what the function sent, as on AWS.
        _, headers, _ = await call("GET", f"{api.url}/things", headers={"Origin": "https://app.example"})
        assert headers["Access-Control-Allow-Origin"] == "https://wrong.example"


async def test_http_api_preflight_and_response_headers(project):
    async with api_running(project) as api:
        status, headers, _ = await call("OPTIONS", f"{api.url}/v2/things",
                                        headers={**PREFLIGHT, "Access-Control-Request-Method": "GET"})
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert headers["Access-Control-Allow-Methods"] == "GET,POST"
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert headers["Access-Control-Max-Age"] == "300"
        status, headers, body = await call("GET", f"{api.url}/v2/things", headers={"Origin": "https://app.example"})
        assert (status, body) == (200, b"ok")
        assert headers.getall("Access-Control-Allow-Origin") == ["https://app.example"]  # the API's, not the function's
        assert headers["Access-Control-Expose-Headers"] == "x-request-id"


async def test_http_api_disallowed_origin_gets_no_cors_headers(project):
    async with api_running(project) as api:
        status, headers, _ = await call("OPTIONS", f"{api.url}/v2/things",
                                        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert status == 204 and "Access-Control-Allow-Origin" not in headers
