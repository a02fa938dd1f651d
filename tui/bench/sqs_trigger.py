"""An SQS event source mapping: send → handler start latency, and messages per second through one mapping.

A generated SAM template (one queue, one function with an SQS event) runs
with the AWS services sidecar on a free port, as `lambdatop serve` runs it.
Latency: one message at a time, stamped with the system-wide monotonic clock
when sent; the handler returns the same clock at its entry. Rate: a backlog
sent in batches of 10, then timed until every message has been delivered
(BatchSize 10, the default MaximumConcurrency of 5 batches).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from typing import TYPE_CHECKING

from lambdatop.runtime.bus import Subscription
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.triggers.service import trigger_service
from lambdatop.runtime.triggers.sqs_poller import LONG_POLL_S
from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 60}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.entry
      Runtime: python3.11
      CodeUri: .
      Timeout: 30
      Events:
        FromJobs:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 10}
"""
DELIVERY_TIMEOUT_S = 60.0


async def _results(subscription: Subscription, wanted: int) -> list[InvocationResult]:
    """Wait until `wanted` records have been delivered to Worker; returns the batches."""
    seen: list[InvocationResult] = []
    records = 0
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while records < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {records} of {wanted} SQS messages were delivered in {DELIVERY_TIMEOUT_S:.0f} s")
        for item in await subscription.wait(0.5):
            if isinstance(item, InvocationResult) and item.record.function == "Worker":
                seen.append(item)
                records += len(json.loads(item.request)["Records"])
    return seen


async def run(ctx: BenchContext) -> list[Figure]:
    from lambdatop.runtime.services import ServiceOptions, attach_standard_services
    from lambdatop.tui.bench.project import APP_SOURCE

    folder = ctx.project.path("sqs-app")
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text(APP_SOURCE)
    (folder / "template.yaml").write_text(TEMPLATE)
    fleet = Fleet(folder / "template.yaml")
    attach_standard_services(fleet, ServiceOptions(port=None, watch=False, store=False, aws_port=0))
    samples = 20 if ctx.quick else 100
    # moto's ReceiveMessage walks the whole queue each time: draining n messages costs it ~n² (200: 1.3 s, 2,000:
    # 96 s, measured with boto3 alone against moto's server), so a larger backlog measures moto, not the mapping.
    backlog = 200 if ctx.quick else 500
    try:
        async with fleet:
            from lambdatop.runtime.aws.service import aws_service

            aws = aws_service(fleet)
            assert aws is not None and aws.clients is not None
            sqs = aws.clients.client("sqs")
            queue = aws.values.names["Jobs"]
            events = fleet.subscribe("bench-sqs", maxlen=100_000)
            await asyncio.to_thread(sqs.send_message, QueueUrl=queue, MessageBody="warm-up")
            await _results(events, 1)
            delays = []
            for _ in range(samples):
                await asyncio.to_thread(sqs.send_message, QueueUrl=queue, MessageBody=str(time.monotonic()))
                (result,) = await _results(events, 1)
                sent = float(json.loads(result.request)["Records"][0]["body"])
                delays.append(float(json.loads(result.response)) - sent)

            # The backlog waits on the queue with the mapping disabled, so the rate is the mapping's, not the sender's.
            triggers = trigger_service(fleet)
            assert triggers is not None
            (mapping,) = triggers.desired().mappings
            triggers.update_mapping(mapping.uuid, {"enabled": False})
            await asyncio.sleep(LONG_POLL_S + 0.5)  # long polls under way end
            for start in range(0, backlog, 10):
                entries = [{"Id": str(i), "MessageBody": "x"} for i in range(min(10, backlog - start))]
                await asyncio.to_thread(sqs.send_message_batch, QueueUrl=queue, Entries=entries)
            begin = time.perf_counter()
            triggers.update_mapping(mapping.uuid, {"enabled": True})
            batches = await _results(events, backlog)
            all_s = time.perf_counter() - begin
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    note = (f"a backlog of {backlog} messages, all delivered {all_s:.1f} s after the mapping was enabled, "
            f"in {len(batches)} batches (BatchSize 10, 5 concurrent batches)")
    return [
        latency("sqs", "send → handler start (one message at a time)", delays, unit="ms"),
        Figure("sqs", "messages/s through one mapping", "msg/s", value=backlog / all_s, samples=backlog, note=note),
    ]
