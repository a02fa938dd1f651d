"""Asynchronous invocation: retries, the DLQ, destinations, redrive, and what enqueue refuses."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from lambdatop.runtime.async_invoke.policy import function_error_delay, throttle_delay
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ASYNC_PAYLOAD_LIMIT, ConfigError, FunctionNotFound, InvalidRequestContent, RequestTooLarge
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import attach_store_services
from tests.waiting import eventually

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
SLOW_SINK = """
import time

def handler(event, context):
    time.sleep(0.3)  # still busy when the queue it was notified from is empty
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


def drained(fleet: Fleet) -> bool:
    """No event queued for any function, destination events included (what `store.queued_events() == []` asserts)."""
    return all(not q.events for q in fleet.async_queue.queues.values())


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
        assert fleet.snapshot().async_queues["flaky"].dlq == 1

        # The DLQ gets the original event, with RequestID / ErrorCode / ErrorMessage attributes.
        (message,) = fleet.store.messages("flaky-dlq")
        assert json.loads(message.body) == {"n": 7}
        assert message.attributes["RequestID"]["StringValue"] == request_id
        assert message.attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
        assert message.attributes["ErrorMessage"]["StringValue"] == "cannot handle 7"

        # The on-failure destination function gets Lambda's invocation record, asynchronously.
        await eventually(lambda: bool(fleet.store.invocations(function="sink")) and not fleet.async_queue.queues["sink"].events,
                         "sink invoked and its queue empty")
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
        assert fleet.snapshot().async_queues["flaky"].dlq == 0


async def test_retry_is_visible_as_next_retry_at_while_it_waits(make_project: Callable[..., Path]) -> None:
    config = make_project({"flaky": FAILING, "sink": SINK, "closed": SINK},
                          (CONFIG % {"retries": 1}).replace("delay_scale: 0.001", "delay_scale: 0.02"))
    async with running(config) as fleet:
        accepted = time.time()
        request_id = await fleet.enqueue("flaky", b'{"n": 1}')
        # 60 s x 0.02 = 1.2 s after the first attempt failed: the snapshot shows it queued, with the retry time.
        await eventually(lambda: fleet.snapshot().async_queues["flaky"].next_retry_at is not None, "a retry of flaky scheduled", 10)
        state = fleet.snapshot().async_queues["flaky"]
        assert state.queue_depth == 1 and state.oldest_age_s is not None and state.oldest_age_s >= 0
        # Bounded by when the attempt can have failed (after the enqueue, before now), not by how soon we looked.
        assert accepted + 1.2 <= state.next_retry_at <= time.time() + 1.2
        await settle(fleet, request_id)
        assert len(fleet.store.attempts(request_id)) == 2
        assert fleet.snapshot().async_queues["flaky"].queue_depth == 0


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
        from lambdatop.runtime.store.reader import StoreReader

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
    from lambdatop.runtime.config.async_settings import AsyncSettings

    with pytest.raises(ConfigError, match="MaximumRetryAttempts: must be a whole number from 0 to 2"):
        AsyncSettings.of(load_config(config).functions["flaky"])


def test_sam_event_invoke_config_maps_to_functions_and_local_queues(tmp_path: Path) -> None:
    for name in ("worker", "audit"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(SINK)
    template = tmp_path / "template.yaml"
    template.write_text("""
Transform: AWS::Serverless-2016-10-31
Resources:
  worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.handler
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: 120
        DestinationConfig:
          OnFailure: {Type: Lambda, Destination: !GetAtt audit.Arn}
          OnSuccess: {Type: SQS}
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt WorkerDlq.Arn}
  audit:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: audit/, Handler: app.handler}
  WorkerDlq:
    Type: AWS::SQS::Queue
""")
    from lambdatop.runtime.config.async_settings import AsyncSettings

    settings = AsyncSettings.of(load_config(template).functions["worker"])
    assert (settings.max_retry_attempts, settings.max_event_age_s) == (1, 120)
    assert (settings.on_failure.kind, settings.on_failure.name) == ("function", "audit")
    assert (settings.on_success.kind, settings.on_success.name) == ("queue", "worker-OnSuccess")  # SAM would create it
    assert (settings.dead_letter.kind, settings.dead_letter.name) == ("queue", "WorkerDlq")
    defaults = AsyncSettings.of(load_config(template).functions["audit"])
    assert (defaults.max_retry_attempts, defaults.max_event_age_s, defaults.on_failure) == (2, 21_600, None)


def test_invoke_async_from_the_cli_prints_202_then_follows_the_event(make_project: Callable[..., Path]) -> None:
    import subprocess
    import sys

    config = make_project({"flaky": FAILING, "sink": SINK, "closed": SINK}, CONFIG % {"retries": 1})

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lambdatop.tui.cli", "invoke", *args, "-c", str(config)],
                              capture_output=True, text=True, timeout=60, cwd=config.parent)

    failed = invoke("flaky", "--async")
    assert failed.stdout, f"exit {failed.returncode}, nothing on stdout; stderr: {failed.stderr[-2000:]}"
    accepted = json.loads(failed.stdout.splitlines()[0])
    assert accepted["StatusCode"] == 202 and failed.returncode == 1
    assert failed.stderr.count(f"START RequestId: {accepted['RequestId']}") == 2  # 1 + MaximumRetryAttempts
    assert "failed for good after 2 attempt(s): RetriesExhausted, ValueError" in failed.stderr

    ok = invoke("sink", "--async")
    assert ok.returncode == 0 and "delivered after 1 attempt(s)" in ok.stderr

    queued = invoke("sink", "--async", "--no-wait")
    request_id = json.loads(queued.stdout)["RequestId"]
    assert queued.returncode == 0
    from lambdatop.runtime.store.reader import StoreReader

    with StoreReader.open(config.parent / ".lambdatop" / "lambdatop.db") as reader:
        # Delivered before the command stopped, or still safely queued for the next run.
        assert request_id in reader.distinct_requests("sink") | {e["request_id"] for e in reader.queued_events()}

    unknown = invoke("nope", "--async")
    assert unknown.returncode == 3 and "ResourceNotFoundException" in unknown.stderr


async def test_a_new_run_adopts_queued_events_and_expires_the_ones_past_their_maximum_age(make_project: Callable[..., Path]) -> None:
    config = make_project({"flaky": FIXED, "sink": SLOW_SINK, "closed": SINK},
                          (CONFIG % {"retries": 2}).replace("MaximumRetryAttempts: 2", "MaximumRetryAttempts: 2\n      MaximumEventAgeInSeconds: 60"))
    from lambdatop.runtime.store.writer import Store

    # A backlog an earlier run left behind (it was killed): one fresh event, one accepted 5 minutes ago.
    store = Store(config.parent / ".lambdatop" / "lambdatop.db")
    now = time.time()
    store.call_sync(lambda c: c.executemany(
        "INSERT INTO async_events (request_id, function, payload, trigger, accepted_at, next_attempt_at, owner_run) "
        "VALUES (?, 'flaky', ?, 'cli', ?, ?, 999)", [("fresh", b'{"n": 1}', now, now), ("stale", b'{"n": 2}', now - 300, now - 300)]))
    store.close()

    async with running(config) as fleet:
        # The expired event's on-failure destination queues an event for `sink`: wait for every queue, not only flaky's.
        await eventually(lambda: drained(fleet), "every queue drained")
        await fleet.store.flush()
        (fresh,) = fleet.store.attempts("fresh")
        assert fresh.record.status == "success" and fresh.response_json() == {"handled": 1}
        assert fleet.store.attempts("stale") == []  # never ran
        (letter,) = fleet.store.dead_letters("flaky")
        assert (letter.request_id, letter.condition, letter.attempts) == ("stale", "EventAgeExceeded", 0)
        (notified,) = fleet.store.invocations(function="sink", payloads=True)
        assert notified.event()["requestContext"]["condition"] == "EventAgeExceeded"
        assert fleet.store.queued_events() == []


HELD = """
import os
import time

def handler(event, context):
    while event.get("hold") and os.path.exists(event["hold"]):  # the test holds the slot until it removes the file
        time.sleep(0.01)
    return "done"
"""


async def test_throttled_events_wait_with_backoff_and_are_delivered_once_capacity_frees(make_project: Callable[..., Path]) -> None:
    config = make_project({"one": HELD}, """
    async: {delay_scale: 0.01}
    functions:
      one: {handler: app.handler, timeout: 30, reserved_concurrency: 1}
    """)
    hold = config.parent / "hold"
    hold.write_text("")
    async with running(config) as fleet:
        busy = asyncio.create_task(fleet.invoke("one", {"hold": str(hold)}))
        await eventually(lambda: fleet.gate.in_use.get("one", 0) == 1, "one's only slot taken")
        request_id = await fleet.enqueue("one", b"{}")
        # The sync call keeps the only slot until the event has been throttled twice (so backed off and retried).
        await eventually(lambda: fleet.async_queue.queues["one"].events[request_id].throttles >= 2, "the event throttled twice")
        hold.unlink()
        await settle(fleet, request_id)
        await busy
        attempts = fleet.store.attempts(request_id)
        statuses = [a.record.status for a in attempts]
        # Throttled while the sync call held the only slot (not counted as retries), then delivered.
        assert statuses[-1] == "success" and statuses.count("success") == 1
        assert "throttled" in statuses and set(statuses[:-1]) == {"throttled"}
        assert fleet.store.dead_letters() == []
