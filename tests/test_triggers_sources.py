"""The template's event sources trigger its functions with Lambda's event shapes, through the real sidecar."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from lambdatop.runtime.triggers.service import trigger_service

from tests.aws_support import Results, aws_fleet, client, copy_app, event_of


async def test_a_poison_message_is_retried_then_dead_lettered_while_its_batch_mates_are_deleted(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        results = Results(fleet)
        sqs = client(fleet, "sqs")
        queue = fleet.functions["QueueWorker"].environment["QUEUE_URL"]
        dlq = next(u for u in sqs.list_queues()["QueueUrls"] if "DeadLetters" in u)
        for body in ("one", "poison", "two"):
            sqs.send_message(QueueUrl=queue, MessageBody=body, MessageAttributes={"kind": {"DataType": "String", "StringValue": "t"}})

        first = (await results.wait("QueueWorker"))[0]
        record = event_of(first)["Records"][0]
        assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(queue.rsplit("/", 1)[1])
        assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody", "awsRegion"}
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert first.record.trigger == "sqs" and first.record.source_arn == record["eventSourceARN"]

        # maxReceiveCount 2: the poison message is delivered twice, then moved to the DLQ.
        poisoned = await results.wait("QueueWorker", count=2, timeout=30,
                                      where=lambda r: any(x["body"] == "poison" for x in event_of(r)["Records"]))
        assert [rec["attributes"]["ApproximateReceiveCount"] for r in poisoned for rec in event_of(r)["Records"]
                if rec["body"] == "poison"] == ["1", "2"]
        dead = []
        for _ in range(100):  # the next poll after the second failure's visibility timeout moves it
            dead = sqs.receive_message(QueueUrl=dlq).get("Messages") or []
            if dead:
                break
            await asyncio.sleep(0.25)
        assert [m["Body"] for m in dead] == ["poison"]
        delivered = [rec["body"] for r in results.of("QueueWorker") for rec in event_of(r)["Records"]]
        assert delivered.count("one") == 1 and delivered.count("two") == 1  # deleted after the first batch
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


async def test_only_matching_s3_keys_fire_with_the_s3_event_shape(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        results = Results(fleet)
        s3 = client(fleet, "s3")
        bucket = fleet.functions["QueueWorker"].environment["BUCKET"]
        s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"skip me")
        s3.put_object(Bucket=bucket, Key="in/data.csv", Body=b"a,b\n")
        fired = await results.wait("CsvWatcher")
        record = event_of(fired[0])["Records"][0]
        assert record["eventSource"] == "aws:s3" and record["eventName"].startswith("ObjectCreated:")
        assert record["s3"]["bucket"]["name"] == bucket and record["s3"]["object"]["key"] == "in/data.csv"
        assert fired[0].record.trigger == "s3" and fired[0].record.invocation_type == "Event"
        await asyncio.sleep(2.0)
        assert len(results.of("CsvWatcher")) == 1  # notes.txt never fired


async def test_an_sns_publish_arrives_as_lambdas_sns_event(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        results = Results(fleet)
        topic = fleet.functions["QueueWorker"].environment["TOPIC"]
        client(fleet, "sns").publish(TopicArn=topic, Message="disk full", Subject="alert",
                                     MessageAttributes={"level": {"DataType": "String", "StringValue": "high"}})
        fired = await results.wait("AlertListener")
        record = event_of(fired[0])["Records"][0]
        assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
        sns = record["Sns"]
        assert (sns["Message"], sns["Subject"], sns["TopicArn"], sns["Type"]) == ("disk full", "alert", topic, "Notification")
        assert sns["MessageAttributes"]["level"] == {"Type": "String", "Value": "high"}
        assert fired[0].record.trigger == "sns"


async def test_only_events_matching_the_rules_pattern_fire(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        results = Results(fleet)
        events = client(fleet, "events")
        events.put_events(Entries=[
            {"Source": "shop.orders", "DetailType": "OrderCancelled", "Detail": json.dumps({"id": 1})},
            {"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"id": 2})},
        ])
        fired = await results.wait("OrderPlaced")
        event = event_of(fired[0])
        assert (event["source"], event["detail-type"], event["detail"]) == ("shop.orders", "OrderPlaced", {"id": 2})
        assert {"version", "id", "account", "time", "region", "resources"} <= set(event)
        await asyncio.sleep(2.0)
        assert len(results.of("OrderPlaced")) == 1
        assert fired[0].record.trigger == "eventbridge"


async def test_a_functions_own_put_to_the_table_triggers_the_stream_function(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        results = Results(fleet)
        written = await fleet.invoke("Writer", {"item": {"id": "k1", "qty": 3}})
        assert written.record.status == "success", written.response
        fired = await results.wait("StreamReader", timeout=20)
        record = event_of(fired[0])["Records"][0]
        assert record["eventSource"] == "aws:dynamodb" and record["eventName"] == "INSERT"
        assert record["dynamodb"]["Keys"] == {"id": {"S": "k1"}}
        assert record["dynamodb"]["NewImage"]["qty"] == {"N": "3"}
        assert record["eventSourceARN"].startswith("arn:aws:dynamodb:") and "/stream/" in record["eventSourceARN"]
        assert fired[0].record.trigger == "stream" and fired[0].record.source_arn == record["eventSourceARN"]
        service = trigger_service(fleet)
        assert service is not None
        kinds = {m.kind for m in service.snapshot()}
        assert kinds == {"sqs", "dynamodb", "s3", "sns", "eventbridge"}
