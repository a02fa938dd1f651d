"""Every way an invocation can fail gives Lambda's error type and message, and the fleet recovers."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from tests.conftest import gone
from tests.waiting import eventually

BROKEN_PROJECT = """
functions:
  missing_handler: {handler: app.nope, code: ok}
  missing_module: {handler: nowhere.handler, code: ok}
  bad_syntax: {handler: app.handler, code: bad_syntax}
  raises_at_import: {handler: app.handler, code: raises_at_import}
  unserialisable: {handler: app.handler, code: unserialisable}
  ok: {handler: app.handler, code: ok}
"""
BROKEN_SOURCES = {
    "ok": "def handler(event, context):\n    return {'ok': True}\n",
    "bad_syntax": "def handler(event, context)\n    return 1\n",
    "raises_at_import": "raise RuntimeError('no database')\n",
    "unserialisable": "def handler(event, context):\n    return {'when': object()}\n",
}


async def _recovers(fleet: Fleet, function: str, failed_pid: int | None) -> None:
    """The next invocation succeeds, on a new worker."""
    follow_up = await fleet.invoke(function, {"sleep_ms": 1, "sleep_s": 0, "megabytes": 16, "how": "none"})
    assert follow_up.record.status is InvocationStatus.SUCCESS, follow_up.response
    assert follow_up.record.cold_start and follow_up.record.pid != failed_pid


async def test_timeout_kills_the_worker_and_reports_task_timed_out(fleet: Fleet) -> None:
    result = await fleet.invoke("timeout", {"sleep_s": 5})
    record = result.record
    assert record.status is InvocationStatus.TIMEOUT
    assert json.loads(result.response) == {
        "errorMessage": f"RequestId: {record.request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert result.function_error == "Unhandled"
    assert "starting a job that is too long" in result.log_lines  # output before the kill is kept
    assert result.log_lines[-1].endswith("\tStatus: timeout")
    assert 1000 <= record.duration_ms < 3000
    await _recovers(fleet, "timeout", record.pid)


async def test_memory_over_the_limit_is_runtime_out_of_memory(fleet: Fleet) -> None:
    result = await fleet.invoke("hog", {"megabytes": 600})
    record = result.record
    assert record.status is InvocationStatus.OUT_OF_MEMORY
    assert record.error_type == "Runtime.OutOfMemory"
    assert json.loads(result.response)["errorType"] == "Runtime.OutOfMemory"
    assert record.max_memory_used_mb >= 256
    assert result.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.OutOfMemory")
    await _recovers(fleet, "hog", record.pid)


async def test_unhandled_exception_gives_the_python_error_shape(fleet: Fleet) -> None:
    result = await fleet.invoke("boom", {"not_action": 1})
    body = json.loads(result.response)
    assert body["errorType"] == "KeyError" and body["errorMessage"] == "'action'"
    assert body["requestId"] == result.record.request_id
    assert body["stackTrace"][0].startswith('  File "') and "boom/app.py" in body["stackTrace"][0]
    assert "/runtime/worker/" not in "".join(body["stackTrace"])  # the runtime's own frames are cut
    # One [ERROR] event, as the runtime's one telemetry frame (see test_runtime_vs_ric.py).
    (error_event,) = [line for line in result.log_lines if line.startswith("[ERROR]")]
    assert error_event.startswith("[ERROR] KeyError: 'action'\nTraceback (most recent call last):\n")
    # A handled function error is not a platform failure: the REPORT line has no Status.
    assert "Status:" not in result.log_lines[-1]
    # ...and the environment survives it, as on Lambda.
    again = await fleet.invoke("boom", {"action": "x"})
    assert again.record.status is InvocationStatus.SUCCESS and again.record.pid == result.record.pid


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("exit", "Runtime exited with error: exit status 3"),
        ("os_exit", "Runtime exited with error: exit status 4"),
        ("segfault", "Runtime exited with error: signal: segmentation fault"),
        ("sigkill", "Runtime exited with error: signal: killed"),
    ],
)
async def test_a_worker_that_dies_mid_invocation_is_runtime_exit_error(fleet: Fleet, how: str, message: str) -> None:
    result = await fleet.invoke("crash", {"how": how})
    record = result.record
    assert record.status is InvocationStatus.CRASHED
    assert json.loads(result.response) == {
        "errorMessage": f"RequestId: {record.request_id} Error: {message}",
        "errorType": "Runtime.ExitError",
    }
    assert f"crashing by {how}" in result.log_lines
    assert result.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError")
    await _recovers(fleet, "crash", record.pid)


async def test_a_worker_killed_from_outside_mid_flight_is_replaced(fleet: Fleet) -> None:
    task = asyncio.create_task(fleet.invoke("slow", {"sleep_ms": 3000}))
    deadline = time.monotonic() + 15
    while not any(e.state == "busy" and e.pid for e in fleet.environments("slow")):
        assert time.monotonic() < deadline, "the invocation never got busy"
        await asyncio.sleep(0.02)
    killed = fleet.kill_environment("slow")
    assert killed is not None
    result = await task
    assert result.record.status is InvocationStatus.CRASHED
    assert result.record.error_message.endswith("Runtime exited with error: signal: killed")
    assert gone(killed.pid)
    await _recovers(fleet, "slow", killed.pid)


async def test_init_and_handler_errors_are_reported_in_lambdas_shape(make_project) -> None:
    config = make_project(BROKEN_SOURCES, BROKEN_PROJECT)
    async with Fleet(config) as fleet:
        missing = await fleet.invoke("missing_handler", {})
        assert json.loads(missing.response)["errorType"] == "Runtime.HandlerNotFound"
        assert json.loads(missing.response)["errorMessage"] == "Handler 'nope' missing on module 'app'"

        no_module = await fleet.invoke("missing_module", {})
        body = json.loads(no_module.response)
        assert body["errorType"] == "Runtime.ImportModuleError"
        assert body["errorMessage"] == "Unable to import module 'nowhere': No module named 'nowhere'"
        assert body["requestId"] == ""  # the RIC reports init errors without a request id
        assert no_module.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.ImportModuleError")
        # Lambda retries a failed Init inside the invoke: an INIT_REPORT for each phase, then START/END/REPORT.
        reports = [line for line in no_module.log_lines if line.startswith("INIT_REPORT Init Duration: ")]
        assert [line.split("\t", 1)[1] for line in reports] == [
            "Phase: init\tStatus: error\tError Type: Runtime.ImportModuleError",
            "Phase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError",
        ]
        assert no_module.log_lines.index(reports[1]) < no_module.log_lines.index(f"START RequestId: {no_module.record.request_id} Version: $LATEST")
        assert sum(line.startswith("[WARNING]\t") and "\tLAMBDA_WARNING: Unhandled exception." in line for line in no_module.log_lines) == 2
        assert "Init Duration" not in no_module.log_lines[-1] and no_module.record.init_duration_ms is None

        syntax = json.loads((await fleet.invoke("bad_syntax", {})).response)
        assert syntax["errorType"] == "Runtime.UserCodeSyntaxError"
        assert syntax["errorMessage"].startswith("Syntax error in module 'app': ")
        assert "line 1" in syntax["errorMessage"] and "Line 1" in syntax["stackTrace"][0]

        at_import = json.loads((await fleet.invoke("raises_at_import", {})).response)
        assert at_import["errorType"] == "RuntimeError" and at_import["errorMessage"] == "no database"

        marshal = json.loads((await fleet.invoke("unserialisable", {})).response)
        assert marshal["errorType"] == "Runtime.MarshalError"
        assert marshal["errorMessage"] == "Unable to marshal response: Object of type object is not JSON serializable"

        ok = await fleet.invoke("ok", {})
        assert ok.record.status is InvocationStatus.SUCCESS


async def test_a_workers_exit_status_outlives_its_retired_environment(fleet: Fleet) -> None:
    # The zygote's exit report and the socket's EOF race; whichever comes first, the status is kept.
    result = await fleet.invoke("hello", {})
    pid = result.record.pid
    killed = fleet.kill_environment("hello")
    assert killed is not None and killed.pid == pid
    for _ in range(200):
        if not fleet.environments("hello"):
            break
        await asyncio.sleep(0.01)
    assert fleet.environments("hello") == []
    # Asked after the environment is gone: the zygote's report was kept, or is still on its way.
    assert await fleet.spawner.exit_status(pid, timeout=15.0) == "signal: killed"


async def test_killing_again_and_again_reaches_every_environment_then_says_none_is_left(fleet: Fleet) -> None:
    # Five warm environments (slow reserves 5); each kill must reach a new one even before the last one's exit report is in.
    results = await asyncio.gather(*(fleet.invoke("slow", {"sleep_ms": 50}) for _ in range(5)))
    pids = {r.record.pid for r in results}
    assert len(pids) == 5
    killed = []
    while (env := fleet.kill_environment("slow")) is not None:
        killed.append(env.pid)
    assert sorted(killed) == sorted(pids)
    for _ in range(500):
        if not fleet.environments("slow"):
            break
        await asyncio.sleep(0.01)
    assert fleet.environments("slow") == []
    assert all(gone(pid) for pid in pids)


async def test_an_init_that_fails_once_succeeds_on_its_retry_inside_the_invoke(make_project) -> None:
    flaky = "import os\nif not os.path.exists('warmed'):\n    open('warmed', 'w').close()\n    raise RuntimeError('cold dependency')\ndef handler(e, c):\n    return 'ok'\n"
    config = make_project({"flaky": flaky}, "functions:\n  flaky: {handler: app.handler}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("flaky", {})
    assert result.record.status is InvocationStatus.SUCCESS and result.response == b'"ok"'
    # The platform logs a type it does not know as Runtime.Unknown (RIE fatalerror.go:60).
    assert any(line.endswith("\tPhase: init\tStatus: error\tError Type: Runtime.Unknown") for line in result.log_lines)
    assert result.record.cold_start and result.record.init_duration_ms is None  # a suppressed init
    assert "Init Duration" not in result.log_lines[-1] and "Status:" not in result.log_lines[-1]


async def test_a_worker_killed_by_a_nameless_real_time_signal_leaves_the_zygote_running(make_project) -> None:
    # Python's signal.Signals has no member for most real-time signals (SIGRTMIN+1 .. SIGRTMAX-1): describing
    # that exit once raised ValueError inside the zygote's reaper and killed the zygote, so no cold start worked again.
    source = "import os, signal\ndef handler(e, c):\n    os.kill(os.getpid(), signal.SIGRTMIN + 6)\n"
    config = make_project({"rt": source, "ok": "def handler(e, c):\n    return 'ok'\n"},
                          "functions:\n  rt: {handler: app.handler}\n  ok: {handler: app.handler}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("rt", {})
        assert result.record.status is InvocationStatus.CRASHED
        number = int(signal.SIGRTMIN) + 6
        assert json.loads(result.response) == {
            "errorMessage": f"RequestId: {result.record.request_id} Error: Runtime exited with error: signal: signal {number}",
            "errorType": "Runtime.ExitError",
        }
        ok = await fleet.invoke("ok", {})  # a cold start: the zygote must still be there to fork it
        assert ok.record.status is InvocationStatus.SUCCESS and ok.record.cold_start


async def test_a_handler_that_exits_before_its_init_is_read_fails_as_an_exit_not_an_assertion(make_project) -> None:
    # The first request rides along with the spawn, so a worker can finish Init, run that request's handler and
    # exit before the supervisor reads a word: InitDone and the end of stream then come in one read. The end
    # used to retire the environment before the cold start resumed with its InitDone, which then found no channel.
    config = make_project({"bye": "import os\ndef handler(e, c):\n    os._exit(3)\n", "ok": "def handler(e, c):\n    return 1\n"},
                          "functions:\n  bye: {handler: app.handler}\n  ok: {handler: app.handler}\n")
    async with Fleet(config) as fleet:
        await fleet.invoke("ok", {})  # the zygote up, its spare ready
        pool = fleet.pools["bye"]
        invocation = asyncio.create_task(fleet.invoke("bye", {}))
        await eventually(lambda: pool.envs, "the cold start's spawn sent (it then waits for Init)", step=0)
        time.sleep(0.5)  # the supervisor busy: Init, the handler and its exit all happen meanwhile
        result = await invocation
        assert result.record.status is InvocationStatus.CRASHED
        assert json.loads(result.response)["errorMessage"].endswith("Runtime exited with error: exit status 3")
        assert (await fleet.invoke("bye", {})).record.status is InvocationStatus.CRASHED  # and the next one too
