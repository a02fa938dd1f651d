"""Function URLs: an HTTP request becomes a payload-format-2.0 event; the function's answer becomes the HTTP response."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import aiohttp
import pytest

from lambdatop.runtime.api.endpoint import LambdaEndpoint
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult

SOURCES = {
    # Echoes the event it got, sets two cookies and a header, answers 201.
    "echo": """
        import json

        def handler(event, context):
            return {
                "statusCode": 201,
                "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
                "cookies": ["session=abc123; Path=/; HttpOnly", "theme=dark; Max-Age=600"],
                "body": json.dumps({"event": event, "request_id": context.aws_request_id}),
            }
    """,
    # Returns plain JSON without a statusCode: the URL infers 200 application/json.
    "plain": """
        def handler(event, context):
            return {"ok": True, "path": event["rawPath"]}
    """,
    # Returns a binary body, base64-encoded.
    "binary": """
        import base64

        def handler(event, context):
            data = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else b""
            return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                    "isBase64Encoded": True, "body": base64.b64encode(data[::-1]).decode()}
    """,
    "fails": """
        def handler(event, context):
            raise ValueError("nope")
    """,
    # A response shape no function URL can send.
    "badshape": """
        def handler(event, context):
            return {"statusCode": "teapot", "body": "?"}
    """,
}
CONFIG = """
functions:
  echo: {handler: app.handler}
  plain: {handler: app.handler}
  binary: {handler: app.handler}
  fails: {handler: app.handler}
  badshape: {handler: app.handler}
"""


@pytest.fixture
async def url_endpoint(make_project) -> Any:
    endpoint = LambdaEndpoint(port=0)
    fleet = Fleet(make_project(SOURCES, CONFIG))
    fleet.add_service(endpoint)
    async with fleet:
        yield endpoint


async def test_json_body_and_cookies_round_trip(url_endpoint):
    subscription = url_endpoint.fleet.subscribe("test")
    document = {"item": "lamp", "count": 2, "tags": ["a", "ü"]}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url_endpoint.url}/fn/echo/items/42?tag=a&tag=b&q=hello%20world",
            json=document,
            headers={"Cookie": "visitor=v1; cart=c2", "User-Agent": "lambdatop-test/1.0", "X-Custom": "x1"},
        ) as response:
            status = response.status
            set_cookies = response.headers.getall("Set-Cookie")
            headers = response.headers
            answer = await response.json()

    assert status == 201
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Echo"] == "yes"
    assert set_cookies == ["session=abc123; Path=/; HttpOnly", "theme=dark; Max-Age=600"]
    event = answer["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "tag=a&tag=b&q=hello%20world"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "hello world"}
    assert event["cookies"] == ["visitor=v1", "cart=c2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "x1"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == document
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
        "userAgent": "lambdatop-test/1.0",
    }
    assert context["routeKey"] == context["stage"] == "$default"
    assert len(context["apiId"]) == 32 and context["domainPrefix"] == context["apiId"]
    # One request id everywhere: the response header, the event, the function's context, the record.
    assert headers["x-amzn-RequestId"] == context["requestId"] == answer["request_id"]
    (record,) = [i.record for i in subscription.drain() if isinstance(i, InvocationResult)]
    assert (record.request_id, record.trigger, record.function) == (answer["request_id"], "url", "echo")
    assert event["headers"]["x-amzn-trace-id"] == f"Root={record.trace_id}"


async def test_get_without_body_or_query(url_endpoint):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url_endpoint.url}/fn/echo") as response:
            event = (await response.json())["event"]
    assert event["rawPath"] == "/"
    assert event["rawQueryString"] == ""
    assert "body" not in event and "queryStringParameters" not in event and "cookies" not in event
    assert event["requestContext"]["http"]["method"] == "GET"


async def test_a_response_without_status_code_is_inferred_as_200_json(url_endpoint):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url_endpoint.url}/fn/plain/some/where") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            assert await response.json() == {"ok": True, "path": "/some/where"}


async def test_binary_bodies_travel_base64_both_ways(url_endpoint):
    payload = bytes(range(256))
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"{url_endpoint.url}/fn/binary/", data=payload, headers={"Content-Type": "application/octet-stream"},
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/octet-stream"
            assert await response.read() == payload[::-1]


async def test_a_function_error_is_a_502(url_endpoint):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url_endpoint.url}/fn/fails/") as response:
            assert response.status == 502
            assert await response.json() == {"Message": "Internal Server Error"}
            assert response.headers["x-amzn-RequestId"]


async def test_a_response_it_cannot_map_is_a_502_that_says_why(url_endpoint):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url_endpoint.url}/fn/badshape/") as response:
            assert response.status == 502
            assert "statusCode 'teapot' is not a number" in response.headers["X-Lambdatop-Reason"]


async def test_an_unknown_function_url_is_404(url_endpoint):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url_endpoint.url}/fn/ghost/") as response:
            assert response.status == 404
            assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


async def test_the_function_url_of_a_sample_via_urllib(endpoint):
    """The plain stdlib client works too (what `curl` does)."""
    def fetch() -> tuple[int, bytes, str]:
        request = urllib.request.Request(endpoint.function_url("hello"), data=b'{"name": "url"}', method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), response.headers["Content-Type"]

    status, body, content_type = await asyncio.to_thread(fetch)
    assert status == 200 and content_type == "application/json"
    assert json.loads(body)["message"] == "Hello, world!"  # the event is the URL event, which has no "name"
    assert endpoint.function_url("hello") == f"{endpoint.url}/fn/hello/"
