"""Inside the handler: the context object, Lambda's variables, a clean environment, captured output."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from lambdatop.runtime.errors import InvalidRequestContent, RequestTooLarge
from lambdatop.runtime.fleet import Fleet

INTROSPECT = '''
import json, os, sys, time
def handler(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if context.client_context is None else {
            "app_title": context.client_context.client.app_title, "custom": context.client_context.custom},
        "remaining": context.get_remaining_time_in_millis(),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path0": sys.path[0],
        "tz": time.strftime("%Z"),
    }
'''
NOISY = '''
import os, subprocess, sys, logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
def handler(event, context):
    print("from print")
    sys.stderr.write("from stderr\\n")
    os.write(1, b"from fd 1\\n")
    subprocess.run(["echo", "from a subprocess"], check=True)
    logger.info("from logging")
    return event.get("tag")
'''


@pytest.fixture
def introspect_config(make_project) -> Path:
    return make_project({"probe": INTROSPECT, "noisy": NOISY}, """
        account: {region: eu-west-2, account_id: "111122223333"}
        functions:
          probe:
            handler: app.handler
            memory_size: 256
            timeout: 7
            environment: {MY_SETTING: "42"}
          noisy: {handler: app.handler}
    """)


async def test_context_object_has_every_attribute(introspect_config: Path) -> None:
    os.environ["LAMBDATOP_TEST_LEAK"] = "should-not-leak"
    try:
        async with Fleet(introspect_config) as fleet:
            context = base64.b64encode(json.dumps({"client": {"app_title": "shop"}, "custom": {"k": "v"}}).encode())
            result = await fleet.invoke("probe", {}, client_context=base64.b64decode(context).decode())
    finally:
        del os.environ["LAMBDATOP_TEST_LEAK"]
    seen = json.loads(result.response)
    assert seen["function_name"] == "probe"
    assert seen["function_version"] == "$LATEST"
    assert seen["invoked_function_arn"] == "arn:aws:lambda:eu-west-2:111122223333:function:probe"
    assert seen["memory_limit_in_mb"] == "256"  # a string, as the Python runtime gives it
    assert seen["aws_request_id"] == result.record.request_id
    assert seen["log_group_name"] == "/aws/lambda/probe"
    assert seen["log_stream_name"].endswith("]" + seen["log_stream_name"].split("]")[1]) and "/[$LATEST]" in seen["log_stream_name"]
    assert seen["identity"] == [None, None]
    assert seen["client_context"] == {"app_title": "shop", "custom": {"k": "v"}}
    assert 6000 < seen["remaining"] <= 7000
    assert seen["tz"] == "UTC"
    assert seen["cwd"] == seen["sys_path0"] == str(introspect_config.parent / "probe")


async def test_reserved_environment_variables_and_nothing_else_leaks(introspect_config: Path) -> None:
    os.environ["LAMBDATOP_TEST_LEAK"] = "should-not-leak"
    try:
        async with Fleet(introspect_config) as fleet:
            env = json.loads((await fleet.invoke("probe", {})).response)["env"]
    finally:
        del os.environ["LAMBDATOP_TEST_LEAK"]
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-2"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/probe"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["LAMBDA_TASK_ROOT"] == str(introspect_config.parent / "probe")
    assert env["LAMBDA_RUNTIME_DIR"]
    assert env["TZ"] == ":UTC"
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_XRAY_DAEMON_ADDRESS", "TMPDIR"):
        assert env[name], name
    assert env["MY_SETTING"] == "42"
    assert "LAMBDATOP_TEST_LEAK" not in env
    assert "AWS_SAM_LOCAL" not in env  # it would switch Powertools Tracer off


async def test_output_is_captured_at_the_fd_level_and_attributed_to_its_request(introspect_config: Path) -> None:
    async with Fleet(introspect_config) as fleet:
        first = await fleet.invoke("noisy", {"tag": "one"})
        second = await fleet.invoke("noisy", {"tag": "two"})
    for result in (first, second):
        body = result.log_lines[result.log_lines.index(f"START RequestId: {result.record.request_id} Version: $LATEST") + 1:-2]
        assert body[:4] == ["from print", "from stderr", "from fd 1", "from a subprocess"]
        level, stamp, request_id, message = body[4].split("\t")
        assert (level, request_id, message) == ("[INFO]", result.record.request_id, "from logging")
        assert stamp.endswith("Z") and len(stamp) == len("2026-01-01T00:00:00.000Z")
        assert len(body) == 5  # nothing of the other invocation


async def test_payload_over_6_mb_is_refused_with_lambdas_error(fleet: Fleet) -> None:
    payload = json.dumps({"blob": "x" * (7 * 1024 * 1024)}).encode()
    with pytest.raises(RequestTooLarge) as caught:
        await fleet.invoke("hello", payload)
    error = caught.value
    assert error.status == 413
    assert error.headers() == {"x-amzn-ErrorType": "RequestEntityTooLargeException"}
    assert error.body() == {"Type": "User", "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}


async def test_a_payload_that_is_not_json_is_refused_before_any_code_runs(fleet: Fleet) -> None:
    with pytest.raises(InvalidRequestContent) as caught:
        await fleet.invoke("hello", b"{not json")
    assert caught.value.status == 400
    assert caught.value.body()["message"].startswith("Could not parse request body into json")
    assert fleet.environments("hello") == []


async def test_response_over_the_limit_is_function_response_size_too_large(make_project) -> None:
    config = make_project({"big": "def handler(e, c):\n    return 'x' * (6 * 1024 * 1024 + 200)\n"}, "functions:\n  big: {handler: app.handler}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("big", {})
    assert json.loads(result.response) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


async def test_endless_output_keeps_its_tail_and_a_marker(make_project) -> None:
    source = "import sys\ndef handler(e, c):\n    for i in range(300_000):\n        print(f'line {i:06d}')\n    print('the end')\n    return 1\n"
    config = make_project({"chatty": source}, "functions:\n  chatty: {handler: app.handler}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("chatty", {})
    body = result.log_lines[result.log_lines.index(f"START RequestId: {result.record.request_id} Version: $LATEST") + 1:-2]
    assert body[0].startswith("[lambdatop: ") and body[0].endswith(" bytes of earlier output dropped]")
    assert body[-1] == "the end" and body[-2] == "line 299999"
    assert sum(len(line) + 1 for line in body[1:]) <= 1024 * 1024
