"""Nothing ignored silently: what lambdatop does not implement is listed once; what it cannot run does not stop the rest.

Real Lambda's answer for a handler without a dot (awslambdaric bootstrap.py,
`_get_handler`: `handler.rsplit(".", 1)` raising ValueError, reported as
FaultException MALFORMED_HANDLER_NAME "Bad handler '{}': {}" at Init):
{"errorMessage": "Bad handler 'index': not enough values to unpack (expected 2, got 1)",
 "errorType": "Runtime.MalformedHandlerName", "requestId": "", "stackTrace": []}
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.widgets.functions_table import FunctionsTable

from .tui_pilot import quit_and_check, started, wait_for
from tests.support import lambdatop

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Ok:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}
      VpcConfig: {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1]}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      DurableConfig: {ExecutionTimeout: 60}
  Java:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: example.Handler::handleRequest
      Runtime: java21
  Image:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context): return 1"
      Handler: index.handler
      Runtime: python3.11
  NoDot:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: index
      Runtime: python3.11
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}
"""


def project(root: Path, template: str = TEMPLATE) -> Path:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (root / "template.yaml").write_text(textwrap.dedent(template))
    return root / "template.yaml"


def test_every_unimplemented_property_is_listed_once_with_what_happens_instead(tmp_path: Path) -> None:
    project(tmp_path)
    done = lambdatop("invoke", "Ok", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "ok"  # the rest of the template runs
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    expected = {
        "ProvisionedConcurrencyConfig (Ok): no provisioned concurrency",
        "VpcConfig (Ok): no VPC",
        "DurableConfig (Other): durable executions are not emulated",
        "AWS::Serverless::StateMachine (Flow): Step Functions state machines are not run",
        "function 'Java' cannot run: runtime java21 is not supported by lambdatop",
        "function 'Image' cannot run: container-image functions (PackageType: Image) cannot run in lambdatop",
        "function 'Inline' cannot run: InlineCode is not supported by lambdatop",
        "function 'NoDot': Handler 'index' has no '.'",
    }
    for text in expected:
        assert sum(text in line for line in warnings) == 1, (text, warnings)
    assert len(warnings) == len(expected)


def test_a_dotless_handler_fails_at_init_as_lambda_does(tmp_path: Path) -> None:
    project(tmp_path)
    done = lambdatop("invoke", "NoDot", cwd=tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {
        "errorMessage": "Bad handler 'index': not enough values to unpack (expected 2, got 1)",
        "errorType": "Runtime.MalformedHandlerName", "requestId": "", "stackTrace": [],
    }
    assert "INIT_REPORT Init Duration: " in done.stderr and "Error Type: Runtime.MalformedHandlerName" in done.stderr


@pytest.mark.parametrize(("function", "reason"), [
    ("Java", "runtime java21 is not supported by lambdatop"),
    ("Image", "container-image functions (PackageType: Image) cannot run in lambdatop"),
    ("Inline", "InlineCode is not supported by lambdatop"),
])
def test_invoking_a_function_lambdatop_cannot_run_says_why(tmp_path: Path, function: str, reason: str) -> None:
    project(tmp_path)
    done = lambdatop("invoke", function, cwd=tmp_path)
    assert done.returncode == 3
    assert f"An error occurred (InvalidRuntimeException) when calling the Invoke operation: lambdatop cannot run " \
           f"function {function}: {reason}" in done.stderr


def test_an_inline_code_only_template_loads_and_keeps_its_warning(tmp_path: Path) -> None:
    project(tmp_path, """\
        Resources:
          Inline:
            Type: AWS::Serverless::Function
            Properties:
              InlineCode: "def handler(event, context): return 1"
              Handler: index.handler
              Runtime: python3.11
        """)
    done = lambdatop("events", "list", "-f", "Inline", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "function 'Inline' cannot run: InlineCode is not supported by lambdatop" in done.stderr


def test_boto3_gets_a_typed_error_from_serve(tmp_path: Path, lambda_client) -> None:  # type: ignore[no-untyped-def]
    project(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--api-port", "0", "--no-aws", "--no-store"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = next(m.group(1) for line in process.stdout if (m := re.match(r"Lambda API\s+(http://\S+)$", line.strip())))
        client = lambda_client(url)
        assert json.loads(client.invoke(FunctionName="Ok")["Payload"].read()) == "ok"
        with pytest.raises(client.exceptions.InvalidRuntimeException, match="lambdatop cannot run function Java"):
            client.invoke(FunctionName="Java")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert stderr.count("VpcConfig (Ok): no VPC") == 1  # listed once at start, in serve's output


async def test_the_dashboard_shows_the_notice_and_the_function_that_cannot_run(tmp_path: Path) -> None:
    app = LambdatopApp(project(tmp_path), options=ServiceOptions(port=None, watch=False, store=False))
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await started(pilot)
        notices = [n.message for n in app._notifications]
        assert sum("VpcConfig (Ok): no VPC" in text for text in notices) == 1
        assert any("function 'Java' cannot run" in text for text in notices)
        table = app.screen.query_one(FunctionsTable)
        table.select_function("Java")
        await pilot.press("i")
        await wait_for(pilot, lambda: any("lambdatop cannot run function Java" in n.message for n in app._notifications),
                       what="the invoke's error notice")
        await quit_and_check(pilot)


def test_lambdatop_yaml_functions_get_the_same_treatment(tmp_path: Path) -> None:
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (tmp_path / "lambdatop.yaml").write_text(
        "functions:\n  a: {handler: app.handler}\n  b: {handler: app, runtime: python3.11}\n"
        "  c: {handler: app.handler, runtime: java21}\n")
    done = lambdatop("invoke", "a", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == "ok"
    assert "function 'b': handler 'app' has no '.'" in done.stderr
    assert "function 'c' cannot run: runtime java21 is not supported by lambdatop" in done.stderr
    assert lambdatop("invoke", "b", cwd=tmp_path).returncode == 1
    assert "(InvalidRuntimeException)" in lambdatop("invoke", "c", cwd=tmp_path).stderr
