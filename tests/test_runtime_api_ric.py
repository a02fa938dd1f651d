"""`python_runtime: ric`: the same handler under awslambdaric (through the Runtime API) and under the built-in worker.

Side by side in one fleet, the two must give the same payloads, the same
error shapes and the same log lines (ids, times and durations aside).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus

pytestmark = pytest.mark.skipif(importlib.util.find_spec("awslambdaric") is None, reason="awslambdaric is not installed")

HANDLER = """
import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("module loaded")


def handler(event, context):
    print("event", event)
    logger.info("working on %s", event.get("n"))
    if event.get("fail"):
        raise ValueError("the order is gone")
    return {
        "n": event.get("n"), "request_id": context.aws_request_id, "function": context.function_name,
        "memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn, "version": context.function_version,
        "time_left": 0 < context.get_remaining_time_in_millis() <= 3000, "log_group": context.log_group_name,
        "task_root": os.environ["LAMBDA_TASK_ROOT"], "trace": "_X_AMZN_TRACE_ID" in os.environ,
    }
"""

PROJECT = """
functions:
  builtin: {handler: app.handler, code: fn}
  ric: {handler: app.handler, code: fn, python_runtime: ric}
"""

_VOLATILE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "<time>"),
    (re.compile(r"\d+(\.\d+)? ms"), "<n> ms"),
    (re.compile(r"Max Memory Used: \d+ MB"), "Max Memory Used: <n> MB"),
    (re.compile(r"function:(builtin|ric)\b"), "function:<fn>"),
    (re.compile(r"/aws/lambda/(builtin|ric)\b"), "/aws/lambda/<fn>"),
    (re.compile(r"'(builtin|ric)'"), "'<fn>'"),
]


def normalised(lines: list[str]) -> list[str]:
    """Log lines with what differs between any two runs replaced; the RIC writes a multi-line error as one
    stdout event (lines joined by \\r, continuation indented with U+00A0), as Lambda's stdout sink does."""
    text = "\n".join(lines).replace("\r", "\n").replace("\u00a0", " ")
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text.split("\n")


def payload(result: InvocationResult) -> object:
    body = json.loads(result.response)
    if isinstance(body, dict):
        body.pop("request_id", None)
        body.pop("requestId", None)
        body.pop("arn", None)
        body.pop("function", None)
        body.pop("log_group", None)
    return body


@pytest.fixture
def side_by_side(make_project: Callable[..., Path]) -> Path:
    return make_project({"fn": HANDLER}, PROJECT)


async def test_the_same_handler_under_awslambdaric_and_the_built_in_worker(side_by_side: Path) -> None:
    async with Fleet(side_by_side) as fleet:
        runs: dict[str, list[InvocationResult]] = {}
        for name in ("builtin", "ric"):
            runs[name] = [await fleet.invoke(name, {"n": 1}), await fleet.invoke(name, {"n": 2}),
                          await fleet.invoke(name, {"n": 3, "fail": True}),
                          await fleet.invoke(name, b"")]  # an empty Invoke body: `{}` for both, as the service sends
        ric_pid = runs["ric"][0].record.pid
        assert ric_pid is not None
        assert "awslambdaric" in " ".join(psutil.Process(ric_pid).cmdline())

    builtin, ric = runs["builtin"], runs["ric"]
    assert [r.record.status for r in ric] == [InvocationStatus.SUCCESS, InvocationStatus.SUCCESS, InvocationStatus.ERROR,
                                              InvocationStatus.SUCCESS]
    assert [r.record.cold_start for r in ric] == [True, False, False, False]
    assert ric[0].record.init_duration_ms is not None and ric[1].record.init_duration_ms is None
    assert json.loads(ric[0].response)["request_id"] == ric[0].record.request_id
    for ours, reference in zip(builtin, ric, strict=True):
        assert payload(ours) == payload(reference)
        assert ours.function_error == reference.function_error
        assert ours.record.error_type == reference.record.error_type
        assert normalised(ours.log_lines) == normalised(reference.log_lines)
    error = json.loads(ric[2].response)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "the order is gone"
    assert error["requestId"] == ric[2].record.request_id
    assert error["stackTrace"][0].endswith('in handler\n    raise ValueError("the order is gone")\n')


async def test_awslambdaric_times_out_and_is_replaced_like_the_built_in_worker(make_project: Callable[..., Path]) -> None:
    config = make_project(
        {"fn": "import time\n\ndef handler(event, context):\n    print('sleeping')\n    time.sleep(event['s'])\n    return 'done'\n"},
        "functions:\n  ric: {handler: app.handler, code: fn, python_runtime: ric, timeout: 1}\n",
    )
    async with Fleet(config) as fleet:
        slow = await fleet.invoke("ric", {"s": 10})
        after = await fleet.invoke("ric", {"s": 0})
    assert slow.record.status is InvocationStatus.TIMEOUT
    assert json.loads(slow.response)["errorType"] == "Sandbox.Timedout"
    assert "sleeping" in slow.log_lines
    assert after.record.status is InvocationStatus.SUCCESS and after.record.cold_start
    assert after.record.pid != slow.record.pid


def test_python_runtime_reaches_a_templates_functions_from_lambdatop_yaml(tmp_path: Path) -> None:
    from lambdatop.runtime.config import load_config
    from lambdatop.runtime.errors import ConfigError

    (tmp_path / "fn").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  One: {Type: AWS::Serverless::Function, Properties: {Handler: app.handler, CodeUri: fn, Runtime: python3.12}}\n"
        "  Two: {Type: AWS::Serverless::Function, Properties: {Handler: app.handler, CodeUri: fn, Runtime: python3.12}}\n"
    )
    (tmp_path / "lambdatop.yaml").write_text(
        "template: template.yaml\ndefaults: {python_runtime: ric}\nfunctions:\n  Two: {python_runtime: builtin}\n")
    config = load_config(tmp_path / "lambdatop.yaml")
    assert config.functions["One"].python_runtime == "ric" and config.functions["Two"].python_runtime == "builtin"
    (tmp_path / "lambdatop.yaml").write_text("template: template.yaml\ndefaults: {python_runtime: official}\n")
    with pytest.raises(ConfigError, match="must be builtin or ric, got 'official'"):
        load_config(tmp_path / "lambdatop.yaml")


async def test_an_exception_at_import_is_logged_as_runtime_unknown_under_awslambdaric(make_project: Callable[..., Path]) -> None:
    """The emulator validates a runtime's error type: `RuntimeError` is logged as Runtime.Unknown, the payload keeps it."""
    config = make_project({"fn": "raise RuntimeError('no database')\n"},
                          "functions:\n  ric: {handler: app.handler, code: fn, python_runtime: ric}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("ric", {})
    assert result.record.status is InvocationStatus.ERROR
    error = json.loads(result.response)
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "no database"
    reports = [line for line in result.log_lines if line.startswith("INIT_REPORT")]
    assert [r.split("\t")[1:] for r in reports] == [
        ["Phase: init", "Status: error", "Error Type: Runtime.Unknown"],
        ["Phase: invoke", "Status: error", "Error Type: Runtime.Unknown"],
    ]
    assert result.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.Unknown")
