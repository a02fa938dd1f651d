"""boto3 against a live endpoint: Lambda's Invoke API and read-only control plane, as on AWS."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from lambdatop.runtime.records import InvocationResult


def _records(subscription: Any) -> list[Any]:
    return [item.record for item in subscription.drain() if isinstance(item, InvocationResult)]


async def _wait_for_record(subscription: Any, predicate: Any, timeout: float = 20.0) -> Any:
    """The first published record matching `predicate` (async invocations finish after the 202)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for item in await subscription.wait(0.5):
            if isinstance(item, InvocationResult) and predicate(item.record):
                return item.record
    raise AssertionError("no matching invocation record was published")


async def test_request_response_returns_payload_status_and_executed_version(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    subscription = endpoint.fleet.subscribe("test")

    response = await asyncio.to_thread(client.invoke, FunctionName="hello", Payload=b'{"name": "boto3"}')

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response and "LogResult" not in response
    body = json.loads(response["Payload"].read())
    assert body["message"] == "Hello, boto3!"
    # The id boto3 reports is the one the function saw as context.aws_request_id, and the record's.
    assert response["ResponseMetadata"]["RequestId"] == body["request_id"]
    (record,) = _records(subscription)
    assert (record.request_id, record.trigger, record.invocation_type) == (body["request_id"], "http", "RequestResponse")


async def test_function_error_is_status_200_with_unhandled(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    response = await asyncio.to_thread(client.invoke, FunctionName="boom", Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "KeyError" and error["errorMessage"] == "'action'"
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]


async def test_log_type_tail_returns_the_last_4kb_of_the_log(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    response = await asyncio.to_thread(client.invoke, FunctionName="hello", Payload=b'{"name": "tail"}', LogType="Tail")

    log = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert "greeting tail" in log
    assert f"END RequestId: {request_id}" in log
    assert log.splitlines()[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert len(base64.b64decode(response["LogResult"])) <= 4096


async def test_log_tail_is_cut_to_4kb_for_a_long_log(make_project, lambda_client):
    config = make_project(
        {"chatty": "def handler(event, context):\n    for i in range(400):\n        print(f'line {i:04d} ' + 'x' * 40)\n    return 'done'\n"},
        "functions:\n  chatty: {handler: app.handler, code: chatty}\n",
    )
    async with _serving(config) as endpoint:
        client = lambda_client(endpoint.url)
        response = await asyncio.to_thread(client.invoke, FunctionName="chatty", LogType="Tail")

    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    text = tail.decode()
    assert "line 0399" in text and "line 0000" not in text
    assert text.rstrip("\n").splitlines()[-1].startswith("REPORT RequestId: ")


async def test_event_invocation_answers_202_at_once_and_runs_the_function(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    subscription = endpoint.fleet.subscribe("test")

    response = await asyncio.to_thread(
        client.invoke, FunctionName="hello", InvocationType="Event", Payload=b'{"name": "later"}', LogType="Tail",
    )

    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert "LogResult" not in response and "FunctionError" not in response
    request_id = response["ResponseMetadata"]["RequestId"]
    record = await _wait_for_record(subscription, lambda r: r.request_id == request_id and r.function == "hello")
    assert record.invocation_type == "Event"
    assert str(record.status) == "success"


async def test_event_invocations_are_checked_before_the_202(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await asyncio.to_thread(client.invoke, FunctionName="missing", InvocationType="Event", Payload=b"{}")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        await asyncio.to_thread(client.invoke, FunctionName="hello", InvocationType="Event", Payload=b"not json")


async def test_bad_invocation_and_log_types_are_invalid_parameter_values(endpoint):
    async with aiohttp.ClientSession() as session:
        for header, value in (("X-Amz-Invocation-Type", "Sometime"), ("X-Amz-Log-Type", "Everything")):
            async with session.post(
                f"{endpoint.url}/2015-03-31/functions/hello/invocations", data=b"{}", headers={header: value},
            ) as response:
                assert response.status == 400
                assert response.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
                assert value in (await response.json(content_type=None))["message"]


async def test_the_deprecated_invoke_async_queues_an_event(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    subscription = endpoint.fleet.subscribe("test")

    response = await asyncio.to_thread(client.invoke_async, FunctionName="hello", InvokeArgs=b'{"name": "old"}')

    assert response["Status"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    record = await _wait_for_record(subscription, lambda r: r.request_id == request_id)
    assert (record.function, record.invocation_type) == ("hello", "Event")


async def test_dry_run_answers_204_and_runs_nothing(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    subscription = endpoint.fleet.subscribe("test")

    response = await asyncio.to_thread(client.invoke, FunctionName="hello", InvocationType="DryRun", Payload=b"{}")

    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    assert _records(subscription) == []
    assert endpoint.fleet.pools["hello"].envs == {}


async def test_dry_run_still_checks_the_function_exists(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await asyncio.to_thread(client.invoke, FunctionName="missing", InvocationType="DryRun")


@pytest.mark.parametrize(
    "name",
    [
        "hello",
        "hello:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:hello",
        "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST",
        "123456789012:function:hello",
    ],
)
async def test_function_named_by_name_qualified_name_or_arn(endpoint, lambda_client, name):
    client = lambda_client(endpoint.url)
    response = await asyncio.to_thread(client.invoke, FunctionName=name, Payload=b'{"name": "arn"}')
    assert json.loads(response["Payload"].read())["message"] == "Hello, arn!"


async def test_qualifier_parameter_latest_works_and_others_are_not_found(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    ok = await asyncio.to_thread(client.invoke, FunctionName="hello", Qualifier="$LATEST", Payload=b"{}")
    assert ok["StatusCode"] == 200 and ok["ExecutedVersion"] == "$LATEST"

    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        await asyncio.to_thread(client.invoke, FunctionName="hello", Qualifier="prod", Payload=b"{}")
    assert missing.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:hello:prod"
    )
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        await asyncio.to_thread(client.invoke, FunctionName="hello:$LATEST", Qualifier="prod", Payload=b"{}")


async def test_unknown_function_raises_resource_not_found(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        await asyncio.to_thread(client.invoke, FunctionName="nope", Payload=b"{}")

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    assert error["ResponseMetadata"]["RequestId"]


async def test_throttles_raise_too_many_requests_with_the_reserved_reason(endpoint, lambda_client):
    """`slow` has reserved concurrency 5: of 8 calls at once, some are throttled with Lambda's 429."""
    client = lambda_client(endpoint.url, max_pool_connections=16)
    calls = 8
    start_together = threading.Barrier(calls)

    def invoke_once(_: int) -> Any:
        start_together.wait(timeout=30)
        try:
            return client.invoke(FunctionName="slow", Payload=b'{"sleep_ms": 3000}')
        except client.exceptions.TooManyRequestsException as exc:
            return exc

    def invoke_all() -> list[Any]:
        with ThreadPoolExecutor(calls) as pool:
            return list(pool.map(invoke_once, range(calls)))

    outcomes = await asyncio.wait_for(asyncio.to_thread(invoke_all), 60)

    throttled = [o for o in outcomes if isinstance(o, ClientError)]
    served = [o for o in outcomes if not isinstance(o, ClientError)]
    assert 1 <= len(served) <= 5
    assert len(throttled) == calls - len(served) >= 3
    for exc in throttled:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert exc.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert exc.response["Type"] == "User"
        assert exc.response["message"] == "Rate Exceeded."
    for response in served:
        assert response["StatusCode"] == 200 and json.loads(response["Payload"].read())["slept_ms"] == 3000


async def test_malformed_json_is_invalid_request_content(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    with pytest.raises(client.exceptions.InvalidRequestContentException) as caught:
        await asyncio.to_thread(client.invoke, FunctionName="hello", Payload=b'{"name": ')

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Message"].startswith("Could not parse request body into json")
    assert endpoint.fleet.pools["hello"].envs == {}  # refused before any code ran


async def test_oversized_payloads_are_413_request_entity_too_large(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    sync_payload = b'{"pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    async_payload = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'

    with pytest.raises(ClientError) as sync_error:
        await asyncio.to_thread(client.invoke, FunctionName="hello", Payload=sync_payload)
    with pytest.raises(ClientError) as async_error:
        await asyncio.to_thread(client.invoke, FunctionName="hello", InvocationType="Event", Payload=async_payload)

    for caught, limit in ((sync_error, 6291456), (async_error, 1048576)):
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert error["Error"]["Code"] == "RequestEntityTooLargeException"
        assert error["Error"]["Message"] == f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
    # Just under the synchronous limit is fine.
    fits = b'{"pad": "' + b"x" * (6 * 1024 * 1024 - 100) + b'"}'
    response = await asyncio.to_thread(client.invoke, FunctionName="hello", Payload=fits)
    assert response["StatusCode"] == 200


async def test_client_context_reaches_the_function(make_project, lambda_client):
    config = make_project(
        {"ctx": "def handler(event, context):\n    cc = context.client_context\n    return {'custom': cc.custom, 'env': cc.env}\n"},
        "functions:\n  ctx: {handler: app.handler, code: ctx}\n",
    )
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t-1"}, "env": {"locale": "en"}}).encode()).decode()
    async with _serving(config) as endpoint:
        client = lambda_client(endpoint.url)
        response = await asyncio.to_thread(client.invoke, FunctionName="ctx", ClientContext=context)
        assert json.loads(response["Payload"].read()) == {"custom": {"tenant": "t-1"}, "env": {"locale": "en"}}

        with pytest.raises(client.exceptions.InvalidRequestContentException):
            await asyncio.to_thread(client.invoke, FunctionName="ctx", ClientContext="not base64 json!")


async def test_trace_header_makes_the_invocation_a_child_of_the_caller(endpoint):
    root, parent = "1-5bef4de7-ad49b0e87f6ef6c87fc2e700", "9a9197af755a6419"
    subscription = endpoint.fleet.subscribe("test")
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{endpoint.url}/2015-03-31/functions/hello/invocations", data=b"{}",
            headers={"X-Amzn-Trace-Id": f"Root={root};Parent={parent};Sampled=1"},
        ) as response:
            assert response.status == 200
            assert response.headers["X-Amzn-Trace-Id"] == f"Root={root}"
    (record,) = _records(subscription)
    assert (record.trace_id, record.parent_id) == (root, parent)
    assert record.segment_id and record.segment_id != parent


async def test_get_function_list_functions_and_the_active_waiter(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    function = await asyncio.to_thread(client.get_function, FunctionName="slow")
    configuration = function["Configuration"]
    assert configuration["FunctionName"] == "slow"
    assert configuration["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:slow"
    assert (configuration["Runtime"], configuration["Handler"]) == ("python3.11", "app.handler")
    assert (configuration["MemorySize"], configuration["Timeout"]) == (128, 10)
    assert (configuration["Version"], configuration["State"], configuration["LastUpdateStatus"]) == ("$LATEST", "Active", "Successful")
    assert configuration["LastModified"].endswith("+0000")
    assert function["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert function["Code"]["Location"].startswith("file://")

    # The waiters SAM-style tooling uses return at once.
    await asyncio.to_thread(client.get_waiter("function_active_v2").wait, FunctionName="hello")
    await asyncio.to_thread(client.get_waiter("function_exists").wait, FunctionName="hello")

    listed = await asyncio.to_thread(client.list_functions)
    names = [f["FunctionName"] for f in listed["Functions"]]
    assert names == sorted(endpoint.fleet.functions)
    assert "NextMarker" not in listed
    # Pagination with MaxItems and NextMarker walks every function once.
    paginator = client.get_paginator("list_functions")
    pages = await asyncio.to_thread(lambda: list(paginator.paginate(PaginationConfig={"PageSize": 3})))
    assert [f["FunctionName"] for page in pages for f in page["Functions"]] == names
    assert len(pages) == -(-len(names) // 3)

    only_config = await asyncio.to_thread(client.get_function_configuration, FunctionName="arn:aws:lambda:us-east-1:123456789012:function:hello")
    assert only_config["Environment"]["Variables"]["GREETING"] == "Hello"
    settings = await asyncio.to_thread(client.get_account_settings)
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    assert settings["AccountUsage"]["FunctionCount"] == len(names)
    concurrency = await asyncio.to_thread(client.get_function_concurrency, FunctionName="slow")
    assert concurrency["ReservedConcurrentExecutions"] == 5

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await asyncio.to_thread(client.get_function, FunctionName="nope")


async def test_function_url_config_versions_and_aliases(endpoint, lambda_client):
    client = lambda_client(endpoint.url)

    url_config = await asyncio.to_thread(client.get_function_url_config, FunctionName="hello")
    assert url_config["FunctionUrl"] == f"{endpoint.url}/fn/hello/"
    assert (url_config["AuthType"], url_config["InvokeMode"]) == ("NONE", "BUFFERED")
    assert url_config["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    listed = await asyncio.to_thread(client.list_function_url_configs, FunctionName="hello")
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [url_config["FunctionUrl"]]

    versions = await asyncio.to_thread(client.list_versions_by_function, FunctionName="hello")
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST"]
    aliases = await asyncio.to_thread(client.list_aliases, FunctionName="hello")
    assert aliases["Aliases"] == []
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await asyncio.to_thread(client.get_function_url_config, FunctionName="nope")


async def test_unsupported_operations_and_unknown_paths_are_404_unknown_operation(endpoint, lambda_client):
    client = lambda_client(endpoint.url)
    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(client.delete_function, FunctionName="hello")
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    async with aiohttp.ClientSession() as session:
        for method, path in (("GET", "/nothing/here"), ("GET", "/2015-03-31/functions/hello/invocations"), ("PUT", "/")):
            async with session.request(method, endpoint.url + path) as response:
                assert response.status == 404
                assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
                assert response.headers["x-amzn-RequestId"]
                body = await response.json(content_type=None)
                assert body["Type"] == "User" and body["message"]


async def test_the_endpoint_sets_the_worker_environment_and_fleet_url(endpoint):
    fleet = endpoint.fleet
    assert endpoint.port > 0
    assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
    assert fleet.endpoint == endpoint.url
    assert fleet.worker_environment["AWS_ENDPOINT_URL_LAMBDA"] == endpoint.url
    assert fleet.snapshot().endpoint == endpoint.url


# -- a fleet on a small project with the endpoint -------------------------------------------------


class _serving:
    """`async with _serving(config_path) as endpoint`: a fleet on `config_path` behind an endpoint on a free port."""

    def __init__(self, config: Any) -> None:
        from lambdatop.runtime.api.endpoint import LambdaEndpoint
        from lambdatop.runtime.fleet import Fleet

        self.endpoint = LambdaEndpoint(port=0)
        self.fleet = Fleet(config)
        self.fleet.add_service(self.endpoint)

    async def __aenter__(self) -> Any:
        await self.fleet.start()
        return self.endpoint

    async def __aexit__(self, *exc: object) -> None:
        await self.fleet.stop()
