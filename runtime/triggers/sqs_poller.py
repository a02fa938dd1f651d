"""An SQS event source mapping, polled as Lambda's pollers do.

Up to `MaximumConcurrency` batches are in flight at once; the lanes take
turns gathering. Each batch is gathered with long polls (up to BatchSize, within MaximumBatchingWindow),
filtered (records that match no FilterCriteria are deleted unseen, as Lambda
does), and invoked synchronously through the fleet's gate. Success deletes the
batch; with ReportBatchItemFailures only the records not reported failed are
deleted; an error, timeout or invalid response leaves the whole batch to
come back after the queue's visibility timeout, and the queue's own
RedrivePolicy moves a record to its DLQ after maxReceiveCount receives. A
throttle backs off (doubling, to a cap) and leaves the batch to come back.

As Lambda refuses to create such a mapping, one whose function's timeout is
longer than the queue's VisibilityTimeout does not poll (a batch would come
back to another lane while the first still runs): it shows Lambda's
InvalidParameterValueException as its error until the template or the queue
changes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.errors import FleetStopped, LambdaServiceError, Throttled
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus, Trigger
from lambdatop.runtime.triggers.filters import with_json_body
from lambdatop.runtime.triggers.mapping_state import MappingStats
from lambdatop.runtime.triggers.sources import QueueMapping

LONG_POLL_S = 2  # short enough that a stop or a disable is noticed soon; each poll holds one thread
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
VISIBILITY_CHECK_S = 5.0  # how often the queue's VisibilityTimeout is read again (it can change under a mapping)


def queue_url_of(arn: str, endpoint_url: str) -> str:
    """arn:aws:sqs:REGION:ACCOUNT:NAME -> the queue's URL on the local endpoint."""
    _, _, _, _, account, name = arn.split(":", 5)
    return f"{endpoint_url.rstrip('/')}/{account}/{name}"


class SqsPoller:
    def __init__(self, fleet: Fleet, mapping: QueueMapping, sqs: Any, endpoint_url: str, executor: Executor) -> None:
        self.fleet = fleet
        self.mapping = mapping
        self.sqs = sqs
        self.url = queue_url_of(mapping.queue_arn, endpoint_url)
        self.executor = executor
        self.stats = MappingStats()
        self.enabled = asyncio.Event()
        if mapping.enabled:
            self.enabled.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._backoff = 0.0
        # Lanes take turns gathering (so a batching window fills one batch, not five part-batches)
        # and process their batches concurrently.
        self._gathering = asyncio.Lock()
        self.visibility_timeout_s: int | None = None  # the queue's, as last read
        self._visibility_read_at = 0.0
        self.refused: str | None = None  # Lambda's reason for refusing the mapping, while it applies

    @property
    def source(self) -> QueueMapping:
        return self.mapping

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._lane(), name=f"lambdatop-sqs-{self.mapping.function}-{i}")
                       for i in range(max(1, self.mapping.max_concurrency))]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def update(self, mapping: QueueMapping) -> None:
        """Enabled and BatchSize changes apply to the next poll."""
        self.mapping = mapping
        (self.enabled.set if mapping.enabled else self.enabled.clear)()

    async def _lane(self) -> None:
        while True:
            await self.enabled.wait()
            try:
                # A batch a long poll brought in after a disable is still processed, as Lambda finishes
                # in-flight work while Disabling (handing it back would count a receive towards the DLQ).
                async with self._gathering:
                    if not self.enabled.is_set():  # disabled while this lane waited for its turn
                        continue
                    if await self._refusal() is not None:
                        await asyncio.sleep(1.0)
                        continue
                    batch = await self._gather()
                if batch:
                    await self._process(batch)
            except asyncio.CancelledError:
                raise
            except FleetStopped:
                return
            except Exception as exc:  # noqa: BLE001 - the sidecar restarting, a queue gone: keep polling
                self.stats.error(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)

    async def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: method(**kwargs))

    async def _refusal(self) -> str | None:
        """Lambda's check at CreateEventSourceMapping: a function may not run longer than the queue hides a message."""
        now = time.monotonic()
        if self.visibility_timeout_s is None or now - self._visibility_read_at > VISIBILITY_CHECK_S:
            attributes = await self._call(self.sqs.get_queue_attributes, QueueUrl=self.url, AttributeNames=["VisibilityTimeout"])
            self.visibility_timeout_s = int(attributes["Attributes"]["VisibilityTimeout"])
            self._visibility_read_at = now
        timeout = self.fleet.resolve(self.mapping.function).timeout
        refused = None
        if timeout > self.visibility_timeout_s:
            refused = (f"InvalidParameterValueException: Queue visibility timeout: {self.visibility_timeout_s} seconds "
                       f"is less than Function timeout: {timeout} seconds")
        if refused != self.refused:
            self.refused = refused
            if refused is not None:
                self.stats.error(refused)
                self.fleet.bus.publish(FleetEvent("warning", f"event source {self.mapping.function}.{self.mapping.event} "
                                                             f"not polled: {refused}", time.time()))
            elif self.stats.last_error and self.stats.last_error.startswith("InvalidParameterValueException: Queue visibility"):
                self.stats.last_error = None  # fixed by a reload: the mapping polls again
        return refused

    async def _gather(self) -> list[dict[str, Any]]:
        """One batch: a long poll, then (with a batching window) more polls until BatchSize or the window ends."""
        mapping = self.mapping
        batch: list[dict[str, Any]] = []
        deadline: float | None = None  # the window starts with the first record
        while len(batch) < mapping.batch_size:
            wait = LONG_POLL_S
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_S, int(remaining))
            response = await self._call(
                self.sqs.receive_message, QueueUrl=self.url, MaxNumberOfMessages=min(10, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"],
            )
            self.stats.last_poll_at = time.time()
            messages = response.get("Messages") or []
            if messages and deadline is None:
                deadline = time.monotonic() + mapping.window_s
            batch.extend(messages)
            if not batch or mapping.window_s == 0:
                break
            if not messages and wait == 0:
                await asyncio.sleep(0.05)  # under a second of window left: short polls, not a spin
        return batch

    async def _process(self, messages: list[dict[str, Any]]) -> None:
        mapping = self.mapping
        records = [self._record(m) for m in messages]
        matching = [r for r in records if mapping.filter.matches(with_json_body(r, "body"))]
        unmatched = [r for r in records if r not in matching]
        if unmatched:  # Lambda deletes what no filter matches
            self.stats.filtered_out += len(unmatched)
            await self._delete(unmatched)
        if not matching:
            return
        self.stats.in_flight += 1
        try:
            result = await self.fleet.invoke(mapping.function, {"Records": matching}, trigger=Trigger.SQS,
                                             source_arn=mapping.queue_arn)
        except Throttled:
            self.stats.throttles += 1
            self._backoff = min(BACKOFF_MAX_S, max(BACKOFF_START_S, self._backoff * 2))
            await asyncio.sleep(self._backoff)
            return
        except LambdaServiceError as exc:
            self.stats.error(f"{exc.code}: {exc.message}")
            return
        finally:
            self.stats.in_flight -= 1
        self._backoff = 0.0
        self.stats.batches += 1
        self.stats.records += len(matching)
        failed = self._failed_ids(result, matching)
        if failed is None:
            self.stats.failed_batches += 1
            self.stats.last_result = "PROBLEM: Function call failed"
            self.stats.error(f"{result.record.error_type or result.record.status}: batch of {len(matching)} left on the queue")
            return
        self.stats.last_result = "OK"
        await self._delete([r for r in matching if r["messageId"] not in failed])

    def _failed_ids(self, result: InvocationResult, records: list[dict[str, Any]]) -> set[str] | None:
        """The messageIds to keep on the queue, or None when the whole batch failed."""
        if result.record.status is not InvocationStatus.SUCCESS:
            return None
        if not self.mapping.report_failures:
            return set()
        try:
            response = json.loads(result.response) if result.response.strip() else None
        except ValueError:
            return None
        if response is None or not isinstance(response, dict):
            return set() if response is None else None
        failures = response.get("batchItemFailures")
        if not failures:
            return set() if "batchItemFailures" in response or not response else None
        known = {r["messageId"] for r in records}
        ids: set[str] = set()
        for failure in failures:
            ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not ident or ident not in known:
                return None  # an empty or unknown id fails the whole batch (LAMBDA.md §9)
            ids.add(ident)
        return ids

    async def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records[start:start + 10])]
            await self._call(self.sqs.delete_message_batch, QueueUrl=self.url, Entries=entries)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """An SQS message as Lambda's SQS event record."""
        region = self.mapping.queue_arn.split(":")[3]
        attributes = {k: v for k, v in (message.get("Attributes") or {}).items()}
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": attributes,
            "messageAttributes": {name: _attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": region,
        }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute in the Lambda event's camel case."""
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType", "String")}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        import base64

        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out
