"""Asynchronous invocation: retries, the DLQ, destinations, redrive, and what enqueue refuses."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from lambdatop.runtime.asyncq import function_error_delay, throttle_delay
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ASYNC_PAYLOAD_LIMIT, ConfigError, FunctionNotFound, InvalidRequestContent, RequestTooLarge
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import attach_store_services

FAILING = """
def handler(event, context):
    raise ValueError("cannot handle " + str(event.get("n")))
"""
FIXED = """
def handler(event, context):
    return {"handled": event.get("n")}
"""
SINK = """
def handler(event, context):
    return {"got": event}
"""

CONFIG = """
async: {delay_scale: 0.001}
functions:
  flaky:
    handler: app.handler
    timeout: 1
    async:
      MaximumRetryAttempts: %(retries)d
      DestinationConfig:
        OnFailure: {Type: Lambda, Destination: "arn:aws:lambda:us-east-1:123456789012:function:sink"}
        OnSuccess: {Type: SQS, Destination: "arn:aws:sqs:us-east-1:123456789012:flaky-ok"}
    dead_letter_queue: {Type: SQS, TargetArn: "arn:aws:sqs:us-east-1:123456789012:flaky-dlq"}
  sink:
    handler: app.handler
    timeout: 1
  closed:
    handler: app.handler
    timeout: 1
    reserved_concurrency: 0
"""


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(config)
    attach_store_services(fleet)
    async with fleet:
        yield fleet


async def settle(fleet: Fleet, request_id: str, timeout: float = 20.0) -> None:
    await asyncio.wait_for(fleet.async_queue.settled(request_id), timeout)
    await fleet.store.flush()


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("retries", [2, 0])
async def test_failing_event_runs_1_plus_retries_times_then_lands_in_the_dlq_and_redrive_after_a_fix_succeeds(
    make_project: Callable[..., Path], retries: int
) -> None:
    config = make_project({"flaky": FAILING, "sink": SINK, "closed": SINK}, CONFIG % {"retries": retries})
    async with running(config) as fleet:
        request_id = await fleet.enqueue("flaky", b'{"n": 7}')
        await settle(fleet, request_id)

        attempts = fleet.store.attempts(request_id)
        assert len(attempts) == 1 + retries
        assert {a.record.invocation_type for a in attempts} == {"Event"}
        assert all(a.record.error_type == "ValueError" and a.event() == {"n": 7} for a in attempts)

        (letter,) = fleet.store.dead_letters("flaky")
        assert (letter.request_id, letter.condition, letter.error_type) == (request_id, "RetriesExhausted", "ValueError")
        assert letter.error_message == "cannot handle 7" and letter.attempts == 1 + retries
        assert fleet.snapshot().extras["async"]["flaky"]["dlq"] == 1

        # The DLQ gets the original event, with RequestID / ErrorCode / ErrorMessage attributes.
        (message,) = fleet.store.messages("flaky-dlq")
        assert json.loads(message.body) == {"n": 7}
        assert message.attributes["RequestID"]["StringValue"] == request_id
        assert message.attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
        assert message.attributes["ErrorMessage"]["StringValue"] == "cannot handle 7"

        # The on-failure destination function gets Lambda's invocation record, asynchronously.
        await until(lambda: bool(fleet.store.invocations(function="sink")) and not fleet.async_queue.queues["sink"].events)
        await fleet.store.flush()
        (delivered,) = fleet.store.invocations(function="sink", payloads=True)
        record = delivered.event()
        assert delivered.record.invocation_type == "Event"
        assert record["requestContext"] == {
            "requestId": request_id, "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:flaky:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": 1 + retries,
        }
        assert record["requestPayload"] == {"n": 7}
        assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
        assert record["responsePayload"]["errorType"] == "ValueError"

        # Fix the handler, redrive: the same event now succeeds and goes to the on-success queue.
        (config.parent / "flaky" / "app.py").write_text(FIXED)
        fleet.update_function(fleet.functions["flaky"], "v2")
        (new_id,) = await fleet.async_queue.redrive()
        await settle(fleet, new_id)
        (rerun,) = fleet.store.attempts(new_id)
        assert rerun.record.status == "success" and rerun.response_json() == {"handled": 7}
        assert fleet.store.dead_letters("flaky") == []
        assert fleet.store.dead_letters("flaky", include_redriven=True)[0].redrive_request_id == new_id
        (ok,) = fleet.store.messages("flaky-ok")
        assert json.loads(ok.body)["requestContext"]["condition"] == "Success"
        assert json.loads(ok.body)["responsePayload"] == {"handled": 7}
        assert fleet.snapshot().extras["async"]["flaky"]["dlq"] == 0


async def test_retry_is_visible_as_next_retry_at_while_it_waits(make_project: Callable[..., Path]) -> None:
    config = make_project({"flaky": FAILING, "sink": SINK, "closed": SINK},
                          (CONFIG % {"retries": 1}).replace("delay_scale: 0.001", "delay_scale: 0.02"))
    async with running(config) as fleet:
        request_id = await fleet.enqueue("flaky", b'{"n": 1}')
        # 60 s x 0.02 = 1.2 s before the retry: the snapshot shows it queued, with the retry time.
        await until(lambda: fleet.snapshot().extras["async"]["flaky"]["next_retry_at"] is not None, 10)
        state = fleet.snapshot().extras["async"]["flaky"]
        assert state["queue_depth"] == 1 and state["oldest_age_s"] >= 0
        assert time.time() < state["next_retry_at"] <= time.time() + 1.3
        await settle(fleet, request_id)
        assert len(fleet.store.attempts(request_id)) == 2
        assert fleet.snapshot().extras["async"]["flaky"]["queue_depth"] == 0


async def test_zero_reserved_concurrency_goes_straight_to_failure_without_retries(make_project: Callable[..., Path]) -> None:
    config = make_project({"flaky": FAILING, "sink": SINK, "closed": SINK}, CONFIG % {"retries": 2})
    async with running(config) as fleet:
        request_id = await fleet.enqueue("closed", b'{"x": 1}')
        await settle(fleet, request_id)
        (letter,) = fleet.store.dead_letters("closed")
        assert letter.condition == "ZeroReservedConcurrency" and letter.error_code == 429
        assert letter.error_type == "TooManyRequestsException"
        # The one try shows as a throttle, nothing ran.
        (throttle,) = fleet.store.attempts(request_id)
        assert throttle.record.status == "throttled"


async def test_enqueue_refuses_what_lambda_refuses_and_commits_before_returning(make_project: Callable[..., Path]) -> None:
    config = make_project({"flaky": FIXED, "sink": SINK, "closed": SINK}, CONFIG % {"retries": 2})
    async with running(config) as fleet:
        with pytest.raises(FunctionNotFound):
            await fleet.enqueue("nope", b"{}")
        with pytest.raises(RequestTooLarge) as too_large:
            await fleet.enqueue("flaky", b'"' + b"x" * ASYNC_PAYLOAD_LIMIT + b'"')
        assert too_large.value.status == 413
        with pytest.raises(InvalidRequestContent):
            await fleet.enqueue("flaky", b"{not json")
        request_id = await fleet.enqueue("flaky", b'{"n": 1}', request_id="fixed-id-1")
        assert request_id == "fixed-id-1"
        # Committed: another connection sees the row the moment enqueue returned (unless already delivered).
        from lambdatop.runtime.store import StoreReader

        with StoreReader.open(fleet.store.path) as reader:
            queued = {e["request_id"] for e in reader.queued_events()}
            delivered = reader.distinct_requests("flaky")
        assert "fixed-id-1" in queued | delivered
        await settle(fleet, request_id)


def test_retry_delays_follow_lambda_scaled() -> None:
    assert function_error_delay(1, 0.01) == pytest.approx(0.6)
    assert function_error_delay(2, 0.01) == pytest.approx(1.2)
    assert [throttle_delay(n, 1.0) for n in (1, 2, 3, 9, 10, 20)] == [1, 2, 4, 256, 300, 300]


def test_bad_event_invoke_config_is_refused_with_its_key(make_project: Callable[..., Path]) -> None:
    config = make_project({"flaky": FIXED}, """
    functions:
      flaky:
        handler: app.handler
        async: {MaximumRetryAttempts: 5}
    """)
    from lambdatop.runtime.destinations import AsyncSettings

    with pytest.raises(ConfigError, match="MaximumRetryAttempts: must be a whole number from 0 to 2"):
        AsyncSettings.of(load_config(config).functions["flaky"])
