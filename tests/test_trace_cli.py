"""`lambdatop traces export`, `lambdatop logs` and `lambdatop stats` on a real store written by a real run."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import find
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.tui.cli import main

TRACED = """
import json
from aws_xray_sdk.core import xray_recorder

def handler(event, context):
    with xray_recorder.in_subsegment("work") as sub:
        sub.put_annotation("n", event["n"])
    print(json.dumps({"level": "INFO", "message": "did work", "n": event["n"]}))
    if event["n"] == 3:
        raise ValueError("three is unlucky")
    return event["n"]
"""


@pytest.fixture
async def recorded(make_project: Callable[..., Any]) -> tuple[Path, list[Any]]:
    # shared: the handler uses the X-Ray SDK lambdatop's [test] extra installed
    config = make_project({"fn": TRACED}, "functions:\n  fn: {handler: app.handler, code: fn, tracing: Active, timeout: 5, dependencies: shared}\n")
    fleet = Fleet(config)
    attach_standard_services(fleet, ServiceOptions(port=None, watch=False))
    records = []
    async with fleet:
        obs = find(fleet)
        assert obs is not None
        for n in range(1, 5):
            records.append((await fleet.invoke("fn", {"n": n})).record)
        deadline = time.monotonic() + 10
        while obs.traces.documents_received < 4:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    return config, records


async def test_chrome_and_xray_export_from_the_store(recorded: tuple[Path, list[Any]], tmp_path: Path) -> None:
    config, records = recorded
    out = tmp_path / "trace.json"
    code = await asyncio.to_thread(main, ["traces", "export", "--format", "chrome", "-o", str(out), "-c", str(config)])
    assert code == 0
    chrome = json.loads(out.read_text())
    complete = [e for e in chrome["traceEvents"] if e["ph"] == "X"]
    # Per invocation: service + function segment, Initialization (first only), Invocation, Overhead, and "work".
    assert len(complete) == 4 * 5 + 1
    assert sum(1 for e in complete if e["name"] == "work") == 4
    assert {e["pid"] for e in complete} == {1, 2, 3, 4}  # one process per trace

    xray_file = tmp_path / "xray.json"
    rid = records[2].request_id
    code = await asyncio.to_thread(main, ["traces", "export", "--format", "xray", "--request-id", rid, "-o", str(xray_file), "-c", str(config)])
    assert code == 0
    [trace] = json.loads(xray_file.read_text())["Traces"]
    assert trace["Id"] == records[2].trace_id
    documents = [json.loads(s["Document"]) for s in trace["Segments"]]
    function = next(d for d in documents if d.get("origin") == "AWS::Lambda::Function")
    assert function["id"] == records[2].segment_id and function["fault"] is True
    assert [s["name"] for s in function["subsegments"]][-1] == "work"
    assert function["cause"]["exceptions"][0]["message"] == "three is unlucky"
    missing = await asyncio.to_thread(main, ["traces", "export", "--request-id", "nope", "-c", str(config)])
    assert missing == 2


async def test_logs_and_stats_read_the_store(recorded: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]) -> None:
    config, records = recorded
    assert await asyncio.to_thread(main, ["logs", "fn", "-c", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    starts = [line for line in lines if " START RequestId: " in line]
    assert [line.split("RequestId: ")[1].split()[0] for line in starts] == [r.request_id for r in records]  # oldest first
    assert all(line.startswith(records[0].env_id or "?") for line in lines)
    assert await asyncio.to_thread(main, ["logs", "fn", "--filter", "three is unlucky", "-c", str(config)]) == 0
    filtered = capsys.readouterr().out.splitlines()
    # A filter matches log events, as CloudWatch's does: the [ERROR] event is printed whole (its traceback too).
    assert filtered and "three is unlucky" in filtered[0] and "three is unlucky" in filtered[-1]
    assert not any(" START RequestId: " in line or " REPORT RequestId: " in line for line in filtered)
    assert await asyncio.to_thread(main, ["logs", "nosuchfn", "-c", str(config)]) == 2
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["stats", "--json", "-c", str(config)]) == 0
    stats = json.loads(capsys.readouterr().out)
    fn = stats["functions"]["fn"]
    assert (fn["invocations"], fn["errors"], fn["cold_starts"], fn["throttles"]) == (4, 1, 1, 0)
    assert fn["duration_max_ms"] == max(r.duration_ms for r in records)
    assert fn["cost"]["requests"] == 4
    expected_gb_s = sum(r.billed_duration_ms / 1000 * r.memory_size_mb / 1024 for r in records)
    assert abs(fn["cost"]["gb_seconds"] - expected_gb_s) < 1e-6
    assert await asyncio.to_thread(main, ["stats", "-c", str(config)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("FUNCTION") and "(fleet)" in table


async def test_logs_follow_prints_new_invocations_as_a_running_lambdatop_records_them(make_project: Callable[..., Any]) -> None:
    import subprocess
    import sys

    config = make_project({"fn": "def handler(event, context):\n    print('hello from', event['n'])\n    return 1\n"},
                          "functions:\n  fn: {handler: app.handler, code: fn}\n")
    follower = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "logs", "fn", "--follow", "-c", str(config)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fleet = Fleet(config)
        attach_standard_services(fleet, ServiceOptions(port=None, watch=False))
        async with fleet:
            for n in (1, 2):
                await fleet.invoke("fn", {"n": n})
            await asyncio.sleep(0.5)  # the store's batch interval
            lines: list[str] = []
            deadline = time.monotonic() + 15

            async def read_line() -> str:
                assert follower.stdout is not None
                return await asyncio.to_thread(follower.stdout.readline)

            while not any("hello from 2" in line for line in lines):
                assert time.monotonic() < deadline, lines
                lines.append(await asyncio.wait_for(read_line(), timeout=15))
        assert any("hello from 1" in line for line in lines)
        assert sum(1 for line in lines if " REPORT RequestId: " in line) >= 1
    finally:
        follower.terminate()
        follower.wait(timeout=10)
