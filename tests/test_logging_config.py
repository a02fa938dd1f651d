"""LoggingConfig (advanced logging controls), the REPORT's XRAY line and the environment's variables.

The application records are compared with awslambdaric 4.2 run on the same
handler with the same variables (tests/ric_driver.py); the platform's JSON
events follow the Telemetry API schema (LAMBDA.md §2, "JSON format").
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from tests.ric import invocation, run_ric

HANDLER = """\
import logging
import os

logger = logging.getLogger("orders")


def handler(event, context):
    print("plain print")
    print('{"level": "debug", "msg": "my debug log"}')  # the docs' example of a line the platform filters
    logger.debug("debug %s", "détail")
    logging.info("with extra", extra={"order": 7})
    logger.info({"as": "dict"})
    try:
        {}["missing"]
    except KeyError:
        logger.exception("it failed")
    return {"group": context.log_group_name, "env": {k: v for k, v in os.environ.items() if k.startswith("AWS_LAMBDA_LOG")}}


def environment(event, context):
    return dict(os.environ)


def fails(event, context):
    raise ValueError("caf\u00e9 closed")
"""
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: logs/
    Handler: app.handler
    LoggingConfig:
      LogFormat: JSON
Resources:
  Verbose:
    Type: AWS::Serverless::Function
    Properties:
      LoggingConfig:
        ApplicationLogLevel: TRACE
        SystemLogLevel: DEBUG
        LogGroup: /custom/verbose
  Default:
    Type: AWS::Serverless::Function
  Fails:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.fails
  Quiet:
    Type: AWS::Serverless::Function
    Properties:
      LoggingConfig:
        ApplicationLogLevel: ERROR
        SystemLogLevel: WARN
  Traced:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.environment
      Tracing: Active
      LoggingConfig:
        LogFormat: Text
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def _json_lines(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def _comparable(record: dict) -> dict:
    """An application record without what differs between two runs: the time and the request id."""
    return {k: v for k, v in record.items() if k not in ("timestamp", "requestId")}


async def test_json_application_records_match_the_runtime(template: Path, tmp_path: Path) -> None:
    async with Fleet(template) as fleet:
        result = await fleet.invoke("Verbose", b"{}")
    # ApplicationLogLevel TRACE is AWS_LAMBDA_LOG_LEVEL=TRACE, which the runtime reads as DEBUG
    # (lambda_runtime_log_utils._get_log_level_from_env_var); on main LoggingConfig was ignored.
    assert result.record.status is InvocationStatus.SUCCESS, result.response
    body = json.loads(result.response)
    assert body == {"group": "/custom/verbose", "env": {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "TRACE",
                                                         "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/verbose", "AWS_LAMBDA_LOG_STREAM_NAME": body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]}}
    theirs = run_ric(template.parent / "logs", "app.handler", [invocation()],
                     {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "TRACE"}, tmp=tmp_path)
    their_records = [r for r in (json.loads(line) for line in theirs.stdout.splitlines() if line.startswith("{")) if "logger" in r]
    ours = [r for r in _json_lines(result.log_lines) if "logger" in r]  # the runtime's records, not the platform's or a print
    assert [_comparable(r) for r in ours] == [_comparable(r) for r in their_records]
    assert [r["level"] for r in ours] == ["DEBUG", "INFO", "INFO", "ERROR"]
    assert ours[1]["order"] == 7 and ours[2]["message"] == {"as": "dict"} and ours[3]["errorType"] == "KeyError"
    assert all(r["requestId"] == result.record.request_id for r in ours)
    assert "plain print" in result.log_lines  # print output is not JSON, on Lambda either
    assert "plain print" in theirs.stdout.splitlines()


async def test_system_lines_are_json_platform_events_filtered_by_level(template: Path) -> None:
    async with Fleet(template) as fleet:
        verbose = await fleet.invoke("Verbose", b"{}")
        default = await fleet.invoke("Default", b"{}")
        quiet = await fleet.invoke("Quiet", b"{}")
    events = [e for e in _json_lines(verbose.log_lines) if "type" in e]
    assert [e["type"] for e in events] == ["platform.initStart", "platform.start", "platform.runtimeDone", "platform.report"]
    rid = verbose.record.request_id
    init_start, start, done, report = (e["record"] for e in events)
    assert init_start["initializationType"] == "on-demand" and init_start["phase"] == "init"
    assert init_start["runtimeVersion"].startswith("python:3.") and init_start["functionName"] == "Verbose"
    assert start == {"requestId": rid, "version": "$LATEST"}
    assert done["requestId"] == rid and done["status"] == "success" and "durationMs" in done["metrics"]
    assert report["requestId"] == rid and report["status"] == "success"
    assert set(report["metrics"]) == {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"}
    assert report["metrics"]["billedDurationMs"] == verbose.record.billed_duration_ms
    assert all(e["time"].endswith("Z") and len(e["time"]) == 24 for e in events)
    assert not any(line.startswith(("START ", "END ", "REPORT ", "INIT_START ")) for line in verbose.log_lines)
    # SystemLogLevel INFO (the default with JSON): no runtimeDone; WARN: none of these.
    assert [e["type"] for e in _json_lines(default.log_lines) if "type" in e] == ["platform.initStart", "platform.start", "platform.report"]
    assert [e for e in _json_lines(quiet.log_lines) if "type" in e] == []
    # ApplicationLogLevel ERROR: only the logger.exception record. The platform filters the output too, and a
    # line without a JSON `level` (a print) counts as INFO (DG:monitoring-cloudwatchlogs-log-level), so it goes.
    assert [r["level"] for r in _json_lines(quiet.log_lines) if "type" not in r] == ["ERROR"]
    assert "plain print" not in quiet.log_lines and "plain print" in default.log_lines
    user_debug = '{"level": "debug", "msg": "my debug log"}'
    assert user_debug in verbose.log_lines and user_debug not in default.log_lines


async def test_get_function_configuration_reports_the_logging_config(template: Path, lambda_client) -> None:
    from lambdatop.runtime.api.endpoint import LambdaEndpoint

    service = LambdaEndpoint("127.0.0.1", 0)
    fleet = Fleet(template)
    fleet.add_service(service)
    async with fleet:
        client = lambda_client(service.url)
        verbose = await asyncio.to_thread(client.get_function_configuration, FunctionName="Verbose")
        default = await asyncio.to_thread(client.get_function_configuration, FunctionName="Default")
        traced = await asyncio.to_thread(client.get_function_configuration, FunctionName="Traced")
    # botocore's LoggingConfig shape; main answered {"LogFormat": "Text", ...} for all.
    assert verbose["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "TRACE", "SystemLogLevel": "DEBUG",
                                        "LogGroup": "/custom/verbose"}
    assert default["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
                                        "LogGroup": "/aws/lambda/Default"}
    assert traced["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/Traced"}


async def test_json_error_event_matches_the_runtime(template: Path, tmp_path: Path) -> None:
    async with Fleet(template) as fleet:
        result = await fleet.invoke("Fails", b"{}")
    theirs = run_ric(template.parent / "logs", "app.fails", [invocation(request_id=result.record.request_id)],
                     {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}, tmp=tmp_path)
    # bootstrap.log_error with JSON: one object, {"timestamp", "level": "ERROR", **the error object}, through
    # the runtime's encoder (so \u escapes on 3.11). Main wrote the Text [ERROR] lines.
    (their_line,) = [line for line in theirs.stdout.splitlines() if line.startswith("{")]
    (our_line,) = [line for line in result.log_lines if line.startswith('{"timestamp"')]
    assert _comparable(json.loads(our_line)) == _comparable(json.loads(their_line))
    assert our_line.split(", ", 1)[1] == their_line.split(", ", 1)[1]  # byte for byte after the timestamp
    assert json.loads(result.response) == json.loads(theirs.body())


def test_levels_need_the_json_format(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("      LogFormat: JSON\n", "      LogFormat: Text\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "need LogFormat: JSON" in str(caught.value) and caught.value.key == "LoggingConfig"


async def test_trace_log_level_no_longer_fails_every_invoke(make_project) -> None:
    config = make_project({"fn": HANDLER}, """\
        functions:
          fn: {handler: app.handler, environment: {AWS_LAMBDA_LOG_LEVEL: TRACE}}
          json: {handler: app.handler, code: fn, logging: {format: JSON, application_log_level: WARN}}
    """)
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", b"{}")
        as_json = await fleet.invoke("json", b"{}")
    # Main: logging's setLevel("TRACE") raised in every new worker, so every invoke failed.
    assert result.record.status is InvocationStatus.SUCCESS, result.response
    assert any(line.startswith("[DEBUG]\t") and line.endswith("\tdebug détail") for line in result.log_lines)
    # Text format: logger.exception's record is one event with its traceback (one frame on Lambda).
    (failed,) = [line for line in result.log_lines if line.startswith("[ERROR]\t")]
    assert failed.endswith("\tit failed\nTraceback (most recent call last):\n" + failed.split("\n", 2)[2])
    assert "KeyError: 'missing'" in failed
    assert as_json.record.status is InvocationStatus.SUCCESS
    assert [r["level"] for r in _json_lines(as_json.log_lines) if "type" not in r] == ["ERROR"]


async def test_an_active_traced_report_carries_the_xray_line(template: Path) -> None:
    async with Fleet(template) as fleet:
        result = await fleet.invoke("Traced", b"{}")
    record = result.record
    # DG python-logging: "REPORT RequestId: …\tInit Duration: … ms\t\nXRAY TraceId: 1-…\tSegmentId: …\tSampled: true\t";
    # main wrote no XRAY line.
    report = result.log_lines[-1]
    assert report.startswith(f"REPORT RequestId: {record.request_id}\t")
    assert report.endswith(f"\t\nXRAY TraceId: {record.trace_id}\tSegmentId: {record.segment_id}\tSampled: true\t")
    assert record.trace_id and record.trace_id.startswith("1-")


async def test_the_environment_is_lambdas(template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C")
    async with Fleet(template) as fleet:
        result = await fleet.invoke("Traced", b"{}")
    environ = json.loads(result.response)
    code = str(template.parent / "logs")
    # Lambda: LANG=en_US.UTF-8 whatever the caller's, PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin,
    # LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:$LAMBDA_RUNTIME_DIR:$LAMBDA_RUNTIME_DIR/lib:$LAMBDA_TASK_ROOT:
    # $LAMBDA_TASK_ROOT/lib:/opt/lib (DG configuration-envvars); /var/lang is this machine's interpreter.
    assert environ["LANG"] == "en_US.UTF-8"
    assert environ["PATH"] == f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    library = environ["LD_LIBRARY_PATH"].split(":")
    runtime_dir = environ["LAMBDA_RUNTIME_DIR"]
    assert library[-7:] == ["/lib64", "/usr/lib64", runtime_dir, f"{runtime_dir}/lib", code, f"{code}/lib", "/opt/lib"]
    assert "PYTHONUNBUFFERED" not in environ  # not a Lambda variable; main set it
    assert "AWS_LAMBDA_LOG_FORMAT" not in environ  # the Text format sets neither variable


def test_the_dashboard_styles_both_formats() -> None:
    from lambdatop.tui.log_style import line_style

    report = json.dumps({"time": "t", "type": "platform.report", "record": {"status": "success"}})
    failed = json.dumps({"time": "t", "type": "platform.report", "record": {"status": "timeout"}})
    start = json.dumps({"time": "t", "type": "platform.start", "record": {}})
    error = json.dumps({"timestamp": "t", "level": "ERROR", "message": "m"})
    info = json.dumps({"timestamp": "t", "level": "INFO", "message": "m"})
    assert [line_style(x) for x in (report, failed, start, error, info)] == ["bold cyan", "bold red", "dim cyan", "red", ""]
    assert [line_style(x) for x in ("REPORT RequestId: x", "START RequestId: x", "[ERROR] KeyError: 'a'\nTraceback", "hi")] == [
        "bold cyan", "dim cyan", "red", ""]


def test_logging_config_in_lambdatop_yaml_and_sam_globals_merge(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    functions = load_config(path).functions
    # SAM merges a Globals map key by key with the function's own.
    assert functions["Verbose"].logging_config.json and functions["Verbose"].logging_config.log_group == "/custom/verbose"
    assert functions["Traced"].logging_config.json is False
    bad = tmp_path / "lambdatop.yaml"
    bad.write_text(textwrap.dedent("""\
        functions:
          fn: {handler: app.handler, code: logs, logging: {format: Xml}}
    """))
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert "LogFormat must be JSON or Text" in str(caught.value)
