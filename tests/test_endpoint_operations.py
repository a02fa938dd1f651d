"""The Lambda API calls operations tools make, through real boto3 clients against a live endpoint on loopback.

Reads answered from the template in botocore's shapes (EventInvokeConfig, policy, tags, layers, runtime
management, code signing, provisioned concurrency), the write calls that change the running fleet
(reserved concurrency, memory/timeout/environment, async settings), and a typed error naming any
operation lambdatop does not implement.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdatop.runtime.api.endpoint import LambdaEndpoint
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import attach_store_services
from tests.conftest import lambdatop_processes, still_running

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.11
    Tags:
      team: payments
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: orders/
      Handler: app.handler
      Tags:
        stage: !Ref Stage
      Layers:
        - !Ref SharedLayer
        - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: 120
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: arn:aws:sqs:us-east-1:123456789012:orders-failed
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Enabled: false
  Sleepy:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: sleepy/
      Handler: app.handler
      Timeout: 10
      Environment:
        Variables:
          COLOR: blue
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared-utils
      Description: helpers both functions import
      ContentUri: layer/
      CompatibleRuntimes: [python3.11]
      LicenseInfo: MIT
  InvokeFromPartner:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Orders.Arn
      Action: lambda:InvokeFunction
      Principal: '210987654321'
"""

ORDERS = "def handler(event, context):\n    return {'ok': True}\n"
SLEEPY = """\
import os, time

def handler(event, context):
    if event.get("fail"):
        raise ValueError("failed on purpose")
    if event.get("hold"):  # announce it runs, then wait for the test to let go
        open(event["started"], "w").close()
        while not os.path.exists(event["hold"]):
            time.sleep(0.01)
    time.sleep(event.get("sleep", 0))
    return {"color": os.environ.get("COLOR"), "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[LambdaEndpoint]:
    for folder, source in (("orders", ORDERS), ("sleepy", SLEEPY), ("layer/python", "HELPER = 1\n")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / ("helper.py" if folder.startswith("layer") else "app.py")).write_text(source)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    service = LambdaEndpoint("127.0.0.1", 0)
    fleet = Fleet(tmp_path / "template.yaml")
    attach_store_services(fleet)  # the async queue, whose retries the EventInvokeConfig calls change
    fleet.add_service(service)
    async with fleet:
        yield service
    assert not still_running(lambdatop_processes())


async def call(client: Any, operation: str, **params: Any) -> Any:
    return await asyncio.to_thread(getattr(client, operation), **params)


async def test_reads_answer_from_the_template_in_botocore_shapes(served, lambda_client):
    client = lambda_client(served.url)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Orders"

    config = await call(client, "get_function_event_invoke_config", FunctionName="Orders")
    assert config["FunctionArn"] == arn + ":$LATEST"
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 120)
    assert config["DestinationConfig"]["OnFailure"] == {"Destination": "arn:aws:sqs:us-east-1:123456789012:orders-failed"}
    assert config["LastModified"].year >= 2024  # a datetime: botocore parsed the timestamp
    listed = await call(client, "list_function_event_invoke_configs", FunctionName="Orders")
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [arn + ":$LATEST"]
    # Lambda's 404 for a function without one (moto's and Lambda's wording).
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="doesn't have an EventInvokeConfig"):
        await call(client, "get_function_event_invoke_config", FunctionName="Sleepy")

    tags = (await call(client, "list_tags", Resource=arn))["Tags"]
    assert {k: v for k, v in tags.items() if k != "lambdatop:source"} == {
        "lambda:createdBy": "SAM", "team": "payments", "stage": "dev"}
    assert (await call(client, "get_function", FunctionName="Orders"))["Tags"] == tags

    policy = json.loads((await call(client, "get_policy", FunctionName="Orders"))["Policy"])
    principals = sorted(json.dumps(s["Principal"]) for s in policy["Statement"])
    assert principals == ['{"AWS": "210987654321"}', '{"Service": "events.amazonaws.com"}']
    assert all(s["Resource"] == arn and s["Action"] == "lambda:InvokeFunction" for s in policy["Statement"])
    # A function with no resource policy: what Lambda answers (ResourceNotFoundException, this wording).
    with pytest.raises(client.exceptions.ResourceNotFoundException, match=r"^.*The resource you requested does not exist\.$"):
        await call(client, "get_policy", FunctionName="Sleepy")

    runtime = await call(client, "get_runtime_management_config", FunctionName="Orders")
    assert (runtime["UpdateRuntimeOn"], runtime["FunctionArn"]) == ("Auto", arn)
    signing = await call(client, "get_function_code_signing_config", FunctionName="Orders")
    assert (signing["CodeSigningConfigArn"], signing["FunctionName"]) == ("", "Orders")
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        await call(client, "get_provisioned_concurrency_config", FunctionName="Orders", Qualifier="live")
    assert (await call(client, "list_provisioned_concurrency_configs", FunctionName="Orders"))["ProvisionedConcurrencyConfigs"] == []
    assert (await call(client, "list_event_source_mappings", FunctionName="Orders"))["EventSourceMappings"] == []


async def test_the_templates_layers_are_listed_and_described(served, lambda_client):
    client = lambda_client(served.url)
    layer_arn = "arn:aws:lambda:us-east-1:123456789012:layer:shared-utils"

    layers = (await call(client, "list_layers"))["Layers"]
    assert [(lay["LayerName"], lay["LayerArn"]) for lay in layers] == [("shared-utils", layer_arn)]
    latest = layers[0]["LatestMatchingVersion"]
    assert (latest["LayerVersionArn"], latest["Version"], latest["CompatibleRuntimes"]) == (layer_arn + ":1", 1, ["python3.11"])
    versions = (await call(client, "list_layer_versions", LayerName="shared-utils"))["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]

    version = await call(client, "get_layer_version", LayerName="shared-utils", VersionNumber=1)
    assert (version["LayerArn"], version["Description"], version["LicenseInfo"]) == (layer_arn, "helpers both functions import", "MIT")
    assert version["Content"]["CodeSize"] == len("HELPER = 1\n") and version["Content"]["Location"].startswith("file://")
    by_arn = await call(client, "get_layer_version_by_arn", Arn=layer_arn + ":1")
    assert by_arn["LayerVersionArn"] == layer_arn + ":1"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await call(client, "get_layer_version", LayerName="shared-utils", VersionNumber=2)
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="another account's layer"):
        await call(client, "get_layer_version_by_arn",
                   Arn="arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7")

    listed = [layer["Arn"] for layer in (await call(client, "get_function_configuration", FunctionName="Orders"))["Layers"]]
    assert listed == [layer_arn + ":1", "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7"]


async def test_put_function_concurrency_throttles_at_once_and_delete_lifts_it(served, lambda_client):
    client = lambda_client(served.url)
    assert json.loads((await call(client, "invoke", FunctionName="Sleepy"))["Payload"].read())["color"] == "blue"

    put = await call(client, "put_function_concurrency", FunctionName="Sleepy", ReservedConcurrentExecutions=0)
    assert put["ReservedConcurrentExecutions"] == 0
    assert (await call(client, "get_function_concurrency", FunctionName="Sleepy"))["ReservedConcurrentExecutions"] == 0
    settings = await call(client, "get_account_settings")
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == settings["AccountLimit"]["ConcurrentExecutions"]
    with pytest.raises(client.exceptions.TooManyRequestsException) as caught:
        await call(client, "invoke", FunctionName="Sleepy")
    assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

    await call(client, "delete_function_concurrency", FunctionName="Sleepy")
    assert "ReservedConcurrentExecutions" not in await call(client, "get_function_concurrency", FunctionName="Sleepy")
    assert (await call(client, "invoke", FunctionName="Sleepy"))["StatusCode"] == 200
    # Lambda keeps 100 of the account unreserved.
    with pytest.raises(client.exceptions.InvalidParameterValueException, match=r"minimum value of \[100\]"):
        await call(client, "put_function_concurrency", FunctionName="Sleepy", ReservedConcurrentExecutions=901)


async def test_a_reservation_of_one_lets_one_call_run_and_throttles_the_next(served, lambda_client, tmp_path):
    client = lambda_client(served.url)
    await call(client, "put_function_concurrency", FunctionName="Sleepy", ReservedConcurrentExecutions=1)
    started, release = tmp_path / "started", tmp_path / "release"
    payload = json.dumps({"hold": str(release), "started": str(started)}).encode()
    holding = asyncio.create_task(call(client, "invoke", FunctionName="Sleepy", Payload=payload))
    try:
        while not started.exists():  # the one slot is taken once the handler runs
            assert not holding.done(), holding.result()
            await asyncio.sleep(0.02)
        with pytest.raises(client.exceptions.TooManyRequestsException) as caught:
            await call(client, "invoke", FunctionName="Sleepy")
        assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        release.touch()
    assert (await holding)["StatusCode"] == 200
    assert (await call(client, "invoke", FunctionName="Sleepy"))["StatusCode"] == 200  # the slot is free again


async def test_update_function_configuration_applies_to_the_next_invocation(served, lambda_client):
    client = lambda_client(served.url)
    fleet = served.fleet
    notices = fleet.subscribe("ops-test")
    warm = json.loads((await call(client, "invoke", FunctionName="Sleepy", Payload=b'{"sleep": 1.5}'))["Payload"].read())
    assert (warm["color"], warm["memory"]) == ("blue", "128")

    warm_revision = (await call(client, "get_function_configuration", FunctionName="Sleepy"))["RevisionId"]
    updated = await call(client, "update_function_configuration", FunctionName="Sleepy", Timeout=1, MemorySize=256,
                         Environment={"Variables": {"COLOR": "green"}}, RevisionId=warm_revision)
    assert (updated["Timeout"], updated["MemorySize"], updated["Environment"]["Variables"]) == (1, 256, {"COLOR": "green"})
    assert updated["LastUpdateStatus"] == "Successful"
    await asyncio.to_thread(client.get_waiter("function_updated_v2").wait, FunctionName="Sleepy")
    shown = await call(client, "get_function_configuration", FunctionName="Sleepy")
    assert (shown["Timeout"], shown["MemorySize"], shown["RevisionId"]) == (1, 256, updated["RevisionId"])

    # The same 1.5 s call now outlives the new 1 s timeout; the environment that ran it before has retired.
    timed_out = await call(client, "invoke", FunctionName="Sleepy", Payload=b'{"sleep": 1.5}')
    assert timed_out["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(timed_out["Payload"].read())["errorMessage"]
    fresh = json.loads((await call(client, "invoke", FunctionName="Sleepy"))["Payload"].read())
    assert (fresh["color"], fresh["memory"]) == ("green", "256") and fresh["remaining_ms"] <= 1000

    # What the dashboard sees: a notice, and the function's new values in the snapshot its screen draws.
    events = [e for e in notices.drain() if isinstance(e, FleetEvent) and e.kind == "config"]
    assert any("config updated via API" in e.message and "Timeout 1 s" in e.message for e in events)
    function = next(f for f in fleet.snapshot().functions if f.name == "Sleepy")
    assert (function.timeout, function.memory_size) == (1, 256)

    # A RevisionId read before this update no longer matches: Lambda's 412.
    with pytest.raises(client.exceptions.PreconditionFailedException):
        await call(client, "update_function_configuration", FunctionName="Sleepy", Timeout=2, RevisionId=warm_revision)
    with pytest.raises(client.exceptions.InvalidParameterValueException, match="cannot change Runtime"):
        await call(client, "update_function_configuration", FunctionName="Sleepy", Runtime="python3.12")
    with pytest.raises(client.exceptions.InvalidParameterValueException, match="reserved keys.*AWS_REGION"):
        await call(client, "update_function_configuration", FunctionName="Sleepy", Environment={"Variables": {"AWS_REGION": "x"}})


async def test_event_invoke_config_writes_change_the_live_async_settings(served, lambda_client):
    client = lambda_client(served.url)
    put = await call(client, "put_function_event_invoke_config", FunctionName="Sleepy", MaximumRetryAttempts=0)
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (0, 21600)
    updated = await call(client, "update_function_event_invoke_config", FunctionName="Sleepy", MaximumEventAgeInSeconds=60)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 60)
    # The queue applies it from the next event: a failure runs once, not 1 + Lambda's default 2 retries.
    fleet = served.fleet
    accepted = await call(client, "invoke", FunctionName="Sleepy", InvocationType="Event", Payload=b'{"fail": true}')
    request_id = accepted["ResponseMetadata"]["RequestId"]
    await asyncio.wait_for(fleet.async_queue.settled(request_id), 30)
    await fleet.store.flush()
    attempts = fleet.store.attempts(request_id)
    assert [a.record.error_type for a in attempts] == ["ValueError"]

    await call(client, "delete_function_event_invoke_config", FunctionName="Sleepy")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await call(client, "get_function_event_invoke_config", FunctionName="Sleepy")


async def test_an_operation_lambdatop_lacks_is_a_typed_error_naming_it(served, lambda_client):
    client = lambda_client(served.url)
    for operation, params, name in (
        ("put_provisioned_concurrency_config", {"FunctionName": "Sleepy", "Qualifier": "live",
                                                "ProvisionedConcurrentExecutions": 1}, "PutProvisionedConcurrencyConfig"),
        ("get_function_recursion_config", {"FunctionName": "Sleepy"}, "GetFunctionRecursionConfig"),
        ("delete_function", {"FunctionName": "Sleepy"}, "DeleteFunction"),
    ):
        with pytest.raises(ClientError) as caught:
            await call(client, operation, **params)
        error = caught.value.response["Error"]
        assert error["Code"] == "UnknownOperationException"
        assert f"does not implement the Lambda operation {name}" in error["Message"]
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_aws_cli_drives_the_write_calls_of_a_running_serve(make_project, tmp_path):
    """`lambdatop serve` as a user runs it, and the AWS CLI's own commands (v1, from the test extra) against it."""
    from tests.test_endpoint_clients import AWS_CLI, _cli_environment
    from tests.support import serve
    from tests.test_endpoint_serve import _read_url

    config = make_project({"sleepy": SLEEPY}, "functions:\n  sleepy: {handler: app.handler, timeout: 10}\n")
    env = _cli_environment(tmp_path)
    with (tmp_path / "serve.err").open("w") as stderr:
        process = serve(config, "--port", "0", stderr=stderr)
        try:
            url = _read_url(process)

            def aws(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([str(AWS_CLI), "lambda", *args, "--endpoint-url", url], env=env,
                                      capture_output=True, text=True, timeout=60)

            put = aws("put-function-concurrency", "--function-name", "sleepy", "--reserved-concurrent-executions", "0")
            assert put.returncode == 0 and json.loads(put.stdout) == {"ReservedConcurrentExecutions": 0}
            throttled = aws("invoke", "--function-name", "sleepy", str(tmp_path / "out.json"))
            assert throttled.returncode == 255 and "(TooManyRequestsException) when calling the Invoke operation" in throttled.stderr
            assert aws("delete-function-concurrency", "--function-name", "sleepy").returncode == 0

            updated = aws("update-function-configuration", "--function-name", "sleepy", "--timeout", "1")
            assert updated.returncode == 0 and json.loads(updated.stdout)["Timeout"] == 1
            ran = aws("invoke", "--function-name", "sleepy", "--payload", '{"sleep": 1.5}', str(tmp_path / "out.json"))
            assert ran.returncode == 0 and json.loads(ran.stdout)["FunctionError"] == "Unhandled"
            assert "Task timed out after 1.00 seconds" in (tmp_path / "out.json").read_text()

            policy = aws("get-policy", "--function-name", "sleepy")
            assert policy.returncode == 255
            assert "(ResourceNotFoundException) when calling the GetPolicy operation: The resource you requested does not exist." in policy.stderr
            publish = aws("publish-version", "--function-name", "sleepy")
            assert publish.returncode == 0 and json.loads(publish.stdout)["Version"] == "1"
            delete = aws("delete-function", "--function-name", "sleepy")
            assert delete.returncode == 255
            assert ("(UnknownOperationException) when calling the DeleteFunction operation: "
                    "lambdatop does not implement the Lambda operation DeleteFunction") in delete.stderr
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "config updated via API" in (tmp_path / "serve.err").read_text()


async def test_the_dashboard_shows_an_api_config_update(make_project, lambda_client):
    """A notice says the config changed through the API, and the function screen shows the new values."""
    from lambdatop.runtime.services import ServiceOptions
    from lambdatop.tui.app import LambdatopApp
    from lambdatop.tui.screens.function import FunctionScreen
    from tests.tui_pilot import quit_and_check, screen_text, shown, started, wait_for

    config = make_project({"sleepy": SLEEPY}, "functions:\n  sleepy: {handler: app.handler, timeout: 10}\n")
    app = LambdatopApp(config, options=ServiceOptions(port=0, watch=False, store=False, aws=False))
    async with app.run_test(size=(160, 50)) as pilot:
        await started(pilot)
        client = lambda_client(app.fleet.endpoint)
        await call(client, "update_function_configuration", FunctionName="sleepy", Timeout=1, MemorySize=256)
        await wait_for(pilot, lambda: any("config updated via API" in n.message for n in app._notifications), what="the notice")
        app.open_function("sleepy")
        await shown(pilot, FunctionScreen, "function screen")
        await wait_for(pilot, lambda: any("256 MB" in line and "1s timeout" in line for line in screen_text(app)),
                       what="the new memory and timeout on the function screen")
        await quit_and_check(pilot)
