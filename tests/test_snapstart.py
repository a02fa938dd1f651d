"""SnapStart: a published version runs Init once, and its cold starts restore from that snapshot.

Through a real fleet: real workers forked from a real snapshot process, the
runtime hooks of `snapshot_restore_py` (the package Lambda bundles), and the
log lines and REPORT fields Lambda writes for a restore. The handler's module
writes what it sees to a marks file outside its code folder, so a test can
count Inits and hooks across processes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from textual.widgets import Static

from lambdatop.runtime.api.endpoint import LambdaEndpoint
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.execution.snapstart import SnapshotSpawner, SnapshotState
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus
from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.widgets.functions_table import FunctionsTable
from lambdatop.tui.widgets.invocation_stream import InvocationStream
from tests.conftest import lambdatop_processes
from tests.reload_support import alive
from tests.tui_pilot import quit_and_check, screen_text, shown, started, wait_for
from tests.waiting import eventually

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Snappy:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.12
      Timeout: 10
      AutoPublishAlias: live
      SnapStart:
        ApplyOn: PublishedVersions
      Environment:
        Variables:
          MARKS: {marks}
"""

CODE = """\
import os, random, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

MARKS = os.environ["MARKS"]


def mark(text):
    with open(MARKS, "a") as marks:
        marks.write(text + "\\n")


mark(f"init {os.getpid()}")
SEED = random.random()  # made once, at Init: every restored environment has the same one, as on Lambda
RESTORED = []
with open(os.path.join(os.environ["TMPDIR"], "warm.txt"), "w") as warm:
    warm.write("written at Init")


@register_before_snapshot
def first_registered():
    mark("before first")


@register_before_snapshot
def second_registered():
    mark("before second")


def reconnect(label, *, times=1):
    RESTORED.append(os.getpid())
    mark(f"after {label} {times} {os.getpid()}")
    print(f"restored {os.getpid()}")


register_after_restore(lambda: mark("after lambda"))
register_after_restore(reconnect, "db", times=2)


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open(os.path.join(os.environ["TMPDIR"], "warm.txt")) as warm:
        tmp = warm.read()
    return {
        "pid": os.getpid(), "seed": SEED, "restored": RESTORED, "tmp": tmp,
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "log_group": os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME"),
        "log_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "context_log_names": [context.log_group_name, context.log_stream_name],
    }
"""


def project(root: Path, code: str = CODE) -> Path:
    (root / "fn").mkdir()
    (root / "fn" / "app.py").write_text(code)
    marks = root / "marks.txt"
    marks.touch()
    (root / "template.yaml").write_text(TEMPLATE.format(marks=marks))
    return root / "template.yaml"


def marks(root: Path) -> list[str]:
    return (root / "marks.txt").read_text().splitlines()


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(project(tmp_path))
    async with fleet:
        yield fleet
    assert not alive(lambdatop_processes()), "a worker, snapshot or zygote outlived the fleet"


def ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def snapshot_of(fleet: Fleet, qualifier: str = "1") -> SnapshotSpawner:
    spawner = fleet.versions.pool_for(fleet.pools["Snappy"], qualifier).spawner
    assert isinstance(spawner, SnapshotSpawner)
    return spawner


async def test_a_version_runs_init_once_and_each_new_environment_restores_from_it(fleet: Fleet, tmp_path: Path) -> None:
    snapshot = snapshot_of(fleet)
    await snapshot.wait_ready()
    assert snapshot.state is SnapshotState.READY
    # Published at start: Init ran once, then the before-snapshot hooks, last registered first (as awslambdaric runs them).
    assert [m.split()[0] + " " + m.split()[1] for m in marks(tmp_path)] == ["init " + marks(tmp_path)[0].split()[1],
                                                                         "before second", "before first"]

    # Three at once: three environments, none of them runs Init.
    results = await asyncio.gather(*(fleet.invoke("Snappy:live", {"sleep": 0.4}) for _ in range(3)))
    answers = [json.loads(r.response) for r in results]
    pids = {a["pid"] for a in answers}
    assert len(pids) == 3
    assert sum(1 for m in marks(tmp_path) if m.startswith("init")) == 1
    # Each ran the after-restore hooks once, in registration order, with their arguments.
    for pid in pids:
        assert [m for m in marks(tmp_path) if m.endswith(str(pid))] == [f"after db 2 {pid}"]
    assert marks(tmp_path).count("after lambda") == 3
    for answer in answers:
        assert answer["restored"] == [answer["pid"]]
        # The snapshot's state is every environment's: the same "random" seed, the same /tmp.
        assert answer["seed"] == answers[0]["seed"]
        assert answer["tmp"] == "written at Init"
        assert answer["initialization_type"] == "snap-start"
        assert answer["log_group"] is None and answer["log_stream"] is None
        assert answer["context_log_names"] == [None, None]  # as the RIC's context reads them from the environment

    for result in results:
        record = result.record
        assert (record.version, record.cold_start, record.init_duration_ms) == ("1", True, None)
        assert record.restore_duration_ms is not None and record.restore_duration_ms > 0
        assert record.billed_restore_duration_ms is not None and record.billed_restore_duration_ms >= 1
        # Billed Duration is Duration plus the Billed Restore Duration (2338.66 ms + 182 ms bills 2521 ms on Lambda).
        assert record.billed_duration_ms == -(-(round(record.duration_ms, 2) + record.billed_restore_duration_ms) // 1)
        log = result.log_lines
        assert log[0].startswith("RESTORE_START Runtime Version: python:3.12")
        assert any(line.startswith("restored ") for line in log[1:3])
        assert log[2] == f"RESTORE_REPORT Restore Duration: {record.restore_duration_ms:.2f} ms"
        assert not any(line.startswith(("INIT_START", "INIT_REPORT")) for line in log)
        assert log[-1].endswith(f"Restore Duration: {record.restore_duration_ms:.2f} ms\t"
                                f"Billed Restore Duration: {record.billed_restore_duration_ms} ms\t")
        assert "Init Duration" not in log[-1]
    assert snapshot.restores == 3

    # Warm: no restore. An environment killed, the next cold start restores again, still without Init.
    warm = await fleet.invoke("Snappy:1")
    assert not warm.record.cold_start and warm.record.restore_duration_ms is None
    pool = fleet.versions.pool_for(fleet.pools["Snappy"], "1")
    while pool.kill_one():
        pass
    while pool.envs:
        await asyncio.sleep(0.01)
    again = await fleet.invoke("Snappy:1")
    assert again.record.cold_start and again.record.restore_duration_ms is not None
    assert sum(1 for m in marks(tmp_path) if m.startswith("init")) == 1

    # $LATEST is not a published version: it runs Init on its cold start, as on Lambda.
    latest = await fleet.invoke("Snappy")
    assert latest.record.init_duration_ms is not None and latest.record.restore_duration_ms is None
    assert json.loads(latest.response)["initialization_type"] == "on-demand"
    assert latest.log_lines[0].startswith("INIT_START")
    assert sum(1 for m in marks(tmp_path) if m.startswith("init")) == 2


async def test_a_killed_snapshot_is_taken_again_and_cold_starts_run_init_meanwhile(fleet: Fleet, tmp_path: Path) -> None:
    snapshot = snapshot_of(fleet)
    await snapshot.wait_ready()
    events = fleet.subscribe("test-snapstart-lost")
    killed = snapshot.snapshot_pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    # The kill takes effect; the supervisor has not heard of it yet.
    await eventually(lambda: ended(killed), "the snapshot process dead", step=0.001)
    result = await fleet.invoke("Snappy:1")  # Init here, or a restore from the new snapshot: it answers either way
    assert result.record.status is InvocationStatus.SUCCESS
    while snapshot.snapshot_pid == killed or snapshot.state is not SnapshotState.READY:  # taken again, by a new process
        await snapshot.wait_ready()
        await asyncio.sleep(0.01)
    restored = await fleet.invoke("Snappy:1", {"sleep": 0.01})
    assert restored.record.status is InvocationStatus.SUCCESS
    notices = [item.message for item in events.drain() if isinstance(item, FleetEvent)]
    assert any("snapshot process ended; taking it again" in notice for notice in notices)


@pytest.mark.parametrize(
    ("hook", "error_type"),
    [
        ("register_after_restore(lambda: 1 / 0)", "ZeroDivisionError"),
    ],
)
async def test_a_failing_after_restore_hook_fails_the_cold_start(tmp_path: Path, hook: str, error_type: str) -> None:
    code = CODE + f"\n{hook}\n"
    async with Fleet(project(tmp_path, code)) as fleet:
        result = await fleet.invoke("Snappy:1")
        assert result.record.status is InvocationStatus.ERROR
        assert result.record.error_type == "Runtime.AfterRestoreError"
        assert json.loads(result.response)["errorType"] == error_type
        report = next(line for line in result.log_lines if line.startswith("RESTORE_REPORT"))
        assert report.endswith("\tStatus: error\tError Type: Runtime.AfterRestoreError")
        assert any(f"[ERROR] {error_type}" in line for line in result.log_lines)


async def test_a_snapshot_whose_hook_fails_is_reported_and_its_version_runs_init_instead(tmp_path: Path) -> None:
    code = CODE + "\n@register_before_snapshot\ndef broken():\n    raise RuntimeError('no snapshot today')\n"
    fleet = Fleet(project(tmp_path, code))
    events = fleet.subscribe("test-snapstart-failed")
    async with fleet:
        snapshot = snapshot_of(fleet)
        await snapshot.wait_ready()
        assert snapshot.state is SnapshotState.FAILED
        assert snapshot.failure == "Runtime.BeforeSnapshotError: no snapshot today"
        result: InvocationResult = await fleet.invoke("Snappy:1")
        assert result.record.status is InvocationStatus.SUCCESS
        assert result.record.init_duration_ms is not None and result.record.restore_duration_ms is None
    notices = [item.message for item in events.drain() if isinstance(item, FleetEvent) and item.kind == "warning"]
    assert any("Snappy:1: SnapStart snapshot failed (Runtime.BeforeSnapshotError: no snapshot today)" in n for n in notices)


def test_snapstart_is_read_from_sam_and_lambdatop_yaml_and_refused_where_lambda_refuses_it(tmp_path: Path) -> None:
    path = project(tmp_path)
    assert load_config(path).functions["Snappy"].snap_start
    path.write_text(path.read_text().replace("ApplyOn: PublishedVersions", "ApplyOn: None"))
    assert not load_config(path).functions["Snappy"].snap_start
    path.write_text(path.read_text().replace("ApplyOn: None", "ApplyOn: Always"))
    with pytest.raises(ConfigError, match="ApplyOn must be PublishedVersions or None, got 'Always'"):
        load_config(path)
    path.write_text(path.read_text().replace("ApplyOn: Always", "ApplyOn: PublishedVersions")
                    .replace("Runtime: python3.12", "Runtime: python3.11"))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "not python3.11" in str(refused.value) and refused.value.line == 11

    yaml = tmp_path / "lambdatop.yaml"
    yaml.write_text(textwrap.dedent("""\
        functions:
          hello:
            handler: app.handler
            code: fn
            runtime: python3.13
            alias: live
            snap_start: true
    """))
    assert load_config(yaml).functions["hello"].snap_start


async def test_the_lambda_api_reports_snapstart_and_a_restore_as_lambda_does(tmp_path: Path, lambda_client: Any) -> None:
    endpoint = LambdaEndpoint("127.0.0.1", 0)
    fleet = Fleet(project(tmp_path))
    fleet.add_service(endpoint)
    async with fleet:
        await snapshot_of(fleet).wait_ready()
        client = lambda_client(endpoint.url)
        latest = await asyncio.to_thread(client.get_function_configuration, FunctionName="Snappy")
        assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
        version = await asyncio.to_thread(client.get_function_configuration, FunctionName="Snappy", Qualifier="1")
        assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
        assert version["State"] == "Active"
        answer = await asyncio.to_thread(client.invoke, FunctionName="Snappy", Qualifier="live", LogType="Tail")
        assert answer["ExecutedVersion"] == "1"
        tail = base64.b64decode(answer["LogResult"]).decode()
        assert "RESTORE_REPORT Restore Duration: " in tail and "\tBilled Restore Duration: " in tail
        assert json.loads(answer["Payload"].read())["initialization_type"] == "snap-start"


async def test_the_dashboard_shows_the_snapshot_and_a_restore(tmp_path: Path) -> None:
    app = LambdatopApp(project(tmp_path), options=ServiceOptions(port=None, watch=False, store=False))
    async with app.run_test(size=(140, 44)) as pilot:
        await started(pilot)
        await snapshot_of(app.fleet).wait_ready()
        await app.fleet.invoke("Snappy:live")  # what the template's events and the API do; the keys run $LATEST
        main = app.screen_stack[0]
        main.query_one("#functions", FunctionsTable).select_function("Snappy")
        await pilot.press("enter")
        screen = await shown(pilot, FunctionScreen, "function screen")
        config = screen.query_one("#fn-config", Static)
        screen.query_one("#fn-body").scroll_to_widget(config, animate=False)
        await wait_for(pilot, lambda: "SnapStart: snapshot ready · Init" in str(config.render())
                       and "1 restore" in str(config.render()), what="the version's snapshot in the config panel")
        fn_stream = screen.query_one("#fn-stream", InvocationStream)
        await wait_for(pilot, lambda: fn_stream.row_count == 1, what="the restore's row")
        fn_stream.focus()
        await pilot.press("enter")
        invocation = await shown(pilot, InvocationScreen, "invocation screen")
        details = "\n".join(screen_text(app))
        assert "Restore" in details and "Billed Restore Duration" in details and "Init Duration" not in details
        assert "RESTORE_REPORT Restore Duration" in str(invocation.query_one("#inv-log").render())
        assert app.refresh_failures == []
        await quit_and_check(pilot)


async def test_with_json_logs_a_restore_is_platform_restore_events(tmp_path: Path) -> None:
    path = project(tmp_path)
    path.write_text(path.read_text().replace("      Timeout: 10\n", "      Timeout: 10\n      LoggingConfig: {LogFormat: JSON}\n"))
    async with Fleet(path) as fleet:
        result = await fleet.invoke("Snappy:1")
    events = [json.loads(line) for line in result.log_lines if line.startswith("{")]
    platform = [event for event in events if str(event.get("type", "")).startswith("platform.")]
    assert [event["type"] for event in platform] == ["platform.restoreStart", "platform.restoreReport", "platform.start",
                                                     "platform.report"]
    assert platform[1]["record"]["status"] == "success"
    assert platform[1]["record"]["metrics"]["durationMs"] == round(result.record.restore_duration_ms or 0, 3)
    metrics = platform[3]["record"]["metrics"]
    assert metrics["restoreDurationMs"] == round(result.record.restore_duration_ms or 0, 2)
    assert metrics["billedRestoreDurationMs"] == result.record.billed_restore_duration_ms
    assert "initDurationMs" not in metrics


async def test_a_versions_snapshot_and_its_spare_go_with_the_version(fleet: Fleet) -> None:
    snapshot = snapshot_of(fleet)
    await snapshot.wait_ready()
    await fleet.invoke("Snappy:1")
    pid = snapshot.snapshot_pid
    assert pid is not None
    family = [psutil.Process(pid), *psutil.Process(pid).children()]  # the snapshot, its restored environment, its spare
    assert len(family) >= 2
    fleet.versions.forget("Snappy")  # the function left the config: its versions, their pools and snapshots go
    for process in family:
        while not ended(process.pid):
            await asyncio.sleep(0.01)
    assert snapshot.state is SnapshotState.READY and snapshot.current() is snapshot.base  # closed: never taken again
