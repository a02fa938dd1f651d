"""Node.js functions (nodejs18.x / 20.x / 22.x) through lambdatop's own Node bootstrap and the Runtime API."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (.ci/run installs it from the OS packages)")

COMMONJS = """
console.log("loading the module");
let invocations = 0;

exports.handler = async (event, context) => {
  invocations += 1;
  console.log("event", JSON.stringify(event));
  if (event.fail) throw new TypeError("no such order");
  if (event.sleep) await new Promise((resolve) => setTimeout(resolve, event.sleep));
  return {
    invocations, requestId: context.awsRequestId, functionName: context.functionName, memory: context.memoryLimitInMB,
    arn: context.invokedFunctionArn, version: context.functionVersion, left: context.getRemainingTimeInMillis(),
    logGroup: context.logGroupName, waits: context.callbackWaitsForEmptyEventLoop, client: context.clientContext,
    trace: process.env._X_AMZN_TRACE_ID !== undefined,
  };
};

exports.callback = (event, context, callback) => {
  setTimeout(() => (event.fail ? callback(new Error("callback failure")) : callback(null, { via: "callback", n: event.n })), 5);
};
"""

ESM = """
export const handler = async (event) => ({ module: "esm", event });
"""

PROJECT = """
functions:
  cjs: {handler: index.handler, code: cjs, runtime: nodejs20.x, timeout: 1, tracing: Active}
  callback: {handler: index.callback, code: cjs, runtime: nodejs22.x}
  esm: {handler: app.handler, code: esm, runtime: nodejs18.x}
  missing: {handler: index.nothing, code: cjs, runtime: nodejs20.x}
"""


@pytest.fixture
def node_project(tmp_path: Path) -> Path:
    (tmp_path / "cjs").mkdir()
    (tmp_path / "cjs" / "index.js").write_text(textwrap.dedent(COMMONJS))
    (tmp_path / "esm").mkdir()
    (tmp_path / "esm" / "app.mjs").write_text(textwrap.dedent(ESM))
    config = tmp_path / "lambdatop.yaml"
    config.write_text(textwrap.dedent(PROJECT))
    return config


async def test_a_node_function_runs_cold_then_warm_times_out_and_throws(node_project: Path) -> None:
    async with Fleet(node_project) as fleet:
        cold = await fleet.invoke("cjs", {"n": 1}, client_context='{"client": {"app_title": "shop"}}')
        warm = await fleet.invoke("cjs", {"n": 2})
        thrown = await fleet.invoke("cjs", {"fail": True})
        slow = await fleet.invoke("cjs", {"sleep": 5000})
        after = await fleet.invoke("cjs", {"n": 3})
        snapshot = fleet.snapshot()

    assert cold.record.status is InvocationStatus.SUCCESS and cold.record.cold_start
    assert cold.record.init_duration_ms is not None
    body = json.loads(cold.response)
    assert body["invocations"] == 1 and body["requestId"] == cold.record.request_id
    assert body["functionName"] == "cjs" and body["memory"] == "128" and body["version"] == "$LATEST"
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:cjs"
    assert 0 < body["left"] <= 1000 and body["waits"] is True and body["trace"] is True
    assert body["logGroup"] == "/aws/lambda/cjs" and body["client"] == {"client": {"app_title": "shop"}}
    assert cold.log_lines[0].startswith("INIT_START Runtime Version: nodejs:20.v")
    assert cold.log_lines[1].endswith("\tundefined\tINFO\tloading the module")  # Init has no request id
    assert cold.log_lines[3].endswith(f"\t{cold.record.request_id}\tINFO\tevent {{\"n\":1}}")

    assert not warm.record.cold_start and json.loads(warm.response)["invocations"] == 2  # module state survives

    assert thrown.record.status is InvocationStatus.ERROR and thrown.function_error == "Unhandled"
    error = json.loads(thrown.response)
    assert error["errorType"] == "TypeError" and error["errorMessage"] == "no such order"
    assert error["trace"][0] == "TypeError: no such order"
    assert any(f"\t{thrown.record.request_id}\tERROR\tInvoke Error \t{{\"errorType\":\"TypeError\"" in line for line in thrown.log_lines)
    assert thrown.record.error_type == "TypeError"
    assert not thrown.record.cold_start  # a function error keeps the environment

    assert slow.record.status is InvocationStatus.TIMEOUT
    assert json.loads(slow.response) == {
        "errorMessage": f"RequestId: {slow.record.request_id} Error: Task timed out after 1.00 seconds", "errorType": "Sandbox.Timedout",
    }
    assert after.record.cold_start and after.record.pid != slow.record.pid
    assert json.loads(after.response)["invocations"] == 1

    function = next(f for f in snapshot.functions if f.name == "cjs")
    assert function.totals.invocations == 5 and function.totals.errors >= 1
    assert {r.request_id for r in snapshot.recent} >= {cold.record.request_id, slow.record.request_id}


async def test_callback_esm_and_a_missing_handler(node_project: Path) -> None:
    async with Fleet(node_project) as fleet:
        callback = await fleet.invoke("callback", {"n": 7})
        failed = await fleet.invoke("callback", {"fail": True})
        esm = await fleet.invoke("esm", {"a": 1})
        missing = await fleet.invoke("missing", {})
    assert json.loads(callback.response) == {"via": "callback", "n": 7}
    assert json.loads(failed.response)["errorMessage"] == "callback failure"
    assert json.loads(esm.response) == {"module": "esm", "event": {"a": 1}}
    assert missing.record.status is InvocationStatus.ERROR
    assert missing.record.error_type == "Runtime.HandlerNotFound"
    assert json.loads(missing.response)["errorMessage"] == "index.nothing is undefined or not exported"
    assert [line.split("\t")[1] for line in missing.log_lines if line.startswith("INIT_REPORT")] == ["Phase: init", "Phase: invoke"]


async def test_without_node_the_function_says_so(node_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-node"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    async with Fleet(node_project) as fleet:
        result = await fleet.invoke("esm", {})
    assert result.record.error_type == "Runtime.InvalidEntrypoint"
    assert json.loads(result.response)["errorMessage"].endswith("Error: Couldn't find valid bootstrap(s): [node]")
    assert "[lambdatop] node was not found on PATH: install it to run this function's runtime" in result.log_lines



@pytest.mark.timeout(90)
async def test_node_and_custom_runtime_functions_show_in_the_dashboard(node_project: Path) -> None:
    """The dashboard has no second code path: `i` on a Node function and on a custom runtime fills the same rows."""
    from lambdatop.runtime.services import ServiceOptions
    from lambdatop.tui.app import LambdatopApp
    from lambdatop.tui.widgets.functions_table import FunctionsTable
    from lambdatop.tui.widgets.invocation_stream import InvocationStream
    from tests.tui_pilot import quit_and_check, started, stream_rows, wait_for

    custom = node_project.parent / "custom"
    custom.mkdir()
    (custom / "bootstrap").write_text(
        f"#!{sys.executable}\nimport json, os, urllib.request\n"
        "api = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime/invocation/'\n"
        "while True:\n"
        "    with urllib.request.urlopen(api + 'next') as nxt:\n"
        "        rid = nxt.headers['Lambda-Runtime-Aws-Request-Id']\n"
        "    urllib.request.urlopen(urllib.request.Request(api + rid + '/response', data=b'\"ok\"', method='POST')).read()\n"
    )
    (custom / "bootstrap").chmod(0o755)
    node_project.write_text(node_project.read_text() + "  custom: {code: custom, runtime: provided.al2023}\n")
    app = LambdatopApp(node_project, options=ServiceOptions(port=None, watch=False, store=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        table = app.screen_stack[0].query_one("#functions", FunctionsTable)
        stream = app.screen_stack[0].query_one("#stream", InvocationStream)
        for function in ("esm", "custom"):
            table.select_function(function)
            await pilot.press("i")
            await wait_for(pilot, lambda f=function: any(r["fn"] == f for r in stream_rows(stream)), what=f"{function} in the stream")
            row = next(r for r in stream_rows(stream) if r["fn"] == function)
            assert row["status"] == "ok" and row["start"] == "cold"
            await wait_for(pilot, lambda f=function: table.cell(f, "total").strip() == "1", what=f"{function}'s total")
        await quit_and_check(pilot)
