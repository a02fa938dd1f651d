"""The template's REST and HTTP API routes answer on the API port, matched as API Gateway matches them."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from lambdatop.runtime.records import InvocationResult

from tests.apigw_support import APPS, api_running, call, write_sam_project

ECHO = """
    import json, os

    def handler(event, context):
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"fn": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "event": event})}
"""
TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler, Timeout: 3}
    Resources:
      Item:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Item/
          Events:
            Get: {Type: Api, Properties: {Path: "/items/{id}", Method: get}}
      Special:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Special/
          Events:
            Get: {Type: Api, Properties: {Path: /items/special, Method: get}}
      Files:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Files/
          Events:
            Proxy: {Type: Api, Properties: {Path: "/files/{proxy+}", Method: any}}
      Anything:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Anything/
          Events:
            Any: {Type: Api, Properties: {Path: /anything, Method: ANY}}
            Post: {Type: Api, Properties: {Path: /items, Method: post}}
"""
HTTP_TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler, Timeout: 3}
    Resources:
      Orders:
        Type: AWS::Serverless::HttpApi
        Properties:
          StageName: live
      Order:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Order/
          Events:
            Get: {Type: HttpApi, Properties: {ApiId: !Ref Orders, Path: "/orders/{id}", Method: GET}}
      Legacy:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Legacy/
          Events:
            Get: {Type: HttpApi, Properties: {Path: /legacy, Method: GET, PayloadFormatVersion: "1.0"}}
"""


@pytest.fixture
def rest_project(tmp_path):
    return write_sam_project(tmp_path, TEMPLATE, {name: ECHO for name in ("Item", "Special", "Files", "Anything")})


@pytest.fixture
def http_project(tmp_path):
    return write_sam_project(tmp_path, HTTP_TEMPLATE, {name: ECHO for name in ("Order", "Legacy")})


async def test_the_sam_cli_hello_world_app_answers_get_hello(tmp_path):
    project = tmp_path / "sam-app"
    shutil.copytree(APPS / "sam-app", project)
    async with api_running(project / "template.yaml") as api:
        status, headers, body = await call("GET", f"{api.url}/hello")
        assert (status, json.loads(body)) == (200, {"message": "hello world"})
        assert headers["Content-Type"] == "application/json"
        assert [r.route_key for r in api.routes] == ["GET /hello"]
        assert (api.routes[0].api.logical_id, api.routes[0].api.stage) == ("ServerlessRestApi", "Prod")


async def test_path_parameters_literals_first_greedy_proxy_and_any(rest_project):
    async with api_running(rest_project) as api:
        _, _, body = await call("GET", f"{api.url}/items/42")
        item = json.loads(body)
        assert item["fn"] == "Item"
        assert (item["event"]["resource"], item["event"]["pathParameters"]) == ("/items/{id}", {"id": "42"})
        _, _, body = await call("GET", f"{api.url}/items/special")
        assert json.loads(body)["fn"] == "Special"  # a literal segment beats {id}
        _, _, body = await call("DELETE", f"{api.url}/files/a/b/c.txt")
        files = json.loads(body)
        assert (files["fn"], files["event"]["httpMethod"]) == ("Files", "DELETE")
        assert files["event"]["pathParameters"] == {"proxy": "a/b/c.txt"}
        assert files["event"]["resource"] == "/files/{proxy+}"
        for method in ("GET", "PUT", "PATCH"):
            _, _, body = await call(method, f"{api.url}/anything")
            assert json.loads(body)["event"]["httpMethod"] == method


async def test_rest_unknown_paths_and_methods_are_403_missing_authentication_token(rest_project):
    async with api_running(rest_project) as api:
        for method, path in (("GET", "/nowhere"), ("DELETE", "/items/42"), ("GET", "/files")):
            status, headers, body = await call(method, f"{api.url}{path}")
            assert status == 403, (method, path)
            assert json.loads(body) == {"message": "Missing Authentication Token"}
            assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


async def test_http_api_unknown_routes_are_404_not_found(http_project):
    async with api_running(http_project) as api:
        for method, path in (("GET", "/nowhere"), ("POST", "/orders/1")):
            status, _, body = await call(method, f"{api.url}{path}")
            assert (status, json.loads(body)) == (404, {"message": "Not Found"})


async def test_payload_format_1_0_event_from_a_rest_api(rest_project):
    async with api_running(rest_project) as api:
        _, headers, body = await call(
            "GET", f"{api.url}/items/7?color=red&color=blue&size=L",
            headers=[("X-Tag", "one"), ("X-Tag", "two"), ("User-Agent", "apigw-test/1")],
        )
        event = json.loads(body)["event"]
    assert "version" not in event
    assert (event["path"], event["httpMethod"], event["resource"]) == ("/items/7", "GET", "/items/{id}")
    assert event["queryStringParameters"] == {"color": "blue", "size": "L"}
    assert event["multiValueQueryStringParameters"] == {"color": ["red", "blue"], "size": ["L"]}
    assert event["headers"]["X-Tag"] == "two"
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"]
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert (event["stageVariables"], event["body"], event["isBase64Encoded"]) == (None, None, False)
    context = event["requestContext"]
    assert (context["stage"], context["resourcePath"], context["path"]) == ("Prod", "/items/{id}", "/Prod/items/7")
    assert context["httpMethod"] == "GET" and context["accountId"] == "123456789012"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "apigw-test/1"
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert isinstance(context["requestTimeEpoch"], int) and context["requestTime"].endswith("+0000")
    assert len(context["apiId"]) == 10


async def test_payload_format_2_0_event_with_a_named_stage_and_1_0_on_request(http_project):
    async with api_running(http_project) as api:
        _, headers, body = await call(
            "GET", f"{api.url}/orders/9?tag=a&tag=b", headers=[("X-Tag", "one"), ("X-Tag", "two"),
                                                               ("Cookie", "session=s1; theme=dark")],
        )
        event = json.loads(body)["event"]
        assert (event["version"], event["routeKey"]) == ("2.0", "GET /orders/{id}")
        assert (event["rawPath"], event["rawQueryString"]) == ("/live/orders/9", "tag=a&tag=b")
        assert event["queryStringParameters"] == {"tag": "a,b"}
        assert event["headers"]["x-tag"] == "one,two" and "cookie" not in event["headers"]
        assert event["cookies"] == ["session=s1", "theme=dark"]
        assert event["pathParameters"] == {"id": "9"}
        context = event["requestContext"]
        assert (context["stage"], context["routeKey"]) == ("live", "GET /orders/{id}")
        assert context["http"] == {"method": "GET", "path": "/live/orders/9", "protocol": "HTTP/1.1",
                                   "sourceIp": "127.0.0.1", "userAgent": context["http"]["userAgent"]}
        assert context["requestId"] == headers["apigw-requestid"]
        _, _, body = await call("GET", f"{api.url}/legacy?x=1&x=2")
        legacy = json.loads(body)["event"]
        assert (legacy["version"], legacy["resource"], legacy["httpMethod"]) == ("1.0", "/legacy", "GET")
        assert legacy["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
        assert legacy["requestContext"]["stage"] == "$default"


async def test_every_api_invocation_is_recorded_with_trigger_api_and_its_route(rest_project):
    async with api_running(rest_project) as api:
        subscription = api.fleet.subscribe("test")
        await call("GET", f"{api.url}/items/1")
        results = []
        while not results:
            results = [r for r in await subscription.wait(5.0) if isinstance(r, InvocationResult)]
        record = results[0].record
        assert (record.trigger, record.function, record.route) == ("api", "Item", "GET /items/{id} (ServerlessRestApi)")
        view = next(v for v in api.snapshot().routes if v.function == "Item")
        assert (view.requests, view.last_status, view.server_errors) == (1, 200, 0)
        assert view.p50_ms is not None


async def test_fleet_invoke_from_library_code_is_not_counted_as_api(rest_project):
    async with api_running(rest_project) as api:
        result = await api.fleet.invoke("Item", {})
        assert result.record.trigger == "library" and result.record.route is None


async def test_concurrent_requests_each_get_their_own_answer(rest_project):
    async with api_running(rest_project) as api:
        answers = await asyncio.gather(*(call("GET", f"{api.url}/items/{n}") for n in range(8)))
        assert sorted(json.loads(b)["event"]["pathParameters"]["id"] for _, _, b in answers) == [str(n) for n in range(8)]
