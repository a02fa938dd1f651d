"""Other real clients against a live endpoint: the AWS CLI, 200 concurrent HTTP clients, boto3 inside a function."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp

from lambdatop.runtime.records import InvocationResult

AWS_CLI = Path(sys.executable).with_name("aws")


def _cli_environment(tmp_path: Path) -> dict[str, str]:
    """Dummy credentials and no config file, so nothing of the developer's AWS setup leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", HOME=str(tmp_path),
    )
    return env


async def test_aws_cli_invoke(endpoint, tmp_path):
    out = tmp_path / "out.json"
    process = await asyncio.create_subprocess_exec(
        str(AWS_CLI), "lambda", "invoke", "--endpoint-url", endpoint.url, "--function-name", "hello",
        "--payload", '{"name": "cli"}', "--log-type", "Tail", str(out),
        env=_cli_environment(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, stderr.decode()
    printed = json.loads(stdout)
    assert printed["StatusCode"] == 200 and printed["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in printed and printed["LogResult"]
    assert json.loads(out.read_text())["message"] == "Hello, cli!"


async def test_aws_cli_reports_function_errors_and_service_errors_as_aws_does(endpoint, tmp_path):
    env = _cli_environment(tmp_path)
    boom = await asyncio.create_subprocess_exec(
        str(AWS_CLI), "lambda", "invoke", "--endpoint-url", endpoint.url, "--function-name", "boom", str(tmp_path / "boom.json"),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    missing = await asyncio.create_subprocess_exec(
        str(AWS_CLI), "lambda", "invoke", "--endpoint-url", endpoint.url, "--function-name", "nope", str(tmp_path / "nope.json"),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    boom_out, _ = await asyncio.wait_for(boom.communicate(), 60)
    _, missing_err = await asyncio.wait_for(missing.communicate(), 60)

    # A function error is a successful call: exit 0, FunctionError printed.
    assert boom.returncode == 0 and json.loads(boom_out)["FunctionError"] == "Unhandled"
    assert json.loads((tmp_path / "boom.json").read_text())["errorType"] == "KeyError"
    # A service error exits 255 with botocore's wording.
    assert missing.returncode == 255
    assert b"(ResourceNotFoundException) when calling the Invoke operation" in missing_err


async def test_200_concurrent_clients_are_all_answered(endpoint):
    """200 requests at once: each gets its own answer (200) or a clean throttle (429); nothing hangs."""
    count = 200
    connector = aiohttp.TCPConnector(limit=count)
    timeout = aiohttp.ClientTimeout(total=60)  # per request; the whole batch is bounded below

    async def one(session: aiohttp.ClientSession, i: int) -> tuple[int, int, dict]:
        async with session.post(
            f"{endpoint.url}/2015-03-31/functions/hello/invocations", data=json.dumps({"name": f"c{i}"}).encode(),
        ) as response:
            return i, response.status, await response.json(content_type=None)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        results = await asyncio.wait_for(asyncio.gather(*(one(session, i) for i in range(count))), 90)

    assert len(results) == count
    assert {status for _, status, _ in results} <= {200, 429}
    for i, status, body in results:
        if status == 200:
            assert body["message"] == f"Hello, c{i}!"  # its own answer, not a neighbour's
        else:
            assert body["Reason"] in ("ConcurrentInvocationLimitExceeded", "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert sum(1 for _, status, _ in results if status == 200) >= 1
    assert len({body["request_id"] for _, status, body in results if status == 200}) == sum(1 for _, s, _ in results if s == 200)
    assert endpoint.fleet.invoker.in_flight == 0


async def test_a_function_calling_another_through_the_endpoint_is_its_child_in_the_trace(endpoint, lambda_client):
    """The caller sample uses plain boto3; botocore forwards its trace header, so hello's parent is caller's segment."""
    client = lambda_client(endpoint.url, read_timeout=60)
    subscription = endpoint.fleet.subscribe("test")

    response = await asyncio.to_thread(
        client.invoke, FunctionName="caller", Payload=json.dumps({"target": "hello", "payload": {"name": "child"}}).encode(),
    )

    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    assert answer["status_code"] == 200 and answer["response"]["message"] == "Hello, child!"
    records = {item.record.function: item.record for item in subscription.drain() if isinstance(item, InvocationResult)}
    caller, child = records["caller"], records["hello"]
    assert child.request_id == answer["request_id"]
    assert child.trigger == "http"
    assert child.trace_id == caller.trace_id
    assert child.parent_id == caller.segment_id
    assert caller.parent_id is None
    # The child ran inside the caller's invocation.
    assert caller.started_at <= child.started_at <= child.ended_at <= caller.ended_at
