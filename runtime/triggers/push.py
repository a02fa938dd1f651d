"""Push sources (S3 notifications, SNS subscriptions, EventBridge rules) as asynchronous invocations.

The emulator cannot invoke a function itself, so each push source is routed
into an internal SQS queue in the sidecar (`lambdatop-<kind>-<id>`): the
bucket notifies it (with the event names and prefix/suffix rules), the topic
has an `sqs` subscription to it (with the FilterPolicy), the rule targets it
(with the Pattern). `PushPoller` reads that queue, turns each message into the
event Lambda would deliver (S3's Records, SNS's Records, the EventBridge event
after Input/InputPath/InputTransformer) and hands it to the fleet's durable
async queue (`Fleet.enqueue`), which retries and dead-letters as Lambda does.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from lambdatop.runtime.aws.clients import AwsClients
from lambdatop.runtime.errors import FleetStopped
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import Trigger
from lambdatop.runtime.triggers.mapping_state import MappingStats
from lambdatop.runtime.triggers.sources import PushKind, PushSource

LONG_POLL_S = 2
_TRIGGERS = {PushKind.S3: Trigger.S3, PushKind.SNS: Trigger.SNS, PushKind.EVENTBRIDGE: Trigger.EVENTBRIDGE}


class PushPoller:
    def __init__(self, fleet: Fleet, source: PushSource, clients: AwsClients, endpoint_url: str, executor: Executor) -> None:
        self.fleet = fleet
        self.source = source
        self.clients = clients
        self.sqs = clients.client("sqs")
        self.executor = executor
        self.stats = MappingStats()
        self.queue_name = f"lambdatop-{source.kind}-{source.uuid[:8]}"
        self.queue_url = ""
        self.queue_arn = ""
        self.subscription_arn: str | None = None
        self.rule_arn: str | None = None  # EventBridge: the rule lambdatop put on the bus for this source
        self._task: asyncio.Task[None] | None = None

    @property
    def source_arn(self) -> str:
        """What the invocation record names as its source: the bucket, the topic, or the rule (once it exists)."""
        return self.rule_arn or self.source.source_arn

    async def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: method(**kwargs))

    async def start(self) -> None:
        try:
            await self._wire()
        except Exception as exc:  # noqa: BLE001 - a missing bucket or topic: shown, retried by the next reconcile
            self.stats.error(f"wiring {self.source.kind} failed: {type(exc).__name__}: {exc}")
        self._task = asyncio.create_task(self._poll(), name=f"lambdatop-push-{self.source.function}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self._unwire()
        except Exception:  # noqa: BLE001 - the sidecar may already be gone
            pass

    # -- wiring the source to its internal queue ------------------------------------------

    async def _wire(self) -> None:
        created = await self._call(self.sqs.create_queue, QueueName=self.queue_name)
        self.queue_url = created["QueueUrl"]
        attributes = await self._call(self.sqs.get_queue_attributes, QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        props = self.source.properties
        if self.source.kind is PushKind.S3:
            await self._wire_bucket(str(props["Bucket"]), add=True)
        elif self.source.kind is PushKind.SNS:
            attrs: dict[str, str] = {}
            if props.get("FilterPolicy"):
                attrs["FilterPolicy"] = json.dumps(props["FilterPolicy"]) if not isinstance(props["FilterPolicy"], str) else props["FilterPolicy"]
            if props.get("FilterPolicyScope"):
                attrs["FilterPolicyScope"] = str(props["FilterPolicyScope"])
            subscribed = await self._call(self.clients.client("sns").subscribe, TopicArn=str(props["Topic"]), Protocol="sqs",
                                          Endpoint=self.queue_arn, Attributes=attrs, ReturnSubscriptionArn=True)
            self.subscription_arn = subscribed["SubscriptionArn"]
        else:
            events = self.clients.client("events")
            bus = _bus_name(props.get("EventBusName"))
            pattern = props["Pattern"] if isinstance(props["Pattern"], str) else json.dumps(props["Pattern"])
            rule = await self._call(events.put_rule, Name=self.queue_name, EventPattern=pattern, EventBusName=bus, State="ENABLED")
            self.rule_arn = str(rule["RuleArn"])
            await self._call(events.put_targets, Rule=self.queue_name, EventBusName=bus,
                             Targets=[{"Id": "lambdatop", "Arn": self.queue_arn}])

    async def _wire_bucket(self, bucket: str, *, add: bool) -> None:
        """Merge this source's queue notification into the bucket's configuration (another function may have one too)."""
        s3 = self.clients.client("s3")
        current = await self._call(s3.get_bucket_notification_configuration, Bucket=bucket)
        mine = f"lambdatop-{self.source.uuid}"
        queues = [q for q in current.get("QueueConfigurations") or () if q.get("Id") != mine]
        if add:
            events = self.source.properties.get("Events") or "s3:ObjectCreated:*"
            entry: dict[str, Any] = {"Id": mine, "QueueArn": self.queue_arn, "Events": [events] if isinstance(events, str) else list(events)}
            rules = ((self.source.properties.get("Filter") or {}).get("S3Key") or {}).get("Rules") or ()
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": [{"Name": str(r["Name"]).lower(), "Value": str(r["Value"])} for r in rules]}}
            queues.append(entry)
        config = {k: v for k, v in current.items() if k in ("TopicConfigurations", "LambdaFunctionConfigurations")}
        config["QueueConfigurations"] = queues
        await self._call(s3.put_bucket_notification_configuration, Bucket=bucket, NotificationConfiguration=config)

    async def _unwire(self) -> None:
        props = self.source.properties
        if self.source.kind is PushKind.S3 and self.queue_arn:
            await self._wire_bucket(str(props["Bucket"]), add=False)
        elif self.source.kind is PushKind.SNS and self.subscription_arn:
            await self._call(self.clients.client("sns").unsubscribe, SubscriptionArn=self.subscription_arn)
        elif self.source.kind is PushKind.EVENTBRIDGE and self.queue_arn:
            events, bus = self.clients.client("events"), _bus_name(props.get("EventBusName"))
            await self._call(events.remove_targets, Rule=self.queue_name, EventBusName=bus, Ids=["lambdatop"])
            await self._call(events.delete_rule, Name=self.queue_name, EventBusName=bus)
        if self.queue_url:
            await self._call(self.sqs.delete_queue, QueueUrl=self.queue_url)

    # -- delivering -------------------------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            try:
                if not self.queue_url:
                    await asyncio.sleep(1.0)
                    await self._wire()
                    continue
                got = await self._call(self.sqs.receive_message, QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=LONG_POLL_S)
                self.stats.last_poll_at = time.time()
                for message in got.get("Messages") or ():
                    event = self.event_of(message["Body"])
                    if event is not None:
                        self.stats.in_flight += 1
                        try:
                            await self.fleet.enqueue(self.source.function, json.dumps(event).encode(),
                                                     trigger=_TRIGGERS[self.source.kind], source_arn=self.source_arn)
                        finally:
                            self.stats.in_flight -= 1
                        self.stats.records += 1
                        self.stats.batches += 1
                        self.stats.last_result = "OK"
                    await self._call(self.sqs.delete_message, QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            except asyncio.CancelledError:
                raise
            except FleetStopped:
                return
            except Exception as exc:  # noqa: BLE001 - the sidecar restarting: wire again
                self.stats.error(f"{type(exc).__name__}: {exc}")
                self.queue_url = ""
                await asyncio.sleep(1.0)

    def event_of(self, body: str) -> Any:
        """The event Lambda delivers for one message on the internal queue (None: nothing to deliver)."""
        message = json.loads(body)
        if self.source.kind is PushKind.S3:
            return s3_event(message)
        if self.source.kind is PushKind.EVENTBRIDGE:
            message = {"version": "0", "id": message.get("id"), "detail-type": message.get("detail-type"),
                       "source": message.get("source"), "account": message.get("account") or self.fleet.config.account_id,
                       "time": message.get("time"), "region": message.get("region") or self.fleet.config.region,
                       "resources": message.get("resources") or [], "detail": message.get("detail") or {}}
        if self.source.kind is PushKind.SNS:
            return sns_event(message, self.subscription_arn or "")
        return transform_input(message, self.source.properties)


def s3_event(message: dict[str, Any]) -> dict[str, Any] | None:
    """S3's notification as Lambda gets it (None for s3:TestEvent). Keys are URL-encoded as S3 does, `/` kept."""
    if not message.get("Records"):
        return None
    for record in message["Records"]:
        obj = record.get("s3", {}).get("object", {})
        if "key" in obj:
            obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
    return message


def sns_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """SNS's SQS envelope as Lambda's SNS event (Lambda spells the URLs `Url`)."""
    sns = {
        "SignatureVersion": envelope.get("SignatureVersion", "1"), "Timestamp": envelope.get("Timestamp"),
        "Signature": envelope.get("Signature", ""), "SigningCertUrl": envelope.get("SigningCertURL", ""),
        "MessageId": envelope.get("MessageId"), "Message": envelope.get("Message"),
        "MessageAttributes": envelope.get("MessageAttributes") or {}, "Type": envelope.get("Type", "Notification"),
        "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""), "TopicArn": envelope.get("TopicArn"),
        "Subject": envelope.get("Subject"),
    }
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn, "Sns": sns}]}


def transform_input(event: dict[str, Any], props: Any) -> Any:
    """EventBridge's target input: Input (constant JSON), InputPath (a JSONPath into the event), or InputTransformer."""
    if props.get("Input") is not None:
        value = props["Input"]
        return json.loads(value) if isinstance(value, str) else value
    if props.get("InputPath"):
        return _json_path(event, str(props["InputPath"]))
    transformer = props.get("InputTransformer")
    if transformer:
        paths = transformer.get("InputPathsMap") or {}
        values = {name: _json_path(event, str(path)) for name, path in paths.items()}
        template = str(transformer.get("InputTemplate", ""))

        def fill(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            if isinstance(value, str):
                return value  # a string placeholder stands inside the template's own quotes
            return json.dumps(value)

        text = re.sub(r"<([A-Za-z0-9_.-]+)>", fill, template)
        try:
            return json.loads(text)
        except ValueError:
            return text
    return event


def _json_path(event: Any, path: str) -> Any:
    value = event
    for part in [p for p in path.lstrip("$").split(".") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _bus_name(value: Any) -> str:
    if not value:
        return "default"
    text = str(value)
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text
