"""Live figures of the template's resources for the plumbing view, and sending to them.

`Inventory.refresh` (blocking: boto3, run in a thread every couple of
seconds) reads queue depth, in-flight count and DLQ depth, table item counts
and streams, bucket object counts and topic subscriptions. `send` puts one
thing into a resource the way a developer would test it: a message on a
queue, an object in a bucket, a publish on a topic, an event on a bus, an
item in a table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.aws.clients import AwsClients

KINDS = {
    "AWS::SQS::Queue": "queue", "AWS::S3::Bucket": "bucket", "AWS::SNS::Topic": "topic",
    "AWS::DynamoDB::Table": "table", "AWS::Events::EventBus": "bus", "AWS::Kinesis::Stream": "stream",
}


@dataclass(frozen=True, slots=True)
class ResourceFigures:
    """What one resource holds right now (None: not known for its kind)."""

    depth: int | None = None  # queue: visible messages; table: items; bucket: objects; stream: shards
    in_flight: int | None = None  # queue: received, not yet deleted
    dlq_depth: int | None = None  # queue with a RedrivePolicy: messages in its DLQ
    detail: str = ""
    at: float = 0.0


class Inventory:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        self.figures: dict[str, ResourceFigures] = {}

    def refresh(self, resources: Mapping[str, str], names: Mapping[str, str]) -> None:
        """Blocking. `resources`: logical id -> type; `names`: logical id -> physical name (Ref)."""
        figures: dict[str, ResourceFigures] = {}
        for rid, kind in resources.items():
            physical = names.get(rid)
            if not physical:
                continue
            try:
                figures[rid] = self._figures(KINDS.get(kind, ""), physical)
            except Exception as exc:  # noqa: BLE001 - a resource being replaced right now
                figures[rid] = ResourceFigures(detail=f"{type(exc).__name__}", at=time.time())
        self.figures = figures

    def _figures(self, kind: str, physical: str) -> ResourceFigures:
        now = time.time()
        if kind == "queue":
            sqs = self.clients.client("sqs")
            attrs = sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["All"])["Attributes"]
            dlq = None
            if attrs.get("RedrivePolicy"):
                target = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
                account, name = target.split(":")[4:6]
                dlq_url = f"{self.clients.endpoint_url.rstrip('/')}/{account}/{name}"
                dlq = int(sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
                          ["Attributes"]["ApproximateNumberOfMessages"])
            return ResourceFigures(int(attrs.get("ApproximateNumberOfMessages", 0)),
                                   int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)), dlq,
                                   "FIFO" if attrs.get("FifoQueue") == "true" else "", now)
        if kind == "table":
            table = self.clients.client("dynamodb").describe_table(TableName=physical)["Table"]
            stream = (table.get("StreamSpecification") or {}).get("StreamViewType")
            return ResourceFigures(int(table.get("ItemCount", 0)), detail=f"stream {stream}" if stream else "", at=now)
        if kind == "bucket":
            listed = self.clients.client("s3").list_objects_v2(Bucket=physical, MaxKeys=1000)
            return ResourceFigures(int(listed.get("KeyCount", 0)), at=now)
        if kind == "topic":
            subs = self.clients.client("sns").list_subscriptions_by_topic(TopicArn=physical).get("Subscriptions") or []
            return ResourceFigures(detail=f"{len(subs)} subscription(s)", at=now)
        if kind == "stream":
            summary = self.clients.client("kinesis").describe_stream_summary(StreamName=physical)["StreamDescriptionSummary"]
            return ResourceFigures(int(summary.get("OpenShardCount", 0)), detail="shards", at=now)
        return ResourceFigures(at=now)

    def send(self, kind: str, physical: str, payload: Any) -> str:
        """Blocking. Put `payload` into the resource; returns what happened, in a few words."""
        kind = KINDS.get(kind, kind)
        if kind == "queue":
            body = payload if isinstance(payload, str) else json.dumps(payload)
            sent = self.clients.client("sqs").send_message(QueueUrl=physical, MessageBody=body)
            return f"message {sent['MessageId']} sent"
        if kind == "bucket":
            key = str(payload.get("key", "upload.json")) if isinstance(payload, dict) else "upload.txt"
            body = payload.get("body", "") if isinstance(payload, dict) else str(payload)
            self.clients.client("s3").put_object(Bucket=physical, Key=key,
                                                 Body=(body if isinstance(body, str) else json.dumps(body)).encode())
            return f"object {key} put"
        if kind == "topic":
            message = payload.get("Message") if isinstance(payload, dict) and "Message" in payload else payload
            published = self.clients.client("sns").publish(
                TopicArn=physical, Message=message if isinstance(message, str) else json.dumps(message),
                **({"Subject": payload["Subject"]} if isinstance(payload, dict) and payload.get("Subject") else {}))
            return f"published {published['MessageId']}"
        if kind == "bus":
            event = payload if isinstance(payload, dict) else {}
            entry = {"Source": str(event.get("source", "lambdatop")), "DetailType": str(event.get("detail-type", "Test")),
                     "Detail": json.dumps(event.get("detail", {})), "EventBusName": physical}
            self.clients.client("events").put_events(Entries=[entry])
            return "event put"
        if kind == "table":
            from boto3.dynamodb.types import TypeSerializer

            serializer = TypeSerializer()
            item = {k: serializer.serialize(v) for k, v in (payload if isinstance(payload, dict) else {}).items()}
            self.clients.client("dynamodb").put_item(TableName=physical, Item=item)
            return "item put"
        if kind == "stream":
            self.clients.client("kinesis").put_record(StreamName=physical, Data=json.dumps(payload).encode(), PartitionKey="lambdatop")
            return "record put"
        raise ValueError(f"cannot send to a {kind or 'resource of this type'}")


def sample_payload(kind: str) -> Any:
    """What the event editor starts with for a resource of `kind`."""
    return {
        "queue": {"hello": "from lambdatop"},
        "bucket": {"key": "uploads/example.csv", "body": "id,name\n1,ada\n"},
        "topic": {"Message": "hello from lambdatop", "Subject": "test"},
        "bus": {"source": "my.app", "detail-type": "Something Happened", "detail": {"id": 1}},
        "table": {"id": "item-1", "name": "example"},
        "stream": {"hello": "from lambdatop"},
    }.get(KINDS.get(kind, kind), {})
