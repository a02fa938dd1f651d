"""Function URLs as the template declares them: GetFunctionUrlConfig only for FunctionUrlConfig, Cors honoured."""

from __future__ import annotations

import asyncio

import pytest

from lambdatop.runtime.api.endpoint import LambdaEndpoint
from lambdatop.runtime.fleet import Fleet

from tests.apigw_support import call, write_sam_project

HANDLER = """
    def handler(event, context):
        return {"statusCode": 200, "body": "hi from " + context.function_name}
"""
TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler}
    Resources:
      WithUrl:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: WithUrl/
          FunctionUrlConfig:
            AuthType: NONE
            Cors:
              AllowOrigins: [https://app.example]
              AllowMethods: [POST]
              AllowHeaders: [content-type]
              MaxAge: 60
      NoUrl:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: NoUrl/}
"""


@pytest.fixture
async def endpoint(tmp_path):
    service = LambdaEndpoint("127.0.0.1", 0)
    fleet = Fleet(write_sam_project(tmp_path, TEMPLATE, {"WithUrl": HANDLER, "NoUrl": HANDLER}))
    fleet.add_service(service)
    async with fleet:
        yield service


async def test_only_functions_with_a_function_url_config_have_one(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    config = await asyncio.to_thread(client.get_function_url_config, FunctionName="WithUrl")
    assert config["FunctionUrl"] == f"{endpoint.url}/fn/WithUrl/"
    assert (config["AuthType"], config["InvokeMode"]) == ("NONE", "BUFFERED")
    assert config["Cors"]["AllowOrigins"] == ["https://app.example"] and config["Cors"]["MaxAge"] == 60
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await asyncio.to_thread(client.get_function_url_config, FunctionName="NoUrl")
    listed = await asyncio.to_thread(client.list_function_url_configs, FunctionName="NoUrl")
    assert listed["FunctionUrlConfigs"] == []


async def test_fn_name_still_answers_for_every_function(endpoint):
    status, _, body = await call("GET", f"{endpoint.url}/fn/NoUrl/")
    assert (status, body) == (200, b"hi from NoUrl")


async def test_a_function_urls_cors_is_honoured(endpoint):
    subscription = endpoint.fleet.subscribe("test")
    status, headers, _ = await call("OPTIONS", f"{endpoint.url}/fn/WithUrl/",
                                    headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status in (200, 204)
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Methods"] == "POST" and headers["Access-Control-Max-Age"] == "60"
    assert subscription.drain() == []  # Lambda answers the preflight, not the function
    status, headers, body = await call("POST", f"{endpoint.url}/fn/WithUrl/", headers={"Origin": "https://app.example"})
    assert (status, body, headers["Access-Control-Allow-Origin"]) == (200, b"hi from WithUrl", "https://app.example")
    _, headers, _ = await call("POST", f"{endpoint.url}/fn/NoUrl/", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in headers
