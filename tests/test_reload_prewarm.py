"""The environment a reload initialises early: its first invoke is the cold start, and reports that Init
(its duration, when it ran) the same way in the record, the trace and the REPORT line, never the idle
wait between that Init and the invoke."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.observability.tracing import function_segment
from tests.reload_support import save, watched_fleet

CONFIG = """\
functions:
  greet:
    handler: app.handler
reload:
  debounce_ms: 100
"""

SLOW_IMPORT = """\
import time

time.sleep(0.05)  # an Init long enough to measure
VERSION = "{version}"


def handler(event, context):
    return VERSION
"""

IDLE_S = 0.5  # how long the pre-warmed environment waits for its first request


def report_init_ms(log_lines: list[str]) -> float:
    (report,) = [line for line in log_lines if line.startswith("REPORT ")]
    match = re.search(r"Init Duration: ([\d.]+) ms", report)
    assert match, report
    return float(match[1])


async def test_the_first_invoke_after_a_reload_reports_the_early_init_without_the_idle_wait(
    make_project: Callable[..., Path],
) -> None:
    config = make_project({"greet": SLOW_IMPORT.format(version="one")}, CONFIG)
    async with watched_fleet(config) as w:
        cold = await w.fleet.invoke("greet", {})
        save(config.parent / "greet" / "app.py", SLOW_IMPORT.format(version="two"))
        await w.next_event("reload", "greet")
        await w.settle()  # the new version's environment is initialised, and idle
        (prewarmed,) = [env for env in w.fleet.pools["greet"].envs.values() if env.early_init is not None]
        await asyncio.sleep(IDLE_S)  # the user reads the reload notice, then invokes: the environment just waits
        first = await w.fleet.invoke("greet", {})

    record = first.record
    assert record.cold_start and record.env_id == prewarmed.id and record.code_version == "v2"
    assert record.initialized_early and not cold.record.initialized_early
    init_ms = record.init_duration_ms
    assert init_ms is not None and 40 <= init_ms < IDLE_S * 1000

    # The REPORT line, the record's init phase and the trace's Initialization all say the same Init.
    assert report_init_ms(first.log_lines) == pytest.approx(init_ms, abs=0.005)
    assert dict(record.phases())["init"] == pytest.approx(init_ms)
    assert record.init_started_at is not None and record.init_ended_at is not None
    assert (record.init_ended_at - record.init_started_at) * 1000 == pytest.approx(init_ms, abs=0.01)
    segment = function_segment(record)
    assert segment is not None
    spans = {sub["name"]: sub for sub in segment["subsegments"]}
    initialization, invocation = spans["Initialization"], spans["Invocation"]
    assert (initialization["end_time"] - initialization["start_time"]) * 1000 == pytest.approx(init_ms, abs=0.01)

    # The idle wait came between that Init and this request: in no phase, the request's own time excludes it.
    assert record.started_at - record.init_ended_at >= IDLE_S
    assert invocation["start_time"] >= record.started_at > initialization["end_time"]
    assert sum(ms for name, ms in record.phases() if name != "init") < (record.ended_at - record.started_at) * 1000 + 1
    assert record.billed_duration_ms <= record.duration_ms + init_ms + 1  # Duration + Init Duration, rounded up

    # An ordinary cold start still counts its Init from its start to the handler's.
    cold_phases = dict(cold.record.phases())
    assert cold.record.init_duration_ms is not None and cold_phases["init"] >= cold.record.init_duration_ms
