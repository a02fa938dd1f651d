"""Custom runtimes (provided, provided.al2, provided.al2023): the code folder's `bootstrap` speaks the Runtime API.

Real programs (a bash script with curl, a small Python script) run in real
environments forked from the zygote, against the real HTTP endpoint on
loopback; each answer the emulator would give, status and body, is checked.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from tests.conftest import gone, lambdatop_processes, still_running
from tests.waiting import eventually

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the bash bootstrap needs curl")

# The canonical bash custom runtime of the Lambda docs (tutorial-custom-runtime), plus headers echoed back.
BASH_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
echo "bash runtime starting, handler $_HANDLER, api $AWS_LAMBDA_RUNTIME_API"
while true; do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  header() { grep -Fi "$1:" "$HEADERS" | head -1 | cut -d' ' -f2- | tr -d '\r\n'; }
  REQUEST_ID=$(header Lambda-Runtime-Aws-Request-Id)
  echo "handling $EVENT_DATA"
  if [ "$(echo "$EVENT_DATA" | jq -r '.sleep // 0')" != "0" ]; then
    sleep "$(echo "$EVENT_DATA" | jq -r '.sleep')" &
    wait
  fi
  RESPONSE=$(jq -cn --argjson event "$EVENT_DATA" --arg id "$REQUEST_ID" --arg deadline "$(header Lambda-Runtime-Deadline-Ms)" \
    --arg arn "$(header Lambda-Runtime-Invoked-Function-Arn)" --arg trace "$(header Lambda-Runtime-Trace-Id)" \
    --arg client "$(header Lambda-Runtime-Client-Context)" --arg ctype "$(header Content-Type)" \
    '{event: $event, id: $id, deadline: $deadline, arn: $arn, trace: $trace, client: $client, ctype: $ctype}')
  curl -sS -o /dev/null "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE"
  rm -f "$HEADERS"
done
"""

# A Runtime API client that misbehaves on request, and reports each answer it got (status, body) in its response.
PY_BOOTSTRAP = f"#!{sys.executable}\n" + textwrap.dedent('''
    import json, os, sys, time, urllib.error, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request) as reply:
                return reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers, refused.read()

    def answer(reply):
        return [reply[0], reply[2].decode()]

    print("py runtime starting", flush=True)
    mode = os.environ.get("INIT_MODE", "")
    if mode == "exit":
        print("giving up before /next", flush=True)
        sys.exit(3)
    if mode == "response_first":
        print("early", answer(call("POST", "/invocation/someid/response", b"{}")), flush=True)
        print("early next", answer(call("POST", "/init/error", b"{}")), flush=True)
        sys.exit(0)
    if mode == "init_error":
        error = {"errorMessage": "no config", "errorType": "Runtime.ConfigMissing", "stackTrace": []}
        reply = call("POST", "/init/error", json.dumps(error).encode(), {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigMissing"})
        print("init/error answered", *answer(reply), flush=True)
        sys.exit(1)
    while True:
        status, headers, body = call("GET", "/invocation/next")
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(body)
        how = event.get("how")
        answers = []
        if how == "second_next":
            again = call("GET", "/invocation/next")
            answers.append([again[0], again[1]["Lambda-Runtime-Aws-Request-Id"], json.loads(again[2])])
        elif how == "wrong_id":
            answers.append(answer(call("POST", "/invocation/not-the-id/response", b"{}")))
            answers.append(answer(call("POST", "/invocation/not-the-id/error", b"{}")))
        elif how == "init_error_now":
            answers.append(answer(call("POST", "/init/error", b"{}")))
        elif how == "too_large":
            reply = call("POST", f"/invocation/{request_id}/response", b'"' + b"x" * (6 * 1024 * 1024 + 200) + b'"')
            print("too large answered", *answer(reply), flush=True)
            print("after", answer(call("POST", f"/invocation/{request_id}/response", b"{}")), flush=True)
            continue
        elif how == "error":
            error = {"errorMessage": "card declined", "errorType": "PaymentError", "stackTrace": ["at charge()"]}
            reply = call("POST", f"/invocation/{request_id}/error", json.dumps(error).encode(),
                         {"Lambda-Runtime-Function-Error-Type": "PaymentError"})
            print("error answered", *answer(reply), flush=True)
            continue
        elif how == "sleep":
            time.sleep(event["seconds"])
        elif how == "exit":
            print("exiting mid-invoke", flush=True)
            sys.exit(2)
        elif how == "hog":  # in a child: the limit is the environment's, not one process's
            import subprocess
            subprocess.run([sys.executable, "-c", "import time; hog = bytearray(400 << 20); "
                            "[hog.__setitem__(i, 1) for i in range(0, len(hog), 4096)]; time.sleep(15)"])
        reply = call("POST", f"/invocation/{request_id}/response", json.dumps({"answers": answers}).encode())
        if how == "twice":
            print("second response", *answer(call("POST", f"/invocation/{request_id}/response", b"{}")), flush=True)
''')


def _write_bootstrap(folder: Path, source: str, mode: int = 0o755) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bootstrap"
    path.write_text(source)
    path.chmod(mode)


@pytest.fixture
def custom_project(tmp_path: Path) -> Callable[[str], Path]:
    """A lambdatop.yaml with `functions` as given; bash/ and py/ hold the two bootstraps."""

    def write(functions: str) -> Path:
        _write_bootstrap(tmp_path / "bash", BASH_BOOTSTRAP)
        _write_bootstrap(tmp_path / "py", PY_BOOTSTRAP)
        config = tmp_path / "lambdatop.yaml"
        config.write_text("functions:\n" + textwrap.indent(textwrap.dedent(functions), "  "))
        return config

    return write


@needs_curl
@pytest.mark.skipif(shutil.which("jq") is None, reason="the bash bootstrap needs jq")
async def test_a_bash_bootstrap_serves_cold_then_warm_with_the_invoke_headers(custom_project: Callable[[str], Path]) -> None:
    config = custom_project("bash: {code: bash, runtime: provided.al2023, handler: function.handler, tracing: Active}\n")
    async with Fleet(config) as fleet:
        cold = await fleet.invoke("bash", {"n": 1}, client_context='{"custom": {"k": "v"}}')
        warm = await fleet.invoke("bash", {"n": 2})
        env = fleet.pools["bash"].envs[cold.record.env_id]
        pid = env.pid
        assert pid is not None
        process = psutil.Process(pid)
        # Frozen between invocations, as the built-in worker is (SIGSTOP to its process group).
        await eventually(lambda: process.status() == psutil.STATUS_STOPPED, "the runtime stopped")
        assert process.ppid() == fleet.spawner.pid  # forked by the zygote, then exec'd
        assert process.environ()["AWS_LAMBDA_RUNTIME_API"] == env.api_address
    assert not still_running(lambdatop_processes())

    assert cold.record.status is InvocationStatus.SUCCESS and cold.record.cold_start
    assert warm.record.status is InvocationStatus.SUCCESS and not warm.record.cold_start
    assert warm.record.env_id == cold.record.env_id
    body = json.loads(cold.response)
    assert body["event"] == {"n": 1} and body["id"] == cold.record.request_id
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:bash"
    assert body["trace"].startswith(f"Root={cold.record.trace_id};Parent=") and body["trace"].endswith("Sampled=1")
    assert json.loads(body["client"]) == {"custom": {"k": "v"}}
    assert body["ctype"] == "application/json"
    deadline = int(body["deadline"]) / 1000
    assert cold.record.started_at + 2 < deadline < cold.record.ended_at + 3.5  # the 3 s timeout from delivery

    assert cold.record.init_duration_ms is not None and warm.record.init_duration_ms is None
    assert cold.log_lines[0].startswith("INIT_START Runtime Version: provided:al2023.v")
    assert cold.log_lines[1] == "bash runtime starting, handler function.handler, api " + env.api_address
    assert cold.log_lines[2].startswith(f"START RequestId: {cold.record.request_id} Version: $LATEST")
    assert cold.log_lines[3] == 'handling {"n": 1}'
    assert cold.log_lines[-2] == f"END RequestId: {cold.record.request_id}"
    assert "\tInit Duration: " in cold.log_lines[-1].split("\n")[0]
    assert warm.log_lines[1] == 'handling {"n": 2}' and "Init Duration" not in warm.log_lines[-1]


@needs_curl
@pytest.mark.skipif(shutil.which("jq") is None, reason="the bash bootstrap needs jq")
async def test_a_timeout_kills_the_bootstrap_and_what_it_started(custom_project: Callable[[str], Path]) -> None:
    config = custom_project("bash: {code: bash, runtime: provided, handler: x, timeout: 3}\n")
    async with Fleet(config) as fleet:
        first = await fleet.invoke("bash", {"n": 0})
        bash = psutil.Process(first.record.pid)
        old_address = fleet.pools["bash"].envs[first.record.env_id].api_address
        assert old_address is not None
        result = await fleet.invoke("bash", {"sleep": 31.5})
        assert result.record.status is InvocationStatus.TIMEOUT
        assert json.loads(result.response) == {
            "errorMessage": f"RequestId: {result.record.request_id} Error: Task timed out after 3.00 seconds",
            "errorType": "Sandbox.Timedout",
        }
        assert "handling {\"sleep\": 31.5}" in result.log_lines
        assert result.log_lines[-1].endswith("\tStatus: timeout")
        await eventually(lambda: gone(bash.pid), "bash gone")  # SIGKILL lands when the kernel next runs it
        sleepers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "31.5"]]
        await eventually(lambda: all(gone(p.pid) for p in sleepers), "every sleeper gone")  # the group was killed, not only bash
        again = await fleet.invoke("bash", {"n": 1})
        assert again.record.status is InvocationStatus.SUCCESS and again.record.cold_start
        assert again.record.pid != bash.pid
        await eventually(lambda: not _listening(old_address), "the old endpoint closed")  # the replaced environment's endpoint is closed
        assert fleet.runtime_api.open_endpoints == 1
    assert fleet.runtime_api.open_endpoints == 0


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


async def test_a_missing_or_unrunnable_bootstrap_is_runtime_invalid_entrypoint(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _write_bootstrap(tmp_path / "noexec", "#!/bin/sh\necho hi\n", mode=0o644)
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "app.py").write_text("def handler(event, context):\n    return 'fine'\n")
    config = tmp_path / "lambdatop.yaml"
    config.write_text(textwrap.dedent("""
        functions:
          empty: {code: empty, runtime: provided.al2}
          noexec: {code: noexec, runtime: provided.al2023, handler: bootstrap}
          ok: {handler: app.handler}
    """))
    async with Fleet(config) as fleet:
        empty = await fleet.invoke("empty", {})
        noexec = await fleet.invoke("noexec", {})
        ok = await fleet.invoke("ok", {})
    assert ok.record.status is InvocationStatus.SUCCESS  # the rest of the project runs
    rid = empty.record.request_id
    assert json.loads(empty.response) == {
        "errorMessage": f"RequestId: {rid} Error: Couldn't find valid bootstrap(s): [{tmp_path / 'empty' / 'bootstrap'}]",
        "errorType": "Runtime.InvalidEntrypoint", "requestId": "", "stackTrace": [],
    }
    assert empty.record.status is InvocationStatus.ERROR and empty.record.error_type == "Runtime.InvalidEntrypoint"
    assert empty.function_error == "Unhandled"
    # As Lambda logs it: Init fails, is retried inside the invoke, fails again.
    reports = [line for line in empty.log_lines if line.startswith("INIT_REPORT")]
    assert [r.split("\t")[1:] for r in reports] == [
        ["Phase: init", "Status: error", "Error Type: Runtime.InvalidEntrypoint"],
        ["Phase: invoke", "Status: error", "Error Type: Runtime.InvalidEntrypoint"],
    ]
    assert empty.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.InvalidEntrypoint")
    assert json.loads(noexec.response)["errorMessage"] == (
        f"RequestId: {noexec.record.request_id} Error: fork/exec {tmp_path / 'noexec' / 'bootstrap'}: permission denied"
    )


async def test_a_layer_bootstrap_is_the_runtime_when_the_code_has_none(tmp_path: Path) -> None:
    _write_bootstrap(tmp_path / "layer", PY_BOOTSTRAP)
    (tmp_path / "code").mkdir()
    config = tmp_path / "template.yaml"
    config.write_text(textwrap.dedent("""
        AWSTemplateFormatVersion: '2010-09-09'
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Custom:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: code
              Runtime: provided.al2023
              Layers: [!Ref RuntimeLayer]
          RuntimeLayer:
            Type: AWS::Serverless::LayerVersion
            Properties:
              ContentUri: layer
    """))
    async with Fleet(config) as fleet:
        result = await fleet.invoke("Custom", {"how": "fine"})
    assert result.record.status is InvocationStatus.SUCCESS, result.response
    assert json.loads(result.response) == {"answers": []}
    assert "py runtime starting" in result.log_lines


async def test_runtime_api_misuse_gets_the_emulators_answers(custom_project: Callable[[str], Path]) -> None:
    config = custom_project("py: {code: py, runtime: provided.al2023}\n")
    async with Fleet(config) as fleet:
        first = await fleet.invoke("py", {"how": "second_next"})
        rid = first.record.request_id
        # /next while Running renders the same invoke again (the emulator's Running state allows Ready).
        assert json.loads(first.response) == {"answers": [[200, rid, {"how": "second_next"}]]}

        wrong = await fleet.invoke("py", {"how": "wrong_id"})
        invalid = '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
        assert json.loads(wrong.response) == {"answers": [[400, invalid], [400, invalid]]}
        assert wrong.record.status is InvocationStatus.SUCCESS and wrong.record.env_id == first.record.env_id

        late = await fleet.invoke("py", {"how": "init_error_now"})
        assert json.loads(late.response) == {"answers": [[403,
            '{"errorMessage":"State transition from Running to InitError failed for runtime. '
            'Error: State transition is not allowed","errorType":"InvalidStateTransition"}\n']]}

        twice = await fleet.invoke("py", {"how": "twice"})
        after = await fleet.invoke("py", {"how": "fine"})
        assert after.record.status is InvocationStatus.SUCCESS
        assert ("second response 403 {\"errorMessage\":\"State transition from RuntimeResponseSentState to InvocationResponse "
                "failed for runtime. Error: State transition is not allowed\",\"errorType\":\"InvalidStateTransition\"}") in (
            twice.log_lines + after.log_lines)

        large = await fleet.invoke("py", {"how": "too_large"})
        assert large.record.status is InvocationStatus.ERROR
        assert large.record.error_type == "Function.ResponseSizeTooLarge"
        assert json.loads(large.response) == {
            "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
        assert large.function_error == "Unhandled"
        follow = await fleet.invoke("py", {"how": "fine"})
        lines = large.log_lines + follow.log_lines
        assert ('too large answered 413 {"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",'
                '"errorType":"RequestEntityTooLarge"}') in lines
        assert any(line.startswith("after [403, ") for line in lines)
        assert follow.record.status is InvocationStatus.SUCCESS


async def test_an_error_posted_by_the_runtime_is_the_function_error(custom_project: Callable[[str], Path]) -> None:
    config = custom_project("py: {code: py, runtime: provided.al2023}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("py", {"how": "error"})
        follow = await fleet.invoke("py", {"how": "fine"})
    assert result.record.status is InvocationStatus.ERROR
    assert result.function_error == "Unhandled"
    assert json.loads(result.response) == {"errorMessage": "card declined", "errorType": "PaymentError", "stackTrace": ["at charge()"]}
    assert result.record.error_type == "PaymentError" and result.record.error_message == "card declined"
    assert "error answered 202 {\"status\":\"OK\"}" in result.log_lines + follow.log_lines
    assert follow.record.env_id == result.record.env_id  # a function error does not reset the environment


async def test_a_runtime_that_exits_is_runtime_exit_error_and_is_replaced(custom_project: Callable[[str], Path]) -> None:
    config = custom_project("""
        py: {code: py, runtime: provided.al2023}
        quits: {code: py, runtime: provided.al2023, environment: {INIT_MODE: exit}}
        fails_init: {code: py, runtime: provided.al2023, environment: {INIT_MODE: init_error}}
        early: {code: py, runtime: provided.al2023, environment: {INIT_MODE: response_first}}
    """)
    async with Fleet(config) as fleet:
        quits = await fleet.invoke("quits", {})
        mid = await fleet.invoke("py", {"how": "exit"})
        again = await fleet.invoke("py", {"how": "fine"})
        fails_init = await fleet.invoke("fails_init", {})
        early = await fleet.invoke("early", {})
    rid = quits.record.request_id
    assert json.loads(quits.response) == {"errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3",
                                          "errorType": "Runtime.ExitError"}
    assert quits.record.status is InvocationStatus.CRASHED
    assert "giving up before /next" in quits.log_lines
    assert json.loads(mid.response)["errorMessage"] == (
        f"RequestId: {mid.record.request_id} Error: Runtime exited with error: exit status 2")
    assert again.record.status is InvocationStatus.SUCCESS and again.record.cold_start
    assert again.record.env_id != mid.record.env_id

    assert fails_init.record.status is InvocationStatus.ERROR
    assert fails_init.record.error_type == "Runtime.ConfigMissing"
    assert json.loads(fails_init.response)["errorMessage"] == "no config"
    assert "py runtime starting" in fails_init.log_lines
    assert [line.split("\t")[1] for line in fails_init.log_lines if line.startswith("INIT_REPORT")] == ["Phase: init", "Phase: invoke"]
    # No invoke yet: any request id is not the current one, checked before the state.
    assert "early [400, '{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\\n']" in early.log_lines


async def test_the_memory_limit_counts_the_runtimes_children(custom_project: Callable[[str], Path]) -> None:
    config = custom_project("py: {code: py, runtime: provided.al2023, memory_size: 128, timeout: 20}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("py", {"how": "hog"})
    assert result.record.status is InvocationStatus.OUT_OF_MEMORY
    assert result.record.error_type == "Runtime.OutOfMemory"


def test_a_custom_runtime_is_no_config_error(tmp_path: Path) -> None:
    from lambdatop.runtime.config import load_config

    (tmp_path / "fn").mkdir()
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  fn: {runtime: provided.al2023}\n  node: {runtime: nodejs20.x, handler: index.handler, code: fn}\n")
    config = load_config(tmp_path / "lambdatop.yaml")
    assert config.functions["fn"].handler == "bootstrap" and config.functions["fn"].runtime == "provided.al2023"
    assert config.functions["node"].runtime == "nodejs20.x"



async def test_a_prewarmed_runtime_waits_in_next_and_serves_its_first_invocation_as_the_cold_start(
    custom_project: Callable[[str], Path],
) -> None:
    """A reload initialises environments early: the runtime's /next is parked until the first invocation."""
    config = custom_project("py: {code: py, runtime: provided.al2023}\n")
    async with Fleet(config) as fleet:
        outcome = await fleet.prewarm("py")
        assert outcome.error is None
        (env,) = fleet.pools["py"].envs.values()
        await eventually(lambda: psutil.Process(env.pid).status() == psutil.STATUS_STOPPED, "the environment frozen")  # frozen while it waits
        result = await fleet.invoke("py", {"how": "fine"})
    assert result.record.status is InvocationStatus.SUCCESS and result.record.cold_start
    assert result.record.env_id == env.id and result.record.init_duration_ms == outcome.init_ms
    assert "py runtime starting" in result.log_lines
