"""Cold and warm starts, Lambda's log lines to the character, freezing and idle shutdown."""

from __future__ import annotations

import asyncio
import re

import psutil

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from tests.conftest import gone
from tests.waiting import eventually

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPORT_WARM = re.compile(
    rf"^REPORT RequestId: {UUID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t$"
)
REPORT_COLD = re.compile(
    rf"^REPORT RequestId: {UUID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t$"
)


async def test_first_invoke_is_cold_and_second_is_warm_on_the_same_worker(fleet: Fleet) -> None:
    first = await fleet.invoke("hello", {"name": "a"})
    second = await fleet.invoke("hello", {"name": "b"})

    assert first.record.cold_start and first.record.init_duration_ms is not None
    assert not second.record.cold_start and second.record.init_duration_ms is None
    assert first.record.pid == second.record.pid
    assert first.record.env_id == second.record.env_id
    assert second.response.startswith(b'{"message": "Hello, b!"')


async def test_log_lines_match_lambdas_format_to_the_character(fleet: Fleet) -> None:
    cold = await fleet.invoke("hello", {"name": "log"})
    warm = await fleet.invoke("hello", {"name": "log"})
    rid = cold.record.request_id

    assert cold.log_lines[0].startswith("INIT_START Runtime Version: python:3.")
    assert "\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:" in cold.log_lines[0]
    assert cold.log_lines[1:] == [
        f"START RequestId: {rid} Version: $LATEST",
        "greeting log",
        f"END RequestId: {rid}",
        cold.log_lines[-1],
    ]
    assert REPORT_COLD.match(cold.log_lines[-1]), cold.log_lines[-1]
    assert REPORT_WARM.match(warm.log_lines[-1]), warm.log_lines[-1]
    assert warm.log_lines[0] == f"START RequestId: {warm.record.request_id} Version: $LATEST"


async def test_billed_duration_is_the_ceiling_of_duration_plus_init(fleet: Fleet) -> None:
    result = await fleet.invoke("heavy_init", {"n": 3})
    record = result.record
    assert record.init_duration_ms is not None and record.init_duration_ms >= 700  # the module sleeps 0.8 s
    expected = -(-round(round(record.duration_ms, 2) + round(record.init_duration_ms, 2), 2) // 1)
    assert record.billed_duration_ms == int(expected)
    assert f"Init Duration: {record.init_duration_ms:.2f} ms" in result.log_lines[-1]
    assert f"Billed Duration: {record.billed_duration_ms} ms" in result.log_lines[-1]


async def test_idle_workers_are_frozen_between_invocations(fleet: Fleet) -> None:
    result = await fleet.invoke("hello", {})
    worker = psutil.Process(result.record.pid)
    # Stopped once idle past the freeze's grace; the SIGSTOP lands when the kernel next schedules the worker.
    await eventually(lambda: worker.status() == psutil.STATUS_STOPPED, "the idle worker stopped")
    again = await fleet.invoke("hello", {})
    assert again.record.status is InvocationStatus.SUCCESS and again.record.pid == worker.pid


async def test_freeze_false_leaves_idle_workers_running(make_project) -> None:
    config = make_project(
        {"fn": "def handler(event, context):\n    return 1\n"},
        "functions:\n  fn:\n    handler: app.handler\n    freeze: false\n",
    )
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", {})
        assert psutil.Process(result.record.pid).status() != psutil.STATUS_STOPPED


async def test_idle_environment_shuts_down_after_its_idle_timeout(make_project) -> None:
    config = make_project(
        {"fn": "def handler(event, context):\n    return 1\n"},
        "functions:\n  fn:\n    handler: app.handler\n    idle_timeout: 0.5\n",
    )
    async with Fleet(config) as fleet:
        first = await fleet.invoke("fn", {})
        pid = first.record.pid
        for _ in range(50):
            await asyncio.sleep(0.1)
            if not fleet.environments("fn"):
                break
        assert fleet.environments("fn") == []
        assert gone(pid)
        second = await fleet.invoke("fn", {})
        assert second.record.cold_start and second.record.pid != pid


async def test_concurrent_invocations_get_separate_environments_then_reuse_them(fleet: Fleet) -> None:
    results = await asyncio.gather(*(fleet.invoke("slow", {"sleep_ms": 300}) for _ in range(3)))
    assert len({r.record.pid for r in results}) == 3
    assert all(r.record.cold_start for r in results)
    again = await asyncio.gather(*(fleet.invoke("slow", {"sleep_ms": 10}) for _ in range(3)))
    assert {r.record.pid for r in again} == {r.record.pid for r in results}
    assert not any(r.record.cold_start for r in again)
    snapshot = next(f for f in fleet.snapshot().functions if f.name == "slow")
    assert snapshot.idle == 3 and snapshot.busy == 0 and snapshot.totals.cold_starts == 3


async def test_most_recently_used_idle_environment_is_reused_first(fleet: Fleet) -> None:
    a, b = await asyncio.gather(fleet.invoke("slow", {"sleep_ms": 200}), fleet.invoke("slow", {"sleep_ms": 400}))
    # Whichever went back to the pool last (the longer one, unless its cold start was far slower).
    last_finished = max((a, b), key=lambda r: r.record.ended_at).record.pid
    nxt = await fleet.invoke("slow", {"sleep_ms": 1})
    assert nxt.record.pid == last_finished
