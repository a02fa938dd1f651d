"""Event source mappings keep Lambda's semantics: filters, throttles, FIFO order, stream retries, bisection, on-failure."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from lambdatop.runtime.triggers.service import trigger_service

from tests.aws_support import Results, aws_fleet, client, copy_app, event_of

APP = Path(__file__).resolve().parent / "fixtures" / "aws_semantics"


def _url(fleet, logical_id: str) -> str:
    from lambdatop.runtime.aws.service import aws_service

    return aws_service(fleet).values.names[logical_id]


async def test_sqs_filter_criteria_invoke_only_matching_records_and_delete_the_rest(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        sqs = client(fleet, "sqs")
        queue = _url(fleet, "Filtered")
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"kind": "refund", "id": 1}))
        sqs.send_message(QueueUrl=queue, MessageBody="not json")
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"kind": "order", "id": 2}))
        fired = await results.wait("OnlyOrders")
        await asyncio.sleep(1.0)
        bodies = [json.loads(r["body"]) for res in results.of("OnlyOrders") for r in event_of(res)["Records"]]
        assert bodies == [{"kind": "order", "id": 2}] and fired
        for _ in range(40):
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
            if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"filtered-out messages were left on the queue: {attributes}")


async def test_a_throttled_mapping_backs_off_and_keeps_its_messages(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        sqs = client(fleet, "sqs")
        queue = _url(fleet, "Blocked")
        sqs.send_message(QueueUrl=queue, MessageBody="waits")
        service = trigger_service(fleet)
        (mapping,) = [m for m in service.snapshot() if m.function == "NeverRuns"]
        for _ in range(80):
            await asyncio.sleep(0.1)
            stats = service.stats_of(mapping.uuid)
            if stats.throttles:
                break
        throttles_then = stats.throttles
        assert throttles_then >= 1 and stats.batches == 0
        await asyncio.sleep(1.5)
        assert stats.throttles <= throttles_then + 2  # backing off (0.5 s, 1 s, ...), not spinning
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1


async def test_a_fifo_queue_delivers_each_message_group_in_order(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        sqs = client(fleet, "sqs")
        queue = _url(fleet, "Ordered")
        for n in range(5):
            for group in ("a", "b"):
                sqs.send_message(QueueUrl=queue, MessageBody=f"{group}{n}", MessageGroupId=group)
        await results.wait("InOrder", count=10, timeout=30)
        delivered = sorted(results.of("InOrder"), key=lambda r: r.record.invoke_started_at or 0)
        bodies = [event_of(r)["Records"][0]["body"] for r in delivered]
        for group in ("a", "b"):
            assert [b for b in bodies if b.startswith(group)] == [f"{group}{n}" for n in range(5)]
        record = event_of(delivered[0])["Records"][0]
        assert record["attributes"]["MessageGroupId"] in ("a", "b")


async def test_a_failing_stream_batch_is_bisected_retried_then_sent_to_the_on_failure_destination(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        kinesis = client(fleet, "kinesis")
        stream = _url(fleet, "Events")
        for data in (b"ok1", b"ok2", b"bad", b"ok3"):
            kinesis.put_record(StreamName=stream, Data=data, PartitionKey="p")
        sqs = client(fleet, "sqs")
        failures = _url(fleet, "Failures")
        received = []
        for _ in range(120):
            received = sqs.receive_message(QueueUrl=failures).get("Messages") or []
            if received:
                break
            await asyncio.sleep(0.25)
        assert received, "no on-failure record"
        failure = json.loads(received[0]["Body"])
        info = failure["KinesisBatchInfo"]
        assert info["batchSize"] == 1 and info["streamArn"].endswith(stream)
        assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
        await results.wait("StreamWorker", where=lambda r: r.record.status == "success" and b"ok3" in [
            base64.b64decode(x["kinesis"]["data"]) for x in event_of(r)["Records"]])  # the half after the bad one
        succeeded = [base64.b64decode(r["kinesis"]["data"]) for res in results.of("StreamWorker")
                     if res.record.status == "success" for r in event_of(res)["Records"]]
        assert sorted(succeeded) == [b"ok1", b"ok2", b"ok3"]  # the halves without the bad record went through
        record = event_of(results.of("StreamWorker")[0])["Records"][0]
        assert record["eventSource"] == "aws:kinesis" and record["eventID"].startswith("shardId-")


async def test_an_sns_filter_policy_lets_only_matching_messages_through(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        sns = client(fleet, "sns")
        topic = _url(fleet, "Notices")
        for level in ("low", "high"):
            sns.publish(TopicArn=topic, Message=f"{level} one",
                        MessageAttributes={"level": {"DataType": "String", "StringValue": level}})
        fired = await results.wait("HighOnly")
        await asyncio.sleep(1.5)
        assert [event_of(r)["Records"][0]["Sns"]["Message"] for r in results.of("HighOnly")] == ["high one"] and fired


async def test_an_eventbridge_input_transformer_shapes_the_event(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        client(fleet, "events").put_events(Entries=[
            {"Source": "shop.orders", "DetailType": "OrderShipped", "Detail": json.dumps({"id": 7, "carrier": "ups"})},
        ])
        fired = await results.wait("Shipped")
        assert event_of(fired[0]) == {"order": 7, "via": "ups"}


async def test_a_batching_window_gathers_messages_sent_apart_into_one_batch(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        sqs = client(fleet, "sqs")
        queue = _url(fleet, "Windowed")
        for n in range(3):
            sqs.send_message(QueueUrl=queue, MessageBody=f"m{n}")
            await asyncio.sleep(0.3)
        fired = await results.wait("Batched")
        await asyncio.sleep(1.0)
        assert len(results.of("Batched")) == 1
        assert [r["body"] for r in event_of(fired[0])["Records"]] == ["m0", "m1", "m2"]
