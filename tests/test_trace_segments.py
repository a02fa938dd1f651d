"""Lambda's own segments for the outcomes that matter: timeouts, init failures, throttles, async retries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from lambdatop.runtime.errors import Throttled
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.records import InvocationRecord, InvocationStatus
from lambdatop.runtime.observability.tracing import FUNCTION_ORIGIN, SERVICE_ORIGIN, TraceIndex

SOURCES = {
    "sleepy": "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n    return 'done'\n",
    "broken": "raise ImportError('no such dependency')\ndef handler(event, context):\n    return 1\n",
}
CONFIG = """
functions:
  sleepy: {handler: app.handler, code: sleepy, timeout: 1, reserved_concurrency: 1}
  broken: {handler: app.handler, code: broken, timeout: 1}
"""


def by_origin(docs: list[dict[str, Any]], origin: str) -> dict[str, Any]:
    return next(d for d in docs if d.get("origin") == origin)


async def test_timeout_init_failure_and_throttle_segments(make_project: Callable[..., Any]) -> None:
    fleet = Fleet(make_project(SOURCES, CONFIG))
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        slow = asyncio.create_task(fleet.invoke("sleepy", {"s": 5}))
        await asyncio.sleep(0)  # its first step takes the one slot
        assert fleet.gate.in_use["sleepy"] == 1
        with pytest.raises(Throttled) as throttled:
            await fleet.invoke("sleepy", {})
        timed_out = (await slow).record
        init_failed = (await fleet.invoke("broken", {})).record
        obs.flush()

        assert timed_out.status is InvocationStatus.TIMEOUT
        docs = obs.trace_documents(timed_out.request_id)
        function = by_origin(docs, FUNCTION_ORIGIN)
        invocation = next(s for s in function["subsegments"] if s["name"] == "Invocation")
        assert function["fault"] is True and invocation["fault"] is True
        assert invocation["cause"]["exceptions"][0]["type"] == "Sandbox.Timedout"
        assert 0.9 <= invocation["end_time"] - invocation["start_time"] <= 3.0  # ~ the 1 s timeout
        assert invocation["end_time"] <= function["end_time"]

        docs = obs.trace_documents(init_failed.request_id)
        function = by_origin(docs, FUNCTION_ORIGIN)
        [init] = function["subsegments"]  # the handler never ran
        assert init["name"] == "Initialization" and init["fault"] is True
        assert "no such dependency" in init["cause"]["exceptions"][0]["message"]

        record = throttled.value.record
        docs = obs.trace_documents(record.request_id)
        assert [d["origin"] for d in docs] == [SERVICE_ORIGIN]  # no function segment: nothing ran
        service = docs[0]
        assert service["throttle"] is True and service["http"]["response"]["status"] == 429


def attempt(request_id: str, status: InvocationStatus, at: float, segment: str | None) -> InvocationRecord:
    return InvocationRecord(request_id=request_id, function="fn", version="$LATEST", code_version="v1", trigger="async",
                            invocation_type="Event", started_at=at, ended_at=at + 0.01, status=status, trace_id=f"1-00000000-{'a' * 24}",
                            segment_id=segment, invoke_started_at=None if segment is None else at + 0.002,
                            invoke_ended_at=None if segment is None else at + 0.008)


def test_async_retries_are_attempts_of_one_request_and_the_index_is_bounded() -> None:
    index = TraceIndex(max_traces=3)
    first = attempt("req-1", InvocationStatus.THROTTLED, 100.0, None)
    second = attempt("req-1", InvocationStatus.ERROR, 101.0, "1111111111111111")
    third = attempt("req-1", InvocationStatus.SUCCESS, 103.0, "2222222222222222")
    third.trace_id = "1-00000000-" + "b" * 24  # a retry that got a fresh trace id still joins its request
    # Subsegments stream while the handler runs, before its record is filed: they wait under their own trace id.
    index.add_document({"type": "subsegment", "id": "4444444444444444", "name": "early", "trace_id": third.trace_id,
                        "parent_id": "2222222222222222", "start_time": 103.0025, "end_time": 103.0026})
    for record in (first, second, third):
        index.add_record(record, enqueued_at=99.5)
    trace = index.for_request("req-1")
    assert trace is not None and trace.trace_id == first.trace_id
    docs = trace.segment_documents()
    service = by_origin(docs, SERVICE_ORIGIN)
    assert [s["name"] for s in service["subsegments"]] == ["Dwell Time", "Attempt #1", "Attempt #2", "Attempt #3"]
    dwell = service["subsegments"][0]
    assert (dwell["start_time"], dwell["end_time"]) == (99.5, 100.0)
    assert service["subsegments"][1]["throttle"] is True and service["subsegments"][2]["fault"] is True
    assert [d["id"] for d in docs if d.get("origin") == FUNCTION_ORIGIN] == ["1111111111111111", "2222222222222222"]
    # The third attempt's code traced under its own trace id: its subsegment still lands under its segment.
    index.add_document({"type": "subsegment", "id": "3333333333333333", "name": "work", "trace_id": third.trace_id,
                        "parent_id": "2222222222222222", "start_time": 103.003, "end_time": 103.004})
    function = next(d for d in trace.segment_documents() if d.get("id") == "2222222222222222")
    assert [s["name"] for s in function["subsegments"]][-2:] == ["early", "work"]
    assert index.get(third.trace_id) is None
    for n in range(5):
        other = attempt(f"other-{n}", InvocationStatus.SUCCESS, 200.0 + n, f"{n:016x}")
        other.trace_id = f"1-00000000-{n:024x}"
        index.add_record(other)
    assert len(index) == 3 and index.for_request("req-1") is None  # oldest forgotten first


async def test_an_async_event_shows_its_dwell_time_in_the_queue(make_project: Callable[..., Any]) -> None:
    from lambdatop.runtime.services import attach_command_services

    fleet = Fleet(make_project(SOURCES, CONFIG))
    attach_command_services(fleet)
    obs = next(s for s in fleet.services if isinstance(s, ObservabilityService))
    async with fleet:
        delivered = fleet.subscribe("delivered")
        request_id = await fleet.enqueue("sleepy", b'{"s": 0}')
        record = None
        for _ in range(100):
            record = next((r.record for r in await delivered.wait(0.1) if getattr(r, "record", None)
                           and r.record.request_id == request_id), record)
            if record is not None:
                break
        assert record is not None and record.queued_at is not None and record.queued_at <= record.started_at
        obs.flush()
        service = by_origin(obs.trace_documents(request_id), SERVICE_ORIGIN)
        dwell = service["subsegments"][0]
        assert dwell["name"] == "Dwell Time"
        assert dwell["start_time"] == record.queued_at and dwell["end_time"] >= dwell["start_time"]
