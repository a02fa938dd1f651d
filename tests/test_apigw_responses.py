"""The function's answer mapped as API Gateway maps it: statuses, headers, cookies, binary, and its own errors."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from lambdatop.runtime.records import InvocationResult

from tests.apigw_support import api_running, call, write_sam_project

SOURCES = {
    "Shaped": """
        def handler(event, context):
            return {"statusCode": 201, "headers": {"X-One": "1", "X-Both": "single"},
                    "multiValueHeaders": {"X-Many": ["a", "b"], "X-Both": ["multi"]}, "body": "created"}
    """,
    "Cookies": """
        def handler(event, context):
            return {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2; HttpOnly"], "body": "ok",
                    "headers": {"Content-Type": "text/plain"}}
    """,
    "Bare": """
        def handler(event, context):
            return {"hello": "world"}
    """,
    "Malformed": """
        def handler(event, context):
            return {"statusCode": 200, "body": {"not": "a string"}}
    """,
    "Extra": """
        def handler(event, context):
            return {"statusCode": 200, "body": "x", "unexpected": True}
    """,
    "Fails": """
        def handler(event, context):
            raise RuntimeError("boom")
    """,
    "Slow": """
        import time

        def handler(event, context):
            time.sleep(1.5)
            return {"statusCode": 200, "body": "late"}
    """,
    "Image": """
        import base64

        def handler(event, context):
            data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
            return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                    "body": base64.b64encode(data[::-1]).decode()}
    """,
}
TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler, Timeout: 5}
      Api:
        BinaryMediaTypes: ["image~1png", "application~1octet-stream"]
    Resources:
      Shaped:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: Shaped/, Events: {E: {Type: Api, Properties: {Path: /shaped, Method: get}}}}
      Cookies:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: Cookies/, Events: {E: {Type: HttpApi, Properties: {Path: /cookies, Method: get}}}}
      Bare:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: Bare/, Events: {E: {Type: HttpApi, Properties: {Path: /bare, Method: get}}}}
      Malformed:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: Malformed/, Events: {E: {Type: Api, Properties: {Path: /malformed, Method: get}}}}
      Extra:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: Extra/, Events: {E: {Type: Api, Properties: {Path: /extra, Method: get}}}}
      Fails:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Fails/
          Events:
            Rest: {Type: Api, Properties: {Path: /fails, Method: get}}
            Http: {Type: HttpApi, Properties: {Path: /v2/fails, Method: get}}
      Slow:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Slow/
          Events:
            E: {Type: HttpApi, Properties: {Path: /slow, Method: get, TimeoutInMillis: 300}}
      Image:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Image/
          Events:
            Rest: {Type: Api, Properties: {Path: /image, Method: post}}
            Http: {Type: HttpApi, Properties: {Path: /v2/image, Method: post}}
"""


@pytest.fixture
def project(tmp_path):
    return write_sam_project(tmp_path, TEMPLATE, SOURCES)


async def test_status_headers_and_multi_value_headers(project):
    async with api_running(project) as api:
        status, headers, body = await call("GET", f"{api.url}/shaped")
    assert (status, body) == (201, b"created")
    assert headers["X-One"] == "1"
    assert headers.getall("X-Many") == ["a", "b"]
    assert headers.getall("X-Both") == ["multi"]  # a header in both: multiValueHeaders wins
    assert headers["Content-Type"] == "application/json"  # REST's default


async def test_cookies_and_the_2_0_shortcut(project):
    async with api_running(project) as api:
        status, headers, body = await call("GET", f"{api.url}/cookies")
        assert (status, body) == (200, b"ok")
        assert headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
        status, headers, body = await call("GET", f"{api.url}/bare")
        assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {"hello": "world"})


async def test_a_malformed_proxy_response_or_a_function_error_is_502(project):
    async with api_running(project) as api:
        for path in ("/malformed", "/extra", "/fails"):
            status, headers, body = await call("GET", f"{api.url}{path}")
            assert (status, json.loads(body)) == (502, {"message": "Internal server error"}), path
            assert "X-Lambdatop-Reason" in headers
        status, _, body = await call("GET", f"{api.url}/v2/fails")
        assert (status, json.loads(body)) == (502, {"message": "Internal Server Error"})


async def test_a_function_past_the_integration_timeout_is_504_and_runs_on(project):
    async with api_running(project) as api:
        subscription = api.fleet.subscribe("test")
        status, _, body = await call("GET", f"{api.url}/slow")
        assert (status, json.loads(body)) == (504, {"message": "Endpoint request timed out"})
        finished = []
        while not finished:
            finished = [r for r in await subscription.wait(5.0) if isinstance(r, InvocationResult)]
        # Lambda does not stop the function when API Gateway stops waiting.
        assert (finished[0].record.status, finished[0].record.function) == ("success", "Slow")
        assert json.loads(finished[0].response)["body"] == "late"


async def test_the_config_caps_the_integration_timeout(project):
    async with api_running(project, integration_timeout_s=0.2) as api:
        started = asyncio.get_running_loop().time()
        status, _, _ = await call("GET", f"{api.url}/slow")
        assert status == 504 and asyncio.get_running_loop().time() - started < 1.4


async def test_binary_request_and_response_bodies(project):
    payload = bytes(range(256))
    async with api_running(project) as api:
        # REST: image/png is a BinaryMediaType, so the body arrives base64 and the answer is decoded.
        status, headers, body = await call("POST", f"{api.url}/image", data=payload,
                                           headers={"Content-Type": "image/png", "Accept": "image/png"})
        assert (status, headers["Content-Type"], body) == (200, "image/png", payload[::-1])
        # REST, a client that does not accept a binary type: the base64 text goes through as it is.
        status, _, body = await call("POST", f"{api.url}/image", data=payload,
                                     headers={"Content-Type": "image/png", "Accept": "text/plain"})
        assert (status, body) == (200, base64.b64encode(payload[::-1]))
        # HTTP API: any non-text content type is base64; isBase64Encoded answers are always decoded.
        status, _, body = await call("POST", f"{api.url}/v2/image", data=payload,
                                     headers={"Content-Type": "application/x-raw"})
        assert (status, body) == (200, payload[::-1])


async def test_a_text_body_to_a_rest_api_is_not_base64(project):
    async with api_running(project) as api:
        status, _, body = await call("POST", f"{api.url}/image", data=b"abc", headers={"Content-Type": "text/plain",
                                                                                       "Accept": "image/png"})
    assert (status, body) == (200, b"cba")


async def test_a_body_over_10_mb_is_413(project):
    async with api_running(project) as api:
        status, _, body = await call("POST", f"{api.url}/image", data=b"x" * (10 * 1024 * 1024 + 1),
                                     headers={"Content-Type": "image/png"})
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})


async def test_a_throttled_function_is_429_on_rest(tmp_path):
    template = TEMPLATE.replace("CodeUri: Slow/\n", "CodeUri: Slow/\n          ReservedConcurrentExecutions: 0\n")
    template = template.replace("E: {Type: HttpApi, Properties: {Path: /slow, Method: get, TimeoutInMillis: 300}}",
                                "E: {Type: Api, Properties: {Path: /slow, Method: get}}")
    async with api_running(write_sam_project(tmp_path, template, SOURCES)) as api:
        status, _, body = await call("GET", f"{api.url}/slow")
    assert (status, json.loads(body)) == (429, {"message": "Too Many Requests"})
