"""Schedules on a real fleet with the standard services: each firing is an async invocation through the durable
queue, with the exact event shape, trigger `schedule`; disabled ones stay quiet; reloads change them live."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationType
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.runtime.errors import ScheduleNotFound
from lambdatop.runtime.triggers.schedules import ScheduleService

from tests.reload_support import save

ECHO = "def handler(event, context):\n    return event\n"
UUID_LENGTH = 36


class Running:
    """A fleet with the standard services (no HTTP endpoint) and every invocation result it published."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.subscription = fleet.subscribe("test-schedules")
        self.results: list[InvocationResult] = []

    @property
    def schedules(self) -> ScheduleService:
        service = ScheduleService.of(self.fleet)
        assert service is not None
        return service

    def view(self, name: str) -> Any:
        return next(v for v in self.fleet.snapshot().extras["schedules"].schedules if v.name == name)

    async def invocations(self, count: int, timeout: float = 20.0) -> list[InvocationResult]:
        """Wait until `count` invocations triggered by schedules have finished; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            self.results.extend(i for i in self.subscription.drain() if isinstance(i, InvocationResult))
            scheduled = [r for r in self.results if r.record.trigger == "schedule"]
            if len(scheduled) >= count:
                return scheduled
            assert time.monotonic() < deadline, f"{len(scheduled)} scheduled invocations within {timeout} s, wanted {count}"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Running]:
    fleet = Fleet(config)
    attach_standard_services(fleet, ServiceOptions(port=None))
    async with fleet:
        yield Running(fleet)


def at_in(seconds: float) -> str:
    """An at() expression `seconds` from now (the Scheduler's at() has second precision)."""
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


async def test_fire_now_sends_the_scheduled_event_through_the_async_queue(make_project: Callable[..., Path]) -> None:
    config = make_project({"report": ECHO}, """
        account: {region: eu-west-1, account_id: "111122223333"}
        functions:
          report:
            handler: app.handler
            events:
              Nightly: {Type: Schedule, Properties: {Schedule: "cron(0 3 * * ? *)", Name: nightly-report}}
    """)
    async with running(config) as run:
        view = run.view("nightly-report")
        assert (view.functions, view.expression, view.enabled, view.fired) == (("report",), "cron(0 3 * * ? *)", True, 0)
        assert datetime.fromtimestamp(view.next_fire_at, UTC).strftime("%H:%M") == "03:00"
        before = time.time()
        [request_id] = await run.schedules.fire_now("nightly-report")
        [result] = await run.invocations(1)
        record = result.record
        assert record.request_id == request_id
        assert (record.function, record.trigger, record.invocation_type) == ("report", "schedule", str(InvocationType.EVENT))
        # Delivered through the durable queue: the store holds the settled event's invocation.
        assert record.queued_at is not None and record.queued_at >= before
        event = json.loads(result.request)
        assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
        assert len(event.pop("id")) == UUID_LENGTH
        fired_at = datetime.strptime(event.pop("time"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs(fired_at.timestamp() - before) < 5
        assert event == {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "account": "111122223333",
                         "region": "eu-west-1", "resources": ["arn:aws:events:eu-west-1:111122223333:rule/nightly-report"],
                         "detail": {}}
        assert json.loads(result.response) == json.loads(result.request)  # the handler got exactly that
        view = run.view("nightly-report")
        assert view.fired == 1 and view.last_fired_at is not None and view.last_fired_at >= before
        with pytest.raises(ScheduleNotFound, match="nightly-report"):
            await run.schedules.fire_now("weekly-report")


async def test_timers_fire_on_time_and_disabled_schedules_never(make_project: Callable[..., Path]) -> None:
    once = at_in(6)  # far enough ahead for the fleet to be up under load
    config = make_project({"job": ECHO}, f"""
        functions:
          job:
            handler: app.handler
            events:
              Soon:
                Type: ScheduleV2
                Properties:
                  ScheduleExpression: {once}
                  Input: '{{"job": "soon", "at": "<aws.scheduler.scheduled-time>"}}'
              Now:
                Type: ScheduleV2
                Properties: {{ScheduleExpression: rate(5 minutes), Input: '{{"job": "now"}}'}}
              Off:
                Type: ScheduleV2
                Properties: {{ScheduleExpression: rate(5 minutes), State: DISABLED, Input: '{{"job": "off"}}'}}
              OffToo:
                Type: ScheduleV2
                Properties: {{ScheduleExpression: {once}, State: DISABLED, Input: '{{"job": "off-too"}}'}}
    """)
    async with running(config) as run:
        assert run.view("jobOff").next_fire_at is None and run.view("jobOff").enabled is False
        # A Scheduler rate without StartDate starts at once; the at() one when its second comes.
        first, second = await run.invocations(2, timeout=25)
        assert json.loads(first.request) == {"job": "now"}
        soon = json.loads(second.request)
        assert soon["job"] == "soon"
        expected = once[3:-1] + "Z"
        assert soon["at"] == expected
        assert second.record.started_at >= datetime.strptime(expected, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() - 0.01
        await asyncio.sleep(1.0)  # the disabled twins were due at the same moments
        await run.invocations(2)
        assert len([r for r in run.results if r.record.trigger == "schedule"]) == 2
        assert (run.view("jobOff").fired, run.view("jobOffToo").fired) == (0, 0)
        assert run.view("jobSoon").next_fire_at is None  # at() fires once
        assert run.view("jobNow").next_fire_at == pytest.approx(first.record.started_at + 300, abs=2)


async def test_a_flexible_window_fires_at_a_random_moment_inside_it(make_project: Callable[..., Path]) -> None:
    config = make_project({"job": ECHO}, """
        functions:
          job:
            handler: app.handler
            events:
              Spread:
                Type: ScheduleV2
                Properties:
                  ScheduleExpression: "cron(0 12 * * ? *)"
                  FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 30}
    """)
    async with running(config) as run:
        view = run.view("jobSpread")
        assert view.scheduled_for is not None and view.next_fire_at is not None
        assert view.scheduled_for <= view.next_fire_at <= view.scheduled_for + 30 * 60
        assert view.window_min == 30


async def test_a_reload_adds_changes_and_removes_schedules_live(make_project: Callable[..., Path]) -> None:
    project = """
        functions:
          job:
            handler: app.handler
            events:
              Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}
    """
    config = make_project({"job": ECHO}, project)
    async with running(config) as run:
        hourly_next = run.view("jobHourly").next_fire_at
        assert hourly_next == pytest.approx(time.time() + 3600, abs=5)
        text = config.read_text()
        save(config, text.replace("rate(1 hour)", "rate(2 hours)") + (
            "      Started:\n        Type: ScheduleV2\n        Properties: {ScheduleExpression: rate(1 day), Input: '{\"new\": 1}'}\n"))
        [started] = await run.invocations(1, timeout=20)  # the added Scheduler rate fires at once
        assert json.loads(started.request) == {"new": 1}
        assert run.view("jobHourly").expression == "rate(2 hours)"
        assert run.view("jobHourly").next_fire_at == pytest.approx(time.time() + 7200, abs=10)

        save(config, text.replace("Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}",
                                  "Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour), Enabled: false}}"))
        deadline = time.monotonic() + 15
        while {v.name for v in run.fleet.snapshot().extras["schedules"].schedules} != {"jobHourly"} \
                or run.view("jobHourly").enabled:
            assert time.monotonic() < deadline, "the removed and disabled schedules were not applied"
            await asyncio.sleep(0.1)
        assert run.view("jobHourly").next_fire_at is None
