"""The worker's runtime against the real one: awslambdaric 4.2 run on the same handlers (tests/ric_driver.py).

Each test runs the handler in a lambdatop worker and under awslambdaric's own
`bootstrap.run`, and compares what the caller gets and what the log says.
References are to awslambdaric 4.2.0 (site-packages/awslambdaric/...).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from tests.ric import invocation, run_ric

SOURCES = {
    "values/app.py": """\
        import collections
        import decimal

        Point = collections.namedtuple("Point", "x y")

        def handler(event, context):
            return {
                "price": decimal.Decimal("1.10"),
                "big": decimal.Decimal("123456789012345678901234567890.000000000000000000001"),
                "whole": decimal.Decimal("42"),
                "nan": decimal.Decimal("NaN"),
                "point": Point(1, 2),
                "text": "h\\u00e9llo \\u2603",
                "event": event,
            }

        def raw(event, context):
            return b"\\x00not json\\xff"

        def w3c(event, context):
            custom = context.client_context.custom if context.client_context else None
            return {"w3c": context.w3c(), "custom": custom}
    """,
    "errors/app.py": """\
        def inner(event):
            return {"a": 1}[event["key"]]

        def handler(event, context):
            return inner(event) + 1

        def chained(event, context):
            try:
                inner(event)
            except KeyError as exc:
                raise ValueError("multi\\nline message") from exc
    """,
    "raises/app.py": "import json\nraise RuntimeError('no database')\n",
    "syntax/app.py": "def handler(event, context):\n    return 1 +\n",
    "nohandler/app.py": "def other(event, context):\n    return 1\n",
}
CONFIG = """\
functions:
  values: {handler: app.handler, code: values}
  values312: {handler: app.handler, code: values, runtime: python3.12}
  raw: {handler: app.raw, code: values}
  w3c: {handler: app.w3c, code: values}
  errors: {handler: app.handler, code: errors}
  chained: {handler: app.chained, code: errors}
  raises: {handler: app.handler, code: raises}
  syntax: {handler: app.handler, code: syntax}
  nohandler: {handler: app.handler, code: nohandler}
"""


@pytest.fixture
def project(make_project) -> Path:
    return make_project(SOURCES, CONFIG)


def _event(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, lines
    return found[0]


async def test_results_are_serialised_as_the_runtime_does(project: Path, tmp_path: Path) -> None:
    code = project.parent / "values"
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("values", b'{"n": 1.5}')
        ours_312 = await fleet.invoke("values312", b'{"n": 1.5}')
        raw = await fleet.invoke("raw", b"{}")
    theirs = run_ric(code, "app.handler", [invocation('{"n": 1.5}')], tmp=tmp_path)
    theirs_312 = run_ric(code, "app.handler", [invocation('{"n": 1.5}')], {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}, tmp=tmp_path)
    theirs_raw = run_ric(code, "app.raw", [invocation()], tmp=tmp_path)
    # awslambdaric (lambda_runtime_marshaller.py Encoder, simplejson): Decimal as str(value), NaN, the
    # namedtuple an object; on 3.11 \\u escapes, on 3.12+ raw UTF-8. Today's main: 1.1, a float that lost
    # the digits, [1, 2], and a MarshalError for NaN's Decimal.
    assert theirs.body() == (b'{"price": 1.10, "big": 123456789012345678901234567890.000000000000000000001, "whole": 42, '
                             b'"nan": NaN, "point": {"x": 1, "y": 2}, "text": "h\\u00e9llo \\u2603", "event": {"n": 1.5}}')
    assert ours.response == theirs.body()
    assert theirs_312.body() == theirs.body().replace(b"h\\u00e9llo \\u2603", "héllo ☃".encode())
    assert ours_312.response == theirs_312.body()
    # bytes go back as they are (content type application/unknown); main answered a MarshalError.
    assert theirs_raw.body() == b"\x00not json\xff" == raw.response
    assert raw.record.status is InvocationStatus.SUCCESS


async def test_stack_traces_and_the_error_event_match_the_runtime(project: Path, tmp_path: Path) -> None:
    code = project.parent / "errors"
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("errors", b'{"key": "b"}')
        chained = await fleet.invoke("chained", b'{"key": "b"}')
    theirs = run_ric(code, "app.handler", [invocation('{"key": "b"}', request_id=ours.record.request_id)], tmp=tmp_path)
    their_chained = run_ric(code, "app.chained", [invocation('{"key": "b"}', request_id=chained.record.request_id)], tmp=tmp_path)
    # The payload: stackTrace entries from traceback.format_list on plain tuples (bootstrap.py
    # extract_traceback, handle_event_request): no 3.11 `^^^^` caret lines (main had them).
    assert json.loads(ours.response) == json.loads(theirs.body())
    assert not any("^" in entry for entry in json.loads(ours.response)["stackTrace"])
    assert json.loads(chained.response) == json.loads(their_chained.body())
    # The log: one [ERROR] event (bootstrap.log_error): the Traceback line, indentation as U+00A0. The RIC
    # writes its lines joined by \r on plain stdout (StandardLogSink), one telemetry frame on Lambda;
    # lambdatop keeps it as one multi-line event. Main wrote separate lines, indented with spaces.
    for mine, real in ((ours, theirs), (chained, their_chained)):
        assert _event(mine.log_lines, "[ERROR]") == real.error_event()
    assert "\nTraceback (most recent call last):\n\u00a0\u00a0File " in _event(ours.log_lines, "[ERROR]")


async def test_a_missing_handler_is_an_init_error(project: Path, tmp_path: Path) -> None:
    theirs = run_ric(project.parent / "nohandler", "app.handler", [invocation()], tmp=tmp_path)
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("nohandler", b"{}")
    # awslambdaric 4.2 bootstrap.get_handler raises Runtime.HandlerNotFound at Init (posted to /init/error,
    # requestId ""); main answered it per invoke with the request's id and no INIT_REPORT.
    assert theirs.init_error == {"errorMessage": "Handler 'handler' missing on module 'app'", "errorType": "Runtime.HandlerNotFound",
                                 "requestId": "", "stackTrace": []}
    assert json.loads(ours.response) == theirs.init_error
    assert ours.function_error == "Unhandled"
    reports = [line.split("\t", 1)[1] for line in ours.log_lines if line.startswith("INIT_REPORT")]
    assert reports == ["Phase: init\tStatus: error\tError Type: Runtime.HandlerNotFound",
                       "Phase: invoke\tStatus: error\tError Type: Runtime.HandlerNotFound"]
    assert ours.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.HandlerNotFound")
    # The LAMBDA_WARNING line goes through the logging handler (bootstrap.run: logging.warning), so it
    # carries the [WARNING] prefix, a timestamp and an empty request id; main printed it bare.
    their_warning = next(line for line in theirs.stdout.split("\n") if "LAMBDA_WARNING" in line)
    our_warnings = [line for line in ours.log_lines if "LAMBDA_WARNING" in line]
    assert len(our_warnings) == 2  # Init, then Init retried in the invoke phase
    assert all(_without_timestamp(line) == _without_timestamp(their_warning.rstrip("\r")) for line in our_warnings)
    assert our_warnings[0].startswith("[WARNING]\t") and "\t\tLAMBDA_WARNING: Unhandled exception." in our_warnings[0]
    assert _event(ours.log_lines[: ours.log_lines.index(our_warnings[1])], "[ERROR]") == theirs.error_event()


async def test_an_exception_at_import_is_runtime_unknown_to_the_platform(project: Path, tmp_path: Path) -> None:
    theirs = run_ric(project.parent / "raises", "app.handler", [invocation()], tmp=tmp_path)
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("raises", b"{}")
    # The runtime posts the exception's own type (bootstrap.build_fault_result); the platform accepts only
    # `(Runtime|Function)\.[A-Z]...` types (RIE fatalerror.go:60, initerror.go:32), so INIT_REPORT and REPORT
    # say Runtime.Unknown. Main wrote `Error Type: RuntimeError` in both.
    assert theirs.init_error is not None and theirs.init_error["errorType"] == "RuntimeError"
    assert json.loads(ours.response) == theirs.init_error
    reports = [line for line in ours.log_lines if line.startswith("INIT_REPORT")]
    assert reports and all(line.endswith("\tStatus: error\tError Type: Runtime.Unknown") for line in reports)
    assert ours.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.Unknown")
    assert ours.record.error_type == "RuntimeError"


async def test_a_syntax_error_keeps_the_lines_indentation(project: Path, tmp_path: Path) -> None:
    theirs = run_ric(project.parent / "syntax", "app.handler", [invocation()], tmp=tmp_path)
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("syntax", b"{}")
    # bootstrap.get_handler: '  File "%s" Line %s\n    %s' % (filename, lineno, e.text), the line unstripped.
    assert theirs.init_error is not None
    assert theirs.init_error["stackTrace"][0].endswith("Line 2\n        return 1 +\n")
    assert json.loads(ours.response) == theirs.init_error
    first_init = ours.log_lines[:ours.log_lines.index(next(x for x in ours.log_lines if x.startswith("INIT_REPORT")))]
    assert _event(first_init, "[ERROR]") == theirs.error_event()


async def test_context_w3c_as_the_runtime_has_it(project: Path, tmp_path: Path) -> None:
    client_context = json.dumps({"custom": {"k": "v"}, "w3c": {"traceparent": "00-abc-def-01", "tracestate": 7, "other": "x"}})
    theirs = run_ric(project.parent / "values", "app.w3c", [invocation(client_context=client_context)], tmp=tmp_path)
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("w3c", b"{}", client_context=client_context)
    # lambda_context.py: w3c() keeps the allowed string fields and strips `w3c` from the client context.
    # Main had no w3c(): AttributeError.
    assert json.loads(theirs.body()) == {"w3c": {"traceparent": "00-abc-def-01"}, "custom": {"k": "v"}}
    assert json.loads(ours.response) == json.loads(theirs.body())


async def test_an_empty_payload_is_an_empty_object(project: Path, tmp_path: Path) -> None:
    # The Lambda service hands the runtime `{}` for an empty Invoke body (aws/aws-lambda-dotnet#834, by the
    # Lambda .NET team: "the Lambda service passes {}"). The emulator forwards the body as it is
    # (internal/lambda/rie/handlers.go:78-125) and awslambdaric then fails to parse it, shown here:
    theirs = run_ric(project.parent / "values", "app.handler", [invocation("")], tmp=tmp_path)
    assert json.loads(theirs.body())["errorType"] == "Runtime.UnmarshalError"
    async with Fleet(project) as fleet:
        ours = await fleet.invoke("values", b"")
    assert json.loads(ours.response)["event"] == {}


def _without_timestamp(line: str) -> str:
    level, _stamp, rest = line.split("\t", 2)
    return f"{level}\t{rest}"


@pytest.mark.parametrize("execution_env", ["AWS_Lambda_python3.11", "AWS_Lambda_python3.12", "AWS_Lambda_python3.13"])
def test_the_marshaller_writes_the_runtimes_bytes(monkeypatch: pytest.MonkeyPatch, execution_env: str) -> None:
    import collections
    import decimal

    from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

    from lambdatop.runtime.worker.marshal import Marshaller

    monkeypatch.setenv("AWS_EXECUTION_ENV", execution_env)
    ours, theirs = Marshaller(), LambdaMarshaller()  # both read AWS_EXECUTION_ENV when built
    point = collections.namedtuple("point", "x y")
    values = [
        {"statusCode": 200, "body": "caf\u00e9 \u2603"}, "top-level str \u00e9", 7, 1.5, None, [1, (2, 3)], float("inf"),
        {"d": decimal.Decimal("1.10"), "nan": decimal.Decimal("NaN"), "p": point(1, 2), "b": b"raw", 1: 2, 2.5: "k"},
        decimal.Decimal("-0.000000000000000000001"), b"\x00bytes",
    ]
    for value in values:
        their_body, _content_type = theirs.marshal_response(value)
        assert ours.marshal_response(value) == (their_body if isinstance(their_body, bytes) else their_body.encode()), value
    loop: list = []
    loop.append(loop)
    for _ in range(2):  # a failure leaves nothing behind for the next result
        with pytest.raises(ValueError, match="Circular reference"):
            ours.marshal_response(loop)
    assert ours.marshal_response({"after": [1]}) == b'{"after": [1]}'
