"""The Init phase: its time limit, the retry inside the invoke, and a zygote that dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus

SLOW_INIT = "import time\ntime.sleep(float(open('delay').read()))\ndef handler(e, c):\n    return 'ready'\n"


async def test_init_over_its_limit_is_retried_inside_the_invoke(make_project) -> None:
    config = make_project({"fn": SLOW_INIT}, "functions:\n  fn: {handler: app.handler, timeout: 3}\n")
    (config.parent / "fn" / "delay").write_text("0.6")
    async with Fleet(config) as fleet:
        fleet.invoker.init_limit = 0.3  # stands in for Lambda's 10 s, to keep the test short
        result = await fleet.invoke("fn", {})
    assert result.record.status is InvocationStatus.SUCCESS and result.response == b'"ready"'
    assert "INIT_REPORT Init Duration: 300.00 ms\tPhase: init\tStatus: timeout" in result.log_lines
    # A suppressed init: no Init Duration on the REPORT, its time is part of Duration.
    assert result.record.init_duration_ms is None and "Init Duration" not in result.log_lines[-1]
    assert result.record.duration_ms >= 600


async def test_an_init_that_never_finishes_times_out_at_the_function_timeout(make_project) -> None:
    config = make_project({"fn": SLOW_INIT}, "functions:\n  fn: {handler: app.handler, timeout: 1}\n")
    (config.parent / "fn" / "delay").write_text("30")
    async with Fleet(config) as fleet:
        fleet.invoker.init_limit = 0.3
        result = await fleet.invoke("fn", {})
        assert result.record.status is InvocationStatus.TIMEOUT
        assert json.loads(result.response)["errorMessage"].endswith("Task timed out after 1.00 seconds")
        assert fleet.environments("fn") == []


async def test_a_dead_zygote_is_restarted_and_its_workers_do_not_linger() -> None:
    from .conftest import SAMPLE_TEMPLATE

    async with Fleet(SAMPLE_TEMPLATE) as fleet:
        first = await fleet.invoke("hello", {})
        old_zygote = fleet.spawner.pid
        os.kill(old_zygote, signal.SIGKILL)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not fleet.environments("hello"):
                break
        assert fleet.environments("hello") == []  # its worker died with it (PR_SET_PDEATHSIG)
        second = await fleet.invoke("hello", {})
        assert second.record.status is InvocationStatus.SUCCESS and second.record.cold_start
        assert fleet.spawner.pid != old_zygote and second.record.pid != first.record.pid


REMAINING = "import time\ntime.sleep(0.8)\ndef handler(event, context):\n    return {'remaining': context.get_remaining_time_in_millis(), 'size': len(event.get('blob', ''))}\n"


async def test_a_cold_starts_deadline_does_not_count_its_init(make_project) -> None:
    config = make_project({"fn": REMAINING}, "functions:\n  fn: {handler: app.handler, timeout: 3}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", {})
    assert result.record.cold_start and result.record.init_duration_ms >= 800
    assert 2800 < json.loads(result.response)["remaining"] <= 3000  # the 0.8 s import is Init's, not the handler's


async def test_a_large_first_event_reaches_a_cold_worker_whole(make_project) -> None:
    config = make_project({"fn": REMAINING.replace("time.sleep(0.8)", "")}, "functions:\n  fn: {handler: app.handler}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", {"blob": "x" * (3 * 1024 * 1024)})  # too big to ride along with the spawn
    assert result.record.cold_start and json.loads(result.response)["size"] == 3 * 1024 * 1024
